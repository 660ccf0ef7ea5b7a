"""``rotabot scorecard``: what followed the bot's own alerts, against random sessions."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date

from bot.cli.pairs import chosen_pair
from bot.config import Config
from bot.core.explain import pct
from bot.core.market import build_market
from bot.core.models import RotationEvent, Severity
from bot.core.scorecard import ScoreRow, scorecard
from bot.core.signals import compute_signals, events
from bot.data.prices import load_prices
from bot.data.sessions import check_range
from bot.errors import UsageError


def run_scorecard(args: argparse.Namespace, config: Config) -> int:
    pair = chosen_pair(config, args.pair)
    panel = load_prices(config)
    if len(panel.dates) == 0:
        raise UsageError("no prices at all: run `rotabot prices update` or check --prices-dir")
    start = args.start or panel.dates[0].date()
    end = args.end or panel.dates[-1].date()
    if start > end:
        raise UsageError(f"--start {start} is after --end {end}")
    check_range(panel, start, end)
    found, source = _delivered(config, start, end, args.source)
    if not found and args.source != "state":
        signals = compute_signals(panel.upto(end), config.universe, (pair,) if pair else None)
        found, source = events(signals, start, end), "replay"
    if pair:
        found = [e for e in found if e.pair == pair.key]
    levels = build_market(panel, config.universe).levels
    rows = scorecard(found, levels, (start, end), draws=args.draws, seed=args.seed)
    if args.format == "json":
        payload = {"start": str(start), "end": str(end), "source": source}
        print(json.dumps(payload | {"rows": [r.to_json() for r in rows]}))
    else:
        print(render_scorecard(rows, start, end, source))
    return 0


def _delivered(
    config: Config, start: date, end: date, source: str
) -> tuple[list[RotationEvent], str]:
    """The events whose alerts went out, from the state file (none when it does not exist)."""
    if source == "replay" or not config.state.path.is_file():
        return [], "state"
    from bot.store.db import connect
    from bot.store.history import delivered_events

    conn = connect(config.state.path)
    try:
        rows = delivered_events(conn, start, end)
    finally:
        conn.close()
    floor = Severity(config.telegram.min_severity).rank
    first = config.pairs[0].key  # the one-pair version stored no pair
    found = [RotationEvent.from_json(r, default_pair=first) for r in rows]
    return [e for e in found if e.severity.rank >= floor], "state"


def render_scorecard(rows: list[ScoreRow], start: date, end: date, source: str) -> str:
    what = "alerts delivered (state file)" if source == "state" else "events a replay finds"
    lines = [f"Scorecard {start} to {end}: {what}"]
    if not rows:
        lines.append("  no events in this period")
    for r in rows:
        lines.append(f"{r.pair}  {r.severity} {r.kind}: {r.count} event(s)")
        for h, s in r.horizons.items():
            base = r.baselines[h]
            t = "n/a" if s.t is None else f"{s.t:+.2f}"
            hit = "n/a" if s.hit_rate is None else f"{s.hit_rate:.0%}"
            where = (
                ""
                if base is None
                else (
                    f"; random sessions {pct(base.mean, '+.2f')}, events at the "
                    f"{base.percentile:.0f}th percentile of {base.draws} draws"
                )
            )
            lines.append(
                f"  next {h:>2} session(s): n {s.n}, mean {pct(s.mean, '+.2f')}, "
                f"hit {hit}, HAC t {t}{where}"
            )
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run it as `rotabot scorecard`")
