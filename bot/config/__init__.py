"""Typed, frozen configuration read from TOML (``load_config``); see ``config.example.toml``.

Layout: ``model`` holds the values, ``load`` finds and validates a file, ``baskets`` reads the
baskets and pairs, ``reader`` collects every problem with its dotted path, ``view`` applies the
global CLI options and shows the configuration with the token redacted.
"""

from bot.config.load import DEFAULT_FILE, ENV_CONFIG, load_config, parse_config, resolve_path
from bot.config.model import (
    DEFAULT_BASKETS,
    Config,
    DataConfig,
    ScheduleConfig,
    StateConfig,
    TelegramConfig,
    WatchConfig,
)
from bot.config.view import redacted_view, with_overrides
from bot.core.params import Basket, Benchmark, DetectorParams, Pair

__all__ = [
    "DEFAULT_BASKETS",
    "DEFAULT_FILE",
    "ENV_CONFIG",
    "Basket",
    "Benchmark",
    "Config",
    "DataConfig",
    "DetectorParams",
    "Pair",
    "ScheduleConfig",
    "StateConfig",
    "TelegramConfig",
    "WatchConfig",
    "load_config",
    "parse_config",
    "redacted_view",
    "resolve_path",
    "with_overrides",
]
