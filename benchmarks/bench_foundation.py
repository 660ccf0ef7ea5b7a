"""Foundation speed: `rotabot --help` wall time and a warm-cache read of 25 tickers x 16 years.

Targets (issue: foundation): --help under 0.2 s; the cache read under 150 ms.
Run: python benchmarks/bench_foundation.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import real_prices_or_exit, report, timed, warm_cache

START = date(2010, 1, 1)


def bench_help() -> None:
    exe = shutil.which("rotabot")
    cmd = [exe, "--help"] if exe else [sys.executable, "-m", "bot", "--help"]
    times = timed(lambda: subprocess.run(cmd, capture_output=True, check=True), runs=21)
    report(f"`{' '.join(Path(c).name for c in cmd)}` wall", times, target=0.2)


def bench_cache_read() -> None:
    from bot.config import Config
    from bot.data.cache import PriceCache
    from bot.store.db import connect

    real_prices_or_exit()
    tickers = [*Config().tickers, "SOXX"]  # 23 basket members + ^GSPC + SOXX = 25
    with tempfile.TemporaryDirectory() as tmp:
        path = warm_cache(Path(tmp), tickers, START)
        conn = connect(path)
        cache = PriceCache(conn)
        panel = cache.read(tickers, START)
        rows = int(panel.adj_close.notna().sum().sum())
        print(
            f"cache read: {len(tickers)} tickers, {len(panel.dates)} sessions "
            f"({panel.dates[0].date()}..{panel.dates[-1].date()}), {rows} price rows"
        )
        report(
            "warm cache read into one panel",
            timed(lambda: cache.read(tickers, START), 25),
            target=0.150,
        )
        conn.close()


if __name__ == "__main__":
    bench_help()
    bench_cache_read()
