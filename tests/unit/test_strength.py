"""Relative strength pieces: regime hysteresis, quadrants, indicators, causality."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bot.core.rotation import regime_states
from bot.core.strength import indicators, quadrant_codes, rrg
from tests.synthetic import sessions


def test_regime_needs_band_and_confirming_closes() -> None:
    ma = pd.Series(100.0, index=sessions(10))
    ratio = pd.Series([100, 103, 103, 101, 103, 103, 103, 97, 97, 97], index=ma.index, dtype=float)
    state = regime_states(ratio, ma, band=0.02, confirm=3)
    # Needs three closes above 102 in a row: 101 on day 4 resets the count.
    assert state.tolist() == [0, 0, 0, 0, 0, 0, 1, 1, 1, -1]


def test_quadrants() -> None:
    rsr = pd.Series([101, 101, 99, 99, np.nan], index=sessions(5), dtype=float)
    rsm = pd.Series([101, 99, 99, 101, 100], index=rsr.index, dtype=float)
    assert quadrant_codes(rsr, rsm).tolist() == [
        "Leading",
        "Weakening",
        "Lagging",
        "Improving",
        None,
    ]


def test_rrg_and_indicators_are_causal() -> None:
    rng = np.random.default_rng(3)
    idx = sessions(400)
    a = pd.Series(100 * np.cumprod(1 + rng.normal(0, 0.01, 400)), index=idx)
    b = pd.Series(100 * np.cumprod(1 + rng.normal(0, 0.01, 400)), index=idx)
    full_rrg, full_ind = rrg(a, b, 63), indicators(a / b)
    for cut in (150, 260, 399):
        part_rrg = rrg(a.iloc[:cut], b.iloc[:cut], 63)
        part_ind = indicators((a / b).iloc[:cut])
        pd.testing.assert_frame_equal(part_rrg, full_rrg.iloc[:cut])
        pd.testing.assert_frame_equal(part_ind, full_ind.iloc[:cut])
    assert full_rrg.iloc[200:].notna().all().all()
    assert set(full_ind.columns) == {"rsi_14", "ppo", "roc_20", "tsi", "bollinger_pb"}
