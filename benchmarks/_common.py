"""Shared helpers for the benchmark scripts: real data location, timing, a warm cache."""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

REAL_PRICES = Path(__file__).resolve().parents[2] / "shared" / "data" / "prices"


def real_prices_or_exit() -> Path:
    if not (REAL_PRICES / "NVDA.csv").is_file():
        print("skipped: real prices not found (expected ../shared/data/prices beside the project)")
        sys.exit(0)
    return REAL_PRICES


def timed(fn: Callable[[], object], runs: int, warmup: int = 1) -> list[float]:
    """Return the wall times in seconds of ``runs`` calls after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def report(label: str, seconds: Sequence[float], target: float | None = None) -> float:
    med = statistics.median(seconds)
    line = f"{label}: median {med * 1000:.1f} ms (min {min(seconds) * 1000:.1f}, n={len(seconds)})"
    if target is not None:
        verdict = "OK" if med < target else "OVER TARGET"
        line += f"; target < {target * 1000:.0f} ms: {verdict} ({med / target:.2f} of it)"
    print(line)
    return med


def warm_cache(folder: Path, tickers: Sequence[str], start: date) -> Path:
    """Import the real CSVs into a fresh state file and return its path."""
    from bot.data.cache import CachedSource
    from bot.data.csv_source import CsvSource
    from bot.store.db import connect

    path = folder / "bench.db"
    conn = connect(path)
    CachedSource(CsvSource(real_prices_or_exit()), conn, start).refresh(list(tickers))
    conn.close()
    return path
