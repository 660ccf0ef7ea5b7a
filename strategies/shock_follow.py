"""shock_follow: after a shock rotation, hold the basket money moved to for H sessions.

Idea: a shock rotation (one session in which money visibly leaves one basket for the other,
flagged by the detector of ``bot.core.shock``) starts a move that continues. On a session
whose shock score reaches ``min_score`` and passes the detector's breadth and benchmark gates,
hold the basket that won the session for ``hold`` sessions, then go back to cash; a new shock
restarts the clock (in either direction). ``shock_fade`` is the mirror image.

Parameters: ``hold`` (sessions, default 5), ``min_score`` (detector score, default 2.5 =
the info threshold of the default config).

Source: the project's shock detector (docs/shock-calibration.md) read as continuation, the
short-horizon momentum of flows documented by Moskowitz, Ooi and Pedersen, "Time Series
Momentum", Journal of Financial Economics 104 (2012).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Self

import numpy as np

from bot.backtest.market import MarketData
from bot.core.params import DetectorParams
from strategies.base import Array, Strategy, column, param, pick_baskets


@dataclass(frozen=True, slots=True)
class ShockFollow(Strategy):
    """Hold the shock's winning basket for H sessions after each shock rotation."""

    name: ClassVar[str] = "shock_follow"
    direction: ClassVar[float] = 1.0  # +1 follows the shock's winner, -1 fades it
    hold: int = param(5, "sessions to hold after a shock", minimum=1)
    min_score: float = param(2.5, "shock score that triggers a trade", minimum=0.0)

    def warmup(self, params: DetectorParams) -> int:
        # The detector scales by volatilities it can only measure after this much history.
        return max(params.short_window, params.min_history) + 1

    @classmethod
    def grid_weights(cls, data: MarketData, combos: Sequence[Self]) -> Array:
        shocks = data.shocks
        score = shocks["score"].to_numpy(dtype="float64", na_value=np.nan)
        eligible = shocks["eligible"].to_numpy(dtype=bool)
        winner = np.sign(shocks["spread"].to_numpy(dtype="float64", na_value=0.0))
        with np.errstate(invalid="ignore"):
            fired = eligible[:, None] & (score[:, None] >= column(combos, "min_score")[None, :])
        idx = np.arange(len(score))[:, None]
        last = np.maximum.accumulate(np.where(fired, idx, -1), axis=0)
        active = (last >= 0) & (idx - last < column(combos, "hold", "int64")[None, :])
        side = np.where(active, cls.direction * winner[np.maximum(last, 0)], 0.0)
        return pick_baskets(side)
