"""When the daily job runs: a fixed delay after each session's close, in exchange time.

``schedule.time`` is read as "this long after a regular close" (16:30 with a 16:00 close is 30
minutes), so an early close (13:00 the day after Thanksgiving) runs at 13:30, and because the
calendar gives closes as instants, daylight-saving changes never move the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.config import ScheduleConfig
from bot.data import calendar

REGULAR_CLOSE_HOUR = 16  # NYSE; the delay is measured from here on a regular day


@dataclass(frozen=True, slots=True)
class Runtimes:
    """Run and deadline instants of sessions for one schedule."""

    schedule: ScheduleConfig

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.schedule.timezone)

    @property
    def delay(self) -> timedelta:
        t = self.schedule.time
        return timedelta(hours=t.hour - REGULAR_CLOSE_HOUR, minutes=t.minute)

    def run_at(self, session: date) -> datetime:
        """Return when the job for ``session`` runs (aware, UTC)."""
        close = calendar.session_close(self.schedule.calendar, session)
        return (close + self.delay).astimezone(UTC)

    def deadline(self, session: date) -> datetime:
        """Return when waiting for the session's data stops (the same shift as the run)."""
        d, t = self.schedule.deadline, self.schedule.time
        shift = timedelta(hours=d.hour - t.hour, minutes=d.minute - t.minute)
        return self.run_at(session) + shift

    def sessions(self, start: date, end: date) -> list[date]:
        return [ts.date() for ts in calendar.sessions(self.schedule.calendar, start, end)]

    def due(self, now: datetime, since: date) -> list[date]:
        """Return sessions from ``since`` whose run time is at or before ``now``, oldest first."""
        local_today = now.astimezone(self.tz).date()
        return [s for s in self.sessions(since, local_today) if self.run_at(s) <= now]

    def next_run(self, now: datetime) -> tuple[date, datetime]:
        """Return the next session whose run time is after ``now``, and that time."""
        day = now.astimezone(self.tz).date()
        for s in self.sessions(day - timedelta(days=1), day + timedelta(days=14)):
            at = self.run_at(s)
            if at > now:
                return s, at
        raise ValueError(f"no {self.schedule.calendar} session in the two weeks after {day}")
