"""A state file of the previous version migrates itself; ``signal --send`` shares the outbox.

``tests/data/state-v3-legacy.db`` was written by the version that kept a ``deliveries`` table
beside the outbox (schema 3): 6 runs 2025-01-22..29, 1 event, 2 outbox rows for
"2025-01-27 shock chips->platforms" to chats 111 and 222 (both sent), 2 deliveries rows (chat
111 sent as message 42, chat 222 unconfirmed) and a mute for chat 222 until 2031.
"""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.cli.main import main
from bot.config import Config, StateConfig, TelegramConfig
from bot.notify.delivery import MuteStore
from bot.notify.status import chat_report, collect_status, render_status
from bot.render import html, replies
from bot.store.db import MIGRATIONS, SCHEMA_VERSION, connect
from bot.store.lock import StateLock
from bot.store.state import REHEARSAL, StateStore, Target
from tests.fake_telegram import config_text, write_market
from tests.integration.test_signal_channels import session_market

LEGACY = Path(__file__).resolve().parents[1] / "data" / "state-v3-legacy.db"
KEY = "2025-01-27 shock chips->platforms"
NOW = datetime(2026, 1, 5, 12, tzinfo=UTC)
NEW_YORK = ZoneInfo("America/New_York")


def tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def legacy_copy(tmp_path: Path) -> Path:
    path = tmp_path / "state" / "rotabot.db"
    path.parent.mkdir()
    shutil.copyfile(LEGACY, path)
    return path


