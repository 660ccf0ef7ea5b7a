"""The token stays secret and the state stays private, as a user runs rotabot.

Each command runs as a real process, with the token in its environment, DEBUG logs in JSON
(or text) and httpx's request log switched on (it prints every URL, and the Bot API puts the
token in the URL path), against the fake Bot API server. Afterwards the token may be nowhere:
not on stdout or stderr, not in a log line or error, not in any file under the test's folder
(state file, its WAL, lock, charts). Only the fake server sees it, in the request path, which
is where Telegram needs it. The state file is 0600 and the folders rotabot made for it 0700.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from contextlib import closing
from pathlib import Path
from urllib.parse import quote

import pytest

from bot.store.db import MIGRATIONS, connect
from tests.fake_telegram import TOKEN, FakeTelegram, Slow, config_text, market_closes, write_market

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SECRETS = (TOKEN, TOKEN.split(":", 1)[1], quote(TOKEN, safe=""))  # whole, its secret half, URL
ALLOWED, GROUP = 111, -222
SHOCK_DAY = market_closes().index[-1].date()
FIRST = market_closes().index[-3].date()
REJECTED = "Telegram rejected the token in $ROTABOT_TELEGRAM_TOKEN"

# `python -m bot`, under a permissive umask and with httpx's request log on (as a user with a
# logging config might have it): both make a leak or a loose file mode show if there is one.
RUNNER = """
import logging, os, sys
os.umask(0o022)
logging.getLogger("httpx").setLevel(logging.DEBUG)
from bot.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture
def config(tmp_path: Path, fake: FakeTelegram) -> Path:
    prices = write_market(tmp_path / "prices")
    path = tmp_path / "config.toml"
    path.write_text(config_text(prices, fake.api_base_url, chat_ids=(ALLOWED, GROUP)))
    return path


def command(config: Path, *argv: str, log_format: str = "json") -> list[str]:
    return [
        sys.executable, "-c", RUNNER, "--config", str(config),
        "--log-level", "DEBUG", "--log-format", log_format, *argv,
    ]  # fmt: skip


def environment(
    token: str | None = TOKEN, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "ROTABOT_TELEGRAM_TOKEN"}
    env["PYTHONPATH"] = str(ROOT)
    if token is not None:
        env["ROTABOT_TELEGRAM_TOKEN"] = token
    env.update(extra or {})
    return env


