"""Read-only history of what the bot said: the events of sessions whose alert went out."""

from __future__ import annotations

import json
import sqlite3
from datetime import date

_DELIVERED = (
    "SELECT e.session, e.payload FROM {table} e WHERE e.session BETWEEN ? AND ? "
    "AND EXISTS (SELECT 1 FROM outbox o WHERE o.session = e.session "
    "AND o.kind = 'alert' AND o.status IN ('sent', 'unconfirmed')) "
    "ORDER BY e.session, e.position"
)


def delivered_events(conn: sqlite3.Connection, start: date, end: date) -> list[dict[str, object]]:
    """Return the stored events (their JSON, oldest first) of sessions between ``start`` and
    ``end`` whose alert reached at least one chat (sent, or sent without confirmation).

    Live runs and rehearsals keep their events apart (a rehearsal never settles a live
    session) but share the outbox, so an alert a rehearsal delivered counts too; a session
    with live events takes those.
    """
    span = (start.isoformat(), end.isoformat())
    found: dict[str, list[dict[str, object]]] = {}
    for table in ("events", "rehearsal_events"):  # live first: they win a shared session
        rows = conn.execute(_DELIVERED.format(table=table), span).fetchall()
        mine: dict[str, list[dict[str, object]]] = {}
        for session, payload in rows:
            mine.setdefault(session, []).append(json.loads(payload))
        found = mine | found
    return [e for session in sorted(found) for e in found[session]]
