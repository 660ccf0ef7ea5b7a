"""Daily bars from Yahoo Finance through yfinance, made to fail loudly.

yfinance (1.7) is convenient but quiet about failure, and this adapter exists to undo that:

* ``yf.download`` never raises for a rate limit (HTTP 429), an unknown symbol or a network
  error. It logs the problem and returns that ticker as an all-NaN column. So completeness is
  checked here, per ticker, and only the tickers still missing are asked for again after an
  exponential backoff; what is still missing at the end becomes ``DataUnavailable``.
* yfinance already retries a failed request once itself (after switching its cookie strategy),
  so a single 429 never reaches us; ours is the slower, outer retry.
* yfinance memoises chart responses of past date ranges for the life of the process. A retry,
  or a re-fetch after Yahoo rewrote the adjusted history, would be answered from that memo
  with the same stale or failed answer, so it is cleared before every download.
* Its caches (exchange time zone per ticker, cookies) live in SQLite files whose folder can be
  moved with ``set_tz_cache_location``, but only before the first use in the process: the
  cache objects keep the database they opened. They are dropped when the folder changes.
  The folder is process-wide, so the last ``YahooSource`` to fetch decides where it is.
  A fresh time-zone cache opened by several download threads at once can fail with "database
  is locked" (that ticker then comes back empty), so it is opened before downloading.
* ``end`` is exclusive in yfinance and inclusive here, and ``auto_adjust`` defaults to True,
  which would overwrite the as-traded close with the adjusted one. Yahoo also likes to append
  today's live bar whatever range was asked, so rows outside [start, end] are cut here too.
* A range with no session at all (a weekend) looks exactly like an unknown ticker to yfinance;
  callers ask for ranges that hold sessions.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import requests

from bot.core.panel import FIELDS, PricePanel, empty_panel, panel_from_long
from bot.errors import DataUnavailable

log = logging.getLogger(__name__)

_YAHOO_COLUMNS = {
    "open": "Open",
    "high": "High",
    "low": "Low",
    "close": "Close",
    "adj_close": "Adj Close",
    "volume": "Volume",
}
# Yahoo throttles bursts from one client; a few parallel requests are as fast as it allows.
_MAX_THREADS = 4
_LONG_COLUMNS = ["ticker", "date", *FIELDS]


class YahooSource:
    """A PriceSource over Yahoo Finance (via yfinance), with per-ticker retries."""

    name = "yahoo"

    def __init__(
        self,
        cache_dir: Path,
        *,
        session: requests.Session | None = None,
        retries: int = 3,
        backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 20.0,
        threads: int = _MAX_THREADS,
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.session = session
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self.timeout = timeout
        self.threads = threads

    @property
    def yfinance_cache(self) -> Path:
        """The folder yfinance keeps its own SQLite caches in."""
        return self.cache_dir / "yfinance"

    def fetch(self, tickers: Sequence[str], start: date, end: date | None = None) -> PricePanel:
        """Return bars of ``tickers`` from ``start`` to ``end`` inclusive.

        Raises:
            DataUnavailable: some tickers still had no adjusted close after every retry (their
                names are in the message and in ``missing``), or yfinance itself failed.
        """
        wanted = list(dict.fromkeys(tickers))
        if not wanted or (end is not None and end < start):
            return empty_panel(wanted)
        _use_cache_folder(self.yfinance_cache)
        parts: list[pd.DataFrame] = []
        missing = wanted
        for attempt in range(self.retries + 1):
            if attempt:
                delay = self.backoff * 2 ** (attempt - 1)
                log.info("Yahoo gave nothing for %s; retrying in %.1fs", ", ".join(missing), delay)
                self.sleep(delay)
            long = self._download(missing, start, end)
            missing = _missing(long, missing)
            # A ticker asked again must not leave stray rows from the failed attempt behind.
            parts.append(long[~long["ticker"].isin(missing)])
            if not missing:
                return panel_from_long(pd.concat([p for p in parts if not p.empty]), wanted)
        raise DataUnavailable(
            f"Yahoo Finance returned no prices for {', '.join(missing)} "
            f"after {self.retries + 1} attempt(s)",
            missing=missing,
        )

    def _download(self, tickers: Sequence[str], start: date, end: date | None) -> pd.DataFrame:
        """One batched yf.download; return its rows within [start, end] as a long frame."""
        import yfinance as yf

        _forget_memoised_responses()
        threads = min(self.threads, len(tickers))
        try:
            # yfinance 1.7 still uses pandas' deprecated ``inplace=``; that noise is not ours
            # and users cannot act on it.
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*inplace keyword.*")
                data = yf.download(
                    list(tickers),
                    start=start,
                    end=end + timedelta(days=1) if end is not None else None,
                    interval="1d",
                    auto_adjust=False,
                    actions=False,
                    progress=False,
                    multi_level_index=True,
                    group_by="column",
                    threads=threads if threads > 1 else False,
                    timeout=self.timeout,
                    session=self.session,
                )
        except Exception as exc:
            raise DataUnavailable(
                f"yfinance failed while fetching {', '.join(tickers)}: {exc}", missing=tickers
            ) from exc
        return _within(_to_long(data, tickers), start, end)


def _use_cache_folder(folder: Path) -> None:
    """Point yfinance's SQLite caches at ``folder`` (created if needed)."""
    import yfinance as yf
    from yfinance import cache as yf_cache

    # Absolute, because yfinance opens the files lazily and the working directory may change.
    location = str(folder.resolve())
    from bot.store.db import private_folders

    private_folders(folder)  # owner-only, like the state folder it sits in
    if yf_cache._TzDBManager.get_location() == location:
        return
    yf.set_tz_cache_location(location)
    # The cache objects hold the database they opened first and would keep writing there.
    for manager, attribute in (
        (yf_cache._TzCacheManager, "_tz_cache"),
        (yf_cache._CookieCacheManager, "_Cookie_cache"),
        (yf_cache._ISINCacheManager, "_isin_cache"),
    ):
        setattr(manager, attribute, None)
    # A fresh cache database is switched to WAL mode when first opened; several download
    # threads doing that at once fail with "database is locked", so open it here, once.
    yf_cache.get_tz_cache().lookup("")


