"""Subcommands of the Telegram area (argparse only; the work is in bot.cli.serve)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from bot.cli.helptext import examples


def add_commands(sub: argparse._SubParsersAction[Any], command: Callable[[str], Any]) -> None:
    """Register the Telegram area's subcommands on ``sub``; ``command(module)`` makes runners."""
    p = sub.add_parser(
        "serve",
        help="answer Telegram commands (/status, /signal, /chart, ...) until Ctrl-C or SIGTERM",
        description="Poll Telegram for commands from the chats in telegram.chat_ids. The token "
        "is read from the environment variable named by telegram.token_env.",
        **examples(
            "ROTABOT_TELEGRAM_TOKEN=123456:ABC... rotabot serve",
            "rotabot --config /etc/rotabot/config.toml serve",
        ),
    )
    p.set_defaults(func=command("serve"))
