"""CSV loading and command-line wall times (imports included), optionally against a baseline.

Targets (issue 14): the default tickers from CSV, 2010 on, load in under 150 ms; from CSV,
`signal --asof DATE` and `backtest` run in under 1.0 s, `backtest --report` in under 2.0 s
and a 1,000-combination `sweep` in under 1.0 s, wall time of the whole process.

With ``--baseline DIR`` (an earlier version of the project, e.g. from
``git archive v1 | tar -x -C DIR``), every figure is measured for both trees in the same
run, the runs alternating, so the ratios compare like with like on a shared machine.

Bytecode is written as an installed package has it; each command runs once untimed first
(bytecode, numba's cache, the OS file cache), then ``--runs`` times.

Run: python benchmarks/bench_load.py [--baseline DIR] [--runs N] [--prices-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import REAL_PRICES  # noqa: E402

SWEEP_GRID = [
    "--grid", "lookback=10,21,42,63,84,105,126,168,210,252",
    "--grid", "rebalance=1,2,3,5,10,15,21,42,63,126",
    "--grid", "margin=0,0.01,0.02,0.03,0.04,0.05,0.06,0.07,0.08,0.09",
]  # fmt: skip
LOAD = """
import statistics, sys, time
from bot.config import Config
from bot.data.csv_source import CsvSource
config = Config()
def once():
    return CsvSource(sys.argv[1]).fetch(list(config.tickers), config.data.history_start)
started = time.perf_counter(); once(); first = time.perf_counter() - started
times = []
for _ in range(int(sys.argv[2])):
    started = time.perf_counter(); once(); times.append(time.perf_counter() - started)
print(first, statistics.median(times))
"""


def env_for(tree: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPATH": str(tree), "MPLBACKEND": "Agg"}


def commands(prices: Path, report: Path) -> dict[str, tuple[list[str], float]]:
    """Label -> (arguments after `python -m bot`, target seconds)."""
    common = ["--prices-dir", str(prices)]
    return {
        "signal --asof 2025-01-27": ([*common, "signal", "--asof", "2025-01-27"], 1.0),
        "backtest": ([*common, "backtest", "--strategy", "rs_momentum"], 1.0),
        "backtest --report": (
            [*common, "backtest", "--strategy", "rs_momentum", "--report", str(report)],
            2.0,
        ),
        "sweep, 1,000 combinations": (
            [*common, "sweep", "--strategy", "rs_momentum", *SWEEP_GRID, "--top", "3"],
            1.0,
        ),
    }


def wall(tree: Path, args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bot", *args], env=env_for(tree), check=True,
                   capture_output=True, cwd=tempfile.gettempdir())  # fmt: skip
    return time.perf_counter() - started


def load_times(tree: Path, prices: Path, runs: int) -> tuple[float, float]:
    done = subprocess.run([sys.executable, "-c", LOAD, str(prices), str(runs)], env=env_for(tree),
                          check=True, capture_output=True, text=True,
                          cwd=tempfile.gettempdir())  # fmt: skip
    first, median = done.stdout.split()
    return float(first), float(median)


def line(label: str, figures: dict[str, float], target: float) -> None:
    cells = [f"{name} {value * 1000:7.0f} ms" for name, value in figures.items()]
    now = figures["this"]
    ratio = ""
    if "baseline" in figures:
        ratio = f"  {figures['baseline'] / now:5.1f}x faster"
    verdict = "OK" if now < target else "OVER TARGET"
    print(f"{label:<32} {'  '.join(cells)}{ratio}  target < {target * 1000:.0f} ms: {verdict}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="an earlier tree to time alongside")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--prices-dir", type=Path, default=REAL_PRICES)
    args = parser.parse_args()
    if not (args.prices_dir / "NVDA.csv").is_file():
        print(f"skipped: no real prices in {args.prices_dir}")
        return 0
    trees = {"this": ROOT} | ({"baseline": args.baseline.resolve()} if args.baseline else {})
    print(f"medians of {args.runs} runs; trees: "
          + ", ".join(f"{k} = {v}" for k, v in trees.items()))  # fmt: skip
    loads = {name: load_times(tree, args.prices_dir, args.runs * 3) for name, tree in trees.items()}
    line("CSV load, first in a process", {k: v[0] for k, v in loads.items()}, 0.150)
    line("CSV load, in-process median", {k: v[1] for k, v in loads.items()}, 0.150)
    with tempfile.TemporaryDirectory() as tmp:
        for label, (argv, target) in commands(args.prices_dir, Path(tmp) / "report").items():
            times: dict[str, list[float]] = {name: [] for name in trees}
            for tree in trees.values():
                wall(tree, argv)  # bytecode, caches
            for _ in range(args.runs):
                for name, tree in trees.items():
                    times[name].append(wall(tree, argv))
            line(label, {k: statistics.median(v) for k, v in times.items()}, target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
