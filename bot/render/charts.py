"""PNG charts for alerts and commands: the basket ratio, and a relative rotation graph.

Drawn with matplotlib's object API on an Agg canvas, never through pyplot: a ``Figure`` made
this way is not registered in pyplot's global figure list, so it is freed as soon as the
function returns (no leak in a long-lived bot), and charts can be drawn from worker threads
(``asyncio.to_thread``) without sharing pyplot's global state. matplotlib is imported inside
the functions because it is slow to import and only some commands draw.
"""

from __future__ import annotations

import io
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bot.core.models import Severity
from bot.core.params import Pair
from bot.core.signals import PairSignals, Signals, pair_events
from bot.errors import UsageError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

SIZE = (8.0, 4.5)  # inches at DPI: 800 x 450 px, a phone-friendly 16:9
DPI = 100
# Phones show a chart about 400 px wide, half its size: every label is at least FONT points
# (FONT * DPI / 72 = 16.7 px drawn, 8.3 px on the phone), the title TITLE_FONT.
FONT = 12.0
TITLE_FONT = 13.0
LOG_RANGE = 2.0  # a ratio that moves more than this factor in the window goes on a log scale
_SEVERITY_COLOR = {Severity.SEVERE: "#c62828", Severity.ALERT: "#ef6c00", Severity.INFO: "#1565c0"}
_QUADRANT_COLOR = {
    "Leading": "#e8f5e9",
    "Weakening": "#fffde7",
    "Lagging": "#ffebee",
    "Improving": "#e3f2fd",
}


def _label(text: str) -> str:
    """Return user text safe for a matplotlib label ("$" would start math mode)."""
    return text.replace("$", r"\$")


def _names(ps: PairSignals) -> tuple[str, str]:
    a, b = ps.keys
    return ps.basket(a).short_name, ps.basket(b).short_name


def _new_figure() -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=SIZE, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    fig.clear()  # drop the artists now rather than at the next garbage collection
    return buffer.getvalue()


def _window(frame: pd.DataFrame, end: date | None) -> pd.DataFrame:
    frame = frame.loc[: pd.Timestamp(end)] if end is not None else frame
    if frame.empty:
        raise UsageError("no sessions to chart yet")
    return frame


def ratio_chart(ps: PairSignals, end: date | None = None, days: int = 250) -> bytes:
    """Return a PNG of the ratio with its moving averages over ``days`` sessions to ``end``."""
    return _png(ratio_figure(ps, end, days))


def ratio_figure(ps: PairSignals, end: date | None = None, days: int = 250) -> Figure:
    """Draw the ratio chart (``ratio_chart``) and return its figure.

    Rotation events in the window are marked: up triangles for rotations toward the first
    (numerator) basket, down triangles toward the second, coloured by severity. An event on
    the last session (the alert's own) gets a dashed line and its date as a label. A ratio
    whose range in the window exceeds ``LOG_RANGE`` is drawn on a log scale.
    """
    frame = _window(ps.frame, end).tail(days)
    first, last = pd.Timestamp(frame.index[0]), pd.Timestamp(frame.index[-1])
    a_name, b_name = _names(ps)
    p = ps.params
    fig = _new_figure()
    ax = fig.add_subplot()
    ax.plot(frame.index, frame["ratio"], color="#212121", linewidth=1.4, label="ratio")
    ax.plot(
        frame.index,
        frame["ma_short"],
        color="#1e88e5",
        linewidth=1.0,
        label=f"{p.ma_short}-day average",
    )
    ax.plot(
        frame.index,
        frame["ma_long"],
        color="#8e24aa",
        linewidth=1.0,
        label=f"{p.ma_long}-day average",
    )
    _mark_events(ax, ps, frame, first.date(), last.date())
    _log_scale_if_wide(ax, frame["ratio"])
    ax.set_title(
        _label(f"{a_name} / {b_name} ratio, {first:%Y-%m-%d} to {last:%Y-%m-%d}"),
        fontsize=TITLE_FONT,
    )
    ax.grid(True, alpha=0.3)
    _date_axis(ax)
    ax.tick_params(labelsize=FONT)
    return fig


def _log_scale_if_wide(ax: Any, ratio: pd.Series) -> None:
    low, high = float(ratio.min()), float(ratio.max())
    if low > 0 and high / low > LOG_RANGE:
        ax.set_yscale("log")
        ax.set_ylabel("ratio (log scale)", fontsize=FONT)


