"""The state file checked at the door: a newer schema, a damaged page, a full disk, a lock.

Each case runs the real command line on the synthetic market and asserts the exit status,
the one line it prints (naming the file and the cause) and that the file is unchanged, or
complete: whatever a failed command wrote, it is whole transactions, and running again after
the fault is gone finishes the job with every alert sent exactly once.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from datetime import date
from pathlib import Path

import pytest

from bot.cli.daemon import replayed_prices
from bot.cli.main import main
from bot.config import load_config
from bot.daemon.scheduler import Daemon
from bot.data.prices import load_prices
from bot.store import db
from bot.store.db import SCHEMA_VERSION, StateFileError, connect, explain
from bot.store.state import REHEARSAL, StateStore
from tests.fake_telegram import config_text, market_closes, write_market
from tests.fakes import RecordingNotifier

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DAYS = [d.date() for d in market_closes().index[-8:]]  # the last 8 sessions of the market
SHOCK_DAY = DAYS[-1]  # the one rotation, alerted to chats 111 and -222
SHOCK_KEY = f"{SHOCK_DAY} chips/platforms shock chips->platforms"


def setup(tmp_path: Path, state: Path | None = None) -> tuple[Path, Path]:
    """Write the market and a config (state file at ``state``); return (config, state)."""
    prices = write_market(tmp_path / "prices")
    state = state or tmp_path / "state" / "rotabot.db"
    text = config_text(prices, "http://127.0.0.1:9/bot", chat_ids=(111, -222))
    config = tmp_path / "config.toml"
    config.write_text(text.replace('"state/rotabot.db"', f'"{state}"'))
    return config, state


def run(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> tuple[int, str]:
    """Run rotabot (no token: the console notifier); return (exit status, stderr).

    In this process, but the live daemon in a child process: should it not refuse the
    file, it would run until stopped, and the timeout turns that into a failure.
    """
    if argv == ("daemon",):
        env = {k: v for k, v in os.environ.items() if k != "ROTABOT_TELEGRAM_TOKEN"}
        env["PYTHONPATH"] = str(ROOT)
        done = subprocess.run(
            [sys.executable, "-m", "bot", "--config", str(config), "daemon"],
            capture_output=True, text=True, timeout=60, env=env, check=False,
        )  # fmt: skip
        return done.returncode, done.stderr
    capsys.readouterr()
    code = main(["--config", str(config), *argv])
    return code, capsys.readouterr().err


def rehearse(capsys: pytest.CaptureFixture[str], config: Path, start: date, end: date) -> int:
    span = ("--simulate-from", str(start), "--simulate-to", str(end))
    return run(capsys, config, "daemon", *span)[0]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def one_line(err: str) -> str:
    """Return the one error line, the last of stderr (notes such as "no token" may precede)."""
    assert "Traceback" not in err
    errors = [ln for ln in err.splitlines() if ln.startswith(("rotabot: error", "rotabot: failed"))]
    assert len(errors) == 1 and err.splitlines()[-1] == errors[0], err
    return errors[0]


def rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the tables a run writes, read with a plain connection."""
    tables = ("rehearsal_runs", "rehearsal_events", "runs", "events", "outbox", "daemon_meta")
    with closing(sqlite3.connect(path)) as conn:
        return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}


def assert_whole(path: Path) -> None:
    """The file passes SQLite's check, and no session is half-stored: events and queued
    messages exist only for sessions whose run finished."""
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        done = {s for (s,) in conn.execute("SELECT session FROM rehearsal_runs WHERE status "
                                           "IN ('done', 'incomplete')")}  # fmt: skip
        stored = {s for (s,) in conn.execute("SELECT DISTINCT session FROM rehearsal_events")}
        queued = {s for (s,) in conn.execute("SELECT DISTINCT session FROM outbox")}
    assert stored <= done and queued <= done


def assert_alerted_once(path: Path) -> None:
    with closing(connect(path)) as conn:
        got = [(r.chat_id, r.status) for r in StateStore(conn).rows_of(SHOCK_KEY)]
    assert sorted(got) == [(-222, "sent"), (111, "sent")]


# --- a newer schema -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ("status",),
        ("daemon", "--simulate-from", str(DAYS[0]), "--simulate-to", str(SHOCK_DAY)),
        ("daemon",),
        ("signal", "--send"),
    ],
    ids=["status", "rehearsal", "daemon", "signal-send"],
)
def test_a_state_file_from_a_newer_rotabot_is_refused_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    config, state = setup(tmp_path)
    connect(state).close()
    with closing(sqlite3.connect(state)) as raw:
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    before = digest(state)
    code, err = run(capsys, config, *argv)
    assert code == 2
    line = one_line(err)
    assert str(state) in line
    assert f"schema version {SCHEMA_VERSION + 1}" in line and f"up to {SCHEMA_VERSION}" in line
    assert digest(state) == before


