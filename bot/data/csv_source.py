"""Read prices from a folder of ``<TICKER>.csv`` files (date,open,high,low,close,adj_close,volume).

Every problem is reported with the file and line number, so the user can open the file and
fix it. Empty fields are allowed and mean "unknown".

Two parsers, one set of rules. The fast one hands a well-formed file to pyarrow's CSV reader
with typed columns (a millisecond for 16 years of bars); it declines anything unusual (quotes,
blank lines, non-ASCII bytes, a repeated column, a cell it cannot type or that is not finite)
rather than guess. The careful one then reads every cell as text, as the reader always did,
and names the first bad line. Either way the rows end as typed arrays that the checks in
``CHECKS`` see (dates in order and on the calendar, none in the future, prices positive, at
least one price): a new check is one small function added there. A line with fewer or more
fields than the header (a file cut short) is refused by the careful parser. Across files, a
lone one-session jump (``bot.data.checks.jumps``) is refused with its file and line. Rows
before ``start`` are cut after the checks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from bot.core.panel import FIELDS, PricePanel, empty_panel
from bot.data.checks import BadPrices, Refusal, Rules, bad_date, bad_dates, jumps, why_bad
from bot.errors import DataError

REQUIRED = ("date", "adj_close")
log = logging.getLogger(__name__)
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

    def __init__(self, folder: Path, rules: Rules | None = None) -> None:
        self.folder = Path(folder)
        self.rules = rules or Rules()

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
        if self.rules.calendar:  # built once here, not by several reading threads at once
            from bot.data.calendar import sessions

            sessions(self.rules.calendar, date.today(), date.today())
        # pyarrow parses a small file on one thread and releases the GIL: read several at once.
        with ThreadPoolExecutor(max_workers=min(4, max(len(wanted), 1))) as pool:
            found = pool.map(lambda t: read_price_csv(self.path_for(t), rules=self.rules), wanted)
            rows = dict(zip(wanted, found, strict=True))
        _release_parser_memory()
        # Holidays and jumps are judged against the other files, over every row.
        self._check_holidays(rows)
        self._check_jumps(rows)
        return panel_of({t: r.between(start, end) for t, r in rows.items()}, tickers)

    def _check_holidays(self, rows: dict[str, PriceRows]) -> None:
        """A weekday that is no session is refused in a file that has it alone (a stray row);
        one every file has is the data's own calendar (a vendor listing a holiday): kept, with
        a note at INFO (test data and some vendors list weekday holidays in every file)."""
        found = {t: r.dates[bad_dates(r.dates, self.rules)] for t, r in rows.items()}
        if not any(len(d) for d in found.values()):
            return
        shared = set.intersection(*(set(d.tolist()) for d in found.values()))
        stray = [(d, t) for t, days in found.items() for d in days.tolist() if d not in shared]
        if stray:
            day, ticker = min(stray)
            line = int(np.searchsorted(rows[ticker].dates, day)) + 2
            why = why_bad(pd.Timestamp(day).date(), self.rules)
            raise DataError(f"{self.path_for(ticker)}:{line}: {why}")
        days = ", ".join(str(pd.Timestamp(d).date()) for d in sorted(shared)[:3])
        log.info(
            "%s: every file lists %d day(s) that are not %s sessions (%s%s); kept as sessions",
            self.folder,
            len(shared),
            self.rules.calendar,
            days,
            " ..." if len(shared) > 3 else "",
        )

    def _check_jumps(self, rows: dict[str, PriceRows]) -> None:
        adj = FIELDS.index("adj_close")
        frame = panel_of(rows, list(rows)).adj_close if len(rows) > 1 else None
        if frame is None:
            only = next(iter(rows.values()), None)
            if only is None:
                return
            index = pd.DatetimeIndex(only.dates)
            frame = pd.DataFrame({t: only.values[:, adj] for t in rows}, index=index)
        found = jumps(frame, self.rules.max_move)
        if not found:
            return
        first = found[0]
        line = int(np.searchsorted(rows[first.ticker].dates, _day(first.day))) + 2
        where = f"{self.path_for(first.ticker)}:{line}"
        raise BadPrices([Refusal(first.ticker, first.day, first.reason(), where)])


def read_price_csv(
    path: Path, start: date | None = None, end: date | None = None, rules: Rules | None = None
) -> PriceRows:
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
        check(rows, path, rules or Rules())
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
    _check_field_counts(data, path)
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


def _check_field_counts(data: bytes, path: Path) -> None:
    """Every line holds as many fields as the header: a short one was cut (``...,216.85,21``
    is not a price of 21), a long one has a stray comma."""
    import csv
    import io

    reader = csv.reader(io.StringIO(data.decode("utf-8", errors="replace"), newline=""))
    width = 0
    for cells in reader:
        if not cells or not "".join(cells).strip():
            continue  # a blank line (pandas skips those before the header, too)
        if not width:
            width = len(cells)
            continue
        if len(cells) != width:
            cut = " (cut short?)" if len(cells) < width else ""
            raise DataError(
                f"{path}:{reader.line_num}: {len(cells)} field(s) where the header has {width}{cut}"
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


def check_has_prices(rows: PriceRows, path: Path, rules: Rules) -> None:
    """A configured ticker must have prices: a file of only its header is refused."""
    if not np.isfinite(rows.values[:, FIELDS.index("adj_close")]).any():
        what, line = ("only a header", 1) if len(rows.dates) == 0 else ("no adj_close", 2)
        raise DataError(f"{path}:{line}: no prices ({what}); a configured ticker needs its bars")


def check_dates(rows: PriceRows, path: Path, rules: Rules) -> None:
    """No date is a weekend day or after today (holidays: ``CsvSource._check_holidays``)."""
    bad = bad_date(rows.dates, rules, holidays=False)
    if bad is not None:
        raise DataError(f"{path}:{bad[0] + 2}: {bad[1]}")


def check_order(rows: PriceRows, path: Path, rules: Rules) -> None:
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


def check_positive(rows: PriceRows, path: Path, rules: Rules) -> None:
    """Adjusted closes, where known, must be above zero (returns divide by them)."""
    prices = rows.values[:, FIELDS.index("adj_close")]
    nonpositive = prices <= 0
    if nonpositive.any():
        i = int(np.argmax(nonpositive))
        raise DataError(f"{path}:{i + 2}: adj_close must be positive, got {prices[i]:g}")


Check = Callable[[PriceRows, Path, Rules], None]
CHECKS: tuple[Check, ...] = (check_has_prices, check_order, check_dates, check_positive)
"""Checks every file's rows pass, in this order; each raises DataError naming a line."""


def _day(value: date) -> np.datetime64:
    day: np.datetime64 = np.datetime64(pd.Timestamp(value).date(), "D").astype(DATES)
    return day


def _release_parser_memory() -> None:
    """Hand the memory pyarrow's allocator kept from parsing back to the system: about 40 MB
    of the default files, which would otherwise stay in every process's footprint (a sweep's
    peak, a daemon's resident size). Nothing to do when pyarrow was not used."""
    import sys

    pa = sys.modules.get("pyarrow")
    if pa is not None:
        pa.default_memory_pool().release_unused()
