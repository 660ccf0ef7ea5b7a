"""Intraday checks on simulated sessions: what the defaults would have said, 2016-2025.

No years of intraday bars exist here, so each session's path is simulated from its daily bar:
a Brownian bridge on a 5-minute grid through the open (09:30), the high and the low (at random
times, in random order) and the close (16:00), clipped to the day's range; through the close
alone where the file has no open, high and low. Members share half their noise (one market
factor), as stocks do within a session. Seeded: a day's path depends on the seed and the day
only. The checks then read the path at their times through ``bot.core.intraday``.
Run: python benchmarks/bench_intraday.py
"""

from __future__ import annotations

import sys
from collections import Counter
from datetime import date, time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import real_prices_or_exit  # noqa: E402
from bot.core.market import Market  # noqa: E402
from bot.core.panel import PricePanel  # noqa: E402

STEPS = 78  # 5-minute bars from 09:30 to 16:00
RHO = 0.5  # share of a member's intraday noise common to all
SEED = 20250127
TAIL = 800  # sessions of history handed to each check (> long_window + 1: the same sigmas)


def check_index(at: time) -> int:
    """The grid point of a check: the last 5-minute mark at or before it."""
    return ((at.hour * 60 + at.minute) - (9 * 60 + 30)) // 5


def simulate_day(panel: PricePanel, day: pd.Timestamp, seed: int = SEED) -> pd.DataFrame:
    """Return each ticker's simulated return from the previous close on the 5-minute grid
    (index 0..78, 0 = 09:30 open, 78 = 16:00 close; columns tickers, NaN where no bar)."""
    rng = np.random.default_rng([seed, day.toordinal()])
    adj = panel.adj_close.ffill()
    pos = adj.index.get_loc(day)
    prev, close = adj.iloc[pos - 1], panel.adj_close.iloc[pos]
    factor = panel.adj_close.iloc[pos] / panel.close.iloc[pos]
    vol = np.log(adj).diff().iloc[max(pos - 20, 1) : pos].std()
    common = rng.standard_normal(STEPS).cumsum()
    out = {}
    for t in panel.tickers:
        own = rng.standard_normal(STEPS).cumsum()
        if not (np.isfinite(prev[t]) and np.isfinite(close[t])):
            out[t] = np.full(STEPS + 1, np.nan)
            continue
        w = np.concatenate([[0.0], RHO**0.5 * common + (1 - RHO) ** 0.5 * own])
        bar = [panel.field(f).iloc[pos][t] * factor[t] / prev[t] for f in ("open", "high", "low")]
        out[t] = _bridge(rng, w, bar, close[t] / prev[t], float(vol.get(t, 0.02)))
    return pd.DataFrame(out)


def _bridge(
    rng: np.random.Generator, w: np.ndarray, bar: list[float], end: float, vol: float
) -> np.ndarray:
    """Pin ``w`` (a Brownian path on the grid) through the bar's points; return returns."""
    o, h, low = bar
    if all(np.isfinite(bar)) and low <= min(o, end) and h >= max(o, end) and h > low:
        first, second = sorted(rng.choice(np.arange(1, STEPS), size=2, replace=False))
        hi_first = rng.random() < 0.5
        times = [0, first, second, STEPS]
        values = np.log([o, h if hi_first else low, low if hi_first else h, end])
        sigma = np.log(h / low) / (4 * np.log(2)) ** 0.5 / STEPS**0.5
        lo_clip, hi_clip = np.log(low), np.log(h)
    else:
        times, values = [0, STEPS], np.log([1.0, end])
        sigma = (vol if np.isfinite(vol) else 0.02) / STEPS**0.5
        lo_clip, hi_clip = -np.inf, np.inf
    grid = np.arange(STEPS + 1)
    path = np.interp(grid, times, values) + sigma * (w - np.interp(grid, times, w[times]))
    path[times] = values  # the pins exactly
    return np.exp(np.clip(path, lo_clip, hi_clip)) - 1.0


def tail_market(market: Market, day: pd.Timestamp, tail: int = TAIL) -> Market:
    """The market of the ``tail`` sessions before ``day`` (what ``build_market`` gives on
    prices cut at the previous close: the market is causal)."""
    end = market.member.index.get_loc(day)
    cut = slice(max(end - tail, 0), end)
    return Market(
        market.universe,
        market.member.iloc[cut],
        market.baskets.iloc[cut],
        market.levels.iloc[cut],
        market.benchmark.iloc[cut],
        market.panel,
    )


Reading = tuple[float, str | None, tuple[str, str]]  # score, stopped_by, (from, to)


