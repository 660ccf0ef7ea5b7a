"""``rotabot signal --send`` with named channels: the same outbox for every target.

Telegram is the fake Bot API, the channels apprise posting to the fake service. The market is
the synthetic one on XNYS sessions (the CSV reader refuses bars on market holidays).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import exchange_calendars as xcals
import pandas as pd
import pytest

from bot.cli.main import main
from bot.store.db import connect
from tests.fake_service import FakeService
from tests.fake_telegram import TOKEN, FakeTelegram, config_text, market_closes, write_market

pytestmark = pytest.mark.integration

HOOK_PATH = "/hooks/very-secret-hook-token"


def session_market() -> pd.DataFrame:
    closes = market_closes()
    sessions = xcals.get_calendar("XNYS").sessions_in_range("2024-01-02", "2025-12-31")
    closes.index = pd.DatetimeIndex(sessions[: len(closes)], name="date")
    return closes


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


@pytest.fixture
def service() -> Iterator[FakeService]:
    with FakeService() as fake:
        yield fake


def write_config(tmp_path: Path, api: str, channels: str) -> Path:
    prices = write_market(tmp_path / "prices", session_market())
    path = tmp_path / "config.toml"
    path.write_text(config_text(prices, api, chat_ids=(111,)) + channels)
    return path


CHANNELS = """
[[channels]]
name = "hook"
url_env = "ROTABOT_HOOK_URL"
min_severity = "info"

[[channels]]
name = "topic"
url_env = "ROTABOT_NTFY_URL"
"""


def outbox(tmp_path: Path) -> list[tuple[str, int, str]]:
    with closing(connect(tmp_path / "state" / "rotabot.db")) as conn:
        rows = conn.execute("SELECT channel, chat_id, status FROM outbox ORDER BY channel")
        return [(str(a), int(b), str(c)) for a, b, c in rows]


def test_send_serves_every_target_once_and_resend_says_so(
    tmp_path: Path,
    telegram: FakeTelegram,
    service: FakeService,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = write_config(tmp_path, telegram.api_base_url, CHANNELS)
    monkeypatch.setenv("ROTABOT_TELEGRAM_TOKEN", TOKEN)
    monkeypatch.setenv("ROTABOT_HOOK_URL", f"json://{service.host}{HOOK_PATH}")
    monkeypatch.setenv("ROTABOT_NTFY_URL", f"ntfy://{service.host}/rotabot-alerts")
    argv = ["--config", str(config), "signal"]
    assert main([*argv, "--send"]) == 0
    err = capsys.readouterr().err
    assert "sent alert" in err and "channel(s) hook" in err and "channel(s) topic" in err
    assert len(service.to(HOOK_PATH)) == 1 and len(service.to("/")) == 1
    assert len(telegram.messages(111)) == 1
    assert main([*argv, "--send"]) == 0  # twice for one session: nothing twice
    err = capsys.readouterr().err
    assert "already went to chat(s) 111" in err and "already went to channel(s) hook" in err
    assert len(service.to(HOOK_PATH)) == 1 and len(telegram.messages(111)) == 1
    assert main([*argv, "--resend"]) == 0
    assert "resending alert" in capsys.readouterr().err
    assert len(service.to(HOOK_PATH)) == 2 and len(telegram.messages(111)) == 2
    assert {status for _, _, status in outbox(tmp_path)} == {"sent"}


def test_a_failing_channel_exits_1_after_serving_the_others_and_is_named(
    tmp_path: Path,
    telegram: FakeTelegram,
    service: FakeService,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = write_config(tmp_path, telegram.api_base_url, CHANNELS)
    monkeypatch.setenv("ROTABOT_TELEGRAM_TOKEN", TOKEN)
    monkeypatch.setenv("ROTABOT_HOOK_URL", f"json://{service.host}{HOOK_PATH}")
    monkeypatch.setenv("ROTABOT_NTFY_URL", f"ntfy://{service.host}/rotabot-alerts")
    service.fail(HOOK_PATH, 99)
    assert main(["--config", str(config), "signal", "--send"]) == 1
    out, err = capsys.readouterr()
    said = "error: alert 2024-08-20 chips/platforms shock chips->platforms: channel hook: "
    assert said + "the service answered HTTP 500" in err
    assert len(telegram.messages(111)) == 1 and len(service.to("/")) == 1  # others served
    assert "very-secret-hook-token" not in out + err
    assert ("hook", 0, "pending") in outbox(tmp_path)


def test_a_dry_run_says_would_send_and_never_sent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9/bot", "")
    assert main(["--config", str(config), "signal", "--send"]) == 0
    out, err = capsys.readouterr()
    assert "--- alert photo to chat 111 (HTML) ---" in out
    assert "would send alert" in err
    assert "sent" not in err.replace("would send", "")


def test_channel_config_problems_name_the_table_and_never_echo_a_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = '\n[[channels]]\nname = "ops"\nurl_env = "json://user:hunter2-secret@host/x"\n'
    config = write_config(tmp_path, "http://127.0.0.1:9/bot", bad)
    assert main(["--config", str(config), "check-config"]) == 2
    out, err = capsys.readouterr()
    assert "channels[0].url_env: must be the NAME of an environment variable" in err
    assert "hunter2" not in out + err
