"""Subcommands of the backtesting area: argparse, and the parsing of their option values.

The work is in ``bot.cli.backtest``. Nothing here imports numpy or pandas: ``rotabot --help``
builds these parsers.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Sequence
from typing import Any

from bot.backtest.ranking import RANKABLE
from bot.cli.helptext import examples
from bot.cli.main import iso_date, positive_int
from bot.errors import UsageError

SESSIONS_PER = {"": 1, "w": 5, "m": 21, "y": 252}
MAX_COMBINATIONS = 100_000
"""Default grid limit of one sweep: about a minute of work on a laptop; larger grids are
refused with a pointer to --cluster and --max-combinations."""


def cluster_address(text: str) -> str:
    """Check a scheduler address: ``[tcp://]HOST:PORT`` (tls:// too); return it with a scheme."""
    m = re.fullmatch(r"\s*((?:tcp|tls)://)?([\w.\-]+|\[[0-9a-fA-F:]+\]):(\d{1,5})\s*", text)
    if not m or not 0 < int(m[3]) < 65536:
        raise argparse.ArgumentTypeError(
            f"not a scheduler address: {text!r} (want tcp://HOST:PORT)"
        )
    return f"{m[1] or 'tcp://'}{m[2]}:{m[3]}"


def non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0:  # also rejects NaN
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def add_commands(sub: argparse._SubParsersAction[Any], command: Callable[[str], Any]) -> None:
    """Register the backtesting area's subcommands on ``sub``; ``command(module)`` makes runners."""
    p = sub.add_parser(
        "backtest",
        help="backtest a strategy on a pair of baskets, or on every basket",
        description="Backtest a strategy: decisions at the close of t are traded at the close "
        "of t+1 (or the open, with --fill next_open), net of costs, against buy-and-hold "
        "benchmarks.",
        **examples(
            "rotabot backtest --strategy rs_trend --start 2025-01-02 --end 2025-12-31",
            "rotabot backtest --strategy rs_momentum --param lookback=126 --report ./report",
            dates=True,
        ),
    )
    _strategy_options(p)
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set a strategy parameter (repeatable; see `rotabot strategies`)",
    )
    p.add_argument(
        "--report",
        metavar="DIR",
        help="also write equity.csv, weights.csv, trades.csv, charts and report.html",
    )
    p.set_defaults(func=command("backtest"))

    p = sub.add_parser(
        "sweep",
        help="rank every combination of a parameter grid",
        description="Backtest every combination of the grid and rank them; with "
        "--walk-forward, pick the best on each training window and report the test windows.",
        **examples(
            "rotabot sweep --strategy rs_momentum --grid lookback=21,63,126",
            "rotabot sweep --strategy rs_trend --grid window=100,200 --walk-forward 3y:1y",
            dates=True,
        ),
    )
    _strategy_options(p)
    p.add_argument(
        "--grid",
        action="append",
        default=[],
        required=True,
        metavar="KEY=V1,V2,...",
        help="values to try for one parameter (repeatable)",
    )
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="fix a parameter that does not vary (repeatable)",
    )
    p.add_argument("--rank-by", choices=RANKABLE, default="sharpe", help="ranking metric")
    p.add_argument(
        "--walk-forward",
        metavar="TRAIN:TEST",
        help="rolling windows in sessions, or with y/m/w: 756:252, 3y:1y, 18m:6m",
    )
    p.add_argument(
        "--top",
        type=positive_int,
        default=10,
        metavar="N",
        help="rows shown in text output (JSON lists every combination)",
    )
    p.add_argument(
        "--max-combinations",
        type=positive_int,
        default=MAX_COMBINATIONS,
        metavar="N",
        help=f"refuse grids of more combinations (default {MAX_COMBINATIONS:,})",
    )
    p.add_argument(
        "--cluster",
        type=cluster_address,
        metavar="ADDRESS",
        help="run the sweep on this Dask scheduler, e.g. tcp://10.0.0.5:8786 (needs "
        "rotabot[cluster]; start it with `dask scheduler` and `dask worker ADDRESS`)",
    )
    p.set_defaults(func=command("backtest"))

    p = sub.add_parser(
        "study",
        help="event study: what the spread did after each kind of alert",
        description="For each event kind and severity: forward spread returns after the "
        "event (count, mean, hit rate, t-stat), continuation vs reversal.",
        **examples(
            "rotabot study", "rotabot study --start 2020-01-01 --horizons 1,5,20,60", dates=True
        ),
    )
    p.add_argument(
        "--pair",
        metavar="A/B",
        help="study this configured pair only (default: every configured pair)",
    )
    p.add_argument("--start", type=iso_date, metavar="DATE", help="first event date (YYYY-MM-DD)")
    p.add_argument(
        "--end", type=iso_date, metavar="DATE", help="last date, YYYY-MM-DD (default: latest)"
    )
    p.add_argument(
        "--horizons",
        default="1,5,20",
        metavar="H1,H2,...",
        help="forward horizons in sessions (default 1,5,20)",
    )
    _format(p)
    p.set_defaults(func=command("backtest"))

    p = sub.add_parser(
        "strategies",
        help="list the strategies with their parameters",
        **examples("rotabot strategies", "rotabot strategies --format json"),
    )
    _format(p)
    p.set_defaults(func=command("backtest"))


