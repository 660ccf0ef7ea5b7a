"""The one status model: what the daemon and the outbox have done and will do.

``collect_status`` reads it from the state file; ``rotabot status`` prints it
(``render_status``, plain text) and /status shows it in a chat (``chat_report`` turns it into
the view ``bot.render.text.render_status`` formats). Deliveries are outbox rows, whoever
queued them: the daemon or ``rotabot signal --send``.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, tzinfo

from bot.config import Config
from bot.data.cache import PriceCache
from bot.data.runtimes import Runtimes
from bot.errors import BotError
from bot.render.replies import StatusReport
from bot.store.intraday import SKIPPED_RUN
from bot.store.state import REHEARSAL, OutboxRow, Run, StateStore, TargetState

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """One outbox row that reached (or may have reached) a chat."""

    chat_id: int
    key: str  # "2026-07-01 shock chips->platforms"
    kind: str  # "alert", "quiet" or "notice"
    status: str  # "sent" or "unconfirmed"
    at: datetime  # aware; UTC as stored, local once ``localised``
    message_ids: tuple[int, ...]

    @classmethod
    def of(cls, row: OutboxRow) -> DeliveryRecord | None:
        if row.sent_at is None:
            return None
        at = datetime.fromisoformat(row.sent_at)
        return cls(row.chat_id, row.key, row.kind, row.status, at, tuple(row.message_ids))

    def localised(self, tz: tzinfo) -> DeliveryRecord:
        return replace(self, at=self.at.astimezone(tz))


@dataclass(frozen=True, slots=True)
class Status:
    last_run: Run | None
    next_run: tuple[date, datetime] | None
    last_alert: DeliveryRecord | None  # the latest alert that reached a chat
    last_delivery: DeliveryRecord | None  # the latest message of any kind that did
    outbox: dict[str, int]  # rows by status
    failures: int  # failed runs in a row
    data_through: date | None  # the latest session every ticker has a bar for
    newest_bar: date | None
    behind: tuple[str, ...]  # tickers whose last bar is older than newest_bar
    last_rehearsal: Run | None = None  # a rehearsal's runs are kept apart from the live ones
    targets: tuple[TargetState, ...] = ()  # each chat and channel: last success, owed rows
    intraday: tuple[str, ...] = ()  # the latest checks during the session and their warnings

    @property
    def pending(self) -> int:
        """Rows waiting to go out (``sending``: cut short mid-send, settled on the next start)."""
        return self.outbox.get("pending", 0) + self.outbox.get("sending", 0)

    @property
    def unconfirmed(self) -> int:
        return self.outbox.get("unconfirmed", 0)


def collect_status(config: Config, conn: sqlite3.Connection, now: datetime) -> Status:
    store = StateStore(conn)
    runs = store.recent_runs(1)
    try:
        upcoming: tuple[date, datetime] | None = Runtimes(config.schedule).next_run(now)
    except ValueError:
        upcoming = None
    last = _last_dates(config, conn)
    known = [d for d in last.values() if d is not None]
    newest = max(known, default=None)
    alert, latest = store.latest_delivered("alert"), store.latest_delivered()
    return Status(
        last_run=runs[0] if runs else None,
        next_run=upcoming,
        last_alert=DeliveryRecord.of(alert) if alert else None,
        last_delivery=DeliveryRecord.of(latest) if latest else None,
        outbox=store.counts(),
        failures=int(store.get("consecutive_failures") or 0),
        data_through=min(known) if known and len(known) == len(last) else None,
        newest_bar=newest,
        behind=tuple(sorted(t for t, d in last.items() if d != newest)),
        last_rehearsal=next(iter(StateStore(conn, REHEARSAL).recent_runs(1)), None),
        targets=tuple(store.targets()),
        intraday=_intraday(conn, store),
    )


def _intraday(conn: sqlite3.Connection, store: StateStore) -> tuple[str, ...]:
    """The live checks' lines, else a rehearsal's (so a rehearsal can be read back)."""
    lines = intraday_lines(store)
    if lines:
        return lines
    return tuple(f"rehearsal {line}" for line in intraday_lines(StateStore(conn, REHEARSAL)))


def _last_dates(config: Config, conn: sqlite3.Connection) -> dict[str, date | None]:
    """Return each ticker's last bar: from the price cache, or the CSV files when they are
    the source. Prices that cannot be read count as none (status must still answer)."""
    if config.data.source != "csv":
        return PriceCache(conn).last_dates(config.tickers)
    from bot.data.csv_source import CsvSource

    try:
        panel = CsvSource(config.data.csv_dir).fetch(config.tickers, config.data.history_start)
    except BotError as exc:
        log.warning("status: cannot read prices: %s", exc)
        return dict.fromkeys(config.tickers)
    last = panel.last_valid()
    return {t: (ts.date() if ts is not None else None) for t, ts in last.items()}


def chat_report(
    status: Status, config: Config, tz: tzinfo, muted_until: datetime | None
) -> StatusReport:
    """Return what /status shows in a chat, times in ``tz`` (the schedule's time zone)."""
    run = status.last_run
    alert, latest = status.last_alert, status.last_delivery
    return StatusReport(
        data_through=status.data_through,
        lagging=status.behind,
        last_alert=alert.localised(tz) if alert else None,
        last_send=latest.localised(tz) if latest else None,
        next_run=status.next_run[1].astimezone(tz) if status.next_run else None,
        muted_until=muted_until.astimezone(tz) if muted_until else None,
        chats=len(config.telegram.chat_ids),
        last_run=f"{run.session} {run.status}" if run else None,
        pending=status.pending,
        unconfirmed=status.unconfirmed,
        targets=tuple(target_line(t, tz) for t in status.targets),
        intraday=status.intraday,
    )


def render_status(status: Status, config: Config) -> str:
    """Plain text, one fact per line (``rotabot status``; /status shows the same model)."""
    lines = []
    run = status.last_run
    if run is None:
        lines.append("last run: none yet")
    else:
        took = f" in {run.seconds:.1f}s" if run.seconds is not None else ""
        why = f" ({run.error})" if run.error else ""
        events = f", {run.events} event(s)" if run.events is not None else ""
        lines.append(
            f"last run: session {run.session} {run.status}{took}{events}{why}, "
            f"finished {run.finished_at or 'not yet'}"
        )
    if status.next_run:
        session, at = status.next_run
        local = at.astimezone(config.schedule.zone)
        lines.append(
            f"next run: session {session} at {local:%Y-%m-%d %H:%M} {config.schedule.timezone} "
            f"({at.astimezone(UTC):%Y-%m-%d %H:%M} UTC)"
        )
    rehearsed = status.last_rehearsal
    if rehearsed is not None:
        lines.append(
            f"last rehearsal: session {rehearsed.session} {rehearsed.status} "
            "(kept apart from the live runs)"
        )
    lines.append(f"last alert: {_delivery(status.last_alert, kind=False)}")
    if status.last_delivery != status.last_alert:
        lines.append(f"last delivery: {_delivery(status.last_delivery)}")
    pending, doubt = status.pending, status.unconfirmed
    failed = status.outbox.get("failed", 0)
    lines.append(
        f"outbox: {pending} pending, {status.outbox.get('sent', 0)} sent, "
        f"{doubt} unconfirmed, {failed} failed"
    )
    lines += [f"  {target_line(t, UTC)}" for t in status.targets]
    if status.failures:
        lines.append(f"failed runs in a row: {status.failures}")
    lines += list(status.intraday)
    behind = f" (behind: {', '.join(status.behind)})" if status.behind else ""
    lines.append(f"data: latest bar {status.newest_bar or 'none'}{behind}")
    return "\n".join(lines)


def target_line(state: TargetState, tz: tzinfo) -> str:
    """One target in one line: "channel ops: last success 2026-07-01 22:31 UTC, 1 pending"."""
    ok = state.last_success
    when = f"{datetime.fromisoformat(ok).astimezone(tz):%Y-%m-%d %H:%M %Z}" if ok else "never"
    owed = [
        f"{n} {what}"
        for n, what in (
            (state.pending, "pending"),
            (state.unconfirmed, "unconfirmed"),
            (state.failed, "failed"),
        )
        if n
    ]
    return f"{state.target}: last success {when}" + (f", {', '.join(owed)}" if owed else "")


def _delivery(record: DeliveryRecord | None, kind: bool = True) -> str:
    if record is None:
        return "none"
    what = f"{record.kind} {record.key}" if kind else record.key
    return f"{what} to chat {record.chat_id}, {record.status} {record.at:%Y-%m-%d %H:%M %Z}"


def intraday_lines(table: StateStore) -> tuple[str, ...]:
    """The status's lines on the checks: the latest session's checks and warnings, and a
    run of ``SKIPPED_RUN`` or more skipped checks, said once."""
    session = table.last_check_session()
    if session is None:
        return ()
    checks = ", ".join(f"{c.at} {c.status}" for c in table.checks_of(session))
    lines = [f"checks {session}: {checks}"]
    lines += [
        f"warning {session}: {w.pair} {w.direction} first flagged at {w.first_at}, {w.outcome}"
        for w in table.warnings_of(session)
    ]
    run = table.skipped_in_a_row()
    if len(run) >= SKIPPED_RUN:
        lines.append(
            f"{len(run)} intraday checks skipped in a row (the last at {run[0].session} "
            f"{run[0].at}: {run[0].reason})"
        )
    return tuple(lines)