def _forget_memoised_responses() -> None:
    from yfinance.data import YfData

    YfData.cache_get.cache_clear()


def _to_long(data: Any, tickers: Sequence[str]) -> pd.DataFrame:
    """Turn yf.download's (field, TICKER) columns into rows (ticker, date, FIELDS)."""
    if not isinstance(data, pd.DataFrame) or data.empty:
        return pd.DataFrame(columns=_LONG_COLUMNS)
    dates = _session_dates(pd.DatetimeIndex(data.index))
    parts = [rows for t in tickers if not (rows := _ticker_rows(data, t, dates)).empty]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=_LONG_COLUMNS)


def _ticker_rows(data: pd.DataFrame, ticker: str, dates: pd.DatetimeIndex) -> pd.DataFrame:
    # yfinance upper-cases symbols; the row keeps the name the caller asked for.
    values = {f: _column(data, (col, ticker.upper())) for f, col in _YAHOO_COLUMNS.items()}
    frame = pd.DataFrame({"ticker": ticker, "date": dates, **values})
    # Rows that exist only because another ticker traded that day are not this ticker's bars.
    return frame.dropna(how="all", subset=list(FIELDS))


def _column(data: pd.DataFrame, key: tuple[str, str]) -> np.ndarray[Any, np.dtype[np.float64]]:
    if key not in data.columns:
        return np.full(len(data), np.nan)
    return data[key].to_numpy(dtype="float64", na_value=np.nan)


def _session_dates(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Midnight, tz-naive session labels (yfinance may hand back exchange-local stamps)."""
    if index.tz is not None:
        index = index.tz_localize(None)
    return index.normalize()


def _within(long: pd.DataFrame, start: date, end: date | None) -> pd.DataFrame:
    keep = long["date"] >= pd.Timestamp(start)
    if end is not None:
        keep &= long["date"] <= pd.Timestamp(end)
    return long[keep]


def _missing(long: pd.DataFrame, tickers: Sequence[str]) -> list[str]:
    """Tickers without a single known adjusted close: Yahoo did not really answer for them."""
    found = set(long.loc[long["adj_close"].notna(), "ticker"])
    return [t for t in tickers if t not in found]
