"""When the daily job runs: ``schedule.time`` in ``schedule.timezone``, after each close.

The run of a session is ``schedule.time`` on the day that puts it nearest the session's close
(``ScheduleConfig.run_after``): with the default 16:30 America/New_York it is 16:30 New York
time whatever the season (20:30 or 21:30 UTC), early closes included; with 02:30
Asia/Kolkata it is 02:30 in Kolkata the night after the New York close. The deadline is
``schedule.deadline`` on the day of the run. The configuration refuses a time that would fall
before a close, so the job never looks for a bar that cannot exist yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.config import ScheduleConfig
from bot.data import calendar

# A run lies within 12 hours of its close, so a session's run falls on a UTC date at most a
# day from the session's; these margins keep every candidate in the calendar ranges searched.
_BEFORE = timedelta(days=2)
_AHEAD = timedelta(days=14)


@dataclass(frozen=True, slots=True)
class Runtimes:
    """Run and deadline instants of sessions for one schedule."""

    schedule: ScheduleConfig

    @property
    def tz(self) -> ZoneInfo:
        return self.schedule.zone

    def run_at(self, session: date) -> datetime:
        """Return when the job for ``session`` runs (aware, UTC)."""
        close = calendar.session_close(self.schedule.calendar, session)
        return self.schedule.run_after(close).astimezone(UTC)

    def deadline(self, session: date) -> datetime:
        """Return when waiting for the session's data stops (aware, UTC)."""
        return self.schedule.deadline_after(self.run_at(session)).astimezone(UTC)

    def sessions(self, start: date, end: date) -> list[date]:
        return [ts.date() for ts in calendar.sessions(self.schedule.calendar, start, end)]

    def due(self, now: datetime, since: date) -> list[date]:
        """Return sessions from ``since`` whose run time is at or before ``now``, oldest first."""
        today = now.astimezone(UTC).date()
        return [s for s in self.sessions(since, today + timedelta(days=1)) if self.run_at(s) <= now]

    def next_run(self, now: datetime) -> tuple[date, datetime]:
        """Return the next session whose run time is after ``now``, and that time."""
        day = now.astimezone(UTC).date()
        for s in self.sessions(day - _BEFORE, day + _AHEAD):
            at = self.run_at(s)
            if at > now:
                return s, at
        raise ValueError(f"no {self.schedule.calendar} session in the two weeks after {day}")
