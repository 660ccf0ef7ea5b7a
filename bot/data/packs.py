"""Column packs: each ticker's whole history as one binary blob, for fast reads.

The ``prices`` table (one row per ticker and ISO date) is the truth and is what refreshes
write. Turning ~100k SQLite rows into Python objects costs ~200 ms, so each write also stores,
in the same transaction, the ticker's history as contiguous arrays: day numbers (int64 days
since 1970-01-01) followed by the six price fields (float64). Reading 25 tickers is then 25
blobs and some numpy.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd

from bot.core.panel import FIELDS, PricePanel, empty_panel

_EPOCH = date(1970, 1, 1)


def rebuild(conn: sqlite3.Connection, tickers: Sequence[str]) -> None:
    """Rewrite the packs of ``tickers`` from the ``prices`` table (call inside a transaction)."""
    for t in tickers:
        rows = conn.execute(
            f"SELECT date, {', '.join(FIELDS)} FROM prices WHERE ticker = ? ORDER BY date", (t,)
        ).fetchall()
        if not rows:
            conn.execute("DELETE FROM price_packs WHERE ticker = ?", (t,))
            continue
        days = pd.to_datetime([r[0] for r in rows]).to_numpy() - np.datetime64(_EPOCH, "D")
        values = np.array([r[1:] for r in rows], dtype="float64")  # None -> nan
        blob = days.astype("timedelta64[D]").astype("int64").tobytes() + values.T.tobytes()
        conn.execute(
            "INSERT OR REPLACE INTO price_packs (ticker, rows, data) VALUES (?, ?, ?)",
            (t, len(rows), blob),
        )


def read(
    conn: sqlite3.Connection, tickers: Sequence[str], start: date | None, end: date | None
) -> PricePanel:
    """Return the packed histories of ``tickers`` between ``start`` and ``end`` inclusive."""
    marks = ", ".join("?" for _ in tickers) or "NULL"
    found = dict(
        (t, (n, blob))
        for t, n, blob in conn.execute(
            f"SELECT ticker, rows, data FROM price_packs WHERE ticker IN ({marks})",
            list(tickers),
        )
    )
    lo = _day(start) if start else np.iinfo("int64").min
    hi = _day(end) if end else np.iinfo("int64").max
    series: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for t, (n, blob) in found.items():
        days = np.frombuffer(blob, dtype="int64", count=n)
        values = np.frombuffer(blob, dtype="float64", offset=8 * n).reshape(len(FIELDS), n)
        keep = (days >= lo) & (days <= hi)
        series[t] = (days[keep], values[:, keep])
    if not series:
        return empty_panel(tickers)
    all_days = np.unique(np.concatenate([d for d, _ in series.values()]))
    # Microseconds: the unit pandas gives ISO date strings, so every panel compares alike.
    index = pd.DatetimeIndex(all_days.astype("datetime64[D]").astype("datetime64[us]"), name="date")
    grids = np.full((len(FIELDS), len(all_days), len(tickers)), np.nan)
    for col, t in enumerate(tickers):
        if t in series:
            days, values = series[t]
            grids[:, np.searchsorted(all_days, days), col] = values
    columns = pd.Index(list(tickers))
    return PricePanel(*(pd.DataFrame(g, index=index, columns=columns) for g in grids))


def _day(d: date) -> int:
    return (d - _EPOCH).days
