"""sector_rotation: hold the k baskets with the strongest momentum against the benchmark.

Idea: strength persists across groups of stocks, so among all the configured baskets (not one
pair) hold the leaders. Every ``rebalance`` sessions rank the baskets by relative momentum:
a basket's index return over the last ``lookback`` sessions minus the benchmark's over the
same sessions. Hold the top ``k`` at equal weight (1/k each; 1/n when only n < k baskets are
configured) until the next decision. A basket is held only while its own lookback return is
above 0 (absolute momentum); otherwise its slot stays in cash rather than going to the next
basket. Cash until the first decision.

The benchmark is the configured ticker, or, where it has no price yet, the equal-weight mean
of the baskets' members (``MarketData.reference``, the core's fallback). Baskets without a
lookback return yet (a late listing) are left out of the ranking; ties go to the basket
listed first in the configuration.

Parameters: ``k`` (baskets held, default 1), ``lookback`` (sessions, default 126, about six
months), ``rebalance`` (sessions between decisions, default 21, about monthly; counted from
the first session of data).

Source: Faber, "Relative Strength Strategies for Investing", Cambria Investment Management
(2010), for the top-k rotation among sectors; Moskowitz and Grinblatt, "Do Industries Explain
Momentum?", Journal of Finance 54 (1999); the absolute filter of Antonacci, "Dual Momentum
Investing" (McGraw-Hill, 2014).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Self

import numpy as np

from bot.backtest.market import MarketData
from bot.core.params import DetectorParams
from strategies.base import (
    Array,
    Strategy,
    Trades,
    column,
    ffill,
    momentum,
    on_schedule,
    param,
    unique_index,
)


@dataclass(frozen=True, slots=True)
class SectorRotation(Strategy):
    """Hold the top k baskets by momentum against the benchmark, each only while it rises."""

    name: ClassVar[str] = "sector_rotation"
    trades: ClassVar[Trades] = "baskets"
    k: int = param(1, "baskets held at once, equal weight", minimum=1, maximum=100)
    lookback: int = param(126, "sessions of momentum", minimum=1, maximum=2520)
    rebalance: int = param(
        21, "sessions between decisions (1 = every session)", minimum=1, maximum=2520
    )

    def warmup(self, params: DetectorParams) -> int:
        return self.lookback

    @classmethod
    def grid_weights(cls, data: MarketData, combos: Sequence[Self]) -> Array:
        lookbacks, which = unique_index(column(combos, "lookback", "int64"))
        own = np.stack([momentum(data.levels[key], lookbacks) for key in data.baskets], axis=-1)
        relative = own - momentum(data.reference, lookbacks)[..., None]  # (sessions, L, n)
        rank, known = _ranks(relative)
        k = column(combos, "k", "int64")
        with np.errstate(invalid="ignore"):
            held = known[:, which] & (rank[:, which] < k[:, None]) & (own[:, which] > 0.0)
        slots = np.minimum(k, len(data.baskets))[:, None]
        baskets = held / slots
        decided: Array = np.any(known, axis=-1)[:, which]
        due = on_schedule(len(baskets), column(combos, "rebalance", "int64")) & decided
        # A decision holds until the next one: carry each due session's weights down.
        weights = ffill(np.where(due[..., None], baskets, np.nan))
        bench = np.zeros((*weights.shape[:-1], 1))
        out: Array = np.concatenate([weights, bench], axis=-1)
        return out


def _ranks(relative: Array) -> tuple[Array, Array]:
    """Return each basket's place (0 = strongest) along the last axis, and where it is known.

    Unknown momentum sorts last; a stable sort gives ties to the basket listed first.
    """
    known = ~np.isnan(relative)
    order = np.argsort(np.where(known, -relative, np.inf), axis=-1, kind="stable")
    rank = np.empty_like(order)
    places = np.broadcast_to(np.arange(relative.shape[-1]), order.shape)
    np.put_along_axis(rank, order, places, axis=-1)
    return rank, known
