"""``rotabot intraday``: the reading at a moment of the session from a folder of bars."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from bot.cli.main import main
from tests.synthetic import panel_from_returns, random_returns, write_config, write_csv_dir

pytestmark = pytest.mark.integration

TICKERS = ["C1", "C2", "C3", "C4", "P1", "P2", "P3", "BENCH"]
MOVES = {"C1": -0.07, "C2": -0.06, "C3": -0.06, "C4": -0.05, "P1": 0.05, "P2": 0.04,
         "P3": 0.03, "BENCH": -0.001}  # fmt: skip


@pytest.fixture
def world(tmp_path: Path) -> tuple[Path, Path, str]:
    """Daily closes up to one session, and 5-minute bars of the next one to 10:30 New York."""
    panel = panel_from_returns(random_returns(TICKERS, 300, seed=4))
    daily = write_csv_dir(panel, tmp_path / "prices")
    last = panel.adj_close.index[-1]
    session = (last + pd.offsets.BDay(1)).date()
    stamps = pd.date_range(
        f"{session} 09:35", f"{session} 10:30", freq="5min", tz="America/New_York"
    )
    bars = tmp_path / "bars"
    bars.mkdir()
    for t in TICKERS:
        prev = float(panel.close[t].iloc[-1])
        path = [prev * (1 + MOVES[t] * (i + 1) / len(stamps)) for i in range(len(stamps))]
        rows = [f"{s.isoformat()},{p},{p},{p},{p},1000" for s, p in zip(stamps, path, strict=True)]
        (bars / f"{t}.csv").write_text("datetime,open,high,low,close,volume\n" + "\n".join(rows))
    text = (
        '[data]\nhistory_start = "2019-01-01"\n'
        "[signals]\nmin_history = 60\nlong_window = 250\n"
        f'[intraday]\ncsv_dir = "{bars}"\nthreshold = 3.0\n'
    )
    return daily, write_config(tmp_path, text), str(session)


def test_the_reading_at_a_moment_flags_the_rotation_so_far(
    capsys: pytest.CaptureFixture[str], world: tuple[Path, Path, str]
) -> None:
    daily, config, session = world
    argv = ["--config", str(config), "--prices-dir", str(daily), "intraday"]
    assert main([*argv, "--asof", f"{session}T10:35", "--format", "json"]) == 0
    (reading,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert reading["pair"] == "chips/platforms" and reading["flagged"] is True
    assert (reading["from"], reading["to"]) == ("chips", "platforms")
    assert reading["moves"]["chips"] == pytest.approx(-0.06, abs=1e-9)
    assert main([*argv, "--asof", f"{session}T10:35"]) == 0
    assert "10:35 ET: Chips -6.0% vs Platforms +4.0%" in capsys.readouterr().out


def test_stale_bars_skip_the_check_and_bad_input_exits_2(
    capsys: pytest.CaptureFixture[str], world: tuple[Path, Path, str]
) -> None:
    daily, config, session = world
    argv = ["--config", str(config), "--prices-dir", str(daily), "intraday"]
    assert main([*argv, "--asof", f"{session}T12:00"]) == 0  # last bar 10:30: over 20 minutes old
    assert "check skipped" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        main([*argv, "--asof", "soon"])
    assert info.value.code == 2 and "Traceback" not in capsys.readouterr().err


def test_default_moment_is_the_end_of_the_last_bar_and_offline_needs_a_folder(
    capsys: pytest.CaptureFixture[str], world: tuple[Path, Path, str], tmp_path: Path
) -> None:
    daily, config, _session = world
    argv = ["--config", str(config), "--prices-dir", str(daily), "intraday"]
    assert main(argv) == 0  # the last bar starts at 10:30: complete at 10:35
    assert "10:35 ET: Chips -6.0% vs Platforms +4.0%" in capsys.readouterr().out
    (tmp_path / "bare").mkdir()
    bare = write_config(tmp_path / "bare", '[data]\nhistory_start = "2019-01-01"\n')
    code = main(["--config", str(bare), "--prices-dir", str(daily), "--offline", "intraday"])
    assert code == 2 and "[intraday] csv_dir" in capsys.readouterr().err


def test_a_day_without_a_session_says_so(
    capsys: pytest.CaptureFixture[str], world: tuple[Path, Path, str]
) -> None:
    daily, config, _session = world
    argv = ["--config", str(config), "--prices-dir", str(daily), "intraday"]
    assert main([*argv, "--asof", "2021-02-27T11:00"]) == 0  # a Saturday
    out = capsys.readouterr().out
    assert "check skipped: 2021-02-27 is not a trading day (XNYS calendar)" in out


def test_a_bar_file_without_offsets_is_refused_in_one_line(
    capsys: pytest.CaptureFixture[str], world: tuple[Path, Path, str]
) -> None:
    daily, config, session = world
    bars = config.parent / "bars" / "C1.csv"
    text = bars.read_text()
    bars.write_text(text.replace("-05:00", "").replace("-04:00", ""))
    argv = ["--config", str(config), "--prices-dir", str(daily), "intraday"]
    assert main([*argv, "--asof", f"{session}T10:35"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    assert f"{bars}: every datetime needs its UTC offset" in err
    assert bars.read_text() != text  # read, never rewritten
