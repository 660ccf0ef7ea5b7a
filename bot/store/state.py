"""Run state in the SQLite file: runs, events and the alert outbox.

Exactly-once rules, all enforced by the database rather than by memory:

* ``runs``: one row per session. A session whose run is ``done`` or ``incomplete`` is never
  evaluated again, whatever triggers it (a rerun, a restart, a second timer).
* ``outbox``: one row per (message key, target), ``UNIQUE``; a target is a Telegram chat
  (channel ``telegram``) or a named ``[[channels]]`` entry (``Target(name)``, chat 0). Rows are
  written in the same transaction as the run's result, so evaluating twice cannot queue
  twice. ``rotabot signal --send`` queues into the same table under the same keys, so the
  daemon and it never both send a message.
  A row goes ``pending`` -> ``sending`` (committed before each part goes out) -> ``sent``
  when Telegram confirms every part, ``unconfirmed`` when some part may not have arrived
  (``doubtful``), ``failed`` when Telegram refused it for good.
* A row found in ``sending`` on start-up was interrupted mid-request: Telegram may have
  delivered it and offers no way to ask, so it is marked ``unconfirmed`` and not sent again
  (a rare missed part rather than a double alert; see ``bot.notify.notifiers``). A row that failed
  while certainly undelivered goes back to ``pending`` and is retried.
* Only ``requeue`` (``signal --resend``, asked for by a person) sends a row again.
* A rehearsal keeps its runs, events and daemon memory apart (``REHEARSAL``: the tables
  ``rehearsal_runs`` and ``rehearsal_events``, ``rehearsal:`` names in ``daemon_meta``), so it
  never settles a live session; it shares the outbox, so a chat never gets a message twice.
* Queueing ignores exactly one conflict, a (key, chat) already queued; any other failure to
  insert raises, and every chat is checked to have its row before the transaction commits.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bot.store.db import transaction
from bot.store.intraday import IntradayTable, Settlement
from bot.store.outbox import (
    TELEGRAM,
    OutboxRow,
    Queued,
    Target,
    Targets,
    TargetState,
    legacy_key,
    now_text,
)
from bot.store.schema import LIVE, REHEARSAL, Marks

__all__ = [
    "LIVE",
    "REHEARSAL",
    "TELEGRAM",
    "Marks",
    "OutboxRow",
    "Run",
    "StateStore",
    "Target",
    "TargetState",
    "legacy_key",
]

FINAL = ("done", "incomplete")


@dataclass(frozen=True, slots=True)
class Run:
    session: date
    status: str
    attempts: int
    started_at: str | None
    finished_at: str | None
    seconds: float | None
    events: int | None
    error: str | None


class StateStore(IntradayTable):
    """Runs, events and outbox over one SQLite connection (autocommit; explicit transactions).

    ``marks`` picks whose runs, events and memory it reads and writes (the outbox is shared).
    """

    def __init__(self, conn: sqlite3.Connection, marks: Marks = LIVE) -> None:
        self.conn = conn
        self.marks = marks
        self._runs, self._events = marks.runs, marks.events

    # --- runs ---------------------------------------------------------------------------

    def run(self, session: date) -> Run | None:
        row = self.conn.execute(
            "SELECT session, status, attempts, started_at, finished_at, seconds, events, error "
            f"FROM {self._runs} WHERE session = ?",
            (session.isoformat(),),
        ).fetchone()
        return _run(row) if row else None

    def is_final(self, session: date) -> bool:
        run = self.run(session)
        return run is not None and run.status in FINAL

    def last_final(self) -> date | None:
        row = self.conn.execute(
            f"SELECT MAX(session) FROM {self._runs} WHERE status IN ('done', 'incomplete')"
        ).fetchone()
        return date.fromisoformat(row[0]) if row and row[0] else None

    def first_unsettled(self) -> date | None:
        """Return the oldest session tried but not settled (waiting or failed), if any."""
        row = self.conn.execute(
            f"SELECT MIN(session) FROM {self._runs} "
            "WHERE status NOT IN ('done', 'incomplete', 'skipped')"
        ).fetchone()
        return date.fromisoformat(row[0]) if row and row[0] else None

    def recent_runs(self, limit: int = 5) -> list[Run]:
        rows = self.conn.execute(
            "SELECT session, status, attempts, started_at, finished_at, seconds, events, error "
            f"FROM {self._runs} "
            "ORDER BY COALESCE(finished_at, started_at) DESC, session DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [_run(r) for r in rows]

    def start(self, session: date, now: datetime | None = None) -> int:
        """Record an attempt at ``session`` made at ``now`` (the job's clock); return its number."""
        self.conn.execute(
            f"INSERT INTO {self._runs} (session, status, attempts, started_at) "
            "VALUES (?, 'running', 1, ?) "
            "ON CONFLICT (session) DO UPDATE SET status = 'running', "
            "attempts = attempts + 1, started_at = excluded.started_at, error = NULL",
            (session.isoformat(), now.isoformat(timespec="milliseconds") if now else now_text()),
        )
        run = self.run(session)
        return run.attempts if run else 1

    def late_since(self, session: date, now: datetime | None = None) -> datetime | None:
        """Return when ``session`` began its late tries; ``now`` starts them if not yet begun."""
        if now is not None:
            self.conn.execute(
                f"UPDATE {self._runs} SET late_since = COALESCE(late_since, ?) WHERE session = ?",
                (now.isoformat(), session.isoformat()),
            )
        row = self.conn.execute(
            f"SELECT late_since FROM {self._runs} WHERE session = ?", (session.isoformat(),)
        ).fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def mark(
        self, session: date, status: str, error: str | None = None, seconds: float | None = None
    ) -> None:
        self.conn.execute(
            f"UPDATE {self._runs} SET status = ?, error = ?, finished_at = ?, seconds = ? "
            "WHERE session = ?",
            (status, error, now_text(), seconds, session.isoformat()),
        )

    def finish(
        self,
        session: date,
        status: str,
        events: Sequence[dict[str, object]],
        messages: Sequence[Queued],
        chats: Targets,
        seconds: float,
        routed: Sequence[tuple[Queued, Targets]] = (),
        settled: Sequence[Settlement] = (),
    ) -> None:
        """Store a session's result and queue its messages, all in one transaction.

        ``messages`` are (key, kind, parts) tuples queued for every chat in ``chats``;
        ``routed`` pairs each further message with its own targets (channels, digests);
        ``settled`` says how the close settled the session's provisional warnings.
        """
        day = session.isoformat()
        with transaction(self.conn):
            self.conn.execute(f"DELETE FROM {self._events} WHERE session = ?", (day,))
            self.conn.executemany(
                f"INSERT INTO {self._events} (session, position, kind, severity, payload) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    (day, i, str(e["kind"]), str(e["severity"]), json.dumps(e))
                    for i, e in enumerate(events)
                ],
            )
            for key, kind, parts in messages:
                self._enqueue(key, session, kind, parts, chats)
            for (key, kind, parts), targets in routed:
                self._enqueue(key, session, kind, parts, targets)
            self._settle(session, settled, now_text())
            self.conn.execute(
                f"UPDATE {self._runs} SET status = ?, events = ?, finished_at = ?, seconds = ?, "
                "error = NULL WHERE session = ?",
                (status, len(events), now_text(), seconds, day),
            )

    # --- events -------------------------------------------------------------------------

    def events_of(self, session: date) -> list[dict[str, object]]:
        rows = self.conn.execute(
            f"SELECT payload FROM {self._events} WHERE session = ? ORDER BY position",
            (session.isoformat(),),
        ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def last_alert(self) -> tuple[date, dict[str, object]] | None:
        row = self.conn.execute(
            f"SELECT session, payload FROM {self._events} "
            "ORDER BY session DESC, position DESC LIMIT 1"
        ).fetchone()
        return (date.fromisoformat(row[0]), json.loads(row[1])) if row else None

    # --- small key/value memory ---------------------------------------------------------

    def get(self, name: str) -> str | None:
        row = self.conn.execute(
            "SELECT value FROM daemon_meta WHERE name = ?", (self.marks.meta + name,)
        ).fetchone()
        return str(row[0]) if row else None

    def put(self, name: str, value: str) -> None:
        self.conn.execute(
            "INSERT INTO daemon_meta (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (self.marks.meta + name, value),
        )


def _run(row: tuple[Any, ...]) -> Run:
    session, status, attempts, started, finished, seconds, events, error = row
    return Run(
        date.fromisoformat(str(session)),
        str(status),
        int(attempts),
        _opt(started),
        _opt(finished),
        float(seconds) if seconds is not None else None,
        int(events) if events is not None else None,
        _opt(error),
    )


def _opt(value: object) -> str | None:
    return None if value is None else str(value)
