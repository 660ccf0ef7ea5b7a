"""Operational notices the daemon sends: data incomplete at the deadline, repeated failures.

Telegram HTML like the alerts (``bot.format``): every dynamic piece is escaped.
"""

from __future__ import annotations

from datetime import date
from html import escape

from bot.config import Config


def render_data_incomplete(config: Config, session: date, missing: list[str]) -> str:
    names = ", ".join(escape(t) for t in missing[:12]) + (" ..." if len(missing) > 12 else "")
    return (
        f"<b>Data incomplete for {session}</b>\n"
        f"No signal today: by the {config.schedule.deadline:%H:%M} deadline the session's bar "
        f"was still missing for {names}.\n"
        "The next session is evaluated as usual."
    )


def render_failures(config: Config, count: int, session: date, error: str) -> str:
    return (
        f"<b>rotabot needs attention</b>\n"
        f"The daily job failed {count} times in a row (last for session {session}):\n"
        f"<pre>{escape(error[:300])}</pre>\n"
        f"It keeps retrying every {config.schedule.retry_minutes} minutes; see the daemon's log."
    )
