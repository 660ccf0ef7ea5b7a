"""Tables of the daemon's state (runs, events, outbox); applied as migration 3."""

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
