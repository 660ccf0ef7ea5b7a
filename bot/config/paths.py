"""Where rotabot keeps its files when nothing says otherwise: the user's XDG folders.

platformdirs gives ``$XDG_STATE_HOME/rotabot`` (else ``~/.local/state/rotabot``), the same for
the cache and config folders on Linux, and each platform's own folders elsewhere. They are read
at each call, not at import, so a changed environment (a test, ``rotabot demo``) is seen.
Nothing here creates a folder: whoever writes the first file does, so a command that fails
before writing leaves nothing behind.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "rotabot"
STATE_FILE = "rotabot.db"
CONFIG_FILE = "config.toml"
STATE_DIR_ENV = "ROTABOT_STATE_DIR"
"""A folder that holds the state file whatever the config says (a container's volume)."""


def state_dir() -> Path:
    """The folder of the state file by default (prices cache, runs, outbox):
    ``$ROTABOT_STATE_DIR`` when set, else the XDG state folder."""
    override = os.environ.get(STATE_DIR_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_state_dir(APP, appauthor=False))


def state_file(configured: Path) -> Path:
    """Where the state file ``configured`` (``state.path``) really goes: into
    ``$ROTABOT_STATE_DIR``, keeping its name, when that is set, so a container's state always
    lives on its volume; else where configured."""
    override = os.environ.get(STATE_DIR_ENV, "").strip()
    return Path(override).expanduser() / configured.name if override else configured


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
