"""A fake Yahoo Finance, served to the real yfinance through a requests transport adapter.

yfinance hard-codes ``https://query2.finance.yahoo.com`` (and fc.yahoo.com, guce.yahoo.com for
cookies and crumbs), so instead of a socket server the fake is a ``requests`` adapter mounted on
a session that the test hands to yfinance: no socket is opened at all. It answers the cookie and
crumb dance yfinance performs, and ``/v8/finance/chart/<TICKER>`` in Yahoo's JSON shape, built
from small per-ticker frames. Each ticker can be scripted to be rate limited (HTTP 429) a number
of times, to be unknown (Yahoo's 404 body), or to answer with a series that ends early. Every
request is recorded in ``received`` so tests can check what was asked for.

Intraday bars (``add_intraday``, built with ``make_intraday``) answer the chart requests with an
intraday ``interval`` (5m and the like), with the ``tradingPeriods`` yfinance needs to drop
pre- and post-market bars; a ticker served only intraday answers daily requests (yfinance's
time-zone lookup) from its bars summed up per session.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pandas as pd
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

NEW_YORK = "America/New_York"
CRUMB = "fake-crumb"
NOT_FOUND_BODY = {
    "chart": {
        "result": None,
        "error": {"code": "Not Found", "description": "No data found, symbol may be delisted"},
    }
}
_SESSION_OPEN = time(9, 30)
_SESSION_SECONDS = 23400  # 09:30 to 16:00
INTRADAY_INTERVALS = ("1m", "2m", "5m", "15m", "30m", "60m", "90m", "1h")


def make_bars(
    sessions: Sequence[str],
    close: npt.ArrayLike,
    adj_ratio: float = 0.9,
    volume: float = 1_000_000.0,
) -> pd.DataFrame:
    """Return daily bars (index: session dates; columns open/high/low/close/adj_close/volume).

    ``adj_close`` is ``close * adj_ratio`` so tests can tell the two apart.
    """
    closes = np.asarray(close, dtype="float64")
    return pd.DataFrame(
        {
            "open": closes - 0.5,
            "high": closes + 1.0,
            "low": closes - 1.0,
            "close": closes,
            "adj_close": closes * adj_ratio,
            "volume": np.full(len(closes), volume) + np.arange(len(closes)),
        },
        index=pd.DatetimeIndex(pd.to_datetime(list(sessions)), name="date"),
    )


def make_intraday(
    day: str, close: npt.ArrayLike, first: str = "09:30", every: str = "5min"
) -> pd.DataFrame:
    """Return one session's intraday bars (index: aware New York bar starts from ``first``,
    one each ``every``; columns open/high/low/close/volume)."""
    closes = np.asarray(close, dtype="float64")
    start = pd.Timestamp(f"{day} {first}", tz=NEW_YORK)
    index = pd.date_range(start, periods=len(closes), freq=every, name="datetime")
    return pd.DataFrame(
        {
            "open": closes - 0.05,
            "high": closes + 0.1,
            "low": closes - 0.1,
            "close": closes,
            "volume": np.full(len(closes), 10_000.0),
        },
        index=index,
    )


@dataclass(frozen=True)
class Recorded:
    """One request the fake received."""

    method: str
    host: str
    path: str
    params: Mapping[str, str]

    @property
    def chart_ticker(self) -> str | None:
        """The ticker of a chart request, None for anything else."""
        prefix = "/v8/finance/chart/"
        return self.path[len(prefix) :] if self.path.startswith(prefix) else None

    @property
    def is_history(self) -> bool:
        """True for a date-range chart request (what yf.download asks for prices)."""
        return self.chart_ticker is not None and "period1" in self.params

    @property
    def period1(self) -> date:
        """period1 as a New York calendar date (yfinance sends midnight exchange time)."""
        return _ny_date(int(self.params["period1"]))

    @property
    def period2(self) -> date:
        return _ny_date(int(self.params["period2"]))

    @property
    def is_intraday(self) -> bool:
        """True for a chart request with an intraday interval (5m and the like)."""
        return self.chart_ticker is not None and self.params.get("interval") in INTRADAY_INTERVALS


@dataclass
class _Listing:
    bars: pd.DataFrame
    timezone: str
    currency: str
    instrument_type: str
    rate_limited: int = 0
    timeouts: int = 0
    last: date | None = None
    nan_last: bool = False
    intraday: pd.DataFrame | None = None


@dataclass
class FakeYahoo:
    """The fake service; ``session()`` returns a requests session wired to it."""

    listings: dict[str, _Listing] = field(default_factory=dict)
    received: list[Recorded] = field(default_factory=list)
    visible_until: date | None = None  # bars after this date do not exist yet (a clock)
    hidden: set[str] = field(default_factory=set)  # served as unknown symbols for now
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(
        self,
        ticker: str,
        bars: pd.DataFrame,
        *,
        timezone: str = NEW_YORK,
        currency: str = "USD",
        instrument_type: str = "EQUITY",
    ) -> None:
        """Serve ``bars`` (see ``make_bars``) for ``ticker``; replaces what was served before."""
        with self._lock:
            old = self.listings.get(ticker)
            self.listings[ticker] = _Listing(bars.copy(), timezone, currency, instrument_type)
            if old is not None:  # daily bars replaced; intraday ones stay
                self.listings[ticker].intraday = old.intraday

    def add_intraday(self, ticker: str, bars: pd.DataFrame) -> None:
        """Serve intraday ``bars`` (see ``make_intraday``) for ``ticker``; replaces earlier ones.

        A ticker not served daily yet gets daily bars made from these (one per session), so
        the time-zone lookup yfinance makes first finds it.
        """
        bars = bars.sort_index()
        with self._lock:
            if ticker not in self.listings:
                self.listings[ticker] = _Listing(_daily_from(bars), NEW_YORK, "USD", "EQUITY")
            self.listings[ticker].intraday = bars.copy()

    def bars(self, ticker: str) -> pd.DataFrame:
        return self.listings[ticker].bars.copy()

    def rate_limit(self, ticker: str, times: int) -> None:
        """Answer the next ``times`` chart requests for ``ticker`` with HTTP 429."""
        with self._lock:
            self.listings[ticker].rate_limited = times

    def end_early(self, ticker: str, last: date) -> None:
        """Serve ``ticker`` only up to ``last`` (inclusive), as if Yahoo had not caught up."""
        with self._lock:
            self.listings[ticker].last = last

    def time_out(self, ticker: str, times: int) -> None:
        """Let the next ``times`` chart requests for ``ticker`` time out (no answer)."""
        with self._lock:
            self.listings[ticker].timeouts = times

    def nan_last_bar(self, ticker: str, on: bool = True) -> None:
        """Serve ``ticker``'s last visible bar with no prices (Yahoo's half-written bar)."""
        with self._lock:
            self.listings[ticker].nan_last = on

    def session(self) -> requests.Session:
        session = requests.Session()
        adapter = _Adapter(self)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    def history_requests(self, ticker: str | None = None) -> list[Recorded]:
        """Date-range chart requests, optionally for one ticker only, in arrival order."""
        with self._lock:
            seen = list(self.received)
        return [r for r in seen if r.is_history and (ticker is None or r.chart_ticker == ticker)]

    def chart_tickers(self, since: int = 0) -> set[str]:
        """Tickers of the chart requests received from request number ``since`` on."""
        with self._lock:
            seen = self.received[since:]
        return {t for r in seen if (t := r.chart_ticker) is not None}

    # -- serving ----------------------------------------------------------------------------

    def answer(self, request: requests.PreparedRequest) -> tuple[int, str, bytes]:
        """Return (status, content type, body) for one request and record it."""
        url = urlsplit(request.url or "")
        recorded = Recorded(
            request.method or "GET", url.hostname or "", url.path, dict(parse_qsl(url.query))
        )
        with self._lock:
            self.received.append(recorded)
            ticker = recorded.chart_ticker
            if ticker is not None:
                return self._chart(ticker, recorded.params)
        return _static(recorded)

    def intraday_requests(self, ticker: str | None = None) -> list[Recorded]:
        """Intraday chart requests, optionally for one ticker only, in arrival order."""
        with self._lock:
            seen = list(self.received)
        return [r for r in seen if r.is_intraday and (ticker is None or r.chart_ticker == ticker)]

    def _chart(self, ticker: str, params: Mapping[str, str]) -> tuple[int, str, bytes]:
        listing = self.listings.get(ticker)
        if listing is None or ticker in self.hidden:
            return 404, "application/json", json.dumps(NOT_FOUND_BODY).encode()
        if listing.timeouts > 0:
            listing.timeouts -= 1
            raise requests.exceptions.ReadTimeout("fake Yahoo: read timed out")
        if listing.rate_limited > 0:
            listing.rate_limited -= 1
            return 429, "text/html", b"Too Many Requests\r\n"
        if params.get("interval") in INTRADAY_INTERVALS:
            return (
                200,
                "application/json",
                json.dumps(intraday_body(ticker, listing, params)).encode(),
            )
        if self.visible_until is not None:
            last = min(listing.last or self.visible_until, self.visible_until)
            listing = replace(listing, last=last)
        body = chart_body(ticker, listing, params)
        return 200, "application/json", json.dumps(body).encode()


def chart_body(ticker: str, listing: _Listing, params: Mapping[str, str]) -> dict[str, Any]:
    """Build Yahoo's v8 chart JSON for the sessions the query asks for."""
    bars = _served(listing)
    stamps = np.array([_open_stamp(d, listing.timezone) for d in bars.index], dtype="int64")
    if "period1" in params:
        keep = (stamps >= int(params["period1"])) & (stamps < int(params["period2"]))
    else:  # range=1d: what yfinance asks to learn the exchange time zone
        keep = np.arange(len(stamps)) >= len(stamps) - 1
    bars, stamps = bars[keep], stamps[keep]
    result: dict[str, Any] = {"meta": _meta(ticker, listing, bars, stamps)}
    if len(bars):
        result["timestamp"] = [int(s) for s in stamps]
        result["indicators"] = {
            "quote": [{c: _values(bars[c]) for c in ("open", "high", "low", "close", "volume")}],
            "adjclose": [{"adjclose": _values(bars["adj_close"])}],
        }
    else:
        result["indicators"] = {"quote": [{}], "adjclose": [{}]}
    return {"chart": {"result": [result], "error": None}}


