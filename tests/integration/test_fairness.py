"""Fair to every chat: a chat flooding the bot delays only itself.

Through the real python-telegram-bot client against the fake Bot API server: one chat sends
100 /status, or 11 /backtest (real child processes), while another chat's /status must be
answered within 2 seconds; the flooding chat gets "busy" once its 10 commands wait, and every
chat's replies come back in the order it sent its commands.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from bot.config import Config, load_config
from bot.telegram.app import build_application, running
from bot.telegram.queues import CHAT_QUEUE
from bot.telegram.service import BotService
from tests.fake_telegram import TOKEN, FakeTelegram, config_text, write_market

pytestmark = pytest.mark.integration

FLOODER, OTHER = 111, -222
BOUND = 2.0  # seconds another chat's /status may take while one chat floods


@pytest.fixture
def config(tmp_path: Path, fake: FakeTelegram) -> Config:
    path = tmp_path / "config.toml"
    prices = write_market(tmp_path / "prices")
    path.write_text(config_text(prices, fake.api_base_url, (FLOODER, OTHER)))
    return load_config(path)


def texts(fake: FakeTelegram, chat: int) -> list[str]:
    return [m.plain for m in fake.messages(chat)]


def busy(fake: FakeTelegram, chat: int) -> list[str]:
    return [t for t in texts(fake, chat) if t.startswith("Busy:")]


async def status_delay(fake: FakeTelegram) -> float:
    """Ask /status from OTHER; return the seconds until its answer arrived."""
    asked = time.monotonic()
    fake.queue_message(OTHER, "/status")
    await fake.until(lambda: bool(fake.messages(OTHER)), timeout=30)
    return time.monotonic() - asked


def test_100_status_from_one_chat_do_not_hold_up_another(
    config: Config, fake: FakeTelegram
) -> None:
    waited: list[float] = []

    async def scenario() -> None:
        async with running(build_application(config, TOKEN, BotService(config))):
            for _ in range(100):
                fake.queue_message(FLOODER, "/status")
            waited.append(await status_delay(fake))
            await fake.until(lambda: len(fake.messages(FLOODER)) >= CHAT_QUEUE + 1, timeout=60)
            await asyncio.sleep(1.0)  # anything more would have come by now

    asyncio.run(scenario())
    assert waited[0] < BOUND, f"another chat's /status took {waited[0]:.1f} s"
    assert "rotabot status" in texts(fake, OTHER)[0]
    answered = [t for t in texts(fake, FLOODER) if "rotabot status" in t]
    # 10 waited their turn and were answered; the 11th heard "busy"; the rest were dropped
    # (a reply to each would spend the bot's sending rate on the flood).
    assert len(busy(fake, FLOODER)) == 1
    assert CHAT_QUEUE <= len(answered) < 20
    assert "10 commands from this chat are still waiting" in busy(fake, FLOODER)[0]


def test_11_backtests_from_one_chat_do_not_hold_up_another(
    config: Config, fake: FakeTelegram
) -> None:
    waited: list[float] = []

    async def scenario() -> None:
        async with running(build_application(config, TOKEN, BotService(config))):
            for _ in range(CHAT_QUEUE + 1):
                fake.queue_message(FLOODER, "/backtest rs_trend window=20")
            await fake.until(lambda: bool(busy(fake, FLOODER)), timeout=30)
            waited.append(await status_delay(fake))
            await fake.until(lambda: len(fake.messages(FLOODER)) >= 2, timeout=60)
        # Leaving stops the bot: the backtests still waiting are dropped, the running one
        # killed, so the shutdown does not wait for nine more child processes.

    started = time.monotonic()
    asyncio.run(scenario())
    assert waited[0] < BOUND, f"another chat's /status took {waited[0]:.1f} s"
    assert len(busy(fake, FLOODER)) == 1  # the 11th
    results = [t for t in texts(fake, FLOODER) if not t.startswith("Busy:")]
    assert results and "rs_trend" in results[0]
    assert len(results) < CHAT_QUEUE  # the flood was still being worked through
    assert time.monotonic() - started < 60


def test_replies_come_in_the_order_each_chat_sent_its_commands(
    config: Config, fake: FakeTelegram
) -> None:
    sent = ["/signal", "/help", "/mute 2", "/status", "/baskets", "/unmute", "/chart 30"]
    markers = ["shock rotation", "/status", "Muted", "rotabot status", "Pairs watched",
               "resumed", "ratio, last 30 sessions"]  # fmt: skip

    async def scenario() -> None:
        async with running(build_application(config, TOKEN, BotService(config))):
            for text in sent:  # both chats at once, interleaved
                fake.queue_message(FLOODER, text)
                fake.queue_message(OTHER, text)
            await fake.until(
                lambda: all(len(fake.messages(c)) >= len(sent) for c in (FLOODER, OTHER)),
                timeout=60,
            )

    asyncio.run(scenario())
    for chat in (FLOODER, OTHER):
        got = texts(fake, chat)
        assert len(got) == len(sent), got
        for marker, text in zip(markers, got, strict=True):
            assert marker.lower() in text.lower(), (chat, marker, text[:120])
