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
