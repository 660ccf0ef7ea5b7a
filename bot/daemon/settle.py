"""The close settles the session's provisional warnings: confirmed, or withdrawn with a note.

A warning is confirmed when the close run finds a shock on its pair in its direction (any
severity: the close graded it); the session's alert then says when it was first flagged. Any
other warning is withdrawn: each target its warning was queued for gets a short note (a row
that failed for good never reached its target and gets none). What ``settle`` returns is
stored with the session's result in one transaction (``StateStore.finish``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot.config import Config
from bot.core.models import Picture
from bot.daemon.intraday import check_clock
from bot.notify.outbox import encode_parts
from bot.render.intraday import withdrawn_text
from bot.render.parts import TextPart
from bot.store.intraday import Settlement, WarningRow
from bot.store.outbox import Queued, Target, Targets
from bot.store.state import StateStore


@dataclass(frozen=True, slots=True)
class Settled:
    """How the close settled the session's warnings: what to store, what the alerts say and
    the withdrawn notes to queue."""

    settlements: tuple[Settlement, ...]
    first_flagged: dict[str, str]  # pair -> "10:30 ET" for the confirmed ones
    notes: tuple[tuple[Queued, Targets], ...]


def settle(config: Config, store: StateStore, session: date, picture: Picture) -> Settled:
    """Confirm each open warning whose pair shows a shock in its direction at the close;
    withdraw the others, with a note to every target its warning was queued for (a failed
    row never reached its target: it gets no note)."""
    shocks = {
        (e.pair, f"{e.from_basket}->{e.to_basket}") for e in picture.events if e.kind == "shock"
    }
    settlements: list[Settlement] = []
    flagged: dict[str, str] = {}
    notes: list[tuple[Queued, Targets]] = []
    for w in store.warnings_of(session):
        if w.outcome != "open":
            continue
        confirmed = (w.pair, w.direction) in shocks
        outcome = "confirmed" if confirmed else "withdrawn"
        settlements.append(Settlement(w.pair, w.direction, outcome))
        if confirmed:
            flagged.setdefault(w.pair, check_clock(config, session, w.first_at))
        else:
            notes.append(_withdrawn_note(config, store, w, picture))
    return Settled(tuple(settlements), flagged, tuple(n for n in notes if n[1]))


def _withdrawn_note(
    config: Config, store: StateStore, w: WarningRow, picture: Picture
) -> tuple[Queued, Targets]:
    state = next((s for s in picture.pairs if s.pair == w.pair), None)
    moves = dict(state.basket_returns) if state else {}
    first = check_clock(config, w.session, w.first_at)
    text = withdrawn_text(config, w.pair, w.direction, first, str(w.session), moves)
    key = f"{w.session} {w.pair} withdrawn {w.direction}"
    targets: list[int | Target] = [r.target for r in store.rows_of(w.key) if r.status != "failed"]
    return (key, "notice", encode_parts((TextPart(text),))), targets