def _strategy_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--strategy", required=True, metavar="NAME", help="strategy name (see `rotabot strategies`)"
    )
    p.add_argument(
        "--pair",
        metavar="A/B",
        help="the configured pair a pair strategy trades (default: the first configured pair)",
    )
    p.add_argument(
        "--start",
        type=iso_date,
        metavar="DATE",
        help="first session, YYYY-MM-DD (default: the first after the strategy's warm-up)",
    )
    p.add_argument(
        "--end", type=iso_date, metavar="DATE", help="last session, YYYY-MM-DD (default: latest)"
    )
    p.add_argument(
        "--cost-bps",
        type=non_negative,
        default=3.0,
        metavar="X",
        help="costs in basis points of turnover (default 3)",
    )
    p.add_argument(
        "--slippage-bps",
        type=non_negative,
        default=2.0,
        metavar="X",
        help="slippage in basis points of turnover (default 2)",
    )
    p.add_argument(
        "--fill",
        choices=["close", "next_open"],
        default="close",
        help="trade a decision at the next close (default) or the next open",
    )
    p.add_argument(
        "--mode",
        choices=["long", "spread"],
        default="long",
        help="long: rotate between the baskets and cash; spread (pair strategies): long the "
        "chosen basket, short the other",
    )
    _format(p)


def _format(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=["text", "json"], default="text", help="output format")


# -- option values ------------------------------------------------------------------------


def pairs(items: Sequence[str], option: str) -> dict[str, str]:
    """Parse repeated KEY=VALUE options into a dict; UsageError on a malformed or repeated one."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key or not value.strip():
            raise UsageError(f"{option} {item!r}: expected KEY=VALUE")
        if key in out:
            raise UsageError(f"{option} {key} is given twice")
        out[key] = value
    return out


def parse_walk_forward(text: str) -> tuple[int, int]:
    """Parse ``TRAIN:TEST`` in sessions, each optionally with a unit: 756:252, 3y:1y, 18m:6m."""
    m = re.fullmatch(r"\s*(\d+)\s*([ymw]?)\s*:\s*(\d+)\s*([ymw]?)\s*", text.lower())
    if not m:
        raise UsageError(f"--walk-forward {text!r}: expected TRAIN:TEST such as 3y:1y or 756:252")
    train = int(m[1]) * SESSIONS_PER[m[2]]
    test = int(m[3]) * SESSIONS_PER[m[4]]
    return train, test


def parse_horizons(text: str) -> tuple[int, ...]:
    try:
        horizons = tuple(int(h) for h in text.split(",") if h.strip())
    except ValueError:
        raise UsageError(f"--horizons {text!r}: expected whole numbers like 1,5,20") from None
    if not horizons or min(horizons) < 1:
        raise UsageError(f"--horizons {text!r}: give sessions of 1 or more")
    return horizons
