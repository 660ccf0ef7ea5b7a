"""The one SQLite file rotabot keeps: the price cache, mutes and the daemon's run state.

Schema changes are numbered migrations applied in order and tracked with ``PRAGMA
user_version``, so an old file upgrades in place. The file and any folder created for it are
readable by the owner only: it may hold chat ids and alert texts.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from bot.errors import UserError
from bot.store.schema import OUTBOX_ONLY, STATE_SCHEMA

MIGRATIONS: list[str] = [
    # 1: price cache
    """
    CREATE TABLE prices (
        ticker TEXT NOT NULL,
        date TEXT NOT NULL,
        open REAL, high REAL, low REAL, close REAL, adj_close REAL, volume REAL,
        PRIMARY KEY (ticker, date)
    ) WITHOUT ROWID;
    CREATE TABLE price_meta (
        ticker TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        fetched_at TEXT NOT NULL
    );
    CREATE TABLE price_packs (
        ticker TEXT PRIMARY KEY,
        rows INTEGER NOT NULL,
        data BLOB NOT NULL
    );
    """,
    # 2: Telegram deliveries (one row per part: sent, unconfirmed or failed) and per-chat mutes.
    # No semicolons inside comments: migrate() splits scripts on them.
    """
    CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY,
        chat_id INTEGER NOT NULL,
        message_id INTEGER,
        sent_at TEXT NOT NULL,
        key TEXT NOT NULL,
        kind TEXT NOT NULL,
        part TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('sent', 'unconfirmed', 'failed')),
        error TEXT
    );
    CREATE INDEX deliveries_by_key ON deliveries (key, chat_id);
    CREATE TABLE chat_mutes (
        chat_id INTEGER PRIMARY KEY,
        until TEXT NOT NULL
    );
    """,
    # 3: daemon state: runs, events, the alert outbox (see bot.store.state).
    STATE_SCHEMA,
    # 4: one delivery record, the outbox (see bot.store.schema).
    OUTBOX_ONLY,
]

SCHEMA_VERSION = len(MIGRATIONS)


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the state file and bring its schema up to date.

    Raises:
        UserError: the path cannot hold the state file (a parent is a file, no permission).
    """
    path = Path(path)
    try:
        return _connect(path)
    except (OSError, sqlite3.OperationalError, sqlite3.DatabaseError) as exc:
        raise UserError(
            f"state.path {path}: cannot open the state file there ({exc}); "
            "point state.path at a writable folder"
        ) from exc


def _connect(path: Path) -> sqlite3.Connection:
    private_folders(path.parent)
    if not path.exists():
        # Create it 0600 before SQLite opens it: SQLite would create it 0644 (less the umask),
        # and a chmod afterwards leaves a moment in which others could open it for good.
        # SQLite gives its -wal and -shm files the mode of the database file.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        os.chmod(path, 0o600)  # a umask such as 0o277 must not leave it read-only
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    migrate(conn)
    return conn


def private_folders(folder: Path) -> None:
    """Create ``folder`` and any missing parent owner-only (``mkdir(parents=True, mode=...)``
    applies the mode to the last folder only)."""
    missing: list[Path] = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for created in reversed(missing):
        created.mkdir(mode=0o700, exist_ok=True)


def migrate(conn: sqlite3.Connection) -> None:
    """Apply the migrations the file lacks, each in its own write transaction.

    The version is read inside the transaction: two processes (or bot handlers) opening a new
    file at once must not both apply the same migration.
    """
    for number, script in enumerate(MIGRATIONS, start=1):
        conn.execute("BEGIN IMMEDIATE")
        if int(conn.execute("PRAGMA user_version").fetchone()[0]) >= number:
            conn.execute("COMMIT")
            continue
        try:
            for statement in script.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


class transaction:  # noqa: N801 - used like a function: `with transaction(conn):`
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.conn.execute("COMMIT" if exc_type is None else "ROLLBACK")
