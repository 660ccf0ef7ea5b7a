"""``rotabot backtest``, ``sweep``, ``study`` and ``strategies``: the backtesting commands.

Parse and check the arguments first (a typo fails before any price is read), then load the
prices once, build the market data and hand over to the pure core (``bot.backtest.engine``,
``sweep``, ``study``); this module only formats and writes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

import strategies
from bot.backtest.engine import BacktestResult, Fill, Settings, backtest, moves, window
from bot.backtest.market import MarketData, market_data
from bot.backtest.metrics import Metrics
from bot.backtest.report import (
    charts,
    html_report,
    metrics_table,
    render_study,
    render_sweep,
    text_table,
)
from bot.backtest.sweep import SweepResult, WalkForward, fold_windows, sweep, walk_forward
from bot.cli.signal import check_range
from bot.config import Config
from bot.data.prices import load_prices
from bot.errors import UsageError
from strategies.base import Strategy, compute_grid, compute_weights, param_specs

SESSIONS_PER = {"": 1, "w": 5, "m": 21, "y": 252}


@dataclass(frozen=True, slots=True)
class Span:
    """The market data and the backtest window (positions ``first..stop-1``) of a command."""

    data: MarketData
    first: int
    stop: int

    @property
    def start(self) -> date:
        return self.data.sessions[self.first].date()

    @property
    def end(self) -> date:
        return self.data.sessions[self.stop - 1].date()


def run_backtest(args: argparse.Namespace, config: Config) -> int:
    strategy = strategies.build(args.strategy, pairs(args.param, "--param"))
    settings = settings_of(args)
    span = prepare(config, args.start, args.end, strategy.warmup(config.signals), strategy.name)
    result = backtest(
        compute_weights(strategy, span.data), span.data, span.start, span.end, settings
    )
    payload = backtest_json(strategy, span, result)
    if args.report:
        write_report(Path(args.report), strategy, span, result, payload)
    if args.format == "json":
        print(json.dumps(payload, ensure_ascii=False))
    else:
        print(render_backtest(strategy, span, result))
    return 0


def run_sweep(args: argparse.Namespace, config: Config) -> int:
    grid = {
        key: [v for v in text.split(",") if v.strip()]
        for key, text in pairs(args.grid, "--grid").items()
    }
    combos = strategies.build_grid(args.strategy, grid, pairs(args.param, "--param"))
    settings = settings_of(args)
    wf = parse_walk_forward(args.walk_forward) if args.walk_forward else None
    warmup = max(c.warmup(config.signals) for c in combos)
    span = prepare(config, args.start, args.end, warmup, args.strategy)
    cls, data = type(combos[0]), span.data
    windows = fold_windows((span.first, span.stop), *wf) if wf else None

    def weights_for(indices: Sequence[int]) -> np.ndarray:
        return compute_grid(cls, data, [combos[i] for i in indices])

    from bot.cli.prices import ProgressBar

    bar = ProgressBar()
    mv = moves(data, settings.fill)
    try:
        result = sweep(
            weights_for,
            len(combos),
            mv,
            (span.first, span.stop),
            settings,
            workers=_workers(),
            progress=lambda d, t: bar(d, t, "combinations"),
        )
    finally:
        bar.close()
    payload = sweep_json(args, combos, grid, span, result)
    if windows:
        walk = walk_forward(weights_for, result, mv, windows, settings, args.rank_by, span.first)
        payload["walk_forward"] = walk_json(walk, combos, list(grid), data, args.walk_forward)
    if args.format == "json":
        print(json.dumps(payload, ensure_ascii=False))
    else:
        print(render_sweep(payload, args.top))
    return 0


def run_study(args: argparse.Namespace, config: Config) -> int:
    from bot.backtest.study import event_study
    from bot.core.signals import compute_signals, events

    horizons = parse_horizons(args.horizons)
    if args.start and args.end and args.start > args.end:
        raise UsageError(f"--start {args.start} is after --end {args.end}")
    panel = load_prices(config)
    if len(panel.dates) == 0:
        raise UsageError("no prices at all: run `rotabot prices update` or check --prices-dir")
    start = args.start or panel.dates[0].date()
    end = args.end or panel.dates[-1].date()
    check_range(panel, start, end)
    signals = compute_signals(panel.upto(end), config)
    found = events(signals, start, end)
    a, b = signals.keys
    levels = signals.frame[[f"index_{a}", f"index_{b}"]].set_axis([a, b], axis=1)
    rows = event_study(found, levels, horizons)
    payload = {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "horizons": list(horizons),
        "events": len(found),
        "rows": [r.to_json() for r in rows],
    }
    if args.format == "json":
        print(json.dumps(payload, ensure_ascii=False))
    else:
        print(render_study(payload))
    return 0


def run_strategies(args: argparse.Namespace, config: Config) -> int:
    classes = [strategies.get(name) for name in strategies.names()]
    if args.format == "json":
        listing = [
            {
                "name": cls.name,
                "summary": _summary(cls),
                "params": [
                    {"name": s.name, "type": s.kind.__name__, "default": s.default, "help": s.help}
                    | ({"choices": list(s.choices)} if s.choices else {})
                    for s in param_specs(cls)
                ],
            }
            for cls in classes
        ]
        print(json.dumps(listing, ensure_ascii=False))
        return 0
    for cls in classes:
        print(f"{cls.name}: {_summary(cls)}")
        for s in param_specs(cls):
            choices = f" [{' | '.join(s.choices)}]" if s.choices else ""
            print(f"    {s.name}={s.default}{choices}  {s.help}")
    print("use: rotabot backtest --strategy NAME [--param KEY=VALUE ...]")
    return 0


def _summary(cls: type[Strategy]) -> str:
    lines = (cls.__doc__ or "").strip().splitlines()
    return lines[0] if lines else ""


# -- arguments ----------------------------------------------------------------------------


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


def settings_of(args: argparse.Namespace) -> Settings:
    return Settings(
        fill=Fill(args.fill),
        cost_bps=args.cost_bps,
        slippage_bps=args.slippage_bps,
        spread=args.mode == "spread",
    )


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


def prepare(config: Config, start: date | None, end: date | None, warmup: int, who: str) -> Span:
    """Load the prices and place the window, after the strategy's warm-up."""
    if start and end and start > end:
        raise UsageError(f"--start {start} is after --end {end}")
    panel = load_prices(config)
    if len(panel.dates) == 0:
        raise UsageError("no prices at all: run `rotabot prices update` or check --prices-dir")
    check_range(panel, start or panel.dates[0].date(), end or panel.dates[-1].date())
    data = market_data(panel, config)
    ready = data.first_session + warmup
    sessions = data.sessions
    if ready >= len(sessions) - 1:
        raise UsageError(f"{who} needs {warmup} sessions of history; the data are too short")
    earliest = sessions[ready].date()
    if start is not None and start < earliest:
        raise UsageError(
            f"{who} needs {warmup} sessions of history before its first decision: "
            f"the earliest --start is {earliest}"
        )
    lo, hi = start or earliest, end or sessions[-1].date()
    first, stop = window(sessions, lo, hi)
    if stop - first < 2:
        raise UsageError(f"{lo}..{hi} holds fewer than two sessions (after {who}'s warm-up)")
    return Span(data, first, stop)