def flagged(reading: Reading, threshold: float) -> bool:
    """Whether a reading warns at ``threshold``: the gates pass and the score reaches it (a
    reading stopped only by its score at one threshold may pass at a lower one)."""
    score, stopped, _ = reading
    return stopped in (None, "score") and score >= threshold


def read_days(seed: int, start: date, end: date) -> tuple[Any, list[tuple[Any, list[Reading]]]]:
    """Every session's close evidence and its readings at each check (one simulated path)."""
    from bot.config import Config
    from bot.core.intraday import intraday_readings
    from bot.core.market import build_market
    from bot.core.signals import shock_readings
    from bot.data.csv_source import CsvSource

    config = Config()
    pair = config.pairs[0]
    panel = CsvSource(real_prices_or_exit()).fetch(config.tickers, config.data.history_start)
    market = build_market(panel, config.universe)
    close = shock_readings(market, pair)
    days = market.sessions[
        (market.sessions >= pd.Timestamp(start)) & (market.sessions <= pd.Timestamp(end))
    ]
    out = []
    for day in days:
        path = simulate_day(panel, day, seed)
        history = tail_market(market, day)
        readings = []
        for at in config.intraday.checks:
            moves = path.iloc[check_index(at)].dropna().to_dict()
            r = intraday_readings(history, day, moves, 0.0, (pair,))[0]
            readings.append((r.score, r.stopped_by, (r.from_key, r.to_key)))
        out.append((day, readings))
    return close, out


def tabulate(close: Any, days: list[tuple[Any, list[Reading]]], threshold: float) -> list[str]:
    """The README's table at ``threshold``, then each close severe shock's first check."""
    from bot.config import Config

    config = Config()
    params, (a, b) = config.signals, config.pairs[0].keys
    checks = config.intraday.checks
    per_year: dict[int, Counter[str]] = {}
    severe_lines = []
    for day, readings in days:
        row = close.loc[day]
        shock = bool(row["eligible"]) and row["score"] >= params.shock_info
        close_dir = (a, b) if row["spread"] < 0 else (b, a)
        first: dict[tuple[str, str], time] = {}
        for at, reading in zip(checks, readings, strict=True):
            if flagged(reading, threshold):
                first.setdefault(reading[2], at)
        year = per_year.setdefault(day.year, Counter())
        for direction in first:
            year["warnings"] += 1
            year["confirmed" if shock and direction == close_dir else "withdrawn"] += 1
        if shock and row["score"] >= params.shock_severe:
            year["severe"] += 1
            at = first.get(close_dir)
            year["severe_flagged"] += at is not None
            when = f"first flagged at {at:%H:%M}" if at else "not flagged during the session"
            severe_lines.append(
                f"{day.date()}  {close_dir[0]} -> {close_dir[1]}  score {row['score']:.2f}  {when}"
            )
    lines = [
        "| year | warnings | confirmed | withdrawn | close severe | flagged during the session |",
        "|---|---|---|---|---|---|",
    ]
    for y, c in sorted(per_year.items()):
        lines.append(
            f"| {y} | {c['warnings']} | {c['confirmed']} | {c['withdrawn']} "
            f"| {c['severe']} | {c['severe_flagged']} |"
        )
    return lines + severe_lines


def run(start: date = date(2016, 1, 1), end: date = date(2025, 12, 31), seeds: int = 3) -> None:
    from bot.config import Config

    config = Config()
    default = config.intraday.score_threshold(config.signals)
    thresholds = {"default (shock_severe)": default, "shock_alert": config.signals.shock_alert}
    totals: dict[str, list[Counter[str]]] = {name: [] for name in thresholds}
    for k in range(seeds):
        close, days = read_days(SEED + k, start, end)
        for name, threshold in thresholds.items():
            lines = tabulate(close, days, threshold)
            if k == 0:
                print(f"\n## threshold {name} = {threshold:.2f}, seed {SEED}\n")
                print("\n".join(lines))
            count: Counter[str] = Counter()
            for line in lines[2:]:
                if line.startswith("| 20"):
                    cells = [int(x) for x in line.strip("| ").split(" | ")[1:]]
                    count.update(
                        dict(zip(("warnings", "confirmed", "withdrawn"), cells[:3], strict=True))
                    )
                    count["worst_withdrawn"] = max(count["worst_withdrawn"], cells[2])
            totals[name].append(count)
    print(f"\n## over {seeds} seeds (paths), 2016-2025 totals")
    for name, counts in totals.items():
        summary = ", ".join(
            f"{c['warnings']} warnings / {c['confirmed']} confirmed / {c['withdrawn']} withdrawn"
            f" (worst year {c['worst_withdrawn']})"
            for c in counts
        )
        print(f"- {name}: {summary}")


if __name__ == "__main__":
    run()
