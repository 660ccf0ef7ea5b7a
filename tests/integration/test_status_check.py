"""``rotabot status --check`` (exit 0 or 1, one line) and ``--format json`` on a real state file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli.main import main
from bot.config import load_config
from bot.data.runtimes import Runtimes
from bot.store.db import connect
from bot.store.state import StateStore
from tests.synthetic import write_config

pytestmark = pytest.mark.integration


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path, f'[state]\npath = "{tmp_path / "state.db"}"\n')


def record(config: Path, session: date, status: str, error: str | None = None) -> None:
    conn = connect(load_config(config).state.path)
    try:
        store = StateStore(conn)
        store.start(session)
        store.mark(session, status, error=error)
        conn.commit()
    finally:
        conn.close()


def hold_lock(config: Path, pid: int) -> None:
    Path(f"{load_config(config).state.path}.lock").write_text(str(pid))


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def last_due(config: Path, back: int = 0) -> date:
    runtimes = Runtimes(load_config(config).schedule)
    now = datetime.now(UTC)
    return runtimes.due(now, (now - timedelta(days=30)).date())[-1 - back]


def check(capsys: pytest.CaptureFixture[str], config: Path) -> tuple[int, str]:
    code = main(["--config", str(config), "status", "--check"])
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 1
    return code, out


def test_healthy_when_the_daemon_is_up_and_its_last_run_succeeded(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    record(config, last_due(config), "done")
    hold_lock(config, os.getpid())
    code, out = check(capsys, config)
    assert code == 0 and out.startswith("ok: ") and "next run session" in out


def test_unhealthy_without_a_state_file_a_daemon_or_a_good_last_run(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    code, out = check(capsys, config)
    assert code == 1 and "no state file" in out
    record(config, last_due(config), "done")
    hold_lock(config, dead_pid())
    code, out = check(capsys, config)
    assert code == 1 and "no daemon is running" in out
    hold_lock(config, os.getpid())
    record(config, last_due(config), "failed", error="DataUnavailable: Yahoo down")
    code, out = check(capsys, config)
    assert code == 1 and "failed: DataUnavailable: Yahoo down" in out


def test_an_overdue_session_is_unhealthy(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    record(config, last_due(config, back=3), "done")
    hold_lock(config, os.getpid())
    code, out = check(capsys, config)
    assert code == 1 and "overdue" in out and str(last_due(config)) in out


def test_no_run_yet_is_healthy_while_the_daemon_is_up(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    connect(load_config(config).state.path).close()
    hold_lock(config, os.getpid())
    code, out = check(capsys, config)
    assert code == 0 and "no run yet" in out


def test_status_as_json(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    session = last_due(config)
    record(config, session, "done")
    code = main(["--config", str(config), "status", "--format", "json"])
    payload = json.loads(capsys.readouterr().out)
    assert code == 0
    assert payload["last_run"]["session"] == session.isoformat()
    assert payload["last_run"]["status"] == "done"
    assert date.fromisoformat(payload["next_run"]["session"]) > session
    assert datetime.fromisoformat(payload["next_run"]["at"]).tzinfo is not None
    assert {"outbox", "pending", "data_through", "behind"} <= set(payload)
    assert payload["check"] == {"healthy": False, "reason": payload["check"]["reason"]}
    assert "no daemon" in payload["check"]["reason"]
