"""Read prices from a folder of ``<TICKER>.csv`` files (date,open,high,low,close,adj_close,volume).

Every problem is reported with the file and line number, so the user can open the file and
fix it. Empty fields are allowed and mean "unknown".

Two parsers, one set of rules. The fast one hands a well-formed file to pyarrow's CSV reader
with typed columns (a millisecond for 16 years of bars); it declines anything unusual (quotes,
blank lines, non-ASCII bytes, a repeated column, a cell it cannot type or that is not finite)
rather than guess. The careful one then reads every cell as text, as the reader always did,
and names the first bad line. Either way the rows end as typed arrays that the checks in
``CHECKS`` see (dates in order, prices positive): a new check is one small function added
there. Rows before ``start`` are cut right after the checks, before any frame is built.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from bot.core.panel import FIELDS, PricePanel, empty_panel
from bot.errors import DataError

REQUIRED = ("date", "adj_close")
DATES = "datetime64[us]"  # the resolution pandas gives ISO dates; the panels' index dtype


@dataclass(frozen=True, slots=True)
class PriceRows:
    """One file's rows in file order: ``dates`` (``DATES``) and ``values`` shaped
    ``(rows, len(FIELDS))``, float64 with NaN for unknown. Row i is line i + 2 of the file."""

    dates: np.ndarray
    values: np.ndarray

    def between(self, start: date | None, end: date | None) -> PriceRows:
        """Return the rows from ``start`` to ``end`` inclusive (dates must be sorted)."""
        lo = 0 if start is None else int(np.searchsorted(self.dates, _day(start)))
        hi = len(self.dates)
        if end is not None:
            hi = int(np.searchsorted(self.dates, _day(end), side="right"))
        return PriceRows(self.dates[lo:hi], self.values[lo:hi])


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
        wanted = list(dict.fromkeys(tickers))
        # pyarrow parses a small file on one thread and releases the GIL: read several at once.
        with ThreadPoolExecutor(max_workers=min(4, max(len(wanted), 1))) as pool:
            found = pool.map(lambda t: read_price_csv(self.path_for(t), start, end), wanted)
            rows = dict(zip(wanted, found, strict=True))
        return panel_of(rows, tickers)


def read_price_csv(path: Path, start: date | None = None, end: date | None = None) -> PriceRows:
    """Read and check one price file; return its rows from ``start`` to ``end`` inclusive.

    Raises:
        DataError: naming the file and line of the first problem found.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc}") from exc
    rows = fast_rows(data)
    if rows is None:
        rows = careful_rows(data, path)
    for check in CHECKS:
        check(rows, path)
    return rows.between(start, end)


def panel_of(rows: dict[str, PriceRows], tickers: Sequence[str]) -> PricePanel:
    """Lay the rows of each ticker out on the union of their dates, one column per ticker."""
    if not any(len(r.dates) for r in rows.values()):
        return empty_panel(tickers)
    index = np.unique(np.concatenate([r.dates for r in rows.values()]))
    values = np.full((len(FIELDS), len(index), len(tickers)), np.nan)
    for j, ticker in enumerate(tickers):
        found = rows[ticker]
        values[:, np.searchsorted(index, found.dates), j] = found.values.T
    dates = pd.DatetimeIndex(index, name="date")
    columns = pd.Index(list(tickers))
    return PricePanel(*(pd.DataFrame(v, index=dates, columns=columns) for v in values))


# -- the fast parser: typed columns, or None to hand over to the careful one ----------------