def intraday_body(ticker: str, listing: _Listing, params: Mapping[str, str]) -> dict[str, Any]:
    """Build Yahoo's v8 chart JSON of intraday bars: those starting in [period1, period2), or
    the last sessions of a ``range`` like 5d; ``tradingPeriods`` holds each session served."""
    bars = listing.intraday if listing.intraday is not None else pd.DataFrame(columns=["close"])
    stamps = np.array([int(pd.Timestamp(t).timestamp()) for t in bars.index], dtype="int64")
    days = [_ny_date(int(s)) for s in stamps]
    if "period1" in params:
        keep = (stamps >= int(params["period1"])) & (stamps < int(params["period2"]))
    else:
        count = int(params.get("range", "1d").rstrip("d") or 1)
        recent = set(sorted(set(days))[-count:])
        keep = np.array([d in recent for d in days], dtype=bool)
    bars, stamps = bars[keep], stamps[keep]
    sessions = sorted({_ny_date(int(s)) for s in stamps})
    opens = np.array([_open_stamp(d, listing.timezone) for d in sessions], dtype="int64")
    meta = _meta(ticker, listing, bars, opens)
    meta["dataGranularity"] = params["interval"]
    if sessions:  # includePrePost=false: a list of each session's regular hours
        meta["tradingPeriods"] = [[_period(int(s), listing.timezone)] for s in opens]
    result: dict[str, Any] = {"meta": meta}
    if len(bars):
        result["timestamp"] = [int(s) for s in stamps]
        quote = {c: _values(bars[c]) for c in ("open", "high", "low", "close", "volume")}
        result["indicators"] = {"quote": [quote]}
    else:
        result["indicators"] = {"quote": [{}]}
    return {"chart": {"result": [result], "error": None}}


