"""``rotabot daemon`` (live, or a rehearsal on past dates) and ``rotabot status``.

Live with a token: one asyncio process, python-telegram-bot polling for commands and its
JobQueue (APScheduler 3) waking the daily job at each session's run time. Without a token:
the same job on a plain asyncio timer, alerts printed by the console notifier. Either way a
lock on the state file keeps a second daemon out, and SIGTERM/SIGINT let a running job (and
its send) finish before the process exits.

A rehearsal (``--simulate-from/--simulate-to``) replays past sessions at their run times. It
is refused (exit 2, before anything is written) when it reaches past the last closed session
or past the data; it keeps its runs apart from the live daemon's (``bot.store.state.REHEARSAL``)
and shares the outbox, so it never settles a live session nor sends a message twice.
A damaged state file is refused before the first write; a state file failing mid-run (disk
full, locked) stops the daemon with one line and exit status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from functools import partial
from typing import Any

from bot.config import Config
from bot.config.load import check_token
from bot.core.panel import PricePanel, complete_sessions
from bot.daemon import systemd
from bot.daemon.intraday import BarLoader
from bot.daemon.job import PriceLoader
from bot.daemon.scheduler import Daemon
from bot.data.calendar import last_closed_session
from bot.data.intraday import read_bars
from bot.data.prices import load_prices
from bot.data.runtimes import Runtimes
from bot.errors import UsageError, UserError
from bot.notify.channels import open_channel
from bot.notify.delivery import MuteStore, token_of
from bot.notify.notifiers import Notifier
from bot.store.db import StateFileError, connect, explain, state_errors, verify
from bot.store.lock import StateLock
from bot.store.state import LIVE, REHEARSAL, Marks

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


def run_daemon(args: argparse.Namespace, config: Config) -> int:
    rehearsal = _rehearsal_range(args, config)
    token = token_of(config)
    if token is not None:
        check_token(token, config.telegram.token_env)
        if not config.telegram.chat_ids:
            raise UserError(
                "telegram.chat_ids is empty: list the chats that get alerts "
                "(with telegram.reveal_chat_id = true, /start tells a chat its id)"
            )
    with state_errors(config.state.path):
        if rehearsal is not None:
            # Checked before the lock and the state file: a refused rehearsal writes nothing
            # (Yahoo prices excepted: they refresh the cache, as every command does).
            panel = load_prices(config)
            _check_data(panel, config, *rehearsal)
            with StateLock(config.state.path):
                return _rehearse(config, token, panel, *rehearsal)
        with StateLock(config.state.path):
            _verify(config)
            if token is not None:
                return _live_telegram(config, token)
            log.warning("$%s is not set: alerts go to the console", config.telegram.token_env)
            return asyncio.run(_live_console(config))


def _rehearsal_range(args: argparse.Namespace, config: Config) -> tuple[date, date] | None:
    """Return the rehearsal's range, checked against the clock (the data come later)."""
    start, end = args.simulate_from, args.simulate_to
    if start is None and end is None:
        return None
    if start is None or end is None:
        raise UsageError("--simulate-from and --simulate-to go together")
    if start > end:
        raise UsageError(f"--simulate-from {start} is after --simulate-to {end}")
    last = last_closed_session(config.schedule.calendar, utcnow())
    if end > last:
        raise UsageError(
            f"--simulate-to {end} is after the last closed session ({last}): "
            "a rehearsal replays past sessions only"
        )
    return start, end


def _check_data(panel: PricePanel, config: Config, start: date, end: date) -> None:
    """Refuse a rehearsal reaching outside the sessions that have every ticker's prices:
    each session past the data would only end in a "data incomplete" notice."""
    complete = complete_sessions(panel, config.tickers)
    if len(complete) == 0:
        raise UsageError("no session has prices for every ticker: nothing to rehearse")
    first, last = complete[0].date(), complete[-1].date()
    if end > last:
        raise UsageError(
            f"--simulate-to {end} is past the end of the data: the last session with prices "
            f"for every ticker is {last}"
        )
    if start < first:
        raise UsageError(
            f"--simulate-from {start} is before the data: the first session with prices for "
            f"every ticker is {first}"
        )


def _verify(config: Config) -> None:
    """Refuse a damaged state file before anything is written to it."""
    conn = connect(config.state.path)
    try:
        verify(conn, config.state.path)
    finally:
        conn.close()


def notifier_factory(config: Config, token: str | None) -> partial[Notifier]:
    return partial(_notifier, config, token)


def _notifier(config: Config, token: str | None, conn: sqlite3.Connection) -> Notifier:
    """The daemon's notifier; deliveries are recorded by the outbox, not by the notifier."""
    return open_channel(config, token)[1]