def _workers() -> int:
    return max(1, min(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 2))


# -- output -------------------------------------------------------------------------------


def backtest_json(strategy: Strategy, span: Span, result: BacktestResult) -> dict[str, object]:
    settings = result.settings
    return {
        "strategy": strategy.name,
        "params": strategy.params(),
        "start": span.start.isoformat(),
        "end": span.end.isoformat(),
        "settings": {
            "fill": settings.fill.value,
            "cost_bps": settings.cost_bps,
            "slippage_bps": settings.slippage_bps,
            "mode": "spread" if settings.spread else "long",
        },
        "metrics": result.metrics.to_json(),
        "benchmarks": {name: m.to_json() for name, m in result.benchmarks.items()},
        "benchmark_periods": {
            name: {"start": lo.isoformat(), "end": hi.isoformat()}
            for name, (lo, hi) in result.benchmark_periods.items()
        },
        "final_equity": round(float(result.equity.iloc[-1]), 8),
        "notes": list(result.notes),
    }


def describe(strategy: Strategy) -> str:
    """Return ``name (key=value, ...)``."""
    return f"{strategy.name} ({', '.join(f'{k}={v}' for k, v in strategy.params().items())})"


def render_backtest(strategy: Strategy, span: Span, result: BacktestResult) -> str:
    s = result.settings
    lines = [
        f"{describe(strategy)} {span.start} .. {span.end}",
        f"fill {s.fill.value}, costs {s.cost_bps:g} + slippage {s.slippage_bps:g} bps of "
        f"turnover, {'long/short spread' if s.spread else 'long only'}",
        "",
        text_table(*metrics_table(_figures(result))),
    ]
    for name, (lo, _) in result.benchmark_periods.items():
        if lo > span.start:
            lines.append(f"note: {name} has prices from {lo} only; its column starts there")
    lines += [f"note: {n}" for n in result.notes]
    return "\n".join(lines)


