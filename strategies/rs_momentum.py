"""rs_momentum: hold the basket with the higher N-session return, rebalanced on a schedule.

Idea: relative strength persists over months. Every ``rebalance`` sessions, compare the two
baskets' returns over the last ``lookback`` sessions and hold the stronger one until the next
decision; a ``margin`` keeps the current holding while the two are within that many points.
Cash until the first decision.

Parameters: ``lookback`` (sessions, default 63, about three months), ``rebalance`` (sessions
between decisions, default 21, about monthly; counted from the first session of data),
``margin`` (return gap needed to switch, default 0).

Source: Jegadeesh and Titman, "Returns to Buying Winners and Selling Losers", Journal of
Finance 48 (1993); Moskowitz and Grinblatt, "Do Industries Explain Momentum?", Journal of
Finance 54 (1999), for momentum between groups of stocks rather than single names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Self

import numpy as np

from bot.backtest.codes import CODE, Codes
from bot.backtest.market import MarketData
from bot.core.params import DetectorParams
from strategies.base import (
    PAIR_PALETTE,
    Array,
    Strategy,
    carry,
    column,
    ffill,
    momentum,
    on_schedule,
    param,
    pick_baskets,
    unique_index,
)


@dataclass(frozen=True, slots=True)
class RsMomentum(Strategy):
    """Hold the basket with the higher N-session return, rebalanced on a schedule."""

    name: ClassVar[str] = "rs_momentum"
    lookback: int = param(63, "sessions over which the baskets' returns are compared", minimum=1)
    rebalance: int = param(21, "sessions between decisions (1 = every session)", minimum=1)
    margin: float = param(0.0, "return gap needed to switch (0.02 = 2 points)", minimum=0.0)

    def warmup(self, params: DetectorParams) -> int:
        return self.lookback

    @classmethod
    def grid_weights(cls, data: MarketData, combos: Sequence[Self]) -> Array:
        lookbacks, which = unique_index(column(combos, "lookback", "int64"))
        gap = _gaps(data, lookbacks)[:, which]
        margin = column(combos, "margin")
        with np.errstate(invalid="ignore"):
            side = np.where(gap > margin, 1.0, np.where(gap < -margin, -1.0, np.nan))
        due = on_schedule(len(gap), column(combos, "rebalance", "int64"))
        return pick_baskets(ffill(np.where(due, side, np.nan)))

    @classmethod
    def grid_codes(cls, data: MarketData, combos: Sequence[Self]) -> Codes:
        """The rule of ``grid_weights``, worked on the due sessions only: for the combinations
        sharing a ``rebalance``, decide on every ``rebalance``-th session, carry each decision
        to the next, and repeat each over the sessions it rules."""
        lookbacks, which = unique_index(column(combos, "lookback", "int64"))
        gaps = _gaps(data, lookbacks)
        margin, every = column(combos, "margin"), column(combos, "rebalance", "int64")
        codes = np.empty((len(combos), len(gaps)), dtype=CODE)
        for step in np.unique(every):
            group = np.flatnonzero(every == step)
            due = gaps[::step][:, which[group]]
            with np.errstate(invalid="ignore"):
                side = np.where(due > margin[group], 1, np.where(due < -margin[group], 2, 0))
            held = np.repeat(carry(side), step, axis=0)[: len(gaps)]
            codes[group] = held.T
        return Codes(codes, PAIR_PALETTE)


def _gaps(data: MarketData, lookbacks: Sequence[int]) -> Array:
    """Return numerator minus denominator momentum, ``(sessions, len(lookbacks))``."""
    a, b = data.keys
    out: Array = momentum(data.levels[a], lookbacks) - momentum(data.levels[b], lookbacks)
    return out
