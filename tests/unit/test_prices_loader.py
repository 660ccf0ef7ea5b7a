"""When the Yahoo path refreshes the cache, and what happens when the source is down."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from bot.config import Config, DataConfig, StateConfig
from bot.core.panel import PricePanel
from bot.data.prices import load_prices, update_cache
from bot.errors import DataUnavailable
from bot.store.db import connect
from tests.unit.test_cache import FakeSource

TICKERS = ["AAA", "BBB"]


@pytest.fixture
def world() -> PricePanel:
    """Sessions 2025-01-02 .. 2025-01-24 (a Friday)."""
    from tests.synthetic import panel_from_returns

    idx = pd.bdate_range("2025-01-02", "2025-01-24", name="date")
    returns = pd.DataFrame({"AAA": 0.01, "BBB": -0.01}, index=idx)
    return panel_from_returns(returns)


def config_at(tmp_path: Path, **data: object) -> Config:
    return Config(
        data=replace(DataConfig(), history_start=date(2025, 1, 1), **data),  # type: ignore[arg-type]
        state=StateConfig(tmp_path / "s.db"),
    )


def test_refreshes_only_when_the_last_closed_session_is_missing(
    tmp_path: Path, world: PricePanel
) -> None:
    config = config_at(tmp_path)
    source = FakeSource(world)
    conn = connect(config.state.path)
    update_cache(config, conn, TICKERS, source=source, now=datetime(2025, 1, 25, tzinfo=UTC))
    calls = len(source.calls)
    # Monday 2025-01-27, 15:00 New York: Friday's bar is the latest closed session.
    monday_noon = datetime(2025, 1, 27, 20, 0, tzinfo=UTC)
    load_prices(config, TICKERS, now=monday_noon, conn=conn, source=source)
    assert len(source.calls) == calls
    # 16:30 New York: Monday has closed and is not cached, so the cache refreshes.
    monday_evening = datetime(2025, 1, 27, 21, 30, tzinfo=UTC)
    load_prices(config, TICKERS, now=monday_evening, conn=conn, source=source)
    assert len(source.calls) == calls + 1
    # Asked again after that fetch: Yahoo had nothing newer, do not hammer it.
    load_prices(
        config, TICKERS, now=datetime(2025, 1, 27, 21, 40, tzinfo=UTC), conn=conn, source=source
    )
    assert len(source.calls) == calls + 1


def test_offline_never_fetches(tmp_path: Path, world: PricePanel) -> None:
    config = config_at(tmp_path, refresh="never")
    source = FakeSource(world)
    conn = connect(config.state.path)
    update_cache(config, conn, TICKERS, source=source)
    calls = len(source.calls)
    panel = load_prices(
        config, TICKERS, now=datetime(2026, 1, 1, tzinfo=UTC), conn=conn, source=source
    )
    assert len(source.calls) == calls and panel.dates[-1].date() == date(2025, 1, 24)


def test_source_down_serves_the_cache_with_a_warning(
    tmp_path: Path, world: PricePanel, caplog: pytest.LogCaptureFixture
) -> None:
    config = config_at(tmp_path)
    source = FakeSource(world)
    conn = connect(config.state.path)
    update_cache(config, conn, TICKERS, source=source, now=datetime(2025, 1, 25, tzinfo=UTC))
    source.fail_on = {"AAA"}
    with caplog.at_level(logging.WARNING):
        panel = load_prices(
            config, TICKERS, now=datetime(2025, 2, 3, 23, tzinfo=UTC), conn=conn, source=source
        )
    assert panel.dates[-1].date() == date(2025, 1, 24)
    assert "using the cache as of 2025-01-24" in caplog.text


def test_source_down_with_empty_cache_raises(tmp_path: Path, world: PricePanel) -> None:
    config = config_at(tmp_path)
    source = FakeSource(world)
    source.fail_on = {"AAA"}
    with pytest.raises(DataUnavailable):
        load_prices(
            config,
            TICKERS,
            now=datetime(2025, 2, 3, 23, tzinfo=UTC),
            conn=connect(config.state.path),
            source=source,
        )
