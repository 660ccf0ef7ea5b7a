"""Subcommands of the Telegram area (argparse only; the work lives in bot.commands)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def add_commands(sub: argparse._SubParsersAction[Any], command: Callable[[str], Any]) -> None:
    """Register the Telegram area's subcommands on ``sub``; ``command(module)`` makes runners."""