def _figures(result: BacktestResult) -> dict[str, dict[str, float | int | None]]:
    named = {"strategy": result.metrics, **result.benchmarks}
    return {name: m.to_json() for name, m in named.items()}


def write_report(
    folder: Path, strategy: Strategy, span: Span, result: BacktestResult, payload: dict[str, object]
) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        equity = result.benchmark_equity.copy()
        equity.insert(0, "equity", result.equity)
        equity.to_csv(folder / "equity.csv", index_label="date", float_format="%.8f")
        result.weights.to_csv(folder / "weights.csv", index_label="date", float_format="%.6g")
        result.trades.to_csv(folder / "trades.csv", index=False, float_format="%.8g")
        images = charts(result, span.data.ratio, span.data.keys)
        for name, png in images.items():
            (folder / name).write_bytes(png)
        facts = {
            "strategy": describe(strategy),
            "window": f"{span.start} .. {span.end}",
            "settings": json.dumps(payload["settings"]),
        }
        page = html_report(f"rotabot backtest: {strategy.name}", facts, result, images)
        (folder / "report.html").write_text(page, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--report {folder}: cannot write: {exc}") from exc
    print(f"report written to {folder}", file=sys.stderr)


def _params_of(combo: Strategy, keys: Sequence[str]) -> dict[str, object]:
    return {k: getattr(combo, k) for k in keys}


def sweep_json(
    args: argparse.Namespace,
    combos: Sequence[Strategy],
    grid: dict[str, list[str]],
    span: Span,
    result: SweepResult,
) -> dict[str, object]:
    order = result.order(args.rank_by)
    keys = list(grid)
    rows = []
    for position, i in enumerate(order, start=1):
        metrics = Metrics.from_columns(result.metrics, int(i)).to_json()
        rows.append({"rank": position, "params": _params_of(combos[i], keys), "metrics": metrics})
    return {
        "strategy": combos[0].name,
        "params": {k: v for k, v in combos[0].params().items() if k not in grid},
        "grid": {k: list(dict.fromkeys(getattr(c, k) for c in combos)) for k in keys},
        "start": span.start.isoformat(),
        "end": span.end.isoformat(),
        "rank_by": args.rank_by,
        "combinations": len(combos),
        "results": rows,
        "walk_forward": None,
    }


def walk_json(
    walk: WalkForward, combos: Sequence[Strategy], keys: Sequence[str], data: MarketData, spec: str
) -> dict[str, object]:
    def day(position: int) -> str:
        return data.sessions[position].date().isoformat()

    folds = [
        {
            "train": {"start": day(f.train[0]), "end": day(f.train[1] - 1)},
            "test": {"start": day(f.test[0]), "end": day(f.test[1] - 1)},
            "params": _params_of(combos[f.best], keys),
            "in_sample": f.in_sample.to_json(),
            "out_of_sample": f.out_of_sample.to_json(),
        }
        for f in walk.folds
    ]
    return {
        "spec": spec,
        "start": day(walk.folds[0].test[0]),
        "end": day(walk.folds[-1].test[1] - 1),
        "folds": folds,
        "out_of_sample": walk.out_of_sample.to_json(),
        "in_sample": walk.in_sample.to_json(),
        "in_sample_params": _params_of(combos[walk.hindsight_best], keys),
    }
