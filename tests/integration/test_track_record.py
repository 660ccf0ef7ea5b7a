"""Every event's track record on real prices, 2016-2025, recomputed from scratch.

The recomputation here uses only the event list and the basket index levels, in plain
Python; it must agree with what the engine attached. The cut-at-t check proves the record of
an event on session t reads nothing after t.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.config import Config
from bot.core.record import HORIZONS, hac_t
from bot.core.rotation import shock_eligible, stopped_by
from bot.core.signals import Signals, compute_signals, events
from bot.data.csv_source import CsvSource

pytestmark = [pytest.mark.integration, pytest.mark.realdata]

START, END = date(2016, 1, 1), date(2025, 12, 31)


@pytest.fixture(scope="module")
def real(real_prices: Path) -> Signals:
    config = Config()
    panel = CsvSource(real_prices).fetch(config.tickers, config.data.history_start)
    return compute_signals(panel.upto(END), config.universe)


def test_every_track_record_is_recomputed_from_events_and_prices(real: Signals) -> None:
    everything = events(real, None, END)  # from the start of the data: the records' sample
    at = {ts.date(): i for i, ts in enumerate(real.sessions)}
    levels = {k: real.market.levels[k].to_numpy() for k in ("chips", "platforms")}
    checked = 0
    for e in [e for e in everything if e.date >= START]:
        assert e.track_record is not None
        same = [
            x
            for x in everything
            if x.kind == e.kind and x.severity == e.severity and x.date < e.date
        ]
        assert e.track_record.count == len(same)
        for h in HORIZONS:
            values = [
                levels[x.to_basket][at[x.date] + h] / levels[x.to_basket][at[x.date]]
                - levels[x.from_basket][at[x.date] + h] / levels[x.from_basket][at[x.date]]
                for x in same
                if at[x.date] + h <= at[e.date]
            ]
            got = e.track_record.horizons[h]
            assert got.n == len(values)
            if values:
                assert got.mean == pytest.approx(float(np.mean(values)), abs=1e-12)
                assert got.hit_rate == pytest.approx(float(np.mean(np.array(values) > 0)))
                assert got.t == pytest.approx(hac_t(np.array(values), h - 1), abs=1e-9)
        checked += 1
    assert checked >= 60


@pytest.mark.parametrize("which", [0, 40, -1])
def test_a_track_record_on_data_cut_at_its_session_is_the_same(
    real: Signals, real_prices: Path, which: int
) -> None:
    d = events(real, START, END)[which].date
    config = Config()
    panel = CsvSource(real_prices).fetch(config.tickers, config.data.history_start)
    cut = compute_signals(panel.upto(d), config.universe)
    full = [e for e in events(real, d, d)]
    assert full
    assert events(cut, d, d) == full


def test_the_gate_in_words_agrees_with_the_vectorised_gate(real: Signals) -> None:
    """``stopped_by`` (one session, for the quiet-day line) and ``shock_eligible`` (every
    session, for detection) are the same rule."""
    frame = real.first.frame
    params = real.universe.params
    eligible = shock_eligible(frame, params).to_numpy()
    score, breadth = frame["score"].to_numpy(), frame["breadth"].to_numpy()
    share = frame["benchmark_share"].to_numpy()
    fired = eligible & (score >= params.shock_info)
    words = np.array(
        [stopped_by(s, b, x, params) is None for s, b, x in zip(score, breadth, share, strict=True)]
    )
    pd.testing.assert_series_equal(pd.Series(words), pd.Series(fired))
