"""Replies to commands, as Telegram HTML: status, baskets, help, mutes, backtests, problems."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from bot.config import Config
from bot.core.explain import pct
from bot.core.scorecard import ScoreRow
from bot.render.html import esc, table
from bot.render.text import pair_title


class Delivery(Protocol):
    """What /status shows of a delivery (``bot.notify.status.DeliveryRecord`` has it)."""

    @property
    def key(self) -> str: ...  # "2026-07-01 shock chips->platforms"

    @property
    def status(self) -> str: ...  # "sent", "unconfirmed" or "failed"

    @property
    def at(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class StatusReport:
    """What /status reports; times are aware datetimes in the schedule's time zone."""

    data_through: date | None
    lagging: tuple[str, ...]
    last_alert: Delivery | None
    last_send: Delivery | None
    next_run: datetime | None
    muted_until: datetime | None
    chats: int
    last_run: str | None = None  # "2026-07-01 done" (session and result), from the daemon
    pending: int = 0  # outbox rows waiting to be sent
    unconfirmed: int = 0  # outbox rows that may not have arrived (never sent again)
    targets: tuple[str, ...] = ()  # one line per chat or channel: last success, owed rows
    intraday: tuple[str, ...] = ()  # the latest checks during the session and their warnings


def _when(at: datetime | None) -> str:
    return "never" if at is None else at.strftime("%Y-%m-%d %H:%M %Z").strip()


def render_status(report: StatusReport) -> str:
    alert = report.last_alert
    rows = [
        ("Last run", report.last_run or "none yet"),
        ("Data through", str(report.data_through) if report.data_through else "no prices yet"),
        ("Last send", _when(report.last_send.at) if report.last_send else "never"),
        ("Last alert", alert.key.split(" ")[0] if alert else "none"),
        ("Next run", _when(report.next_run) if report.next_run else "not scheduled"),
        (
            "Alerts here",
            f"muted to {report.muted_until:%Y-%m-%d %H:%M}" if report.muted_until else "on",
        ),
        ("Chats", str(report.chats)),
        ("Outbox", f"{report.pending} pending" + _doubt(report.unconfirmed)),
    ]
    text = "<b>rotabot status</b>\n" + table(rows, "ll")
    if alert:
        text += f"\nLast alert: {esc(alert.key)}, {esc(alert.status)} {esc(_when(alert.at))}"
    if report.lagging:
        text += f"\nNo bar on the latest session for: {esc(', '.join(report.lagging))}"
    if len(report.targets) > 1 or any(
        " pending" in t or "unconfirmed" in t for t in report.targets
    ):
        text += "\n<b>Targets</b>\n" + "\n".join(esc(t) for t in report.targets)
    if report.intraday:
        text += "\n<b>During the session</b>\n" + "\n".join(esc(t) for t in report.intraday)
    return text


def _doubt(unconfirmed: int) -> str:
    return f", {unconfirmed} unconfirmed" if unconfirmed else ""


def render_baskets(config: Config) -> str:
    """Return every basket with its members' weights, then the watched pairs."""
    parts = []
    for bk in config.baskets:
        weights = bk.weights or (1.0,) * len(bk.tickers)
        total = sum(weights)
        rows = [(t, f"{w / total:.1%}") for t, w in zip(bk.tickers, weights, strict=True)]
        parts.append(f"<b>{esc(bk.name)}</b> (key {esc(bk.key)})\n" + table(rows))
    pairs = ", ".join(p.key for p in config.pairs)
    parts.append(f"Pairs watched (numerator/denominator): {esc(pairs)}")
    bench = config.benchmark
    parts.append(f"Benchmark: <b>{esc(bench.name)}</b> ({esc(bench.ticker)})")
    return "\n\n".join(parts)


def render_help(commands: Sequence[tuple[str, str, str]]) -> str:
    """Return the command list from (name, usage, help) triples."""
    lines = ["<b>Commands</b>"]
    for name, usage, text in commands:
        lines.append(f"/{esc(name)}{' ' + esc(usage) if usage else ''} - {esc(text)}")
    return "\n".join(lines)


