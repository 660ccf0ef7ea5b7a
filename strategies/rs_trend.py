"""rs_trend: hold the basket that leads by the ratio's trend, with a band and confirmation.

Idea: the ratio of the two basket indices trends. Hold the numerator basket once the ratio
has closed ``confirm`` sessions in a row above its ``window``-session moving average by more
than the band, the denominator basket after as many closes below it by more than the band,
and keep the holding in between (the band and the confirmation cut whipsaws). The band is
``band`` or ``band_vol`` standard deviations of the ratio's 20-session moves over the past
year, whichever is wider. Cash until the first confirmed signal. With the defaults this is
the rotation engine's regime rule (``signals.ma_long``, ``regime_band``, ``regime_band_vol``,
``regime_confirm``), so it trades the regime alerts.

Parameters: ``window`` (sessions in the moving average, default 200), ``band`` (fraction
of the average, default 0.02), ``band_vol`` (standard deviations, default 0.75; 0 for a
fixed band), ``confirm`` (closes in a row, default 3).

Source: the relative strength line against its moving average of Weinstein, "Secrets for
Profiting in Bull and Bear Markets" (1988); the moving-average timing rule of Faber, "A
Quantitative Approach to Tactical Asset Allocation", Journal of Wealth Management (2007).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Self

import numpy as np

from bot.backtest.market import MarketData
from bot.core.params import DetectorParams
from bot.core.rotation import move_volatility
from bot.core.strength import moving_average
from strategies.base import Array, Strategy, column, hysteresis, param, pick_baskets, unique_index


@dataclass(frozen=True, slots=True)
class RsTrend(Strategy):
    """Hold the leading basket by the ratio against its moving average (band, confirmation)."""

    name: ClassVar[str] = "rs_trend"
    window: int = param(200, "sessions in the ratio's moving average", minimum=2)
    band: float = param(0.02, "distance from the average that counts (0.02 = 2%)", minimum=0.0)
    band_vol: float = param(
        0.75, "or this many std devs of the ratio's 20-session moves, if wider", minimum=0.0
    )
    confirm: int = param(3, "closes in a row beyond the band before switching", minimum=1)

    def warmup(self, params: DetectorParams) -> int:
        return self.window + self.confirm - 2  # the average needs window - 1 more sessions

    @classmethod
    def grid_weights(cls, data: MarketData, combos: Sequence[Self]) -> Array:
        ratio = data.ratio
        windows, which = unique_index(column(combos, "window", "int64"))
        averages = np.column_stack([moving_average(ratio, w).to_numpy() for w in windows])
        average = averages[:, which]
        vol = move_volatility(ratio).to_numpy()[:, None]
        band = np.maximum(column(combos, "band"), column(combos, "band_vol") * vol)
        level = ratio.to_numpy()[:, None]
        with np.errstate(invalid="ignore"):
            up = level > average * (1.0 + band)
            down = level < average * (1.0 - band)
        side = hysteresis(up, down, column(combos, "confirm", "int64"))
        return pick_baskets(side)
