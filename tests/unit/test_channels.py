"""The channel registry: each entry loads, the chats get Telegram or the console, and every
[[channels]] entry whose URL is set joins the fan-out."""

from __future__ import annotations

from pathlib import Path

from bot.config import Config, StateConfig
from bot.notify.channels import CHANNELS, Fanout, open_channel

TOKEN = "123456:TEST-token-for-tests-only"


def test_every_registered_channel_loads_with_its_constructor() -> None:
    for channel in CHANNELS:
        if channel.named:
            assert callable(channel.load_named().from_channel), channel.name
        else:
            assert callable(channel.load().from_config), channel.name
    chats = [c.name for c in CHANNELS if not c.named]
    assert chats[-1] == "console"  # the fallback that always runs


def test_telegram_with_a_token_else_the_console(tmp_path: Path) -> None:
    config = Config(state=StateConfig(path=tmp_path / "rotabot.db"))
    name, fanout = open_channel(config, None)
    assert name == "console" and isinstance(fanout, Fanout)
    assert type(fanout.main).__name__ == "ConsoleNotifier" and fanout.named == {}
    name, fanout = open_channel(config, TOKEN)
    assert isinstance(fanout, Fanout) and type(fanout.main).__name__ == "TelegramNotifier"
    assert name == "telegram" and TOKEN not in repr(fanout.main)
