"""The daily job: for one session, fetch, check, evaluate, store and queue; then deliver.

``evaluate_session`` is synchronous (pandas work; the daemon runs it in a thread) and writes
its whole result in one transaction; ``deliver_pending`` (``bot.notify.outbox``, the one
delivery pipeline, shared with ``rotabot signal --send``) is async and sends what the outbox
holds. The clock and the price loader are injected, so the same code serves the daemon, a
rehearsal on past dates and the tests.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

import pandas as pd

from bot.config import Config
from bot.core.panel import PricePanel, missing_on
from bot.daemon.routing import channel_alerts, digests
from bot.daemon.settle import settle
from bot.data.checks import BadPrices
from bot.data.runtimes import Runtimes
from bot.errors import DataError, DataUnavailable
from bot.notify.notifiers import CONSOLE_CHAT, TextPart
from bot.notify.outbox import deliver_pending as deliver_pending
from bot.notify.outbox import encode_parts as encode_parts
from bot.store.state import Run, StateStore

log = logging.getLogger(__name__)

LATE_TRIES = 3

PriceLoader = Callable[[date, datetime], PricePanel]
"""(session, now) -> prices as known at ``now``; may raise DataUnavailable."""


class Outcome(StrEnum):
    DONE = "done"
    WAITING = "waiting"  # data not there yet; try again after retry_minutes
    INCOMPLETE = "incomplete"  # deadline passed without the data: notice sent, no signal
    SKIPPED = "skipped"  # already evaluated (or skipped by catch-up): nothing to do


@dataclass(frozen=True, slots=True)
class Job:
    """What the daily job needs from the world."""

    config: Config
    store: StateStore
    prices: PriceLoader
    runtimes: Runtimes
    muted: Callable[[int, datetime], bool]
    notices: tuple[tuple[str, str, list[dict[str, str]]], ...] = ()  # queued with the session's

    @property
    def chats(self) -> list[int]:
        return list(self.config.telegram.chat_ids) or [CONSOLE_CHAT]


def evaluate_session(job: Job, session: date, now: datetime) -> Outcome:
    """Run the daily job for ``session`` at ``now``; exactly once per session."""
    if job.store.is_final(session) or _skipped(job, session):
        return Outcome.SKIPPED
    before = job.store.run(session)
    attempt = job.store.start(session, now)
    started = time.monotonic()
    panel: PricePanel | None = None
    try:
        panel = job.prices(session, now)
    except DataUnavailable as exc:
        absent = list(exc.missing) or [str(exc)]
    except DataError as exc:  # refused at the door (bot.data.checks): never evaluated as is
        job, panel = _without_refused(job, session, now, exc, time.monotonic() - started)
        if panel is None:
            return Outcome.INCOMPLETE
    if panel is not None:
        absent = _absent(job.config, panel, session)
    if absent or panel is None:
        late_start = _catching_up(job, before, now)
        return _wait_or_give_up(
            job, session, now, absent, attempt, late_start, time.monotonic() - started
        )
    return _evaluate(job, session, now, panel, time.monotonic() - started)


def _without_refused(
    job: Job, session: date, now: datetime, exc: DataError, seconds: float
) -> tuple[Job, PricePanel | None]:
    """Prices were refused: with ``data.on_bad_ticker = "drop"`` (and a panel left), carry on
    without the refused tickers (notice queued with the session's messages); otherwise skip the
    session with one notice per chat naming each ticker and date."""
    from dataclasses import replace

    from bot.render.html import esc

    lines = [r.line() for r in exc.refusals] if isinstance(exc, BadPrices) else [str(exc)]
    kept = _drop(job.config, exc) if job.config.data.on_bad_ticker == "drop" else None
    outcome = "carrying on without them" if kept else "no signal for this session"
    text = f"⚠️ <b>Prices refused · {session}</b>\n" + "\n".join(esc(x) for x in lines)
    parts = encode_parts((TextPart(f"{text}\n{outcome}."),))
    notice = (f"{session} prices refused", "notice", parts)
    log.warning("session %s: prices refused (%s): %s", session, "; ".join(lines), outcome)
    if kept is None or not isinstance(exc, BadPrices) or exc.panel is None:
        chats = _listeners(job, now)
        settled = settle(
            job.config, job.store, session, None, chats, "the close's prices were refused"
        )
        job.store.finish(
            session, "incomplete", [], [notice], chats, seconds, settled.notes, settled.settlements
        )
        return job, None
    return replace(job, config=kept, notices=(notice,)), exc.panel


def _drop(config: Config, exc: DataError) -> Config | None:
    """The config without the refused tickers; None if that empties a basket or hits the
    benchmark (then the session is skipped instead)."""
    from dataclasses import replace

    if not isinstance(exc, BadPrices) or exc.panel is None:
        return None
    out = set(exc.tickers)
    if config.benchmark.ticker in out:
        return None
    baskets = []
    for b in config.baskets:
        keep = [i for i, t in enumerate(b.tickers) if t not in out]
        if not keep:
            return None
        weights = tuple(b.weights[i] for i in keep) if b.weights else None
        baskets.append(replace(b, tickers=tuple(b.tickers[i] for i in keep), weights=weights))
    return replace(config, baskets=tuple(baskets))


def _skipped(job: Job, session: date) -> bool:
    run = job.store.run(session)
    return run is not None and run.status == "skipped"


def _absent(config: Config, panel: PricePanel, session: date) -> list[str]:
    ts = pd.Timestamp(session)
    if ts not in panel.dates:
        return list(config.tickers)
    return missing_on(panel, config.tickers, ts)


def _wait_or_give_up(
    job: Job,
    session: date,
    now: datetime,
    absent: list[str],
    attempt: int,
    late_start: bool,
    seconds: float,
) -> Outcome:
    what = f"missing {', '.join(absent[:6])}" + (" ..." if len(absent) > 6 else "")
    if now < job.runtimes.deadline(session) or not _out_of_time(job, session, now, late_start):
        log.info("session %s: data incomplete (%s), attempt %d; retrying", session, what, attempt)
        job.store.mark(session, "waiting", error=what, seconds=seconds)
        return Outcome.WAITING
    from bot.render.text import render_data_incomplete

    text = render_data_incomplete(job.config, session, absent)
    notice = [(f"{session} data incomplete", "notice", encode_parts((TextPart(text),)))]
    chats = _listeners(job, now)
    routed = digests(
        job.config, job.runtimes, session, chats, None, f"data incomplete at the deadline ({what})"
    )
    settled = settle(job.config, job.store, session, None, chats, "the close's data never came")
    routed += settled.notes
    job.store.finish(session, "incomplete", [], notice, chats, seconds, routed, settled.settlements)
    log.warning("session %s: data still incomplete at the deadline (%s): no signal", session, what)
    return Outcome.INCOMPLETE


def _catching_up(job: Job, before: Run | None, now: datetime) -> bool:
    """Return whether this attempt follows a gap (never tried, or the daemon was down)."""
    if before is None or before.started_at is None:
        return True
    gap = now - datetime.fromisoformat(before.started_at)
    return gap > timedelta(minutes=job.config.schedule.retry_minutes * 2)


def _out_of_time(job: Job, session: date, now: datetime, late_start: bool) -> bool:
    """After the deadline, is it time to give up? A session whose tries were cut short by
    downtime first gets LATE_TRIES more, ``retry_minutes`` apart: one failed fetch after a
    restart should not cost the day's signal."""
    since = job.store.late_since(session, now if late_start else None)
    if since is None:
        return True
    window = timedelta(minutes=job.config.schedule.retry_minutes * (LATE_TRIES - 1))
    return now >= since + window


def _evaluate(job: Job, session: date, now: datetime, panel: PricePanel, fetch: float) -> Outcome:
    from bot.core.signals import compute_signals, picture_at
    from bot.render.messages import session_messages

    started = time.monotonic()
    signals = compute_signals(panel.upto(session), job.config.universe)
    picture = picture_at(signals, session)
    chats = _listeners(job, now)
    settled = settle(job.config, job.store, session, picture, chats)
    flagged = settled.first_flagged
    outgoing = session_messages(job.config, signals, picture, flagged)
    messages = [*job.notices, *((o.key, o.kind, encode_parts(o.parts)) for o in outgoing)]
    events = [e.to_json() for e in picture.events]
    routed = channel_alerts(job.config, signals, picture, flagged)
    routed += digests(job.config, job.runtimes, session, chats, picture)
    routed += settled.notes
    seconds = fetch + time.monotonic() - started
    job.store.finish(session, "done", events, messages, chats, seconds, routed, settled.settlements)
    log.info(
        "session %s: evaluated in %.2fs, %d event(s), %d message(s) queued",
        session,
        seconds,
        len(events),
        len(messages),
    )
    return Outcome.DONE


def _listeners(job: Job, now: datetime) -> list[int]:
    """Chats that get this session's messages: muted chats miss them (they asked to)."""
    return [c for c in job.chats if not job.muted(c, now)]
