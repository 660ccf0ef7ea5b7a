"""Rotation engine speed: a 10-year replay once prices are loaded, and `rotabot signal` end to
end from a warm cache (imports included).

Targets (issue: rotation engine): replay < 1 s after loading; signal < 1.5 s wall.
Run: python benchmarks/bench_engine.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import real_prices_or_exit, report, timed, warm_cache


def bench_replay() -> None:
    from bot.config import Config
    from bot.core.signals import compute_signals, events
    from bot.data.csv_source import CsvSource

    config = Config()
    panel = CsvSource(real_prices_or_exit()).fetch(config.tickers, config.data.history_start)

    def replay() -> int:
        signals = compute_signals(panel, config.universe)
        return len(events(signals, date(2016, 1, 1), date(2025, 12, 31)))

    print(f"replay 2016-2025: {replay()} events over {len(panel.dates)} sessions of history")
    report("replay 10 years (signals + events), data loaded", timed(replay, 11), target=1.0)


def bench_signal_cli() -> None:
    from bot.config import Config

    config = Config()
    with tempfile.TemporaryDirectory() as tmp:
        state = warm_cache(Path(tmp), config.tickers, config.data.history_start)
        cfg = Path(tmp) / "config.toml"
        cfg.write_text(f'[state]\npath = "{state.name}"\n')
        exe = shutil.which("rotabot")
        cmd = [exe] if exe else [sys.executable, "-m", "bot"]
        # --offline: the cache ends with the shared data (2025-12-31); do not ask Yahoo for more.
        cmd += ["--config", str(cfg), "--offline", "signal"]
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}

        def run() -> None:
            subprocess.run(cmd, capture_output=True, check=True, env=env, cwd=tmp)

        report("`rotabot signal` end to end, warm cache", timed(run, 9), target=1.5)


if __name__ == "__main__":
    bench_replay()
    bench_signal_cli()
