"""What the bot says about rotations, as Telegram HTML: alerts, quiet days, notices.

Pure functions, values in, strings out; the HTML basics are in ``bot.render.html``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from bot.config import Config
from bot.core.explain import DRIVER_WINDOW, pct
from bot.core.models import Picture, Quadrant, RotationEvent, Severity, SignalState
from bot.render.html import esc, num, table

_ICON = {Severity.SEVERE: "🔴", Severity.ALERT: "🟠", Severity.INFO: "🔵"}
_KIND = {"shock": "shock rotation", "regime": "regime turn"}


def display_name(config: Config, key: str) -> str:
    """Return a basket's configured name, or its key when it is not configured."""
    try:
        return config.basket(key).name
    except KeyError:
        return key


def short_name(config: Config, key: str) -> str:
    """Return a basket's short name ("Chips"), or its key when it is not configured."""
    try:
        return config.basket(key).short_name
    except KeyError:
        return key


def render_alert(state: SignalState, config: Config, first_flagged: str | None = None) -> str:
    """Return the alert of one pair on a session with events: each event, then the pair's
    picture of the day; ``first_flagged`` ("10:30 ET"): when an in-progress warning first
    flagged the rotation."""
    events = sorted(state.events, key=lambda e: -e.severity.rank)
    blocks = [_event_block(e, config) for e in events]
    if first_flagged:
        blocks[0] += f"\n<i>First flagged at {esc(first_flagged)} by an in-progress warning.</i>"
    # A shock's summary already gives the day's three moves; the table would say them again
    # and push the alert past Telegram's 1024-character caption (text and chart apart).
    if not any(e.kind == "shock" for e in events):
        blocks.append(_moves_table(state, config))
    return "\n\n".join([*blocks, _trend_lines(state, config)])


def render_quiet_day(picture: Picture, config: Config) -> str:
    """Return the "no rotation today" summary of a session: every pair's moves and trend."""
    lines = [f"⚪ <b>No rotation · {picture.date}</b>"]
    lines += [f"<i>{esc(n)}</i>" for state in picture.pairs for n in state.notes]
    lines += [_why_quiet(state, config) for state in picture.pairs]
    lines += [
        f"Below the alert threshold: {esc(e.severity.value)} {esc(_KIND.get(e.kind, e.kind))} "
        f"toward {esc(short_name(config, e.to_basket))} ({esc(pair_title(config, e.pair))})"
        for e in picture.events
    ]
    titled = len(picture.pairs) > 1
    blocks = [
        (f"<b>{esc(pair_title(config, state.pair))}</b>\n" if titled else "")
        + _moves_table(state, config)
        + "\n\n"
        + _trend_lines(state, config)
        for state in picture.pairs
    ]
    return "\n".join(lines) + "\n\n" + "\n\n".join(blocks)


def _why_quiet(state: SignalState, config: Config) -> str:
    """One line per pair: the day's shock score and the rule that kept it from alerting."""
    title = pair_title(config, state.pair)
    score = "n/a" if state.shock_score is None else f"{state.shock_score:.2f}"
    if state.no_shock_because is None:  # a shock below the chats' severity, or an info event
        return f"{esc(title)}: best score {score}"
    return f"{esc(title)}: best score {score}, no rotation: {esc(state.no_shock_because)}"


def render_signal(state: SignalState, config: Config) -> str:
    """Return one pair's picture: its alert when it has events, else its quiet summary."""
    if state.events:
        return render_alert(state, config)
    return render_quiet_day(Picture(state.date, (state,), ()), config)


def pair_title(config: Config, pair: str) -> str:
    """Return a pair in short names for headlines: "chips/platforms" -> "Chips/Platforms"."""
    a, _, b = pair.partition("/")
    return f"{short_name(config, a)}/{short_name(config, b)}"


def _event_block(event: RotationEvent, config: Config) -> str:
    kind = _KIND.get(event.kind, event.kind)
    if event.reverses is not None:
        kind = "shock reversal"
    pair = f" · {pair_title(config, event.pair)}" if event.pair else ""
    lines = [
        f"{_ICON[event.severity]} <b>{esc(event.severity.value.upper())} · {esc(kind)}"
        f"{esc(pair)} · {event.date}</b>",
        f"<b>{esc(display_name(config, event.from_basket))} → "
        f"{esc(display_name(config, event.to_basket))}</b>",
        esc(event.summary),
    ]
    if event.kind == "shock":
        lines.append(f"{esc(_superlative(event))} · score {event.score:.2f}")
    record = track_record_line(event)
    if record:
        lines.append(f"<i>{esc(record)}</i>")
    if event.drivers:
        window = "on the day" if event.kind == "shock" else f"over {DRIVER_WINDOW} sessions"
        rows = [(d.ticker, short_name(config, d.basket), pct(d.move)) for d in event.drivers]
        lines.append(f"Drivers {window}:\n" + table(rows, "llr"))
    return "\n".join(lines)


