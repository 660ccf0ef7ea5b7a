"""``rotabot signal`` (the picture at one close) and ``rotabot replay`` (events over a range)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import UTC, datetime

from bot.cli.pairs import chosen_pair
from bot.config import Config
from bot.core.models import Picture, RotationEvent, SignalState
from bot.core.signals import compute_signals, events, picture_at
from bot.data.age import data_age
from bot.data.prices import load_noted, load_prices
from bot.data.sessions import check_range, pick_session
from bot.errors import UsageError

log = logging.getLogger(__name__)


def run_signal(args: argparse.Namespace, config: Config) -> int:
    pair = chosen_pair(config, args.pair)
    loaded = load_noted(config)
    panel = loaded.panel
    asof = pick_session(panel, config, args.asof)
    pairs = (pair,) if pair else None
    signals = compute_signals(panel.upto(asof), config.universe, pairs)
    picture = picture_at(signals, asof)
    # How old the newest bar is: a cache Yahoo could not refresh must not pass for today.
    now = datetime.now(UTC)
    age = data_age(panel.dates[-1].date(), config.schedule.calendar, now, loaded.why_old)
    if args.format == "json":
        print(json.dumps(picture.to_json() | {"data_age": age.to_json()}, ensure_ascii=False))
    else:
        lines = render_picture(picture, config).split("\n")
        if age.stale and args.asof is None:  # an explicit --asof asks for the past anyway
            lines.insert(1, f"  {age.describe()}")
        print("\n".join(lines))
    if args.send:
        from bot.notify.delivery import send_signal

        return send_signal(config, signals, picture, resend=args.resend)
    return 0


def run_replay(args: argparse.Namespace, config: Config) -> int:
    start, end = args.start, args.end
    if start > end:
        raise UsageError(f"--start {start} is after --end {end}")
    pair = chosen_pair(config, args.pair)
    panel = load_prices(config)
    check_range(panel, start, end)
    pairs = (pair,) if pair else None
    found = events(compute_signals(panel.upto(end), config.universe, pairs), start, end)
    several = len(config.pairs) > 1
    for event in found:
        if args.format == "json":
            print(json.dumps(event.to_json(), ensure_ascii=False))
        else:
            print(render_event_line(event, with_pair=several))
    if args.format == "text":
        print(f"{len(found)} event(s) from {start} to {end}", file=sys.stderr)
    return 0


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "n/a" if value is None else format(value, spec)


def render_picture(picture: Picture, config: Config) -> str:
    """Return the text picture: one block per pair (headed by the pair when there are
    several), then every basket against the benchmark when more than two are watched."""
    lines = [f"Rotation picture at the close of {picture.date}"]
    several = len(picture.pairs) > 1
    for state in picture.pairs:
        if several:
            lines.append(f"{state.pair}")
        lines += render_state(state, config)
    if len(picture.baskets) > 2:
        readings = ", ".join(
            f"{b.key} {b.quadrant.value if b.quadrant else 'n/a'}" for b in picture.baskets
        )
        lines.append(f"  baskets vs {config.benchmark.name}: {readings}")
    return "\n".join(lines)


def render_state(state: SignalState, config: Config) -> list[str]:
    a, b = state.pair.split("/")
    lines = [
        f"  ratio {a}/{b}: {state.ratio:.4f}  (MA{config.signals.ma_short} "
        f"{_fmt(state.ratio_ma_short, '.4f')}, MA{config.signals.ma_long} "
        f"{_fmt(state.ratio_ma_long, '.4f')}, {_fmt(state.trend, '+.1%')} vs long MA)",
        f"  regime: {state.regime} leads" if state.regime != "neutral" else "  regime: neutral",
        f"  RRG {a} vs {b}: {state.quadrant.value if state.quadrant else 'n/a'} "
        f"(RS-Ratio {_fmt(state.rs_ratio, '.1f')}, RS-Momentum {_fmt(state.rs_momentum, '.1f')})",
        "  vs benchmark: "
        + ", ".join(f"{k} {q.value if q else 'n/a'}" for k, q in state.basket_quadrants.items()),
        "  indicators: " + ", ".join(f"{k} {_fmt(v)}" for k, v in state.indicators.items()),
        "  returns: "
        + ", ".join(f"{k} {_fmt(v, '+.2%')}" for k, v in state.basket_returns.items())
        + f", {config.benchmark.name} {_fmt(state.benchmark_return, '+.2%')}",
    ]
    lines += [f"  note: {n}" for n in state.notes]
    if not state.events:
        lines.append("  no rotation this session")
    lines += ["  " + render_event_line(e) for e in state.events]
    return lines


def render_event_line(event: RotationEvent, with_pair: bool = False) -> str:
    pair = f"{event.pair}  " if with_pair else ""
    return (
        f"{event.date}  {pair}{event.kind:<6} {event.severity.value:<6} "
        f"{event.from_basket} -> {event.to_basket}  score {event.score:.2f}  {event.summary}"
    )


__all__ = ["render_picture", "render_state"]
