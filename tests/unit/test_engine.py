"""The rotation engine on synthetic data: events, broad and narrow moves, no look-ahead."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from bot.core.models import Severity
from bot.core.signals import compute_signals, events, state_at
from bot.errors import DataError
from tests.synthetic import panel_from_returns, random_returns, small_config

TICKERS = ["C1", "C2", "C3", "C4", "P1", "P2", "P3", "BENCH"]


def history(n: int = 400, seed: int = 11) -> pd.DataFrame:
    return random_returns(TICKERS, n, seed=seed, vol=0.01)


def with_day(returns: pd.DataFrame, moves: dict[str, float]) -> pd.DataFrame:
    day = returns.index[-1] + pd.offsets.BDay(1)
    out = returns.copy()
    out.loc[day] = moves
    return out


CONFIG = small_config(min_history=60, short_window=40, long_window=250)


def test_rotation_day_is_detected_with_drivers_and_evidence() -> None:
    moves = {
        "C1": -0.06,
        "C2": -0.05,
        "C3": -0.045,
        "C4": -0.04,
        "P1": 0.05,
        "P2": 0.03,
        "P3": 0.02,
        "BENCH": -0.001,
    }
    returns = with_day(history(), moves)
    signals = compute_signals(panel_from_returns(returns), CONFIG.universe)
    day = returns.index[-1].date()
    (shock,) = [e for e in events(signals, day, day) if e.kind == "shock"]
    assert (shock.from_basket, shock.to_basket) == ("chips", "platforms")
    assert shock.severity == Severity.SEVERE
    assert [(d.ticker, round(d.move, 3)) for d in shock.drivers] == [
        ("C1", -0.06),
        ("C2", -0.05),
        ("P1", 0.05),
        ("P2", 0.03),
    ]
    assert shock.summary == (
        "Calm surface, violent rotation: Bench -0.1% while Chips -4.9% (C1 -6.0%, C2 -5.0%) "
        "and Platforms +3.3% (P1 +5.0%, P2 +3.0%)"
    )
    for key in ("spread", "z", "breadth", "benchmark_share", "dispersion_share", "opposite"):
        assert math.isfinite(float(shock.evidence[key]))  # type: ignore[arg-type]
    assert shock.evidence["largest_since"] is None  # nothing as wide before it
    as_json = shock.to_json()
    assert set(as_json) == {
        "date",
        "pair",
        "kind",
        "from",
        "to",
        "severity",
        "score",
        "summary",
        "drivers",
        "evidence",
        "reverses",
        "track_record",
    }


def test_broad_move_is_never_a_rotation() -> None:
    moves = {
        "C1": -0.13,
        "C2": -0.12,
        "C3": -0.125,
        "C4": -0.14,
        "P1": -0.09,
        "P2": -0.10,
        "P3": -0.095,
        "BENCH": -0.11,
    }
    returns = with_day(history(), moves)
    signals = compute_signals(panel_from_returns(returns), CONFIG.universe)
    day = returns.index[-1].date()
    assert [e for e in events(signals, day, day) if e.kind == "shock"] == []
    assert state_at(signals.first, day).notes[0].startswith("Broad move, not a rotation")


def test_one_name_does_not_make_a_rotation() -> None:
    moves = {
        "C1": 0.0,
        "C2": 0.001,
        "C3": -0.002,
        "C4": 0.0,
        "P1": 0.30,
        "P2": -0.001,
        "P3": 0.0,
        "BENCH": 0.002,
    }
    returns = with_day(history(), moves)
    signals = compute_signals(panel_from_returns(returns), CONFIG.universe)
    day = returns.index[-1].date()
    assert [e for e in events(signals, day, day) if e.kind == "shock"] == []
    assert "P1 +30.0% did most of it" in state_at(signals.first, day).notes[0]


def test_no_event_without_enough_history() -> None:
    moves = {
        "C1": -0.06,
        "C2": -0.05,
        "C3": -0.045,
        "C4": -0.04,
        "P1": 0.05,
        "P2": 0.03,
        "P3": 0.02,
        "BENCH": -0.001,
    }
    returns = with_day(history(n=30), moves)
    signals = compute_signals(panel_from_returns(returns), CONFIG.universe)
    assert [e for e in events(signals) if e.kind == "shock"] == []


def test_regime_turn_is_reported_once() -> None:
    idx = pd.bdate_range("2020-01-02", periods=500)
    drift = np.where(np.arange(500) < 300, 0.002, -0.002)  # chips lead, then platforms
    rng = np.random.default_rng(5)
    data = {t: drift + rng.normal(0, 0.004, 500) for t in ("C1", "C2", "C3", "C4")}
    data |= {t: rng.normal(0, 0.004, 500) for t in ("P1", "P2", "P3")}
    data["BENCH"] = rng.normal(0, 0.004, 500)
    signals = compute_signals(panel_from_returns(pd.DataFrame(data, index=idx)), CONFIG.universe)
    turns = [e for e in events(signals) if e.evidence.get("trigger") == "ma_cross"]
    assert [(e.from_basket, e.to_basket) for e in turns] == [("chips", "platforms")]
    assert turns[0].date > idx[300].date()
    assert state_at(signals.first, idx[-1].date()).regime == "platforms"


@pytest.mark.parametrize("seed", [1, 2])
def test_no_look_ahead_in_readings_or_events(seed: int) -> None:
    returns = history(n=420, seed=seed)
    returns.loc[returns.index[:150], "C4"] = np.nan  # a late listing
    panel = panel_from_returns(returns)
    full = compute_signals(panel, CONFIG.universe)
    for i in range(60, 420, 37):
        day = returns.index[i].date()
        cut = compute_signals(panel.upto(day), CONFIG.universe)
        pd.testing.assert_series_equal(
            cut.first.frame.iloc[-1], full.first.frame.loc[pd.Timestamp(day)], check_names=False
        )
        assert state_at(cut.first, day) == state_at(full.first, day)


def test_bad_panels_are_refused() -> None:
    panel = panel_from_returns(history(n=50))
    broken = panel_from_returns(history(n=50).drop(columns=["P2"]))
    with pytest.raises(DataError, match="no prices for P2"):
        compute_signals(broken, CONFIG.universe)
    empty_chips = panel_from_returns(
        history(n=50).assign(C1=np.nan, C2=np.nan, C3=np.nan, C4=np.nan)
    )
    with pytest.raises(DataError, match="basket chips: none of its members"):
        compute_signals(empty_chips, CONFIG.universe)
    assert len(compute_signals(panel, CONFIG.universe).first.frame) == 50
