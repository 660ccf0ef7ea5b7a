"""The daemon's brain: which sessions are due, catch-up after downtime, failures, next wake-up.

Timing is the caller's business: ``Daemon.tick(now)`` does everything due at ``now`` and
returns when to wake next. The live daemon calls it from the bot's JobQueue; a rehearsal on
past dates calls it with a simulated clock; the tests call it with a fake one.

A daemon built with ``marks=REHEARSAL`` keeps its runs apart from the live daemon's (see
``bot.store.state``). The state file itself failing (damaged, disk full, locked) is not a
failed run: it stops the daemon with ``StateFileError``, since nothing it did could be kept.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial

from bot.config import Config
from bot.daemon import intraday
from bot.daemon.intraday import BarLoader
from bot.daemon.job import (
    Job,
    Outcome,
    PriceLoader,
    deliver_pending,
    encode_parts,
    evaluate_session,
)
from bot.daemon.routing import digests
from bot.daemon.settle import settle
from bot.data import calendar
from bot.data.runtimes import Runtimes
from bot.errors import NotifyError
from bot.notify.notifiers import CONSOLE_CHAT, Notifier, TextPart, redact
from bot.store.db import StateFileError
from bot.store.state import LIVE, Marks, StateStore

log = logging.getLogger(__name__)

FIRST_START = "first_start"
FAILURES = "consecutive_failures"
PENDING_TRIES = "pending_delivery_tries"  # deliveries in a row that left rows pending


Progress = Callable[[int, int, date], None]
"""``progress(done, total, last session done)``: a rehearsal's progress."""


def span(sessions: Sequence[date]) -> str:
    """Name sessions (oldest first) briefly: one, two, or the first and last of many."""
    if len(sessions) <= 2:
        return " and ".join(str(s) for s in sessions)
    return f"{sessions[0]} .. {sessions[-1]}"


