"""Wire the configured price source, the cache and the calendar into one loader.

Yahoo is always read through the SQLite cache, refreshed when it lacks the latest closed
session. A CSV folder is already local, so it is read directly (always current); ``rotabot
prices update`` can still import it into the cache.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from bot.config import Config
from bot.core.panel import PricePanel
from bot.data.cache import CachedSource, PriceCache, Progress, RefreshReport
from bot.data.csv_source import CsvSource
from bot.data.source import PriceSource
from bot.errors import DataUnavailable
from bot.store.db import connect

log = logging.getLogger(__name__)

Refresh = Literal["auto", "always", "never"]
# Yahoo publishes the closing bar some minutes after the bell; asking earlier gets a stale bar.
PUBLISH_DELAY = timedelta(minutes=20)


def open_state(config: Config) -> sqlite3.Connection:
    return connect(config.state.path)


def upstream(config: Config) -> PriceSource:
    """Return the configured source without the cache."""
    if config.data.source == "csv":
        return CsvSource(config.data.csv_dir)
    from bot.data.yahoo import YahooSource

    return YahooSource(config.state.path.parent)


def update_cache(
    config: Config,
    conn: sqlite3.Connection,
    tickers: Sequence[str] | None = None,
    progress: Progress | None = None,
    source: PriceSource | None = None,
    now: datetime | None = None,
) -> RefreshReport:
    """Refresh the cache from ``source`` (default: the configured one): ``prices update``."""
    clock = (lambda: now) if now else (lambda: datetime.now(UTC))
    cached = CachedSource(source or upstream(config), conn, config.data.history_start, clock)
    return cached.refresh(list(tickers or config.tickers), progress=progress)


def load_prices(
    config: Config,
    tickers: Sequence[str] | None = None,
    *,
    refresh: Refresh | None = None,
    now: datetime | None = None,
    conn: sqlite3.Connection | None = None,
    source: PriceSource | None = None,
) -> PricePanel:
    """Return bars of ``tickers`` (default: every configured ticker) from history_start on.

    ``refresh`` defaults to ``data.refresh`` of the config ("auto" or "never").
    """
    wanted = list(tickers or config.tickers)
    start = config.data.history_start
    if config.data.source == "csv":
        return CsvSource(config.data.csv_dir).fetch(wanted, start)
    refresh = refresh or ("never" if config.data.refresh == "never" else "auto")
    own = conn is None
    conn = conn or open_state(config)
    try:
        cache = PriceCache(conn)
        if refresh == "always" or (refresh == "auto" and _stale(config, cache, wanted, now)):
            _refresh_or_warn(config, conn, wanted, source, now)
        return cache.read(wanted, start)
    finally:
        if own:
            conn.close()


def _stale(config: Config, cache: PriceCache, tickers: Sequence[str], now: datetime | None) -> bool:
    from bot.data.calendar import last_closed_session, session_close

    now = now or datetime.now(UTC)
    expected = last_closed_session(config.schedule.calendar, now, PUBLISH_DELAY)
    last = cache.last_dates(tickers)
    if all(d is not None and d >= expected for d in last.values()):
        return False
    # Asked after the expected bar should exist and still none: do not hammer Yahoo.
    fetched = cache.fetched_at()
    ready = session_close(config.schedule.calendar, expected) + PUBLISH_DELAY
    return not all(t in fetched and datetime.fromisoformat(fetched[t]) >= ready for t in tickers)


def _refresh_or_warn(
    config: Config,
    conn: sqlite3.Connection,
    tickers: Sequence[str],
    source: PriceSource | None,
    now: datetime | None,
) -> None:
    try:
        update_cache(config, conn, tickers, source=source, now=now)
    except DataUnavailable as exc:
        last = PriceCache(conn).last_dates(tickers)
        if any(d is None for d in last.values()):
            raise
        log.warning("price refresh failed, using the cache as of %s: %s", min_date(last), exc)


def min_date(last: dict[str, date | None]) -> date | None:
    known = [d for d in last.values() if d is not None]
    return min(known) if known else None
