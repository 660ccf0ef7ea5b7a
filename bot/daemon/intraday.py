"""The checks during the session: read every pair on the bars so far, warn once per direction.

At each ``[intraday] checks`` time of a session (exchange time; a time at or after an early
close is dropped) ``run_check`` takes each member's move from the previous close to its last
bar, reads every pair through ``bot.core.intraday`` (the close run's shock evidence) and
records the check, with a provisional warning for each pair whose gates pass and whose score
reaches the threshold, in one transaction with its outbox rows (``bot.store.intraday``). A
check whose bars are missing, stale or from another session is recorded as skipped with its
reason and one log line. The close run settles the warnings (``settle``): confirmed ones are
named in the session's alert, withdrawn ones get a short note to the targets that got them.
The clock, the daily prices and the bars are injected: the daemon, a rehearsal and the tests
share this code.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pandas as pd

from bot.config import Config
from bot.core.intraday import IntradayReading
from bot.core.models import Severity
from bot.core.panel import PricePanel
from bot.core.rotation import severity_for
from bot.data import calendar
from bot.data.intraday import Skipped
from bot.data.runtimes import Runtimes
from bot.data.session import SessionRead, read_session
from bot.errors import BotError
from bot.notify.notifiers import CONSOLE_CHAT, redact
from bot.notify.outbox import encode_parts
from bot.render.intraday import clock, warning_text
from bot.render.messages import compose
from bot.render.text import pair_title
from bot.store.db import StateFileError
from bot.store.intraday import SKIPPED_RUN, NewWarning, WarningRow
from bot.store.outbox import Queued, Target, Targets
from bot.store.state import StateStore

log = logging.getLogger(__name__)

PriceLoader = Callable[[date, datetime], PricePanel]
"""(session, now) -> daily prices as known at ``now`` (``bot.daemon.job.PriceLoader``)."""

BarLoader = Callable[[date, datetime], Mapping[str, pd.DataFrame]]
"""(session, now) -> each ticker's intraday bars as known at ``now``; may raise DataError."""


@dataclass(frozen=True, slots=True)
class Checks:
    """What a check needs from the world."""

    config: Config
    store: StateStore
    prices: PriceLoader
    bars: BarLoader
    muted: Callable[[int, datetime], bool]

    @property
    def chats(self) -> list[int]:
        return list(self.config.telegram.chat_ids) or [CONSOLE_CHAT]


def exchange_zone(config: Config) -> ZoneInfo:
    return calendar.exchange_zone(config.schedule.calendar)


def check_clock(config: Config, session: date, label: str) -> str:
    """A check's label ("10:30", exchange time) as ``clock`` says it."""
    zone = exchange_zone(config)
    return clock(datetime.combine(session, time.fromisoformat(label), zone), zone)


def check_times(config: Config, session: date) -> list[tuple[str, datetime]]:
    """The session's checks as ("HH:MM", UTC instant), those at or after its close dropped."""
    zone = exchange_zone(config)
    close = calendar.session_close(config.schedule.calendar, session)
    times = []
    for t in config.intraday.checks:
        at = datetime.combine(session, t, zone).astimezone(UTC)
        if at < close:
            times.append((t.strftime("%H:%M"), at))
    return times


def due_checks(checks: Checks, session: date, now: datetime) -> list[tuple[str, datetime]]:
    """The session's checks whose time has come and that are not on record, oldest first."""
    done = {c.at for c in checks.store.checks_of(session)}
    return [(label, at) for label, at in check_times(checks.config, session) if at <= now
            and label not in done]  # fmt: skip


def run_due(checks: Checks, session: date, now: datetime) -> None:
    """Run the latest due check at ``now``; earlier ones the daemon slept through are recorded
    as missed (reading them late would only repeat the latest, under an older label)."""
    due = due_checks(checks, session, now)
    if not due:
        return
    for label, _ in due[:-1]:
        checks.store.record_check(session, label, now, "missed", "the daemon was not running")
    run_check(checks, session, due[-1][0], now)


def run_check(checks: Checks, session: date, label: str, now: datetime) -> str:
    """Read the session at ``now`` for the check ``label``; return "read" or "skipped".
    A check that fails unexpectedly is recorded as skipped with the error's type and text
    (redacted), so it counts toward the skipped run and is never taken for a missed one."""
    try:
        return _run_check(checks, session, label, now)
    except (sqlite3.Error, StateFileError):
        raise  # the state file itself: nothing could be recorded
    except Exception as exc:
        log.exception("session %s: check %s failed", session, label)
        return _skip(checks, session, label, now, redact(f"failed: {type(exc).__name__}: {exc}"))