def render_hint(line: str, commands: Sequence[tuple[str, str, str]]) -> str:
    """Return the answer to an unknown command or plain text: a one-line hint, then /help."""
    return f"{esc(line)}\n\n{render_help(commands)}"


def render_version(version: str, libraries: Mapping[str, str]) -> str:
    """Return "rotabot 0.1.0" and the versions of the libraries it runs on."""
    rest = " · ".join(f"{esc(name)} {esc(v)}" for name, v in libraries.items())
    return f"<b>rotabot {esc(version)}</b>\n{rest}"


def render_start(config: Config, commands: Sequence[tuple[str, str, str]]) -> str:
    pairs = ", ".join(f"<b>{esc(pair_title(config, p.key))}</b>" for p in config.pairs)
    intro = (
        f"I watch money rotate between baskets of stocks ({pairs}) and send an alert after "
        "the close when it does."
    )
    return intro + "\n\n" + render_help(commands)


def render_problem(message: str, usage: str = "") -> str:
    return esc(message) + (f"\nUsage: <code>{esc(usage)}</code>" if usage else "")


def render_chat_id(chat_id: int) -> str:
    return (
        f"This chat's id is <code>{chat_id}</code>. Add it to <code>telegram.chat_ids</code> "
        "in the bot's config.toml to receive alerts here."
    )


def render_mute(until: datetime) -> str:
    return f"Alerts muted in this chat until {esc(_when(until))}. /unmute to resume."


def render_unmute(was_muted: bool) -> str:
    return "Alerts resumed in this chat." if was_muted else "Alerts were not muted here."


def render_backtest(result: Mapping[str, object]) -> str:
    """Return a backtest's JSON result (the ``rotabot backtest --format json`` shape).

    Three metrics only, so benchmark names keep room on a phone-width table.
    """
    keys = ("cagr", "sharpe", "max_drawdown")
    names = [("Strategy", result.get("metrics"))]
    benches = result.get("benchmarks")
    if isinstance(benches, Mapping):
        names += [(str(k), v) for k, v in benches.items()]
    rows: list[tuple[str, ...]] = [("", "CAGR", "Sharpe", "MaxDD")]
    for name, metrics in names:
        m = metrics if isinstance(metrics, Mapping) else {}
        rows.append((name, *(_metric(k, m.get(k)) for k in keys)))
    head = (
        f"<b>Backtest {esc(result.get('strategy', '?'))}</b> "
        f"{esc(result.get('start', ''))} to {esc(result.get('end', ''))}"
    )
    return head + "\n" + table(rows)


def _metric(key: str, value: object) -> str:
    if not isinstance(value, int | float):
        return "n/a"
    return f"{value:.2f}" if key == "sharpe" else f"{value * 100:.1f}%"


SORRY = "Sorry, that failed on my side; the details are in the bot's log."


def render_scorecard(rows: Sequence[ScoreRow], start: date, end: date, source: str) -> str:
    """Return /scorecard: per pair, kind and severity, what followed the events, against
    random sessions (``bot.core.scorecard``)."""
    what = "alerts delivered" if source == "state" else "events a replay finds"
    parts = [f"<b>Scorecard</b> {start} to {end}, {esc(what)}"]
    if not rows:
        parts.append("No events in this period.")
    for r in rows:
        table_rows = [("h", "mean", "hit", "t", "pct")]
        for h, s in r.horizons.items():
            base = r.baselines[h]
            table_rows.append(
                (
                    str(h),
                    pct(s.mean, "+.1f"),
                    "n/a" if s.hit_rate is None else f"{s.hit_rate:.0%}",
                    "n/a" if s.t is None else f"{s.t:+.1f}",
                    "n/a" if base is None else f"{base.percentile:.0f}",
                )
            )
        head = f"{r.pair} · {r.severity} {r.kind} · {r.count} event(s)"
        parts.append(f"{esc(head)}\n" + table(table_rows))
    parts.append(
        "<i>Spread move 1, 5, 20 sessions after each event; t: Newey-West; pct: where the mean "
        "stands among random sessions (50 = a random day).</i>"
    )
    return "\n\n".join(parts)