def is_muted(conn: sqlite3.Connection, chat: int, now: datetime) -> bool:
    return MuteStore(conn).muted_until(chat, now) is not None


def make_daemon(
    config: Config,
    token: str | None,
    prices: PriceLoader,
    marks: Marks = LIVE,
    bars: BarLoader | None = None,
    check_prices: PriceLoader | None = None,
) -> Daemon:
    return Daemon(
        config,
        partial(connect, config.state.path),
        prices,
        notifier_factory(config, token),
        is_muted,
        marks,
        bars,
        check_prices,
    )


def live_bars(config: Config) -> BarLoader | None:
    """Intraday bars for the checks, as ``rotabot intraday`` reads them (``session_bars``: the
    CSV folder read again at each check, else Yahoo, one batched request); None when the checks
    are off. Only complete bars up to the clock are read (``read_session``)."""
    if not config.intraday.enabled:
        return None
    from bot.data.session import session_bars

    return lambda session, now: session_bars(config, now)[0]


def replayed_bars(config: Config) -> BarLoader | None:
    """A rehearsal's bars: the CSV folder read once; each check reads only the bars complete
    at its own time (``read_session``). Without ``[intraday] csv_dir`` a rehearsal runs no
    checks (it is offline)."""
    folder = config.intraday.csv_dir
    if not config.intraday.enabled:
        return None
    if folder is None:
        log.warning("[intraday] csv_dir is not set: the rehearsal runs no intraday checks")
        return None
    bars = read_bars(folder, config.tickers)
    return lambda session, now: bars


def live_prices(config: Config) -> PriceLoader:
    """Prices as the source has them now: Yahoo's tail is fetched again on every attempt."""

    def load(session: date, now: datetime) -> PricePanel:
        return load_prices(config, refresh="always", now=now)

    return load


def live_daemon(config: Config, token: str | None) -> Daemon:
    """The live daemon: prices fetched fresh for the close run, the cache for the checks."""
    bars, checks = live_bars(config), cached_prices(config)
    return make_daemon(config, token, live_prices(config), bars=bars, check_prices=checks)


def cached_prices(config: Config) -> PriceLoader:
    """The checks' daily prices: the cache, fetched only when it lacks the last closed session
    (the close run has fetched it). Four checks a day need no fresh daily bars from Yahoo."""

    def load(session: date, now: datetime) -> PricePanel:
        return load_prices(config, now=now)

    return load


def replayed_prices(panel: PricePanel) -> PriceLoader:
    """Prices as they were at the simulated clock: nothing after ``now`` is visible.

    ``panel`` is the source read once (Yahoo through the cache, refreshed if it lacks the last
    close; ``--offline`` keeps it as it is), then cut at each simulated session.
    """

    def load(session: date, now: datetime) -> PricePanel:
        return panel.upto(min(session, now.date()))

    return load


def _rehearse(config: Config, token: str | None, panel: PricePanel, start: date, end: date) -> int:
    _verify(config)
    bars = replayed_bars(config)
    daemon = make_daemon(config, token, replayed_prices(panel), REHEARSAL, bars)
    try:
        count = asyncio.run(daemon.rehearse(start, end, progress=rehearsal_progress()))
    finally:
        daemon.close()
    done = sum(1 for _, outcome in daemon.evaluations if outcome == "done")
    print(
        f"rehearsed {count} session(s) from {start} to {end}: {len(daemon.evaluations)} "
        f"evaluated now ({done} done), the rest already settled; the live daemon's runs "
        "are untouched",
        file=sys.stderr,
    )
    return 0


def rehearsal_progress(every: int = 20) -> Callable[[int, int, date], None]:
    """A rehearsal's progress on stderr: a bar on a terminal, else a line per ``every``
    sessions (and at the end), which reads well in a log."""
    if sys.stderr.isatty():
        from bot.cli.prices import ProgressBar

        bar = ProgressBar(delay=0.0)

        def draw(done: int, total: int, session: date) -> None:
            bar(done, total, f"sessions (through {session})")
            if done == total:
                bar.close()

        return draw

    def line(done: int, total: int, session: date) -> None:
        if done % every == 0 or done == total:
            print(f"rehearsal: {done}/{total} sessions, through {session}", file=sys.stderr)

    return line


