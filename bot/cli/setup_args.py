"""Subcommands for getting started: ``demo``, ``paths`` and ``completion`` (argparse only).

``demo`` and ``completion`` are ``standalone``: they read no configuration, so a broken
config file cannot keep a newcomer from the demo or a shell from its completion script.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from bot.cli.helptext import examples


def add_commands(sub: argparse._SubParsersAction[Any], command: Callable[[str], Any]) -> None:
    """Register the getting-started subcommands on ``sub``; ``command(module)`` makes runners."""
    p = sub.add_parser(
        "demo",
        help="the main job on the price sample in the package: no network, config or token",
        description="Show the signal of 2025-01-27 (the DeepSeek sell-off), replay 2025, "
        "rehearse the daemon on January 2025 (printing what a Telegram chat would receive) and "
        "run a short backtest, all on the 2023-2025 price sample shipped in the package. "
        "Writes only to a temporary folder, removed at the end, unless --keep DIR.",
        **examples("rotabot demo", "rotabot demo --keep ./rotabot-demo"),
    )
    p.add_argument(
        "--keep",
        metavar="DIR",
        help="keep the demo's configuration, state file and charts in DIR (new or empty)",
    )
    p.set_defaults(func=command("demo"), standalone=True)

    p = sub.add_parser(
        "paths",
        help="where each file is: config, state file, charts, caches",
        description="Print the path of every file rotabot reads or writes with the current "
        "configuration, whether it exists yet, and where the config file is looked for.",
        **examples("rotabot paths", "rotabot --config ~/bot.toml paths --format json"),
    )
    p.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    p.set_defaults(func=command("paths"))

    p = sub.add_parser(
        "completion",
        help="print a shell completion script (bash or zsh)",
        description="Print a completion script for SHELL on stdout; see the README.",
        **examples(
            "rotabot completion bash > ~/.local/share/bash-completion/completions/rotabot",
            'eval "$(rotabot completion zsh)"     # in ~/.zshrc, after compinit',
        ),
    )
    p.add_argument("shell", choices=["bash", "zsh"], help="the shell to complete in")
    p.set_defaults(func=command("completion"), standalone=True)
