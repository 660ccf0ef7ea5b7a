"""Watchlists speed: a 10-year replay with seven baskets and ten pairs against the default
single pair, side by side in one run, and `rotabot signal` end to end with ten pairs.

Targets (issue: watchlists): the ten-pair replay under 3x the one-pair replay; `signal` with
ten pairs under 1.5 s wall from a warm cache, imports included. The replay is timed twice: in
process once the prices are loaded (the engine alone), and as the command a user runs.
Run: python benchmarks/bench_watchlists.py
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import real_prices_or_exit, report, timed, warm_cache  # noqa: E402

WATCHLIST = ROOT / "tests" / "data" / "watchlist.toml"
START, END = date(2016, 1, 1), date(2025, 12, 31)


def bench_replay(runs: int = 9) -> None:
    from bot.config import Config, load_config
    from bot.core.signals import compute_signals, events
    from bot.data.csv_source import CsvSource

    many = load_config(WATCHLIST, environ={})
    one = Config()
    panel = CsvSource(real_prices_or_exit()).fetch(many.tickers, many.data.history_start)
    one_panel = panel  # the same prices; the single pair reads its own columns only

    def replay(config: Config) -> int:
        return len(events(compute_signals(one_panel, config.universe), START, END))

    print(f"one pair: {replay(one)} events; ten pairs: {replay(many)} events, 2016-2025")
    times: dict[str, list[float]] = {"one": [], "ten": []}
    for _ in range(runs):  # paired and interleaved, so machine noise hits both alike
        for name, config in (("one", one), ("ten", many)):
            started = time.perf_counter()
            replay(config)
            times[name].append(time.perf_counter() - started)
    a = report("replay 10 years, 1 pair (2 baskets)", times["one"])
    b = report("replay 10 years, 10 pairs (7 baskets)", times["ten"])
    ratios = [t / o for t, o in zip(times["ten"], times["one"], strict=True)]
    print(
        f"ratio ten/one: {b / a:.2f}x of medians, median of paired ratios "
        f"{statistics.median(ratios):.2f}x; target < 3x: {'OK' if b / a < 3 else 'OVER'}"
    )


def bench_cli(runs: int = 7) -> None:
    """`rotabot replay` (one pair and ten, paired) and `rotabot signal` (ten pairs), end to end
    from a warm cache, imports included: what a user waits for."""
    from bot.config import load_config

    config = load_config(WATCHLIST, environ={})
    with tempfile.TemporaryDirectory() as tmp:
        state = warm_cache(Path(tmp), config.tickers, config.data.history_start)
        ten = Path(tmp) / "ten.toml"
        ten.write_text(WATCHLIST.read_text() + f'\n[state]\npath = "{state.name}"\n')
        one = Path(tmp) / "one.toml"
        one.write_text(f'[state]\npath = "{state.name}"\n')
        exe = shutil.which("rotabot")
        base = [exe] if exe else [sys.executable, "-m", "bot"]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        # --offline: the cache ends with the shared data (2025-12-31); do not ask Yahoo for more.
        replay = ["--offline", "replay", "--start", "2016-01-01", "--end", "2025-12-31"]

        def run(cfg: Path, *argv: str) -> None:
            cmd = [*base, "--config", str(cfg), *argv]
            subprocess.run(cmd, capture_output=True, check=True, env=env, cwd=tmp)

        times: dict[str, list[float]] = {"one": [], "ten": []}
        run(one, *replay)
        for _ in range(runs):
            for name, cfg in (("one", one), ("ten", ten)):
                started = time.perf_counter()
                run(cfg, *replay)
                times[name].append(time.perf_counter() - started)
        a = report("`rotabot replay` 2016-2025 end to end, 1 pair", times["one"])
        b = report("`rotabot replay` 2016-2025 end to end, 10 pairs", times["ten"])
        print(
            f"ratio ten/one end to end: {b / a:.2f}x; target < 3x: {'OK' if b / a < 3 else 'OVER'}"
        )
        report(
            "`rotabot signal` end to end, 10 pairs, warm cache",
            timed(lambda: run(ten, "--offline", "signal"), runs),
            target=1.5,
        )


if __name__ == "__main__":
    bench_replay()
    bench_cli()
