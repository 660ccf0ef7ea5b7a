"""``ROTABOT_STATE_DIR`` puts the state file in its folder, whatever the config says."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import load_config
from bot.config.paths import STATE_DIR_ENV, default_state_path
from tests.synthetic import write_config


def test_the_env_folder_overrides_the_configured_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path, '[state]\npath = "/var/lib/elsewhere/mine.db"\n')
    assert load_config(config).state.path == Path("/var/lib/elsewhere/mine.db")
    monkeypatch.setenv(STATE_DIR_ENV, str(tmp_path / "volume"))
    assert load_config(config).state.path == tmp_path / "volume" / "mine.db"


def test_the_env_folder_holds_the_default_state_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(STATE_DIR_ENV, raising=False)
    assert default_state_path() == tmp_path / "xdg" / "rotabot" / "rotabot.db"
    monkeypatch.setenv(STATE_DIR_ENV, "/data")
    assert default_state_path() == Path("/data/rotabot.db")
    monkeypatch.setenv(STATE_DIR_ENV, "  ")  # blank: as if unset
    assert default_state_path() == tmp_path / "xdg" / "rotabot" / "rotabot.db"
