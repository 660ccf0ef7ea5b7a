"""``rotabot backtest``, ``sweep``, ``study`` and ``strategies``: the backtesting commands.

Parse and check the arguments first (a typo or an unknown pair fails before any price is
read), then load the prices once, build the core's market (``bot.core.market``) and the
assets the strategy trades (a pair, or every basket), and hand over to the pure core
(``bot.backtest.engine``, ``sweep``, ``study``); this module only formats and writes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

import strategies
from bot.backtest.engine import BacktestResult, Fill, Moves, Settings, backtest, moves, window
from bot.backtest.market import MarketData, basket_data, pair_data
from bot.backtest.metrics import Metrics
from bot.backtest.report import (
    backtest_json,
    render_backtest,
    render_study,
    render_sweep,
    traded,
    traded_label,
)
from bot.backtest.sweep import (
    SweepResult,
    WalkForward,
    Window,
    fold_windows,
    sweep,
    sweep_ranked,
    walk_forward,
    walk_windows,
)
from bot.cli.backtest_args import pairs, parse_horizons, parse_walk_forward
from bot.cli.pairs import chosen_pair
from bot.config import Config, Pair
from bot.core.market import build_market
from bot.core.panel import PricePanel
from bot.data.prices import load_prices
from bot.data.sessions import check_range
from bot.errors import UsageError
from strategies.base import Strategy, compute_grid, compute_weights, param_specs


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
    settings = settings_of(args, type(strategy))
    span = prepare(config, args, strategy.warmup(config.signals), type(strategy))
    data = span.data
    result = backtest(compute_weights(strategy, data), data, span.start, span.end, settings)
    payload = backtest_json(strategy.name, strategy.params(), data, result)
    if args.report:
        write_report(Path(args.report), strategy, span, result, payload)
    if args.format == "json":
        print(json.dumps(payload, ensure_ascii=False))
    else:
        heading = f"{describe(strategy)} {span.start} .. {span.end} on {traded_label(payload)}"
        print(render_backtest(heading, result))
    return 0


def run_sweep(args: argparse.Namespace, config: Config) -> int:
    grid = {
        key: [v for v in text.split(",") if v.strip()]
        for key, text in pairs(args.grid, "--grid").items()
    }
    combos = strategies.grid_of(args.strategy, grid, pairs(args.param, "--param"))
    _check_size(len(combos), args.max_combinations)
    cls = combos.cls
    settings = settings_of(args, cls)
    wf = parse_walk_forward(args.walk_forward) if args.walk_forward else None
    warmup = max(c.warmup(config.signals) for c in combos)
    span = prepare(config, args, warmup, cls)
    data = span.data
    folds = fold_windows((span.first, span.stop), *wf) if wf else None
    mv = moves(data, settings.fill)
    measured = walk_windows(folds) if folds else []
    # Text shows the best rows only: rank every combination, measure those in full.
    top = args.top if args.format == "text" else None
    result = _sweep(args.cluster, strategies.GridCodes(combos), len(combos), mv, span, settings,
                    measured, (args.rank_by, top))  # fmt: skip
    payload = sweep_json(args, combos, span, result)
    if folds:

        def weights_for(indices: Sequence[int]) -> np.ndarray:
            return compute_grid(cls, data, [combos[i] for i in indices])

        walk = walk_forward(weights_for, result, mv, folds, settings, args.rank_by)
        payload["walk_forward"] = walk_json(walk, combos, list(grid), data, args.walk_forward)
    if args.format == "json":
        print(json.dumps(payload, ensure_ascii=False))
    else:
        print(render_sweep(payload, args.top))
    return 0


def _check_size(combos: int, limit: int) -> None:
    if combos > limit:
        raise UsageError(
            f"the grid has {combos:,} combinations, more than --max-combinations {limit:,}: "
            "raise the limit (memory stays bounded, time grows with the grid), or run it on "
            "a Dask cluster with --cluster tcp://HOST:8786"
        )


def _sweep(
    cluster: str | None,
    codes_of: strategies.GridCodes,
    combos: int,
    mv: Moves,
    span: Span,
    settings: Settings,
    measured: Sequence[Window],
    ranking: tuple[str, int | None],
) -> SweepResult:
    """Run the sweep here, or on the Dask cluster at ``cluster``, with a progress bar; with
    ``ranking`` ``(metric, top)``, in full for the ``top`` best only (here)."""
    from bot.cli.prices import ProgressBar

    bar, started = ProgressBar(), time.monotonic()
    window = (span.first, span.stop)

    def progress(done: int, total: int) -> None:
        if bar.shown or time.monotonic() - started > bar.delay:  # no flicker for quick ones
            bar(done, total, "combinations")

    try:
        if cluster:
            from bot.backtest.cluster import cluster_sweep

            return cluster_sweep(cluster, codes_of, span.data, combos, mv, window, settings,
                                 windows=measured, progress=progress)  # fmt: skip
        rank_by, top = ranking
        if top is not None:
            return sweep_ranked(
                lambda indices: codes_of(span.data, indices), combos, mv, window, settings,
                rank_by=rank_by, top=top, windows=measured, workers=_workers(), progress=progress,
            )  # fmt: skip
        return sweep(
            lambda indices: codes_of(span.data, indices), combos, mv, window, settings,
            windows=measured, workers=_workers(), progress=progress,
        )  # fmt: skip
    finally:
        bar.close()


def run_study(args: argparse.Namespace, config: Config) -> int:
    from bot.backtest.study import event_study
    from bot.core.signals import compute_signals, events

    horizons = parse_horizons(args.horizons)
    pair = chosen_pair(config, args.pair)
    chosen = [pair] if pair else list(config.pairs)
    panel = load_checked(config, args.start, args.end)
    start = args.start or panel.dates[0].date()
    end = args.end or panel.dates[-1].date()
    signals = compute_signals(panel.upto(end), config.universe, chosen)
    found = events(signals, start, end)
    keys = [p.key for p in chosen]
    # Every event is measured on the core's levels of its own two baskets.
    rows = event_study(found, signals.market.levels, horizons, keys, (start, end))
    payload = {
        "pairs": keys,
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
                "trades": cls.trades,
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
        every = " (rotates among every basket)" if cls.trades == "baskets" else ""
        print(f"{cls.name}: {_summary(cls)}{every}")
        for s in param_specs(cls):
            choices = f" [{' | '.join(s.choices)}]" if s.choices else ""
            print(f"    {s.name}={s.default}{choices}  {s.help}")
    print("use: rotabot backtest --strategy NAME [--param KEY=VALUE ...] [--pair A/B]")
    return 0


def _summary(cls: type[Strategy]) -> str:
    lines = (cls.__doc__ or "").strip().splitlines()
    return lines[0] if lines else ""


# -- arguments ----------------------------------------------------------------------------


def settings_of(args: argparse.Namespace, cls: type[Strategy]) -> Settings:
    if args.mode == "spread" and cls.trades != "pair":
        raise UsageError(f"--mode spread needs a pair; {cls.name} rotates among every basket")
    return Settings(
        fill=Fill(args.fill),
        cost_bps=args.cost_bps,
        slippage_bps=args.slippage_bps,
        spread=args.mode == "spread",
    )


def traded_pair(config: Config, text: str | None, cls: type[Strategy]) -> Pair | None:
    """The pair a pair strategy trades (default: the first configured); None for baskets."""
    if cls.trades == "baskets":
        if text:
            raise UsageError(f"--pair does not apply: {cls.name} rotates among every basket")
        return None
    return chosen_pair(config, text) or config.pairs[0]


def load_checked(config: Config, start: date | None, end: date | None) -> PricePanel:
    """Load the prices; UsageError when the dates are reversed or outside the data."""
    if start and end and start > end:
        raise UsageError(f"--start {start} is after --end {end}")
    panel = load_prices(config)
    if len(panel.dates) == 0:
        raise UsageError("no prices at all: run `rotabot prices update` or check --prices-dir")
    check_range(panel, start or panel.dates[0].date(), end or panel.dates[-1].date())
    return panel


def prepare(config: Config, args: argparse.Namespace, warmup: int, cls: type[Strategy]) -> Span:
    """Load the prices, build what ``cls`` trades and place the window after its warm-up."""
    pair = traded_pair(config, args.pair, cls)
    market = build_market(load_checked(config, args.start, args.end), config.universe)
    data = pair_data(market, pair) if pair else basket_data(market)
    return place(data, args.start, args.end, warmup, cls.name)


def place(data: MarketData, start: date | None, end: date | None, warmup: int, who: str) -> Span:
    """Return the window from ``start`` (default: the end of the warm-up) to ``end``."""
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


def describe(strategy: Strategy) -> str:
    """Return ``name (key=value, ...)``."""
    return f"{strategy.name} ({', '.join(f'{k}={v}' for k, v in strategy.params().items())})"


def write_report(
    folder: Path, strategy: Strategy, span: Span, result: BacktestResult, payload: dict[str, object]
) -> None:
    from bot.backtest.breakdown import trade_table
    from bot.render.report import charts, html_report

    try:
        folder.mkdir(parents=True, exist_ok=True)
        equity = result.benchmark_equity.copy()
        equity.insert(0, "equity", result.equity)
        equity.to_csv(folder / "equity.csv", index_label="date", float_format="%.8f")
        result.weights.to_csv(folder / "weights.csv", index_label="date", float_format="%.6g")
        trade_table(result).to_csv(folder / "trades.csv", index=False, float_format="%.8g")
        images = charts(result, span.data)
        for name, png in images.items():
            (folder / name).write_bytes(png)
        facts = {
            "strategy": describe(strategy),
            "traded": traded_label(payload),
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
    args: argparse.Namespace, combos: strategies.Grid, span: Span, result: SweepResult
) -> dict[str, object]:
    order = result.order(args.rank_by)
    keys = list(combos.keys)
    figures = Metrics.json_rows(result.metrics, order)
    rows = [
        {"rank": position, "params": combos.varied(int(i)), "metrics": metrics}
        for position, (i, metrics) in enumerate(zip(order, figures, strict=True), start=1)
    ]
    return {
        "strategy": combos.cls.name,
        **traded(span.data),
        "params": {k: v for k, v in combos.base.items() if k not in keys},
        "grid": combos.distinct(),
        "start": span.start.isoformat(),
        "end": span.end.isoformat(),
        "rank_by": args.rank_by,
        "combinations": len(combos),
        "results": rows,
        "walk_forward": None,
    }


def walk_json(
    walk: WalkForward, combos: strategies.Grid, keys: Sequence[str], data: MarketData, spec: str
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