def rotabot(
    config: Path, *argv: str, log_format: str = "json", env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(config, *argv, log_format=log_format),
        cwd=config.parent, env=environment(extra=env), capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


class Background:
    """A rotabot process running beside the test; its output goes to files (DEBUG logs would
    fill a pipe nobody reads and stall it)."""

    def __init__(self, argv: Sequence[str], cwd: Path) -> None:
        self.out = tempfile.TemporaryFile("w+")
        self.err = tempfile.TemporaryFile("w+")
        self.process = subprocess.Popen(
            argv, cwd=cwd, env=environment(), text=True, stdout=self.out, stderr=self.err
        )

    def finish(self, timeout: float = 120) -> tuple[int, str, str]:
        """Wait for the exit; return the status, stdout and stderr."""
        code = self.process.wait(timeout)
        self.out.seek(0)
        self.err.seek(0)
        return code, self.out.read(), self.err.read()

    def __enter__(self) -> Background:
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.kill()
        self.process.wait()
        self.out.close()
        self.err.close()


def assert_secret_free(*texts: str, secrets: Sequence[str] = SECRETS) -> None:
    for text in texts:
        for secret in secrets:
            assert secret not in text, f"a secret leaked: ...{_around(text, secret)}..."


def _around(text: str, secret: str) -> str:
    at = text.find(secret)
    return text[max(0, at - 200) : at + len(secret) + 50]


def assert_no_file_holds_the_token(root: Path, secrets: Sequence[str] = SECRETS) -> list[str]:
    """Grep the bytes of every file under ``root``; return the names read (relative)."""
    read = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            for secret in secrets:
                for encoded in (secret.encode("utf-8"), secret.encode("utf-16-le")):
                    assert encoded not in data, f"the token is in {path.relative_to(root)}"
            read.append(path.relative_to(root).as_posix())
    return read


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def assert_state_private(state: Path, created_folders: list[Path]) -> list[str]:
    """The state file and its SQLite side files are 0600, the folders rotabot made 0700."""
    for folder in created_folders:
        assert mode(folder) == 0o700, f"{folder.name} is {oct(mode(folder))}"
    checked = []
    for suffix in ("", "-wal", "-shm", "-journal", ".lock"):
        side = Path(f"{state}{suffix}")
        if side.exists():
            assert mode(side) == 0o600, f"{side.name} is {oct(mode(side))}"
            checked.append(side.name)
    return checked


def token_used_by_telegram(fake: FakeTelegram) -> bool:
    """True when the fake answered calls made with the real token (it refuses any other)."""
    return any(c.status == 200 and c.method != "getUpdates" for c in fake.calls)


# --- the token ----------------------------------------------------------------------------


def test_check_config_shows_the_token_only_as_set(config: Path) -> None:
    done = rotabot(config, "check-config")
    assert done.returncode == 0, done.stderr
    assert "set (redacted)" in done.stdout
    assert_secret_free(done.stdout, done.stderr)


def assert_each_chat_got_it_once(chats: list[int]) -> None:
    """Both chats got the alert, in the same parts (a caption too long for Telegram's 1024
    characters goes as the text, then the chart), the first chat's parts before the second's."""
    half = len(chats) // 2
    assert chats and chats == [ALLOWED] * half + [GROUP] * half


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_signal_send_shows_the_token_to_telegram_only(
    config: Path, fake: FakeTelegram, tmp_path: Path, log_format: str
) -> None:
    done = rotabot(config, "signal", "--send", log_format=log_format)
    assert done.returncode == 0, done.stderr
    assert_each_chat_got_it_once([m.chat_id for m in fake.messages()])
    assert token_used_by_telegram(fake)
    # httpx logged every request URL, with the token scrubbed out of it.
    assert "/bot<redacted>/sendPhoto" in done.stderr
    assert_secret_free(done.stdout, done.stderr)
    assert "state/rotabot.db" in assert_no_file_holds_the_token(tmp_path)


def test_daemon_rehearsal_leaks_the_token_nowhere_and_keeps_its_files_private(
    config: Path, fake: FakeTelegram, tmp_path: Path
) -> None:
    # Telegram takes the alert and answers slowly: the daemon holds its state open meanwhile,
    # with the alert in the outbox and SQLite's -wal and -shm files on disk.
    fake.script("sendPhoto", Slow(2.0))
    argv = command(config, "daemon", "--simulate-from", str(FIRST), "--simulate-to", str(SHOCK_DAY))
    with Background(argv, tmp_path) as daemon:
        fake.wait_for(lambda: len(fake.calls_to("sendPhoto")) == 1, timeout=60)
        state = tmp_path / "state" / "rotabot.db"
        side_files = assert_state_private(state, [state.parent])
        assert {"rotabot.db", "rotabot.db-wal", "rotabot.db-shm", "rotabot.db.lock"} <= set(
            side_files
        )
        during = assert_no_file_holds_the_token(tmp_path)
        assert "state/rotabot.db-wal" in during
        code, out, err = daemon.finish()
    assert code == 0, err
    assert_each_chat_got_it_once([m.chat_id for m in fake.messages() if str(SHOCK_DAY) in m.text])
    assert "/bot<redacted>/sendPhoto" in err
    assert_secret_free(out, err)
    assert_no_file_holds_the_token(tmp_path)
    assert_state_private(state, [state.parent])


def test_serve_leaks_the_token_nowhere(config: Path, fake: FakeTelegram, tmp_path: Path) -> None:
    with Background(command(config, "serve"), tmp_path) as serve:
        fake.wait_for(lambda: bool(fake.calls_to("getUpdates")), timeout=60)
        for count, text in enumerate(("/mute 2", "/status", "/chart 30"), start=1):
            fake.queue_message(ALLOWED, text)
            fake.wait_for(lambda: len(fake.messages(ALLOWED)) == count, timeout=60)  # noqa: B023
        state = tmp_path / "state" / "rotabot.db"
        assert "rotabot.db" in assert_state_private(state, [state.parent])
        assert_no_file_holds_the_token(tmp_path)
        serve.process.send_signal(signal.SIGTERM)
        code, out, err = serve.finish()
    assert code == 0, err
    assert "Alerts muted in this chat" in fake.messages(ALLOWED)[0].plain
    assert "/bot<redacted>/getUpdates" in err
    assert_secret_free(out, err)
    assert_no_file_holds_the_token(tmp_path)


@pytest.mark.parametrize(
    ("argv", "code", "log_format"),
    [
        (("signal", "--send"), 1, "json"),
        (("signal", "--send"), 1, "text"),
        (("daemon", "--simulate-from", str(FIRST), "--simulate-to", str(SHOCK_DAY)), 0, "json"),
        (("serve",), 2, "text"),
        (("daemon",), 2, "text"),
        pytest.param(("serve",), 2, "json"),
        pytest.param(("daemon",), 2, "json"),
    ],
    ids=[
        "signal-json", "signal-text", "rehearsal-json", "serve-text", "daemon-text",
        "serve-json", "daemon-json",
    ],
)  # fmt: skip
def test_a_rejected_token_is_named_by_its_variable_never_shown(
    config: Path, fake: FakeTelegram, tmp_path: Path, argv: tuple[str, ...], code: int,
    log_format: str,
) -> None:  # fmt: skip
    fake.token = "654321:the-token-the-server-wants"  # so it answers ours with 401
    done = rotabot(config, *argv, log_format=log_format)
    assert done.returncode == code, done.stderr
    assert REJECTED in done.stderr
    assert fake.calls and all(c.status == 401 for c in fake.calls)
    assert_secret_free(done.stdout, done.stderr)
    assert_no_file_holds_the_token(tmp_path)


# --- the state file -----------------------------------------------------------------------


def _nested(config: Path) -> Path:
    """Point state.path two new folders deep; return the state file's path."""
    text = config.read_text().replace('"state/rotabot.db"', '"private/state/rotabot.db"')
    config.write_text(text)
    return config.parent / "private" / "state" / "rotabot.db"


def test_signal_send_creates_the_state_file_and_its_folders_owner_only(config: Path) -> None:
    state = _nested(config)
    done = rotabot(config, "signal", "--send")
    assert done.returncode == 0, done.stderr
    assert "rotabot.db" in assert_state_private(state, [state.parent, state.parent.parent])


def test_the_daemon_creates_the_state_folders_owner_only(config: Path) -> None:
    state = _nested(config)
    done = rotabot(config, "daemon", "--simulate-from", str(FIRST), "--simulate-to", str(FIRST))
    assert done.returncode == 0, done.stderr
    assert "rotabot.db" in assert_state_private(state, [state.parent, state.parent.parent])


def test_two_first_opens_of_a_new_state_file_both_succeed(tmp_path: Path) -> None:
    state = tmp_path / "rotabot.db"
    holder = sqlite3.connect(state, isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("BEGIN IMMEDIATE")  # both opens read the version, then wait for the lock
    failures: list[BaseException] = []

    def open_state() -> None:
        try:
            connect(state).close()
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=open_state) for _ in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    holder.execute("COMMIT")
    holder.close()
    for thread in threads:
        thread.join(30)
    if failures:
        raise failures[0]
    with closing(connect(state)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


# --- the channels' URLs -------------------------------------------------------------------

URL_SECRETS = ("hunter2-password", "webhook-token-0123456789", "private-topic-abcdef")
CHANNELS = """
[[channels]]
name = "hook"
url_env = "ROTABOT_HOOK_URL"
min_severity = "info"
charts = true

[[channels]]
name = "broken"
url_env = "ROTABOT_BROKEN_URL"

[[channels]]
name = "topic"
url_env = "ROTABOT_NTFY_URL"
"""


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_channel_urls_leak_nowhere(tmp_path: Path, fake: FakeTelegram, log_format: str) -> None:
    from tests.fake_service import FakeService
    from tests.integration.test_signal_channels import write_config

    with FakeService() as service:
        config = write_config(tmp_path, fake.api_base_url, CHANNELS)
        service.fail("/broken/webhook-token-0123456789", 99)  # fails: its error is reported
        env = {
            "ROTABOT_HOOK_URL": f"json://bot:hunter2-password@{service.host}/webhook-token-0123456789",
            "ROTABOT_BROKEN_URL": f"json://{service.host}/broken/webhook-token-0123456789",
            "ROTABOT_NTFY_URL": f"ntfy://{service.host}/private-topic-abcdef",
        }
        done = rotabot(config, "signal", "--send", log_format=log_format, env=env)
        checked = rotabot(config, "check-config", env=env)
        status = rotabot(config, "status", env=env)
    assert done.returncode == 1, done.stderr  # the broken channel failed, and is named
    assert "channel broken" in done.stderr
    assert len(service.to("/webhook-token-0123456789")) == 1  # the others were served
    everything = (done.stdout, done.stderr, checked.stdout, checked.stderr, status.stdout)
    assert_secret_free(*everything, status.stderr, secrets=URL_SECRETS)
    assert "state/rotabot.db" in assert_no_file_holds_the_token(tmp_path, secrets=URL_SECRETS)
    assert "channel hook: last success" in status.stdout
