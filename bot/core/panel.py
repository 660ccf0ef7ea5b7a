"""The price panel every part of rotabot reads: one wide frame per price field.

Pure: frames in, frames out. Dates are tz-naive session labels (midnight), sorted and unique;
columns are upper-case tickers; values are float64 with NaN for unknown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

FIELDS = ("open", "high", "low", "close", "adj_close", "volume")


@dataclass(frozen=True, slots=True)
class PricePanel:
    """Daily bars for many tickers.

    Each attribute is a DataFrame indexed by session date (``DatetimeIndex`` named ``date``)
    with one float column per ticker. ``adj_close`` is split- and dividend-adjusted and is the
    one to use for returns; ``close`` is the price as traded.
    """

    open: pd.DataFrame
    high: pd.DataFrame
    low: pd.DataFrame
    close: pd.DataFrame
    adj_close: pd.DataFrame
    volume: pd.DataFrame

    @property
    def tickers(self) -> list[str]:
        return [str(c) for c in self.adj_close.columns]

    @property
    def dates(self) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(self.adj_close.index)

    def field(self, name: str) -> pd.DataFrame:
        frame: pd.DataFrame = getattr(self, name)
        return frame

    def ticker_frame(self, ticker: str) -> pd.DataFrame:
        """Return one ticker's bars: index date, columns FIELDS, rows with any known value."""
        frame = pd.DataFrame({f: self.field(f)[ticker] for f in FIELDS})
        return frame.dropna(how="all")

    def upto(self, asof: date | pd.Timestamp) -> PricePanel:
        """Return the panel cut after ``asof`` (inclusive): what was known at that close."""
        end = pd.Timestamp(asof)
        return PricePanel(*(self.field(f).loc[:end] for f in FIELDS))

    def last_valid(self) -> dict[str, pd.Timestamp | None]:
        """Return each ticker's last date with a known adj_close (None when it has none)."""
        out: dict[str, pd.Timestamp | None] = {}
        for t in self.tickers:
            idx = self.adj_close[t].last_valid_index()
            out[t] = pd.Timestamp(str(idx)) if idx is not None else None
        return out


def empty_panel(tickers: Sequence[str] = ()) -> PricePanel:
    index = pd.DatetimeIndex([], name="date")
    frame = pd.DataFrame(index=index, columns=list(tickers), dtype="float64")
    return PricePanel(*(frame.copy() for _ in FIELDS))


def panel_from_long(long: pd.DataFrame, tickers: Sequence[str] | None = None) -> PricePanel:
    """Pivot a long frame (columns ticker, date, and FIELDS) into a PricePanel.

    ``date`` may be ISO text or datetime. Tickers asked for but absent get all-NaN columns, so
    callers can see what is missing instead of failing on a KeyError.
    """
    if long.empty:
        return empty_panel(tickers or ())
    dates = pd.to_datetime(long["date"])
    codes, uniques = pd.factorize(long["ticker"])
    order = list(tickers) if tickers is not None else sorted(str(u) for u in uniques)
    index = pd.DatetimeIndex(np.unique(dates.to_numpy()), name="date")
    row = index.get_indexer(pd.DatetimeIndex(dates))
    col_of = {str(t): i for i, t in enumerate(order)}
    col = np.array([col_of.get(str(u), -1) for u in uniques])[codes]
    keep = col >= 0
    frames = []
    for f in FIELDS:
        values = np.full((len(index), len(order)), np.nan)
        values[row[keep], col[keep]] = long[f].to_numpy(dtype="float64", na_value=np.nan)[keep]
        frames.append(pd.DataFrame(values, index=index, columns=pd.Index(order)))
    return PricePanel(*frames)


def panel_to_long(panel: PricePanel) -> pd.DataFrame:
    """Return the panel as a long frame (ticker, date as ISO text, FIELDS), rows with data only."""
    parts = []
    for t in panel.tickers:
        frame = panel.ticker_frame(t)
        if frame.empty:
            continue
        frame = frame.reset_index()
        frame.insert(0, "ticker", t)
        frame["date"] = frame["date"].dt.strftime("%Y-%m-%d")
        parts.append(frame)
    if not parts:
        return pd.DataFrame(columns=["ticker", "date", *FIELDS])
    return pd.concat(parts, ignore_index=True)


def missing_on(panel: PricePanel, tickers: Sequence[str], day: pd.Timestamp) -> list[str]:
    """Return tickers that have prices before ``day`` but none on it (listed, bar missing)."""
    adj = panel.adj_close[list(tickers)]
    before = adj.loc[: day - pd.Timedelta(days=1)].notna().any()
    on = adj.loc[day] if day in adj.index else pd.Series(np.nan, index=adj.columns)
    return [str(t) for t in adj.columns if before[t] and pd.isna(on[t])]


def complete_sessions(panel: PricePanel, tickers: Sequence[str]) -> pd.DatetimeIndex:
    """Return the sessions on which every already-listed ticker has a price."""
    known = panel.adj_close[list(tickers)].notna()
    listed = known.cummax()
    ok = (known | ~listed).all(axis=1)
    return pd.DatetimeIndex(known.index[ok.to_numpy()])
