"""Intraday bars from Yahoo Finance through yfinance: the live source of ``moves_at``'s bars.

``YahooBars.fetch`` asks one session's bars of every watched ticker in a single
``yf.download`` call and returns them shaped as ``bot.data.intraday.read_bars`` does: per
ticker a frame indexed by the aware UTC bar start, with a float ``close``. A ticker Yahoo does
not know, or that has no bar of that session yet, is left out, so that ``moves_at`` names it.

Why it looks the way it does:

* A check runs every few minutes and simply skips when Yahoo cannot answer; the next check is
  the retry. So nothing here sleeps or retries: a rate limit (HTTP 429) or a network that is
  gone becomes one ``DataUnavailable`` (``YahooRateLimited``, ``YahooUnreachable``) with a
  one-line reason, and never the "possibly delisted" yfinance would say about either.
* ``yf.download`` catches every exception itself and only logs it, at the end, as one line
  per error: ``['AAA', 'BBB']: YFRateLimitError('Too Many Requests. ...')``. Those lines are
  held back (``bot.data.yahoo_log``) and read to learn why a ticker came back empty.
* Before downloading, the daily source's reachability probe runs (under a hard deadline):
  yfinance's own cookie request waits 30 s on a silent network, per ticker thread.
* yfinance memoises chart responses of ranges that lie in the past (a session already closed),
  so they are forgotten before each download, or a failed answer would be served again.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from bot.data.yahoo import (
    YahooRateLimited,
    YahooSource,
    YahooUnreachable,
    _forget_memoised_responses,
    _new_session,
    _use_cache_folder,
)
from bot.data.yahoo_log import _NETWORK, short, yfinance_log_summary
from bot.errors import DataUnavailable

log = logging.getLogger(__name__)

EXCHANGE_ZONE = "America/New_York"
# How yf.download reports each failed ticker once it is done: "['AAA', 'BBB']: Error('...')".
_FAILED_LINE = re.compile(r"^\[(?P<tickers>[^\]]*)\]: (?P<kind>\w+)\((?P<detail>.*)\)$", re.S)
_RATE_LIMIT = {"YFRateLimitError"}
_MAX_THREADS = 4  # as the daily source: Yahoo throttles bursts from one client
_EMPTY = pd.DataFrame({"close": []}, dtype="float64")


@dataclass(frozen=True, slots=True)
class _Failed:
    """Why yfinance said one ticker failed: the exception's class name and its text."""

    kind: str
    detail: str


class YahooBars:
    """One session's intraday bars of many tickers from Yahoo Finance, in one batch."""

    def __init__(
        self,
        interval: str = "5m",
        session: Any = None,
        *,
        cache_dir: Path | None = None,
        zone: str = EXCHANGE_ZONE,
        timeout: float = 10.0,
        probe_timeout: float = 5.0,
        threads: int = _MAX_THREADS,
    ) -> None:
        """
        Args:
            interval: Yahoo's bar length (5m, 15m, ...).
            session: a requests or curl_cffi session; None: one like yfinance's own.
            cache_dir: where yfinance keeps its caches (in ``yfinance/``, as the daily
                source); None leaves them where they are.
            zone: the exchange's time zone: a bar belongs to the session of its date there.
        """
        self.interval = interval
        self.session = session if session is not None else _new_session()
        self.cache_dir = cache_dir
        self.zone = ZoneInfo(zone)
        self.timeout = timeout
        self.threads = threads
        # Only its reachability probe is used: it never touches the folder.
        self._probe = YahooSource(
            cache_dir or Path(), session=self.session, probe_timeout=probe_timeout
        )

    def fetch(self, tickers: Sequence[str], day: date) -> dict[str, pd.DataFrame]:
        """Return each ticker's regular-session bars of ``day`` (index: aware UTC bar start,
        named ``datetime``, sorted; float column ``close``); tickers without one are left out.

        Raises:
            YahooUnreachable: Yahoo did not answer (within ``probe_timeout`` seconds), or the
                connection failed for every ticker.
            YahooRateLimited: Yahoo answered HTTP 429 for a ticker that came back empty.
        """
        wanted = list(dict.fromkeys(tickers))
        if not wanted:
            return {}
        self._probe.check_reachable(wanted)
        if self.cache_dir is not None:
            _use_cache_folder(self._probe.yfinance_cache)
        with yfinance_log_summary(log) as summary:
            found = _by_ticker(self._download(wanted, day), day, self.zone)
            # download() asks, and labels, every ticker in upper case.
            bars = {t: b for t in wanted if not (b := found.get(t.upper(), _EMPTY)).empty}
            failed = _failures(summary.records)
            # A ticker without bars is named by moves_at, and a rate limit or a lost network
            # by the exception below: yfinance's own words ("possibly delisted") stay at INFO.
            summary.succeeded = True
        _raise_for(failed, [t for t in wanted if t not in bars], len(wanted))
        return bars

    def _download(self, tickers: list[str], day: date) -> pd.DataFrame:
        import yfinance as yf

        _forget_memoised_responses()
        # Exceptions, not log lines, from the layers under download(): it catches them all
        # and logs each by its class name, which then says "429" rather than "delisted".
        yf.config.debug.hide_exceptions = False
        # yfinance 1.7 still uses pandas' deprecated ``inplace=``: not ours, not actionable.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*inplace keyword.*")
            try:
                data = yf.download(
                    tickers,
                    start=day,
                    end=day + timedelta(days=1),  # exclusive, in the exchange's time zone
                    interval=self.interval,
                    prepost=False,
                    group_by="ticker",
                    auto_adjust=False,
                    actions=False,
                    repair=False,
                    progress=False,
                    threads=max(1, min(self.threads, len(tickers))),
                    timeout=self.timeout,
                    session=self.session,
                )
            except Exception as exc:  # download() catches per ticker; this is its set-up
                raise DataUnavailable(
                    f"yfinance failed before asking Yahoo for intraday bars: {short(str(exc))}",
                    missing=tickers,
                ) from exc
        return data if isinstance(data, pd.DataFrame) else pd.DataFrame()


