"""Limits that say so: a malformed token refused at start, long arguments quoted short.

The token cases run the real command line; the argument cases run every command of the bot
through the real python-telegram-bot client against the fake Bot API server.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.cli.main import main
from bot.config import Config, load_config
from bot.telegram.app import COMMANDS, build_application, running
from bot.telegram.commands import ECHO, MAX_ARGUMENT
from bot.telegram.service import BotService
from tests.fake_telegram import TOKEN, FakeTelegram, config_text, market_closes, write_market

pytestmark = pytest.mark.integration

CHAT = 111
SHOCK_DAY = market_closes().index[-1].date()
BAD_TOKENS = {
    "newline-inside": TOKEN[:10] + "\n" + TOKEN[10:],
    "space-inside": TOKEN[:10] + " " + TOKEN[10:],
    "no-colon": TOKEN.replace(":", ""),
    "stray-character": TOKEN + "/",
}


@pytest.fixture
def config_file(tmp_path: Path, fake: FakeTelegram) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(config_text(write_market(tmp_path / "prices"), fake.api_base_url, (CHAT,)))
    return path


@pytest.mark.parametrize("token", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
@pytest.mark.parametrize(
    "argv",
    [
        ("daemon",),
        ("serve",),
        ("daemon", "--simulate-from", str(SHOCK_DAY), "--simulate-to", str(SHOCK_DAY)),
    ],
    ids=["daemon", "serve", "rehearsal"],
)
def test_a_malformed_token_is_refused_at_start_and_never_shown(
    config_file: Path,
    fake: FakeTelegram,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    token: str,
    argv: tuple[str, ...],
) -> None:
    monkeypatch.setenv("ROTABOT_TELEGRAM_TOKEN", token)
    code = main(["--config", str(config_file), *argv])
    out, err = capsys.readouterr()
    assert code == 2 and "Traceback" not in err
    *_, last = err.splitlines()  # (serve says what it is about to serve first)
    assert last.startswith("rotabot: error: $ROTABOT_TELEGRAM_TOKEN does not hold a Telegram bot")
    assert err.count("rotabot: error") == 1
    for secret in (token, TOKEN.split(":")[1][:8], TOKEN[:6]):
        assert secret not in out + err
    assert fake.calls == []  # refused before a single request
    assert not (config_file.parent / "state").exists()  # and before any file


# --- arguments quoted short ---------------------------------------------------------------


def replies_to(config: Config, fake: FakeTelegram, lines: list[str]) -> list[list[str]]:
    """Send each line from CHAT on one running bot; return the texts each one got back."""
    answers: list[list[str]] = []

    async def scenario() -> None:
        async with running(build_application(config, TOKEN, BotService(config))):
            for line in lines:
                before = len(fake.messages(CHAT))
                fake.queue_message(CHAT, line)
                await fake.until(lambda: len(fake.messages(CHAT)) > before, timeout=30)  # noqa: B023
                answers.append([m.plain for m in fake.messages(CHAT)[before:]])

    asyncio.run(scenario())
    return answers


@pytest.mark.parametrize("command", COMMANDS, ids=[c.name for c in COMMANDS])
def test_no_reply_quotes_more_than_a_short_prefix_of_an_argument(
    config_file: Path, fake: FakeTelegram, command: object
) -> None:
    name = command.name  # type: ignore[attr-defined]
    words = [
        "Z" * (MAX_ARGUMENT - 10),  # long, but short enough for the command to read it
        "Z" * 4000,  # pasted text: refused before any command reads it
        "Zz/" + "Z" * 150,  # a "pair"
        "k=" + "Z" * 150,  # a backtest parameter
        "rs_trend window=" + "Z" * 150,
        " ".join(["Z"] * 25),  # more words than any command takes
    ]
    lines = [f"/{name} {w}" for w in words]
    answers = replies_to(load_config(config_file), fake, lines)
    for line, texts in zip(lines, answers, strict=True):
        assert texts, line
        for text in texts:
            assert "Z" * (ECHO + 1) not in text, (line[:60], text[:200])
            assert len(text) < 1500, (line[:60], text[:200])
    assert all(c.status == 200 for c in fake.calls)
