"""The close settles the session's provisional warnings: confirmed, or withdrawn with a note.

A warning is confirmed when the close run finds a shock on its pair in its direction (any
severity: the close graded it); the session's alert then says when it was first flagged.
Every other warning is withdrawn, and so is each warning of a session whose close could not be
read (data incomplete, prices refused, missed while down): the close never backed it.

Every target that got a warning hears how it ended, once: a withdrawn warning gets a short
note; a confirmed one gets its alert, or, when the close's shock stays below that target's own
``min_severity`` (a severe warning, an info shock at the close), a short "confirmed" note.
A chat muted at the close hears nothing (it asked for quiet). A warning row still pending at
the close is cancelled: the close speaks now, and a warning followed by its settlement would
only be noise. What ``settle`` returns is stored with the session's result in one transaction
(``StateStore.finish``, ``StateStore.settle``).

A rehearsal shares the outbox with the live daemon: a warning the other mode also raised
belongs to that mode's settlement, so a rehearsal never sends a note about a live warning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from bot.config import Config
from bot.core.models import Picture, RotationEvent, Severity
from bot.daemon.intraday import check_clock
from bot.notify.outbox import encode_parts
from bot.render.intraday import confirmed_text, withdrawn_text
from bot.render.parts import TextPart
from bot.store.intraday import Settlement, WarningRow
from bot.store.outbox import TELEGRAM, Queued, Target, Targets
from bot.store.state import StateStore

REACHED = ("sending", "sent", "unconfirmed")  # rows that went out (or may have)


@dataclass(frozen=True, slots=True)
class Settled:
    """How the close settled the session's warnings: what to store, what the alerts say and
    the notes to queue."""

    settlements: tuple[Settlement, ...]
    first_flagged: dict[str, str]  # pair -> "10:30 ET" for the confirmed ones
    notes: tuple[tuple[Queued, Targets], ...]


def settle(
    config: Config,
    store: StateStore,
    session: date,
    picture: Picture | None,
    listeners: Sequence[int],
    why: str = "",
) -> Settled:
    """Settle the open warnings of ``session`` against the close's ``picture`` (None: the
    close could not be read, ``why``); ``listeners``: the chats not muted at the close."""
    shocks = {
        (e.pair, f"{e.from_basket}->{e.to_basket}"): e
        for e in (picture.events if picture else ())
        if e.kind == "shock"
    }
    settlements: list[Settlement] = []
    flagged: dict[str, str] = {}
    notes: list[tuple[Queued, Targets]] = []
    for w in store.warnings_of(session):
        if w.outcome != "open":
            continue
        event = shocks.get((w.pair, w.direction))
        outcome = "confirmed" if event else "withdrawn"
        elsewhere = store.raised_elsewhere(w)
        # Rows still pending are cancelled, unless the other mode's warning owns them.
        settlements.append(Settlement(w.pair, w.direction, outcome, None if elsewhere else w.key))
        first = check_clock(config, w.session, w.first_at)
        if event is not None:
            flagged.setdefault(w.pair, first)
        if elsewhere:
            continue  # the other mode's warning, and its targets: its settlement speaks
        rows = store.rows_of(w.key)
        reached = [r.target for r in rows if r.status in REACHED or r.next_part > 0]
        reached = [t for t in reached if t.channel != TELEGRAM or t.chat_id in listeners]
        if event is None:
            moves = _close_moves(picture, w.pair)
            text = withdrawn_text(config, w.pair, w.direction, first, str(session), moves, why)
            notes.append(_note(w, "withdrawn", text, reached))
        elif quiet := [t for t in reached if not _alerted(config, t, event)]:
            text = confirmed_text(config, event, first)
            notes.append(_note(w, "confirmed", text, quiet))
    return Settled(tuple(settlements), flagged, tuple(n for n in notes if n[1]))


def _close_moves(picture: Picture | None, pair: str) -> dict[str, float | None]:
    state = next((s for s in picture.pairs if s.pair == pair), None) if picture else None
    return dict(state.basket_returns) if state else {}


def _alerted(config: Config, target: Target, event: RotationEvent) -> bool:
    """Whether ``target`` gets the close's alert of ``event`` (its own severity floor)."""
    if target.channel == TELEGRAM:
        return event.severity.rank >= Severity(config.telegram.min_severity).rank
    for channel in config.channels:
        if channel.name == target.channel:
            floor = Severity(channel.min_severity).rank
            return channel.watches(event.pair) and event.severity.rank >= floor
    return False


def _note(w: WarningRow, outcome: str, text: str, targets: list[Target]) -> tuple[Queued, Targets]:
    key = f"{w.session} {w.pair} {outcome} {w.direction}"
    return (key, "notice", encode_parts((TextPart(text),))), list(targets)
