"""The daemon as a real process: SIGKILL mid-send, restart, lock, status, rehearsal via the CLI.

The process talks through the real python-telegram-bot client to the fake Bot API server.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli.daemon import live_prices, make_daemon
from bot.cli.main import main
from bot.config import load_config
from bot.daemon.job import Outcome
from bot.data.runtimes import Runtimes
from tests.fake_telegram import TOKEN, FakeTelegram, Slow, config_text, market_closes, write_market

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SHOCK_DAY = market_closes().index[-1].date()  # the synthetic market's rotation session
FIRST = market_closes().index[-8].date()


@pytest.fixture
def setup(tmp_path: Path, fake: FakeTelegram) -> Path:
    prices = write_market(tmp_path / "prices")
    config = tmp_path / "config.toml"
    config.write_text(
        config_text(
            prices, fake.api_base_url, chat_ids=(111, 222), chips_name="Chips (shovel sellers)"
        )
    )
    return config


def daemon_process(config: Path, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "ROTABOT_TELEGRAM_TOKEN": TOKEN, "PYTHONPATH": str(ROOT)}
    argv = [
        sys.executable,
        "-m",
        "bot",
        "--config",
        str(config),
        "--log-level",
        "INFO",
        "daemon",
        "--simulate-from",
        str(FIRST),
        "--simulate-to",
        str(SHOCK_DAY),
        *extra,
    ]
    return subprocess.Popen(
        argv, env=env, cwd=config.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def live_daemon(config: Path, cwd: Path, token: str | None) -> subprocess.Popen[str]:
    """Start ``rotabot daemon`` (no rehearsal), with or without a Telegram token."""
    env = {k: v for k, v in os.environ.items() if k != "ROTABOT_TELEGRAM_TOKEN"}
    env["PYTHONPATH"] = str(ROOT)
    if token is not None:
        env["ROTABOT_TELEGRAM_TOKEN"] = token
    argv = [sys.executable, "-m", "bot", "--config", str(config), "--log-level", "INFO", "daemon"]
    return subprocess.Popen(
        argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def alerts(fake: FakeTelegram, chat: int) -> list[str]:
    return [d.text for d in fake.messages(chat) if str(SHOCK_DAY) in d.text]


def test_sigkill_between_outbox_and_confirmation_sends_once(
    setup: Path, fake: FakeTelegram, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.script("sendPhoto", Slow(60))  # Telegram takes the alert and is slow to confirm
    first = daemon_process(setup)
    try:
        fake.wait_for(lambda: len(fake.calls_to("sendPhoto")) == 1, timeout=60)
        # While it runs, a second daemon on the same state file is refused.
        code = main(
            [
                "--config",
                str(setup),
                "daemon",
                "--simulate-from",
                str(FIRST),
                "--simulate-to",
                str(SHOCK_DAY),
            ]
        )
        assert code == 2
        assert "another rotabot daemon" in capsys.readouterr().err
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        first.kill()
    assert first.returncode == -signal.SIGKILL
    second = daemon_process(setup)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    assert len(alerts(fake, 111)) == 1  # taken before the kill, not sent again
    assert len(alerts(fake, 222)) == 1  # never attempted before the kill: sent after it
    assert "interrupted mid-send" in err or "marked unconfirmed" in err
    assert TOKEN not in out + err
    # status reads the same state file
    code = main(["--config", str(setup), "--offline", "status"])
    text = capsys.readouterr().out
    assert code == 0
    # A rehearsal's runs are its own: the live daemon has not run yet.
    assert "last run: none yet" in text
    assert f"last rehearsal: session {SHOCK_DAY} done" in text
    assert "1 sent, 1 unconfirmed" in text


def test_rehearsal_twice_sends_nothing_twice(
    setup: Path,
    fake: FakeTelegram,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ROTABOT_TELEGRAM_TOKEN", TOKEN)
    argv = [
        "--config",
        str(setup),
        "daemon",
        "--simulate-from",
        str(FIRST),
        "--simulate-to",
        str(SHOCK_DAY),
    ]
    assert main(argv) == 0
    sent = len(fake.messages())
    assert len(alerts(fake, 111)) == 1 and len(alerts(fake, 222)) == 1
    assert main(argv) == 0
    assert len(fake.messages()) == sent
    err = capsys.readouterr().err
    assert "0 evaluated now" in err
    assert f"rehearsal: 8/8 sessions, through {SHOCK_DAY}" in err  # stderr is no terminal


def test_bad_rehearsal_arguments_exit_2(setup: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--config", str(setup), "daemon", "--simulate-from", "2024-05-01"])
    assert code == 2 and "go together" in capsys.readouterr().err
    code = main(
        [
            "--config",
            str(setup),
            "daemon",
            "--simulate-from",
            "2024-05-02",
            "--simulate-to",
            "2024-05-01",
        ]
    )
    assert code == 2 and "is after" in capsys.readouterr().err


def test_status_without_state_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["status"])
    assert code == 2 and "no state file" in capsys.readouterr().err


def test_console_daemon_stops_cleanly_on_sigterm(setup: Path, tmp_path: Path) -> None:
    proc = live_daemon(setup, tmp_path, token=None)
    deadline = time.monotonic() + 30
    lock = tmp_path / "state" / "rotabot.db.lock"
    while not lock.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "next wake-up at" in err and "stopped" in err


def test_under_systemd_the_daemon_says_ready_pings_the_watchdog_and_says_stopping(
    setup: Path, tmp_path: Path
) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(tmp_path / "notify"))
        sock.settimeout(30)
        env = {k: v for k, v in os.environ.items() if k != "ROTABOT_TELEGRAM_TOKEN"}
        env |= {"PYTHONPATH": str(ROOT), "NOTIFY_SOCKET": str(tmp_path / "notify")}
        env["WATCHDOG_USEC"] = "600000"  # a ping every 0.3 s
        argv = [sys.executable, "-m", "bot", "--config", str(setup), "daemon"]
        proc = subprocess.Popen(argv, env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
        try:
            received = [sock.recv(4096).decode() for _ in range(4)]
        finally:
            proc.send_signal(signal.SIGTERM)
            _out, err = proc.communicate(timeout=30)
        while b"STOPPING=1" not in (last := sock.recv(4096)):
            assert last == b"WATCHDOG=1"
    assert proc.returncode == 0, err
    ready = next(m for m in received if m.startswith("READY=1"))
    assert "STATUS=rotabot daemon: alerts to the console" in ready and "next run" in ready
    assert received.count("WATCHDOG=1") >= 2
    start = [line for line in err.splitlines() if line.startswith("rotabot daemon:")]
    assert len(start) == 1 and "pairs chips/platforms" in start[0]


def test_live_daemon_answers_commands_and_schedules_the_job(
    setup: Path, fake: FakeTelegram, tmp_path: Path
) -> None:
    proc = live_daemon(setup, tmp_path, token=TOKEN)
    try:
        fake.wait_for(lambda: bool(fake.calls_to("getUpdates")), timeout=60)
        fake.queue_message(111, "/status")
        fake.wait_for(lambda: bool(fake.messages(111)), timeout=60)
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    status = fake.messages(111)[0].plain
    assert "rotabot status" in status and "Next run" in status
    assert "next wake-up at" in err  # the JobQueue ran the first tick and scheduled the next
    assert TOKEN not in err


# --- rehearsals that cannot touch the live schedule ---------------------------------------


def rehearsal(config: Path, start: object, end: object) -> list[str]:
    return ["--config", str(config), "daemon", "--simulate-from", str(start), "--simulate-to",
            str(end)]  # fmt: skip


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # A typo year: once, this marked every session up to 2027 as settled.
        ("2024-08-01", "2099-12-31", "--simulate-to 2099-12-31 is after the last closed session"),
        (
            "2024-08-01",
            "2024-12-31",
            f"--simulate-to 2024-12-31 is past the end of the data: the last session with "
            f"prices for every ticker is {SHOCK_DAY}",
        ),
        (
            "2023-06-01",
            "2024-01-31",
            "--simulate-from 2023-06-01 is before the data: the first session with prices for "
            "every ticker is 2024-01-02",
        ),
    ],
    ids=["after-today", "past-the-data", "before-the-data"],
)
def test_a_rehearsal_outside_the_data_exits_2_and_writes_nothing(
    setup: Path, capsys: pytest.CaptureFixture[str], start: str, end: str, expected: str
) -> None:
    code = main(rehearsal(setup, start, end))
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1 and expected in err, err
    assert not (setup.parent / "state").exists()  # no state file, no lock, no folder


def test_after_a_rehearsal_the_live_daemon_still_evaluates_the_real_session(
    setup: Path, fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROTABOT_TELEGRAM_TOKEN", TOKEN)
    assert main(rehearsal(setup, FIRST, SHOCK_DAY)) == 0
    assert len(alerts(fake, 111)) == 1 and len(alerts(fake, 222)) == 1
    # The live daemon starts on the same state file before the last session's run time
    # (16:30 New York); the rehearsal settled that session for itself, not for the daemon.
    config = load_config(setup)
    daemon = make_daemon(config, TOKEN, live_prices(config))
    run_at = Runtimes(config.schedule).run_at(SHOCK_DAY)
    assert run_at == datetime(2024, 8, 12, 20, 30, tzinfo=UTC)
    daemon.start(run_at - timedelta(hours=1))
    asyncio.run(daemon.tick(run_at))
    assert daemon.evaluations == [(SHOCK_DAY, Outcome.DONE)]
    assert daemon.store.is_final(SHOCK_DAY)
    # The outbox is shared: the alert the rehearsal sent is not sent again.
    assert len(alerts(fake, 111)) == 1 and len(alerts(fake, 222)) == 1
    daemon.close()
