"""Charts: valid phone-sized PNGs, safe with odd basket names, and no figures left behind."""

from __future__ import annotations

import gc
import io
import sys
from dataclasses import replace
from datetime import date

import pandas as pd
import pytest

from bot.config import Basket, Benchmark, Config, DetectorParams
from bot.core.panel import PricePanel
from bot.core.signals import Signals, compute_signals
from bot.errors import UsageError
from bot.render import charts
from tests.fake_telegram import BENCH, CHIPS, PLATFORMS, market_closes

CONFIG = Config(
    baskets=(
        Basket("chips", "$CHIPS <b>&</b> (shovels)", CHIPS),
        Basket("platforms", "Platforms", PLATFORMS),
    ),
    benchmark=Benchmark(BENCH, "Index $"),
    signals=DetectorParams(
        short_window=20, long_window=60, min_history=30, ma_short=10, ma_long=40, rrg_window=20
    ),
)


def _signals(closes: pd.DataFrame, config: Config = CONFIG) -> Signals:
    panel = PricePanel(*(closes.copy() for _ in range(6)))
    return compute_signals(panel, config.universe)


@pytest.fixture(scope="module")
def signals() -> Signals:
    return _signals(market_closes())


def _pixels(png: bytes) -> tuple[int, ...]:
    from matplotlib.image import imread

    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    shape: tuple[int, ...] = imread(io.BytesIO(png), format="png").shape
    return shape


def test_ratio_chart_is_a_phone_sized_png(signals: Signals) -> None:
    png = charts.ratio_chart(signals.first, end=signals.sessions[-1].date(), days=120)
    assert _pixels(png)[:2] == (450, 800)


def test_rrg_chart_is_a_phone_sized_png(signals: Signals) -> None:
    assert _pixels(charts.rrg_chart(signals, tail=6))[:2] == (450, 800)


def test_charts_draw_the_window_asked_for(signals: Signals) -> None:
    # A shorter window is a different picture of the same data (guards against ignoring days).
    end = signals.sessions[-1].date()
    assert charts.ratio_chart(signals.first, end, days=30) != charts.ratio_chart(
        signals.first, end, days=120
    )


def test_charts_leave_no_figure_alive(signals: Signals) -> None:
    from matplotlib.figure import Figure

    gc.collect()
    before = sum(isinstance(o, Figure) for o in gc.get_objects())
    for _ in range(3):
        charts.ratio_chart(signals.first)
        charts.rrg_chart(signals)
    gc.collect()
    assert sum(isinstance(o, Figure) for o in gc.get_objects()) == before
    if "matplotlib.pyplot" in sys.modules:  # someone else imported it: still none registered
        assert sys.modules["matplotlib.pyplot"].get_fignums() == []


def test_no_data_before_the_window_is_a_usage_error(signals: Signals) -> None:
    with pytest.raises(UsageError, match="no sessions"):
        charts.ratio_chart(signals.first, end=date(2000, 1, 1))


def test_rrg_without_enough_history_says_so() -> None:
    short = _signals(market_closes(sessions=15, shock_last=False))
    with pytest.raises(UsageError, match="not enough history"):
        charts.rrg_chart(short)


def test_basket_names_with_dollars_do_not_become_mathtext(signals: Signals) -> None:
    odd = replace(CONFIG, baskets=(replace(CONFIG.baskets[0], name=r"Chips $\foo$ (cheap)"),
                                   CONFIG.baskets[1]))  # fmt: skip
    png = charts.ratio_chart(_signals(market_closes(), odd).first, days=60)
    assert _pixels(png)[:2] == (450, 800)


