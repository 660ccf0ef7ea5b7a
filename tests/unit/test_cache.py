"""The SQLite price cache: incremental refresh, history rewrites, one transaction per update."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from datetime import date, time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.core.panel import PricePanel
from bot.data.cache import CachedSource, PriceCache
from bot.errors import DataUnavailable
from bot.store.db import connect
from tests.synthetic import panel_from_returns, random_returns


class FakeSource:
    """A PriceSource over a fixed panel that records what it was asked for."""

    name = "fake"

    def __init__(self, panel: PricePanel) -> None:
        self.panel = panel
        self.calls: list[tuple[tuple[str, ...], date, date | None]] = []
        self.fail_on: set[str] = set()

    def fetch(self, tickers: Sequence[str], start: date, end: date | None = None) -> PricePanel:
        self.calls.append((tuple(tickers), start, end))
        if self.fail_on & set(tickers):
            raise DataUnavailable("down", missing=sorted(self.fail_on))
        lo, hi = pd.Timestamp(start), pd.Timestamp(end) if end else None
        frames = (getattr(self.panel, f).loc[lo:hi, list(tickers)] for f in PricePanel.__slots__)
        return PricePanel(*frames)


@pytest.fixture
def world() -> PricePanel:
    return panel_from_returns(random_returns(["AAA", "BBB"], 300, seed=1))


def test_first_refresh_full_then_only_the_tail(tmp_path: Path, world: PricePanel) -> None:
    source = FakeSource(world.upto(world.dates[199]))
    cached = CachedSource(source, connect(tmp_path / "s.db"), date(2019, 1, 1))
    report = cached.refresh(["AAA", "BBB"])
    assert report.full == ("AAA", "BBB") and source.calls[-1][1] == date(2019, 1, 1)
    source.panel = world  # 100 more sessions arrive
    report = cached.refresh(["AAA", "BBB"])
    assert report.tail == ("AAA", "BBB") and not report.rewritten
    asked_from = source.calls[-1][1]
    overlap = world.dates[
        (world.dates >= pd.Timestamp(asked_from)) & (world.dates <= world.dates[199])
    ]
    assert 10 <= len(overlap) <= 13  # only the last ~10 sessions are asked again
    got = cached.cache.read(["AAA", "BBB"])
    pd.testing.assert_frame_equal(got.adj_close, world.adj_close, check_freq=False, rtol=1e-12)


def test_rewritten_history_is_fetched_again_in_full(tmp_path: Path, world: PricePanel) -> None:
    source = FakeSource(world)
    cached = CachedSource(source, connect(tmp_path / "s.db"), date(2019, 1, 1))
    cached.refresh(["AAA", "BBB"])
    adj = world.adj_close.copy()
    adj["AAA"] = adj["AAA"] * 0.5  # a dividend re-adjusted all of AAA's history
    source.panel = PricePanel(world.open, world.high, world.low, world.close, adj, world.volume)
    report = cached.refresh(["AAA", "BBB"])
    assert report.rewritten == ("AAA",)
    got = cached.cache.read(["AAA", "BBB"])
    assert np.allclose(got.adj_close["AAA"], adj["AAA"])
    assert np.allclose(got.adj_close["BBB"], world.adj_close["BBB"])


def test_a_failed_update_writes_nothing(tmp_path: Path, world: PricePanel) -> None:
    conn = connect(tmp_path / "s.db")
    source = FakeSource(world.upto(world.dates[99]))
    cached = CachedSource(source, conn, date(2019, 1, 1))
    cached.refresh(["AAA"])
    source.panel = world
    source.fail_on = {"BBB"}  # AAA's tail would succeed; BBB (new) fails
    with pytest.raises(DataUnavailable):
        cached.refresh(["AAA", "BBB"])
    last = PriceCache(conn).last_dates(["AAA", "BBB"])
    assert last == {"AAA": world.dates[99].date(), "BBB": None}


def test_dates_are_iso_text_and_file_is_private(tmp_path: Path, world: PricePanel) -> None:
    path = tmp_path / "new" / "s.db"
    conn = connect(path)
    CachedSource(FakeSource(world), conn, date(2019, 1, 1)).refresh(["AAA"])
    (stored,) = conn.execute("SELECT date FROM prices ORDER BY date LIMIT 1").fetchone()
    assert stored == world.dates[0].strftime("%Y-%m-%d")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700


def test_reopening_keeps_schema_and_rows(tmp_path: Path, world: PricePanel) -> None:
    conn = connect(tmp_path / "s.db")
    CachedSource(FakeSource(world), conn, date(2019, 1, 1)).refresh(["AAA"])
    conn.close()
    again = PriceCache(connect(tmp_path / "s.db"))
    assert again.last_dates(["AAA"])["AAA"] == world.dates[-1].date()


def test_the_bar_of_a_session_still_trading_is_never_cached(tmp_path: Path) -> None:
    """Yahoo serves today's bar while the session trades (a check during the session fetches
    prices then): it must not reach the cache, or a failed fetch at the close would leave the
    close run reading the 11:00 price as the close."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from bot.data.calendar import sessions
    from bot.data.checks import Rules

    days = sessions("XNYS", date(2025, 1, 2), date(2025, 6, 30))
    returns = random_returns(["AAA", "BBB"], len(days), seed=2)
    returns.index = pd.DatetimeIndex(days, name="date")
    world = panel_from_returns(returns)
    last = world.dates[-1].date()
    during = datetime.combine(last, time(11), ZoneInfo("America/New_York")).astimezone(UTC)
    conn = connect(tmp_path / "s.db")
    cached = CachedSource(FakeSource(world), conn, date(2025, 1, 1), lambda: during, Rules("XNYS"))
    cached.refresh(["AAA", "BBB"])
    assert cached.cache.last_dates(["AAA", "BBB"]) == {"AAA": world.dates[-2].date()} | {
        "BBB": world.dates[-2].date()
    }
    settling = datetime.combine(last, time(16, 5), ZoneInfo("America/New_York")).astimezone(UTC)
    cached.clock = lambda: settling  # closed, but Yahoo's bar may still change for minutes
    cached.refresh(["AAA", "BBB"])
    assert cached.cache.last_dates(["AAA"]) == {"AAA": world.dates[-2].date()}
    after = datetime.combine(last, time(16, 25), ZoneInfo("America/New_York")).astimezone(UTC)
    cached.clock = lambda: after
    cached.refresh(["AAA", "BBB"])
    assert cached.cache.last_dates(["AAA"]) == {"AAA": last}
