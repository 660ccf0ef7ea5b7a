"""The channel registry: each entry loads, and the first that can run is picked."""

from __future__ import annotations

from pathlib import Path

from bot.config import Config, StateConfig
from bot.notify.channels import CHANNELS, open_channel

TOKEN = "123456:TEST-token-for-tests-only"


def test_every_registered_channel_loads_with_from_config() -> None:
    for channel in CHANNELS:
        assert callable(channel.load().from_config), channel.name
    assert [c.name for c in CHANNELS][-1] == "console"  # the fallback that always runs


def test_telegram_with_a_token_else_the_console(tmp_path: Path) -> None:
    config = Config(state=StateConfig(path=tmp_path / "rotabot.db"))
    name, notifier = open_channel(config, None)
    assert name == "console" and type(notifier).__name__ == "ConsoleNotifier"
    name, notifier = open_channel(config, TOKEN)
    assert name == "telegram" and type(notifier).__name__ == "TelegramNotifier"
    assert TOKEN not in repr(notifier)
