"""What the bot says during the session: the provisional warning, and how the close settled it.

A warning is labelled as provisional in its first words ("In progress"), says the clock time
of the check, the moves since the last close and the drivers so far; the close run either
confirms it (the session's alert then says when it was first flagged) or withdraws it with a
short note to the targets that got it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.config import Config
from bot.core.intraday import IntradayReading
from bot.core.models import RotationEvent
from bot.render.html import esc
from bot.render.text import pair_title, short_name

_ICON = "⏳"


def clock(moment: datetime, zone: ZoneInfo, with_date: bool = False) -> str:
    """ "10:30 ET" in New York, else with the zone's abbreviation; ``with_date``: the day too."""
    local = moment.astimezone(zone)
    label = "ET" if str(zone) == "America/New_York" else local.strftime("%Z")
    return f"{local:%Y-%m-%d %H:%M} {label}" if with_date else f"{local:%H:%M} {label}"


def reading_lines(r: IntradayReading, config: Config, when: str) -> list[str]:
    """One pair's reading as plain text lines: the moves, the gates and the verdict."""
    gates = (
        f"  score {r.score:.2f} (warning at {r.threshold:.2f}), z {r.z:.2f}, "
        f"breadth {r.breadth:.2f}, benchmark share {r.benchmark_share:.2f}, "
        f"dispersion {r.dispersion_share:.2f}"
    )
    if r.flagged:
        verdict = f"  provisional warning: {r.direction} (in progress, the close decides)"
    else:
        verdict = f"  no warning: stopped by {r.stopped_by}"
    head = headline(r, config, when).removeprefix("In progress, ")
    return [f"{r.pair}", f"  {head}", gates, verdict, f"  drivers: {drivers(r, config)}"]


def headline(reading: IntradayReading, config: Config, when: str) -> str:
    """ "In progress, 11:00 ET: Chips -5.1% vs Platforms +3.2% while the S&P 500 is -0.1%"."""
    a, b = reading.pair.keys
    return (
        f"In progress, {when}: {short_name(config, a)} {pct(reading.moves[a])} vs "
        f"{short_name(config, b)} {pct(reading.moves[b])} while the {config.benchmark.name} "
        f"is {pct(reading.benchmark)}"
    )


def pct(x: float) -> str:
    """A signed percentage to one decimal, never "-0.0%" (a move that rounds to nothing)."""
    return f"{(0.0 if abs(x) < 0.0005 else x):+.1%}"


def drivers(reading: IntradayReading, config: Config, count: int | None = None) -> str:
    """The biggest movers so far on each side: the falling basket's losers, the other's gainers."""
    n = config.signals.driver_count if count is None else count
    parts = []
    for key in reading.pair.keys:
        known = {t: v for t, v in reading.members.items() if t in config.basket(key).tickers}
        ranked = sorted((v, t) for t, v in known.items() if v == v)  # v == v: not NaN
        picks = ranked[:n] if key == reading.from_key else ranked[::-1][:n]
        parts.append(f"{short_name(config, key)} " + ", ".join(f"{t} {pct(v)}" for v, t in picks))
    return "; ".join(parts)


def warning_text(reading: IntradayReading, config: Config, when: str, close: str) -> str:
    """The provisional warning of one pair (Telegram HTML); ``close`` names when the close
    run settles it ("after 16:30 ET")."""
    title = pair_title(config, reading.pair.key)
    to_from = f"{short_name(config, reading.from_key)} → {short_name(config, reading.to_key)}"
    return "\n".join(
        [
            f"{_ICON} <b>IN PROGRESS · {esc(title)} · {esc(when)}</b>",
            f"<b>{esc(to_from)}</b> (provisional)",
            esc(headline(reading, config, when)),
            f"Drivers so far: {esc(drivers(reading, config))}",
            f"Score {reading.score:.2f} (warning at {reading.threshold:.2f}), breadth "
            f"{reading.breadth:.0%}, benchmark share {reading.benchmark_share:.2f}",
            f"<i>Not a close signal: the close run confirms or withdraws it {esc(close)}.</i>",
        ]
    )


def withdrawn_text(
    config: Config,
    pair: str,
    direction: str,
    first_at: str,
    session: str,
    moves: Mapping[str, float | None],
    why: str = "",
) -> str:
    """The short note to the targets that got a warning the close did not confirm; ``why``:
    why the close could not be read (empty when it was, and showed no such rotation)."""
    source, _, target = direction.partition("->")
    a, _, b = pair.partition("/")
    closed = ", ".join(
        f"{short_name(config, k)} {v:+.1%}"
        for k, v in ((a, moves.get(a)), (b, moves.get(b)))
        if v is not None
    )
    if why:
        verdict = f"it could not be confirmed: {why}."
    else:
        verdict = "the close shows no such rotation." + (
            f" At the close: {closed}." if closed else ""
        )
    return (
        f"↩️ <b>Withdrawn · {esc(pair_title(config, pair))} · {esc(session)}</b>\n"
        f"The in-progress warning of {esc(first_at)} "
        f"({esc(short_name(config, source))} → {esc(short_name(config, target))}) did not "
        f"hold: {esc(verdict)}"
    )


def confirmed_text(config: Config, event: RotationEvent, first_at: str) -> str:
    """The note to a target that got a warning the close confirmed below its own alert level
    (so no alert follows for it)."""
    move = f"{short_name(config, event.from_basket)} → {short_name(config, event.to_basket)}"
    return (
        f"✅ <b>Confirmed · {esc(pair_title(config, event.pair))} · {event.date}</b>\n"
        f"The in-progress warning of {esc(first_at)} held: the close shows a shock "
        f"{esc(move)} graded {esc(event.severity.value)} (score {event.score:.2f}), below the "
        "alert level here, so no alert follows."
    )


def now_text(
    config: Config, when: str, readings: Sequence[IntradayReading] | None, skipped: str = ""
) -> str:
    """/now: every pair's reading at this moment of the session (Telegram HTML)."""
    if readings is None:
        return (
            f"The market is closed ({esc(when)}): no session is trading. "
            "/signal shows the last close."
        )
    if skipped:
        return f"<b>Now · {esc(when)}</b>\nCannot read the session yet: {esc(skipped)}."
    blocks = []
    for r in readings:
        title = pair_title(config, r.pair.key)
        verdict = (
            f"warning: {short_name(config, r.from_key)} → {short_name(config, r.to_key)} "
            "(provisional, the close decides)"
            if r.flagged
            else f"no warning (stopped by {r.stopped_by})"
        )
        blocks.append(
            f"<b>{esc(title)}</b>\n"
            f"{esc(headline(r, config, when).removeprefix('In progress, '))}\n"
            f"Score {r.score:.2f} (warning at {r.threshold:.2f}): {esc(verdict)}\n"
            f"Drivers so far: {esc(drivers(r, config))}"
        )
    return f"<b>Now · {esc(when)}</b>\n\n" + "\n\n".join(blocks)
