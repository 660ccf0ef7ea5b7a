"""How old the data is, in sessions of the exchange calendar, and how that is said."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.data.age import DataAge, data_age

WHY = "Yahoo not reached, showing the cache"


def test_counts_the_sessions_after_the_newest_bar() -> None:
    # Monday 2025-02-03, 18:00 New York: five sessions since Friday 2025-01-24, and Monday.
    age = data_age(date(2025, 1, 24), "XNYS", datetime(2025, 2, 3, 23, tzinfo=UTC), WHY)

    assert (age.last_closed, age.sessions, age.stale) == (date(2025, 2, 3), 6, True)
    assert age.describe() == f"data through 2025-01-24, 6 sessions old: {WHY}"
    assert age.to_json() == {
        "through": "2025-01-24",
        "last_closed_session": "2025-02-03",
        "sessions_old": 6,
        "reason": WHY,
    }


@pytest.mark.parametrize(
    ("now", "last_closed"),
    [
        # 16:10 New York: the close is not published yet, Friday is the newest one can have.
        (datetime(2025, 2, 3, 21, 10, tzinfo=UTC), date(2025, 1, 31)),
        # Saturday: Friday's close is the last.
        (datetime(2025, 2, 1, 12, tzinfo=UTC), date(2025, 1, 31)),
    ],
)
def test_current_data_is_not_stale(now: datetime, last_closed: date) -> None:
    age = data_age(date(2025, 1, 31), "XNYS", now, WHY)

    assert (age.last_closed, age.sessions, age.stale) == (last_closed, 0, False)
    assert age.describe() == "data through 2025-01-31, the last closed session"
    assert age.to_json()["reason"] is None


def test_holidays_are_not_sessions() -> None:
    # Christmas 2024 and New Year's Day 2025 fall between: 2024-12-24 .. 2025-01-02.
    age = data_age(date(2024, 12, 23), "XNYS", datetime(2025, 1, 2, 23, tzinfo=UTC))

    assert age.sessions == 6  # 24, 26, 27, 30, 31 December and 2 January
    assert age.describe() == "data through 2024-12-23, 6 sessions old"


def test_one_session_is_singular() -> None:
    assert (
        DataAge(date(2025, 1, 30), date(2025, 1, 31), 1, WHY)
        .describe()
        .startswith("data through 2025-01-30, 1 session old:")
    )
