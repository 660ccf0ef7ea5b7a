"""The session so far: each basket's and the benchmark's return from the previous close, bar
by bar, and the small PNG a provisional in-session warning carries.

``session_paths`` is pure pandas (no look-ahead: nothing after ``asof`` is read);
``session_chart`` draws it with matplotlib's object API on an Agg canvas, like
``bot.render.charts``, so it is safe to call from a worker thread and leaves no figure behind.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from bot.core.baskets import basket_return
from bot.render.charts import _PALETTE, DPI, FONT, TITLE_FONT, _label, _png

SIZE = (6.0, 3.2)  # inches at DPI: 600 x 320 px, small beside the warning's text
SMALL_FONT = FONT - 2.0  # tick and end labels: the chart is smaller than the daily ones
ZERO_COLOR = "#616161"
# End labels at least this fraction of the drawn range (zero line included) apart: about a
# line of text at SMALL_FONT on a plot area this high, so none overlap.
LABEL_GAP = 0.07


def session_paths(
    bars: Mapping[str, pd.DataFrame],
    previous_closes: Mapping[str, float],
    baskets: Sequence[tuple[str, Mapping[str, float]]],
    benchmark: tuple[str, str] | None,
    asof: datetime,
    *,
    zone: ZoneInfo | None = None,
) -> pd.DataFrame:
    """Return each basket's and the benchmark's return from the previous close at every bar.

    Args:
        bars: ticker -> frame indexed by aware UTC bar start with a float ``close`` column
            (``bot.data.intraday.read_bars``).
        previous_closes: ticker -> the previous session's close; a ticker without one is not a
            member yet and is left out.
        baskets: ``(label, {ticker: weight})``.
        benchmark: ``(label, ticker)``, or None for none.
        asof: aware; no bar after it is read.
        zone: the exchange's time zone; when given, only bars of ``asof``'s session (its date
            there, as ``moves_at`` reads it) are used, so a file holding several days cannot
            carry yesterday's last bar into today.

    Returns:
        A frame on the union of the members' bar times to ``asof`` (UTC index), one column per
        label. Each member's last close is carried forward; a member with no bar yet is left
        out of its basket's weighted mean and the weights of those present renormalised (the
        rule ``bot.core.baskets`` applies at the close). NaN where nothing is known yet.
    """
    wanted = [t for _, weights in baskets for t in weights]
    wanted += [benchmark[1]] if benchmark else []
    moves = _member_moves(bars, previous_closes, dict.fromkeys(wanted), asof, zone)
    columns = {label: basket_return(moves, weights) for label, weights in baskets}
    if benchmark:
        columns[benchmark[0]] = moves[benchmark[1]]
    return pd.DataFrame(columns, index=moves.index, columns=list(columns))


def _member_moves(
    bars: Mapping[str, pd.DataFrame],
    previous_closes: Mapping[str, float],
    tickers: Mapping[str, None],
    asof: datetime,
    zone: ZoneInfo | None,
) -> pd.DataFrame:
    """Each ticker's return from its previous close, forward-filled (NaN before its first bar
    and throughout for a ticker without a previous close)."""
    moment = pd.Timestamp(asof).tz_convert("UTC")
    closes: dict[str, pd.Series] = {}
    for ticker in tickers:
        frame = bars.get(ticker)
        if frame is None or ticker not in previous_closes:
            continue
        close = frame["close"].loc[:moment]
        if zone is not None and len(close):
            local = pd.DatetimeIndex(close.index).tz_convert(zone)
            close = close[local.date == moment.tz_convert(zone).date()]
        # A bar sent twice (a provider's correction) counts once, as last sent.
        close = close[~close.index.duplicated(keep="last")]
        closes[ticker] = close / previous_closes[ticker] - 1.0
    index = pd.DatetimeIndex([], tz="UTC", name="datetime")
    for close in closes.values():
        index = index.union(pd.DatetimeIndex(close.index).tz_convert("UTC"))
    moves = pd.DataFrame(index=index, columns=list(tickers), dtype="float64")
    for ticker, close in closes.items():
        moves[ticker] = close.set_axis(pd.DatetimeIndex(close.index).tz_convert("UTC"))
    return moves.ffill()


def session_chart(paths: pd.DataFrame, title: str, zone: ZoneInfo) -> bytes:
    """Return a PNG of ``session_paths`` in percent, times in the exchange's ``zone``.

    Baskets are drawn in the palette of the other charts, the benchmark (the last column when
    there is one, as ``session_paths`` orders them) too; each line's last value is written at
    its right end. A line with no value yet is left out.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=SIZE, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ends: list[tuple[float, float, str]] = []
    for i, label in enumerate(paths.columns):
        line = paths[label].dropna() * 100.0
        if line.empty:
            continue
        color = _PALETTE[i % len(_PALETTE)]
        # One bar is one point: without a marker it would not be drawn at all.
        marker = "o" if len(line) == 1 else None
        ax.plot(line.index, line.to_numpy(), color=color, linewidth=1.6, marker=marker,
                label=_label(str(label)))  # fmt: skip
        ends.append((float(line.iloc[-1]), _num(line.index[-1]), color))
    ax.axhline(0.0, color=ZERO_COLOR, linewidth=0.8, zorder=1)
    drawn = paths.to_numpy(dtype="float64").ravel() * 100.0
    drawn = drawn[np.isfinite(drawn)]
    height = float(drawn.max(initial=0.0) - drawn.min(initial=0.0))
    _end_labels(ax, ends, LABEL_GAP * max(height, 0.1))
    _time_axis(ax, paths.index, zone)
    ax.set_title(_label(title), fontsize=TITLE_FONT)
    ax.set_ylabel("% from previous close", fontsize=SMALL_FONT)
    ax.grid(True, alpha=0.3)
    ax.tick_params(labelsize=SMALL_FONT)
    if ends:
        ax.legend(loc="best", fontsize=SMALL_FONT, framealpha=0.8)
    return _png(fig)


