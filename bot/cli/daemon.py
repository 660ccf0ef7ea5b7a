"""``rotabot daemon`` (live, or a rehearsal on past dates) and ``rotabot status``.

Live with a token: one asyncio process, python-telegram-bot polling for commands and its
JobQueue (APScheduler 3) waking the daily job at each session's run time. Without a token:
the same job on a plain asyncio timer, alerts printed by the console notifier. Either way a
lock on the state file keeps a second daemon out, and SIGTERM/SIGINT let a running job (and
its send) finish before the process exits.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sqlite3
import sys
from datetime import UTC, date, datetime
from functools import partial

from bot.config import Config
from bot.core.panel import PricePanel
from bot.daemon.job import PriceLoader
from bot.daemon.scheduler import Daemon
from bot.data.prices import load_prices
from bot.errors import UsageError, UserError
from bot.notify.channels import open_channel
from bot.notify.delivery import MuteStore, token_of
from bot.notify.notifiers import Notifier
from bot.store.db import connect
from bot.store.lock import StateLock

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


def run_daemon(args: argparse.Namespace, config: Config) -> int:
    rehearsal = _rehearsal_range(args)
    token = token_of(config)
    if token is not None and not config.telegram.chat_ids:
        raise UserError(
            "telegram.chat_ids is empty: list the chats that get alerts "
            "(with telegram.reveal_chat_id = true, /start tells a chat its id)"
        )
    with StateLock(config.state.path):
        if rehearsal is not None:
            return _rehearse(config, token, *rehearsal)
        if token is not None:
            return _live_telegram(config, token)
        log.warning("$%s is not set: alerts go to the console", config.telegram.token_env)
        return asyncio.run(_live_console(config))


def _rehearsal_range(args: argparse.Namespace) -> tuple[date, date] | None:
    start, end = args.simulate_from, args.simulate_to
    if start is None and end is None:
        return None
    if start is None or end is None:
        raise UsageError("--simulate-from and --simulate-to go together")
    if start > end:
        raise UsageError(f"--simulate-from {start} is after --simulate-to {end}")
    return start, end


def notifier_factory(config: Config, token: str | None) -> partial[Notifier]:
    return partial(_notifier, config, token)


def _notifier(config: Config, token: str | None, conn: sqlite3.Connection) -> Notifier:
    """The daemon's notifier; deliveries are recorded by the outbox, not by the notifier."""
    return open_channel(config, token)[1]


def is_muted(conn: sqlite3.Connection, chat: int, now: datetime) -> bool:
    return MuteStore(conn).muted_until(chat, now) is not None


def make_daemon(config: Config, token: str | None, prices: PriceLoader) -> Daemon:
    return Daemon(
        config,
        partial(connect, config.state.path),
        prices,
        notifier_factory(config, token),
        is_muted,
    )


def live_prices(config: Config) -> PriceLoader:
    """Prices as the source has them now: Yahoo's tail is fetched again on every attempt."""

    def load(session: date, now: datetime) -> PricePanel:
        return load_prices(config, refresh="always", now=now)

    return load


def replayed_prices(config: Config) -> PriceLoader:
    """Prices as they were at the simulated clock: nothing after ``now`` is visible.

    The source is read once (Yahoo through the cache, refreshed if it lacks the last close;
    ``--offline`` keeps it as it is), then cut at each simulated session.
    """
    panel = load_prices(config)

    def load(session: date, now: datetime) -> PricePanel:
        return panel.upto(min(session, now.date()))

    return load


def _rehearse(config: Config, token: str | None, start: date, end: date) -> int:
    daemon = make_daemon(config, token, replayed_prices(config))
    count = asyncio.run(daemon.rehearse(start, end))
    done = sum(1 for _, outcome in daemon.evaluations if outcome == "done")
    print(
        f"rehearsed {count} session(s) from {start} to {end}: {len(daemon.evaluations)} "
        f"evaluated now ({done} done), the rest already settled",
        file=sys.stderr,
    )
    return 0


async def _live_console(config: Config) -> int:
    daemon = make_daemon(config, None, live_prices(config))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    daemon.start(utcnow())
    while not stop.is_set():
        wake = await daemon.tick(utcnow())  # a stop during a tick lets it finish first
        log.info("next wake-up at %s", wake.isoformat(timespec="minutes"))
        try:
            await asyncio.wait_for(stop.wait(), max((wake - utcnow()).total_seconds(), 0.0))
        except TimeoutError:
            pass
    log.info("stopped")
    return 0


def _live_telegram(config: Config, token: str) -> int:
    from telegram.ext import CallbackContext

    from bot.telegram.app import build_application, serve
    from bot.telegram.service import BotService

    app = build_application(config, token, BotService(config))
    daemon = make_daemon(config, token, live_prices(config))
    assert app.job_queue is not None  # the job-queue extra is a dependency

    async def wake(context: CallbackContext) -> None:  # type: ignore[type-arg]
        when = await daemon.tick(utcnow())
        log.info("next wake-up at %s", when.isoformat(timespec="minutes"))
        context.job_queue.run_once(wake, when=when, name="daily")  # type: ignore[union-attr]

    async def first(context: CallbackContext) -> None:  # type: ignore[type-arg]
        daemon.start(utcnow())
        await wake(context)

    app.job_queue.run_once(first, when=0, name="start")
    serve(app, config.telegram.token_env)  # returns after SIGTERM/SIGINT, jobs finished
    return 0


def run_status(args: argparse.Namespace, config: Config) -> int:
    from bot.notify.status import collect_status, render_status

    if not config.state.path.exists():
        raise UsageError(f"no state file at {config.state.path}: has the daemon run here?")
    conn = connect(config.state.path)
    try:
        print(render_status(collect_status(config, conn, utcnow()), config))
    finally:
        conn.close()
    return 0
