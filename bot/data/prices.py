"""Wire the configured price source, the cache and the calendar into one loader.

Yahoo is always read through the SQLite cache, refreshed when it lacks the latest closed
session. A CSV folder is already local, so it is read directly (always current); ``rotabot
prices update`` can still import it into the cache.

A command with nothing to read creates nothing: before the state file is first created, Yahoo
must answer (``YahooSource.check_reachable``), and ``--offline`` with no cached prices says
to run ``rotabot prices update``. ``load_noted`` also says why the data may stop before the
last close (``bot.data.age`` counts by how much).

Prices are checked at the door (``bot.data.checks``, with ``rules_for(config)``): a refused
CSV file raises ``BadPrices`` naming file and line; a Yahoo ticker set aside by the refresh
raises ``BadPrices`` naming ticker and date, carrying the prices without it, so the daemon
can skip the session or carry on without the ticker (``data.on_bad_ticker``).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

from bot.config import Config
from bot.config.paths import cache_dir
from bot.core.panel import PricePanel
from bot.data.age import PUBLISH_DELAY
from bot.data.cache import CachedSource, PriceCache, Progress, RefreshReport
from bot.data.checks import BadPrices, Rules
from bot.data.csv_source import CsvSource
from bot.data.source import PriceSource
from bot.data.yahoo import YahooRateLimited, YahooSource, YahooUnreachable
from bot.errors import DataUnavailable, UsageError
from bot.store.db import connect

log = logging.getLogger(__name__)

Refresh = Literal["auto", "always", "never"]
UPDATE_HINT = "run `rotabot prices update` first (or use --prices-dir DIR)"


@dataclass(frozen=True, slots=True)
class Loaded:
    """Prices as loaded, and why they would stop before the last close if they do."""

    panel: PricePanel
    why_old: str


def open_state(config: Config) -> sqlite3.Connection:
    """Open the state file; a new one only once Yahoo answers, when prices come from there."""
    if not config.state.path.exists() and config.data.source == "yahoo":
        _reachable(upstream(config))
    return connect(config.state.path)


def rules_for(config: Config) -> Rules:
    """The checks at the door as configured: the schedule's calendar, the move bound."""
    return Rules(config.schedule.calendar, max_move=config.data.max_daily_move)


def upstream(config: Config) -> PriceSource:
    """Return the configured source without the cache."""
    if config.data.source == "csv":
        return CsvSource(config.data.csv_dir, rules_for(config))
    return YahooSource(cache_dir())


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
    inner = source or upstream(config)
    # A CSV folder checks its files itself (by file and line, and across files).
    rules = Rules() if isinstance(inner, CsvSource) else rules_for(config)
    cached = CachedSource(inner, conn, config.data.history_start, clock, rules)
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
    return load_noted(config, tickers, refresh=refresh, now=now, conn=conn, source=source).panel


def load_noted(
    config: Config,
    tickers: Sequence[str] | None = None,
    *,
    refresh: Refresh | None = None,
    now: datetime | None = None,
    conn: sqlite3.Connection | None = None,
    source: PriceSource | None = None,
) -> Loaded:
    """``load_prices``, and why the data would stop before the last close (for its age).

    Raises:
        UsageError: offline (``refresh`` "never") with no cached prices for some ticker.
        DataUnavailable: the source failed and the cache has nothing for some ticker.
        BadPrices: prices refused at the door (its ``panel``: the cache without them).
    """
    wanted = list(tickers or config.tickers)
    start = config.data.history_start
    if config.data.source == "csv":
        panel = CsvSource(config.data.csv_dir, rules_for(config)).fetch(wanted, start)
        return Loaded(panel, "the price folder ends there")
    refresh = refresh or ("never" if config.data.refresh == "never" else "auto")
    source = source or upstream(config)
    if conn is None and not config.state.path.exists():
        if refresh == "never":
            raise UsageError(f"offline, and no prices are cached yet: {UPDATE_HINT}")
        _reachable(source)  # before the state file is created: a failure leaves nothing
    own = conn is None
    conn = conn or connect(config.state.path)
    try:
        cache = PriceCache(conn)
        why: str | BadPrices = "the last refresh found nothing newer"
        if refresh == "never":
            _check_cached(cache, wanted)
            why = "offline, showing the cache"
        elif refresh == "always" or (refresh == "auto" and _stale(config, cache, wanted, now)):
            why = _refresh_or_warn(config, conn, wanted, source, now) or why
        panel = cache.read(wanted, start)
        if isinstance(why, BadPrices):
            raise BadPrices(why.refusals, panel)
        return Loaded(panel, why)
    finally:
        if own:
            conn.close()


def _reachable(source: PriceSource) -> None:
    if isinstance(source, YahooSource):
        source.check_reachable()


def _check_cached(cache: PriceCache, tickers: Sequence[str]) -> None:
    absent = [t for t, d in cache.last_dates(tickers).items() if d is None]
    if len(absent) == len(tickers):
        raise UsageError(f"offline, and no prices are cached yet: {UPDATE_HINT}")
    if absent:
        names = ", ".join(absent)
        raise UsageError(f"offline, and no prices are cached for {names}: {UPDATE_HINT}")


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
) -> str | BadPrices | None:
    """Refresh the cache; on failure with every ticker cached, warn and say why (else raise).

    Tickers the refresh set aside come back as a ``BadPrices`` (the rest was written)."""
    try:
        report = update_cache(config, conn, tickers, source=source, now=now)
    except DataUnavailable as exc:
        last = PriceCache(conn).last_dates(tickers)
        if any(d is None for d in last.values()):
            raise
        log.warning("price refresh failed, using the cache as of %s: %s", min_date(last), exc)
        if isinstance(exc, YahooUnreachable):
            return "Yahoo not reached, showing the cache"
        if isinstance(exc, YahooRateLimited):
            return "Yahoo rate-limited the refresh, showing the cache"
        return "the refresh failed, showing the cache"
    return BadPrices(report.refused) if report.refused else None


def min_date(last: dict[str, date | None]) -> date | None:
    known = [d for d in last.values() if d is not None]
    return min(known) if known else None
