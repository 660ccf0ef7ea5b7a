"""How old the data is: the newest bar held against the last closed session of the calendar.

A picture drawn from a cache that Yahoo could not refresh looks exactly like today's; this says
by how many sessions it is behind and why ("data through 2026-08-20, 73 sessions old: Yahoo
not reached, showing the cache"). ``data_age`` is the one computation, for ``signal`` and any
other place that shows a picture (``/signal``, ``status``, the alerts).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.data.calendar import last_closed_session, sessions

# Yahoo publishes the closing bar some minutes after the bell; before that, the session before
# is the newest one anyone can have.
PUBLISH_DELAY = timedelta(minutes=20)


@dataclass(frozen=True, slots=True)
class DataAge:
    """The newest bar (``through``), the last closed session at the time asked, the sessions
    between them (0: current) and, when known, why the data stop there."""

    through: date
    last_closed: date
    sessions: int
    why: str | None = None

    @property
    def stale(self) -> bool:
        return self.sessions > 0

    def describe(self) -> str:
        """One line: "data through D, N sessions old: why" (or "..., current")."""
        if not self.stale:
            return f"data through {self.through}, the last closed session"
        plural = "s" if self.sessions != 1 else ""
        text = f"data through {self.through}, {self.sessions} session{plural} old"
        return f"{text}: {self.why}" if self.why else text

    def to_json(self) -> dict[str, object]:
        return {
            "through": self.through.isoformat(),
            "last_closed_session": self.last_closed.isoformat(),
            "sessions_old": self.sessions,
            "reason": self.why if self.stale else None,
        }


def data_age(through: date, calendar: str, now: datetime, why: str | None = None) -> DataAge:
    """Return how far ``through`` lags the last session of ``calendar`` closed by ``now``
    (aware), counting the sessions after ``through`` up to it."""
    last = last_closed_session(calendar, now, PUBLISH_DELAY)
    behind = len(sessions(calendar, through + timedelta(days=1), last)) if last > through else 0
    return DataAge(through, last, behind, why)
