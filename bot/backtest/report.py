"""Render backtest results: metric tables as text, PNG charts and a self-contained HTML page.

Pure: results in, strings and bytes out (the command writes the files). matplotlib is
imported only when a chart is drawn, and only its object-oriented API is used (no pyplot), so
nothing here needs a display or changes a global backend.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from bot.backtest.engine import BacktestResult
from bot.backtest.metrics import drawdowns

if TYPE_CHECKING:
    from matplotlib.figure import Figure

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
COLORS = {"position_a": "#2a9d8f", "position_b": "#e76f51", "benchmark": "#8d99ae"}


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
        f"{payload['strategy']}: {payload['combinations']} combinations, "
        f"{payload['start']} .. {payload['end']}, ranked by {payload['rank_by']}",
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
    header = ["kind", "severity", "horizon", "count", "mean", "hit rate", "t-stat", "verdict"]
    table = [
        [
            r["kind"],
            r["severity"],
            str(r["horizon"]),
            str(r["count"]),
            "n/a" if r["mean"] is None else f"{r['mean']:+.2%}",
            "n/a" if r["hit_rate"] is None else f"{r['hit_rate']:.0%}",
            "n/a" if r["t_stat"] is None else f"{r['t_stat']:+.2f}",
            r["verdict"],
        ]
        for r in rows
    ]
    return "\n".join(
        [
            f"{payload['events']} event(s) from {payload['start']} to {payload['end']}; forward "
            "spread return = the 'to' basket minus the 'from' basket after the event's close",
            text_table(header, table),
            "continuation / reversal: |t| >= 2; overlapping windows of close events make long "
            "horizons look more significant than they are",
        ]
    )


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


def charts(result: BacktestResult, ratio: pd.Series, keys: tuple[str, str]) -> dict[str, bytes]:
    """Return PNG charts: equity against the benchmarks, drawdown, the ratio with positions."""
    # The object-oriented API needs no pyplot, so no global backend is chosen or changed.
    from matplotlib.figure import Figure

    out = {}
    fig = Figure(figsize=(10, 4.5))
    ax = fig.subplots()
    for name, curve in result.benchmark_equity.items():
        ax.plot(curve.index, curve.to_numpy(), lw=0.9, alpha=0.7, label=str(name))
    ax.plot(result.equity.index, result.equity.to_numpy(), lw=1.6, color="black", label="strategy")
    ax.set_yscale("log")
    ax.set_title("Equity (log scale, 1.0 = start, net of costs)")
    ax.legend(loc="upper left", fontsize=8)
    out["equity.png"] = _png(fig)

    fig = Figure(figsize=(10, 3))
    ax = fig.subplots()
    dd = drawdowns(result.returns.to_numpy())
    ax.fill_between(result.returns.index, dd, 0.0, color="#c0392b", alpha=0.5)
    ax.set_title("Drawdown of the strategy")
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    out["drawdown.png"] = _png(fig)

    out["ratio.png"] = _ratio_chart(result, ratio.loc[result.equity.index], keys, Figure)
    return out


def _ratio_chart(
    result: BacktestResult, ratio: pd.Series, keys: tuple[str, str], figure: type[Figure]
) -> bytes:
    fig = figure(figsize=(10, 4))
    ax = fig.subplots()
    ax.plot(ratio.index, ratio.to_numpy(), color="black", lw=1.0)
    a, b = keys
    weights = result.weights
    band = ax.get_xaxis_transform()
    for key, label, color in (
        (a, f"long {a}", COLORS["position_a"]),
        (b, f"long {b}", COLORS["position_b"]),
        (weights.columns[2], "benchmark", COLORS["benchmark"]),
    ):
        held = (weights[key] > 0).to_numpy()
        ax.fill_between(
            weights.index,
            0,
            1,
            where=held,
            transform=band,
            color=color,
            alpha=0.2,
            step="mid",
            label=label,
            lw=0,
        )
    ax.set_title(f"Ratio {a}/{b} with the positions held")
    ax.legend(loc="upper left", fontsize=8)
    return _png(fig)


def _png(fig: Figure) -> bytes:
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def html_report(
    title: str,
    facts: Mapping[str, str],
    result: BacktestResult,
    images: Mapping[str, bytes],
) -> str:
    """Return one HTML page with everything inline (tables, charts as data URIs, trades)."""
    named = {"strategy": result.metrics, **result.benchmarks}
    header, rows = metrics_table({k: m.to_json() for k, m in named.items()})
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        _html_table(["", ""], [[k, v] for k, v in facts.items()]),
        "<h2>Metrics</h2>",
        _html_table(header, rows),
    ]
    parts += [f"<p class=note>{html.escape(n)}</p>" for n in result.notes]
    for name, png in images.items():
        data = base64.b64encode(png).decode("ascii")
        parts.append(f'<img alt="{html.escape(name)}" src="data:image/png;base64,{data}">')
    trades = result.trades.copy()
    trades["date"] = trades["date"].dt.strftime("%Y-%m-%d")
    trades["decided"] = trades["decided"].dt.strftime("%Y-%m-%d")
    parts.append(f"<h2>Trades ({len(trades)})</h2>")
    parts.append(trades.to_html(index=False, float_format=lambda v: f"{v:.4f}", border=0))
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1040px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;margin:1em 0}td,th{padding:2px 10px;text-align:right}"
        "td:first-child,th:first-child{text-align:left}tr:nth-child(even){background:#f4f4f4}"
        "img{max-width:100%;display:block;margin:1em 0}.note{color:#a05a00}"
    )
    body = "\n".join(parts)
    return (
        f"<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title><style>{style}</style></head>"
        f"<body>\n{body}\n</body></html>\n"
    )


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
