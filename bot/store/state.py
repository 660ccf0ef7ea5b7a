"""Run state in the SQLite file: runs, events and the alert outbox.

Exactly-once rules, all enforced by the database rather than by memory:

* ``runs``: one row per session. A session whose run is ``done`` or ``incomplete`` is never
  evaluated again, whatever triggers it (a rerun, a restart, a second timer).
* ``outbox``: one row per (message key, chat), ``UNIQUE``, written in the same transaction as
  the run's result, so evaluating twice cannot queue twice. ``rotabot signal --send`` queues
  into the same table under the same keys, so the daemon and it never both send a message.
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
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

from bot.store.db import StateFileError, transaction
from bot.store.schema import LIVE, REHEARSAL, Marks

__all__ = ["LIVE", "REHEARSAL", "Marks", "OutboxRow", "Run", "StateStore", "legacy_key"]

FINAL = ("done", "incomplete")


def legacy_key(key: str) -> str | None:
    """The key the one-pair version gave the same message (no pair after the date), or None.

    A state file written by that version keys "2025-01-27 shock chips->platforms"; this one
    "2025-01-27 chips/platforms shock chips->platforms". A message already queued under the old
    key is the same message, so it is not queued again after an upgrade.
    """
    day, _, rest = key.partition(" ")
    pair, _, tail = rest.partition(" ")
    return f"{day} {tail}" if "/" in pair and tail else None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


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


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    key: str
    session: date
    chat_id: int
    kind: str
    parts: list[dict[str, str]]
    status: str
    next_part: int
    attempts: int
    message_ids: list[int]
    sent_at: str | None = None  # UTC ISO time of the last part that went out
    error: str | None = None


_OUTBOX_COLUMNS = (
    "id, key, session, chat_id, kind, parts, status, next_part, attempts, message_ids, "
    "sent_at, error"
)


class StateStore:
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
            (session.isoformat(), now.isoformat(timespec="milliseconds") if now else _now()),
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
            (status, error, _now(), seconds, session.isoformat()),
        )

    def finish(
        self,
        session: date,
        status: str,
        events: Sequence[dict[str, object]],
        messages: Sequence[tuple[str, str, list[dict[str, str]]]],
        chats: Sequence[int],
        seconds: float,
    ) -> None:
        """Store a session's result and queue its messages, all in one transaction.

        ``messages`` are (key, kind, parts) tuples queued for every chat in ``chats``.
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
            self.conn.execute(
                f"UPDATE {self._runs} SET status = ?, events = ?, finished_at = ?, seconds = ?, "
                "error = NULL WHERE session = ?",
                (status, len(events), _now(), seconds, day),
            )

    def enqueue(
        self, key: str, session: date, kind: str, parts: list[dict[str, str]], chats: Sequence[int]
    ) -> None:
        """Queue a message outside a run (a failure notice); a key is queued once per chat."""
        with transaction(self.conn):
            self._enqueue(key, session, kind, parts, chats)

    def _enqueue(
        self, key: str, session: date, kind: str, parts: list[dict[str, str]], chats: Sequence[int]
    ) -> None:
        legacy = legacy_key(key)
        targets = [c for c in chats if legacy is None or not self._queued(legacy, c)]
        # Only the exactly-once key may conflict: "OR IGNORE" would also swallow a NOT NULL or
        # CHECK failure (a file of another schema) and drop the alert without a word.
        self.conn.executemany(
            "INSERT INTO outbox (key, session, chat_id, kind, parts, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key, chat_id) DO NOTHING",
            [(key, session.isoformat(), c, kind, json.dumps(parts), _now()) for c in targets],
        )
        missing = [c for c in targets if not self._queued(key, c)]
        if missing:  # a trigger or a foreign schema dropped it: the caller's transaction rolls back
            raise StateFileError(
                f"the outbox did not take {key!r} for chat(s) {', '.join(map(str, missing))}"
            )

    def _queued(self, key: str, chat: int) -> bool:
        row = self.conn.execute(
            "SELECT 1 FROM outbox WHERE key = ? AND chat_id = ?", (key, chat)
        ).fetchone()
        return row is not None

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

    # --- outbox -------------------------------------------------------------------------

    def requeue(
        self, key: str, session: date, kind: str, parts: list[dict[str, str]], chats: Sequence[int]
    ) -> None:
        """Queue ``key`` for ``chats`` again, whatever became of it: a resend asked for by hand.

        A row in the middle of a send (another process holds it) is left alone.
        """
        with transaction(self.conn):
            self.conn.executemany(
                "UPDATE outbox SET status = 'pending', parts = ?, kind = ?, next_part = 0, "
                "message_ids = '[]', doubtful = 0, sent_at = NULL, created_at = ?, "
                "error = NULL WHERE key = ? AND chat_id = ? AND status != 'sending'",
                [(json.dumps(parts), kind, _now(), key, c) for c in chats],
            )
            self._enqueue(key, session, kind, parts, chats)

    def pending(self, keys: Sequence[str] | None = None) -> list[OutboxRow]:
        """Return the rows waiting to be sent (only those of ``keys`` when given), oldest first."""
        sql = f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE status = 'pending'"
        if keys is not None:
            sql += f" AND key IN ({', '.join('?' for _ in keys) or 'NULL'})"
        rows = self.conn.execute(sql + " ORDER BY id", list(keys or ())).fetchall()
        return [_outbox(r) for r in rows]

    def rows_of(self, key: str) -> list[OutboxRow]:
        """Return every row of ``key``, whatever its status, by chat."""
        rows = self.conn.execute(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE key = ? ORDER BY chat_id", (key,)
        ).fetchall()
        return [_outbox(r) for r in rows]

    def latest_delivered(self, kind: str | None = None) -> OutboxRow | None:
        """Return the row that most recently reached (or may have reached) a chat."""
        sql = f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE status IN ('sent', 'unconfirmed')"
        args: tuple[str, ...] = ()
        if kind is not None:
            sql += " AND kind = ?"
            args = (kind,)
        row = self.conn.execute(sql + " ORDER BY sent_at DESC, id DESC LIMIT 1", args).fetchone()
        return _outbox(row) if row else None

    def counts(self) -> dict[str, int]:
        return dict(
            self.conn.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status").fetchall()
        )

    def sending(self, row_id: int) -> None:
        """Commit that a part is about to go out (so a crash leaves it in doubt, not pending)."""
        self.conn.execute(
            "UPDATE outbox SET status = 'sending', attempts = attempts + 1 WHERE id = ?",
            (row_id,),
        )

    def part_done(
        self, row: OutboxRow, part: int, message_id: int | None, confirmed: bool
    ) -> OutboxRow:
        """Record that part ``part`` of ``row`` went out; return the row as it now stands.

        The last part settles the row: ``sent`` when every part was confirmed, else
        ``unconfirmed`` (an unconfirmed part before it left the row ``doubtful``).
        """
        ids = [*row.message_ids, message_id] if message_id is not None else row.message_ids
        last = part + 1 >= len(row.parts)
        error = None if confirmed else f"part {part} unconfirmed: may not have arrived"
        at = _now()
        self.conn.execute(
            "UPDATE outbox SET doubtful = MAX(doubtful, ?), status = CASE WHEN NOT ? THEN "
            "'pending' WHEN MAX(doubtful, ?) = 0 THEN 'sent' ELSE 'unconfirmed' END, "
            "next_part = ?, message_ids = ?, sent_at = ?, error = COALESCE(?, error) "
            "WHERE id = ?",
            (not confirmed, last, not confirmed, part + 1, json.dumps(ids), at, error, row.id),
        )
        found = self.conn.execute("SELECT status FROM outbox WHERE id = ?", (row.id,)).fetchone()
        status = str(found[0]) if found else row.status
        return replace(
            row,
            status=status,
            next_part=part + 1,
            message_ids=ids,
            sent_at=at,
            error=error or row.error,
        )

    def failed(self, row_id: int, error: str, retry: bool) -> None:
        self.conn.execute(
            "UPDATE outbox SET status = ?, error = ? WHERE id = ?",
            ("pending" if retry else "failed", error, row_id),
        )

    def recover(self) -> int:
        """Mark rows interrupted mid-send as ``unconfirmed``; return how many there were."""
        cur = self.conn.execute(
            "UPDATE outbox SET status = CASE WHEN next_part + 1 >= "
            "json_array_length(parts) THEN 'unconfirmed' ELSE 'pending' END, "
            "next_part = next_part + 1, doubtful = 1, "
            "error = 'interrupted mid-send: may have been delivered, not sent again' "
            "WHERE status = 'sending'"
        )
        return cur.rowcount

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


def _outbox(row: tuple[Any, ...]) -> OutboxRow:
    rid, key, session, chat, kind, parts, status, nxt, attempts, ids, sent_at, error = row
    return OutboxRow(
        int(rid),
        str(key),
        date.fromisoformat(str(session)),
        int(chat),
        str(kind),
        json.loads(str(parts)),
        str(status),
        int(nxt),
        int(attempts),
        json.loads(str(ids)),
        _opt(sent_at),
        _opt(error),
    )