def _by_ticker(data: pd.DataFrame, day: date, zone: ZoneInfo) -> dict[str, pd.DataFrame]:
    """download()'s frame (columns: ticker, field; index: exchange-time bar starts) as
    ``read_bars``' frames of ``day``, keyed by the ticker as download() spells it."""
    stamps = pd.DatetimeIndex(data.index)
    if data.empty or stamps.tz is None or not isinstance(data.columns, pd.MultiIndex):
        return {}  # a tz-naive index: no ticker had a single bar
    on_day = stamps.tz_convert(zone).date == day
    index = pd.DatetimeIndex(stamps.tz_convert("UTC")[on_day], name="datetime")
    out: dict[str, pd.DataFrame] = {}
    for ticker in data.columns.get_level_values(0).unique():
        if (str(ticker), "Close") not in data.columns:
            continue
        close = data[(str(ticker), "Close")].to_numpy(dtype="float64", na_value=np.nan)[on_day]
        frame = pd.DataFrame({"close": close}, index=index)
        out[str(ticker)] = frame[frame["close"].notna()].sort_index()
    return out


def _failures(records: Sequence[logging.LogRecord]) -> dict[str, _Failed]:
    """Each failed ticker (upper case) and why, from download()'s closing error lines."""
    failed: dict[str, _Failed] = {}
    for record in records:
        match = _FAILED_LINE.match(record.getMessage().strip())
        if match is None:
            continue
        for name in re.findall(r"'([^']*)'", match["tickers"]):
            failed[name] = _Failed(match["kind"], match["detail"].strip("'\""))
    return failed


def _raise_for(failed: dict[str, _Failed], missing: list[str], asked: int) -> None:
    """Raise when a ticker came back empty because of a rate limit or of the network: the
    check must be skipped for that reason, not for "no bar yet"."""
    why = {t: failed[t.upper()] for t in missing if t.upper() in failed}
    limited = [t for t, f in why.items() if f.kind in _RATE_LIMIT]
    if limited:
        raise YahooRateLimited(
            f"Yahoo Finance rate-limited the intraday request (HTTP 429, too many requests) "
            f"for {', '.join(limited)}; the next check asks again",
            missing=limited,
        )
    network = [f for f in why.values() if f.kind in _NETWORK]
    if missing and len(missing) == asked and len(network) == len(missing):
        reason = f"{network[0].kind}: {short(network[0].detail)}"
        raise YahooUnreachable(f"cannot reach Yahoo Finance for intraday bars: {reason}", missing)
