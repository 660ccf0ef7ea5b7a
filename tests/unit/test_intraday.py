"""Intraday checks: the close run's evidence on a provisional bar, the bars, the config."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from bot.config import parse_config
from bot.core.intraday import intraday_readings
from bot.core.market import build_market
from bot.core.signals import shock_readings
from bot.data.intraday import Moves, Skipped, moves_at, previous_closes, read_bars
from bot.errors import ConfigError
from tests.synthetic import panel_from_returns, random_returns, small_config

NY = ZoneInfo("America/New_York")


def _world() -> tuple[object, object]:
    config = small_config(min_history=20, short_window=10, long_window=60)
    returns = random_returns(config.tickers, 200, seed=3)
    return config, panel_from_returns(returns)


def test_full_day_returns_give_the_close_runs_evidence_exactly() -> None:
    config, panel = _world()
    full = build_market(panel, config.universe)  # type: ignore[attr-defined]
    pair = config.pairs[0]  # type: ignore[attr-defined]
    close = shock_readings(full, pair)
    for day in full.sessions[-5:]:
        prev = full.sessions[full.sessions < day][-1]
        history = build_market(panel.upto(prev), config.universe)  # type: ignore[attr-defined]
        moves = full.member.loc[day].to_dict()
        reading = intraday_readings(history, day, moves, 4.0)[0]
        row = close.loc[day]
        assert reading.score == row["score"] and reading.z == row["z"]
        assert reading.breadth == row["breadth"]
        assert reading.benchmark_share == row["benchmark_share"]
        assert reading.dispersion_share == row["dispersion_share"]
        assert reading.eligible == bool(row["eligible"])


def test_direction_and_threshold() -> None:
    config, panel = _world()
    history = build_market(panel, config.universe)  # type: ignore[attr-defined]
    day = history.sessions[-1] + pd.offsets.BDay(1)
    moves = {"C1": -0.08, "C2": -0.07, "C3": -0.09, "C4": -0.06}
    moves |= {"P1": 0.04, "P2": 0.05, "P3": 0.03, "BENCH": 0.0}
    reading = intraday_readings(history, day, moves, 4.0)[0]
    assert reading.flagged and reading.direction == "chips -> platforms"
    assert intraday_readings(history, day, moves, 1e6)[0].stopped_by == "score"


def _write_bars(folder: Path, ticker: str, rows: list[tuple[str, float]]) -> None:
    lines = ["datetime,open,high,low,close,volume"]
    lines += [f"{t},{c},{c},{c},{c},100" for t, c in rows]
    (folder / f"{ticker}.csv").write_text("\n".join(lines) + "\n")


def test_bars_missing_stale_or_from_another_session_skip_the_check(tmp_path: Path) -> None:
    _write_bars(tmp_path, "A", [("2025-01-27T10:25:00-05:00", 99.0)])
    _write_bars(tmp_path, "B", [("2025-01-27T09:50:00-05:00", 101.0)])
    _write_bars(tmp_path, "C", [("2025-01-24T15:55:00-05:00", 100.0)])
    bars = read_bars(tmp_path, ["A", "B", "C", "D"])
    prior = (datetime(2025, 1, 24).date(), {"A": 100.0, "B": 100.0, "C": 100.0, "D": 100.0})
    asof = datetime(2025, 1, 27, 10, 30, tzinfo=NY)
    got = moves_at(bars, prior, asof, NY, timedelta(minutes=20))
    assert isinstance(got, Skipped)
    assert "no bar yet for D" in got.reason
    assert "another session for C" in got.reason
    assert "older than 20 minutes for B (09:50)" in got.reason
    ok = moves_at(bars, (prior[0], {"A": 100.0}), asof, NY, timedelta(minutes=20))
    assert isinstance(ok, Moves) and ok.moves["A"] == pytest.approx(-0.01)
    utc = asof.astimezone(UTC)  # the same moment, written in another zone
    assert moves_at(bars, (prior[0], {"A": 100.0}), utc, NY, timedelta(minutes=20)) == ok


def test_bars_need_their_utc_offset(tmp_path: Path) -> None:
    _write_bars(tmp_path, "A", [("2025-01-27T10:25:00", 99.0)])
    with pytest.raises(Exception, match="UTC offset"):
        read_bars(tmp_path, ["A"])


def test_previous_closes_come_from_the_session_before() -> None:
    _config, panel = _world()
    day = panel.dates[-1].date()
    prev, closes = previous_closes(panel, day)
    assert prev == panel.dates[-2].date()
    assert closes["C1"] == panel.close["C1"].iloc[-2]


def test_intraday_config_defaults_and_errors() -> None:
    config = parse_config({})
    assert config.intraday.checks == (time(10, 30), time(12), time(14), time(15, 15))
    assert config.intraday.score_threshold(config.signals) == config.signals.shock_severe
    raised = parse_config(tomllib.loads("[signals]\nshock_severe = 5.0\n"))
    assert raised.intraday.score_threshold(raised.signals) == 5.0
    own = parse_config(tomllib.loads("[intraday]\nthreshold = 3.5\n"))
    assert own.intraday.score_threshold(own.signals) == 3.5
    bad = '[intraday]\nchecks = ["09:00"]\ninterval = "7m"\nthreshold = "severe"\nmax_age = 3\n'
    with pytest.raises(ConfigError) as info:
        parse_config(tomllib.loads(bad))
    text = "\n".join(info.value.problems)
    for where in (
        "intraday.checks[0]",
        "intraday.interval",
        "intraday.threshold",
        "intraday.max_age",
    ):
        assert where in text


def test_deepseek_open_on_a_simulated_path(real_prices: Path) -> None:
    """2025-01-27 on the bridge through the real open, high, low and close: by the first
    check chips already lead the fall against platforms."""
    from benchmarks.bench_intraday import check_index, simulate_day, tail_market
    from bot.config import Config
    from bot.data.csv_source import CsvSource

    config = Config()
    panel = CsvSource(real_prices).fetch(config.tickers, config.data.history_start)
    market = build_market(panel, config.universe)
    day = pd.Timestamp("2025-01-27")
    path = simulate_day(panel, day)
    first = config.intraday.checks[0]
    moves = path.iloc[check_index(first)].dropna().to_dict()
    reading = intraday_readings(tail_market(market, day), day, moves, 4.0)[0]
    assert reading.direction == "chips -> platforms"
    assert reading.moves["chips"] < reading.moves["platforms"] < 0
    assert np.isfinite(reading.score)


def test_a_bars_age_counts_from_its_end(tmp_path: Path) -> None:
    """A 30-minute bar that started at 11:30 is complete at 12:00: fresh for a 12:00 check."""
    _write_bars(tmp_path, "A", [("2025-01-27T11:30:00-05:00", 99.0)])
    bars = read_bars(tmp_path, ["A"])
    prior = (datetime(2025, 1, 24).date(), {"A": 100.0})
    noon = datetime(2025, 1, 27, 12, 0, tzinfo=NY)
    half_hour = timedelta(minutes=30)
    got = moves_at(bars, prior, noon, NY, timedelta(minutes=20), half_hour)
    assert isinstance(got, Moves) and got.moves["A"] == pytest.approx(-0.01)
    early = moves_at(bars, prior, noon - timedelta(minutes=1), NY, timedelta(minutes=20), half_hour)
    assert isinstance(early, Skipped) and "no bar yet for A" in early.reason