def _num(stamp: Any) -> float:
    from matplotlib.dates import date2num

    return float(date2num(pd.Timestamp(stamp).to_pydatetime()))  # type: ignore[no-untyped-call]


def _end_labels(ax: Any, ends: list[tuple[float, float, str]], gap: float) -> None:
    """Write each line's last value just right of its end, nudged apart when they crowd."""
    if not ends:
        return
    values = [v for v, _, _ in ends]
    placed = _spread(values, gap)
    for (value, x, color), y in zip(ends, placed, strict=True):
        # Anchored at the nudged height, a few points right so the sign clears the line end.
        ax.annotate(f"{value:+.2f}%", xy=(x, y), xytext=(6, 0), textcoords="offset points",
                    fontsize=SMALL_FONT, color=color, ha="left", va="center",
                    annotation_clip=False)  # fmt: skip


def _spread(values: list[float], gap: float) -> list[float]:
    """Return label heights near ``values``, each at least ``gap`` from the next, same order."""
    order = np.argsort(values)
    out = np.array(values, dtype="float64")
    for prev, cur in pairwise(order):
        out[cur] = max(out[cur], out[prev] + gap)
    # Centre the nudged block on the true values so no label drifts far one way.
    out += float(np.mean(values) - np.mean(out))
    return [float(y) for y in out]


def _time_axis(ax: Any, index: pd.Index, zone: ZoneInfo) -> None:
    """HH:MM in the exchange's time; room on the right for the end labels."""
    from matplotlib.dates import AutoDateLocator, DateFormatter

    locator = AutoDateLocator(tz=zone, maxticks=7)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(DateFormatter("%H:%M", tz=zone))  # type: ignore[no-untyped-call]
    if not len(index):
        return
    first, last = _num(index[0]), _num(index[-1])
    # At least an hour wide (one bar alone would otherwise span days); 18 % extra on the right.
    span = max(last - first, 1.0 / 24.0)
    ax.set_xlim(first - span * 0.02, first + span * 1.18)
