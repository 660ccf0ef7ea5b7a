"""Exchange sessions from exchange-calendars (the only module importing it at run time)."""

from __future__ import annotations

import warnings
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd


@lru_cache(maxsize=4)
def _calendar(name: str) -> Any:
    import exchange_calendars

    # From 2000 covers any history_start in practice; the calendar ends a year ahead.
    start = pd.Timestamp("2000-01-01")
    # exchange-calendars 4.13 trips a pandas 3.1 deprecation inside its own constructor;
    # users cannot act on it, so it stays out of their stderr.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Series.values returning an ndarray")
        return exchange_calendars.get_calendar(name, start=start)


def sessions(name: str, start: date, end: date) -> pd.DatetimeIndex:
    """Return the sessions from ``start`` to ``end`` inclusive as tz-naive dates."""
    cal = _calendar(name)
    lo = max(pd.Timestamp(start), cal.first_session)
    hi = min(pd.Timestamp(end), cal.last_session)
    if lo > hi:
        return pd.DatetimeIndex([], name="date")
    return pd.DatetimeIndex(cal.sessions_in_range(lo, hi), name="date")


def session_close(name: str, session: date) -> datetime:
    """Return the close of ``session`` as an aware UTC datetime."""
    close: pd.Timestamp = _calendar(name).session_close(pd.Timestamp(session))
    return close.to_pydatetime()


def trading_at(name: str, moment: datetime) -> bool:
    """Whether a session of ``name`` is trading at ``moment`` (aware): open <= moment < close."""
    cal = _calendar(name)
    stamp = pd.Timestamp(moment).tz_convert("UTC")
    day = stamp.tz_convert(str(cal.tz)).tz_localize(None).normalize()
    if not cal.is_session(day):
        return False
    return bool(cal.session_open(day) <= stamp < cal.session_close(day))


def last_closed_session(name: str, now: datetime, delay: timedelta = timedelta(0)) -> date:
    """Return the latest session whose close plus ``delay`` is at or before ``now`` (aware)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    cal = _calendar(name)
    cutoff = pd.Timestamp(now - delay).tz_convert("UTC")
    day = cutoff.tz_localize(None).normalize()
    recent = cal.sessions_in_range(day - pd.Timedelta(days=14), min(day, cal.last_session))
    closes = cal.closes.loc[recent]
    done = recent[(closes <= cutoff).to_numpy()]
    if len(done) == 0:
        raise ValueError(f"no {name} session closed in the two weeks before {now:%Y-%m-%d}")
    return pd.Timestamp(done[-1]).date()


def exchange_zone(name: str) -> ZoneInfo:
    """Return the exchange's own time zone (XNYS: America/New_York)."""
    return ZoneInfo(str(_calendar(name).tz))
