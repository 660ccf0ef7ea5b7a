"""Relative strength: the basket ratio, its trend, an RRG approximation and ``ta`` readings.

Every series here is causal: the value on session t uses data up to t only (trailing rolling
windows and forward-running EMAs).

RRG approximation. The JdK RS-Ratio and RS-Momentum formulas are proprietary; this module
uses a public approximation in which every normalisation is a trailing window:

* ``rs = 100 * EMA_10(numerator / denominator)``, a smoothed relative strength line;
* ``RS-Ratio = 100 + (rs / SMA_w(rs) - 1) / std_w(rs / SMA_w(rs) - 1)`` - the trend of the
  relative strength, centred on 100 and scaled by its own trailing volatility;
* ``RS-Momentum = 100 + (roc - mean_w(roc)) / std_w(roc)`` with ``roc`` the 5-session rate of
  change of RS-Ratio - the trend's momentum, scaled the same way.

Quadrants: Leading (ratio > 100, momentum > 100), Weakening (> 100, < 100), Lagging (< 100,
< 100), Improving (< 100, > 100).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bot.core.models import Quadrant

RS_SMOOTH = 10
ROC_SPAN = 5


def moving_average(series: pd.Series, window: int) -> pd.Series:
    return series.rolling(window, min_periods=window).mean()


def _zscore(series: pd.Series, window: int) -> pd.Series:
    mean = series.rolling(window, min_periods=window).mean()
    std = series.rolling(window, min_periods=window).std()
    return (series - mean) / std.where(std > 0)


def rrg(numerator: pd.Series, denominator: pd.Series, window: int) -> pd.DataFrame:
    """Return RS-Ratio and RS-Momentum of ``numerator`` against ``denominator``.

    Returns:
        Frame on the same index with float columns ``rs_ratio`` and ``rs_momentum``.
    """
    rs = 100.0 * (numerator / denominator).ewm(span=RS_SMOOTH, adjust=False).mean()
    rel = rs / moving_average(rs, window) - 1.0
    std = rel.rolling(window, min_periods=window).std()
    rs_ratio = 100.0 + rel / std.where(std > 0)
    roc = rs_ratio.pct_change(ROC_SPAN, fill_method=None) * 100.0
    rs_momentum = 100.0 + _zscore(roc, window)
    return pd.DataFrame({"rs_ratio": rs_ratio, "rs_momentum": rs_momentum})


def quadrant_codes(rs_ratio: pd.Series, rs_momentum: pd.Series) -> pd.Series:
    """Return the quadrant of each session as a string (None where either input is NaN)."""
    up_ratio = rs_ratio.to_numpy() >= 100.0
    up_mom = rs_momentum.to_numpy() >= 100.0
    names = np.select(
        [up_ratio & up_mom, up_ratio & ~up_mom, ~up_ratio & ~up_mom],
        [Quadrant.LEADING.value, Quadrant.WEAKENING.value, Quadrant.LAGGING.value],
        Quadrant.IMPROVING.value,
    ).astype(object)
    known = (rs_ratio.notna() & rs_momentum.notna()).to_numpy()
    names[~known] = None
    return pd.Series(names, index=rs_ratio.index, dtype=object)


def indicators(ratio: pd.Series) -> pd.DataFrame:
    """Return ``ta`` readings on the ratio: RSI(14), PPO(12,26), ROC(20), TSI(25,13), %B(20,2).

    ta's PSAR is deliberately absent: it is broken on pandas 3.
    """
    from ta.momentum import PercentagePriceOscillator, ROCIndicator, RSIIndicator, TSIIndicator
    from ta.volatility import BollingerBands

    clean = ratio.dropna()
    out = pd.DataFrame(
        {
            "rsi_14": RSIIndicator(clean, window=14).rsi(),
            "ppo": PercentagePriceOscillator(clean).ppo(),
            "roc_20": ROCIndicator(clean, window=20).roc(),
            "tsi": TSIIndicator(clean).tsi(),
            "bollinger_pb": BollingerBands(clean, window=20, window_dev=2).bollinger_pband(),
        },
        index=clean.index,
    )
    return out.reindex(ratio.index)
