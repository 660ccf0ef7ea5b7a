"""The command line end to end: exit codes, output contracts, clear errors, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bot.cli.main import main
from tests.synthetic import panel_from_returns, random_returns, write_config, write_csv_dir

pytestmark = pytest.mark.integration

TICKERS = ["C1", "C2", "C3", "C4", "P1", "P2", "P3", "BENCH"]


@pytest.fixture
def csv_world(tmp_path: Path) -> tuple[Path, Path]:
    """A small CSV folder (300 sessions from 2020) and a config for its baskets."""
    returns = random_returns(TICKERS, 300, seed=4)
    day = returns.index[-1]
    returns.loc[day] = [-0.06, -0.05, -0.05, -0.04, 0.05, 0.03, 0.02, -0.001]
    folder = write_csv_dir(panel_from_returns(returns), tmp_path / "prices")
    config = write_config(
        tmp_path,
        '[data]\nhistory_start = "2019-01-01"\n[signals]\nmin_history = 60\nlong_window = 250\n',
    )
    return folder, config


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_signal_json_contract(
    capsys: pytest.CaptureFixture[str], csv_world: tuple[Path, Path]
) -> None:
    folder, config = csv_world
    code, out, _ = run(
        capsys, "--config", str(config), "--prices-dir", str(folder), "signal", "--format", "json"
    )
    assert code == 0
    state = json.loads(out)
    assert {"date", "ratio", "quadrant", "regime", "events"} <= set(state)
    assert state["date"] == "2021-02-24"
    (shock,) = [e for e in state["events"] if e["kind"] == "shock"]
    assert shock["from"] == "chips" and shock["to"] == "platforms"


def test_signal_text(capsys: pytest.CaptureFixture[str], csv_world: tuple[Path, Path]) -> None:
    folder, config = csv_world
    code, out, _ = run(
        capsys,
        "--config",
        str(config),
        "--prices-dir",
        str(folder),
        "signal",
        "--asof",
        "2021-02-23",
    )
    assert code == 0
    assert out.startswith("Rotation picture at the close of 2021-02-23")


def test_replay_json_lines(
    capsys: pytest.CaptureFixture[str], csv_world: tuple[Path, Path]
) -> None:
    folder, config = csv_world
    code, out, _ = run(
        capsys,
        "--config",
        str(config),
        "--prices-dir",
        str(folder),
        "replay",
        "--start",
        "2020-06-01",
        "--end",
        "2021-02-24",
        "--format",
        "json",
    )
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows, "the rotation on the last day must be replayed"
    assert [r["date"] for r in rows] == sorted(r["date"] for r in rows)
    for r in rows:
        assert set(r) == {
            "date",
            "pair",
            "kind",
            "from",
            "to",
            "severity",
            "score",
            "summary",
            "drivers",
            "evidence",
            "reverses",
            "track_record",
        }
    assert rows[-1]["date"] == "2021-02-24" and rows[-1]["kind"] == "shock"
    assert {r["pair"] for r in rows} == {"chips/platforms"}


@pytest.fixture
def two_pairs(tmp_path: Path, csv_world: tuple[Path, Path]) -> tuple[Path, Path]:
    """The CSV world with a third basket (sharing C1 with chips) and two watched pairs."""
    folder, config = csv_world
    text = config.read_text().replace(
        "[benchmark]",
        '[baskets.mixed]\nname = "Mixed"\ntickers = ["C1", "C2"]\n'
        '[watch]\npairs = ["chips/platforms", "platforms/mixed"]\n[benchmark]',
    )
    config.write_text(text)
    return folder, config


def test_signal_json_covers_every_pair_and_basket(
    capsys: pytest.CaptureFixture[str], two_pairs: tuple[Path, Path]
) -> None:
    folder, config = two_pairs
    argv = ["--config", str(config), "--prices-dir", str(folder), "signal", "--format", "json"]
    code, out, _ = run(capsys, *argv)
    assert code == 0
    state = json.loads(out)
    assert state["pair"] == "chips/platforms"  # the first pair keeps the top level
    assert [p["pair"] for p in state["pairs"]] == ["chips/platforms", "platforms/mixed"]
    # Each pair object has the shape of the top level (minus the two lists of everything).
    assert set(state["pairs"][0]) == set(state) - {"pairs", "baskets", "data_age"}
    assert state["pairs"][0]["trend"] == state["trend"]
    assert set(state["baskets"]) == {"chips", "platforms", "mixed"}
    assert set(state["baskets"]["mixed"]) == {"rs_ratio", "rs_momentum", "quadrant"}
    code, out, _ = run(capsys, *argv, "--pair", "platforms/mixed")
    chosen = json.loads(out)
    assert chosen["pair"] == "platforms/mixed"
    assert [p["pair"] for p in chosen["pairs"]] == ["platforms/mixed"]


def test_replay_lines_carry_their_pair_and_pair_filters(
    capsys: pytest.CaptureFixture[str], two_pairs: tuple[Path, Path]
) -> None:
    folder, config = two_pairs
    argv = ["--config", str(config), "--prices-dir", str(folder), "replay"]
    argv += ["--start", "2020-06-01", "--end", "2021-02-24", "--format", "json"]
    code, out, _ = run(capsys, *argv)
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and {r["pair"] for r in rows} == {"chips/platforms", "platforms/mixed"}
    code, out, _ = run(capsys, *argv, "--pair", "chips/platforms")
    only = [json.loads(line) for line in out.splitlines()]
    assert only == [r for r in rows if r["pair"] == "chips/platforms"]


@pytest.mark.parametrize(
    "command", [["signal"], ["replay", "--start", "2020-06-01", "--end", "2020-07-01"]]
)
def test_unknown_pair_exits_2_naming_the_configured_pairs(
    capsys: pytest.CaptureFixture[str], two_pairs: tuple[Path, Path], command: list[str]
) -> None:
    folder, config = two_pairs
    argv = ["--config", str(config), "--prices-dir", str(folder), *command]
    code, _, err = run(capsys, *argv, "--pair", "mixed/chips")
    assert code == 2
    assert "not a watched pair; configured: chips/platforms, platforms/mixed" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["replay", "--start", "2021-01-01", "--end", "2020-01-01"], "is after --end"),
        (["replay", "--start", "2018-01-01", "--end", "2020-06-01"], "reaches outside the data"),
        (["signal", "--asof", "2030-01-02"], "reaches outside the data"),
        (["signal", "--asof", "2020-06-06"], "is not a session in the data"),
        (["prices", "show", "NOPE"], "no price file for NOPE"),
    ],
)
def test_user_errors_exit_2_with_a_clear_message(
    capsys: pytest.CaptureFixture[str], csv_world: tuple[Path, Path], argv: list[str], message: str
) -> None:
    folder, config = csv_world
    code, _, err = run(capsys, "--config", str(config), "--prices-dir", str(folder), *argv)
    assert code == 2
    assert message in err and "Traceback" not in err


def test_session_with_missing_data_exits_2(
    capsys: pytest.CaptureFixture[str], csv_world: tuple[Path, Path]
) -> None:
    folder, config = csv_world
    path = folder / "P2.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n")  # P2 lacks the last session
    code, _, err = run(
        capsys,
        "--config",
        str(config),
        "--prices-dir",
        str(folder),
        "signal",
        "--asof",
        "2021-02-24",
    )
    assert code == 2 and "2021-02-24 is missing prices for P2" in err
    code, out, err = run(capsys, "--config", str(config), "--prices-dir", str(folder), "signal")
    assert code == 0 and "showing 2021-02-23" in err and "2021-02-23" in out


def test_bad_date_argument_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["signal", "--asof", "yesterday"])
    assert info.value.code == 2
    assert "not a date: 'yesterday'" in capsys.readouterr().err


def test_bad_config_lists_every_problem(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[telegrm]\n[baskets.chips]\ntickers = []\n[baskets.p]\ntickers = ['A']\n")
    code, out, err = run(capsys, "--config", str(bad), "check-config")
    assert code == 2 and out == ""
    assert "telegrm: unknown section, did you mean 'telegram'?" in err
    assert "baskets.chips.tickers: must not be empty" in err


def test_check_config_redacts_the_token(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "987654:ZZZ-do-not-print"
    monkeypatch.setenv("ROTABOT_TELEGRAM_TOKEN", secret)
    code, out, err = run(capsys, "check-config")
    assert code == 0 and secret not in out + err
    assert "# token: set (redacted)" in out and "[baskets.chips]" in out


def test_prices_update_and_show_through_the_cache(
    capsys: pytest.CaptureFixture[str], csv_world: tuple[Path, Path], tmp_path: Path
) -> None:
    folder, config = csv_world
    code, out, _ = run(
        capsys, "--config", str(config), "--prices-dir", str(folder), "prices", "update"
    )
    assert code == 0 and "8 new" in out and "latest session: 2021-02-24" in out
    assert not (tmp_path / "rotabot.db").exists()  # the state file is not left beside the config
    assert (tmp_path / "xdg" / "xdg_state_home" / "rotabot" / "rotabot.db").is_file()
    code, out, _ = run(
        capsys, "--config", str(config), "--prices-dir", str(folder), "prices", "update"
    )
    assert code == 0 and "0 new, 8 incremental" in out
    code, out, _ = run(
        capsys,
        "--config",
        str(config),
        "--prices-dir",
        str(folder),
        "prices",
        "show",
        "c1",
        "--tail",
        "2",
    )
    assert code == 0
    assert out.splitlines()[0].startswith("C1: 300 sessions")
    assert len(out.splitlines()) == 4 and "2021-02-24" in out.splitlines()[-1]


def test_python_dash_m_and_help_need_no_heavy_imports(tmp_path: Path) -> None:
    code = (
        "import sys; from bot.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('pandas', 'yfinance', 'telegram', 'matplotlib')\n"
        "         if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("[]")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--version"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0 and done.stdout.startswith("rotabot ")


def test_real_data_signal_on_deepseek_day(
    capsys: pytest.CaptureFixture[str], real_prices: Path
) -> None:
    code, out, _ = run(
        capsys,
        "--prices-dir",
        str(real_prices),
        "signal",
        "--asof",
        "2025-01-27",
        "--format",
        "json",
    )
    assert code == 0
    state = json.loads(out)
    shock = next(e for e in state["events"] if e["kind"] == "shock")
    assert (shock["from"], shock["to"], shock["severity"]) == ("chips", "platforms", "severe")
    assert np.isclose(state["ratio"], state["ratio"])


def test_global_options_work_after_the_command_too(
    capsys: pytest.CaptureFixture[str], csv_world: tuple[Path, Path]
) -> None:
    folder, config = csv_world
    before = run(capsys, "--config", str(config), "--prices-dir", str(folder), "signal")
    after = run(capsys, "signal", "--config", str(config), "--prices-dir", str(folder))
    assert before[0] == after[0] == 0 and before[1] == after[1]
    # left out after the command, an option keeps its value from before it
    mixed = run(capsys, "--config", str(config), "signal", "--prices-dir", str(folder))
    assert mixed[1] == before[1]