def _run_check(checks: Checks, session: date, label: str, now: datetime) -> str:
    try:
        panel = checks.prices(session, now)
        read = read_session(checks.config, panel, checks.bars(session, now), now)
    except BotError as exc:  # Yahoo down, a bad bar file, offline with no folder: said, no trace
        read = Skipped(now, str(exc))
    if isinstance(read, Skipped):
        return _skip(checks, session, label, now, read.reason)
    warnings = [_warning(checks, r, read, now) for r in read.readings if r.flagged]
    added = checks.store.record_check(
        session, label, now, "read", None, [summary(r) for r in read.readings], warnings
    )
    for w in added:
        log.warning("session %s %s: in-progress warning %s %s", session, label, w.pair, w.direction)
    log.info("session %s: check %s read, %d new warning(s)", session, label, len(added))
    return "read"


def _skip(checks: Checks, session: date, label: str, now: datetime, reason: str) -> str:
    checks.store.record_check(session, label, now, "skipped", reason)
    log.info("session %s: check %s skipped: %s", session, label, reason)
    run = checks.store.skipped_in_a_row()
    if len(run) == SKIPPED_RUN:  # said once, when the run reaches it
        log.warning("%d intraday checks skipped in a row; the last: %s", SKIPPED_RUN, reason)
    return "skipped"


def summary(r: IntradayReading) -> dict[str, object]:
    """A reading as kept with its check (and shown by /status)."""
    return {
        "pair": r.pair.key,
        "score": round(r.score, 4) if r.score == r.score else None,
        "spread": r.spread,
        "moves": r.moves,
        "benchmark": r.benchmark,
        "flagged": r.flagged,
        "stopped_by": r.stopped_by,
        "direction": f"{r.from_key}->{r.to_key}",
    }


def _severity(r: IntradayReading, checks: Checks) -> Severity:
    return severity_for(r.score, checks.config.signals) or Severity.INFO


def _warning(checks: Checks, r: IntradayReading, read: SessionRead, now: datetime) -> NewWarning:
    config = checks.config
    moment = clock(now, exchange_zone(config))
    direction = f"{r.from_key}->{r.to_key}"
    key = f"{r.session} {r.pair.key} warning {direction}"
    severity = _severity(r, checks)
    close = Runtimes(config.schedule).run_at(r.session)
    settle = f"after {clock(close, exchange_zone(config))}"
    text = warning_text(r, config, moment, settle)
    png = _chart_or_none(config, r, read, now) if _wants_chart(config) else None
    filename = f"session-{r.pair.key.replace('/', '-')}-{r.session}.png"
    caption = f"{r.pair.key}: the session so far"
    with_chart = encode_parts(compose(text, png, filename, caption))
    plain = encode_parts(compose(text, None, "", ""))
    deliveries: list[tuple[Queued, Targets]] = []
    chats = _chats(checks, severity, now)
    if chats:
        parts = with_chart if config.telegram.charts else plain
        deliveries.append(((key, "warning", parts), chats))
    for channel in config.channels:
        if channel.watches(r.pair.key) and severity.rank >= Severity(channel.min_severity).rank:
            parts = with_chart if channel.charts else plain
            deliveries.append(((key, "warning", parts), [Target(channel.name)]))
    # First flagged when it was read: after a late start that is not the check's label.
    first_at = now.astimezone(exchange_zone(config)).strftime("%H:%M")
    row = WarningRow(
        r.session, r.pair.key, direction, first_at, r.score, severity.value, key, summary(r), "open"
    )
    return NewWarning(row, deliveries)


def _chats(checks: Checks, severity: Severity, now: datetime) -> list[int | Target]:
    if severity.rank < Severity(checks.config.telegram.min_severity).rank:
        return []
    return [c for c in checks.chats if not checks.muted(c, now)]


def _wants_chart(config: Config) -> bool:
    return config.telegram.charts or any(c.charts for c in config.channels)


def _chart_or_none(
    config: Config, r: IntradayReading, read: SessionRead, now: datetime
) -> bytes | None:
    """The session chart; a chart that fails to draw costs the picture, never the warning."""
    try:
        return _chart(config, r, read, now)
    except Exception:
        log.exception("session %s: the session chart of %s failed; sent without", r.session, r.pair)
        return None


def _chart(config: Config, r: IntradayReading, read: SessionRead, now: datetime) -> bytes | None:
    from bot.render.session_chart import session_chart, session_paths

    baskets = [(config.basket(k).short_name, config.basket(k).weight_map()) for k in r.pair.keys]
    bench = (config.benchmark.name, config.benchmark.ticker)
    paths = session_paths(read.bars, read.closes, baskets, bench, now, zone=exchange_zone(config))
    if paths.empty:
        return None
    zone = exchange_zone(config)
    title = f"{pair_title(config, r.pair.key)}: the session so far ({clock(now, zone)})"
    return session_chart(paths, title, zone)
