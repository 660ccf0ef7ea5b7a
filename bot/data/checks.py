"""Checks every price bar passes at the door, whichever source it came from.

A bar's date must be a session of the configured exchange calendar and not after today; a
one-session move of a ticker's adjusted close beyond ``max_move`` (a factor, either way) that
the other tickers do not share is an outlier (an unadjusted split, a price in the wrong unit).
The CSV source refuses the file at the first such row, naming file and line; the cache sets a
Yahoo ticker aside (after one full refetch) and says which, with the date. Either way the
refusal is a ``BadPrices``, carrying each ``Refusal`` so the daemon can name ticker and session.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd

from bot.core.panel import PricePanel
from bot.errors import DataError

_WEEKEND = ("Saturday", "Sunday")


@dataclass(frozen=True, slots=True)
class Rules:
    """What bars must satisfy: dates on ``calendar`` and none after ``today`` (None: the real
    today, UTC; never a simulated clock, which a rehearsal sets in the past), no lone
    one-session move beyond a factor of ``max_move``. ``Rules()`` checks neither dates nor
    moves (a bare ``CsvSource``); ``bot.data.prices.rules_for(config)`` gives the configured
    ones."""

    calendar: str | None = None  # None: dates are not checked
    today: date | None = None
    max_move: float | None = None  # None: moves are not checked

    def last_day(self) -> date:
        return self.today or datetime.now(UTC).date()


@dataclass(frozen=True, slots=True)
class Refusal:
    """One ticker's prices refused from ``day`` on, and why (``where``: "file:line" if any)."""

    ticker: str
    day: date
    reason: str
    where: str = ""

    def line(self) -> str:
        head = f"{self.where}: " if self.where else ""
        return f"{head}{self.ticker} {self.day}: {self.reason}"


class BadPrices(DataError):
    """Prices refused at the door. ``panel``: what is left without the refused tickers' new
    bars (None when nothing could be read, as with a refused CSV file)."""

    def __init__(self, refusals: Sequence[Refusal], panel: PricePanel | None = None) -> None:
        self.refusals = tuple(refusals)
        self.panel = panel
        more = f" (and {len(self.refusals) - 1} more)" if len(self.refusals) > 1 else ""
        super().__init__(self.refusals[0].line() + more)

    @property
    def tickers(self) -> list[str]:
        return list(dict.fromkeys(r.ticker for r in self.refusals))


@dataclass(frozen=True, slots=True)
class Jump:
    """A lone one-session move: ``ticker`` went from ``before`` to ``after`` on ``day``."""

    ticker: str
    day: date
    before: float
    after: float

    def reason(self) -> str:
        factor = self.after / self.before
        shown = f"x{factor:.4g}" if factor >= 1 else f"/{1 / factor:.4g}"
        return (
            f"adj_close moved {shown} in one session ({self.before:.6g} -> {self.after:.6g}) "
            "and the other tickers did not: an unadjusted split or a wrong price?"
        )


def bad_date(dates: np.ndarray, rules: Rules, holidays: bool = True) -> tuple[int, str] | None:
    """Return the index of the first date that is in the future or not a session, and why
    (``holidays`` False: only weekends and future dates)."""
    wrong = bad_dates(dates, rules, holidays)
    if not wrong.any():
        return None
    i = int(np.argmax(wrong))
    return i, why_bad(pd.Timestamp(np.asarray(dates)[i]).date(), rules)


def bad_dates(dates: np.ndarray, rules: Rules, holidays: bool = True) -> np.ndarray:
    """Return a mask of the dates that are in the future or not sessions (``holidays`` False:
    weekdays count as sessions)."""
    days = np.asarray(dates, dtype="datetime64[D]")
    if rules.calendar is None:
        return np.zeros(len(days), dtype=bool)
    future = days > np.datetime64(rules.last_day(), "D")
    wrong = future.copy()
    calendar = rules.calendar if holidays else None
    wrong[~future] = ~_session_mask(days[~future], calendar)
    return wrong


def why_bad(day: date, rules: Rules) -> str:
    """Say why ``day`` (one ``bad_dates`` flagged) is refused."""
    if day > rules.last_day():
        return f"{day} is in the future (today is {rules.last_day()})"
    weekday = f"{day:%A}"
    if weekday in _WEEKEND:
        return f"{day} is a {weekday}, not a trading session"
    return f"{day} is not a {rules.calendar} session (a market holiday)"


def _session_mask(days: np.ndarray, calendar: str | None) -> np.ndarray:
    """Whether each day is a session: on the calendar where it reaches, else a weekday."""
    weekday = ((days.astype("int64") + 3) % 7) < 5  # 1970-01-01 was a Thursday
    if calendar is None or len(days) == 0:
        return weekday
    from bot.data.calendar import sessions

    # A margin either side, so that a lone holiday still finds the calendar around it.
    margin = pd.Timedelta(days=14)
    lo = (pd.Timestamp(days.min()) - margin).date()
    hi = (pd.Timestamp(days.max()) + margin).date()
    known = sessions(calendar, lo, hi)
    if len(known) == 0:
        return weekday
    on = np.asarray(known.values, dtype="datetime64[D]")
    covered = (days >= on[0]) & (days <= on[-1])
    return np.where(covered, np.isin(days, on), weekday)


def jumps(adj_close: pd.DataFrame, max_move: float | None) -> list[Jump]:
    """Return the lone one-session moves beyond ``max_move`` in a frame of adjusted closes
    (index: dates; one column per ticker), in date order.

    A move is lone when fewer than half the other tickers with a move that session moved
    beyond the bound the same way (a move all share is the market's, or the data's unit).
    """
    if max_move is None or adj_close.empty or len(adj_close.columns) == 0:
        return []
    before = adj_close.ffill().shift(1)  # each ticker's previous known price
    now, was = adj_close.to_numpy(dtype="float64"), before.to_numpy(dtype="float64")
    logs = np.log(now / was)
    bound = np.log(max_move)
    up, down = logs > bound, logs < -bound
    found: list[Jump] = []
    for i, j in zip(*np.nonzero(up | down), strict=True):
        moved = np.isfinite(logs[i])
        moved[j] = False
        same = (up if up[i, j] else down)[i].copy()
        same[j] = False
        if moved.any() and same.sum() * 2 >= moved.sum():
            continue  # shared by the others
        ticker = str(adj_close.columns[j])
        day = pd.Timestamp(adj_close.index[i]).date()
        found.append(Jump(ticker, day, float(was[i, j]), float(now[i, j])))
    return sorted(found, key=lambda jump: (jump.day, jump.ticker))


def panel_refusals(panel: PricePanel, rules: Rules) -> list[Refusal]:
    """Check a panel (from Yahoo, say): each ticker's first bad date and lone jumps."""
    found: list[Refusal] = []
    adj = panel.adj_close
    for ticker in panel.tickers:
        known = adj.index[adj[ticker].notna()]
        bad = bad_date(np.asarray(known.values, dtype="datetime64[D]"), rules)
        if bad is not None:
            found.append(Refusal(ticker, known[bad[0]].date(), bad[1]))
    found += [Refusal(j.ticker, j.day, j.reason()) for j in jumps(adj, rules.max_move)]
    return found