def _mark_events(ax: Any, ps: PairSignals, frame: pd.DataFrame, start: date, end: date) -> None:
    """Mark each event on the ratio line; the legend explains shapes and colours once."""
    from matplotlib.lines import Line2D

    a_key = ps.keys[0]
    a_name, b_name = _names(ps)
    seen_up: set[bool] = set()
    seen_severity: set[Severity] = set()
    events = pair_events(ps, start, end)
    if any(e.date == end for e in events):  # the alert's own session: say which it is
        ax.axvline(pd.Timestamp(end), color="#616161", linestyle="--", linewidth=1.0, zorder=1)
        ax.annotate(
            f"{end:%Y-%m-%d}", xy=(pd.Timestamp(end), 1.0), xycoords=("data", "axes fraction"),
            xytext=(-4, -4), textcoords="offset points", ha="right", va="top", fontsize=FONT,
            color="#424242",
        )  # fmt: skip
    for event in events:
        ts = pd.Timestamp(event.date)
        up = event.to_basket == a_key
        seen_up.add(up)
        seen_severity.add(event.severity)
        ax.scatter(
            [ts], [frame.loc[ts, "ratio"]], marker="^" if up else "v", s=60, zorder=3,
            color=_SEVERITY_COLOR[event.severity], edgecolors="white",
        )  # fmt: skip
    proxies = [
        Line2D([], [], linestyle="none", marker="^" if up else "v", color="#757575",
               label=_label(f"toward {a_name if up else b_name}"))
        for up in sorted(seen_up, reverse=True)
    ]  # fmt: skip
    proxies += [
        Line2D([], [], linestyle="none", marker="o", color=_SEVERITY_COLOR[s], label=s.value)
        for s in Severity
        if s in seen_severity
    ]
    handles, _ = ax.get_legend_handles_labels()
    ax.legend(handles=handles + proxies, loc="best", fontsize=FONT, ncol=2)


def _date_axis(ax: Any) -> None:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    locator = AutoDateLocator(maxticks=8)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]


def rrg_chart(
    signals: Signals, end: date | None = None, tail: int = 10, highlight: Pair | None = None
) -> bytes:
    """Return a PNG of every basket's RS-Ratio vs RS-Momentum against the benchmark."""
    return _png(rrg_figure(signals, end, tail, highlight))


def rrg_figure(
    signals: Signals, end: date | None = None, tail: int = 10, highlight: Pair | None = None
) -> Figure:
    """Draw the relative rotation graph (``rrg_chart``) and return its figure.

    Each basket is drawn with a tail of its last ``tail`` sessions to ``end``, the latest
    point large; the two baskets of ``highlight`` (the pair an alert is about) are drawn bold
    and the others faded.
    """
    frame = _window(signals.baskets, end).tail(max(tail, 1) + 1)
    fig = _new_figure()
    ax = fig.add_subplot()
    points = []
    bold = set(highlight.keys) if highlight else set()
    for i, bk in enumerate(signals.universe.baskets):
        path = frame[[f"rs_ratio_{bk.key}", f"rs_momentum_{bk.key}"]].dropna()
        if path.empty:
            continue
        points.append(path.to_numpy())
        _tail(ax, path.to_numpy(), _PALETTE[i % len(_PALETTE)], bk.short_name, bold, bk.key)
    if not points:
        raise UsageError("not enough history for the relative rotation graph yet")
    _quadrants(ax, np.concatenate(points))
    last = pd.Timestamp(frame.index[-1])
    bench = signals.universe.benchmark.name
    ax.set_title(
        _label(f"Relative rotation vs {bench}, {tail} sessions to {last:%Y-%m-%d}"),
        fontsize=TITLE_FONT,
    )
    ax.set_xlabel("RS-Ratio", fontsize=FONT)
    ax.set_ylabel("RS-Momentum", fontsize=FONT)
    ax.tick_params(labelsize=FONT)
    # Outside the axes: inside it would hide a quadrant's name or the tails.
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=FONT, frameon=False)
    return fig


_PALETTE = ("#e53935", "#1e88e5", "#43a047", "#fb8c00", "#8e24aa", "#00897b", "#6d4c41")


def _tail(ax: Any, xy: np.ndarray, color: str, name: str, bold: set[str], key: str) -> None:
    """Draw one basket's tail and its latest point; faded when another pair is highlighted."""
    strong = not bold or key in bold
    alpha, width = (0.9, 1.8 if bold else 1.2) if strong else (0.35, 0.8)
    x, y = xy[:, 0], xy[:, 1]
    ax.plot(x, y, color=color, linewidth=width, marker="o", markersize=2.5, alpha=alpha)
    ax.scatter([x[-1]], [y[-1]], color=color, s=90 if strong else 45, zorder=3, alpha=alpha,
               edgecolors="black" if key in bold else "none", label=_label(name))  # fmt: skip


def _quadrants(ax: Any, values: np.ndarray) -> None:
    """Centre the axes on (100, 100), shade the four quadrants and name them."""
    reach = max(2.0, float(abs(values - 100.0).max()) * 1.15)
    lo, hi = 100.0 - reach, 100.0 + reach
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    boxes = {
        "Leading": (100.0, 100.0),
        "Weakening": (100.0, lo),
        "Lagging": (lo, lo),
        "Improving": (lo, 100.0),
    }
    for name, (x0, y0) in boxes.items():
        ax.add_patch(_rectangle(x0, y0, reach, _QUADRANT_COLOR[name]))
        tx = hi - reach * 0.05 if x0 == 100.0 else lo + reach * 0.05
        ty = y0 + reach * 0.95 if y0 == 100.0 else y0 + reach * 0.05
        ax.text(
            tx,
            ty,
            name,
            ha="right" if x0 == 100.0 else "left",
            va="top" if y0 == 100.0 else "bottom",
            fontsize=FONT,
            color="#616161",
        )
    ax.axhline(100.0, color="#9e9e9e", linewidth=0.8)
    ax.axvline(100.0, color="#9e9e9e", linewidth=0.8)


def _rectangle(x0: float, y0: float, size: float, color: str) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((x0, y0), size, size, facecolor=color, edgecolor="none", zorder=0)
