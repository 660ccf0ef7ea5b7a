"""``rotabot intraday``: every watched pair's shock reading at one moment of a session.

Reads the bars of ``[intraday] csv_dir`` (else Yahoo's for the session of the moment) and the
daily prices up to the previous session, and prints what a check at that moment would see
(see ``bot.core.intraday``). A check that cannot be read (a bar missing, stale or from
another session) prints why and exits 0: that is an answer, not a failure.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas and the core load only when the command runs (fast --help)
    from bot.config import Config
    from bot.core.intraday import IntradayReading


def parse_moment(text: str) -> datetime:
    """Parse an ISO 8601 date and time for argparse (no offset: exchange time)."""
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a date and time: {text!r} (want e.g. 2025-01-27T10:30 or 2025-01-27T10:30-05:00)"
        ) from None


def add_command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    command: Callable[[str], Callable[[argparse.Namespace, Config], int]],
) -> None:
    p = sub.add_parser(
        "intraday",
        help="the shock reading of every pair at a moment of the session (intraday bars)",
        description="Read each watched pair as if the session so far were the day's bar: "
        "score, gates, direction and the moves since the last close. Bars come from "
        "[intraday] csv_dir, else from Yahoo (the session of --asof, default now). "
        "Example: rotabot intraday --asof 2025-01-27T10:30",
    )
    p.add_argument(
        "--asof",
        type=parse_moment,
        metavar="DATETIME",
        help="moment, ISO 8601 (without an offset: exchange time; default: the last bar)",
    )
    p.add_argument("--pair", metavar="A/B", help="only this watched pair (default: every pair)")
    p.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    p.set_defaults(func=command("intraday"))


def run_intraday(args: argparse.Namespace, config: Config) -> int:
    from bot.cli.pairs import chosen_pair
    from bot.data import calendar
    from bot.data.intraday import Skipped
    from bot.data.prices import load_prices
    from bot.data.session import read_session, session_bars
    from bot.render.intraday import clock, reading_lines

    pair = chosen_pair(config, args.pair)
    zone = calendar.exchange_zone(config.schedule.calendar)
    asof: datetime | None = args.asof
    if asof is not None and asof.tzinfo is None:
        asof = asof.replace(tzinfo=zone)
    bars, asof = session_bars(config, asof)
    read = read_session(config, load_prices(config), bars, asof, (pair,) if pair else None)
    when = clock(asof, zone, with_date=True)
    if isinstance(read, Skipped):
        if args.format == "json":
            print(json.dumps({"asof": asof.isoformat(), "skipped": read.reason}))
        else:
            print(f"{when}: check skipped: {read.reason}")
        return 0
    for reading in read.readings:
        if args.format == "json":
            print(json.dumps(_json(reading, asof), ensure_ascii=False))
        else:
            print("\n".join(reading_lines(reading, config, when)))
    return 0


def _json(r: IntradayReading, asof: datetime) -> dict[str, object]:
    return {
        "asof": asof.isoformat(),
        "session": r.session.isoformat(),
        "pair": r.pair.key,
        "moves": r.moves,
        "benchmark": r.benchmark,
        "score": r.score,
        "z": r.z,
        "breadth": r.breadth,
        "benchmark_share": r.benchmark_share,
        "dispersion_share": r.dispersion_share,
        "threshold": r.threshold,
        "eligible": r.eligible,
        "flagged": r.flagged,
        "stopped_by": r.stopped_by,
        "from": r.from_key,
        "to": r.to_key,
    }
