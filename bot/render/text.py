"""Render what the bot says, as Telegram HTML: pure functions, values in, strings out.

Every dynamic piece (basket and ticker names come from the user's config, summaries quote
them) goes through ``esc``, so ``<`` or ``&`` in a name can neither break the message nor
inject markup. Tables are ``<pre>`` blocks no wider than ``TABLE_WIDTH`` characters so they
fit a phone screen without wrapping. ``split_message`` cuts long texts on line boundaries
for Telegram's 4096-character limit, closing and reopening any tag left open at a cut.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from bot.config import Config
from bot.core.explain import DRIVER_WINDOW
from bot.core.models import Quadrant, RotationEvent, Severity, SignalState
from bot.notify.notifiers import DeliveryRecord

MAX_TEXT = 4096
MAX_CAPTION = 1024
TABLE_WIDTH = 40

_ICON = {Severity.SEVERE: "🔴", Severity.ALERT: "🟠", Severity.INFO: "🔵"}
_KIND = {"shock": "shock rotation", "regime": "regime turn"}
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)[^>]*>")
_ATOM = re.compile(r"<[^>]*>|&#?\w+;|.", re.DOTALL)


def esc(value: object) -> str:
    """Escape a dynamic value for Telegram HTML (text content only, never attributes)."""
    return html.escape(str(value), quote=False)


def units(text: str) -> int:
    """Return the length Telegram counts: UTF-16 code units (an emoji counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def pct(value: float | None, spec: str = "+.1f") -> str:
    return "n/a" if value is None else f"{value * 100:{spec}}%"


def num(value: float | None, spec: str = ".1f") -> str:
    return "n/a" if value is None else format(value, spec)


def display_name(config: Config, key: str) -> str:
    """Return a basket's configured name, or its key when it is not configured."""
    try:
        return config.basket(key).name
    except KeyError:
        return key


def short_name(config: Config, key: str) -> str:
    """Return a basket's name without its parenthesis: "Chips (shovel sellers)" -> "Chips"."""
    return display_name(config, key).split(" (")[0].strip() or key


def table(rows: Sequence[Sequence[str]], align: str = "", width: int = TABLE_WIDTH) -> str:
    """Return ``rows`` as an escaped ``<pre>`` block no wider than ``width``.

    ``align`` has one "l" or "r" per column (default: first column left, the others right).
    When the rows are too wide, the widest left-aligned (text) columns are cut with an
    ellipsis; numbers are never cut.
    """
    ncols = max(len(r) for r in rows)
    align = (align or "l").ljust(ncols, "r")[:ncols]
    cells = [[*r, *([""] * (ncols - len(r)))] for r in rows]
    widths = _fit_widths([max(len(r[i]) for r in cells) for i in range(ncols)], align, width)
    lines = []
    for r in cells:
        cut = [c if len(c) <= w else c[: w - 1] + "…" for c, w in zip(r, widths, strict=True)]
        cols = zip(cut, widths, align, strict=True)
        padded = [f"{c:<{w}}" if a == "l" else f"{c:>{w}}" for c, w, a in cols]
        lines.append(esc("  ".join(padded).rstrip()))
    return "<pre>" + "\n".join(lines) + "</pre>"


def _fit_widths(widths: list[int], align: str, width: int) -> list[int]:
    """Shrink the widest text columns, one character at a time, until the row fits."""
    widths = list(widths)
    while sum(widths) + 2 * (len(widths) - 1) > width:
        text = [i for i, a in enumerate(align) if a == "l" and widths[i] > 4]
        if not text:
            break
        widths[max(text, key=lambda i: widths[i])] -= 1
    return widths


# --- splitting ---------------------------------------------------------------------------


def split_message(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Cut ``text`` into messages of at most ``limit`` units, on line boundaries.

    A tag open at a cut (a ``<pre>`` table, say) is closed at the end of one message and
    reopened at the start of the next, so every message is valid HTML on its own.
    """
    if units(text) <= limit:
        return [text]
    out: list[str] = []
    body: list[str] = []
    head, size = "", 0
    stack: list[tuple[str, str]] = []
    for line in _fit_lines(text.split("\n"), max(1, limit // 2)):
        after = _advance(stack, line)
        extra = units(line) + (1 if body else 0)
        if body and size + extra + units(_closing(after)) > limit:
            out.append(head + "\n".join(body) + _closing(stack))
            head = "".join(tag for _, tag in stack)
            body, size, extra = [], units(head), units(line)
        body.append(line)
        size += extra
        stack = after
    out.append(head + "\n".join(body) + _closing(stack))
    return out


def _advance(stack: list[tuple[str, str]], line: str) -> list[tuple[str, str]]:
    """Return the open tags after ``line``, given those open before it."""
    opened = list(stack)
    for m in _TAG.finditer(line):
        closing, name = m.group(1) == "/", m.group(2).lower()
        if not closing:
            opened.append((name, m.group(0)))
        elif opened and opened[-1][0] == name:
            opened.pop()
    return opened


def _closing(stack: list[tuple[str, str]]) -> str:
    return "".join(f"</{name}>" for name, _ in reversed(stack))


def _fit_lines(lines: Sequence[str], width: int) -> list[str]:
    """Wrap lines longer than ``width`` units, at a space where possible, never in a tag."""
    out: list[str] = []
    for line in lines:
        atoms: list[str] = _ATOM.findall(line)
        while sum(units(a) for a in atoms) > width:
            cut = _cut_point(atoms, width)
            out.append("".join(atoms[:cut]).rstrip())
            atoms = atoms[cut:]
        out.append("".join(atoms))
    return out


def _cut_point(atoms: Sequence[str], width: int) -> int:
    """Return how many atoms start the next piece: up to the last space that fits, if any."""
    size, fits, space = 0, 0, 0
    for i, atom in enumerate(atoms):
        if size + units(atom) > width:
            break
        size += units(atom)
        fits = i + 1
        space = i + 1 if atom == " " else space
    return space or max(1, fits)


def fits_caption(text: str) -> bool:
    return units(text) <= MAX_CAPTION


# --- alerts and signal pictures ---------------------------------------------------------


def render_alert(state: SignalState, config: Config) -> str:
    """Return the alert for a session with events: each event, then the day's picture."""
    events = sorted(state.events, key=lambda e: -e.severity.rank)
    blocks = [_event_block(e, config) for e in events]
    return "\n\n".join([*blocks, _moves_table(state, config), _trend_lines(state, config)])


def render_quiet_day(state: SignalState, config: Config) -> str:
    """Return the "no rotation today" summary of a session without events."""
    lines = [f"⚪ <b>No rotation · {state.date}</b>"]
    lines += [f"<i>{esc(n)}</i>" for n in state.notes]
    return (
        "\n".join(lines)
        + "\n\n"
        + _moves_table(state, config)
        + "\n\n"
        + _trend_lines(state, config)
    )


def render_signal(state: SignalState, config: Config) -> str:
    return render_alert(state, config) if state.events else render_quiet_day(state, config)


def _event_block(event: RotationEvent, config: Config) -> str:
    kind = _KIND.get(event.kind, event.kind)
    lines = [
        f"{_ICON[event.severity]} <b>{esc(event.severity.value.upper())} · {esc(kind)}"
        f" · {event.date}</b>",
        f"<b>{esc(display_name(config, event.from_basket))} → "
        f"{esc(display_name(config, event.to_basket))}</b>",
        esc(event.summary),
    ]
    if event.kind == "shock":
        since = event.evidence.get("largest_since")
        unusual = f"Largest spread since {esc(since)}" if since else "Largest spread on record"
        lines.append(f"{unusual} · score {event.score:.2f}")
    if event.drivers:
        window = "on the day" if event.kind == "shock" else f"over {DRIVER_WINDOW} sessions"
        rows = [(d.ticker, short_name(config, d.basket), pct(d.move)) for d in event.drivers]
        lines.append(f"Drivers {window}:\n" + table(rows, "llr"))
    return "\n".join(lines)


def _moves_table(state: SignalState, config: Config) -> str:
    rows = [(f"Session {state.date}", "Move")]
    rows += [(short_name(config, k), pct(v)) for k, v in state.basket_returns.items()]
    rows.append((config.benchmark.name, pct(state.benchmark_return)))
    return table(rows)


def _q(quadrant: Quadrant | None) -> str:
    return quadrant.value if quadrant else "n/a"


def _trend_lines(state: SignalState, config: Config) -> str:
    a, b = (short_name(config, bk.key) for bk in config.baskets)
    lead = (
        "no clear lead" if state.regime == "neutral" else f"{short_name(config, state.regime)} lead"
    )
    vs = ", ".join(f"{short_name(config, k)} {_q(q)}" for k, q in state.basket_quadrants.items())
    return "\n".join(
        [
            f"Ratio {esc(a)}/{esc(b)} {state.ratio:.4f} · {pct(state.trend)} vs its "
            f"{config.signals.ma_long}-day average · {esc(lead)}",
            f"RRG {esc(a)} vs {esc(b)}: {_q(state.quadrant)} (RS-Ratio {num(state.rs_ratio)}, "
            f"RS-Momentum {num(state.rs_momentum)})",
            f"vs {esc(config.benchmark.name)}: {esc(vs)}",
        ]
    )


# --- command replies -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusReport:
    """What /status reports; times are aware datetimes in the schedule's time zone."""

    data_through: date | None
    lagging: tuple[str, ...]
    last_alert: DeliveryRecord | None
    last_send: DeliveryRecord | None
    next_run: datetime | None
    muted_until: datetime | None
    chats: int
    last_run: str | None = None  # "2026-07-01 done" (session and result), from the daemon
    pending: int = 0  # outbox rows waiting to be sent


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
        ("Outbox", f"{report.pending} pending"),
    ]
    text = "<b>rotabot status</b>\n" + table(rows, "ll")
    if alert:
        text += f"\nLast alert: {esc(alert.key)}, {esc(alert.status)} {esc(_when(alert.at))}"
    if report.lagging:
        text += f"\nNo bar on the latest session for: {esc(', '.join(report.lagging))}"
    return text


def render_data_incomplete(config: Config, session: date, absent: Sequence[str]) -> str:
    """Return the notice sent when a session's prices never arrived before the deadline."""
    shown = ", ".join(absent[:8]) + (f" and {len(absent) - 8} more" if len(absent) > 8 else "")
    return (
        f"⚠️ <b>Data incomplete · {session}</b>\n"
        f"No {esc(session)} bar by {config.schedule.deadline:%H:%M} "
        f"{esc(config.schedule.timezone)} for {esc(shown)}: no signal for this session."
    )


def render_failures(config: Config, count: int, session: date, error: str) -> str:
    """Return the notice sent once after ``schedule.max_failures`` failed runs in a row."""
    return (
        f"⚠️ <b>rotabot needs attention</b>\n"
        f"The daily job failed {count} times in a row (last for session {esc(session)}):\n"
        f"<pre>{esc(error[:300])}</pre>\n"
        f"It retries every {config.schedule.retry_minutes} minutes; see the daemon's log."
    )


def render_baskets(config: Config) -> str:
    parts = []
    for i, bk in enumerate(config.baskets):
        role = "numerator" if i == 0 else "denominator"
        weights = bk.weights or (1.0,) * len(bk.tickers)
        total = sum(weights)
        rows = [(t, f"{w / total:.1%}") for t, w in zip(bk.tickers, weights, strict=True)]
        parts.append(f"<b>{esc(bk.name)}</b> ({role}, key {esc(bk.key)})\n" + table(rows))
    bench = config.benchmark
    parts.append(f"Benchmark: <b>{esc(bench.name)}</b> ({esc(bench.ticker)})")
    return "\n\n".join(parts)


def render_help(commands: Sequence[tuple[str, str, str]]) -> str:
    """Return the command list from (name, usage, help) triples."""
    lines = ["<b>Commands</b>"]
    for name, usage, text in commands:
        lines.append(f"/{esc(name)}{' ' + esc(usage) if usage else ''} - {esc(text)}")
    return "\n".join(lines)


def render_start(config: Config, commands: Sequence[tuple[str, str, str]]) -> str:
    a, b = (esc(bk.name) for bk in config.baskets)
    intro = (
        f"I watch money rotate between <b>{a}</b> and <b>{b}</b> and send an alert after the "
        "close when it does."
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


def chart_caption(config: Config, what: str) -> str:
    a, b = (esc(short_name(config, bk.key)) for bk in config.baskets)
    return f"{a}/{b}: {esc(what)}"


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


BACKTEST_MISSING = "Backtesting is not available yet: it arrives with the backtest feature."
SORRY = "Sorry, that failed on my side; the details are in the bot's log."
