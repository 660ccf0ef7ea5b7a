"""What a backtest report says: metric tables, JSON payloads, and their text rendering.

Pure: results in, dicts and strings out (the command prints or writes them). The PNG charts
and the HTML page are drawn from these in ``bot.render.report``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from bot.backtest.breakdown import (
    ANNUALISED,
    MONTHS,
    TradeSummary,
    is_short,
    monthly_json,
    monthly_returns,
    short_period_warning,
    trade_summary,
    trade_table,
)
from bot.backtest.engine import BacktestResult
from bot.backtest.market import MarketData

# key, label, format: the order of every metric table.
ROWS = (
    ("total_return", "total return", "{:+.1%}"),
    ("cagr", "CAGR", "{:+.2%}"),
    ("volatility", "volatility", "{:.2%}"),
    ("sharpe", "Sharpe", "{:.2f}"),
    ("sortino", "Sortino", "{:.2f}"),
    ("max_drawdown", "max drawdown", "{:.1%}"),
    ("max_drawdown_duration", "drawdown sessions", "{:d}"),
    ("calmar", "Calmar", "{:.2f}"),
    ("turnover", "turnover / year", "{:.2f}"),
    ("exposure", "exposure", "{:.0%}"),
    ("trades", "trades", "{:d}"),
    ("win_rate", "win rate", "{:.0%}"),
)


Figures = Mapping[str, object]
"""Metrics in their JSON form (``Metrics.to_json``): name -> number, None when undefined."""


def fmt(key: str, value: object) -> str:
    """Format one metric for people: percentages, ratios, counts; "n/a" when undefined."""
    spec = next(f for k, _, f in ROWS if k == key)
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "n/a"
    return spec.format(value)


def metrics_table(columns: Mapping[str, Figures]) -> tuple[list[str], list[list[str]]]:
    """Return a header and one row per metric, one column per named set of figures."""
    header = ["", *columns]
    rows = [[label, *(fmt(key, m.get(key)) for m in columns.values())] for key, label, _ in ROWS]
    return header, rows


def render_sweep(payload: Mapping[str, object], top: int) -> str:
    """Render the JSON payload of ``rotabot sweep`` as text: the ranking, then walk-forward."""
    results = payload["results"]
    assert isinstance(results, list)
    keys = list(results[0]["params"]) if results else []
    shown = ("cagr", "sharpe", "sortino", "max_drawdown", "calmar", "turnover", "trades")
    header = ["rank", *keys, *(label for k, label, _ in ROWS if k in shown)]
    rows = [
        [
            str(r["rank"]),
            *(str(r["params"][k]) for k in keys),
            *(fmt(k, r["metrics"][k]) for k, _, _ in ROWS if k in shown),
        ]
        for r in results[:top]
    ]
    lines = [
        f"{payload['strategy']} on {traded_label(payload)}: {payload['combinations']} "
        f"combinations, {payload['start']} .. {payload['end']}, ranked by {payload['rank_by']}",
        text_table(header, rows),
    ]
    walk = payload.get("walk_forward")
    if isinstance(walk, Mapping):
        lines += ["", _render_walk(walk, keys)]
    return "\n".join(lines)


def _render_walk(walk: Mapping[str, object], keys: Sequence[str]) -> str:
    folds = walk["folds"]
    assert isinstance(folds, list)
    header = ["train", "test", *keys, "IS Sharpe", "OOS Sharpe", "IS CAGR", "OOS CAGR"]
    rows = [
        [
            f"{f['train']['start']}..{f['train']['end']}",
            f"{f['test']['start']}..{f['test']['end']}",
            *(str(f["params"][k]) for k in keys),
            fmt("sharpe", f["in_sample"]["sharpe"]),
            fmt("sharpe", f["out_of_sample"]["sharpe"]),
            fmt("cagr", f["in_sample"]["cagr"]),
            fmt("cagr", f["out_of_sample"]["cagr"]),
        ]
        for f in folds
    ]
    hindsight = walk["in_sample_params"]
    assert isinstance(hindsight, Mapping)
    columns = {
        "out-of-sample (walk-forward)": walk["out_of_sample"],
        "in-sample (hindsight best)": walk["in_sample"],
    }
    return "\n".join(
        [
            f"walk-forward {walk['spec']}: {len(folds)} folds, test windows "
            f"{walk['start']} .. {walk['end']}",
            text_table(header, rows),
            "",
            text_table(*metrics_table(columns)),  # type: ignore[arg-type]
            "hindsight best: " + ", ".join(f"{k}={v}" for k, v in hindsight.items()),
        ]
    )


def render_study(payload: Mapping[str, object]) -> str:
    """Render the JSON payload of ``rotabot study`` as text."""
    rows = payload["rows"]
    assert isinstance(rows, list)
    header = [
        *("pair", "kind", "severity", "horizon", "count"),
        *("mean", "hit rate", "HAC t", "random pct", "verdict"),
    ]
    table = [
        [
            r["pair"],
            r["kind"],
            r["severity"],
            str(r["horizon"]),
            str(r["count"]),
            "n/a" if r["mean"] is None else f"{r['mean']:+.2%}",
            "n/a" if r["hit_rate"] is None else f"{r['hit_rate']:.0%}",
            "n/a" if r["t_stat"] is None else f"{r['t_stat']:+.2f}",
            "n/a" if not r["baseline"] else f"{r['baseline']['percentile']:.0f}",
            r["verdict"],
        ]
        for r in rows
    ]
    pairs = payload["pairs"]
    assert isinstance(pairs, list)
    return "\n".join(
        [
            f"{payload['events']} event(s) on {', '.join(pairs)} from {payload['start']} to "
            f"{payload['end']}; forward spread return = the 'to' basket minus the 'from' "
            "basket after the event's close",
            text_table(header, table),
            "continuation / reversal: n >= 20 and |t| >= 2 (Newey-West, h-1 lags, for "
            "overlapping windows), the track record's rule; "
            "random pct: where the mean stands among as many random sessions, drawn 2,000 times",
        ]
    )


def traded(data: MarketData) -> dict[str, object]:
    """What a backtest traded, for its JSON: the pair (None for every basket) and the assets."""
    return {"pair": data.pair.key if data.pair else None, "assets": list(data.assets)}


def traded_label(payload: Mapping[str, object]) -> str:
    """Name what was traded: the pair ("chips/platforms"), or the baskets rotated among."""
    if payload.get("pair"):
        return str(payload["pair"])
    assets = payload.get("assets")
    baskets = [str(a) for a in assets[:-1]] if isinstance(assets, list) else []
    return "baskets " + ", ".join(baskets)


def backtest_json(
    name: str, params: Mapping[str, object], data: MarketData, result: BacktestResult
) -> dict[str, object]:
    """The ``rotabot backtest --format json`` payload of one backtest."""
    settings = result.settings
    index = result.equity.index
    return {
        "strategy": name,
        **traded(data),
        "params": dict(params),
        "start": index[0].date().isoformat(),
        "end": index[-1].date().isoformat(),
        "settings": {
            "fill": settings.fill.value,
            "cost_bps": settings.cost_bps,
            "slippage_bps": settings.slippage_bps,
            "mode": "spread" if settings.spread else "long",
        },
        "metrics": result.metrics.to_json(),
        "benchmarks": {n: {**m.to_json(), "win_rate": None} for n, m in result.benchmarks.items()},
        "benchmark_periods": {
            n: {"start": lo.isoformat(), "end": hi.isoformat()}
            for n, (lo, hi) in result.benchmark_periods.items()
        },
        "final_equity": round(float(result.equity.iloc[-1]), 8),
        "trade_summary": summary(result).to_json(),
        "monthly_returns": monthly_json(monthly_returns(result.returns)),
        # Annualised figures stay in "metrics" as computed; a window under a year flags them.
        "short_period": is_short(len(result.returns)),
        "warnings": [w for w in [short_period_warning(result)] if w],
        "notes": list(result.notes),
    }


def render_backtest(heading: str, result: BacktestResult) -> str:
    """Render one backtest as text: heading, settings, metrics against the benchmarks, the
    trades summarised, returns by month."""
    s = result.settings
    start = result.equity.index[0].date()
    lines = [
        heading,
        f"fill {s.fill.value}, costs {s.cost_bps:g} + slippage {s.slippage_bps:g} bps of "
        f"turnover, {'long/short spread' if s.spread else 'long only'}",
    ]
    warning = short_period_warning(result)
    lines += [warning] if warning else []
    lines += ["", text_table(*metrics_table(figures(result)))]
    for name, (lo, _) in result.benchmark_periods.items():
        if lo > start:
            lines.append(f"note: {name} has prices from {lo} only; its column starts there")
    lines += [f"note: {n}" for n in result.notes]
    lines += ["", trades_line(result), "", "monthly returns (net of costs)"]
    lines.append(text_table(*monthly_table(result)))
    return "\n".join(lines)


def summary(result: BacktestResult) -> TradeSummary:
    """The strategy's invested trades summarised (``trade_summary`` of ``trade_table``)."""
    return trade_summary(trade_table(result), list(result.weights.columns))


