"""sd_notify over a real unix datagram socket; the daemon's brief log lines and progress."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from bot.cli.daemon import rehearsal_progress
from bot.daemon.scheduler import span
from bot.daemon.systemd import notify, watchdog_interval


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        path = str(tmp_path / "notify")
        sock.bind(path)
        sock.settimeout(5)
        yield sock, path


def test_notify_sends_one_datagram(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    assert notify("READY=1\nSTATUS=serving 2 chats", {"NOTIFY_SOCKET": path})
    assert sock.recv(4096) == b"READY=1\nSTATUS=serving 2 chats"


def test_notify_reaches_an_abstract_socket() -> None:
    name = f"rotabot-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        assert notify("WATCHDOG=1", {"NOTIFY_SOCKET": "@" + name})
        assert sock.recv(64) == b"WATCHDOG=1"


@pytest.mark.parametrize("value", [None, "", "relative/path"])
def test_without_systemd_nothing_is_sent(value: str | None) -> None:
    assert not notify("READY=1", {} if value is None else {"NOTIFY_SOCKET": value})


def test_an_unreachable_socket_is_not_an_error(tmp_path: Path) -> None:
    assert not notify("READY=1", {"NOTIFY_SOCKET": str(tmp_path / "gone")})


def test_watchdog_interval_is_half_the_timeout_for_this_process() -> None:
    assert watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 15.0
    me = str(os.getpid())
    assert watchdog_interval({"WATCHDOG_USEC": "4000000", "WATCHDOG_PID": me}) == 2.0
    assert watchdog_interval({"WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "0"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "soon"}) is None
    assert watchdog_interval({}) is None


def test_many_sessions_are_named_as_a_range() -> None:
    days = [date(2026, 5, 1 + i) for i in range(20)]
    assert span(days) == "2026-05-01 .. 2026-05-20"
    assert span(days[:2]) == "2026-05-01 and 2026-05-02"
    assert span(days[:1]) == "2026-05-01"


def test_a_rehearsal_off_a_terminal_logs_a_line_per_20_sessions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    progress = rehearsal_progress()
    for i in range(1, 46):
        progress(i, 45, date(2025, 1, 1))
    lines = capsys.readouterr().err.splitlines()
    assert [line.split()[1] for line in lines] == ["20/45", "40/45", "45/45"]
