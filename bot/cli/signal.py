"""``rotabot signal`` (the picture at one close) and ``rotabot replay`` (events over a range)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import date

import pandas as pd

from bot.config import Config
from bot.core.models import RotationEvent, SignalState
from bot.core.panel import PricePanel, complete_sessions, missing_on
from bot.core.signals import Signals, compute_signals, events, state_at
from bot.data.prices import load_prices
from bot.errors import UsageError

log = logging.getLogger(__name__)


def run_signal(args: argparse.Namespace, config: Config) -> int:
    panel = load_prices(config)
    asof = pick_session(panel, config, args.asof)
    signals = compute_signals(panel.upto(asof), config)
    state = state_at(signals, asof)
    if args.format == "json":
        print(json.dumps(state.to_json(), ensure_ascii=False))
    else:
        print(render_state(state, config))
    if args.send:
        from bot.notify.delivery import send_signal

        return send_signal(config, signals, state)
    return 0


def run_replay(args: argparse.Namespace, config: Config) -> int:
    start, end = args.start, args.end
    if start > end:
        raise UsageError(f"--start {start} is after --end {end}")
    panel = load_prices(config)
    check_range(panel, start, end)
    found = events(compute_signals(panel.upto(end), config), start, end)
    for event in found:
        if args.format == "json":
            print(json.dumps(event.to_json(), ensure_ascii=False))
        else:
            print(render_event_line(event))
    if args.format == "text":
        print(f"{len(found)} event(s) from {start} to {end}", file=sys.stderr)
    return 0


def check_range(panel: PricePanel, start: date, end: date) -> None:
    """Raise UsageError when ``start``..``end`` reaches outside the sessions in the data."""
    dates = panel.dates
    if len(dates) == 0:
        raise UsageError("no prices at all: run `rotabot prices update` or check --prices-dir")
    first, last = dates[0].date(), dates[-1].date()
    if start < first or end > last:
        raise UsageError(f"{start}..{end} reaches outside the data, which covers {first}..{last}")


def pick_session(panel: PricePanel, config: Config, asof: date | None) -> date:
    """Return the session to report: ``asof`` checked, or the latest complete session."""
    tickers = list(config.tickers)
    if asof is None:
        complete = complete_sessions(panel, tickers)
        if len(complete) == 0:
            raise UsageError("no session has prices for every ticker")
        latest = complete[-1]
        if latest != panel.dates[-1]:
            lacking = ", ".join(missing_on(panel, tickers, panel.dates[-1]))
            log.warning("%s lacks %s; showing %s", panel.dates[-1].date(), lacking, latest.date())
        return latest.date()
    check_range(panel, asof, asof)
    ts = pd.Timestamp(asof)
    if ts not in panel.dates:
        before = panel.dates[panel.dates < ts][-1].date()
        raise UsageError(f"{asof} is not a session in the data (the session before is {before})")
    absent = missing_on(panel, tickers, ts)
    if absent:
        raise UsageError(f"{asof} is missing prices for {', '.join(absent)}")
    return asof


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "n/a" if value is None else format(value, spec)


def render_state(state: SignalState, config: Config) -> str:
    a, b = (bk.key for bk in config.baskets)
    lines = [
        f"Rotation picture at the close of {state.date}",
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
    return "\n".join(lines)


def render_event_line(event: RotationEvent) -> str:
    return (
        f"{event.date}  {event.kind:<6} {event.severity.value:<6} "
        f"{event.from_basket} -> {event.to_basket}  score {event.score:.2f}  {event.summary}"
    )


__all__ = ["Signals", "check_range", "pick_session", "render_state"]