def test_a_legacy_state_file_migrates_and_keeps_its_history(tmp_path: Path) -> None:
    path = legacy_copy(tmp_path)
    with closing(sqlite3.connect(path)) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 3
        assert "deliveries" in tables(raw)
    with closing(connect(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert SCHEMA_VERSION == len(MIGRATIONS) > 3
        assert "deliveries" not in tables(conn)
        store = StateStore(conn)
        runs = sorted(r.session for r in store.recent_runs(100))
        assert runs == [date(2025, 1, d) for d in (22, 23, 24, 27, 28, 29)]
        assert all(r.status == "done" for r in store.recent_runs(100))
        (event,) = store.events_of(date(2025, 1, 27))
        assert event["kind"] == "shock" and store.last_alert() == (date(2025, 1, 27), event)
        # The outbox already had both (key, chat) rows: they are kept as they were.
        rows = store.rows_of(KEY)
        assert [(r.chat_id, r.status, r.message_ids) for r in rows] == [
            (111, "sent", [1]),
            (222, "sent", [2]),
        ]
        assert store.counts() == {"sent": 2} and store.pending() == []
        mutes = MuteStore(conn)
        assert mutes.muted_until(222, NOW) == datetime(2031, 1, 1, tzinfo=UTC)
        assert mutes.muted_until(111, NOW) is None
        config = Config(state=StateConfig(path), telegram=TelegramConfig(chat_ids=(111, 222)))
        status = collect_status(config, conn, NOW)
    assert status.last_run is not None and status.last_run.status == "done"
    assert status.last_alert is not None
    assert (status.last_alert.key, status.last_alert.kind) == (KEY, "alert")
    assert status.last_alert.status == "sent" and status.last_alert.at.tzinfo is not None
    assert (status.pending, status.unconfirmed) == (0, 0)
    text = render_status(status, config)  # rotabot status
    assert f"last alert: {KEY} to chat 222, sent" in text
    assert "outbox: 0 pending, 2 sent, 0 unconfirmed, 0 failed" in text
    shown = replies.render_status(chat_report(status, config, NEW_YORK, None))  # /status
    assert "Last alert    2025-01-27" in shown and "Outbox        0 pending" in shown
    assert f"Last alert: {html.esc(KEY)}, sent 2026-12-01 23:06 EST" in shown
    with closing(connect(path)) as again:  # opening a migrated file changes nothing
        assert StateStore(again).counts() == {"sent": 2}


def _version_3(path: Path) -> sqlite3.Connection:
    """A new file at schema 3, as the previous version created it."""
    conn = sqlite3.connect(path, isolation_level=None)
    for script in MIGRATIONS[:3]:
        for statement in script.split(";"):
            if statement.strip():
                conn.execute(statement)
    conn.execute("PRAGMA user_version = 3")
    return conn


def _delivery(
    chat: int, message: int | None, at: str, key: str, part: str, status: str, error: str = ""
) -> tuple[object, ...]:
    kind = "quiet" if "quiet" in key else "alert"
    return (chat, message, f"2025-{at}+00:00", key, kind, part, status, error or None)


def test_deliveries_become_one_outbox_row_per_key_and_chat(tmp_path: Path) -> None:
    path = tmp_path / "rotabot.db"
    with closing(_version_3(path)) as old:
        shock, quiet, regime = "2025-02-03 shock a->b", "2025-02-04 quiet", "2025-02-06 regime a->b"
        rows = [
            # chat 1 got both parts; chat 2's text failed once, then went out.
            _delivery(1, 10, "02-03T21:31:00", shock, "text", "sent"),
            _delivery(1, 11, "02-03T21:31:01", shock, "photo", "sent"),
            _delivery(2, None, "02-03T21:31:00", shock, "text", "failed", "500"),
            _delivery(2, 12, "02-03T21:40:00", shock, "text", "sent"),
            _delivery(1, 13, "02-04T21:31:00", quiet, "text", "sent"),
            _delivery(1, None, "02-04T21:31:05", quiet, "photo", "unconfirmed", "read timeout"),
            _delivery(2, None, "02-04T21:31:00", quiet, "text", "failed", "Telegram refused"),
            _delivery(1, 14, "02-05T09:00:00", "k", "text", "sent"),  # a key without a date
            _delivery(3, 15, "02-06T21:31:00", regime, "text", "sent"),
        ]
        old.executemany(
            "INSERT INTO deliveries (chat_id, message_id, sent_at, key, kind, part, status, error)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        # The outbox already has (2025-02-06 regime a->b, chat 3): that row wins, untouched.
        old.execute(
            "INSERT INTO outbox (key, session, chat_id, kind, parts, created_at) "
            "VALUES ('2025-02-06 regime a->b', '2025-02-06', 3, 'alert', '[]', 'then')"
        )
    with closing(connect(path)) as conn:
        assert "deliveries" not in tables(conn)
        got = conn.execute(
            "SELECT key, session, chat_id, kind, status, message_ids, parts, error, sent_at "
            "FROM outbox ORDER BY key, chat_id"
        ).fetchall()
        store = StateStore(conn)
        latest = store.latest_delivered()
    assert got == [
        ("2025-02-03 shock a->b", "2025-02-03", 1, "alert", "sent", "[10,11]", "[]", None,
         "2025-02-03T21:31:01+00:00"),
        ("2025-02-03 shock a->b", "2025-02-03", 2, "alert", "sent", "[12]", "[]", "500",
         "2025-02-03T21:40:00+00:00"),
        ("2025-02-04 quiet", "2025-02-04", 1, "quiet", "unconfirmed", "[13]", "[]",
         "read timeout", "2025-02-04T21:31:05+00:00"),
        ("2025-02-04 quiet", "2025-02-04", 2, "quiet", "failed", "[]", "[]", "Telegram refused",
         "2025-02-04T21:31:00+00:00"),
        ("2025-02-06 regime a->b", "2025-02-06", 3, "alert", "pending", "[]", "[]", None, None),
        ("k", "2025-02-05", 1, "alert", "sent", "[14]", "[]", None, "2025-02-05T09:00:00+00:00"),
    ]  # fmt: skip
    assert latest is not None and (latest.key, latest.chat_id) == ("k", 1)


def test_an_unconfirmed_part_leaves_the_whole_row_unconfirmed(tmp_path: Path) -> None:
    with closing(connect(tmp_path / "rotabot.db")) as conn:
        store = StateStore(conn)
        parts = [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]
        store.enqueue("key", date(2025, 2, 3), "alert", parts, [1])
        (row,) = store.pending()
        row = store.part_done(row, 0, None, confirmed=False)
        assert row.status == "pending"  # the next part still goes out
        row = store.part_done(row, 1, 7, confirmed=True)
        assert row.status == "unconfirmed" and row.message_ids == [7]
        assert store.latest_delivered() == row


# --- signal --send through the outbox -------------------------------------------------------


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    # Bars on XNYS sessions only: the CSV reader refuses a bar on a market holiday.
    prices = write_market(tmp_path / "prices", session_market())
    path = tmp_path / "config.toml"
    path.write_text(config_text(prices, "http://127.0.0.1:9/bot", chat_ids=(111,)))
    return path


def _outbox(tmp_path: Path) -> list[tuple[int, str]]:
    with closing(connect(tmp_path / "state" / "rotabot.db")) as conn:
        return [(int(c), str(s)) for c, s in conn.execute("SELECT chat_id, status FROM outbox")]


def test_signal_send_twice_sends_once_and_resend_sends_again(
    config_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--config", str(config_path), "signal"]
    assert main([*argv, "--send"]) == 0
    out, err = capsys.readouterr()
    assert out.count("--- alert photo to chat 111 (HTML) ---") == 1
    assert "would send alert" in err and "sent" not in err.replace("would send", "")
    assert main([*argv, "--send"]) == 0
    out, err = capsys.readouterr()
    assert "--- alert" not in out
    assert "already went to chat(s) 111: not sent again" in err
    assert main([*argv, "--resend"]) == 0
    out, err = capsys.readouterr()
    assert out.count("--- alert photo to chat 111 (HTML) ---") == 1
    assert "resending alert" in err and "as asked" in err
    assert _outbox(tmp_path) == [(111, "sent")]


def test_signal_send_only_queues_while_a_daemon_holds_the_state_file(
    config_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--config", str(config_path), "signal", "--send"]
    with StateLock(tmp_path / "state" / "rotabot.db"):
        assert main(argv) == 0
    out, err = capsys.readouterr()
    assert "--- alert" not in out
    assert "the daemon running on this state file sends it" in err
    assert _outbox(tmp_path) == [(111, "pending")]
    assert main(argv) == 0  # the daemon is gone: this one delivers what is queued
    assert capsys.readouterr().out.count("--- alert photo to chat 111 (HTML) ---") == 1
    assert _outbox(tmp_path) == [(111, "sent")]


def test_an_alert_sent_under_the_legacy_key_is_not_queued_again(tmp_path: Path) -> None:
    """The one-pair version keyed "DATE kind a->b"; this one puts the pair after the date."""
    with closing(connect(legacy_copy(tmp_path))) as conn:
        store = StateStore(conn)
        before = conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        parts = [{"type": "text", "text": "again", "label": "text"}]
        new_key = "2025-01-27 chips/platforms shock chips->platforms"
        store.enqueue(new_key, date(2025, 1, 27), "alert", parts, [111, 222, 333])
        rows = conn.execute("SELECT key, chat_id FROM outbox ORDER BY id").fetchall()
        # Chats 111 and 222 had it under the old key; only the new chat 333 gets a row.
        assert len(rows) == before + 1 and rows[-1] == (new_key, 333)
        other = "2025-01-27 gpu/software shock gpu->software"
        store.enqueue(other, date(2025, 1, 27), "alert", parts, [111])
        assert (
            conn.execute("SELECT COUNT(*) FROM outbox WHERE key = ?", (other,)).fetchone()[0] == 1
        )


def test_runs_a_rehearsal_wrote_past_today_move_to_the_rehearsal_tables(tmp_path: Path) -> None:
    """A rehearsal past the data (refused now) once marked future sessions as settled in the
    live runs; migration 5 hands those to the rehearsal, and the live schedule is back."""
    path = legacy_copy(tmp_path)
    with closing(sqlite3.connect(path)) as raw:
        for day in ("2099-01-02", "2099-01-05"):
            raw.execute(
                "INSERT INTO runs (session, status, attempts) VALUES (?, 'incomplete', 1)", (day,)
            )
        raw.execute(
            "INSERT INTO events (session, position, kind, severity, payload) "
            "VALUES ('2099-01-05', 0, 'shock', 'info', '{}')"
        )
        raw.commit()
    with closing(connect(path)) as conn:
        live, rehearsal = StateStore(conn), StateStore(conn, REHEARSAL)
        assert live.last_final() == date(2025, 1, 29)  # the live daemon's own last session
        assert rehearsal.last_final() == date(2099, 1, 5)
        assert live.events_of(date(2099, 1, 5)) == []
        assert rehearsal.events_of(date(2099, 1, 5)) == [{}]
        assert len(live.recent_runs(100)) == 6


def test_rehearsal_marks_are_kept_apart_from_the_live_ones(tmp_path: Path) -> None:
    day = date(2025, 1, 27)
    with closing(connect(tmp_path / "state.db")) as conn:
        live, rehearsal = StateStore(conn), StateStore(conn, REHEARSAL)
        rehearsal.start(day)
        rehearsal.finish(day, "done", [{"kind": "shock", "severity": "severe"}], [], [111], 1.0)
        rehearsal.put("first_start", "2025-01-01T00:00:00+00:00")
        assert rehearsal.is_final(day) and not live.is_final(day)
        assert live.run(day) is None and live.events_of(day) == []
        assert live.get("first_start") is None


def test_an_up_to_date_file_opens_while_another_program_writes(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    connect(path).close()
    with closing(sqlite3.connect(path, isolation_level=None)) as writer:
        writer.execute("BEGIN IMMEDIATE")  # no write lock is needed to open and read it
        with closing(connect(path)) as conn:
            assert StateStore(conn).recent_runs() == []
        writer.execute("ROLLBACK")


def test_a_schema_5_outbox_gains_targets_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "v5.db"
    with closing(sqlite3.connect(path, isolation_level=None)) as raw:
        for number, script in enumerate(MIGRATIONS[:5], start=1):
            for statement in script.split(";"):
                if statement.strip():
                    raw.execute(statement)
            raw.execute(f"PRAGMA user_version = {number}")
        raw.execute(
            "INSERT INTO outbox (key, session, chat_id, kind, parts, status, created_at, sent_at) "
            "VALUES (?, '2026-07-01', 111, 'alert', '[]', 'sent', 'x', ?)",
            (KEY, "2026-07-01T22:00:00+00:00"),
        )
        raw.execute(
            "INSERT INTO outbox (key, session, chat_id, kind, parts, created_at) "
            "VALUES ('2026-07-02 quiet', '2026-07-02', 222, 'quiet', '[]', 'x')"
        )
    with closing(connect(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        store = StateStore(conn)
        (row,) = store.rows_of(KEY)
        assert (row.channel, row.chat_id, row.status) == ("telegram", 111, "sent")
        assert [r.target for r in store.pending()] == [Target("telegram", 222)]
        # The same message for a named channel is a row of its own; for the chat, no new row.
        store.enqueue(KEY, date(2026, 7, 1), "alert", [], [111, Target("ops")])
        assert [(r.target, r.status) for r in store.rows_of(KEY)] == [
            (Target("ops"), "pending"),
            (Target("telegram", 111), "sent"),
        ]
        states = {s.target: s for s in store.targets()}
        assert states[Target("telegram", 111)].last_success == "2026-07-01T22:00:00+00:00"
        assert states[Target("ops")].pending == 1


def test_status_shows_each_target_with_its_last_success_and_owed_rows(tmp_path: Path) -> None:
    config = Config(
        state=StateConfig(tmp_path / "state.db"), telegram=TelegramConfig(chat_ids=(111,))
    )
    with closing(connect(config.state.path)) as conn:
        store = StateStore(conn)
        store.enqueue(KEY, date(2026, 7, 1), "alert", [{"type": "text", "text": "x"}], [111])
        store.enqueue(
            KEY, date(2026, 7, 1), "alert", [{"type": "text", "text": "x"}], [Target("ops")]
        )
        (chat_row, _) = sorted(store.pending(), key=lambda r: r.channel != "telegram")
        store.part_done(chat_row, 0, 7, confirmed=True)
        status = collect_status(config, conn, NOW)
    text = render_status(status, config)
    assert "  chat 111: last success 20" in text
    assert "  channel ops: last success never, 1 pending" in text
    report = chat_report(status, config, NEW_YORK, None)
    shown = replies.render_status(report)
    assert "Targets" in shown and "channel ops: last success never, 1 pending" in shown
