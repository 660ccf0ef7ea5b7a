"""Read prices from a folder of ``<TICKER>.csv`` files (date,open,high,low,close,adj_close,volume).

Every problem is reported with the file and line number, so the user can open the file and
fix it. Empty fields are allowed and mean "unknown".
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from bot.core.panel import FIELDS, PricePanel, panel_from_long
from bot.errors import DataError

REQUIRED = ("date", "adj_close")


class CsvSource:
    """A PriceSource over a folder of CSV files, one per ticker."""

    name = "csv"

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def path_for(self, ticker: str) -> Path:
        return self.folder / f"{ticker}.csv"

    def fetch(self, tickers: Sequence[str], start: date, end: date | None = None) -> PricePanel:
        if not self.folder.is_dir():
            raise DataError(f"price folder not found: {self.folder}")
        missing = [t for t in tickers if not self.path_for(t).is_file()]
        if missing:
            names = ", ".join(missing)
            raise DataError(f"no price file for {names} in {self.folder} (expected <TICKER>.csv)")
        frames = [read_price_csv(self.path_for(t), t) for t in tickers]
        long = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        if not long.empty:
            lo = pd.Timestamp(start)
            keep = long["date"] >= lo
            if end is not None:
                keep &= long["date"] <= pd.Timestamp(end)
            long = long[keep]
        return panel_from_long(long, tickers)


def read_price_csv(path: Path, ticker: str) -> pd.DataFrame:
    """Read and check one price file; return a long frame (ticker, date, FIELDS).

    Raises:
        DataError: naming the file and line of the first problem found.
    """
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=True)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{path}: cannot read as CSV: {exc}") from exc
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    twice = sorted({c for c in raw.columns if list(raw.columns).count(c) > 1})
    if twice:
        raise DataError(f"{path}:1: column(s) {', '.join(twice)} appear more than once")
    absent = [c for c in REQUIRED if c not in raw.columns]
    if absent:
        raise DataError(
            f"{path}:1: missing column(s) {', '.join(absent)}; "
            f"expected {','.join(('date', *FIELDS))}"
        )
    # Line numbers: the header is line 1, so row i is line i + 2.
    lines = np.arange(len(raw)) + 2
    dates = pd.to_datetime(raw["date"].str.strip(), format="%Y-%m-%d", errors="coerce")
    bad = dates.isna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(
            f"{path}:{lines[i]}: unparseable date {raw['date'].iloc[i]!r} (want YYYY-MM-DD)"
        )
    out = pd.DataFrame({"ticker": ticker, "date": dates})
    for f in FIELDS:
        out[f] = _numeric(raw, f, path, lines)
    _check_order(out["date"], path, lines)
    prices = out["adj_close"].to_numpy()
    nonpositive = prices <= 0
    if nonpositive.any():
        i = int(np.argmax(nonpositive))
        raise DataError(f"{path}:{lines[i]}: adj_close must be positive, got {prices[i]:g}")
    return out


def _numeric(raw: pd.DataFrame, column: str, path: Path, lines: np.ndarray) -> pd.Series:
    if column not in raw.columns:
        return pd.Series(np.nan, index=raw.index, dtype="float64")
    text = raw[column].str.strip()
    values = pd.Series(pd.to_numeric(text.where(text != ""), errors="coerce"), dtype="float64")
    bad = ((values.isna() & (text != "")) | np.isinf(values)).to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        shown = raw[column].iloc[i]
        raise DataError(f"{path}:{lines[i]}: column {column}: not a finite number {shown!r}")
    return values


def _check_order(dates: pd.Series, path: Path, lines: np.ndarray) -> None:
    values = dates.to_numpy()
    if len(values) < 2:
        return
    step = values[1:] - values[:-1]
    dup = step == np.timedelta64(0)
    if dup.any():
        i = int(np.argmax(dup)) + 1
        raise DataError(f"{path}:{lines[i]}: duplicate date {pd.Timestamp(values[i]).date()}")
    back = step < np.timedelta64(0)
    if back.any():
        i = int(np.argmax(back)) + 1
        raise DataError(
            f"{path}:{lines[i]}: dates not sorted: {pd.Timestamp(values[i]).date()} "
            f"comes after {pd.Timestamp(values[i - 1]).date()}"
        )
