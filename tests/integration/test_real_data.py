"""Acceptance on real prices (../shared/data/prices) with the default baskets."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from bot.config import Config
from bot.core.models import Severity
from bot.core.signals import Signals, compute_signals, events, state_at
from bot.data.csv_source import CsvSource

pytestmark = [pytest.mark.integration, pytest.mark.realdata]

BROAD_DAYS = ["2020-03-16", "2022-09-13", "2025-04-03", "2025-04-04", "2025-04-09", "2025-04-10"]


@pytest.fixture(scope="module")
def real(real_prices: Path) -> tuple[Config, Signals]:
    config = Config()
    panel = CsvSource(real_prices).fetch(config.tickers, config.data.history_start)
    return config, compute_signals(panel, config.universe)


@pytest.mark.parametrize("day", ["2024-07-17", "2025-01-27"])
def test_known_rotations_out_of_chips(real: tuple[Config, Signals], day: str) -> None:
    _, signals = real
    d = date.fromisoformat(day)
    shocks = [e for e in events(signals, d, d) if e.kind == "shock"]
    assert len(shocks) == 1
    assert (shocks[0].from_basket, shocks[0].to_basket) == ("chips", "platforms")
    assert shocks[0].severity.rank >= Severity.ALERT.rank


@pytest.mark.parametrize("day", BROAD_DAYS)
def test_broad_days_are_not_rotations(real: tuple[Config, Signals], day: str) -> None:
    _, signals = real
    d = date.fromisoformat(day)
    assert [e for e in events(signals, d, d) if e.kind == "shock"] == []


def test_alert_rate_2016_2025(real: tuple[Config, Signals]) -> None:
    _, signals = real
    shocks = [e for e in events(signals, date(2016, 1, 1), date(2025, 12, 31)) if e.kind == "shock"]
    loud = [e for e in shocks if e.severity.rank >= Severity.ALERT.rank]
    per_year = Counter(e.date.year for e in loud)
    print(
        f"\nshock events 2016-2025: {len(shocks)}; alert or above: {len(loud)} "
        f"({len(loud) / 10:.1f} a year); by year {dict(sorted(per_year.items()))}"
    )
    for e in loud:
        print(f"  {e.date} {e.severity.value:<6} {e.score:.2f} {e.summary}")
    assert len(loud) / 10 <= 12


def test_no_look_ahead_on_real_data(real: tuple[Config, Signals], real_prices: Path) -> None:
    config, full = real
    panel = CsvSource(real_prices).fetch(config.tickers, config.data.history_start)
    sample = [
        "2016-06-28",
        "2018-04-19",
        "2020-03-16",
        "2021-01-14",
        "2024-07-17",
        "2025-01-27",
        "2025-02-14",
        "2025-06-26",
        "2025-12-31",
    ]
    for day in sample:
        d = date.fromisoformat(day)
        cut = compute_signals(panel.upto(d), config.universe)
        pd.testing.assert_series_equal(
            cut.first.frame.iloc[-1], full.first.frame.loc[pd.Timestamp(d)], check_names=False
        )
        assert state_at(cut.first, d) == state_at(full.first, d)
