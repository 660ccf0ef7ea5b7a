"""A SQLite price cache in front of any PriceSource.

A refresh asks the source only for the last ``overlap`` sessions of tickers already cached and
for the whole history of new ones. When the overlap disagrees with what is stored (a split or
a dividend rewrote the adjusted history), that ticker is fetched again in full. Each refresh
is one transaction: either every ticker is updated or nothing is.

What comes in is checked at the door (``bot.data.checks``): a bar dated on no session or in
the future is set aside (the rest of that ticker is kept); a lone one-session jump beyond
``max_move`` makes the ticker suspect, and it is fetched again in full once (Yahoo may have
rewritten its adjusted history). If the jump stays, nothing of that ticker is written: the
cache keeps its older bars, and the report lists it in ``refused`` with the date.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd

from bot.core.panel import FIELDS, PricePanel, panel_to_long
from bot.data import packs
from bot.data.checks import Refusal, Rules, bad_dates, jumps, why_bad
from bot.data.source import PriceSource
from bot.store.db import transaction

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]
"""Called as ``progress(done, total, label)`` between the stages of a refresh."""

# Calendar days that surely hold the last ~10 sessions, holidays included.
_OVERLAP_DAYS = 16
_REL_TOL = 1e-6


@dataclass(frozen=True, slots=True)
class RefreshReport:
    """What one refresh did, per ticker group."""

    full: tuple[str, ...]
    tail: tuple[str, ...]
    rewritten: tuple[str, ...]
    rows_written: int
    refused: tuple[Refusal, ...] = ()  # tickers set aside: nothing of theirs written
    dropped: tuple[Refusal, ...] = ()  # single bars set aside (a weekend or future date)


class PriceCache:
    """Rows of daily bars in the ``prices`` table of the state file."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def last_dates(self, tickers: Sequence[str]) -> dict[str, date | None]:
        rows = self.conn.execute(
            f"SELECT ticker, MAX(date) FROM prices WHERE ticker IN ({_marks(tickers)}) "
            "GROUP BY ticker",
            list(tickers),
        ).fetchall()
        found = {t: date.fromisoformat(d) for t, d in rows}
        return {t: found.get(t) for t in tickers}

    def read(
        self, tickers: Sequence[str], start: date | None = None, end: date | None = None
    ) -> PricePanel:
        """Return the cached bars of ``tickers`` between ``start`` and ``end`` (inclusive)."""
        return packs.read(self.conn, tickers, start, end)

    def write(
        self, panel: PricePanel, replace: Sequence[str], source: str, fetched_at: datetime
    ) -> int:
        """Upsert the panel's rows; tickers in ``replace`` lose all their old rows first.

        Must be called inside a transaction (see ``PriceCache.transaction``).
        """
        for t in replace:
            self.conn.execute("DELETE FROM prices WHERE ticker = ?", (t,))
        long = panel_to_long(panel)
        # A row without adj_close is of no use and, written whole, would blank a stored one
        # (Yahoo sometimes sends today's live bar with a close but no adjusted close).
        long = long[long["adj_close"].notna()]
        records = long.astype(object).where(long.notna(), None).itertuples(index=False, name=None)
        self.conn.executemany(
            f"INSERT OR REPLACE INTO prices (ticker, date, {', '.join(FIELDS)}) "
            f"VALUES (?, ?, {', '.join('?' for _ in FIELDS)})",
            records,
        )
        packs.rebuild(self.conn, sorted({*panel.tickers, *replace}))
        now = fetched_at.isoformat(timespec="seconds")
        self.conn.executemany(
            "INSERT OR REPLACE INTO price_meta (ticker, source, fetched_at) VALUES (?, ?, ?)",
            [(t, source, now) for t in panel.tickers],
        )
        return len(long)

    def fetched_at(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT ticker, fetched_at FROM price_meta").fetchall())


class CachedSource:
    """A PriceSource that serves from the cache after refreshing it from ``inner``."""

    def __init__(
        self,
        inner: PriceSource,
        conn: sqlite3.Connection,
        history_start: date,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        rules: Rules | None = None,
    ) -> None:
        self.rules = rules or Rules()
        self.inner = inner
        self.clock = clock
        self.cache = PriceCache(conn)
        self.history_start = history_start
        self.name = f"cache({inner.name})"

    def fetch(self, tickers: Sequence[str], start: date, end: date | None = None) -> PricePanel:
        self.refresh(tickers)
        return self.cache.read(tickers, start, end)

    def refresh(
        self, tickers: Sequence[str], end: date | None = None, progress: Progress | None = None
    ) -> RefreshReport:
        """Bring the cache up to date for ``tickers``; one transaction for the whole update."""
        last = self.cache.last_dates(tickers)
        new = [t for t in tickers if last[t] is None]
        old = [t for t in tickers if last[t] is not None]
        total = 3 if old else 2
        step = _stepper(progress, total)
        full_panel = tail_panel = full_rewrite = None
        if new:
            step(f"fetching full history of {len(new)} ticker(s)")
            full_panel = self.inner.fetch(new, self.history_start, end)
        rewritten: list[str] = []
        dropped: list[Refusal] = []
        if full_panel is not None:
            full_panel = self._drop_bad_dates(full_panel, dropped)
        if old:
            since = min(d for d in last.values() if d is not None) - timedelta(days=_OVERLAP_DAYS)
            step(f"fetching recent sessions of {len(old)} ticker(s)")
            tail_panel = self._drop_bad_dates(
                self.inner.fetch(old, max(since, self.history_start), end), dropped
            )
            rewritten = self._disagreeing(tail_panel)
        suspects = [
            r.ticker
            for p in (full_panel, tail_panel)
            if p is not None
            for r in self._jumps(p, tickers)
            if r.ticker not in rewritten
        ]
        refetch = [*rewritten, *dict.fromkeys(suspects)]
        refused: list[Refusal] = []
        if refetch:
            log.info(
                "adjusted history changed or jumped for %s; fetching again in full",
                ", ".join(refetch),
            )
            step(f"re-fetching {len(refetch)} ticker(s) whose history changed")
            full_rewrite = self._drop_bad_dates(
                self.inner.fetch(refetch, self.history_start, end), dropped
            )
            refused = self._jumps(full_rewrite, tickers)
        step("writing to cache")
        out = {r.ticker for r in refused}
        again = [t for t in refetch if t not in out]
        keep = [t for t in old if t not in refetch]
        writes = [
            (
                _select(full_panel, [t for t in new if t not in refetch]),
                [t for t in new if t not in refetch],
            ),
            (_select(tail_panel, keep), []),
            (_select(full_rewrite, again), again),
        ]
        rows, now = 0, self.clock()
        with transaction(self.cache.conn):
            for panel, replace in writes:
                if panel is not None:
                    rows += self.cache.write(panel, replace, self.inner.name, now)
        for r in refused:
            log.warning("%s; set aside, the cache keeps its older bars", r.line())
        for day in sorted({r.day for r in dropped}):
            names = ", ".join(r.ticker for r in dropped if r.day == day)
            why = next(r.reason for r in dropped if r.day == day)
            log.warning("%s: the bar of %s set aside", why, names)
        return RefreshReport(
            tuple(new), tuple(old), tuple(again), rows, tuple(refused), tuple(dropped)
        )

    def _drop_bad_dates(self, panel: PricePanel, dropped: list[Refusal]) -> PricePanel:
        """Return the panel without bars dated on no session or after today (noted), and
        without the bar of a session still trading."""
        panel = self._closed_only(panel)
        cut = bad_dates(np.asarray(panel.dates.values), self.rules)
        if not cut.any():
            return panel
        for day in panel.dates[cut]:
            known = panel.adj_close.loc[day]
            why = why_bad(day.date(), self.rules)
            names = [t for t, v in known.items() if np.isfinite(v)]
            dropped += [Refusal(str(t), day.date(), why) for t in names]
        return PricePanel(*(panel.field(f)[~cut] for f in FIELDS))

    def _closed_only(self, panel: PricePanel) -> PricePanel:
        """Drop the bar of a session that has not closed at the clock: Yahoo serves today's
        bar while the session trades, and a check during the session fetches prices then. A
        cached moving bar would be read by the close run as the close if its own fetch failed."""
        if not self.rules.calendar or panel.adj_close.empty:
            return panel
        from bot.data.age import PUBLISH_DELAY
        from bot.data.calendar import last_closed_session

        # Closed and settled: Yahoo's bar of the day is final some minutes after the bell.
        closed = last_closed_session(self.rules.calendar, self.clock(), PUBLISH_DELAY)
        last = pd.Timestamp(closed)
        keep = np.asarray(panel.dates <= last)
        if keep.all():
            return panel
        log.info("the bar of %s is not cached: the session has not closed", panel.dates[-1].date())
        return PricePanel(*(panel.field(f)[keep] for f in FIELDS))

    def _jumps(self, panel: PricePanel, tickers: Sequence[str]) -> list[Refusal]:
        """Lone jumps of the panel's tickers, judged against the cached others as well."""
        if panel.adj_close.empty:
            return []
        others = [t for t in tickers if t not in panel.tickers]
        frame = panel.adj_close
        if others:
            cached = self.cache.read(others, panel.dates[0].date(), panel.dates[-1].date())
            frame = frame.join(cached.adj_close.reindex(frame.index))
        found = jumps(frame, self.rules.max_move)
        return [Refusal(j.ticker, j.day, j.reason()) for j in found if j.ticker in panel.tickers]

    def _disagreeing(self, tail: PricePanel) -> list[str]:
        """Return tickers whose freshly fetched overlap differs from the cached rows."""
        if tail.adj_close.empty:
            return []
        cached = self.cache.read(tail.tickers, tail.dates[0].date(), tail.dates[-1].date())
        out = []
        for t in tail.tickers:
            for f in ("adj_close", "close"):
                a = cached.field(f)[t]
                b = tail.field(f)[t].reindex(a.index)
                both = a.notna() & b.notna()
                if both.any() and not np.allclose(a[both], b[both], rtol=_REL_TOL, atol=0.0):
                    out.append(t)
                    break
        return out


def _select(panel: PricePanel | None, tickers: Sequence[str]) -> PricePanel | None:
    if panel is None or not tickers:
        return None
    return PricePanel(*(panel.field(f)[list(tickers)] for f in FIELDS))


def _marks(items: Sequence[object]) -> str:
    return ", ".join("?" for _ in items) or "NULL"


def _stepper(progress: Progress | None, total: int) -> Callable[[str], None]:
    done = 0

    def step(label: str) -> None:
        nonlocal done
        if progress is not None:
            progress(done, total, label)
        done += 1

    return step
