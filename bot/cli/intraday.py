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
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bot.errors import UsageError

if TYPE_CHECKING:  # pandas and the core load only when the command runs (fast --help)
    from collections.abc import Mapping
    from zoneinfo import ZoneInfo

    import pandas as pd

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
    import pandas as pd

    from bot.cli.pairs import chosen_pair
    from bot.core.intraday import intraday_readings
    from bot.core.market import build_market
    from bot.data import calendar
    from bot.data.intraday import Moves, interval_of, moves_at, previous_closes
    from bot.data.prices import load_prices

    pair = chosen_pair(config, args.pair)
    zone = calendar.exchange_zone(config.schedule.calendar)
    interval = interval_of(config.intraday.interval)
    asof: datetime | None = args.asof
    if asof is not None and asof.tzinfo is None:
        asof = asof.replace(tzinfo=zone)
    bars, asof = _bars(config, asof, zone, interval)
    panel = load_prices(config)
    session = asof.astimezone(zone).date()
    closes = previous_closes(panel, session)
    age = timedelta(minutes=config.intraday.max_age_minutes)
    found = moves_at(bars, closes, asof, zone, age, interval)
    when = _clock(asof, config)
    if not isinstance(found, Moves):
        if args.format == "json":
            print(json.dumps({"asof": asof.isoformat(), "skipped": found.reason}))
        else:
            print(f"{when}: check skipped: {found.reason}")
        return 0
    history = build_market(panel.upto(closes[0]), config.universe)
    threshold = config.intraday.score_threshold(config.signals)
    pairs = (pair,) if pair else None
    readings = intraday_readings(history, pd.Timestamp(session), found.moves, threshold, pairs)
    for reading in readings:
        if args.format == "json":
            print(json.dumps(_json(reading, asof), ensure_ascii=False))
        else:
            print("\n".join(render_reading(reading, config, when)))
    return 0


def _bars(
    config: Config, asof: datetime | None, zone: ZoneInfo, interval: timedelta
) -> tuple[Mapping[str, pd.DataFrame], datetime]:
    """The bars to read and the moment: the CSV folder when set (default moment: the end of
    its last bar), else Yahoo for the session of ``asof`` (default: now)."""
    from bot.data.intraday import read_bars

    folder = config.intraday.csv_dir
    if folder is not None:
        bars = read_bars(folder, config.tickers)
        if asof is None:
            if not bars:
                raise UsageError(f"no intraday bars in {folder} for the watched tickers")
            last = max(frame.index[-1] for frame in bars.values() if len(frame))
            asof = (last + interval).to_pydatetime()  # a bar is complete at its end
        return bars, asof
    if config.data.refresh == "never":
        raise UsageError(
            "--offline: intraday bars come from Yahoo unless [intraday] csv_dir names a folder "
            "of <TICKER>.csv bars"
        )
    from bot.config.paths import cache_dir
    from bot.data.yahoo_intraday import YahooBars

    moment = asof or datetime.now(UTC)
    source = YahooBars(config.intraday.interval, cache_dir=cache_dir(), zone=str(zone))
    return source.fetch(config.tickers, moment.astimezone(zone).date()), moment


def _clock(asof: datetime, config: Config) -> str:
    local = asof.astimezone(config.schedule.zone)
    label = "ET" if config.schedule.timezone == "America/New_York" else local.strftime("%Z")
    return f"{local:%Y-%m-%d %H:%M} {label}"


def render_reading(r: IntradayReading, config: Config, when: str) -> list[str]:
    """Return the text lines of one pair's reading."""
    from bot.render.intraday import drivers

    a, b = r.pair.keys
    na, nb = config.basket(a).short_name, config.basket(b).short_name
    head = (
        f"{when}: {na} {r.moves[a]:+.1%} vs {nb} {r.moves[b]:+.1%} while the "
        f"{config.benchmark.name} is {r.benchmark:+.1%}"
    )
    gates = (
        f"  score {r.score:.2f} (warning at {r.threshold:.2f}), z {r.z:.2f}, "
        f"breadth {r.breadth:.2f}, benchmark share {r.benchmark_share:.2f}, "
        f"dispersion {r.dispersion_share:.2f}"
    )
    if r.flagged:
        verdict = f"  provisional warning: {r.direction} (in progress, the close decides)"
    else:
        verdict = f"  no warning: stopped by {r.stopped_by}"
    return [f"{r.pair}", f"  {head}", gates, verdict, f"  drivers: {drivers(r, config)}"]


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
