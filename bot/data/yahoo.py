"""Daily bars from Yahoo Finance through yfinance, made to fail fast, loudly and clearly.

yfinance (1.7) is convenient but quiet about failure, and this adapter exists to undo that:

* Left to itself, yfinance turns every failure (no network, a rate limit, an unknown symbol)
  into log lines and an empty frame: "possibly delisted; no timezone found", four times per
  ticker, after half a minute of retries. So before anything else (and before any file is
  created) one request checks that Yahoo answers at all, under a hard deadline: no DNS, a
  refused connection or silence ends the command within seconds, in one line that says so
  (``YahooUnreachable``). Then each ticker's history is asked with yfinance's exceptions
  turned on, so every failure arrives as an exception that says what it is: a rate limit
  (HTTP 429, ``YFRateLimitError``) waits longer and has its own message
  (``YahooRateLimited``); a dropped connection stops the download at once; anything else
  (an unknown symbol) is asked again after an exponential backoff, that ticker only.
* yfinance's own log records are held back while it works (``bot.data.yahoo_log``): one
  summary line, a warning when the download failed, shown whole at DEBUG.
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
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor, as_completed
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bot.core.panel import FIELDS, PricePanel, empty_panel, panel_from_long
from bot.data.yahoo_log import (
    NO_DATA,
    Failure,
    classify,
    describe_network_error,
    yfinance_log_summary,
)
from bot.errors import DataUnavailable

log = logging.getLogger(__name__)

PROBE_URL = "https://query2.finance.yahoo.com/"
ADVICE = "check the network, or use --prices-dir DIR or --offline"
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
_PROBE_REUSE = 60.0  # seconds a successful probe vouches for Yahoo (a refresh fetches 2-3 times)


class YahooUnreachable(DataUnavailable):
    """Yahoo Finance did not answer at all: no DNS, a refused connection, a timeout."""


class YahooRateLimited(DataUnavailable):
    """Yahoo Finance answered HTTP 429 (too many requests) until we gave up."""


class YahooSource:
    """A PriceSource over Yahoo Finance (via yfinance), with per-ticker retries."""

    name = "yahoo"

    def __init__(
        self,
        cache_dir: Path,
        *,
        session: Any = None,
        retries: int = 3,
        backoff: float = 1.0,
        rate_limit_backoff: float = 15.0,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 20.0,
        probe_timeout: float = 5.0,
        threads: int = _MAX_THREADS,
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.session = session  # a requests or curl_cffi session; None: yfinance's default
        self.retries = retries
        self.backoff = backoff
        self.rate_limit_backoff = rate_limit_backoff
        self.sleep = sleep
        self.timeout = timeout
        self.probe_timeout = probe_timeout
        self.threads = threads
        self._answered_at = -_PROBE_REUSE

    @property
    def yfinance_cache(self) -> Path:
        """The folder yfinance keeps its own SQLite caches in."""
        return self.cache_dir / "yfinance"

    def fetch(self, tickers: Sequence[str], start: date, end: date | None = None) -> PricePanel:
        """Return bars of ``tickers`` from ``start`` to ``end`` inclusive.

        Raises:
            YahooUnreachable: Yahoo did not answer (within ``probe_timeout`` seconds).
            YahooRateLimited: still HTTP 429 after every retry.
            DataUnavailable: some tickers still had no adjusted close after every retry (their
                names are in the message and in ``missing``), or yfinance itself failed.
        """
        wanted = list(dict.fromkeys(tickers))
        if not wanted or (end is not None and end < start):
            return empty_panel(wanted)
        session = self.session if self.session is not None else _new_session()
        self.check_reachable(wanted, session)
        _use_cache_folder(self.yfinance_cache)
        with yfinance_log_summary(log) as summary:
            panel = self._fetch_with_retries(session, wanted, start, end)
            summary.succeeded = True
        return panel

    def check_reachable(self, tickers: Sequence[str] = (), session: Any = None) -> None:
        """Raise YahooUnreachable unless Yahoo answers one request within ``probe_timeout``.

        Any HTTP answer counts, even an error page: only the network is in question here.
        The request runs on a daemon thread with a hard deadline, because a resolver that
        never answers is not bound by the request's own timeout on every backend.
        """
        if time.monotonic() - self._answered_at < _PROBE_REUSE:
            return
        session = session if session is not None else self.session
        session = session if session is not None else _new_session()
        outcome: list[BaseException | None] = []

        def probe() -> None:
            try:
                session.get(PROBE_URL, timeout=self.probe_timeout, allow_redirects=False)
                outcome.append(None)
            except Exception as exc:  # judged below, in the caller's thread
                outcome.append(exc)

        worker = threading.Thread(target=probe, name="yahoo-probe", daemon=True)
        worker.start()
        worker.join(self.probe_timeout + 1.0)
        if outcome and outcome[0] is None:
            self._answered_at = time.monotonic()
            return
        failure = outcome[0] if outcome else None
        if failure is not None and not isinstance(failure, OSError):
            raise failure  # not the network (both HTTP backends raise OSErrors): a bug
        reason = (
            describe_network_error(failure, self.probe_timeout)
            if failure is not None
            else f"no answer within {self.probe_timeout:g} s"
        )
        raise YahooUnreachable(f"cannot reach Yahoo Finance: {reason}; {ADVICE}", tickers)

    def _fetch_with_retries(
        self, session: Any, wanted: list[str], start: date, end: date | None
    ) -> PricePanel:
        parts: list[pd.DataFrame] = []
        missing = wanted
        failures: dict[str, Failure] = {}
        for attempt in range(self.retries + 1):
            if attempt:
                self._wait(attempt, missing, failures)
            long, failures = self._download(session, missing, start, end)
            missing = _missing(long, missing)
            # A ticker asked again must not leave stray rows from the failed attempt behind.
            parts.append(long[~long["ticker"].isin(missing)])
            if not missing:
                return panel_from_long(pd.concat([p for p in parts if not p.empty]), wanted)
            if all(failures.get(t, NO_DATA).kind == "network" for t in missing):
                # The connection went away mid-download: the next attempts would only wait.
                reason = failures[missing[0]].detail
                raise YahooUnreachable(f"cannot reach Yahoo Finance: {reason}; {ADVICE}", missing)
        raise _gave_up(missing, failures, self.retries + 1)

    def _wait(self, attempt: int, missing: Sequence[str], failures: dict[str, Failure]) -> None:
        limited = [t for t in missing if failures.get(t, NO_DATA).kind == "rate_limit"]
        base = self.rate_limit_backoff if limited else self.backoff
        delay = base * 2 ** (attempt - 1)
        if limited:
            log.warning(
                "Yahoo Finance is rate limiting us (HTTP 429): asking again for %d ticker(s) "
                "in %.0f s",
                len(missing),
                delay,
            )
        else:
            log.info("Yahoo gave nothing for %s; retrying in %.1fs", ", ".join(missing), delay)
        self.sleep(delay)

    def _download(
        self, session: Any, tickers: Sequence[str], start: date, end: date | None
    ) -> tuple[pd.DataFrame, dict[str, Failure]]:
        """Ask each ticker's history (a few at a time); return the rows within [start, end]
        as a long frame, and why each ticker that failed did."""
        import yfinance as yf
        from yfinance.data import YfData

        _forget_memoised_responses()
        try:
            YfData(session=session)  # the process-wide client every Ticker below uses
        except Exception as exc:
            raise DataUnavailable(
                f"yfinance failed while fetching {', '.join(tickers)}: {exc}", missing=tickers
            ) from exc
        # Exceptions rather than log lines: they say why (429, DNS, unknown symbol). This
        # module is the process's only user of yfinance, so the global switch is ours.
        yf.config.debug.hide_exceptions = False
        stop = end + timedelta(days=1) if end is not None else None
        rows: list[pd.DataFrame] = []
        failures: dict[str, Failure] = {}
        network: Failure | None = None  # the first network failure: the rest are not asked
        # yfinance 1.7 still uses pandas' deprecated ``inplace=``; that noise is not ours and
        # users cannot act on it. Set here, around the threads: the filters are process-wide.
        with warnings.catch_warnings(), ThreadPoolExecutor(self._workers(tickers)) as pool:
            warnings.filterwarnings("ignore", message=".*inplace keyword.*")
            futures = {pool.submit(self._history, session, t, start, stop): t for t in tickers}
            for future in as_completed(futures):
                ticker = futures[future]
                try:
                    rows.append(_ticker_rows(future.result(), ticker))
                except CancelledError:
                    failures[ticker] = network or NO_DATA
                except Exception as exc:
                    failures[ticker] = classify(exc, self.timeout)
                    if failures[ticker].kind == "network" and network is None:
                        network = failures[ticker]
                        _cancel_pending(futures)
        long = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=_LONG_COLUMNS)
        return _within(long, start, end), failures

    def _workers(self, tickers: Sequence[str]) -> int:
        return max(1, min(self.threads, len(tickers)))

    def _history(self, session: Any, ticker: str, start: date, stop: date | None) -> Any:
        import yfinance as yf

        return yf.Ticker(ticker, session=session).history(
            start=start,
            end=stop,
            interval="1d",
            auto_adjust=False,
            actions=False,
            repair=False,
            timeout=self.timeout,
        )


def _new_session() -> Any:
    """The session yfinance would make itself (curl_cffi impersonating a browser, else
    requests), made here so the reachability probe travels the same way as the downloads."""
    from yfinance._http import new_session

    return new_session()


def _cancel_pending(futures: dict[Future[Any], str]) -> None:
    for future in futures:
        future.cancel()  # only those not started; the running ones finish on their own


def _gave_up(missing: Sequence[str], failures: dict[str, Failure], attempts: int) -> Exception:
    names = ", ".join(missing)
    if any(failures.get(t, NO_DATA).kind == "rate_limit" for t in missing):
        return YahooRateLimited(
            f"Yahoo Finance kept refusing with HTTP 429 (too many requests) for {names} after "
            f"{attempts} attempt(s): wait a few minutes and try again, or use --prices-dir DIR "
            "or --offline",
            missing=missing,
        )
    return DataUnavailable(
        f"Yahoo Finance returned no prices for {names} after {attempts} attempt(s)",
        missing=missing,
    )


def _use_cache_folder(folder: Path) -> None:
    """Point yfinance's SQLite caches at ``folder`` (created if needed)."""
    import yfinance as yf
    from yfinance import cache as yf_cache

    # Absolute, because yfinance opens the files lazily and the working directory may change.
    location = str(folder.resolve())
    from bot.store.db import private_folders

    private_folders(folder)  # owner-only, like the state folder
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


def _ticker_rows(data: Any, ticker: str) -> pd.DataFrame:
    """Turn one Ticker.history frame (Open, High, ..., Adj Close, Volume) into long rows."""
    if not isinstance(data, pd.DataFrame) or data.empty:
        return pd.DataFrame(columns=_LONG_COLUMNS)
    dates = _session_dates(pd.DatetimeIndex(data.index))
    values = {f: _column(data, col) for f, col in _YAHOO_COLUMNS.items()}
    frame = pd.DataFrame({"ticker": ticker, "date": dates, **values})
    # Rows without a single price (Yahoo's half-written bar) are not bars.
    return frame.dropna(how="all", subset=list(FIELDS))


def _column(data: pd.DataFrame, key: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    if key not in data.columns:
        return np.full(len(data), np.nan)
    return data[key].to_numpy(dtype="float64", na_value=np.nan)


def _session_dates(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Midnight, tz-naive session labels (yfinance hands back exchange-local stamps)."""
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
