"""The bot's own alerts scored (``bot.core.scorecard``), from what it delivered when it can.

Shared by ``rotabot scorecard`` and ``/scorecard``: the events whose alert went out, read
from the state file (live runs and rehearsals), at or above ``telegram.min_severity``; when the
file holds none for the period, the events a replay finds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

from bot.config import Config
from bot.core.market import build_market
from bot.core.models import RotationEvent, Severity
from bot.core.panel import PricePanel
from bot.core.params import Pair
from bot.core.scorecard import DRAWS, SEED, ScoreRow, scorecard
from bot.core.signals import compute_signals, events

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Scored:
    rows: list[ScoreRow]
    source: str  # "state" (delivered alerts) or "replay"
    start: date
    end: date


def score_alerts(
    config: Config,
    panel: PricePanel,
    period: tuple[date, date],
    pair: Pair | None = None,
    source: str = "auto",
    draws: int = DRAWS,
    seed: int = SEED,
) -> Scored:
    """Score the alerts of ``period`` (``source``: "auto", "state" or "replay")."""
    start, end = period
    found, used = delivered(config, start, end) if source != "replay" else ([], "replay")
    if used == "state" and pair:
        found = [e for e in found if e.pair == pair.key]
    if not found and source != "state":
        signals = compute_signals(panel.upto(end), config.universe, (pair,) if pair else None)
        found, used = events(signals, start, end), "replay"
    levels = build_market(panel, config.universe).levels
    return Scored(scorecard(found, levels, period, draws=draws, seed=seed), used, start, end)


def delivered(config: Config, start: date, end: date) -> tuple[list[RotationEvent], str]:
    """The events whose alerts went out, from the state file (none when it does not exist)."""
    if not config.state.path.is_file():
        return [], "state"
    from bot.store.db import connect
    from bot.store.history import delivered_events

    conn = connect(config.state.path)
    try:
        rows = delivered_events(conn, start, end)
    finally:
        conn.close()
    floor = Severity(config.telegram.min_severity).rank
    first = config.pairs[0].key  # the one-pair version stored no pair
    found = [RotationEvent.from_json(r, default_pair=first) for r in rows]
    watched = {p.key for p in config.pairs}
    gone = sorted({e.pair for e in found} - watched)
    if gone:  # alerts of pairs no longer configured: their baskets may be gone too
        log.warning("scorecard leaves out alerts of pairs no longer watched: %s", ", ".join(gone))
    return [e for e in found if e.pair in watched and e.severity.rank >= floor], "state"
