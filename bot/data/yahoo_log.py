"""What went wrong with Yahoo, in words a user can act on; yfinance's own log records held back.

``classify`` sorts an exception from yfinance (or from the HTTP session under it, curl_cffi or
requests, whose exception classes share their names) into a rate limit, a network failure or
"no data", and ``describe_network_error`` says a network failure in a few words ("connection
refused", "no answer within 5 s"). ``yfinance_log_summary`` keeps yfinance's log records off
stderr while a download runs and logs one line about them afterwards; at DEBUG they are let
through whole, as yfinance wrote them.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["network", "rate_limit", "no_data"]
HOST = "query2.finance.yahoo.com"
_TIMEOUTS = {"Timeout", "TimeoutError", "ConnectTimeout", "ReadTimeout", "ConnectTimeoutError"}
_NETWORK = _TIMEOUTS | {
    "ConnectionError",
    "DNSError",
    "ProxyError",
    "NameResolutionError",
    "NewConnectionError",
    "SSLError",
    "gaierror",
}
_CURL_HINT = " See https://curl.se/libcurl/c/libcurl-errors.html first for more details."


@dataclass(frozen=True, slots=True)
class Failure:
    """Why one ticker's download failed: its kind and a few words for the user."""

    kind: Kind
    detail: str


NO_DATA = Failure("no_data", "no prices")


def classify(exc: BaseException, timeout: float) -> Failure:
    """Sort a download's exception: a rate limit, a network failure, or anything else."""
    from yfinance.exceptions import YFRateLimitError

    status = getattr(getattr(exc, "response", None), "status_code", None)
    if isinstance(exc, YFRateLimitError) or status == 429:
        return Failure("rate_limit", "HTTP 429 (too many requests)")
    if is_network_error(exc):
        return Failure("network", describe_network_error(exc, timeout))
    return Failure("no_data", short(str(exc)) or type(exc).__name__)


def is_network_error(exc: BaseException) -> bool:
    """True when no HTTP answer came back at all (by class name: both HTTP backends)."""
    if isinstance(exc, TimeoutError | ConnectionError | socket.gaierror):
        return True
    return any(c.__name__ in _NETWORK for c in type(exc).__mro__)


def describe_network_error(exc: BaseException | None, timeout: float) -> str:
    """Say in a few words why no answer came: DNS, refused, silence, or the error's own text."""
    text = str(exc)
    low = text.lower()
    names = {c.__name__ for c in type(exc).__mro__}
    if names & _TIMEOUTS or "timed out" in low:
        return f"no answer within {timeout:g} s"
    refused = "refused" in low or "could not connect" in low
    if "proxy" in low and refused:
        return "the proxy refused the connection"
    if "DNSError" in names or "gaierror" in names or "resolve" in low:
        return f"{HOST} does not resolve (no DNS?)"
    if refused:
        return "connection refused"
    return short(text) or type(exc).__name__


def short(text: str, limit: int = 160) -> str:
    """First line of an error message, without curl's link, at most ``limit`` characters."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    line = line.replace(_CURL_HINT, "").strip()
    return line if len(line) <= limit else line[: limit - 3] + "..."


@dataclass(slots=True)
class LogSummary:
    """yfinance's log records of one download; ``succeeded`` is set by the caller."""

    records: list[logging.LogRecord] = field(default_factory=list)
    succeeded: bool = False

    def report(self, log: logging.Logger) -> None:
        """One line: a warning when the download failed, else only at INFO."""
        problems = [r for r in self.records if r.levelno >= logging.WARNING]
        if not problems:
            return
        level = logging.INFO if self.succeeded else logging.WARNING
        log.log(
            level,
            "yfinance reported %d problem(s), the first: %s (--log-level DEBUG shows them all)",
            len(problems),
            short(problems[0].getMessage(), 120),
        )


class _Hold(logging.Filter):
    """A filter on the yfinance logger that keeps each record and lets none through."""

    def __init__(self, summary: LogSummary) -> None:
        super().__init__()
        self.summary = summary

    def filter(self, record: logging.LogRecord) -> bool:
        self.summary.records.append(record)
        return False


@contextmanager
def yfinance_log_summary(log: logging.Logger) -> Iterator[LogSummary]:
    """Hold yfinance's log records back for the block, then log one line about them.

    A filter rather than ``propagate = False``: two downloads in two threads (the daily job
    and a Telegram command) then cannot leave the logger switched off for good.
    """
    summary = LogSummary()
    if log.isEnabledFor(logging.DEBUG):
        yield summary  # DEBUG: yfinance's records go out whole, as it writes them
        return
    source = logging.getLogger("yfinance")
    hold = _Hold(summary)
    source.addFilter(hold)
    try:
        yield summary
    finally:
        source.removeFilter(hold)
        summary.report(log)
