"""Metrics: checked against empyrical-reloaded on a fixed series, and by hand on tiny ones."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bot.backtest.metrics import Metrics, drawdowns, longest_run, return_metrics


def fixed_returns() -> np.ndarray:
    """Ten years of daily returns with fat tails, a crash and a recovery (deterministic)."""
    rng = np.random.default_rng(20240611)
    returns = rng.standard_t(4, 2520) * 0.011 + 0.0004
    returns[700:760] -= 0.012  # a drawdown of about half
    return returns


def test_matches_empyrical_to_1e9() -> None:
    empyrical = pytest.importorskip("empyrical")
    returns = fixed_returns()
    ours = return_metrics(returns)
    theirs = {
        "cagr": empyrical.annual_return(returns),
        "volatility": empyrical.annual_volatility(returns),
        "sharpe": empyrical.sharpe_ratio(returns),
        "sortino": empyrical.sortino_ratio(returns),
        "max_drawdown": empyrical.max_drawdown(returns),
        "calmar": empyrical.calmar_ratio(returns),
        "total_return": empyrical.cum_returns_final(returns),
    }
    assert theirs["max_drawdown"] < -0.3  # the series exercises the drawdown for real
    for name, expected in theirs.items():
        assert float(ours[name]) == pytest.approx(float(expected), rel=1e-9, abs=0), name


def test_matches_empyrical_column_by_column() -> None:
    empyrical = pytest.importorskip("empyrical")
    base = fixed_returns()
    grid = np.column_stack([base, base * 0.5, -base, np.roll(base, 500)])
    ours = return_metrics(grid)
    for j in range(grid.shape[1]):
        column = grid[:, j]
        assert ours["sharpe"][j] == pytest.approx(empyrical.sharpe_ratio(column), rel=1e-9)
        assert ours["sortino"][j] == pytest.approx(empyrical.sortino_ratio(column), rel=1e-9)
        assert ours["max_drawdown"][j] == pytest.approx(empyrical.max_drawdown(column), rel=1e-9)
        assert ours["cagr"][j] == pytest.approx(empyrical.annual_return(column), rel=1e-9)


def test_by_hand_on_five_sessions() -> None:
    returns = np.array([0.10, -0.50, 0.20, 0.50, 0.50])
    # equity 1.1, 0.55, 0.66, 0.99, 1.485: the peak 1.1 is lost for three sessions.
    m = return_metrics(returns)
    assert m["total_return"] == pytest.approx(0.485)
    assert m["max_drawdown"] == pytest.approx(-0.5)
    assert m["max_drawdown_duration"] == 3
    assert m["cagr"] == pytest.approx(1.485 ** (252 / 5) - 1)
    mean, std = returns.mean(), returns.std(ddof=1)
    assert m["sharpe"] == pytest.approx(mean / std * math.sqrt(252))
    downside = math.sqrt(0.25 / 5) * math.sqrt(252)
    assert m["sortino"] == pytest.approx(mean * 252 / downside)
    assert m["calmar"] == pytest.approx(m["cagr"] / 0.5)


def test_drawdown_counts_from_the_starting_capital() -> None:
    dd = drawdowns(np.array([-0.1, 0.05, 0.1]))
    assert dd[0] == pytest.approx(-0.1)
    assert dd[1] == pytest.approx(0.9 * 1.05 - 1)
    assert dd[2] == 0.0  # 1.0395: a new high


def test_undefined_ratios_are_nan_and_null_in_json() -> None:
    m = return_metrics(np.zeros(30))
    assert np.isnan(m["sharpe"]) and np.isnan(m["sortino"]) and np.isnan(m["calmar"])
    assert m["max_drawdown"] == 0.0 and m["max_drawdown_duration"] == 0
    extra = {"turnover": 0.0, "exposure": 0.0, "trades": 0, "win_rate": np.nan}
    columns = {**m, **{k: np.array([v]) for k, v in extra.items()}}
    payload = Metrics.from_columns(columns).to_json()
    assert payload["sharpe"] is None and payload["win_rate"] is None
    assert payload["trades"] == 0 and payload["total_return"] == 0.0


def test_longest_run_per_column() -> None:
    flags = np.array([[1, 0], [1, 1], [0, 1], [1, 1], [1, 0], [1, 0]], dtype=bool)
    assert longest_run(flags).tolist() == [3, 3]
    assert longest_run(np.zeros(4, dtype=bool)) == 0