def fast_rows(data: bytes) -> PriceRows | None:
    """Parse a plain file with pyarrow; None when anything about it is unusual."""
    if not data.isascii() or b'"' in data:
        return None
    names = [c.strip().lower() for c in data.split(b"\n", 1)[0].decode().rstrip("\r").split(",")]
    if len(set(names)) != len(names) or any(c not in names for c in REQUIRED):
        return None  # the careful parser says what is wrong with the header (or accepts it)
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.csv as pcsv  # type: ignore[import-untyped]

    wanted = {name: f"c{i}" for i, name in enumerate(names) if name in ("date", *FIELDS)}
    types = {column: pa.float64() for column in wanted.values()}
    types[wanted["date"]] = pa.date32()
    try:
        table = pcsv.read_csv(
            pa.py_buffer(data),
            # One thread a file: ``fetch`` reads several files at once.
            read_options=pcsv.ReadOptions(
                column_names=[f"c{i}" for i in range(len(names))], skip_rows=1, use_threads=False
            ),
            convert_options=pcsv.ConvertOptions(
                column_types=types,
                include_columns=list(wanted.values()),
                null_values=[""],
                true_values=[],
                false_values=[],
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OverflowError, ValueError):
        return None
    if table.num_rows != _data_lines(data):
        return None  # blank lines, which pyarrow skips: the careful parser numbers lines
    values = np.full((table.num_rows, len(FIELDS)), np.nan)
    for k, field in enumerate(FIELDS):
        if field in wanted:
            column = table.column(wanted[field])
            values[:, k] = column.to_numpy(zero_copy_only=False)
            # "nan" and "inf" parse as numbers here; the careful parser refuses them by line.
            if np.isfinite(values[:, k]).sum() + column.null_count != table.num_rows:
                return None
    dates = table.column(wanted["date"])
    if dates.null_count:
        return None  # an empty date cell: the careful parser names its line
    dates = dates.to_numpy(zero_copy_only=False)
    return PriceRows(np.asarray(dates, dtype="datetime64[D]").astype(DATES), values)


def _data_lines(data: bytes) -> int:
    """Return the lines after the header, or -1 for line ends other than \\n and \\r\\n."""
    ends = data.count(b"\n")
    if data.count(b"\r") not in (0, ends):
        return -1
    return ends - 1 if data.endswith(b"\n") else ends


# -- the careful parser: every cell as text, the first bad one named by line ---------------


def careful_rows(data: bytes, path: Path) -> PriceRows:
    if not data.strip():
        raise DataError(f"{path}:1: empty file; expected a header {','.join(('date', *FIELDS))}")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=True)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{path}: cannot read as CSV: {exc}") from exc
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    _check_header(list(raw.columns), path)
    # Line numbers: the header is line 1, so row i is line i + 2.
    lines = np.arange(len(raw)) + 2
    dates = _dates(raw["date"], path, lines)
    values = np.column_stack([_numeric(raw, f, path, lines) for f in FIELDS])
    return PriceRows(dates, values.reshape(len(raw), len(FIELDS)))


def _check_header(columns: list[str], path: Path) -> None:
    twice = sorted({c for c in columns if columns.count(c) > 1})
    if twice:
        raise DataError(f"{path}:1: column(s) {', '.join(twice)} appear more than once")
    absent = [c for c in REQUIRED if c not in columns]
    if absent:
        raise DataError(
            f"{path}:1: missing column(s) {', '.join(absent)}; "
            f"expected {','.join(('date', *FIELDS))}"
        )


def _dates(text: pd.Series, path: Path, lines: np.ndarray) -> np.ndarray:
    dates = pd.to_datetime(text.str.strip(), format="%Y-%m-%d", errors="coerce")
    bad = dates.isna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"{path}:{lines[i]}: unparseable date {text.iloc[i]!r} (want YYYY-MM-DD)")
    return np.asarray(dates.to_numpy(), dtype=DATES)


def _numeric(raw: pd.DataFrame, column: str, path: Path, lines: np.ndarray) -> np.ndarray:
    if column not in raw.columns:
        return np.full(len(raw), np.nan)
    text = raw[column].str.strip()
    values = pd.Series(pd.to_numeric(text.where(text != ""), errors="coerce"), dtype="float64")
    bad = ((values.isna() & (text != "")) | np.isinf(values)).to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        shown = raw[column].iloc[i]
        raise DataError(f"{path}:{lines[i]}: column {column}: not a finite number {shown!r}")
    return values.to_numpy(dtype="float64")


# -- checks on the typed rows, whichever parser produced them ------------------------------


def check_order(rows: PriceRows, path: Path) -> None:
    """Dates must increase strictly: a repeated or earlier date names its line."""
    values = rows.dates
    if len(values) < 2:
        return
    step = values[1:] - values[:-1]
    dup = step == np.timedelta64(0)
    if dup.any():
        i = int(np.argmax(dup)) + 1
        raise DataError(f"{path}:{i + 2}: duplicate date {pd.Timestamp(values[i]).date()}")
    back = step < np.timedelta64(0)
    if back.any():
        i = int(np.argmax(back)) + 1
        raise DataError(
            f"{path}:{i + 2}: dates not sorted: {pd.Timestamp(values[i]).date()} "
            f"comes after {pd.Timestamp(values[i - 1]).date()}"
        )


def check_positive(rows: PriceRows, path: Path) -> None:
    """Adjusted closes, where known, must be above zero (returns divide by them)."""
    prices = rows.values[:, FIELDS.index("adj_close")]
    nonpositive = prices <= 0
    if nonpositive.any():
        i = int(np.argmax(nonpositive))
        raise DataError(f"{path}:{i + 2}: adj_close must be positive, got {prices[i]:g}")


Check = Callable[[PriceRows, Path], None]
CHECKS: tuple[Check, ...] = (check_order, check_positive)
"""Checks every file's rows pass, in this order; each raises DataError naming a line."""


def _day(value: date) -> np.datetime64:
    day: np.datetime64 = np.datetime64(pd.Timestamp(value).date(), "D").astype(DATES)
    return day