# --- the outbox ---------------------------------------------------------------------------


def _rebuild_outbox_with(conn: sqlite3.Connection, extra: str) -> None:
    """Give the outbox one more column, as a later schema might (the version unchanged)."""
    columns = [r[1] for r in conn.execute("PRAGMA table_info(outbox)")]
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'outbox'").fetchone()[0]
    conn.execute("ALTER TABLE outbox RENAME TO old_outbox")
    assert "UNIQUE (" in sql  # the exactly-once key closes the column list
    conn.execute(sql.replace("UNIQUE (", f"{extra},\n    UNIQUE (", 1))
    listed = ", ".join(columns)
    conn.execute(f"INSERT INTO outbox ({listed}) SELECT {listed} FROM old_outbox")
    conn.execute("DROP TABLE old_outbox")


def test_an_outbox_insert_that_fails_is_never_swallowed(tmp_path: Path) -> None:
    day = date(2024, 8, 12)
    message = [(SHOCK_KEY, "alert", [{"type": "text", "text": "alert"}])]
    with closing(connect(tmp_path / "state.db")) as conn:
        store = StateStore(conn)
        _rebuild_outbox_with(conn, "priority INTEGER NOT NULL")
        store.start(day)
        # "INSERT OR IGNORE" dropped such a row without a word, and the session was done.
        with pytest.raises(sqlite3.IntegrityError, match="NOT NULL"):
            store.finish(day, "done", [{"kind": "shock", "severity": "severe"}], message, [111], 1)
        run = store.run(day)
        assert run is not None and run.status == "running"  # tried again on the next tick
        assert store.events_of(day) == [] and store.pending() == []


def test_a_row_the_outbox_drops_silently_is_caught(tmp_path: Path) -> None:
    day = date(2024, 8, 12)
    with closing(connect(tmp_path / "state.db")) as conn:
        store = StateStore(conn)
        conn.execute(
            "CREATE TRIGGER drop_all BEFORE INSERT ON outbox BEGIN SELECT RAISE(IGNORE); END"
        )
        store.start(day)
        with pytest.raises(StateFileError, match="did not take"):
            store.finish(day, "done", [], [("k", "alert", [])], [111], 1)
        assert store.events_of(day) == [] and not store.is_final(day)


def test_the_exactly_once_key_is_still_queued_once(tmp_path: Path) -> None:
    day = date(2024, 8, 12)
    with closing(connect(tmp_path / "state.db")) as conn:
        store = StateStore(conn)
        for _ in range(3):
            store.enqueue("k", day, "notice", [{"type": "text", "text": "x"}], [111, -222])
        assert sorted(r.chat_id for r in store.rows_of("k")) == [-222, 111]


# --- a damaged page -----------------------------------------------------------------------


def _damage(state: Path, table: str) -> None:
    """Overwrite the root page of ``table`` with bytes that are no b-tree page."""
    with closing(sqlite3.connect(state)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # every page in the file itself
        page = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,))
        root, size = page.fetchone()[0], conn.execute("PRAGMA page_size").fetchone()[0]
    with state.open("r+b") as f:
        f.seek((root - 1) * size)
        f.write(bytes([0xA5]) * size)


@pytest.mark.parametrize(
    "argv",
    [("daemon", "--simulate-from", str(DAYS[0]), "--simulate-to", str(SHOCK_DAY)), ("daemon",)],
    ids=["rehearsal", "daemon"],
)
def test_a_damaged_state_file_is_refused_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    config, state = setup(tmp_path)
    assert rehearse(capsys, config, DAYS[0], DAYS[2]) == 0
    _damage(state, "rehearsal_runs")
    before = digest(state)
    code, err = run(capsys, config, *argv)
    assert code == 1
    line = one_line(err)
    assert f"state file {state} is damaged (*** in database main *** Page " in line
    assert "writable folder" not in line
    assert digest(state) == before


def test_status_on_a_damaged_state_file_says_so_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, state = setup(tmp_path)
    assert rehearse(capsys, config, DAYS[0], DAYS[2]) == 0
    _damage(state, "rehearsal_runs")
    code, err = run(capsys, config, "status")
    assert code == 1 and f"state file {state} is damaged" in one_line(err)