def _superlative(event: RotationEvent) -> str:
    """ "Largest spread since DATE", or, only when nothing in the data held was as wide, since
    when that is true."""
    since = event.evidence.get("largest_since")
    if since:
        return f"Largest spread since {since}"
    start = event.evidence.get("history_from")
    return f"Largest spread in the data held (since {start})" if start else "Largest spread"


_NOUN = {"shock": "shock", "regime": "regime turn"}


def track_record_line(event: RotationEvent) -> str | None:
    """Say in one line what the earlier events like this one were worth (``bot.core.record``)."""
    tr = event.track_record
    if tr is None:
        return None
    noun = f"{event.severity.value} {_NOUN.get(event.kind, event.kind)}"
    plural = noun + ("" if tr.count == 1 else "s")
    h = tr.decisive
    if h is None:
        nxt = tr.horizons.get(1)
        detail = ""
        if nxt is not None and nxt.n and nxt.hit_rate is not None:
            kept = round(nxt.hit_rate * nxt.n)
            detail = f"; the next session continued {kept} of {nxt.n} times, mean {pct(nxt.mean)}"
        return (
            f"Track record: no measured edge yet ({tr.count} earlier {plural} on this pair{detail})"
        )
    s = tr.horizons[h]
    kept = round((s.hit_rate or 0.0) * s.n)
    times = kept if tr.verdict == "continued" else s.n - kept
    span = "the next session" if h == 1 else f"the next {h} sessions"
    return (
        f"Track record: {tr.count} earlier {plural} on this pair; over {span} the move "
        f"{tr.verdict} {times} of {s.n} times (mean {pct(s.mean)}, t {s.t or 0.0:.1f})"
    )


def _moves_table(state: SignalState, config: Config) -> str:
    rows = [(f"Session {state.date}", "Move")]
    rows += [(short_name(config, k), pct(v)) for k, v in state.basket_returns.items()]
    rows.append((config.benchmark.name, pct(state.benchmark_return)))
    return table(rows)


def _q(quadrant: Quadrant | None) -> str:
    return quadrant.value if quadrant else "n/a"


def _trend_lines(state: SignalState, config: Config) -> str:
    a, b = (short_name(config, key) for key in state.pair.split("/"))
    days = config.signals.ma_long
    lead = (
        f"no clear lead on the {days}-day trend"
        if state.regime == "neutral"
        else f"{short_name(config, state.regime)} lead on the {days}-day trend"
    )
    vs = ", ".join(f"{short_name(config, k)} {_q(q)}" for k, q in state.basket_quadrants.items())
    lines = [
        f"Ratio {esc(a)}/{esc(b)} {state.ratio:.4f} · {pct(state.trend)} vs its "
        f"{days}-day average · {esc(lead)}",
        f"RRG {esc(a)} vs {esc(b)}: {_q(state.quadrant)} (RS-Ratio {num(state.rs_ratio)}, "
        f"RS-Momentum {num(state.rs_momentum)})",
        f"vs {esc(config.benchmark.name)}: {esc(vs)}",
    ]
    return "\n".join(lines + _reconcile(state, config))


def _reconcile(state: SignalState, config: Config) -> list[str]:
    """Say why two readings of one message point different ways, instead of leaving both."""
    if state.regime == "neutral":
        return []
    leader = short_name(config, state.regime)
    out = []
    for e in state.events:
        if e.to_basket != state.regime:
            turn = "the quadrant turned" if e.kind == "regime" else "the day's move went"
            out.append(
                f"<i>{esc(turn.capitalize())} toward {esc(short_name(config, e.to_basket))}; "
                f"on the {config.signals.ma_long}-day trend {esc(leader)} still lead.</i>"
            )
    return list(dict.fromkeys(out))


def chart_caption(config: Config, pair: str, what: str) -> str:
    return f"{esc(pair_title(config, pair))}: {esc(what)}"


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
