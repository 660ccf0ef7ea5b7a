"""When the Yahoo path refreshes the cache, and what happens when the source is down."""

from __future__ import annotations

import logging
import socket
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest
import requests

from bot.config import Config, DataConfig, StateConfig
from bot.core.panel import PricePanel
from bot.data.prices import load_noted, load_prices, update_cache
from bot.data.yahoo import YahooSource, YahooUnreachable
from bot.errors import DataUnavailable, UsageError
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


# -- nothing to read creates nothing; why the data stop where they do ---------------------------


class UnreachableSource(FakeSource):
    """The fake source with the network gone, as YahooSource reports it."""

    def fetch(self, tickers: Sequence[str], start: date, end: date | None = None) -> PricePanel:
        self.calls.append((tuple(tickers), start, end))
        raise YahooUnreachable("cannot reach Yahoo Finance: connection refused", tickers)


def test_offline_with_no_state_file_says_what_to_run_and_creates_nothing(tmp_path: Path) -> None:
    config = config_at(tmp_path, refresh="never")

    with pytest.raises(
        UsageError, match=r"run `rotabot prices update` first \(or use --prices-dir"
    ):
        load_prices(config, TICKERS)

    assert list(tmp_path.iterdir()) == []


def test_offline_names_the_tickers_missing_from_the_cache(
    tmp_path: Path, world: PricePanel
) -> None:
    config = config_at(tmp_path, refresh="never")
    with connect(config.state.path) as conn:
        update_cache(config, conn, ["AAA"], source=FakeSource(world))

    with pytest.raises(UsageError, match="no prices are cached for BBB: run `rotabot prices"):
        load_prices(config, TICKERS)


def test_yahoo_unreachable_before_the_first_read_creates_no_state_file(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    session = requests.Session()
    session.trust_env = False
    session.proxies = {"https": f"http://127.0.0.1:{closed}"}
    yahoo = YahooSource(tmp_path / "cache", session=session)
    config = config_at(tmp_path / "state")

    with pytest.raises(YahooUnreachable, match="cannot reach Yahoo Finance"):
        load_prices(config, TICKERS, source=yahoo)

    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("source_kind", "refresh", "why"),
    [
        ("unreachable", None, "Yahoo not reached, showing the cache"),
        ("failing", None, "the refresh failed, showing the cache"),
        ("working", "never", "offline, showing the cache"),
        ("working", None, "the last refresh found nothing newer"),
    ],
)
def test_load_noted_says_why_the_data_stop_there(
    tmp_path: Path, world: PricePanel, source_kind: str, refresh: str | None, why: str
) -> None:
    config = config_at(tmp_path, **({"refresh": refresh} if refresh else {}))
    conn = connect(config.state.path)
    update_cache(
        config, conn, TICKERS, source=FakeSource(world), now=datetime(2025, 1, 25, tzinfo=UTC)
    )
    source = UnreachableSource(world) if source_kind == "unreachable" else FakeSource(world)
    source.fail_on = {"AAA"} if source_kind == "failing" else set()

    loaded = load_noted(
        config, TICKERS, now=datetime(2025, 2, 3, 23, tzinfo=UTC), conn=conn, source=source
    )

    assert loaded.why_old == why
    assert loaded.panel.dates[-1].date() == date(2025, 1, 24)
