"""The one SQLite file rotabot keeps: the price cache, mutes and the daemon's run state.

Schema changes are numbered migrations applied in order and tracked with ``PRAGMA
user_version``, so an old file upgrades in place; a file from a newer rotabot (a version above
``SCHEMA_VERSION``) is refused before anything is written to it. The file and any folder
created for it are readable by the owner only: it may hold chat ids and alert texts.

Failures are reported by cause, in one line naming the file (``explain``): a damaged file, a
full disk or a lock held by another program raise ``StateFileError`` (exit status 1); a path
that cannot hold the file or a newer file raise a ``UserError`` (exit status 2). Every write
is a transaction, so a failure leaves the file as it was before that change.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from bot.errors import BotError, UserError
from bot.store.schema import (
    INTRADAY,
    OUTBOX_ONLY,
    OUTBOX_TARGETS,
    REHEARSAL_MARKS,
    STATE_SCHEMA,
)

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
    # 5: a rehearsal's runs and events apart from the live daemon's (see bot.store.schema).
    REHEARSAL_MARKS,
    # 6: one outbox row per (message, target): Telegram chats and named channels.
    OUTBOX_TARGETS,
    # 7: checks during the session and their provisional warnings (see bot.store.intraday).
    INTRADAY,
]

SCHEMA_VERSION = len(MIGRATIONS)
BUSY_TIMEOUT = 30.0  # seconds a statement waits for another program's write lock
LOW_SPACE = 1 << 20  # bytes: an I/O error with less free than this is a full disk


class StateFileError(BotError):
    """The state file cannot be used as it stands (damaged, disk full, locked): exit status 1.

    The message is one line naming the file, the cause SQLite gave and what to do.
    """


class NewerStateFile(UserError):
    """The state file was written by a newer rotabot (its schema is unknown here)."""


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the state file and bring its schema up to date.

    Raises:
        NewerStateFile: the file's schema is newer than this version knows (nothing written).
        UserError: the path cannot hold the state file (a parent is a file, no permission).
        StateFileError: the file is damaged, the disk is full or another program locks it.
    """
    path = Path(path)
    try:
        return _connect(path)
    except (OSError, sqlite3.Error) as exc:
        raise explain(path, exc) from exc


def _connect(path: Path) -> sqlite3.Connection:
    private_folders(path.parent)
    if not path.exists():
        # Create it 0600 before SQLite opens it: SQLite would create it 0644 (less the umask),
        # and a chmod afterwards leaves a moment in which others could open it for good.
        # SQLite gives its -wal and -shm files the mode of the database file.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        os.chmod(path, 0o600)  # a umask such as 0o277 must not leave it read-only
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
    try:
        # Refuse a newer file before anything is written to it, the journal mode included: a
        # rollback after an upgrade must not write rows the newer schema does not expect.
        found = _version(conn)
        if found > SCHEMA_VERSION:
            raise NewerStateFile(
                f"state file {path} has schema version {found}, but this rotabot knows versions "
                f"up to {SCHEMA_VERSION}: a newer rotabot wrote it; run that version (or point "
                "state.path at another file)"
            )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def _version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


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

    An up-to-date file takes no write lock, so read-only commands (status, /status) still
    open it while another process writes. Otherwise the version is read again inside each
    transaction: two processes (or bot handlers) opening a new file at once must not both
    apply the same migration.
    """
    if _version(conn) >= SCHEMA_VERSION:
        return
    for number, script in enumerate(MIGRATIONS, start=1):
        with transaction(conn):
            if _version(conn) >= number:
                continue
            for statement in script.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")


def verify(conn: sqlite3.Connection, path: Path) -> None:
    """Raise StateFileError when SQLite finds damage in the file (``PRAGMA quick_check``).

    The daemon runs it before its first write, so a damaged file is refused untouched
    instead of failing halfway through a night's work.
    """
    with state_errors(path):
        found = conn.execute("PRAGMA quick_check(1)").fetchone()
    if found is None or found[0] != "ok":
        problem = " ".join(str(found[0] if found else "no answer").split())
        raise StateFileError(f"state file {path} is damaged ({problem}): {_DAMAGED_HINT}")


class transaction:  # noqa: N801 - used like a function: `with transaction(conn):`
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None:
            self._rollback()
            return
        try:
            self.conn.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise

    def _rollback(self) -> None:
        # SQLite rolls a transaction back by itself on some errors (a full disk): a ROLLBACK
        # then fails with "cannot rollback", and raising that would hide the real cause.
        if self.conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")


# --- one line per cause ---------------------------------------------------------------------

_DAMAGED_HINT = (
    "move it aside and restore a backup, or let rotabot start a new one "
    "(it then forgets which alerts went out)"
)
_LOCKED = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
_DAMAGED = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
_NO_ACCESS = (sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM, sqlite3.SQLITE_AUTH)


@contextlib.contextmanager
def state_errors(path: Path) -> Iterator[None]:
    """Turn an SQLite error on the state file at ``path`` into its one-line error."""
    try:
        yield
    except sqlite3.Error as exc:
        raise explain(path, exc) from exc


def explain(path: Path, exc: BaseException) -> BotError:
    """Return the one-line error for ``exc``, met while using the state file at ``path``.

    By cause, not by where it surfaced: a locked file wants a different fix from a full disk
    or an unwritable folder, and each message says which.
    """
    if isinstance(exc, BotError):
        return exc
    where = f"state file {path}"
    cause = " ".join(str(exc).split()) or type(exc).__name__
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF  # the primary code of an extended one
    if _disk_full(path, exc, code):
        return StateFileError(
            f"{where}: the disk is full ({cause}); free some space and run again "
            "(the unfinished change was rolled back)"
        )
    if code in _LOCKED:
        return StateFileError(
            f"{where} is locked by another program ({cause}, after {BUSY_TIMEOUT:g} s): "
            "close whatever holds it open (an sqlite3 shell, a backup tool) and run again"
        )
    if code in _DAMAGED:
        return StateFileError(f"{where} is damaged ({cause}): {_DAMAGED_HINT}")
    if code == sqlite3.SQLITE_READONLY:
        return UserError(
            f"{where} cannot be written ({cause}): give this user write access to it and its "
            "folder, or point state.path elsewhere"
        )
    if code in _NO_ACCESS or isinstance(exc, OSError):
        return UserError(
            f"state.path {path}: cannot open the state file there ({cause}); "
            "point state.path at a writable folder"
        )
    if code == sqlite3.SQLITE_IOERR:
        return StateFileError(f"{where}: the disk failed a read or write ({cause}): check it")
    return StateFileError(f"{where}: {cause}")


def _disk_full(path: Path, exc: BaseException, code: int) -> bool:
    if code == sqlite3.SQLITE_FULL:
        return True
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if code != sqlite3.SQLITE_IOERR:
        return False
    # SQLite reports a full disk met while sizing its shared-memory file as a plain I/O error.
    try:
        return shutil.disk_usage(_existing(path)).free < LOW_SPACE
    except OSError:
        return False


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path
