"""Where messages go: the registry of notification channels.

Each channel is a notifier class with a ``from_config(config, token)`` class method, named here
by its import path so a command that never sends never imports its client (python-telegram-bot
is slow to import). ``open_channel`` returns the first channel that can run: Telegram when its
token is set, else the console, which prints what a chat would receive.

Named channels (``[[channels]]`` in the config: Discord, Slack, e-mail, ntfy, webhooks) are
``named=True`` entries: each configured channel whose URL variable is set gets its own
notifier (``from_channel``), and ``open_targets`` bundles them with the main one in a
``Fanout``, which the outbox uses to reach every target.

Adding a channel is one module in ``bot/notify/`` holding its notifier, and one line in
``CHANNELS``. Every channel is fed by the same outbox (``bot.notify.outbox``), so it gets the
same exactly-once rules.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self

from bot.config import Config
from bot.config.model import ChannelConfig
from bot.notify.notifiers import Notifier, Part, Sent


class ChannelClass(Protocol):
    @classmethod
    def from_config(cls, config: Config, token: str | None) -> Notifier: ...


class NamedChannelClass(Protocol):
    @classmethod
    def from_channel(
        cls, channel: ChannelConfig, environ: Mapping[str, str]
    ) -> Notifier | None: ...


@dataclass(frozen=True, slots=True)
class Channel:
    name: str
    path: str  # "module:Class" of the notifier
    needs_token: bool  # runs only when the Telegram token (or the channel's secret) is set
    named: bool = False  # serves the [[channels]] tables rather than the Telegram chats

    def load(self) -> ChannelClass:
        module, _, attr = self.path.partition(":")
        found: ChannelClass = getattr(importlib.import_module(module), attr)
        return found

    def load_named(self) -> NamedChannelClass:
        module, _, attr = self.path.partition(":")
        found: NamedChannelClass = getattr(importlib.import_module(module), attr)
        return found


CHANNELS: tuple[Channel, ...] = (
    Channel("telegram", "bot.notify.telegram:TelegramNotifier", needs_token=True),
    Channel("console", "bot.notify.console:ConsoleNotifier", needs_token=False),
    Channel("apprise", "bot.notify.apprise_channel:AppriseNotifier", False, named=True),
)
TELEGRAM = "telegram"  # the outbox's channel name for Telegram chats (bot.store.state)


class Fanout:
    """The notifier of every target: ``main`` for Telegram chats (Telegram or the console),
    ``named`` for each ``[[channels]]`` entry that can run. As a plain ``Notifier`` it is the
    main one; the outbox asks ``for_channel`` to reach the others."""

    def __init__(self, main: Notifier, named: Mapping[str, Notifier] | None = None) -> None:
        self.main = main
        self.named = dict(named or {})

    def for_channel(self, channel: str) -> Notifier | None:
        return self.main if channel == TELEGRAM else self.named.get(channel)

    async def __aenter__(self) -> Self:
        await self.main.__aenter__()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.main.__aexit__(kind, exc, tb)

    async def send(self, chat_id: int, part: Part, key: str, kind: str) -> Sent:
        return await self.main.send(chat_id, part, key, kind)


def open_channel(config: Config, token: str | None) -> tuple[str, Notifier]:
    """Return the name of the first channel that can run with ``token`` and a ``Fanout`` of
    it and every named channel whose URL is set (``open_targets``)."""
    name, main = _main_channel(config, token)
    return name, Fanout(main, named_notifiers(config, os.environ))


def _main_channel(config: Config, token: str | None) -> tuple[str, Notifier]:
    for channel in CHANNELS:
        if not channel.named and (token is not None or not channel.needs_token):
            return channel.name, channel.load().from_config(config, token)
    raise LookupError("no notification channel can run")  # the console always can


def named_notifiers(config: Config, environ: Mapping[str, str]) -> dict[str, Notifier]:
    """Return a notifier for each ``[[channels]]`` entry whose URL variable is set."""
    kinds = [c for c in CHANNELS if c.named]
    found: dict[str, Notifier] = {}
    for entry in config.channels:
        for kind in kinds:
            notifier = kind.load_named().from_channel(entry, environ)
            if notifier is not None:
                found[entry.name] = notifier
                break
    return found