def _period(opens: int, timezone: str) -> dict[str, Any]:
    local = datetime.fromtimestamp(opens, ZoneInfo(timezone))
    offset = int((local.utcoffset() or timedelta(0)).total_seconds())
    zone = local.tzname() or "UTC"
    return {"timezone": zone, "start": opens, "end": opens + _SESSION_SECONDS, "gmtoffset": offset}


def _daily_from(intraday: pd.DataFrame) -> pd.DataFrame:
    """One daily bar per New York session of ``intraday`` (adjusted close = close)."""
    days = pd.DatetimeIndex(intraday.index).tz_convert(NEW_YORK).tz_localize(None).normalize()
    grouped = intraday.groupby(days)
    daily = pd.DataFrame(
        {
            "open": grouped["open"].first(),
            "high": grouped["high"].max(),
            "low": grouped["low"].min(),
            "close": grouped["close"].last(),
            "volume": grouped["volume"].sum(),
        }
    )
    daily["adj_close"] = daily["close"]
    return daily.rename_axis("date")


def _served(listing: _Listing) -> pd.DataFrame:
    bars = listing.bars.sort_index()
    if listing.last is not None:
        bars = bars.loc[: pd.Timestamp(listing.last)]
    if listing.nan_last and len(bars):
        bars = bars.copy()
        bars.iloc[-1] = np.nan
    return bars


