"""Track-record statistics: the HAC t is statsmodels' and the verdict follows the rule."""

from __future__ import annotations

import numpy as np
import pytest

from bot.core.record import (
    CONTINUED,
    NO_EDGE,
    REVERSED,
    HorizonStats,
    hac_t,
    horizon_stats,
    track_record,
    verdict_of,
)


@pytest.mark.parametrize("lags", [0, 1, 4, 19])
def test_hac_t_equals_statsmodels_ols_with_newey_west(lags: int) -> None:
    import statsmodels.api as sm

    y = np.random.default_rng(lags).normal(0.004, 0.03, 60)
    fit = sm.OLS(y, np.ones_like(y)).fit(
        cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": False}
    )
    assert hac_t(y, lags) == pytest.approx(float(fit.tvalues[0]), rel=1e-10)


def test_too_few_or_flat_samples_have_no_t() -> None:
    assert hac_t(np.array([0.01, 0.02]), 0) is None
    assert hac_t(np.full(10, 0.01), 0) is None
    assert horizon_stats([], 1) == HorizonStats(0, None, None, None)


def _stats(n: int, mean: float, t: float) -> HorizonStats:
    return HorizonStats(n, mean, 0.5, t)


def test_the_verdict_needs_twenty_events_and_a_t_of_two() -> None:
    assert verdict_of({1: _stats(19, 0.02, 5.0), 5: _stats(25, 0.01, 1.9)}) == NO_EDGE
    assert verdict_of({1: _stats(20, 0.02, 2.0), 5: _stats(20, -0.01, -1.0)}) == CONTINUED
    # the horizon with the largest |t| decides the sign
    assert verdict_of({1: _stats(30, 0.01, 2.1), 20: _stats(30, -0.03, -3.5)}) == REVERSED


def test_only_windows_ending_by_the_current_session_count() -> None:
    level = np.linspace(100.0, 130.0, 31)
    flat = np.full(31, 100.0)
    earlier = [0, 10, 25]
    record = track_record(earlier, [(level, flat)] * 3, now=27)
    assert record.count == 3
    assert record.horizons[1].n == 3  # 25 + 1 <= 27
    assert record.horizons[5].n == 2  # 25 + 5 > 27
    assert record.horizons[20].n == 1  # only 0 + 20
    assert record.horizons[1].hit_rate == 1.0
