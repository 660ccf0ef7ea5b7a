"""Regenerate the price sample shipped in ``bot/data/sample/`` from a folder of price files.

    python tools/make_sample.py PRICES_DIR [--start 2023-01-01] [--end 2025-12-31]

The sample is the default tickers and benchmark (``bot.config.Config().tickers``), cut to the
date range, rows copied byte for byte (so the numbers are exactly the source's), and must stay
under 1 MB in all: it ships inside the package for ``rotabot demo``. Not run by the tests.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from bot.config import Config
from bot.data.csv_source import read_price_csv
from bot.data.sample import SAMPLE_DIR

LIMIT = 1_000_000  # bytes, the whole folder


def cut(source: Path, start: date, end: date) -> bytes:
    """Return the header and the rows of ``source`` dated from ``start`` to ``end``."""
    lines = source.read_bytes().splitlines(keepends=True)
    first, last = start.isoformat().encode(), end.isoformat().encode()
    kept = [line for line in lines[1:] if first <= line[:10] <= last]
    return b"".join([lines[0], *kept])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("prices", type=Path, help="folder of <TICKER>.csv files")
    parser.add_argument("--start", type=date.fromisoformat, default=date(2023, 1, 1))
    parser.add_argument("--end", type=date.fromisoformat, default=date(2025, 12, 31))
    args = parser.parse_args(argv)
    total = 0
    for ticker in Config().tickers:
        data = cut(args.prices / f"{ticker}.csv", args.start, args.end)
        target = SAMPLE_DIR / f"{ticker}.csv"
        target.write_bytes(data)
        read_price_csv(target)  # the sample must pass the reader's own checks
        total += len(data)
    total += sum(p.stat().st_size for p in SAMPLE_DIR.glob("*.md"))
    print(f"wrote {len(Config().tickers)} files, {total:,} bytes in all, to {SAMPLE_DIR}")
    if total >= LIMIT:
        print(f"too large: the sample must stay under {LIMIT:,} bytes", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
