"""Backtest and sweep speed on real prices, side by side with vectorbt and bt.

Targets (issue 14): 1,000 ``rs_momentum`` combinations over 2012-2026 under 0.2 s in-process,
at least 20x vectorbt and 2,000x bt per combination, measured in this run on the same inputs;
10,000 combinations under 2 s with peak memory under 300 MB. Also printed: the compiled loop's
first call in a fresh numba cache (compilation) and in a warm one (loading), and a
physical-limit estimate: the sweep against one plain numpy pass over an array of its size.

vectorbt and bt (the ``bench`` extra) get the very target weights our strategy computed, so
they only simulate and score; each is skipped when not installed. Their final equity must
agree with ours within 0.5%.

Run: python benchmarks/bench_backtest.py [--prices-dir DIR] [--runs N] [--vbt-combos N]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import strategies
from benchmarks._common import REAL_PRICES, report, timed
from bot.backtest.codes import Codes
from bot.backtest.engine import Moves, Settings, backtest, moves
from bot.backtest.market import MarketData, market_data
from bot.backtest.sweep import Engine, SweepResult, sweep
from bot.config import Config
from bot.core.panel import PricePanel
from strategies.base import compute_codes, compute_grid, compute_weights

SETTINGS = Settings(cost_bps=3.0, slippage_bps=2.0)
AGREEMENT = 0.005
START = pd.Timestamp("2012-01-03")
GRID_1K = {
    "lookback": [str(n) for n in (10, 21, 42, 63, 84, 105, 126, 168, 210, 252)],
    "rebalance": [str(n) for n in (1, 2, 3, 5, 10, 15, 21, 42, 63, 126)],
    "margin": [f"{m:.3f}" for m in np.linspace(0.0, 0.09, 10)],
}
GRID_10K = {**GRID_1K, "margin": [f"{m:.3f}" for m in np.linspace(0.0, 0.099, 100)]}


def load(folder: Path) -> tuple[Config, PricePanel]:
    from bot.data.csv_source import CsvSource

    if not (folder / "NVDA.csv").is_file():
        print(f"skipped: no real prices in {folder}")
        sys.exit(0)
    config = Config()
    return config, CsvSource(folder).fetch(list(config.tickers), config.data.history_start)


def bench_one(config: Config, panel: PricePanel, runs: int) -> None:
    strategy = strategies.build("rs_momentum")
    data = market_data(panel, config.universe)
    end = data.sessions[-1].date()

    def from_prices() -> object:
        fresh = market_data(panel, config.universe)
        return backtest(compute_weights(strategy, fresh), fresh, START.date(), end, SETTINGS)

    report("one backtest 2012-2025 from loaded prices (baskets, strategy, engine, metrics, "
           "4 benchmarks)", timed(from_prices, runs))  # fmt: skip


class Sweeper:
    """A grid over the shared data and window; ``run`` sweeps it with a chosen engine."""

    def __init__(self, data: MarketData, grid: dict[str, list[str]]) -> None:
        self.data, self.grid = data, strategies.grid_of("rs_momentum", grid)
        self.window = (int(data.sessions.searchsorted(START)), len(data.sessions))
        self.mv: Moves = moves(data, SETTINGS.fill)

    def codes(self, indices: Sequence[int]) -> Codes:
        return compute_codes(self.grid.cls, self.data, [self.grid[i] for i in indices])

    def run(self, engine: Engine, workers: int = 2) -> SweepResult:
        return sweep(self.codes, len(self.grid), self.mv, self.window, SETTINGS,
                     workers=workers, engine=engine)  # fmt: skip

    @property
    def paths(self) -> int:
        return len(self.grid) * (self.window[1] - self.window[0])


def bench_sweeps(data: MarketData) -> tuple[float, Sweeper]:
    """Return the seconds per combination of the fastest 1,000-combination sweep."""
    one = Sweeper(data, GRID_1K)
    sessions = one.window[1] - one.window[0]
    print(f"sweeps: rs_momentum, {sessions} sessions {data.sessions[one.window[0]].date()} .. "
          f"{data.sessions[-1].date()}, costs {SETTINGS.rate:.4%} of turnover")  # fmt: skip
    best = np.inf
    engines: tuple[Engine, ...] = ("numba", "numpy")
    for engine in engines:
        for workers in (1, 2):
            label = f"  1,000 combinations, {engine} engine, {workers} thread(s)"
            med = report(label, timed(lambda e=engine, w=workers: one.run(e, w), 9), target=0.2)
            best = min(best, med)
    ten = Sweeper(data, GRID_10K)
    for engine in engines:
        tracemalloc.start()
        seconds = timed(lambda e=engine: ten.run(e, 2), 3)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        report(f"  10,000 combinations, {engine} engine, 2 threads", seconds, target=2.0)
        print(f"    peak traced memory during the sweep {peak / 2**20:.0f} MB (target < 300 MB)")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  process peak RSS so far (numpy, pandas, numba, data, everything): {rss:.0f} MB")
    return best / len(one.grid), one


def bench_limit(one: Sweeper) -> None:
    """Compare the sweep with one plain numpy pass over an array of the sweep's size."""
    paths = one.paths
    rng = np.random.default_rng(0)
    returns = rng.normal(0.0, 0.01, (len(one.grid), one.window[1] - one.window[0]))
    plain = statistics.median(timed(lambda: np.cumprod(1.0 + returns, axis=1), 9))
    numba = statistics.median(timed(lambda: one.run("numba", 1), 9))
    numpy = statistics.median(timed(lambda: one.run("numpy", 1), 5))
    size = returns.nbytes / 2**20
    print(
        f"physical limit: {paths / 1e6:.2f} M path-sessions; one numpy pass over them "
        f"(cumprod of 1 + r, {size:.0f} MB in, {size:.0f} MB out, 2 flops each) takes "
        f"{plain * 1000:.1f} ms = {plain / paths * 1e9:.2f} ns a path-session. One thread: the "
        f"compiled sweep (strategy, engine, 12 metrics; ~25 flops and 4 bytes of codes a "
        f"path-session) takes {numba * 1000:.1f} ms = {numba / plain:.1f} such passes; the "
        f"numpy engine {numpy * 1000:.1f} ms = {numpy / plain:.1f} passes"
    )


