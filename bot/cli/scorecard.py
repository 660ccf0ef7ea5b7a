"""``rotabot scorecard``: what followed the bot's own alerts, against random sessions."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date

from bot.cli.pairs import chosen_pair
from bot.config import Config
from bot.core.explain import pct
from bot.core.scorecard import ScoreRow
from bot.data.prices import load_prices
from bot.data.sessions import check_range
from bot.errors import UsageError
from bot.notify.scoring import score_alerts


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
    scored = score_alerts(config, panel, (start, end), pair, args.source, args.draws, args.seed)
    if args.format == "json":
        payload = {"start": str(start), "end": str(end), "source": scored.source}
        print(json.dumps(payload | {"rows": [r.to_json() for r in scored.rows]}))
    else:
        print(render_scorecard(scored.rows, start, end, scored.source))
    return 0


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
                    f"; random sessions {pct(base.mean, '+.2f')}, the events' mean at "
                    f"percentile {base.percentile:.0f} of {base.draws} draws"
                )
            )
            lines.append(
                f"  next {h:>2} session(s): n {s.n}, mean {pct(s.mean, '+.2f')}, "
                f"hit {hit}, HAC t {t}{where}"
            )
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run it as `rotabot scorecard`")
