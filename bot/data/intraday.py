"""Intraday bars and the moves so far at one moment of a session.

Bars come from a folder of ``<TICKER>.csv`` files with the columns
``datetime,open,high,low,close,volume``, ``datetime`` in ISO 8601 with its UTC offset (the
bar's start, as Yahoo labels it). ``moves_at`` takes each ticker's last bar at or before the
moment and its return from the previous session's close; a check that would read a missing,
stale or other-session bar is returned as ``Skipped`` with the reason, never raised.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from bot.core.panel import PricePanel
from bot.errors import DataError

COLUMNS = ("datetime", "open", "high", "low", "close", "volume")


@dataclass(frozen=True, slots=True)
class Moves:
    """Each ticker's return from the ``previous`` session's close to its last bar."""

    asof: datetime
    session: date
    previous: date
    moves: dict[str, float]
    bar_times: dict[str, datetime]


@dataclass(frozen=True, slots=True)
class Skipped:
    """A check that cannot be read without guessing, and why."""

    asof: datetime
    reason: str


def read_bars(folder: Path, tickers: Sequence[str]) -> dict[str, pd.DataFrame]:
    """Read each ticker's bars (index: aware UTC bar start, sorted; float column ``close``).

    A ticker without a file is left out (``moves_at`` names it).

    Raises:
        DataError: the folder is absent, or a file lacks the columns or has a datetime
            without a UTC offset.
    """
    if not folder.is_dir():
        raise DataError(f"intraday bar folder not found: {folder}")
    out: dict[str, pd.DataFrame] = {}
    for ticker in dict.fromkeys(tickers):
        path = folder / f"{ticker}.csv"
        if path.is_file():
            out[ticker] = _read_one(path)
    return out


def _read_one(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype={"datetime": str})
    absent = [c for c in COLUMNS if c not in frame.columns]
    if absent:
        raise DataError(f"{path}: missing column(s) {', '.join(absent)} (want {','.join(COLUMNS)})")
    text = frame["datetime"].astype(str)
    if len(text) and not text.str.contains(r"(?:[+-]\d\d:?\d\d|Z)$", regex=True).all():
        raise DataError(f"{path}: every datetime needs its UTC offset, like 2025-01-27T10:30-05:00")
    try:
        stamps = pd.to_datetime(text, utc=True, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise DataError(f"{path}: unreadable datetime ({exc})") from exc
    bars = pd.DataFrame(
        {"close": pd.to_numeric(frame["close"], errors="coerce").to_numpy(dtype="float64")},
        index=pd.DatetimeIndex(stamps, name="datetime"),
    )
    return bars[bars["close"].notna()].sort_index()


def previous_closes(panel: PricePanel, session: date) -> tuple[date, dict[str, float]]:
    """Return the last session before ``session`` and each ticker's close then (as traded,
    the adjusted close where the file has none; the last known one after a gap). A ticker
    with no price yet is left out: it is not a member yet.

    Raises:
        DataError: the daily prices have no session before ``session``.
    """
    before = panel.dates[panel.dates < pd.Timestamp(session)]
    if not len(before):
        raise DataError(f"no daily prices before {session}")
    closes = panel.close.loc[: before[-1]].fillna(panel.adj_close.loc[: before[-1]]).ffill()
    last = closes.iloc[-1]
    return before[-1].date(), {str(t): float(v) for t, v in last.items() if np.isfinite(v)}


def moves_at(
    bars: Mapping[str, pd.DataFrame],
    closes: tuple[date, Mapping[str, float]],
    asof: datetime,
    zone: ZoneInfo,
    max_age: timedelta,
    interval: timedelta = timedelta(0),
) -> Moves | Skipped:
    """Return every listed ticker's move from the previous close to its last bar complete
    at ``asof`` (aware), or why the check is skipped.

    Args:
        bars: ``read_bars``'s frames.
        closes: ``previous_closes``: the previous session and the tickers' closes.
        zone: the exchange's time zone (a bar's session is its date there).
        max_age: the oldest a last bar may be (from its end: its start plus ``interval``).
        interval: the bar size. A bar is labelled by its start and its close is known at its
            end, so a bar starting later than ``asof - interval`` is not read: in a rehearsal
            from complete bars it would hold prices from after ``asof``.
    """
    previous, prior = closes
    session = asof.astimezone(zone).date()
    moment = pd.Timestamp(asof).tz_convert("UTC") - pd.Timedelta(interval)
    missing, other, stale = [], [], []
    moves: dict[str, float] = {}
    times: dict[str, datetime] = {}
    for ticker, close in prior.items():
        frame = bars.get(ticker)
        upto = frame.loc[:moment] if frame is not None else None
        if upto is None or upto.empty:
            missing.append(ticker)
            continue
        at = pd.Timestamp(upto.index[-1])
        if at.tz_convert(zone).date() != session:
            other.append(f"{ticker} ({at.tz_convert(zone):%Y-%m-%d %H:%M})")
        elif pd.Timestamp(asof).tz_convert("UTC") - (at + pd.Timedelta(interval)) > max_age:
            stale.append(f"{ticker} ({at.tz_convert(zone):%H:%M})")
        else:
            moves[ticker] = float(upto["close"].iloc[-1]) / close - 1.0
            times[ticker] = at.to_pydatetime()
    why = _reason(missing, other, stale, max_age)
    if why:
        return Skipped(asof, why)
    return Moves(asof, session, previous, moves, times)


def interval_of(text: str) -> timedelta:
    """ "5m" -> 5 minutes (the ``[intraday] interval`` values)."""
    return timedelta(minutes=int(text.rstrip("m")))


def _reason(missing: list[str], other: list[str], stale: list[str], max_age: timedelta) -> str:
    parts = []
    if missing:
        parts.append(f"no bar yet for {', '.join(missing)}")
    if other:
        parts.append(f"last bar from another session for {', '.join(other)}")
    if stale:
        minutes = int(max_age.total_seconds() // 60)
        parts.append(f"last bar older than {minutes} minutes for {', '.join(stale)}")
    return "; ".join(parts)
