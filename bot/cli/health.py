"""``rotabot status --check`` and ``--format json``: the status model judged and serialised.

Healthy means: a daemon holds the state file (its pid, written in ``<state>.lock``, is
alive), its last live run succeeded, and no session's run is overdue (past its deadline, plus
a grace period, with no run recorded). A daemon that has not run yet is healthy while it is
up: its first run is scheduled. Pure but for the pid probe.
"""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import date, datetime, timedelta
from pathlib import Path

from bot.config import Config
from bot.data.runtimes import Runtimes
from bot.notify.status import Status

OK = ("done", "skipped")
"""Run outcomes that count as success (``incomplete``: the data never came in time)."""

GRACE = timedelta(hours=1)
"""How long after a session's deadline its run may still be missing before it is overdue."""


@dataclasses.dataclass(frozen=True, slots=True)
class Health:
    healthy: bool
    reason: str  # one line, for people


def daemon_pid(state_path: Path) -> int | None:
    """Return the pid of the daemon holding ``state_path``, None when none is alive.

    Reads the pid the lock holder wrote; it never takes the lock itself, so a check cannot
    stop a daemon from starting.
    """
    try:
        text = Path(f"{state_path}.lock").read_text(encoding="ascii", errors="replace").strip()
        pid = int(text)
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, under another user
        return pid
    return pid


def check(status: Status, config: Config, now: datetime, pid: int | None) -> Health:
    """Judge ``status`` at ``now``: the first problem found, or what makes it healthy."""
    if pid is None:
        return Health(False, f"no daemon is running on {config.state.path}")
    nxt = _next(status)
    run = status.last_run
    if run is None:
        return Health(True, f"daemon pid {pid} up, no run yet; next run {nxt}")
    if run.status not in OK and run.finished_at is not None:
        why = f": {run.error}" if run.error else ""
        return Health(False, f"last run (session {run.session}) {run.status}{why}")
    runtimes = Runtimes(config.schedule)
    overdue = [
        s
        for s in runtimes.due(now, run.session)
        if s > run.session and runtimes.deadline(s) + GRACE < now
    ]
    if overdue:
        return Health(
            False,
            f"session {overdue[-1]} is overdue (last run: session {run.session} {run.status}): "
            "the daemon is up but not running its job",
        )
    if status.next_run is None:
        return Health(False, "no run is scheduled in the next two weeks (exchange calendar?)")
    return Health(True, f"last run session {run.session} {run.status}; next run {nxt}")


def _next(status: Status) -> str:
    if status.next_run is None:
        return "not scheduled"
    session, at = status.next_run
    return f"session {session} at {at:%Y-%m-%d %H:%M} UTC"


def status_json(status: Status, health: Health) -> str:
    """The status model as one JSON object (dates ISO, times ISO with offset) plus the
    health check's verdict under ``check``."""
    payload = dataclasses.asdict(status)
    if status.next_run is not None:
        session, at = status.next_run
        payload["next_run"] = {"session": session, "at": at}
    payload["pending"] = status.pending
    payload["unconfirmed"] = status.unconfirmed
    payload["check"] = dataclasses.asdict(health)
    return json.dumps(payload, default=_plain, ensure_ascii=False)


def _plain(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")
