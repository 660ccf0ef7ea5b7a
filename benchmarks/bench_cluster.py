"""When a Dask cluster pays: the same sweeps here and on a local Dask cluster, side by side.

A cluster costs a fixed overhead per sweep (connect, send the data, schedule tasks of a few
seconds) and then adds its workers' cores. This script measures both on this machine: a
local cluster of 2 worker processes (one thread each, 127.0.0.1) against the local sweep on
2 threads, for growing grids of ``rs_momentum`` over 2012-2025, and prints the overhead, the
pace per combination, and from what grid size a cluster of N such cores beats this machine.

Run: python benchmarks/bench_cluster.py [--prices-dir DIR] [--sizes 1000,10000,100000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import strategies
from benchmarks._common import REAL_PRICES
from bot.backtest.cluster import cluster_sweep
from bot.backtest.engine import Settings, moves
from bot.backtest.market import market_data
from bot.backtest.sweep import sweep
from bot.config import Config
from bot.data.csv_source import CsvSource

SETTINGS = Settings()


def grid(size: int) -> strategies.Grid:
    """About ``size`` combinations: 10 lookbacks x 10 rebalance periods x size/100 margins."""
    margins = np.linspace(0.0, 0.1, max(size // 100, 1))
    return strategies.grid_of("rs_momentum", {
        "lookback": [str(n) for n in (10, 21, 42, 63, 84, 105, 126, 168, 210, 252)],
        "rebalance": [str(n) for n in (1, 2, 3, 5, 10, 15, 21, 42, 63, 126)],
        "margin": [f"{m:.5f}" for m in margins],
    })  # fmt: skip


def main() -> int:
    import distributed

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prices-dir", type=Path, default=REAL_PRICES)
    parser.add_argument("--sizes", default="1000,10000,100000")
    args = parser.parse_args()
    if not (args.prices_dir / "NVDA.csv").is_file():
        print(f"skipped: no real prices in {args.prices_dir}")
        return 0
    config = Config()
    panel = CsvSource(args.prices_dir).fetch(list(config.tickers), config.data.history_start)
    data = market_data(panel, config.universe)
    mv = moves(data, SETTINGS.fill)
    window = (int(data.sessions.searchsorted(np.datetime64("2012-01-03"))), len(data.sessions))
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=":0",
                                  silence_logs=40) as local:  # fmt: skip
        for size in sizes:
            combos = grid(size)
            codes = strategies.GridCodes(combos)

            def here_run(codes: strategies.GridCodes = codes, n: int = len(combos)) -> object:
                return sweep(lambda i: codes(data, i), n, mv, window, SETTINGS, engine="numba")

            def there_run(codes: strategies.GridCodes = codes, n: int = len(combos)) -> object:
                return cluster_sweep(local.scheduler_address, codes, data, n, mv, window, SETTINGS)

            here, there = _time(here_run), _time(there_run)
            rows.append((len(combos), here, there))
            print(f"{len(combos):>7,} combinations: here (2 threads) {here:6.2f} s, local "
                  f"cluster (2 worker processes) {there:6.2f} s")  # fmt: skip
    _verdict(rows)
    return 0


def _time(run: object) -> float:
    times = []
    for _ in range(3):
        started = time.perf_counter()
        run()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _verdict(rows: list[tuple[int, float, float]]) -> None:
    """Overhead: the smallest grid's extra time on the cluster; pace: the largest grid's time
    per combination and worker core. Then: from what grid N such cores beat this machine."""
    small, large = rows[0], rows[-1]
    overhead = max(small[2] - small[1], 0.0)
    per_core = large[2] / large[0] * 2  # 2 worker processes of one thread each
    local = large[1] / large[0]  # this machine, 2 threads
    print(
        f"cluster: {overhead:.2f} s more than here for {small[0]:,} combinations (connect, "
        f"send the data, schedule); {per_core * 1e6:.0f} us a combination per worker core "
        f"({large[0]:,} combinations); here {local * 1e6:.0f} us a combination on 2 threads"
    )
    for cores in (8, 32, 128):
        gain = local - per_core / cores
        if gain > 0:
            pays = overhead / gain
            print(
                f"  {cores} such worker cores beat this machine from about {pays:,.0f} "
                f"combinations ({pays * local:.1f} s of work here)"
            )


if __name__ == "__main__":
    sys.exit(main())
