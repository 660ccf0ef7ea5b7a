"""Read-only history of what the bot said: the events whose alert went out."""

from __future__ import annotations

import json
import sqlite3
from datetime import date

_EVENTS = (
    "SELECT session, payload FROM {table} WHERE session BETWEEN ? AND ? ORDER BY session, position"
)
_SENT = (
    "SELECT DISTINCT session, key FROM outbox WHERE session BETWEEN ? AND ? "
    "AND kind = 'alert' AND status IN ('sent', 'unconfirmed')"
)


def delivered_events(conn: sqlite3.Connection, start: date, end: date) -> list[dict[str, object]]:
    """Return the stored events (their JSON, oldest first) between ``start`` and ``end`` whose
    pair's alert reached at least one target (sent, or sent without confirmation).

    An alert's key names its pair after the date ("2025-01-27 chips/platforms shock ..."), so
    an event counts only when its own pair's alert went out; a key of the one-pair version
    names none and vouches for every event of its session. Live runs and rehearsals keep their
    events apart but share the outbox; a session with live events takes those.
    """
    span = (start.isoformat(), end.isoformat())
    sent: dict[str, set[str]] = {}
    for session, key in conn.execute(_SENT, span).fetchall():
        sent.setdefault(session, set()).add(_pair_of(key))
    found: dict[str, list[dict[str, object]]] = {}
    for table in ("events", "rehearsal_events"):  # live first: they win a shared session
        mine: dict[str, list[dict[str, object]]] = {}
        for session, payload in conn.execute(_EVENTS.format(table=table), span).fetchall():
            event = json.loads(payload)
            pairs = sent.get(session, set())
            if "" in pairs or str(event.get("pair", "")) in pairs:
                mine.setdefault(session, []).append(event)
        found = mine | found
    return [e for session in sorted(found) for e in found[session]]


def _pair_of(key: str) -> str:
    """The pair an alert key names ("" for a key of the one-pair version, which names none)."""
    words = key.split(" ")
    return words[1] if len(words) > 1 and "/" in words[1] else ""
