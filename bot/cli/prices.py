"""``rotabot prices update`` and ``rotabot prices show TICKER``."""

from __future__ import annotations

import argparse
import sys
import time

from bot.config import Config
from bot.data.prices import load_prices, open_state, update_cache
from bot.errors import UsageError


class ProgressBar:
    """A one-line stderr bar that appears only once work has taken more than a moment. When
    stderr is not a terminal (a log, a pipe) it writes a plain line at each quarter instead:
    carriage returns would pile up there as one endless line."""

    def __init__(self, delay: float = 0.5, width: int = 24) -> None:
        self.started = time.monotonic()
        self.delay = delay
        self.width = width
        self.shown = False
        self.tty = sys.stderr.isatty()
        self.quarter = 0

    def __call__(self, done: int, total: int, label: str) -> None:
        if not self.shown and time.monotonic() - self.started < self.delay and done == 0:
            return
        if not self.tty:
            quarter = 4 * done // max(total, 1)
            if quarter > self.quarter:
                self.quarter = quarter
                print(f"{done}/{total} {label}", file=sys.stderr, flush=True)
            return
        filled = self.width * done // max(total, 1)
        bar = "#" * filled + "." * (self.width - filled)
        print(f"\r[{bar}] {done}/{total} {label:<50}", end="", file=sys.stderr, flush=True)
        self.shown = True

    def close(self) -> None:
        if self.shown:
            print(file=sys.stderr)


def run_prices_update(args: argparse.Namespace, config: Config) -> int:
    bar = ProgressBar()
    conn = open_state(config)
    try:
        try:
            report = update_cache(config, conn, progress=bar)
        finally:
            bar.close()
        print(
            f"updated {len(config.tickers)} tickers from {config.data.source}: "
            f"{len(report.full)} new, {len(report.tail)} incremental, "
            f"{len(report.rewritten)} re-fetched after a history change, "
            f"{report.rows_written} rows written to {config.state.path}"
        )
        from bot.data.cache import PriceCache

        last = PriceCache(conn).last_dates(config.tickers)
    finally:
        conn.close()
    latest = max((d for d in last.values() if d), default=None)
    behind = sorted(t for t, d in last.items() if d != latest)
    print(f"latest session: {latest}" + (f"; behind it: {', '.join(behind)}" if behind else ""))
    return 0


def run_prices_show(args: argparse.Namespace, config: Config) -> int:
    ticker = args.ticker.strip().upper()
    panel = load_prices(config, [ticker])
    frame = panel.ticker_frame(ticker)
    if frame.empty:
        raise UsageError(f"no prices for {ticker} from {config.data.source}")
    tail = frame.tail(args.tail).astype({"volume": "Int64"})
    print(
        f"{ticker}: {len(frame)} sessions, {frame.index[0]:%Y-%m-%d} .. {frame.index[-1]:%Y-%m-%d}"
    )
    print(tail.to_string(float_format=lambda v: f"{v:.4f}", na_rep="", index_names=False))
    return 0
