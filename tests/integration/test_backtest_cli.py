"""The backtesting commands end to end: JSON contracts, report files, exit status 2 on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bot.cli.main import main
from tests.synthetic import panel_from_returns, random_returns, write_config, write_csv_dir

pytestmark = pytest.mark.integration

TICKERS = ["C1", "C2", "C3", "C4", "P1", "P2", "P3", "BENCH"]
METRIC_KEYS = {
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "turnover",
    "trades",
}


@pytest.fixture
def world(tmp_path: Path) -> list[str]:
    """Global options for a CSV folder of 700 sessions (2020-01-02 on) and its config."""
    returns = random_returns(TICKERS, 700, seed=7, vol=0.012)
    returns.loc[:, ["C1", "C2", "C3", "C4"]] = returns[["C1", "C2", "C3", "C4"]].add(
        0.002 * np.sin(np.arange(700) / 45.0), axis=0
    )
    for day in (300, 450, 600):
        returns.iloc[day] = [-0.06, -0.05, -0.05, -0.04, 0.05, 0.03, 0.02, 0.001]
    folder = write_csv_dir(panel_from_returns(returns), tmp_path / "prices")
    config = write_config(
        tmp_path,
        '[data]\nhistory_start = "2019-01-01"\n'
        "[signals]\nmin_history = 60\nshort_window = 40\nlong_window = 250\n",
    )
    return ["--config", str(config), "--prices-dir", str(folder)]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse rejects malformed options itself, with status 2
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_backtest_json_contract(capsys: pytest.CaptureFixture[str], world: list[str]) -> None:
    code, out, _ = run(
        capsys,
        *world,
        "backtest",
        "--strategy",
        "rs_momentum",
        "--param",
        "lookback=42",
        "--cost-bps",
        "4",
        "--format",
        "json",
    )
    assert code == 0
    payload = json.loads(out)
    assert {"strategy", "pair", "params", "start", "end", "metrics", "benchmarks"} <= set(payload)
    assert payload["strategy"] == "rs_momentum"
    assert payload["pair"] == "chips/platforms"  # the first configured pair
    assert payload["assets"] == ["chips", "platforms", "benchmark"]
    assert payload["params"] == {"lookback": 42, "rebalance": 21, "margin": 0.0}
    assert payload["start"] == "2020-03-02"  # 42 sessions of warm-up after the first one
    assert payload["settings"]["cost_bps"] == 4.0
    assert METRIC_KEYS <= set(payload["metrics"])
    assert set(payload["benchmarks"]) == {
        "hold_chips",
        "hold_platforms",
        "50_50_rebalanced",
        "BENCH",
    }
    for figures in payload["benchmarks"].values():
        assert METRIC_KEYS <= set(figures)
    assert payload["metrics"]["trades"] >= 2


def test_backtest_text_and_spread_mode(
    capsys: pytest.CaptureFixture[str], world: list[str]
) -> None:
    code, out, _ = run(
        capsys,
        *world,
        "backtest",
        "--strategy",
        "rs_trend",
        "--param",
        "window=100",
        "--mode",
        "spread",
        "--start",
        "2020-09-01",
    )
    assert code == 0
    head = "rs_trend (window=100, band=0.02, band_vol=0.75, confirm=3) 2020-09-01 .."
    assert out.startswith(head)
    assert out.splitlines()[0].endswith(" on chips/platforms")
    assert "long/short spread" in out and "Sharpe" in out and "50_50_rebalanced" in out


def test_report_files(capsys: pytest.CaptureFixture[str], world: list[str], tmp_path: Path) -> None:
    folder = tmp_path / "report"
    code, _, err = run(
        capsys,
        *world,
        "backtest",
        "--strategy",
        "shock_follow",
        "--fill",
        "next_open",
        "--report",
        str(folder),
    )
    assert code == 0 and "report written" in err
    names = {p.name for p in folder.iterdir()}
    assert {
        "equity.csv",
        "weights.csv",
        "trades.csv",
        "equity.png",
        "drawdown.png",
        "ratio.png",
        "report.html",
    } <= names
    header = (folder / "equity.csv").read_text().splitlines()[0]
    assert header == "date,equity,hold_chips,hold_platforms,50_50_rebalanced,BENCH"
    assert (folder / "weights.csv").read_text().startswith("date,chips,platforms,benchmark")
    assert (folder / "ratio.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (folder / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == 3
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert "Monthly returns" in page and "return per trade average" in page
    trades = (folder / "trades.csv").read_text().splitlines()
    assert trades[0].endswith(",turnover,cost,sessions,return") and len(trades) >= 3


def test_a_short_window_warns_once_and_shows_months(
    capsys: pytest.CaptureFixture[str], world: list[str]
) -> None:
    argv = [*world, "backtest", "--strategy", "rs_momentum", "--start", "2021-06-01"]
    code, out, _ = run(capsys, *argv, "--end", "2021-11-30")
    assert code == 0 and out.count("warning:") == 1 and "less than a year" in out
    assert next(r for r in out.splitlines() if r.startswith("CAGR")).split()[1:] == ["n/a"] * 5
    assert next(r for r in out.splitlines() if r.startswith("win rate")).split()[3:] == ["n/a"] * 4
    assert "2021" in out.split("monthly returns")[1]
    code, out, _ = run(capsys, *argv, "--end", "2021-11-30", "--format", "json")
    payload = json.loads(out)
    assert payload["short_period"] is True and len(payload["warnings"]) == 1
    months = payload["monthly_returns"]
    assert [m["year"] for m in months] == [2021] and months[0]["months"][4] is None
    assert months[0]["months"][5] is not None and months[0]["total"] is not None
    assert set(payload["trade_summary"]) >= {"average", "median", "best", "worst"}


def test_sweep_with_walk_forward(capsys: pytest.CaptureFixture[str], world: list[str]) -> None:
    code, out, err = run(
        capsys,
        *world,
        "sweep",
        "--strategy",
        "rs_momentum",
        "--grid",
        "lookback=10,21,42",
        "--grid",
        "rebalance=5,10",
        "--walk-forward",
        "200:100",
        "--format",
        "json",
    )
    assert code == 0
    assert "Traceback" not in err  # a bar shows on stderr only if the sweep takes a while
    payload = json.loads(out)
    assert payload["combinations"] == 6 and len(payload["results"]) == 6
    sharpes = [r["metrics"]["sharpe"] for r in payload["results"]]
    assert sharpes == sorted(sharpes, reverse=True)
    assert payload["grid"] == {"lookback": [10, 21, 42], "rebalance": [5, 10]}
    walk = payload["walk_forward"]
    assert len(walk["folds"]) >= 3
    assert {"in_sample", "out_of_sample", "in_sample_params"} <= set(walk)
    first_test = walk["folds"][0]["test"]["start"]
    assert walk["start"] == first_test > walk["folds"][0]["train"]["end"]


def test_sweep_text(capsys: pytest.CaptureFixture[str], world: list[str]) -> None:
    code, out, _ = run(
        capsys,
        *world,
        "sweep",
        "--strategy",
        "shock_fade",
        "--grid",
        "hold=1,3,5",
        "--walk-forward",
        "10m:4m",
        "--top",
        "2",
    )
    assert code == 0
    assert "3 combinations" in out and "out-of-sample (walk-forward)" in out
    ranking = out.split("\n\n")[0].splitlines()
    assert len(ranking) == 2 + 2  # title, header, two rows


def test_study_agrees_with_replay(capsys: pytest.CaptureFixture[str], world: list[str]) -> None:
    code, out, _ = run(capsys, *world, "study", "--start", "2020-06-01", "--format", "json")
    assert code == 0
    payload = json.loads(out)
    assert payload["horizons"] == [1, 5, 20] and payload["start"] == "2020-06-01"
    assert payload["pairs"] == ["chips/platforms"]
    assert {r["pair"] for r in payload["rows"]} == {"chips/platforms"}
    end = payload["end"]
    code, replay, _ = run(
        capsys, *world, "replay", "--start", "2020-06-01", "--end", end, "--format", "json"
    )
    assert payload["events"] == len(replay.splitlines()) > 0
    shocks = [r for r in payload["rows"] if r["kind"] == "shock" and r["severity"] == "all"]
    assert [r["horizon"] for r in shocks] == [1, 5, 20]
    assert {"count", "mean", "hit_rate", "t_stat", "verdict"} <= set(shocks[0])


def test_strategies_listing(capsys: pytest.CaptureFixture[str], world: list[str]) -> None:
    code, out, _ = run(capsys, *world, "strategies", "--format", "json")
    assert code == 0
    listing = {s["name"]: s for s in json.loads(out)}
    assert len(listing) == 7
    assert listing["sector_rotation"]["trades"] == "baskets"
    assert listing["rs_momentum"]["trades"] == "pair"
    rrg = {p["name"]: p for p in listing["rrg"]["params"]}
    assert rrg["rule"]["default"] == "quadrant" and "early" in rrg["rule"]["choices"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["backtest", "--strategy", "rs_momentun"], "did you mean 'rs_momentum'"),
        (["backtest", "--strategy", "rrg", "--param", "windw=20"], "did you mean 'window'"),
        (["backtest", "--strategy", "rrg", "--param", "window=x"], "expected a whole number"),
        (["backtest", "--strategy", "rrg", "--param", "window"], "expected KEY=VALUE"),
        (
            ["backtest", "--strategy", "rrg", "--start", "2021-05-01", "--end", "2021-01-01"],
            "is after",
        ),
        (["backtest", "--strategy", "rrg", "--end", "2030-01-01"], "outside the data"),
        (["backtest", "--strategy", "rs_trend", "--start", "2020-02-03"], "earliest --start"),
        (["backtest", "--strategy", "rrg", "--cost-bps", "-1"], "must be 0 or more"),
        (["backtest", "--strategy", "rrg", "--start", "2021-13-01"], "not a date"),
        (["sweep", "--strategy", "rrg", "--grid", "window"], "expected KEY=VALUE"),
        (["sweep", "--strategy", "rrg", "--grid", "confirm=1,zero"], "expected a whole number"),
        (
            ["sweep", "--strategy", "rrg", "--grid", "window=20", "--walk-forward", "3x"],
            "expected TRAIN:TEST",
        ),
        (
            ["sweep", "--strategy", "rrg", "--grid", "window=20", "--walk-forward", "9y:1y"],
            "needs more than",
        ),
        (["backtest", "--strategy", "rrg", "--pair", "chips/duo"], "; configured: chips/platforms"),
        (["backtest", "--strategy", "rrg", "--pair", "chips"], "not a watched pair"),
        (["backtest", "--strategy", "rrg", "--pair", "chips/platfroms"], "did you mean"),
        (["sweep", "--strategy", "rrg", "--grid", "window=20", "--pair", "a/b"], "configured:"),
        (["backtest", "--strategy", "sector_rotation", "--pair", "chips/platforms"], "not apply"),
        (["backtest", "--strategy", "sector_rotation", "--mode", "spread"], "needs a pair"),
        (["study", "--pair", "platforms/chips"], "; configured: chips/platforms"),
        (["study", "--horizons", "0,5"], "1 or more"),
        (["study", "--start", "2030-01-01", "--end", "2031-01-01"], "outside the data"),
    ],
)
def test_bad_input_exits_2_with_a_message(
    capsys: pytest.CaptureFixture[str], world: list[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, *world, *argv)
    assert code == 2
    assert message in err and "Traceback" not in err and out == ""


def test_an_unknown_pair_exits_2_on_one_line_naming_the_configured_pairs(
    capsys: pytest.CaptureFixture[str], wide: list[str]
) -> None:
    code, out, err = run(capsys, *wide, "backtest", "--strategy", "rs_momentum", "--pair", "x/y")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert "x/y" in err and "chips/platforms, duo/platforms" in err


@pytest.fixture
def wide(world: list[str], tmp_path: Path) -> list[str]:
    """The world's prices with a third basket and two watched pairs."""
    config = write_config(
        tmp_path,
        '[data]\nhistory_start = "2019-01-01"\n'
        "[signals]\nmin_history = 60\nshort_window = 40\nlong_window = 250\n"
        '[baskets.duo]\nname = "Duo"\ntickers = ["C1", "C2"]\n'
        '[watch]\npairs = ["chips/platforms", "duo/platforms"]\n',
    )
    return ["--config", str(config), *world[2:]]