@dataclass
class Daemon:
    config: Config
    connect: Callable[[], sqlite3.Connection]
    prices: PriceLoader
    notifier: Callable[[sqlite3.Connection], Notifier]
    muted: Callable[[sqlite3.Connection, int, datetime], bool] = lambda conn, chat, now: False
    marks: Marks = LIVE
    bars: BarLoader | None = None  # intraday bars: the checks run when set and enabled
    check_prices: PriceLoader | None = None  # the checks' daily prices (default: ``prices``)
    runtimes: Runtimes = field(init=False)
    store: StateStore = field(init=False)
    evaluations: list[tuple[date, Outcome]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.runtimes = Runtimes(self.config.schedule)
        self.store = StateStore(self.connect(), self.marks)

    def close(self) -> None:
        """Close the daemon's own connection (the last one out checkpoints the WAL)."""
        self.store.conn.close()

    # --- start-up -------------------------------------------------------------------------

    def start(self, now: datetime) -> None:
        """Recover interrupted sends and apply the catch-up policy to sessions missed while down."""
        self._recover()
        if self.store.get(FIRST_START) is None:
            self.store.put(FIRST_START, now.isoformat())
        self._settle_left_open(now)
        due = self.due(now)
        policy = self.config.schedule.catch_up
        live = [s for s in due if now < self.runtimes.deadline(s)]
        missed = [s for s in due if s not in live]
        if policy == "all" or not due:
            return
        keep = due[-1:] if policy == "latest" else live
        skipped = [s for s in due if s not in keep]
        for s in skipped:
            self.store.start(s, now)
            self.store.mark(s, "skipped", error=f"missed while down (catch_up = {policy!r})")
            self._settle_unread(s, now, "the daemon was down at the close")
        if skipped:
            log.warning(
                "catch-up %s: %d missed session(s) not evaluated: %s",
                policy,
                len(skipped),
                span(skipped),
            )
        if missed and keep:
            log.info("catch-up %s: evaluating %s", policy, span(keep))

    def _settle_left_open(self, now: datetime) -> None:
        """Settle warnings a crash left open on a session already settled (skipped, then
        stopped before its warnings were withdrawn): their targets still hear how they ended."""
        for session in self.store.open_warning_sessions():
            if self._settled(session):
                self._settle_unread(session, now, "the session was not evaluated")

    def _settle_unread(self, session: date, now: datetime, why: str) -> None:
        """Withdraw the warnings of a session whose close is never read, with their notes."""
        chats = list(self.config.telegram.chat_ids) or [CONSOLE_CHAT]
        listeners = [c for c in chats if not self.muted(self.store.conn, c, now)]
        settled = settle(self.config, self.store, session, None, listeners, why)
        if settled.settlements:
            self.store.settle(session, settled.settlements, settled.notes)

    def _recover(self) -> None:
        doubtful = self.store.recover()
        if doubtful:
            log.warning(
                "%d outbox row(s) were interrupted mid-send: marked unconfirmed, "
                "not sent again (Telegram may have delivered them)",
                doubtful,
            )

    def _since(self) -> date:
        last = self.store.last_final()
        if last is not None:
            # Sessions after the last settled one, and any older one left waiting or failed.
            return min(last + timedelta(days=1), self.store.first_unsettled() or date.max)
        first = self.store.get(FIRST_START)
        # A fresh state file starts with the sessions still in their window, not history.
        start = datetime.fromisoformat(first) if first else None
        if start is None:
            return date.max
        return min(
            (
                s
                for s in self.runtimes.sessions(
                    start.date() - timedelta(days=7), start.date() + timedelta(days=14)
                )
                if self.runtimes.deadline(s) > start
            ),
            default=start.date(),
        )

    def due(self, now: datetime) -> list[date]:
        """Return sessions whose run time has come and that are not settled yet, oldest first."""
        since = self._since()
        if since == date.max:
            return []
        candidates = self.runtimes.due(now, since)
        return [s for s in candidates if not self._settled(s)]

    def _settled(self, session: date) -> bool:
        run = self.store.run(session)
        return run is not None and run.status in ("done", "incomplete", "skipped")

    # --- the job ----------------------------------------------------------------------------

    async def tick(self, now: datetime) -> datetime:
        """Run the session's due check, evaluate every due session, deliver the outbox, and
        return the next wake-up time."""
        session = self._checking(now)
        if session is not None:
            await self._check(session, now)
        for session in self.due(now):
            await self._evaluate(session, now)
        await self.deliver()
        return self.next_wake(now)

    # --- checks during the session ------------------------------------------------------------

    @property
    def checking(self) -> bool:
        return self.bars is not None and self.config.intraday.enabled

    def _checking(self, now: datetime) -> date | None:
        """The session open at ``now`` if checks run and it has not been evaluated yet."""
        if not self.checking:
            return None
        zone = intraday.exchange_zone(self.config)
        today = now.astimezone(zone).date()
        if not self.runtimes.sessions(today, today) or self._settled(today):
            return None
        # After the close the day's bar is complete: the close run speaks, not a check.
        return today if now < calendar.session_close(self.config.schedule.calendar, today) else None

    async def _check(self, session: date, now: datetime, label: str | None = None) -> None:
        try:
            await asyncio.to_thread(self._check_in_thread, session, now, label)
        except (sqlite3.Error, StateFileError):
            raise
        except Exception:  # a check must never stop the daemon nor the close run
            log.exception("session %s: the intraday check failed", session)

    def _check_in_thread(self, session: date, now: datetime, label: str | None) -> None:
        assert self.bars is not None
        conn = self.connect()
        try:
            muted = partial(self.muted, conn)
            store = StateStore(conn, self.marks)
            prices = self.check_prices or self.prices
            checks = intraday.Checks(self.config, store, prices, self.bars, muted)
            if label is None:
                intraday.run_due(checks, session, now)
            elif label not in {c.at for c in store.checks_of(session)}:
                intraday.run_check(checks, session, label, now)
        finally:
            conn.close()

    def next_check(self, now: datetime) -> datetime | None:
        """The next check's time after ``now`` (None when checks do not run)."""
        if not self.checking:
            return None
        day = now.astimezone(UTC).date()
        for session in self.runtimes.sessions(day - timedelta(days=1), day + timedelta(days=10)):
            later = [at for _, at in intraday.check_times(self.config, session) if at > now]
            if later and not self._settled(session):
                return later[0]
        return None

    async def _evaluate(self, session: date, now: datetime) -> None:
        try:
            outcome = await asyncio.to_thread(self._evaluate_in_thread, session, now)
        except (sqlite3.Error, StateFileError):
            raise  # the state file itself: no failure could be recorded either
        except Exception as exc:  # the job wrapper: a failure must never stop the daemon
            log.exception("session %s: the daily job failed", session)
            # redact: an exception's text may quote a URL or token; it is stored and sent.
            self.store.mark(session, "failed", error=redact(f"{type(exc).__name__}: {exc}"))
            last = traceback.format_exception_only(exc)[-1].strip()
            self._count_failure(session, now, redact(last))
            self._failure_digest(session, exc)
            return
        self.evaluations.append((session, outcome))
        if outcome in (Outcome.DONE, Outcome.INCOMPLETE):
            self.store.put(FAILURES, "0")

    def _evaluate_in_thread(self, session: date, now: datetime) -> Outcome:
        # SQLite connections belong to one thread: the job gets its own.
        conn = self.connect()
        try:
            muted = partial(self.muted, conn)
            job = Job(self.config, StateStore(conn, self.marks), self.prices, self.runtimes, muted)
            return evaluate_session(job, session, now)
        finally:
            conn.close()

    def _count_failure(self, session: date, now: datetime, error: str) -> None:
        count = int(self.store.get(FAILURES) or 0) + 1
        self.store.put(FAILURES, str(count))
        if count == self.config.schedule.max_failures:
            from bot.render.text import render_failures

            text = render_failures(self.config, count, session, error)
            key = f"failures since {session} at {now:%Y-%m-%dT%H:%M}"
            chats = list(self.config.telegram.chat_ids) or [CONSOLE_CHAT]
            self.store.enqueue(key, session, "notice", encode_parts((TextPart(text),)), chats)

    def _failure_digest(self, session: date, exc: Exception) -> None:
        """With a digest on, a failed job still tells its readers (once per session)."""
        chats = list(self.config.telegram.chat_ids) or [CONSOLE_CHAT]
        problem = f"the daily job failed ({type(exc).__name__}); it is retried"
        for (key, kind, parts), targets in digests(
            self.config, self.runtimes, session, chats, None, problem
        ):
            self.store.enqueue(key, session, kind, parts, targets)

    async def deliver(self) -> int:
        """Send what the outbox holds; Telegram unreachable leaves it pending for next time."""
        try:
            return await deliver_pending(self.store, self.notifier(self.store.conn))
        except NotifyError as exc:
            log.warning(
                "cannot deliver now, %d row(s) stay pending: %s", len(self.store.pending()), exc
            )
            return 0

    def next_wake(self, now: datetime) -> datetime:
        """Retry soon while a due session is unsettled, or while rows stay pending (backoff:
        1, 2, 4... minutes up to ``retry_minutes``); otherwise the next session's run."""
        retry = timedelta(minutes=self.config.schedule.retry_minutes)
        wake = now + retry if self.due(now) else self.runtimes.next_run(now)[1]
        check = self.next_check(now)
        wake = min(wake, check) if check is not None else wake
        if not self.store.pending():
            self.store.put(PENDING_TRIES, "0")
            return wake
        tries = int(self.store.get(PENDING_TRIES) or 0)
        self.store.put(PENDING_TRIES, str(tries + 1))
        return min(wake, now + min(timedelta(minutes=2**tries), retry))

    # --- rehearsal --------------------------------------------------------------------------

    async def rehearse(self, start: date, end: date, progress: Progress | None = None) -> int:
        """Run the daily job for every session from ``start`` to ``end`` at its own run time,
        calling ``progress(done, total, session)`` after each."""
        sessions = self.runtimes.sessions(start, end)
        if not sessions:
            return 0
        first = self.runtimes.run_at(sessions[0])
        if self.store.get(FIRST_START) is None:
            self.store.put(FIRST_START, (first - timedelta(seconds=1)).isoformat())
        self._recover()
        await self.deliver()  # what an earlier, interrupted rehearsal left in the outbox
        retry = timedelta(minutes=self.config.schedule.retry_minutes)
        for done, session in enumerate(sessions, start=1):
            await self._rehearse_checks(session)
            now = self.runtimes.run_at(session)
            while not self._settled(session):
                await self._evaluate(session, now)
                await self.deliver()
                now += retry
                if not self._settled(session) and now > self.runtimes.deadline(session) + retry:
                    log.error("session %s: still failing after its deadline; moving on", session)
                    break
            if progress is not None:
                progress(done, len(sessions), session)
        return len(sessions)

    async def _rehearse_checks(self, session: date) -> None:
        """Each check of ``session`` at its own time, with the clock at it, then delivery."""
        if not self.checking or self._settled(session):
            return
        for label, at in intraday.check_times(self.config, session):
            await self._check(session, at, label)
            await self.deliver()
