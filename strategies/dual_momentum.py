"""dual_momentum: relative momentum between the baskets, with an absolute-momentum filter.

Idea: every ``rebalance`` sessions pick the basket with the higher ``lookback``-session
return (relative momentum), but hold it only if its own return over that period beats
``threshold`` (absolute momentum: cash earns nothing here, so 0 means "went up"). Otherwise
step aside into ``into``: cash, or the benchmark ticker (cash while the benchmark has no
price yet). Cash until the first decision.

Parameters: ``lookback`` (sessions, default 126, about six months), ``rebalance`` (sessions,
default 21), ``threshold`` (minimum lookback return of the winner, default 0), ``into``
(``cash`` or ``benchmark``, default ``cash``).

Source: Antonacci, "Risk Premia Harvesting Through Dual Momentum" (2012) and "Dual Momentum
Investing" (McGraw-Hill, 2014).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Self

import numpy as np

from bot.backtest.market import BENCHMARK, MarketData
from bot.core.params import DetectorParams
from strategies.base import (
    Array,
    Strategy,
    column,
    ffill,
    momentum,
    on_schedule,
    param,
    pick_baskets,
    unique_index,
)

BENCH_STATE = 2.0  # state code for "in the benchmark" (+1/-1 baskets, 0 cash)


@dataclass(frozen=True, slots=True)
class DualMomentum(Strategy):
    """Hold the stronger basket while its own momentum is positive, else cash or benchmark."""

    name: ClassVar[str] = "dual_momentum"
    lookback: int = param(126, "sessions of momentum, relative and absolute", minimum=1)
    rebalance: int = param(21, "sessions between decisions (1 = every session)", minimum=1)
    threshold: float = param(0.0, "lookback return the winner must beat to be held")
    into: str = param(
        "cash", "where to go when absolute momentum fails", choices=("cash", "benchmark")
    )

    def warmup(self, params: DetectorParams) -> int:
        return self.lookback

    @classmethod
    def grid_weights(cls, data: MarketData, combos: Sequence[Self]) -> Array:
        a, b = data.keys
        lookbacks, which = unique_index(column(combos, "lookback", "int64"))
        mom_a = momentum(data.levels[a], lookbacks)[:, which]
        mom_b = momentum(data.levels[b], lookbacks)[:, which]
        best = np.fmax(mom_a, mom_b)  # NaN only while both are unknown
        side = np.where(mom_a >= mom_b, 1.0, -1.0)
        bench_ok = data.levels[BENCHMARK].notna().to_numpy()[:, None]
        to_bench = np.array([c.into == "benchmark" for c in combos])[None, :] & bench_ok
        with np.errstate(invalid="ignore"):
            absolute = best > column(combos, "threshold")[None, :]
        state = np.where(absolute, side, np.where(to_bench, BENCH_STATE, 0.0))
        decided = ~(np.isnan(mom_a) | np.isnan(mom_b))
        due = on_schedule(len(state), column(combos, "rebalance", "int64")) & decided
        state = ffill(np.where(due, state, np.nan))
        side = np.where(state == BENCH_STATE, 0.0, state)
        return pick_baskets(side, benchmark=(state == BENCH_STATE).astype("float64"))