def trades_line(result: BacktestResult) -> str:
    """One line on the trades: count, return per trade and holding period."""
    t = summary(result)
    if not t.trades:
        return "trades: none (the strategy stayed in cash)"
    return (
        f"trades: {t.trades}, return per trade average {t.average:+.2%}, median "
        f"{t.median:+.2%}, best {t.best:+.2%}, worst {t.worst:+.2%}; held "
        f"{t.average_sessions:.1f} sessions on average"
    )


def monthly_table(result: BacktestResult) -> tuple[list[str], list[list[str]]]:
    """Returns by month: a header (year, the months, the year's total) and one row a year."""
    table = monthly_returns(result.returns)
    rows = [
        [str(year), *("" if np.isnan(v) else f"{v:+.1%}" for v in row.to_numpy())]
        for year, row in table.iterrows()
    ]
    return ["", *MONTHS, "Year"], rows


def figures(result: BacktestResult) -> dict[str, Figures]:
    """The strategy's and every benchmark's metrics in their JSON form, strategy first, as
    shown to people: annualised figures of a column under a year and a benchmark's win rate
    (one position held throughout) are None."""
    named = {"strategy": result.metrics, **result.benchmarks}
    out: dict[str, Figures] = {}
    for name, m in named.items():
        shown: dict[str, object] = dict(m.to_json())
        sessions = len(result.returns)
        if name != "strategy":
            shown["win_rate"] = None
            sessions = int(result.benchmark_equity[name].notna().sum())
        if is_short(sessions):
            shown.update(dict.fromkeys(ANNUALISED))
        out[name] = shown
    return out


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Lay out a table in aligned columns: the first left-aligned, the others right-aligned."""
    table = [list(header), *map(list, rows)]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines = []
    for r in table:
        rest = [c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)]
        cells = [r[0].ljust(widths[0]), *rest]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
