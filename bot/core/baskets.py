"""Basket returns and indices from adjusted closes, with members joining as they list.

A member counts from its first full day of history: the first session with a return, i.e. the
second price it has. Weights are renormalised each session among the members that have a
return that day, so a late listing (SNDK in 2025, PLTR in 2020) or a one-day gap never turns
the basket into NaN and never changes a value computed before it. Equal weight is rebalanced
daily; configured weights are targets rebalanced daily too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd


def member_returns(adj_close: pd.DataFrame) -> pd.DataFrame:
    """Return simple daily returns; NaN where the price or the previous price is unknown.

    After a gap the return is measured against the last known price, so no move is lost.
    """
    filled = adj_close.ffill()
    returns = filled / filled.shift(1) - 1.0
    return returns.where(adj_close.notna())


def basket_return(returns: pd.DataFrame, weights: Mapping[str, float]) -> pd.Series:
    """Return the weighted mean of member returns per session (NaN when no member has one)."""
    tickers = list(weights)
    values = returns[tickers].to_numpy()
    w = np.array([weights[t] for t in tickers], dtype="float64")
    active = ~np.isnan(values)
    total = (active * w).sum(axis=1)
    summed = np.where(active, values, 0.0) @ w
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(total > 0, summed / total, np.nan)
    return pd.Series(out, index=returns.index)


def basket_index(ret: pd.Series, base: float = 100.0) -> pd.Series:
    """Return an index level: ``base`` on the session before the first return, compounding after.

    Sessions without a basket return carry the level forward; sessions before the base are NaN.
    """
    level = (1.0 + ret.fillna(0.0)).cumprod() * base
    started = ret.notna().to_numpy()
    if started.any():
        first = max(int(np.argmax(started)) - 1, 0)
        level.iloc[:first] = np.nan
    else:
        level[:] = np.nan
    return level


def basket_returns(
    returns: pd.DataFrame, baskets: Sequence[tuple[str, Mapping[str, float]]]
) -> pd.DataFrame:
    """Return one column of basket returns per ``(key, weights)`` pair."""
    return pd.DataFrame({key: basket_return(returns, w) for key, w in baskets}, index=returns.index)