def announce(config: Config, token: str | None, now: datetime) -> str:
    """Say in one line (on stderr, and as systemd's status) what the daemon serves and when
    it runs next, and tell systemd the daemon is ready (``Type=notify``)."""
    chats = (
        f"{len(config.telegram.chat_ids)} Telegram chat(s)" if token else "the console (no token)"
    )
    channels = ", ".join(c.name for c in config.channels) or "none"
    pairs = ", ".join(p.key for p in config.pairs)
    try:
        session, at = Runtimes(config.schedule).next_run(now)
        local = at.astimezone(config.schedule.zone)
        upcoming = (
            f"next run: session {session} at {local:%Y-%m-%d %H:%M} {config.schedule.timezone} "
            f"({at:%H:%M} UTC)"
        )
    except ValueError as exc:
        upcoming = f"no run scheduled ({exc})"
    checks = ""
    if config.intraday.enabled:
        times = ", ".join(t.strftime("%H:%M") for t in config.intraday.checks)
        source = "bars from csv_dir" if config.intraday.csv_dir else "bars from Yahoo"
        checks = f"; checks during the session at {times} exchange time ({source})"
    text = (
        f"rotabot daemon: alerts to {chats}, channels: {channels}; pairs {pairs}{checks}; "
        f"{upcoming}"
    )
    print(text, file=sys.stderr, flush=True)
    systemd.notify(f"READY=1\nSTATUS={text}")
    return text


async def _live_console(config: Config) -> int:
    daemon = live_daemon(config, None)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    interval = systemd.watchdog_interval()
    pings = asyncio.create_task(systemd.keep_alive(interval)) if interval else None
    try:
        daemon.start(utcnow())
        announce(config, None, utcnow())
        while not stop.is_set():
            wake = await daemon.tick(utcnow())  # a stop during a tick lets it finish first
            log.info("next wake-up at %s", wake.isoformat(timespec="minutes"))
            try:
                await asyncio.wait_for(stop.wait(), max((wake - utcnow()).total_seconds(), 0.0))
            except TimeoutError:
                pass
    finally:
        systemd.notify("STOPPING=1")
        if pings is not None:
            pings.cancel()
        daemon.close()
    log.info("stopped")
    return 0


def _live_telegram(config: Config, token: str) -> int:
    from telegram.ext import CallbackContext

    from bot.telegram.app import build_application, serve
    from bot.telegram.service import BotService

    app = build_application(config, token, BotService(config))
    daemon = live_daemon(config, token)
    assert app.job_queue is not None  # the job-queue extra is a dependency
    broken: list[BaseException] = []  # the state file failed: stop, and say so once stopped

    async def wake(context: CallbackContext) -> None:  # type: ignore[type-arg]
        with _stop_on_state_error(context, broken):
            when = await daemon.tick(utcnow())
            log.info("next wake-up at %s", when.isoformat(timespec="minutes"))
            context.job_queue.run_once(wake, when=when, name="daily")  # type: ignore[union-attr]

    async def first(context: CallbackContext) -> None:  # type: ignore[type-arg]
        with _stop_on_state_error(context, broken):
            daemon.start(utcnow())
        if not broken:
            announce(config, token, utcnow())
            await wake(context)

    async def ping(context: CallbackContext) -> None:  # type: ignore[type-arg]
        systemd.notify("WATCHDOG=1")  # from the bot's loop: a stuck loop stops the pings

    app.job_queue.run_once(first, when=0, name="start")
    interval = systemd.watchdog_interval()
    if interval:
        app.job_queue.run_repeating(ping, interval=interval, first=0, name="watchdog")
    try:
        serve(app, config.telegram.token_env)  # returns after SIGTERM/SIGINT, jobs finished
    finally:
        systemd.notify("STOPPING=1")
        daemon.close()
    if broken:
        raise explain(config.state.path, broken[0])
    return 0


@contextmanager
def _stop_on_state_error(context: Any, broken: list[BaseException]) -> Iterator[None]:
    """Inside a JobQueue job: a state-file failure stops the bot, rather than PTB logging it
    and answering commands on while the daily job is never scheduled again."""
    try:
        yield
    except (sqlite3.Error, StateFileError) as exc:
        broken.append(exc)
        context.application.stop_running()


def run_status(args: argparse.Namespace, config: Config) -> int:
    """Print the status (text or JSON); with ``--check``, one line and exit 0 or 1."""
    from bot.cli.health import check, daemon_pid, status_json
    from bot.notify.status import collect_status, render_status

    if not config.state.path.exists():
        if args.check:
            print(f"unhealthy: no state file at {config.state.path}: the daemon has not run")
            return 1
        raise UsageError(f"no state file at {config.state.path}: has the daemon run here?")
    now = utcnow()
    with state_errors(config.state.path):
        conn = connect(config.state.path)
        try:
            status = collect_status(config, conn, now)
        finally:
            conn.close()
    health = check(status, config, now, daemon_pid(config.state.path))
    if args.check:
        print(f"{'ok' if health.healthy else 'unhealthy'}: {health.reason}")
        return 0 if health.healthy else 1
    if args.format == "json":
        print(status_json(status, health))
    else:
        print(render_status(status, config))
    return 0