def bench_first_call() -> None:
    """Time the compiled loop's first sweep in a fresh process: empty cache, then warm."""
    code = (
        "import time, numpy as np; from bot.backtest.codes import Codes; "
        "from bot.backtest.engine import Moves, Settings; from bot.backtest.sweep import sweep; "
        "import pandas as pd; s = pd.bdate_range('2020-01-01', periods=300); "
        "mv = Moves(s, np.zeros((300, 3))); "
        "f = lambda i: Codes(np.zeros((len(i), 300), np.int32), np.eye(3)); "
        "t = time.perf_counter(); sweep(f, 4, mv, (10, 300), Settings(), engine='numba'); "
        "print(time.perf_counter() - t)"
    )
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        times = [
            float(subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                 capture_output=True, text=True).stdout)
            for _ in range(3)
        ]  # fmt: skip
    print(f"compiled loop, first sweep of a process: fresh cache {times[0]:.2f} s (compiles and "
          f"writes the cache), then {times[1]:.2f} s and {times[2]:.2f} s (loads it)")  # fmt: skip


def targets_of(one: Sweeper, count: int) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """Prices from the close before the window, and per combination the weights to trade at
    each close (ours are decided a session earlier: shifted by one)."""
    a, b = one.data.keys
    begin = one.window[0] - 1
    prices = one.data.levels[[a, b]].iloc[begin:]
    combos = [one.grid[i] for i in range(0, len(one.grid), len(one.grid) // count)][:count]
    weights = compute_grid(one.grid.cls, one.data, combos)
    frames = [
        pd.DataFrame(weights[:, j, :2], index=one.data.sessions, columns=[a, b])
        .shift(1).fillna(0.0).iloc[begin:]
        for j in range(len(combos))
    ]  # fmt: skip
    return prices, frames


def ours_final(one: Sweeper, count: int) -> np.ndarray:
    result = one.run("numba", 1)
    step = len(one.grid) // count
    return np.asarray(1.0 + result.metrics["total_return"][::step][:count])


def bench_vectorbt(prices: pd.DataFrame, frames: list[pd.DataFrame]) -> tuple[float, np.ndarray]:
    """Seconds per combination of vectorbt on the combinations, and their final equity."""
    import vectorbt as vbt

    tiled = pd.concat([prices] * len(frames), axis=1, keys=range(len(frames)))
    sizes = pd.concat(frames, axis=1, keys=range(len(frames)))

    def run() -> np.ndarray:
        pf = vbt.Portfolio.from_orders(
            tiled, size=sizes, size_type="targetpercent", fees=SETTINGS.rate, group_by=0,
            cash_sharing=True, call_seq="auto", init_cash=1.0, freq="1D",
        )  # fmt: skip
        pf.sharpe_ratio(), pf.max_drawdown(), pf.annualized_return(), pf.sortino_ratio()
        return np.asarray(pf.value().iloc[-1])

    started = time.perf_counter()
    final = run()
    print(f"  vectorbt first call (numba compilation): {time.perf_counter() - started:.1f} s")
    return statistics.median(timed(run, 3, warmup=0)) / len(frames), final


def bench_bt(prices: pd.DataFrame, weights: pd.DataFrame) -> tuple[float, float]:
    import bt

    rate = SETTINGS.rate

    def run() -> float:
        strategy = bt.Strategy("rs", [bt.algos.WeighTarget(weights), bt.algos.Rebalance()])
        test = bt.Backtest(strategy, prices, initial_capital=1_000_000.0,
                           commissions=lambda q, p: abs(q) * p * rate, integer_positions=False,
                           progress_bar=False)  # fmt: skip
        res = bt.run(test)
        res.stats  # noqa: B018  (the metrics, as ours computes them)
        return float(res.backtests["rs"].strategy.values.iloc[-1] / 1_000_000.0)

    final = run()
    return statistics.median(timed(run, 3, warmup=0)), final


def compare(one: Sweeper, per_combo: float, vbt_combos: int) -> None:
    prices, frames = targets_of(one, vbt_combos)
    finals = ours_final(one, vbt_combos)
    print(
        f"side by side, the same weights and prices; rotabot {per_combo * 1e6:.0f} us a "
        "combination (strategy, engine, 12 metrics: the best 1,000-combination run above)"
    )
    if importlib.util.find_spec("vectorbt") is None:
        print("vectorbt: skipped (not installed; pip install 'rotabot[bench]')")
    else:
        secs, theirs = bench_vectorbt(prices, frames)
        gap = float(np.max(np.abs(theirs / finals - 1.0)))
        verdict = "OK" if gap <= AGREEMENT else "DISAGREE"
        print(f"vectorbt: {vbt_combos} combinations in one call, {secs * 1e6:.0f} us a "
              f"combination: rotabot is {secs / per_combo:.0f}x faster (target >= 20x); final "
              f"equity within {gap:.3%} of ours (limit 0.5%): {verdict}")  # fmt: skip
    if importlib.util.find_spec("bt") is None:
        print("bt: skipped (not installed; pip install 'rotabot[bench]')")
    else:
        secs, final = bench_bt(prices, frames[0])
        gap = final / finals[0] - 1.0
        print(f"bt: one combination {secs * 1000:.0f} ms: rotabot is {secs / per_combo:.0f}x "
              f"faster (target >= 2000x); final equity {gap:+.3%} from ours (limit 0.5%): "
              f"{'OK' if abs(gap) <= AGREEMENT else 'DISAGREE'}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prices-dir", type=Path, default=REAL_PRICES)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--vbt-combos", type=int, default=100)
    args = parser.parse_args()
    config, panel = load(args.prices_dir)
    bench_one(config, panel, args.runs)
    data = market_data(panel, config.universe)
    bench_first_call()
    per_combo, one = bench_sweeps(data)
    bench_limit(one)
    compare(one, per_combo, args.vbt_combos)
    return 0


if __name__ == "__main__":
    sys.exit(main())
