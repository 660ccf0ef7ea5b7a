"""The alert outbox: one row per (message key, target), the exactly-once half of the state.

``OutboxTable`` holds the outbox's queries; ``bot.store.state.StateStore`` inherits them and
adds the runs, events and memory. The rules are in ``bot.store.state``'s docstring.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

from bot.store.db import StateFileError, transaction

TELEGRAM = "telegram"


@dataclass(frozen=True, slots=True, order=True)
class Target:
    """Where one outbox row goes: a Telegram chat, or a named channel (``chat_id`` 0)."""

    channel: str
    chat_id: int = 0

    def __str__(self) -> str:
        return f"chat {self.chat_id}" if self.channel == TELEGRAM else f"channel {self.channel}"


def as_target(target: int | Target) -> Target:
    """A bare chat id is a Telegram chat."""
    return target if isinstance(target, Target) else Target(TELEGRAM, target)


def legacy_key(key: str) -> str | None:
    """The key the one-pair version gave the same message (no pair after the date), or None.

    A state file written by that version keys "2025-01-27 shock chips->platforms"; this one
    "2025-01-27 chips/platforms shock chips->platforms". A message already queued under the old
    key is the same message, so it is not queued again after an upgrade.
    """
    day, _, rest = key.partition(" ")
    pair, _, tail = rest.partition(" ")
    return f"{day} {tail}" if "/" in pair and tail else None


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True, slots=True)
class TargetState:
    """Where one target stands: its last success and the rows still owed or in doubt."""

    target: Target
    last_success: str | None  # UTC ISO time of the last row fully confirmed
    pending: int  # waiting (or cut short mid-send, settled on the next start)
    unconfirmed: int
    failed: int


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
    channel: str = TELEGRAM

    @property
    def target(self) -> Target:
        return Target(self.channel, self.chat_id)


_OUTBOX_COLUMNS = (
    "id, key, session, chat_id, kind, parts, status, next_part, attempts, message_ids, "
    "sent_at, error, channel"
)
Targets = Sequence[int | Target]
Queued = tuple[str, str, list[dict[str, str]]]  # (key, kind, parts)


class OutboxTable:
    """The outbox's queries over one SQLite connection (autocommit; explicit transactions)."""

    conn: sqlite3.Connection

    def enqueue(
        self, key: str, session: date, kind: str, parts: list[dict[str, str]], chats: Targets
    ) -> None:
        """Queue a message outside a run (a failure notice); a key is queued once per chat."""
        with transaction(self.conn):
            self._enqueue(key, session, kind, parts, chats)

    def _enqueue(
        self, key: str, session: date, kind: str, parts: list[dict[str, str]], chats: Targets
    ) -> None:
        legacy = legacy_key(key)
        wanted = [as_target(c) for c in chats]
        targets = [t for t in wanted if legacy is None or not self._queued(legacy, t)]
        # Only the exactly-once key may conflict: "OR IGNORE" would also swallow a NOT NULL or
        # CHECK failure (a file of another schema) and drop the alert without a word.
        self.conn.executemany(
            "INSERT INTO outbox (key, session, channel, chat_id, kind, parts, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key, channel, chat_id) DO NOTHING",
            [
                (
                    key,
                    session.isoformat(),
                    t.channel,
                    t.chat_id,
                    kind,
                    json.dumps(parts),
                    now_text(),
                )
                for t in targets
            ],
        )
        missing = [t for t in targets if not self._queued(key, t)]
        if missing:  # a trigger or a foreign schema dropped it: the caller's transaction rolls back
            raise StateFileError(
                f"the outbox did not take {key!r} for {', '.join(map(str, missing))}"
            )

    def _queued(self, key: str, target: Target) -> bool:
        row = self.conn.execute(
            "SELECT 1 FROM outbox WHERE key = ? AND channel = ? AND chat_id = ?",
            (key, target.channel, target.chat_id),
        ).fetchone()
        return row is not None

    # --- outbox -------------------------------------------------------------------------

    def requeue(
        self, key: str, session: date, kind: str, parts: list[dict[str, str]], chats: Targets
    ) -> None:
        """Queue ``key`` for ``chats`` again, whatever became of it: a resend asked for by hand.

        A row in the middle of a send (another process holds it) is left alone.
        """
        with transaction(self.conn):
            self.conn.executemany(
                "UPDATE outbox SET status = 'pending', parts = ?, kind = ?, next_part = 0, "
                "message_ids = '[]', doubtful = 0, sent_at = NULL, created_at = ?, "
                "error = NULL WHERE key = ? AND channel = ? AND chat_id = ? "
                "AND status != 'sending'",
                [
                    (json.dumps(parts), kind, now_text(), key, t.channel, t.chat_id)
                    for t in map(as_target, chats)
                ],
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
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE key = ? ORDER BY channel, chat_id",
            (key,),
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

    def targets(self) -> list[TargetState]:
        """Return each target's state: Telegram chats first, then the named channels."""
        rows = self.conn.execute(
            "SELECT channel, chat_id, MAX(CASE WHEN status = 'sent' THEN sent_at END), "
            "SUM(status IN ('pending', 'sending')), SUM(status = 'unconfirmed'), "
            "SUM(status = 'failed') FROM outbox GROUP BY channel, chat_id "
            "ORDER BY channel != ?, channel, chat_id",
            (TELEGRAM,),
        ).fetchall()
        return [
            TargetState(Target(str(ch), int(chat)), _opt(ok), int(p), int(u), int(f))
            for ch, chat, ok, p, u, f in rows
        ]

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
        at = now_text()
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


def _outbox(row: tuple[Any, ...]) -> OutboxRow:
    rid, key, session, chat, kind, parts, status, nxt, attempts, ids, sent_at, error, chan = row
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
        str(chan),
    )


def _opt(value: object) -> str | None:
    return None if value is None else str(value)
