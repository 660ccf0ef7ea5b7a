"""Backtest speed on real prices, and the same backtest in bt and vectorbt side by side.

Targets (issue: backtesting): one 16-year backtest with the default baskets under 20 ms once
the prices are loaded; a 1,000-combination sweep under 2 s on 2 cores. bt and vectorbt (the
optional ``bench`` extra) run the same strategy on the same data, each skipped when it is not
installed; their final equity must agree with ours within 0.5%.

Run: python benchmarks/bench_backtest.py [--prices-dir DIR] [--runs N]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import strategies
from benchmarks._common import REAL_PRICES, report, timed
from bot.backtest.engine import Settings, backtest, moves
from bot.backtest.market import MarketData, market_data
from bot.backtest.sweep import sweep
from bot.config import Config
from bot.core.panel import PricePanel
from strategies.base import compute_grid, compute_weights

SETTINGS = Settings(cost_bps=3.0, slippage_bps=2.0)
AGREEMENT = 0.005
SWEEP_GRID = {
    "lookback": [str(n) for n in (10, 21, 42, 63, 84, 105, 126, 168, 210, 252)],
    "rebalance": [str(n) for n in (1, 2, 3, 5, 10, 15, 21, 42, 63, 126)],
    "margin": [f"{m:.3f}" for m in np.linspace(0.0, 0.09, 10)],
}


def load(folder: Path) -> tuple[Config, PricePanel]:
    from bot.data.csv_source import CsvSource

    if not (folder / "NVDA.csv").is_file():
        print(f"skipped: no real prices in {folder}")
        sys.exit(0)
    config = Config()
    return config, CsvSource(folder).fetch(list(config.tickers), config.data.history_start)


def bench_one(config: Config, panel: PricePanel, runs: int) -> tuple[MarketData, pd.DataFrame]:
    strategy = strategies.build("rs_momentum")
    data = market_data(panel, config.universe)
    start = data.sessions[data.first_session + strategy.warmup(config.signals)].date()
    end = data.sessions[-1].date()
    years = (end - start).days / 365.25
    print(f"data: {len(data.sessions)} sessions, backtest {start} .. {end} ({years:.1f} years)")

    def from_prices() -> object:
        fresh = market_data(panel, config.universe)
        return backtest(compute_weights(strategy, fresh), fresh, start, end, SETTINGS)

    report(
        "one backtest from loaded prices (baskets, strategy, engine, metrics, 4 benchmarks)",
        timed(from_prices, runs),
        target=0.020,
    )
    targets = compute_weights(strategy, data)
    report(
        "  of which the engine with metrics and benchmarks, weights given",
        timed(lambda: backtest(targets, data, start, end, SETTINGS), runs),
    )
    return data, targets


def bench_sweep(config: Config, data: MarketData, runs: int) -> None:
    combos = strategies.build_grid("rs_momentum", SWEEP_GRID)
    warmup = max(c.warmup(config.signals) for c in combos)
    first, stop = data.first_session + warmup, len(data.sessions)
    cls = type(combos[0])
    workers = min(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 2)

    def run() -> object:
        mv = moves(data, SETTINGS.fill)
        return sweep(
            lambda idx: compute_grid(cls, data, [combos[i] for i in idx]),
            len(combos),
            mv,
            (first, stop),
            SETTINGS,
            workers=workers,
        )

    label = f"sweep of {len(combos)} combinations (rs_momentum), {workers} worker thread(s)"
    report(label, timed(run, max(3, runs // 40)), target=2.0)


def ours(data: MarketData, targets: pd.DataFrame) -> tuple[float, float, pd.Timestamp]:
    """Time our engine alone on the shared inputs; return (seconds, final equity, start)."""
    start = data.sessions[data.first_session + 63]
    result = backtest(targets, data, start.date(), data.sessions[-1].date(), SETTINGS)
    secs = statistics.median(
        timed(lambda: backtest(targets, data, start.date(), data.sessions[-1].date(), SETTINGS), 50)
    )
    return secs, float(result.equity.iloc[-1]), start


def inputs(
    data: MarketData, targets: pd.DataFrame, start: pd.Timestamp
) -> tuple[pd.DataFrame, ...]:
    """Prices from the close before the window, weights to trade at each close (ours lag 1)."""
    a, b = data.keys
    prices = data.levels[[a, b]].loc[:, :]
    begin = data.sessions.get_loc(start) - 1
    prices = prices.iloc[begin:]
    weights = targets[[a, b]].shift(1).fillna(0.0).iloc[begin:]
    return prices, weights


def bench_bt(prices: pd.DataFrame, weights: pd.DataFrame) -> tuple[float, float]:
    import bt

    rate = SETTINGS.rate

    def run() -> float:
        strategy = bt.Strategy("rs", [bt.algos.WeighTarget(weights), bt.algos.Rebalance()])
        test = bt.Backtest(
            strategy,
            prices,
            initial_capital=1_000_000.0,
            commissions=lambda q, p: abs(q) * p * rate,
            integer_positions=False,
            progress_bar=False,
        )
        res = bt.run(test)
        return float(res.backtests["rs"].strategy.values.iloc[-1] / 1_000_000.0)

    final = run()
    return statistics.median(timed(run, 3, warmup=0)), final


def bench_vectorbt(prices: pd.DataFrame, weights: pd.DataFrame) -> tuple[float, float]:
    import vectorbt as vbt

    def run() -> float:
        pf = vbt.Portfolio.from_orders(
            prices,
            size=weights,
            size_type="targetpercent",
            fees=SETTINGS.rate,
            group_by=True,
            cash_sharing=True,
            call_seq="auto",
            init_cash=1.0,
            freq="1D",
        )
        return float(pf.value().iloc[-1])

    compile_start = time.perf_counter()
    final = run()
    print(f"  vectorbt first call (numba compilation): {time.perf_counter() - compile_start:.1f} s")
    return statistics.median(timed(run, 10, warmup=0)), final


def compare(data: MarketData, targets: pd.DataFrame) -> None:
    our_secs, our_final, start = ours(data, targets)
    print(
        f"side by side: rs_momentum defaults from {start.date()}, costs {SETTINGS.rate:.4%} "
        f"of turnover; ours {our_secs * 1000:.2f} ms (engine, metrics, benchmarks), "
        f"final equity {our_final:.4f}"
    )
    prices, weights = inputs(data, targets, start)
    for name, fn in (("bt", bench_bt), ("vectorbt", bench_vectorbt)):
        if importlib.util.find_spec(name) is None:
            print(f"{name}: skipped (not installed; pip install 'rotabot[bench]')")
            continue
        secs, final = fn(prices, weights)
        gap = final / our_final - 1.0
        verdict = "OK" if abs(gap) <= AGREEMENT else "DISAGREE"
        print(
            f"{name}: median {secs * 1000:.1f} ms vs ours {our_secs * 1000:.2f} ms: ours is "
            f"{secs / our_secs:.0f}x faster; final equity {final:.4f} vs {our_final:.4f} "
            f"({gap:+.3%}, limit 0.5%): {verdict}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prices-dir", type=Path, default=REAL_PRICES)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    config, panel = load(args.prices_dir)
    data, targets = bench_one(config, panel, args.runs)
    bench_sweep(config, data, args.runs)
    compare(data, targets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
