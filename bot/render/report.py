"""Draw a backtest's report: PNG charts and a self-contained HTML page.

Pure: results in, bytes and strings out (the command writes the files). The figures and
tables themselves come from ``bot.backtest.report``; this module only draws them. matplotlib
is imported only when a chart is drawn, and only its object-oriented API is used (no pyplot),
so nothing here needs a display or changes a global backend.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from bot.backtest.breakdown import short_period_warning, trade_table
from bot.backtest.engine import BacktestResult
from bot.backtest.market import BENCHMARK, MarketData
from bot.backtest.metrics import drawdowns
from bot.backtest.report import figures, metrics_table, monthly_table, trades_line

if TYPE_CHECKING:
    from matplotlib.figure import Figure

COLORS = {"position_a": "#2a9d8f", "position_b": "#e76f51", "benchmark": "#8d99ae"}


def charts(result: BacktestResult, data: MarketData) -> dict[str, bytes]:
    """Return PNG charts: equity against the benchmarks, drawdown, and the positions (over
    the pair's ratio for a pair, stacked by basket when every basket is traded)."""
    # The object-oriented API needs no pyplot, so no global backend is chosen or changed.
    from matplotlib.figure import Figure

    out = {"equity.png": _equity_chart(result, Figure), "drawdown.png": _drawdown(result, Figure)}
    if data.pair is not None:
        out["ratio.png"] = _ratio_chart(result, data, Figure)
    else:
        out["weights.png"] = _weights_chart(result, Figure)
    return out


def _equity_chart(result: BacktestResult, figure: type[Figure]) -> bytes:
    fig = figure(figsize=(10, 4.5))
    ax = fig.subplots()
    for name, curve in result.benchmark_equity.items():
        ax.plot(curve.index, curve.to_numpy(), lw=0.9, alpha=0.7, label=str(name))
    ax.plot(result.equity.index, result.equity.to_numpy(), lw=1.6, color="black", label="strategy")
    ax.set_yscale("log")
    ax.set_title("Equity (log scale, 1.0 = start, net of costs)")
    ax.legend(loc="upper left", fontsize=8)
    return _png(fig)


def _drawdown(result: BacktestResult, figure: type[Figure]) -> bytes:
    fig = figure(figsize=(10, 3))
    ax = fig.subplots()
    dd = drawdowns(result.returns.to_numpy())
    ax.fill_between(result.returns.index, dd, 0.0, color="#c0392b", alpha=0.5)
    ax.set_title("Drawdown of the strategy")
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    return _png(fig)


def _ratio_chart(result: BacktestResult, data: MarketData, figure: type[Figure]) -> bytes:
    ratio = data.ratio.loc[result.equity.index]
    fig = figure(figsize=(10, 4))
    ax = fig.subplots()
    ax.plot(ratio.index, ratio.to_numpy(), color="black", lw=1.0)
    a, b = data.keys
    weights = result.weights
    band = ax.get_xaxis_transform()
    for key, label, color in (
        (a, f"long {a}", COLORS["position_a"]),
        (b, f"long {b}", COLORS["position_b"]),
        (BENCHMARK, "benchmark", COLORS["benchmark"]),
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


def _weights_chart(result: BacktestResult, figure: type[Figure]) -> bytes:
    fig = figure(figsize=(10, 4))
    ax = fig.subplots()
    weights = result.weights.clip(lower=0.0)
    labels = [str(c) for c in weights.columns]
    ax.stackplot(weights.index, weights.to_numpy().T, labels=labels, step="mid", alpha=0.8)
    ax.set_ylim(0.0, 1.0)
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.set_title("Positions held (share of equity; the rest is cash)")
    ax.legend(loc="upper left", fontsize=8)
    return _png(fig)


def _png(fig: Figure) -> bytes:
    # Fixed margins rather than tight_layout(), which measures every label by drawing the
    # figure once more (a third of the report's time); the charts share one layout.
    fig.subplots_adjust(left=0.07, right=0.985, bottom=0.1, top=0.9)
    buffer = io.BytesIO()
    # zlib level 1: a few percent larger files, written several times faster than level 6.
    fig.savefig(buffer, format="png", dpi=100, pil_kwargs={"compress_level": 1})
    return buffer.getvalue()


def html_report(
    title: str,
    facts: Mapping[str, str],
    result: BacktestResult,
    images: Mapping[str, bytes],
) -> str:
    """Return one HTML page with everything inline (tables, charts as data URIs, trades)."""
    header, rows = metrics_table(figures(result))
    warning = short_period_warning(result)
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        _html_table(["", ""], [[k, v] for k, v in facts.items()]),
        *([f"<p class=warning>{html.escape(warning)}</p>"] if warning else []),
        "<h2>Metrics</h2>",
        _html_table(header, rows),
        f"<p>{html.escape(trades_line(result))}</p>",
    ]
    parts += [f"<p class=note>{html.escape(n)}</p>" for n in result.notes]
    parts += ["<h2>Monthly returns (net of costs)</h2>", _html_table(*monthly_table(result))]
    for name, png in images.items():
        data = base64.b64encode(png).decode("ascii")
        parts.append(f'<img alt="{html.escape(name)}" src="data:image/png;base64,{data}">')
    trades = trade_table(result)
    trades["date"] = trades["date"].dt.strftime("%Y-%m-%d")
    trades["decided"] = trades["decided"].dt.strftime("%Y-%m-%d")
    parts.append(f"<h2>Trades ({len(trades)})</h2>")
    parts.append(trades.to_html(index=False, float_format=lambda v: f"{v:.4f}", border=0))
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1040px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;margin:1em 0}td,th{padding:2px 10px;text-align:right}"
        "td:first-child,th:first-child{text-align:left}tr:nth-child(even){background:#f4f4f4}"
        "img{max-width:100%;display:block;margin:1em 0}.note{color:#a05a00}"
        ".warning{color:#b00020;font-weight:600}"
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
