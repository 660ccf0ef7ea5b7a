"""Where messages go: the registry of notification channels.

Each channel is a notifier class with a ``from_config(config, token)`` class method, named here
by its import path so a command that never sends never imports its client (python-telegram-bot
is slow to import). ``open_channel`` returns the first channel that can run: Telegram when its
token is set, else the console, which prints what a chat would receive.

Adding a channel is one module in ``bot/notify/`` holding its notifier, and one line in
``CHANNELS``. Every channel is fed by the same outbox (``bot.notify.outbox``), so it gets the
same exactly-once rules.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Protocol

from bot.config import Config
from bot.notify.notifiers import Notifier


class ChannelClass(Protocol):
    @classmethod
    def from_config(cls, config: Config, token: str | None) -> Notifier: ...


@dataclass(frozen=True, slots=True)
class Channel:
    name: str
    path: str  # "module:Class" of the notifier
    needs_token: bool  # runs only when the Telegram token (or the channel's secret) is set

    def load(self) -> ChannelClass:
        module, _, attr = self.path.partition(":")
        found: ChannelClass = getattr(importlib.import_module(module), attr)
        return found


CHANNELS: tuple[Channel, ...] = (
    Channel("telegram", "bot.notify.telegram:TelegramNotifier", needs_token=True),
    Channel("console", "bot.notify.console:ConsoleNotifier", needs_token=False),
)


def open_channel(config: Config, token: str | None) -> tuple[str, Notifier]:
    """Return the name and notifier of the first channel that can run with ``token``."""
    for channel in CHANNELS:
        if token is not None or not channel.needs_token:
            return channel.name, channel.load().from_config(config, token)
    raise LookupError("no notification channel can run")  # the console always can
