"""A newcomer's first hour: the demo, failing fast without a network, where files go, --help
and shell completion."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli.completion import bash_script
from bot.cli.main import build_parser, iso_date, main
from bot.config import Config
from bot.data.csv_source import CsvSource
from bot.data.prices import update_cache
from bot.data.sample import SAMPLE_DIR
from bot.store.db import connect

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def tree(folder: Path) -> list[str]:
    """Every file and folder under ``folder``, relative (empty when it does not exist)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


@pytest.fixture
def clean_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user with an empty home (XDG folders in it, the defaults) and an empty working folder;
    temporary files go under tmp_path/tmp. Returns the working folder."""
    home, work, temp = tmp_path / "home", tmp_path / "work", tmp_path / "tmp"
    for folder in (home, work, temp):
        folder.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.chdir(work)
    return work


# -- no network ----------------------------------------------------------------------------------


def test_cli_without_network_fails_fast_in_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "YF_"))}
    env.pop("ROTABOT_CONFIG", None)
    # Every connection goes to a closed port on loopback (the real HTTP stack, curl included),
    # as when nothing answers; no name is ever resolved.
    proxy = f"http://127.0.0.1:{closed_port()}"
    env.update({name: proxy for name in PROXY_VARIABLES}, HOME=str(home), PYTHONPATH=str(ROOT))
    env.pop("NO_PROXY", None)
    env.pop("no_proxy", None)
    started = time.monotonic()

    done = subprocess.run(
        [sys.executable, "-m", "bot", "signal"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    elapsed = time.monotonic() - started
    lines = done.stderr.splitlines()
    assert done.returncode == 1, done.stderr
    assert elapsed < 10
    assert 1 <= len(lines) <= 5, done.stderr
    assert lines[-1].startswith("rotabot: failed: cannot reach Yahoo Finance: ")
    assert lines[-1].endswith("check the network, or use --prices-dir DIR or --offline")
    assert "delisted" not in done.stderr and "Traceback" not in done.stderr
    assert tree(work) == [] and tree(home) == []  # no state file, no cache, anywhere


def test_offline_with_nothing_cached_says_what_to_run(
    capsys: pytest.CaptureFixture[str], clean_home: Path
) -> None:
    code, out, err = run(capsys, "--offline", "signal")

    assert code == 2 and out == ""
    assert err.strip() == (
        "rotabot: error: offline, and no prices are cached yet: run `rotabot prices update` "
        "first (or use --prices-dir DIR)"
    )
    assert tree(clean_home.parent / "home") == [] and tree(clean_home) == []


def test_signal_from_a_cache_yahoo_cannot_refresh_says_how_old_it_is(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = Config()
    with connect(config.state.path) as conn:  # the sample, as if fetched long ago
        update_cache(
            config, conn, source=CsvSource(SAMPLE_DIR), now=datetime(2026, 1, 2, tzinfo=UTC)
        )
    for name in PROXY_VARIABLES:
        monkeypatch.setenv(name, f"http://127.0.0.1:{closed_port()}")

    code, out, err = run(capsys, "signal")

    assert code == 0, err
    header, age = out.splitlines()[:2]
    assert header == "Rotation picture at the close of 2025-12-31"
    assert age.startswith("  data through 2025-12-31, ")
    assert age.endswith(" sessions old: Yahoo not reached, showing the cache")
    assert "price refresh failed, using the cache as of 2025-12-31: cannot reach Yahoo" in err
    assert len(err.splitlines()) <= 5

    code, out, _ = run(capsys, "signal", "--format", "json")
    age_json = json.loads(out)["data_age"]
    assert age_json["through"] == "2025-12-31" and age_json["sessions_old"] > 200
    assert age_json["reason"] == "Yahoo not reached, showing the cache"


# -- the demo ------------------------------------------------------------------------------------


def test_demo_runs_in_a_clean_home_and_writes_nothing_outside_its_temporary_folder(
    capsys: pytest.CaptureFixture[str], clean_home: Path
) -> None:
    started = time.monotonic()
    code, out, err = run(capsys, "demo")

    assert code == 0, err
    assert time.monotonic() - started < 20
    assert [line for line in out.splitlines() if line.startswith("$ rotabot")] == [
        "$ rotabot signal --asof 2025-01-27",
        "$ rotabot replay --start 2025-01-01 --end 2025-12-31",
        "$ rotabot daemon --simulate-from 2025-01-02 --simulate-to 2025-01-31",
        "$ rotabot --config session.toml daemon --simulate-from 2025-01-27 "
        "--simulate-to 2025-01-27",
        "$ rotabot backtest --strategy rs_trend --start 2025-01-02 --end 2025-12-31",
    ]
    # The DeepSeek sell-off: in the picture, in the replay, and as the chat received it.
    shock = "2025-01-27  shock  severe chips -> platforms"
    assert out.count(shock) == 2
    assert "--- alert text to console (HTML) ---" in out
    assert "SEVERE · shock rotation · Chips/Platforms · 2025-01-27" in out
    # The session step: the first check warns, the close alert says so.
    assert "IN PROGRESS · Chips/Platforms · 10:30 ET" in out
    assert "First flagged at 10:30 ET by an in-progress warning." in out
    assert (
        "rs_trend (window=200, band=0.02, band_vol=0.75, confirm=3) 2025-01-02 .. 2025-12-31" in out
    )
    assert "event(s) from 2025-01-01 to 2025-12-31" in err
    assert "Traceback" not in err
    for folder in ("home", "work", "tmp"):  # the temporary folder is gone, nothing else made
        assert tree(clean_home.parent / folder) == [], folder


def test_demo_keeps_its_files_only_in_a_new_or_empty_folder(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    used = tmp_path / "used"
    used.mkdir()
    (used / "rotabot.db").write_bytes(b"")

    code, out, err = run(capsys, "demo", "--keep", str(used))

    assert code == 2 and out == ""
    assert "not an empty folder" in err and tree(used) == ["rotabot.db"]


def test_demo_and_completion_read_no_configuration(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "config.toml").write_text("[telegrm]\n")  # broken, and found first
    assert run(capsys, "check-config")[0] == 2
    code, out, _ = run(capsys, "completion", "bash")
    assert code == 0 and "complete -F _rotabot rotabot" in out


# -- where files are -----------------------------------------------------------------------------


def test_paths_names_every_file_and_creates_none(
    capsys: pytest.CaptureFixture[str], clean_home: Path
) -> None:
    home = clean_home.parent / "home"
    code, out, _ = run(capsys, "paths", "--format", "json")

    assert code == 0
    paths = json.loads(out)
    assert paths["config_file"] is None
    assert paths["state_file"] == str(home / ".local/state/rotabot/rotabot.db")
    assert paths["yfinance_cache"] == str(home / ".cache/rotabot/yfinance")
    assert paths["config_lookup"][-1] == str(home / ".config/rotabot/config.toml")

    code, out, _ = run(capsys, "paths")
    assert f"state file      {home}/.local/state/rotabot/rotabot.db  (not created yet)" in out
    assert "config file     none: the built-in defaults apply" in out
    assert tree(home) == [] and tree(clean_home) == []


# -- help and completion -------------------------------------------------------------------------


def _subparsers(
    parser: argparse.ArgumentParser, path: str = "rotabot"
) -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            seen: set[int] = set()
            for name, child in action.choices.items():
                if id(child) not in seen:  # an alias ("run") is the same parser
                    seen.add(id(child))
                    found += _subparsers(child, f"{path} {name}")
    return found


def test_every_command_has_examples_and_every_option_help() -> None:
    for path, parser in _subparsers(build_parser()):
        text = parser.format_help()
        assert "example" in text.lower(), path
        if any(action.type is iso_date for action in parser._actions):
            assert "YYYY-MM-DD" in text, path
        for action in parser._actions:
            if not isinstance(action, argparse._SubParsersAction):
                assert action.help, f"{path}: {action.option_strings or action.dest}"


def test_examples_in_help_keep_their_lines(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["replay", "--help"])
    out = capsys.readouterr().out
    assert "\nexamples:\n  rotabot replay --start 2025-01-01 --end 2025-12-31\n" in out
    assert "Dates are YYYY-MM-DD" in out


BASH_DRIVER = """
source "$1"
complete_words() {
    COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=()
    _rotabot rotabot "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    echo "${COMPREPLY[*]}"
}
complete_words rotabot si
complete_words rotabot --config x.toml prices ""
complete_words rotabot --log-level W
complete_words rotabot signal --format ""
complete_words rotabot run --simulate-
complete_words rotabot completion ""
complete_words rotabot signal --asof ""
"""


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash not installed")
def test_bash_completion_knows_commands_options_and_choices(tmp_path: Path) -> None:
    script = tmp_path / "rotabot.bash"
    script.write_text(bash_script(build_parser()))
    done = subprocess.run(
        ["bash", "-c", BASH_DRIVER, "driver", str(script)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.splitlines() == [
        "signal",
        "-h --help update show",
        "WARNING",
        "text json",
        "--simulate-from --simulate-to",
        "-h --help bash zsh --config --prices-dir --offline --log-format --log-level",
        "",  # a date: nothing to offer
    ]
    assert done.stderr == ""


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh not installed")
def test_zsh_completion_script_loads(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["completion", "zsh"]) == 0
    script = tmp_path / "rotabot.zsh"
    script.write_text(capsys.readouterr().out)
    check = (
        'autoload -U compinit && compinit -u -d "$2"; source "$1"; '
        "words=(rotabot signal --format ''); CURRENT=4; COMP_WORDS=($words); COMP_CWORD=3; "
        "compgen -F _rotabot -- ''"
    )
    done = subprocess.run(
        ["zsh", "-f", "-c", check, "driver", str(script), str(tmp_path / "zcompdump")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["text", "json"]