def backtest_payload(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    code, out, err = run(capsys, *argv, "--format", "json")
    assert code == 0, err
    payload: dict[str, object] = json.loads(out)
    return payload


def test_backtest_on_the_second_pair_of_a_wider_config(
    capsys: pytest.CaptureFixture[str], world: list[str], wide: list[str]
) -> None:
    rs = ("backtest", "--strategy", "rs_momentum")
    second = backtest_payload(capsys, *wide, *rs, "--pair", "duo/platforms")
    assert second["pair"] == "duo/platforms"
    assert second["assets"] == ["duo", "platforms", "benchmark"]
    assert list(second["benchmarks"]) == ["hold_duo", "hold_platforms", "50_50_rebalanced", "BENCH"]  # type: ignore[call-overload]
    first = backtest_payload(capsys, *wide, *rs)
    assert first["pair"] == "chips/platforms" and first != second
    # Another basket in the file changes nothing on the first pair.
    assert first == backtest_payload(capsys, *world, *rs)


def test_sector_rotation_trades_every_basket(
    capsys: pytest.CaptureFixture[str], wide: list[str], tmp_path: Path
) -> None:
    folder = tmp_path / "report"
    argv = ("backtest", "--strategy", "sector_rotation", "--param", "lookback=42")
    payload = backtest_payload(capsys, *wide, *argv, "--report", str(folder))
    assert payload["pair"] is None
    assert payload["assets"] == ["chips", "platforms", "duo", "benchmark"]
    assert list(payload["benchmarks"]) == ["equal_weight", "BENCH"]  # type: ignore[call-overload]
    assert payload["start"] == "2020-03-02"  # 42 sessions of warm-up, as for a pair
    assert (folder / "weights.csv").read_text().startswith("date,chips,platforms,duo,benchmark")
    assert (folder / "weights.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, out, _ = run(capsys, *wide, "sweep", "--strategy", "sector_rotation", "--grid", "k=1,2")
    assert code == 0 and "sector_rotation on baskets chips, platforms, duo: 2 combinations" in out


def test_study_covers_every_configured_pair(
    capsys: pytest.CaptureFixture[str], wide: list[str]
) -> None:
    code, out, _ = run(capsys, *wide, "study", "--start", "2020-06-01", "--format", "json")
    assert code == 0
    payload = json.loads(out)
    assert payload["pairs"] == ["chips/platforms", "duo/platforms"]
    assert {r["pair"] for r in payload["rows"]} == {"chips/platforms", "duo/platforms"}
    code, out, _ = run(capsys, *wide, "study", "--pair", "duo/platforms", "--format", "json")
    assert code == 0
    only = json.loads(out)
    assert only["pairs"] == ["duo/platforms"] and only["events"] > 0
    assert {r["pair"] for r in only["rows"]} == {"duo/platforms"}
    code, out, _ = run(capsys, *wide, "study", "--start", "2020-06-01")
    assert code == 0 and "on chips/platforms, duo/platforms" in out


# -- real prices ------------------------------------------------------------------------------


def test_real_backtest_and_sweep(capsys: pytest.CaptureFixture[str], real_prices: Path) -> None:
    prices = ["--prices-dir", str(real_prices)]
    code, out, _ = run(
        capsys,
        *prices,
        "backtest",
        "--strategy",
        "rs_momentum",
        "--end",
        "2025-12-31",
        "--format",
        "json",
    )
    assert code == 0
    payload = json.loads(out)
    assert payload["start"] == "2010-04-06" and payload["end"] == "2025-12-31"
    assert payload["benchmark_periods"]["^GSPC"]["start"] == "2016-06-29"
    assert payload["final_equity"] > 1.0 and payload["metrics"]["trades"] > 10
    code, out, _ = run(
        capsys,
        *prices,
        "sweep",
        "--strategy",
        "rs_trend",
        "--grid",
        "window=100,200",
        "--grid",
        "band=0,0.02",
        "--walk-forward",
        "3y:1y",
        "--format",
        "json",
    )
    assert code == 0
    walk = json.loads(out)["walk_forward"]
    assert walk["end"] == "2025-12-31" and len(walk["folds"]) >= 10


def test_a_grid_over_the_limit_is_refused_before_any_work(
    capsys: pytest.CaptureFixture[str], world: list[str]
) -> None:
    grid = ["--grid", "lookback=5,10,21,42,63", "--grid", "rebalance=1,2,5,10,21"]
    code, _, err = run(capsys, *world, "sweep", "--strategy", "rs_momentum", *grid,
                       "--max-combinations", "24")  # fmt: skip
    assert code == 2 and err.count("\n") == 1
    assert "25 combinations" in err and "--max-combinations 24" in err and "--cluster" in err
    code, out, _ = run(capsys, *world, "sweep", "--strategy", "rs_momentum", *grid,
                       "--max-combinations", "25", "--format", "json")  # fmt: skip
    assert code == 0 and json.loads(out)["combinations"] == 25


@pytest.mark.parametrize("address", ["foo", "tcp://host", "tcp://host:99999", "http://h:1"])
def test_a_malformed_cluster_address_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], world: list[str], address: str
) -> None:
    code, _, err = run(capsys, *world, "sweep", "--strategy", "rs_momentum", "--grid",
                       "lookback=5,10", "--cluster", address)  # fmt: skip
    assert code == 2 and "not a scheduler address" in err


