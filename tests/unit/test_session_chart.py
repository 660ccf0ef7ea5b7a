"""The session so far: exact basket paths without look-ahead, and a small PNG of them."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from bot.render.session_chart import session_chart, session_paths

NY = ZoneInfo("America/New_York")
PREVIOUS = {"X": 100.0, "Y": 50.0, "Z": 10.0, "I": 200.0}
BASKETS = [("A", {"X": 0.5, "Y": 0.3, "Z": 0.2}), ("B", {"Y": 1.0})]
ASOF = datetime(2025, 3, 3, 14, 40, tzinfo=UTC)


def _bars(points: dict[str, list[tuple[str, float]]]) -> dict[str, pd.DataFrame]:
    return {
        t: pd.DataFrame(
            {"close": [c for _, c in rows]},
            index=pd.DatetimeIndex([pd.Timestamp(f"2025-03-03T{hm}Z") for hm, _ in rows]),
        )
        for t, rows in points.items()
    }


# X trades from the first bar, Y from the second, Z only at the third: A is X alone, then X
# and Y renormalised to their 0.8 of weight, then all three.
SESSION = {
    "X": [("14:30", 101.0), ("14:40", 103.0)],
    "Y": [("14:35", 49.0), ("14:40", 51.0)],
    "Z": [("14:40", 11.0)],
    "I": [("14:30", 202.0)],
}


def test_paths_weight_forward_fill_and_renormalise_exactly() -> None:
    paths = session_paths(_bars(SESSION), PREVIOUS, BASKETS, ("Index", "I"), ASOF)
    assert list(paths.columns) == ["A", "B", "Index"]
    assert [f"{t:%H:%M}" for t in paths.index] == ["14:30", "14:35", "14:40"]
    assert str(paths.index.tz) == "UTC"
    expected = {
        "A": [0.01, (0.5 * 0.01 + 0.3 * -0.02) / 0.8, 0.5 * 0.03 + 0.3 * 0.02 + 0.2 * 0.1],
        "B": [np.nan, -0.02, 0.02],
        "Index": [0.01, 0.01, 0.01],
    }
    for label, values in expected.items():
        np.testing.assert_allclose(paths[label].to_numpy(), values, rtol=0, atol=1e-12)


def test_a_member_without_a_previous_close_is_not_a_member_yet() -> None:
    prior = {t: c for t, c in PREVIOUS.items() if t != "Z"}
    paths = session_paths(_bars(SESSION), prior, BASKETS, None, ASOF)
    assert list(paths.columns) == ["A", "B"]
    assert paths["A"].iloc[-1] == pytest.approx((0.5 * 0.03 + 0.3 * 0.02) / 0.8, abs=1e-12)


def test_bars_after_asof_change_nothing_up_to_asof() -> None:
    later = {
        t: [*rows, ("14:45", rows[-1][1] * 1.5), ("15:00", 1.0)] for t, rows in SESSION.items()
    }
    now = session_paths(_bars(SESSION), PREVIOUS, BASKETS, ("Index", "I"), ASOF)
    seen = session_paths(_bars(later), PREVIOUS, BASKETS, ("Index", "I"), ASOF)
    pd.testing.assert_frame_equal(now, seen)
    earlier = ASOF.replace(minute=37)  # between two bars: the 14:40 bar is not seen yet
    between = session_paths(_bars(later), PREVIOUS, BASKETS, ("Index", "I"), earlier)
    pd.testing.assert_frame_equal(between, now.iloc[:2], check_freq=False)


def test_a_zone_keeps_yesterdays_bars_out_of_the_session() -> None:
    bars = _bars(SESSION)
    yesterday = pd.DataFrame({"close": [90.0]}, index=pd.DatetimeIndex(["2025-02-28T20:55Z"]))
    bars["X"] = pd.concat([yesterday, bars["X"]])
    assert len(session_paths(bars, PREVIOUS, BASKETS, None, ASOF)) == 4
    paths = session_paths(bars, PREVIOUS, BASKETS, None, ASOF, zone=NY)
    expected = session_paths(_bars(SESSION), PREVIOUS, BASKETS, None, ASOF)
    pd.testing.assert_frame_equal(paths, expected)


def _shape(png: bytes) -> tuple[int, ...]:
    from matplotlib.image import imread

    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    shape: tuple[int, ...] = imread(io.BytesIO(png), format="png").shape
    return shape


def test_chart_of_two_baskets_and_a_benchmark_is_a_small_png() -> None:
    rng = np.random.default_rng(5)
    index = pd.date_range("2025-03-03T14:30Z", periods=60, freq="5min")
    walks = rng.normal(0.0, 0.002, size=(60, 3)).cumsum(axis=0)
    paths = pd.DataFrame(walks, index=index, columns=["Chips $", "Platforms", "QQQ"])
    png = session_chart(paths, "Chips vs Platforms so far, 2025-03-03", NY)
    assert 5_000 < len(png) < 200_000
    assert _shape(png)[:2] == (320, 600)


def test_chart_of_a_single_bar_and_an_empty_line() -> None:
    index = pd.DatetimeIndex(["2025-03-03T14:30Z"])
    paths = pd.DataFrame({"A": [0.004], "B": [np.nan], "Index": [-0.001]}, index=index)
    png = session_chart(paths, "First bar", NY)
    assert 5_000 < len(png) < 200_000
    assert _shape(png)[:2] == (320, 600)
