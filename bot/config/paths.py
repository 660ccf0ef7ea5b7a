"""Where rotabot keeps its files when nothing says otherwise: the user's XDG folders.

platformdirs gives ``$XDG_STATE_HOME/rotabot`` (else ``~/.local/state/rotabot``), the same for
the cache and config folders on Linux, and each platform's own folders elsewhere. They are read
at each call, not at import, so a changed environment (a test, ``rotabot demo``) is seen.
Nothing here creates a folder: whoever writes the first file does, so a command that fails
before writing leaves nothing behind.
"""

from __future__ import annotations

from pathlib import Path

import platformdirs

APP = "rotabot"
STATE_FILE = "rotabot.db"
CONFIG_FILE = "config.toml"


def state_dir() -> Path:
    """The folder of the state file by default (prices cache, runs, outbox)."""
    return Path(platformdirs.user_state_dir(APP, appauthor=False))


def cache_dir() -> Path:
    """The folder of caches that can be deleted at any time (yfinance's own)."""
    return Path(platformdirs.user_cache_dir(APP, appauthor=False))


def config_dir() -> Path:
    """The folder of the per-user config file, the last place the config is looked for."""
    return Path(platformdirs.user_config_dir(APP, appauthor=False))


def default_state_path() -> Path:
    return state_dir() / STATE_FILE


def user_config_file() -> Path:
    return config_dir() / CONFIG_FILE
