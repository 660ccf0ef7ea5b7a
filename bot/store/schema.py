"""Tables of the daemon's state (runs, events, outbox, intraday checks): migrations 3 to 7.

Migration 4 makes the outbox the one record of deliveries. ``rotabot signal --send`` used to
send directly and log each part in a ``deliveries`` table; it now queues into the outbox like
the daemon. The migration adds ``outbox.doubtful`` (some part of the row may or may not have
arrived: the row ends ``unconfirmed`` rather than ``sent``), copies each (key, chat) of
``deliveries`` that the outbox lacks into one outbox row (per part the best outcome of its
tries, then: every part sent -> ``sent``, any unconfirmed -> ``unconfirmed``, else
``failed``; no parts kept, so such a row is never sent again) and drops ``deliveries``.
Migration 5 gives a rehearsal (``rotabot daemon --simulate-from/--simulate-to``) its own
``rehearsal_runs`` and ``rehearsal_events``, so a rehearsal never settles a live session (the
outbox stays shared: a message reaches a chat once, whoever queued it). Runs and events of
sessions after the day of the migration can only come from a rehearsal past the end of the
data (which this version refuses), so they move to the rehearsal tables: a file hit by that
mistake gets its live schedule back.
No semicolons inside these scripts: ``bot.store.db.migrate`` splits them on semicolons.
"""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Marks:
    """Where a daemon keeps its marks: which tables hold its runs and events, and the prefix
    of its names in ``daemon_meta``. The live daemon and a rehearsal each have their own."""

    runs: str
    events: str
    meta: str
    mode: str  # the ``mode`` column of the intraday tables


LIVE = Marks("runs", "events", "", "live")
REHEARSAL = Marks("rehearsal_runs", "rehearsal_events", "rehearsal:", "rehearsal")

STATE_SCHEMA = """
CREATE TABLE runs (
    session TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    started_at TEXT,
    finished_at TEXT,
    seconds REAL,
    events INTEGER,
    error TEXT,
    late_since TEXT
);
CREATE TABLE events (
    session TEXT NOT NULL,
    position INTEGER NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (session, position)
);
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    session TEXT NOT NULL,
    chat_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    parts TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    next_part INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    sent_at TEXT,
    message_ids TEXT NOT NULL DEFAULT '[]',
    error TEXT,
    UNIQUE (key, chat_id)
);
CREATE TABLE daemon_meta (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
)
"""

OUTBOX_ONLY = """
ALTER TABLE outbox ADD COLUMN doubtful INTEGER NOT NULL DEFAULT 0;
INSERT INTO outbox (
    key, session, chat_id, kind, parts, status, next_part, attempts,
    created_at, sent_at, message_ids, error, doubtful
)
SELECT
    p.key,
    COALESCE(date(substr(p.key, 1, 10)), substr(MIN(p.first_at), 1, 10)),
    p.chat_id,
    MAX(p.kind),
    '[]',
    CASE WHEN MIN(p.best) = 2 THEN 'sent' WHEN MAX(p.best = 1) = 1 THEN 'unconfirmed'
        ELSE 'failed' END,
    COUNT(*),
    SUM(p.tries),
    MIN(p.first_at),
    MAX(p.last_at),
    '[' || COALESCE((
        SELECT group_concat(m.message_id, ',') FROM deliveries AS m
        WHERE m.key = p.key AND m.chat_id = p.chat_id AND m.message_id IS NOT NULL
    ), '') || ']',
    (
        SELECT e.error FROM deliveries AS e
        WHERE e.key = p.key AND e.chat_id = p.chat_id AND e.error IS NOT NULL
        ORDER BY e.id DESC LIMIT 1
    ),
    MIN(p.best) < 2 AND MAX(p.best = 1) = 1
FROM (
    SELECT
        key, chat_id, part, MAX(kind) AS kind, COUNT(*) AS tries,
        MAX(CASE status WHEN 'sent' THEN 2 WHEN 'unconfirmed' THEN 1 ELSE 0 END) AS best,
        MIN(sent_at) AS first_at, MAX(sent_at) AS last_at
    FROM deliveries GROUP BY key, chat_id, part
) AS p
WHERE NOT EXISTS (SELECT 1 FROM outbox AS o WHERE o.key = p.key AND o.chat_id = p.chat_id)
GROUP BY p.key, p.chat_id;
DROP TABLE deliveries
"""

REHEARSAL_MARKS = """
CREATE TABLE rehearsal_runs (
    session TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    started_at TEXT,
    finished_at TEXT,
    seconds REAL,
    events INTEGER,
    error TEXT,
    late_since TEXT
);
CREATE TABLE rehearsal_events (
    session TEXT NOT NULL,
    position INTEGER NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (session, position)
);
INSERT INTO rehearsal_runs (
    session, status, attempts, started_at, finished_at, seconds, events, error, late_since
)
SELECT session, status, attempts, started_at, finished_at, seconds, events, error, late_since
FROM runs WHERE session > date('now');
INSERT INTO rehearsal_events (session, position, kind, severity, payload)
SELECT session, position, kind, severity, payload FROM events WHERE session > date('now');
DELETE FROM events WHERE session > date('now');
DELETE FROM runs WHERE session > date('now')
"""

# One row per (message, target): a target is a Telegram chat (channel 'telegram') or a named
# channel (chat_id 0). SQLite cannot change a UNIQUE constraint in place, so the table is
# rebuilt and every existing row kept as a Telegram row.
OUTBOX_TARGETS = """
CREATE TABLE outbox_targets (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    session TEXT NOT NULL,
    channel TEXT NOT NULL DEFAULT 'telegram',
    chat_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    parts TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    next_part INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    sent_at TEXT,
    message_ids TEXT NOT NULL DEFAULT '[]',
    error TEXT,
    doubtful INTEGER NOT NULL DEFAULT 0,
    UNIQUE (key, channel, chat_id)
);
INSERT INTO outbox_targets (
    id, key, session, channel, chat_id, kind, parts, status, next_part, attempts,
    created_at, sent_at, message_ids, error, doubtful
)
SELECT
    id, key, session, 'telegram', chat_id, kind, parts, status, next_part, attempts,
    created_at, sent_at, message_ids, error, doubtful
FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_targets RENAME TO outbox
"""

# The checks during the session and the provisional warnings they raised (bot.store.intraday).
# ``mode`` keeps a rehearsal's apart from the live daemon's, as the runs tables do. One
# warning per (session, pair, direction): the primary key, not memory, makes it once.
INTRADAY = """
CREATE TABLE intraday_checks (
    mode TEXT NOT NULL,
    session TEXT NOT NULL,
    at TEXT NOT NULL,
    checked_at TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('read', 'skipped', 'missed')),
    reason TEXT,
    readings TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (mode, session, at)
);
CREATE TABLE provisional_warnings (
    mode TEXT NOT NULL,
    session TEXT NOT NULL,
    pair TEXT NOT NULL,
    direction TEXT NOT NULL,
    first_at TEXT NOT NULL,
    score REAL NOT NULL,
    severity TEXT NOT NULL,
    key TEXT NOT NULL,
    payload TEXT NOT NULL,
    outcome TEXT NOT NULL DEFAULT 'open' CHECK (outcome IN ('open', 'confirmed', 'withdrawn')),
    settled_at TEXT,
    PRIMARY KEY (mode, session, pair, direction)
)
"""