def test_rrg_draws_every_basket_and_honours_the_tail_and_highlight() -> None:
    three = replace(
        CONFIG,
        baskets=(*CONFIG.baskets, Basket("mixed", "Mixed", (CHIPS[0], PLATFORMS[0]))),
    )
    signals = _signals(market_closes(), three)
    assert set(signals.baskets.columns) >= {
        f"quadrant_{k}" for k in ("chips", "platforms", "mixed")
    }
    short = charts.rrg_chart(signals, tail=5)
    long = charts.rrg_chart(signals, tail=40)
    assert _pixels(short)[:2] == _pixels(long)[:2] == (450, 800)
    assert short != long  # the tail is drawn as long as asked
    bold = charts.rrg_chart(signals, tail=5, highlight=three.pairs[0])
    assert bold != short


PHONE_WIDTH = 400  # px: how wide a phone shows a chart
MIN_LABEL_PX = 8.0  # the smallest text height legible on it


def _texts(fig: object) -> list[object]:
    from matplotlib.text import Text

    fig.canvas.draw()  # type: ignore[attr-defined]
    found = fig.findobj(Text)  # type: ignore[attr-defined]
    return [t for t in found if t.get_visible() and t.get_text().strip()]


@pytest.mark.parametrize("which", ["ratio", "rrg"])
def test_every_label_is_legible_on_a_phone(signals: Signals, which: str) -> None:
    end = signals.sessions[-1].date()
    fig = (
        charts.ratio_figure(signals.first, end=end, days=250)
        if which == "ratio"
        else charts.rrg_figure(signals, end=end, tail=10)
    )
    width = fig.get_figwidth() * fig.dpi
    scale = PHONE_WIDTH / width  # the downscaled copy a phone shows
    texts = _texts(fig)
    assert len(texts) > 10  # title, ticks, legend (and quadrant names) all checked
    box = fig.bbox
    for text in texts:
        px = text.get_fontsize() * fig.dpi / 72 * scale  # type: ignore[attr-defined]
        assert px >= MIN_LABEL_PX, f"{text.get_text()!r} is {px:.1f} px at {PHONE_WIDTH} px"  # type: ignore[attr-defined]
        extent = text.get_window_extent()  # type: ignore[attr-defined]
        assert box.x0 - 1 <= extent.x0 and extent.x1 <= box.x1 + 1, text.get_text()  # type: ignore[attr-defined]
    png = charts.ratio_chart(signals.first, end=end) if which == "ratio" else b""
    if png:
        from PIL import Image

        small = Image.open(io.BytesIO(png)).resize((PHONE_WIDTH, 225))
        assert small.size == (PHONE_WIDTH, 225)


def test_the_alert_session_is_marked_and_labelled_on_the_ratio_chart(signals: Signals) -> None:
    end = signals.sessions[-1].date()
    fig = charts.ratio_figure(signals.first, end=end, days=120)
    (ax,) = fig.axes
    labels = [t.get_text() for t in _texts(fig)]  # type: ignore[attr-defined]
    assert f"{end:%Y-%m-%d}" in labels  # the alert's own date, as a label of its own
    dashed = [line for line in ax.lines if line.get_linestyle() == "--"]
    assert len(dashed) == 1
    assert pd.Timestamp(dashed[0].get_xdata()[0]) == pd.Timestamp(end)
    quiet = charts.ratio_figure(signals.first, end=signals.sessions[-5].date(), days=120)
    assert not [line for line in quiet.axes[0].lines if line.get_linestyle() == "--"]


def test_a_ratio_that_more_than_doubles_goes_on_a_log_scale(signals: Signals) -> None:
    end = signals.sessions[-1].date()
    assert charts.ratio_figure(signals.first, end=end).axes[0].get_yscale() == "linear"
    closes = market_closes()
    growth = pd.Series(range(len(closes)), index=closes.index, dtype=float)
    for ticker in CHIPS:
        closes[ticker] = closes[ticker] * (1.0 + 3.0 * growth / growth.iloc[-1])
    steep = _signals(closes)
    ax = charts.ratio_figure(steep.first, end=end).axes[0]
    assert ax.get_yscale() == "log"
    assert ax.get_ylabel() == "ratio (log scale)"
