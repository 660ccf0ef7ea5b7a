"""Checks during the session and the provisional warnings they raised.

``intraday_checks`` holds one row per (session, check time): ``read`` (its readings kept as
JSON), ``skipped`` (bars missing, stale or from another session: the reason kept) or
``missed`` (the daemon was not running at that time and a later check read the session).
``provisional_warnings`` holds one row per (session, pair, direction). A warning and its
outbox rows are written in the transaction that records its check, so a warning is queued
once whatever restarts; the close run settles it (``confirmed`` or ``withdrawn``) in the
transaction that stores the session's result (``StateStore.finish``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from bot.store.db import transaction
from bot.store.outbox import OutboxTable, Queued, Targets, now_text
from bot.store.schema import Marks

SKIPPED_RUN = 3  # skipped checks in a row that are reported (once) in the status and the log


@dataclass(frozen=True, slots=True)
class CheckRow:
    session: date
    at: str  # "HH:MM", exchange time
    checked_at: str  # the clock's ISO time
    status: str  # "read", "skipped" or "missed"
    reason: str | None
    readings: list[dict[str, object]]


@dataclass(frozen=True, slots=True)
class WarningRow:
    session: date
    pair: str
    direction: str  # "chips->platforms"
    first_at: str  # "HH:MM", exchange time
    score: float
    severity: str
    key: str  # the outbox key of the warning
    payload: dict[str, object]  # the reading that raised it
    outcome: str  # "open", "confirmed" or "withdrawn"


@dataclass(frozen=True, slots=True)
class NewWarning:
    """A warning to record, with its messages: each (key, kind, parts) with its targets (the
    key is the warning's; parts may differ by target, a chart for some and not others)."""

    row: WarningRow
    deliveries: Sequence[tuple[Queued, Targets]]


@dataclass(frozen=True, slots=True)
class Settlement:
    """How the close settled one warning; ``cancel``: the key whose rows still pending are
    cancelled (None: leave them, another mode's warning owns them)."""

    pair: str
    direction: str
    outcome: str
    cancel: str | None = None


class IntradayTable(OutboxTable):
    """The intraday queries of ``bot.store.state.StateStore`` (warnings queue into the outbox)."""

    conn: sqlite3.Connection
    marks: Marks

    def record_check(
        self,
        session: date,
        at: str,
        now: datetime,
        status: str,
        reason: str | None = None,
        readings: Sequence[dict[str, object]] = (),
        warnings: Sequence[NewWarning] = (),
    ) -> list[WarningRow]:
        """Record one check and the warnings it raised, queueing each new warning's message;
        return the warnings recorded now (one already on record for its session, pair and
        direction is neither recorded nor queued again)."""
        day = session.isoformat()
        mode = self.marks.mode
        added = []
        with transaction(self.conn):
            self.conn.execute(
                "INSERT OR IGNORE INTO intraday_checks "
                "(mode, session, at, checked_at, status, reason, readings) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (mode, day, at, now.isoformat(), status, reason, json.dumps(list(readings))),
            )
            for new in warnings:
                w = new.row
                cursor = self.conn.execute(
                    "INSERT OR IGNORE INTO provisional_warnings "
                    "(mode, session, pair, direction, first_at, score, severity, key, payload) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (mode, day, w.pair, w.direction, w.first_at, w.score, w.severity, w.key,
                     json.dumps(w.payload)),
                )  # fmt: skip
                if cursor.rowcount == 1:
                    for (key, kind, parts), targets in new.deliveries:
                        self._enqueue(key, session, kind, parts, targets)
                    added.append(w)
        return added

    def checks_of(self, session: date) -> list[CheckRow]:
        rows = self.conn.execute(
            "SELECT session, at, checked_at, status, reason, readings FROM intraday_checks "
            "WHERE mode = ? AND session = ? ORDER BY at",
            (self.marks.mode, session.isoformat()),
        ).fetchall()
        return [_check(r) for r in rows]

    def last_check_session(self) -> date | None:
        row = self.conn.execute(
            "SELECT MAX(session) FROM intraday_checks WHERE mode = ?", (self.marks.mode,)
        ).fetchone()
        return date.fromisoformat(row[0]) if row and row[0] else None

    def skipped_in_a_row(self) -> list[CheckRow]:
        """The latest checks that were all skipped, newest first (read ones end the run;
        missed ones are not checks and neither count nor break it)."""
        rows = self.conn.execute(
            "SELECT session, at, checked_at, status, reason, readings FROM intraday_checks "
            "WHERE mode = ? AND status != 'missed' ORDER BY session DESC, at DESC LIMIT 50",
            (self.marks.mode,),
        ).fetchall()
        run = []
        for row in rows:
            if row[3] != "skipped":
                break
            run.append(_check(row))
        return run

    def warnings_of(self, session: date) -> list[WarningRow]:
        rows = self.conn.execute(
            "SELECT session, pair, direction, first_at, score, severity, key, payload, outcome "
            "FROM provisional_warnings WHERE mode = ? AND session = ? ORDER BY first_at, pair",
            (self.marks.mode, session.isoformat()),
        ).fetchall()
        return [_warning(r) for r in rows]

    def raised_elsewhere(self, w: WarningRow) -> bool:
        """Whether a rehearsal's warning was raised by the live daemon too: the live one owns
        the outbox rows and their follow-up (the live daemon always settles its own)."""
        if self.marks.mode == "live":
            return False
        row = self.conn.execute(
            "SELECT 1 FROM provisional_warnings WHERE session = ? AND pair = ? AND direction = ? "
            "AND mode = 'live'",
            (w.session.isoformat(), w.pair, w.direction),
        ).fetchone()
        return row is not None

    def open_warning_sessions(self) -> list[date]:
        """Sessions with warnings still open, oldest first."""
        rows = self.conn.execute(
            "SELECT DISTINCT session FROM provisional_warnings WHERE mode = ? AND outcome = 'open' "
            "ORDER BY session",
            (self.marks.mode,),
        ).fetchall()
        return [date.fromisoformat(r[0]) for r in rows]

    def settle(
        self, session: date, settled: Sequence[Settlement], notes: Sequence[tuple[Queued, Targets]]
    ) -> None:
        """Settle warnings and queue their notes, in one transaction (a session settled
        without a close run: ``StateStore.finish`` does both with the session's result)."""
        with transaction(self.conn):
            for (key, kind, parts), targets in notes:
                self._enqueue(key, session, kind, parts, targets)
            self._settle(session, settled, now_text())

    def _settle(self, session: date, settled: Sequence[Settlement], now: str) -> None:
        """Mark warnings confirmed or withdrawn and cancel their rows still pending (inside
        the caller's transaction)."""
        # A row part-way through its parts (text out, photo not yet) has reached its target.
        self.conn.executemany(
            "DELETE FROM outbox WHERE key = ? AND status = 'pending' AND next_part = 0",
            [(s.cancel,) for s in settled if s.cancel is not None],
        )
        self.conn.executemany(
            "UPDATE provisional_warnings SET outcome = ?, settled_at = ? "
            "WHERE mode = ? AND session = ? AND pair = ? AND direction = ? AND outcome = 'open'",
            [
                (s.outcome, now, self.marks.mode, session.isoformat(), s.pair, s.direction)
                for s in settled
            ],
        )


def _check(row: tuple[object, ...]) -> CheckRow:
    session, at, checked, status, reason, readings = row
    return CheckRow(
        date.fromisoformat(str(session)),
        str(at),
        str(checked),
        str(status),
        None if reason is None else str(reason),
        json.loads(str(readings)),
    )


def _warning(row: tuple[object, ...]) -> WarningRow:
    session, pair, direction, first_at, score, severity, key, payload, outcome = row
    return WarningRow(
        date.fromisoformat(str(session)),
        str(pair),
        str(direction),
        str(first_at),
        float(str(score)),
        str(severity),
        str(key),
        json.loads(str(payload)),
        str(outcome),
    )