def test_a_sweep_imports_neither_numba_nor_matplotlib_nor_dask(world: list[str]) -> None:
    code = (
        "import sys; from bot.cli.main import main; "
        f"main({[*world, 'sweep', '--strategy', 'rs_momentum', '--grid', 'lookback=5,10']!r}); "
        "print(sorted(m for m in ('numba', 'matplotlib', 'distributed') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stderr


def test_help_lists_rank_choices_without_importing_numpy() -> None:
    code = (
        "import sys; from bot.cli.main import build_parser; build_parser(); "
        "print('numpy' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr


def test_real_second_pair_and_sector_rotation(
    capsys: pytest.CaptureFixture[str], real_prices: Path, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[baskets.chips]\nname = "Chips"\ntickers = ["NVDA","AMD","TSM","AVGO","QCOM"]\n'
        '[baskets.platforms]\nname = "Platforms"\ntickers = ["META","MSFT","GOOGL","AMZN"]\n'
        '[baskets.memory]\nname = "Memory"\ntickers = ["MU","WDC","SNDK"]\n'
        '[watch]\npairs = ["chips/platforms", "memory/platforms"]\n'
    )
    common = ["--config", str(config), "--prices-dir", str(real_prices)]
    end = ("--end", "2025-12-31")
    pair = backtest_payload(
        capsys, *common, "backtest", "--strategy", "rs_trend", "--pair", "memory/platforms", *end
    )
    assert pair["pair"] == "memory/platforms" and pair["end"] == "2025-12-31"
    assert "hold_memory" in pair["benchmarks"]  # type: ignore[operator]
    every = backtest_payload(capsys, *common, "backtest", "--strategy", "sector_rotation", *end)
    assert every["assets"] == ["chips", "platforms", "memory", "benchmark"]
    metrics = every["metrics"]
    assert isinstance(metrics, dict) and metrics["trades"] > 10
