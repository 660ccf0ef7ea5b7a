"""A backtest broken down: each trade's return and holding period, and returns by month.

Pure: a ``BacktestResult`` in, frames and plain values out (``bot.backtest.report`` lays
them out as text and JSON, ``bot.render.report`` as HTML).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bot.backtest.engine import BacktestResult, Fill
from bot.backtest.metrics import PERIODS

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

ANNUALISED = ("cagr", "volatility", "sharpe", "sortino", "calmar", "turnover")
"""The metrics scaled to a year: not shown for a window shorter than one (``is_short``)."""

YEAR = 240
"""Sessions that make a year for that purpose: a calendar year holds 249-253 NYSE sessions
(``PERIODS`` is 252), so a whole calendar year (2025 had 250) is never called short."""


def is_short(sessions: int) -> bool:
    """Whether ``sessions`` are too few for annualised figures to mean much."""
    return sessions < YEAR


def trade_table(result: BacktestResult) -> pd.DataFrame:
    """Return ``result.trades`` with each trade's ``sessions`` held and net ``return``.

    A trade runs from its execution to the next one (or the window's end). As in the
    engine's win count, a trade owns the sessions it is held (with a close fill, from the
    session after its execution up to the next execution's close; with a next-open fill,
    from its execution session up to the session before the next), its own cost and the
    cost of rebalancing drift while it is held. Exits to cash are rows too (their return is
    the exit cost); ``trade_summary`` leaves them out.
    """
    trades = result.trades.copy()
    n = len(result.returns)
    starts = result.returns.index.get_indexer(pd.DatetimeIndex(trades["date"]))
    cost = result.settings.rate * result.turnover.to_numpy()
    # The market move of each session, costs taken back out of the net return.
    move = result.returns.to_numpy() + cost
    close = result.settings.fill is Fill.CLOSE
    ends = np.r_[starts[1:], n]
    growth = np.empty(len(trades))
    held = np.empty(len(trades), dtype="int64")
    for i, (lo, hi) in enumerate(zip(starts, ends, strict=True)):
        # A close fill trades at the close: the old position owns that session's move, the
        # new one the cost. The entry, bought before the window, owns its first session.
        shift = 1 if close and not (i == 0 and _is_entry(trades, result)) else 0
        last = min(hi + 1, n) if close else hi
        growth[i] = np.prod(1.0 - cost[lo:hi]) * np.prod(1.0 + move[lo + shift : last])
        held[i] = max(last - (lo + shift), 0)
    trades["sessions"] = held
    trades["return"] = growth - 1.0
    return trades


def _is_entry(trades: pd.DataFrame, result: BacktestResult) -> bool:
    """Whether the first row is the position held from the close before the window."""
    first = trades.iloc[0]
    held = result.weights.iloc[0]
    assets = list(result.weights.columns)
    return bool(
        first["date"] == result.returns.index[0]
        and (first[assets].to_numpy(dtype="float64") == held.to_numpy(dtype="float64")).all()
        and (held != 0).any()
    )


@dataclass(frozen=True, slots=True)
class TradeSummary:
    """The invested trades (not the exits to cash) of a backtest: count and their returns
    (fractions) and holding periods (sessions); None without trades."""

    trades: int
    average: float | None
    median: float | None
    best: float | None
    worst: float | None
    average_sessions: float | None

    def to_json(self) -> dict[str, float | int | None]:
        def rounded(v: float | None) -> float | None:
            return None if v is None else round(v, 8)

        return {
            "trades": self.trades,
            "average": rounded(self.average),
            "median": rounded(self.median),
            "best": rounded(self.best),
            "worst": rounded(self.worst),
            "average_sessions": rounded(self.average_sessions),
        }


def trade_summary(table: pd.DataFrame, assets: list[str]) -> TradeSummary:
    """Summarise ``trade_table``'s rows that hold a position in one of ``assets``."""
    invested = table[(table[assets] != 0).any(axis=1)]
    if invested.empty:
        return TradeSummary(0, None, None, None, None, None)
    r = invested["return"].to_numpy(dtype="float64")
    return TradeSummary(
        trades=len(invested),
        average=float(r.mean()),
        median=float(np.median(r)),
        best=float(r.max()),
        worst=float(r.min()),
        average_sessions=float(invested["sessions"].mean()),
    )


def monthly_returns(returns: pd.Series) -> pd.DataFrame:
    """Compound daily ``returns`` by month: one row per year (index ``int`` years), columns
    ``MONTHS`` then ``Year`` (the year's total over its sessions in the window); NaN where
    the window has no session."""
    growth = 1.0 + returns.astype("float64")
    index = pd.DatetimeIndex(returns.index)
    by_month = growth.groupby([index.year, index.month]).prod() - 1.0
    table = by_month.unstack().reindex(columns=range(1, 13))
    table.columns = list(MONTHS)
    table["Year"] = growth.groupby(index.year).prod() - 1.0
    table.index = [int(y) for y in table.index]
    return table


def monthly_json(table: pd.DataFrame) -> list[dict[str, object]]:
    """``monthly_returns`` as JSON rows: year, twelve monthly returns (null outside the
    window), the year's total."""

    def value(v: object) -> float | None:
        x = float(v)  # type: ignore[arg-type]
        return None if np.isnan(x) else round(x, 8)

    return [
        {
            "year": int(year),  # type: ignore[call-overload]
            "months": [value(row[m]) for m in MONTHS],
            "total": value(row["Year"]),
        }
        for year, row in table.iterrows()
    ]


def short_period_warning(result: BacktestResult) -> str | None:
    """One line when the window is shorter than a year (its annualised figures then mean
    little: a few good weeks make a Sharpe of 30); None otherwise."""
    sessions = len(result.returns)
    if not is_short(sessions):
        return None
    return (
        f"warning: the window holds {sessions} sessions, less than a year (~{PERIODS}): "
        "CAGR, volatility, Sharpe, Sortino, Calmar and turnover/year are not annualised from "
        "it (shown as n/a); read the total return, the drawdown and the trades"
    )