def _meta(
    ticker: str, listing: _Listing, bars: pd.DataFrame, stamps: np.ndarray[Any, Any]
) -> dict[str, Any]:
    zone = ZoneInfo(listing.timezone)
    anchor = int(stamps[-1]) if len(stamps) else _open_stamp(listing.bars.index[-1], zone.key)
    local = datetime.fromtimestamp(anchor, zone)
    offset = int((local.utcoffset() or timedelta(0)).total_seconds())
    abbrev = local.tzname() or "UTC"
    period = {"timezone": abbrev, "gmtoffset": offset, "start": anchor, "end": anchor + 23400}
    last_close = float(bars["close"].iloc[-1]) if len(bars) else None
    return {
        "currency": listing.currency,
        "symbol": ticker,
        "exchangeName": "NMS",
        "fullExchangeName": "NasdaqGS",
        "instrumentType": listing.instrument_type,
        "firstTradeDate": _open_stamp(listing.bars.index[0], zone.key),
        "regularMarketTime": anchor + 23400,
        "hasPrePostMarketData": True,
        "gmtoffset": offset,
        "timezone": abbrev,
        "exchangeTimezoneName": listing.timezone,
        "regularMarketPrice": last_close,
        "chartPreviousClose": last_close,
        "priceHint": 2,
        "currentTradingPeriod": {
            "pre": dict(period, start=anchor - 19800, end=anchor),
            "regular": period,
            "post": dict(period, start=anchor + 23400, end=anchor + 37800),
        },
        "dataGranularity": "1d",
        "range": "",
        "validRanges": ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"],
    }


def _static(recorded: Recorded) -> tuple[int, str, bytes]:
    """Answer the cookie, crumb and consent pages; everything else is a 404."""
    if recorded.host == "fc.yahoo.com":
        return 404, "text/html", b"<html><body>fc</body></html>"
    if recorded.path == "/v1/test/getcrumb":
        return 200, "text/plain", CRUMB.encode()
    if recorded.host.endswith("consent.yahoo.com") or recorded.host == "guce.yahoo.com":
        return 200, "text/html", b"<html><body>no consent needed</body></html>"
    body = {"finance": {"result": None, "error": {"code": "Not Found", "description": "fake"}}}
    return 404, "application/json", json.dumps(body).encode()


def _open_stamp(session: pd.Timestamp | date, timezone: str) -> int:
    """Unix seconds of 09:30 local time on ``session`` (where Yahoo stamps a daily bar)."""
    day = pd.Timestamp(session).date()
    return int(datetime.combine(day, _SESSION_OPEN, ZoneInfo(timezone)).timestamp())


def _ny_date(stamp: int) -> date:
    return datetime.fromtimestamp(stamp, ZoneInfo(NEW_YORK)).date()


def _values(column: pd.Series[float]) -> list[float | None]:
    """JSON numbers with null for NaN, as Yahoo sends them."""
    return [None if pd.isna(v) else float(v) for v in column]


class _Adapter(BaseAdapter):
    """Hands every request of the session to the fake; nothing reaches a socket."""

    def __init__(self, fake: FakeYahoo) -> None:
        super().__init__()
        self.fake = fake

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        status, content_type, body = self.fake.answer(request)
        response = requests.Response()
        response.status_code = status
        response.reason = _REASONS.get(status, "")
        response.headers = CaseInsensitiveDict({"Content-Type": content_type})
        response._content = body
        response.encoding = "utf-8"
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        pass


_REASONS = {200: "OK", 404: "Not Found", 429: "Too Many Requests"}
