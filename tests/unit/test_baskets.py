"""Basket returns and indices: staggered listings, weights, no NaN spreading, no look-ahead."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bot.core.baskets import basket_index, basket_return, member_returns
from tests.synthetic import sessions


def frame(data: dict[str, list[float]]) -> pd.DataFrame:
    n = len(next(iter(data.values())))
    return pd.DataFrame(data, index=sessions(n), dtype="float64")


def test_member_returns_measure_across_gaps() -> None:
    r = member_returns(frame({"A": [100, np.nan, 110, 121]}))
    assert np.isnan(r["A"].iloc[0]) and np.isnan(r["A"].iloc[1])
    assert abs(r["A"].iloc[2] - 0.1) < 1e-12 and abs(r["A"].iloc[3] - 0.1) < 1e-12


def test_late_listing_joins_on_its_first_full_day() -> None:
    prices = frame({"A": [100, 101, 102, 103, 104], "B": [np.nan, np.nan, 50, 60, 66]})
    ret = basket_return(member_returns(prices), {"A": 1.0, "B": 1.0})
    a = prices["A"].pct_change()
    assert ret.iloc[1] == a.iloc[1]  # only A before B has a return
    assert ret.iloc[2] == a.iloc[2]  # B's first price: no return yet, not in the mean
    assert abs(ret.iloc[3] - (a.iloc[3] + 0.2) / 2) < 1e-12
    assert not ret.iloc[1:].isna().any()


def test_listing_never_changes_past_values() -> None:
    before = frame({"A": [100, 101, 99, 103, 104, 106]})
    after = before.assign(B=[np.nan, np.nan, np.nan, np.nan, 10, 20])
    w = {"A": 1.0, "B": 1.0}
    r0 = basket_return(member_returns(before.assign(B=np.nan)), w)
    r1 = basket_return(member_returns(after), w)
    pd.testing.assert_series_equal(r0.iloc[:5], r1.iloc[:5])
    assert r1.iloc[5] != r0.iloc[5]


def test_weights_are_renormalised_among_active_members() -> None:
    prices = frame({"A": [100, 110, 110], "B": [np.nan, 100, 120]})
    ret = basket_return(member_returns(prices), {"A": 1.0, "B": 3.0})
    assert abs(ret.iloc[1] - 0.10) < 1e-12  # only A active
    assert abs(ret.iloc[2] - (0.0 * 1 + 0.2 * 3) / 4) < 1e-12


def test_index_bases_at_100_before_first_return() -> None:
    ret = pd.Series([np.nan, np.nan, 0.1, np.nan, -0.5], index=sessions(5))
    level = basket_index(ret)
    assert np.isnan(level.iloc[0])
    assert level.iloc[1] == 100.0 and abs(level.iloc[2] - 110.0) < 1e-12
    assert abs(level.iloc[3] - 110.0) < 1e-12 and abs(level.iloc[4] - 55.0) < 1e-12
