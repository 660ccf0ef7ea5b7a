"""The digest: one message per session (or week) saying how every pair stands.

With a digest on, silence means something is broken: a session whose data never came, or
whose job failed, still gets its digest, saying so (``problem_digest``).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from bot.config import Config
from bot.core.models import Picture, Severity
from bot.render import html
from bot.render import text as fmt
from bot.render.messages import Outgoing, compose


def digest_key(session: date, weekly: bool) -> str:
    return f"{session} {'weekly ' if weekly else ''}digest"


def session_digest(config: Config, picture: Picture, min_severity: str, weekly: bool) -> Outgoing:
    """Every pair's state, its best score and why it was (or was not) a rotation; the events
    pushed as alerts, then those below ``min_severity``."""
    floor = Severity(min_severity).rank
    pushed = [e for e in picture.events if e.severity.rank >= floor]
    below = replace(
        picture,
        pairs=tuple(
            replace(p, events=tuple(e for e in p.events if e.severity.rank < floor))
            for p in picture.pairs
        ),
    )
    body = fmt.render_quiet_day(below, config).split("\n", 1)[1]
    head = _title(picture.date, weekly)
    if pushed:
        head += "\nAlerted: " + "; ".join(
            html.esc(
                f"{e.severity.value} {e.kind} toward {fmt.short_name(config, e.to_basket)} "
                f"({fmt.pair_title(config, e.pair)})"
            )
            for e in pushed
        )
    else:
        head += "\nNo rotation."
    text = f"{head}\n{body}"
    return Outgoing(digest_key(picture.date, weekly), "digest", compose(text, None, "", ""))


def problem_digest(session: date, problem: str, weekly: bool) -> Outgoing:
    """The digest of a session that produced no signal: says why, so silence never lies."""
    text = f"{_title(session, weekly)}\n⚠️ No signal for this session: {html.esc(problem)}"
    # Its own key: a later retry that does produce the signal still sends the real digest.
    key = f"{digest_key(session, weekly)} (no signal)"
    return Outgoing(key, "digest", compose(text, None, "", ""))


def _title(session: date, weekly: bool) -> str:
    return f"🗞 <b>{'Weekly' if weekly else 'Daily'} digest · {session}</b>"
