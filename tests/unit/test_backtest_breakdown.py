"""The backtest broken down: per-trade returns and holding periods, months, short windows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bot.backtest.breakdown import (
    is_short,
    monthly_json,
    monthly_returns,
    short_period_warning,
    trade_summary,
    trade_table,
)
from bot.backtest.engine import BacktestResult, Fill, Settings, backtest
from bot.backtest.market import market_data
from bot.backtest.report import backtest_json, figures, render_backtest
from tests.synthetic import panel_from_returns, random_returns, small_config

TICKERS = ["C1", "C2", "C3", "C4", "P1", "P2", "P3", "BENCH"]
UNIVERSE = small_config(min_history=60, short_window=40, long_window=250).universe


def run(
    sessions: int, fill: Fill, start: int = 20, seed: int = 3, cost: float = 10
) -> BacktestResult:
    """A backtest holding chips, platforms, then cash, 15 sessions each, round and round."""
    data = market_data(panel_from_returns(random_returns(TICKERS, sessions, seed=seed)), UNIVERSE)
    targets = pd.DataFrame(0.0, index=data.sessions, columns=list(data.assets))
    for block, lo in enumerate(range(0, sessions, 15)):
        if block % 3 < 2:
            targets.iloc[lo : lo + 15, block % 3] = 1.0
    settings = Settings(fill=fill, cost_bps=cost, slippage_bps=0)
    return backtest(targets, data, data.sessions[start].date(), data.sessions[-1].date(), settings)


@pytest.mark.parametrize("fill", [Fill.CLOSE, Fill.NEXT_OPEN])
def test_trades_split_the_window_and_compound_to_the_equity(fill: Fill) -> None:
    result = run(400, fill, cost=0)
    table = trade_table(result)
    assert len(table) == len(result.trades) >= 10
    # Every session after the first position is held by exactly one row.
    assert table["sessions"].sum() == len(result.returns) - _sessions_before_first(result)
    growth = np.prod(1.0 + table["return"].to_numpy())
    assert growth == pytest.approx(result.equity.iloc[-1], rel=1e-12)


def _sessions_before_first(result: BacktestResult) -> int:
    first = result.returns.index.get_loc(result.trades["date"].iloc[0])
    assert isinstance(first, int)
    held_from_the_start = (result.weights.iloc[0] != 0).any()
    return 0 if held_from_the_start else first + (result.settings.fill is Fill.CLOSE)


def test_with_a_close_fill_the_wins_are_the_engines() -> None:
    result = run(400, Fill.CLOSE)
    summary = trade_summary(trade_table(result), list(result.weights.columns))
    assert summary.trades == result.metrics.trades
    wins = (trade_table(result).query("chips != 0 or platforms != 0")["return"] > 0).sum()
    assert wins / summary.trades == pytest.approx(result.metrics.win_rate)
    assert summary.worst is not None and summary.best is not None and summary.median is not None
    assert summary.worst <= summary.median <= summary.best
    assert summary.average_sessions == pytest.approx(15, abs=8)


def test_a_hand_computed_trade() -> None:
    index = pd.bdate_range("2024-01-01", periods=6)
    returns = pd.Series([0.0, -0.001, 0.02, 0.01, -0.011, 0.0], index=index)
    turnover = pd.Series([0.0, 1.0, 0.0, 0.0, 1.0, 0.0], index=index)
    weights = pd.DataFrame({"a": [0, 0, 1, 1, 1, 0.0], "benchmark": 0.0}, index=index)
    trades = pd.DataFrame(
        {"date": index[[1, 4]], "decided": index[[0, 3]], "a": [1.0, 0.0], "benchmark": 0.0}
    )
    result = BacktestResult(
        equity=(1 + returns).cumprod(), returns=returns, turnover=turnover, weights=weights,
        trades=trades, metrics=None, benchmarks={}, benchmark_equity=pd.DataFrame(index=index),  # type: ignore[arg-type]
        benchmark_periods={}, settings=Settings(fill=Fill.CLOSE, cost_bps=10, slippage_bps=0),
    )  # fmt: skip
    table = trade_table(result)
    # Bought at the close of session 1 (cost 0.1%), held on 2, 3 and 4 (sold at its close).
    assert table["sessions"].tolist() == [3, 1]
    expected = 0.999 * 1.02 * 1.01 * (1 - 0.011 + 0.001)
    assert table["return"].iloc[0] == pytest.approx(expected - 1, abs=1e-12)
    assert table["return"].iloc[1] == pytest.approx(0.999 * 1.0 - 1, abs=1e-12)
    summary = trade_summary(table, ["a", "benchmark"])
    assert summary.trades == 1 and summary.average_sessions == 3


def test_monthly_returns_compound_by_month_and_year() -> None:
    index = pd.DatetimeIndex(["2023-12-28", "2023-12-29", "2024-01-02", "2024-02-01"])
    table = monthly_returns(pd.Series([0.01, 0.02, -0.05, 0.10], index=index))
    assert list(table.index) == [2023, 2024]
    assert list(table.columns)[-1] == "Year" and len(table.columns) == 13
    assert table.loc[2023, "Dec"] == pytest.approx(1.01 * 1.02 - 1)
    assert np.isnan(table.loc[2023, "Jan"])
    assert table.loc[2024, "Year"] == pytest.approx(0.95 * 1.10 - 1)
    rows = monthly_json(table)
    assert rows[1]["year"] == 2024 and rows[1]["months"][2] is None  # type: ignore[index]
    assert rows[0]["total"] == pytest.approx(1.01 * 1.02 - 1)


def test_a_window_under_a_year_is_not_annualised() -> None:
    short = run(200, Fill.CLOSE, start=20)
    warning = short_period_warning(short)
    assert warning is not None and "180 sessions" in warning
    shown = figures(short)
    assert shown["strategy"]["sharpe"] is None and shown["strategy"]["cagr"] is None
    assert shown["strategy"]["total_return"] is not None
    text = render_backtest("heading", short)
    assert text.count("warning:") == 1
    assert "monthly returns" in text and "return per trade average" in text
    sharpe_row = next(line for line in text.splitlines() if line.startswith("Sharpe"))
    assert set(sharpe_row.split()[1:]) == {"n/a"}
    assert short_period_warning(run(400, Fill.CLOSE, start=20)) is None
    assert not is_short(250) and is_short(239)  # a calendar year (250 in 2025) is not short


def test_a_benchmarks_win_rate_is_not_applicable() -> None:
    result = run(400, Fill.CLOSE)
    shown = figures(result)
    assert all(shown[name]["win_rate"] is None for name in result.benchmarks)
    assert shown["strategy"]["win_rate"] is not None
    data = market_data(panel_from_returns(random_returns(TICKERS, 400, seed=3)), UNIVERSE)
    payload = backtest_json("x", {}, data, result)
    assert all(b["win_rate"] is None for b in payload["benchmarks"].values())  # type: ignore[attr-defined]
    assert payload["short_period"] is False and payload["warnings"] == []
    assert payload["trade_summary"]["trades"] == result.metrics.trades  # type: ignore[index]
