"""What the daemon has done and will do, read from the state file (``rotabot status``, /status)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date, datetime

from bot.config import Config
from bot.data.cache import PriceCache
from bot.data.runtimes import Runtimes
from bot.store.state import Run, StateStore


@dataclass(frozen=True, slots=True)
class Status:
    last_run: Run | None
    next_run: tuple[date, datetime] | None
    last_alert: tuple[date, dict[str, object]] | None
    outbox: dict[str, int]
    failures: int
    newest_bar: date | None
    behind: tuple[str, ...]  # tickers whose last bar is older than newest_bar


def collect_status(config: Config, conn: sqlite3.Connection, now: datetime) -> Status:
    store = StateStore(conn)
    runs = store.recent_runs(1)
    try:
        upcoming: tuple[date, datetime] | None = Runtimes(config.schedule).next_run(now)
    except ValueError:
        upcoming = None
    last = PriceCache(conn).last_dates(config.tickers)
    if config.data.source == "csv":
        last = _csv_last_dates(config)
    newest = max((d for d in last.values() if d), default=None)
    return Status(
        last_run=runs[0] if runs else None,
        next_run=upcoming,
        last_alert=store.last_alert(),
        outbox=store.counts(),
        failures=int(store.get("consecutive_failures") or 0),
        newest_bar=newest,
        behind=tuple(sorted(t for t, d in last.items() if d != newest)),
    )


def _csv_last_dates(config: Config) -> dict[str, date | None]:
    from bot.data.csv_source import CsvSource

    panel = CsvSource(config.data.csv_dir).fetch(config.tickers, config.data.history_start)
    return {t: (ts.date() if ts is not None else None) for t, ts in panel.last_valid().items()}


def render_status(status: Status, config: Config) -> str:
    """Plain text, one fact per line (the CLI; Telegram wraps the same facts in HTML)."""
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
        local = at.astimezone(Runtimes(config.schedule).tz)
        lines.append(f"next run: session {session} at {local:%Y-%m-%d %H:%M %Z}")
    if status.last_alert:
        day, event = status.last_alert
        lines.append(f"last alert: {day} {event.get('severity')} {event.get('summary')}")
    else:
        lines.append("last alert: none")
    pending = status.outbox.get("pending", 0) + status.outbox.get("sending", 0)
    doubt = status.outbox.get("unconfirmed", 0)
    failed = status.outbox.get("failed", 0)
    lines.append(
        f"outbox: {pending} pending, {status.outbox.get('sent', 0)} sent, "
        f"{doubt} unconfirmed, {failed} failed"
    )
    if status.failures:
        lines.append(f"failed runs in a row: {status.failures}")
    behind = f" (behind: {', '.join(status.behind)})" if status.behind else ""
    lines.append(f"data: latest bar {status.newest_bar or 'none'}{behind}")
    return "\n".join(lines)
