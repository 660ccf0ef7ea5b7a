"""Shock rotations: one session in which money visibly leaves one basket for the other.

The evidence for session t, every scale taken from sessions before t:

* ``z``: the spread between basket returns over ``sqrt(sigma_short * sigma_long)``, the
  geometric mean of its recent (``short_window``) and long-run (``long_window``) volatility.
  A z-score against the recent window alone loses big moves in a turbulent regime (mid-2026
  ran at twice the 2016-2025 spread volatility); against the long window alone it fires on
  every busy day of such a regime. The geometric mean moves halfway, in log terms.
* ``breadth``: the share of each basket's members on their basket's side of the midpoint of
  the two basket returns (the smaller of the two shares), so one name's earnings do not make
  a rotation.
* ``benchmark_share``: the benchmark's absolute move over the absolute spread. A calm market
  over a wide spread is the signature of a rotation; a benchmark moving as much as the spread
  is a broad move (2020-03-16, 2025-04-09), never a rotation.
* ``dispersion_share``: the share of the cross-sectional variance of all members' returns
  that lies between the two baskets rather than within them.
* ``opposite``: 1 when the baskets moved in opposite directions.

``score = z * (0.8 + 0.4 * dispersion_share) * (1 if opposite else 0.9)``: z carries the
size, the two factors nudge it by how cleanly the move split the baskets. A session is a shock
rotation when the breadth and benchmark gates pass and the score reaches ``shock_info``
(decided in ``bot.core.rotation``).
Calibration on 2016-2025 (default baskets): see docs/shock-calibration.md.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from bot.core.params import DetectorParams

SAME_SIGN_DISCOUNT = 0.9


def shock_evidence(
    returns: pd.DataFrame,
    members: Mapping[str, Sequence[str]],
    baskets: pd.DataFrame,
    benchmark: pd.Series,
    params: DetectorParams,
) -> pd.DataFrame:
    """Return the shock evidence of every session.

    Args:
        returns: member daily returns (index sessions, one column per ticker).
        members: basket key -> member tickers, numerator basket first.
        baskets: basket returns, columns the two basket keys (numerator first).
        benchmark: the benchmark's daily return.

    Returns:
        Frame on the same index with float columns ``spread``, ``sigma_short``,
        ``sigma_long``, ``z``, ``breadth``, ``benchmark_share``, ``dispersion_share``,
        ``opposite`` and ``score`` (NaN until the history is long enough). Whether the
        gates pass is decided in ``bot.core.rotation.shock_eligible``.
    """
    a, b = list(baskets.columns[:2])
    ra, rb = baskets[a], baskets[b]
    spread = ra - rb
    prior = spread.shift(1)
    sigma_short = prior.rolling(params.short_window, min_periods=params.short_window).std()
    sigma_long = prior.rolling(params.long_window, min_periods=params.min_history).std()
    scale = (sigma_short * sigma_long) ** 0.5
    z = spread.abs() / scale.where(scale > 0)
    mid = (ra + rb) / 2.0
    side_a = _share_on_side(returns[list(members[a])], mid, above=False)
    side_b = _share_on_side(returns[list(members[b])], mid, above=True)
    # spread < 0: a fell against b, so a's members should be below mid and b's above.
    breadth_down = np.minimum(side_a, side_b)
    breadth_up = np.minimum(1.0 - side_a, 1.0 - side_b)
    breadth = pd.Series(np.where(spread < 0, breadth_down, breadth_up), index=spread.index)
    breadth = breadth.where(spread.notna().to_numpy())
    bench_share = benchmark.abs() / spread.abs().where(spread.abs() > 0)
    dispersion = _between_share(returns, members)
    opposite = (ra * rb < 0).astype("float64").where(spread.notna())
    quality = (0.8 + 0.4 * dispersion) * np.where(opposite > 0, 1.0, SAME_SIGN_DISCOUNT)
    score = z * quality
    return pd.DataFrame(
        {
            "spread": spread,
            "sigma_short": sigma_short,
            "sigma_long": sigma_long,
            "z": z,
            "z_short": spread.abs() / sigma_short,
            "z_long": spread.abs() / sigma_long,
            "breadth": breadth,
            "benchmark_share": bench_share,
            "dispersion_share": dispersion,
            "opposite": opposite,
            "score": score,
        }
    )


def _share_on_side(returns: pd.DataFrame, mid: pd.Series, above: bool) -> np.ndarray:
    """Return the share of members whose return is below (or above) ``mid``, per session."""
    values = returns.to_numpy()
    active = ~np.isnan(values)
    level = mid.to_numpy()[:, None]
    hit = (values > level) if above else (values < level)
    count = active.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share: np.ndarray = np.where(count > 0, (hit & active).sum(axis=1) / count, np.nan)
    return share


def _between_share(returns: pd.DataFrame, members: Mapping[str, Sequence[str]]) -> pd.Series:
    """Return between-basket sum of squares over total sum of squares, per session."""
    groups = [returns[list(tickers)].to_numpy() for tickers in members.values()]
    everything = np.concatenate(groups, axis=1)
    # Sessions before any member lists are all-NaN rows: their mean is NaN, not a warning.
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        grand = np.nanmean(everything, axis=1, keepdims=True)
        total = np.nansum((everything - grand) ** 2, axis=1)
        between = np.zeros(len(returns))
        for g in groups:
            n = (~np.isnan(g)).sum(axis=1)
            mean = np.nanmean(g, axis=1)
            between += np.where(n > 0, n * (mean - grand[:, 0]) ** 2, 0.0)
        share = np.where(total > 0, between / total, np.nan)
    return pd.Series(share, index=returns.index)
