"""``rotabot paths``: where each of rotabot's files is, and whether it exists yet."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from bot.config import DEFAULT_FILE, ENV_CONFIG, Config
from bot.config.paths import cache_dir, user_config_file
from bot.notify.console import CHARTS_FOLDER


def file_paths(config: Config) -> dict[str, Path | None]:
    """Return each file rotabot reads or writes under ``config`` (None: no config file)."""
    from bot.data.yahoo import YahooSource

    paths: dict[str, Path | None] = {
        "config file": config.source_file,
        "state file": config.state.path,
        "console charts": config.state.path.parent / CHARTS_FOLDER,
        "yfinance cache": YahooSource(cache_dir()).yfinance_cache,
    }
    if config.data.source == "csv":
        paths["price folder"] = config.data.csv_dir
    return {name: Path(os.path.abspath(p)) if p else None for name, p in paths.items()}


def lookup_order() -> list[str]:
    """The places a config file is looked for, first found wins."""
    return ["--config PATH", f"${ENV_CONFIG}", f"./{DEFAULT_FILE}", str(user_config_file())]


def run_paths(args: argparse.Namespace, config: Config) -> int:
    paths = file_paths(config)
    if args.format == "json":
        entry = {name.replace(" ", "_"): str(p) if p else None for name, p in paths.items()}
        print(json.dumps(entry | {"config_lookup": lookup_order()}, ensure_ascii=False))
        return 0
    width = max(len(name) for name in paths)
    for name, path in paths.items():
        if path is None:
            shown = "none: the built-in defaults apply"
        else:
            absent = "not found" if name == "price folder" else "not created yet"
            shown = str(path) + ("" if path.exists() else f"  ({absent})")
        print(f"{name:<{width}}  {shown}")
    print(f"\nconfig looked up in: {', then '.join(lookup_order())}")
    return 0