# --- a lock held by another program -------------------------------------------------------


def test_a_locked_state_file_is_named_as_locked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config, state = setup(tmp_path)
    assert rehearse(capsys, config, DAYS[0], DAYS[2]) == 0
    before = rows(state)
    # 30 s in use; the test waits a fraction of a second for the lock instead.
    monkeypatch.setattr(db, "BUSY_TIMEOUT", 0.3)
    with closing(sqlite3.connect(state, isolation_level=None)) as holder:
        holder.execute("BEGIN IMMEDIATE")  # an sqlite3 shell left in a write transaction
        code, err = run(capsys, config, "daemon", "--simulate-from", str(DAYS[0]),
                        "--simulate-to", str(SHOCK_DAY))  # fmt: skip
        holder.execute("ROLLBACK")
    assert code == 1
    line = one_line(err)
    assert f"state file {state} is locked by another program" in line
    assert "database is locked" in line and "writable folder" not in line
    assert rows(state) == before
    assert rehearse(capsys, config, DAYS[0], SHOCK_DAY) == 0  # once released, it all runs
    assert_alerted_once(state)


# --- a full disk --------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs: a disk that really fills up. Skipped where mounting is not allowed."""
    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (not root?); test_a_full_disk_in_process covers")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _fill(folder: Path, leave: int) -> Path:
    """Fill the disk holding ``folder``, then free ``leave`` bytes; return the filler."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 65536)
    except OSError:
        pass
    try:
        while True:  # the last, partial blocks
            os.write(fd, b"\0" * 512)
    except OSError:
        pass
    os.ftruncate(fd, max(os.fstat(fd).st_size - leave, 0))
    os.close(fd)
    return filler


@pytest.mark.parametrize("leave", [0, 96 * 1024], ids=["no-room", "room-for-a-little"])
def test_a_full_disk_fails_in_one_line_and_loses_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], small_disk: Path, leave: int
) -> None:
    config, state = setup(tmp_path, state=small_disk / "rotabot.db")
    assert rehearse(capsys, config, DAYS[0], DAYS[2]) == 0
    before = rows(state)
    filler = _fill(small_disk, leave)
    code, err = run(
        capsys, config, "daemon", "--simulate-from", str(DAYS[0]), "--simulate-to", str(SHOCK_DAY)
    )
    filler.unlink()
    assert code == 1
    line = one_line(err)
    assert f"state file {state}: the disk is full" in line and "cannot rollback" not in line
    assert_whole(state)
    after = rows(state)
    # Unchanged, or some sessions more, each stored whole (the ones before are as they were).
    assert {s for s, *_ in before["rehearsal_runs"]} <= {s for s, *_ in after["rehearsal_runs"]}
    assert rehearse(capsys, config, DAYS[0], SHOCK_DAY) == 0  # space again: it completes
    assert_whole(state)
    assert_alerted_once(state)


def test_a_full_disk_in_process_rolls_back_the_session(tmp_path: Path) -> None:
    """Where no tmpfs can be mounted: SQLite's own size cap makes the disk "full"."""
    config_path, state = setup(tmp_path)
    config = load_config(config_path)
    connect(state).close()
    with closing(sqlite3.connect(state)) as raw:
        pages = raw.execute("PRAGMA page_count").fetchone()[0]

    def full() -> sqlite3.Connection:
        conn = connect(state)
        conn.execute(f"PRAGMA max_page_count = {pages}")  # the file may not grow at all
        return conn

    prices = replayed_prices(load_prices(config))
    notifier = RecordingNotifier()
    daemon = Daemon(config, full, prices, lambda conn: notifier, marks=REHEARSAL)
    with pytest.raises(sqlite3.OperationalError) as failure:
        asyncio.run(daemon.rehearse(DAYS[0], SHOCK_DAY))
    message = str(explain(state, failure.value))
    assert message.startswith(f"state file {state}: the disk is full (database or disk is full)")
    assert_whole(state)
    with closing(connect(state)) as conn:
        assert not StateStore(conn, REHEARSAL).is_final(SHOCK_DAY)  # the alert's session
    again = Daemon(config, lambda: connect(state), prices, lambda conn: notifier, marks=REHEARSAL)
    asyncio.run(again.rehearse(DAYS[0], SHOCK_DAY))
    assert_whole(state)
    shock = sorted(c for c, key, _, _ in notifier.sent if key == SHOCK_KEY)
    assert shock[:1] == [-222] and shock.count(111) == shock.count(-222) >= 1
    assert_alerted_once(state)
