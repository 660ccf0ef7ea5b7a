"""Acceptance of the watchlists redesign on real prices (../shared/data/prices).

* With the default config the events of 2016-2025 are those of the one-pair version (a golden
  file written by it before the redesign), apart from the new ``pair`` field.
* With the example watchlist (seven baskets, ten pairs) every pair replays; the events of
  chips/platforms are the same with and without the extra baskets; and every pair's readings
  and events on data cut at t equal those of the full run (no look-ahead, pair by pair).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from bot.config import Config, load_config
from bot.core.signals import Signals, compute_signals, events, picture_at, state_at
from bot.data.csv_source import CsvSource

pytestmark = [pytest.mark.integration, pytest.mark.realdata]

HERE = Path(__file__).resolve().parents[1]
GOLDEN = HERE / "golden" / "replay-default-2016-2025.jsonl"
WATCHLIST = HERE / "data" / "watchlist.toml"
START, END = date(2016, 1, 1), date(2025, 12, 31)


def _signals(config: Config, prices: Path) -> Signals:
    panel = CsvSource(prices).fetch(config.tickers, config.data.history_start)
    return compute_signals(panel.upto(END), config.universe)


@pytest.fixture(scope="module")
def watchlist(real_prices: Path) -> tuple[Config, Signals]:
    config = load_config(WATCHLIST, environ={})
    return config, _signals(config, real_prices)


def _without_pair(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    return [{k: v for k, v in r.items() if k != "pair"} for r in rows]


def _golden() -> list[dict[str, object]]:
    return [json.loads(line) for line in GOLDEN.read_text().splitlines()]


def test_default_config_replays_the_one_pair_version_exactly(real_prices: Path) -> None:
    found = [e.to_json() for e in events(_signals(Config(), real_prices), START, END)]
    assert {e["pair"] for e in found} == {"chips/platforms"}
    assert _without_pair(found) == _golden()


def test_extra_baskets_leave_chips_platforms_unchanged(watchlist: tuple[Config, Signals]) -> None:
    _, signals = watchlist
    found = [e.to_json() for e in events(signals, START, END, pair="chips/platforms")]
    assert _without_pair(found) == _golden()


def test_every_pair_replays(watchlist: tuple[Config, Signals]) -> None:
    config, signals = watchlist
    found = events(signals, START, END)
    assert {e.pair for e in found} == {p.key for p in config.pairs}
    for e in found:
        a, b = e.pair.split("/")
        assert {e.from_basket, e.to_basket} == {a, b}
    assert [(e.date, e.pair) for e in found] == sorted(
        ((e.date, e.pair) for e in found),
        key=lambda x: (x[0], [p.key for p in config.pairs].index(x[1])),
    )


@pytest.mark.parametrize("day", ["2016-11-09", "2020-03-16", "2022-10-13", "2025-01-27"])
def test_no_look_ahead_pair_by_pair(
    watchlist: tuple[Config, Signals], real_prices: Path, day: str
) -> None:
    config, full = watchlist
    d = date.fromisoformat(day)
    panel = CsvSource(real_prices).fetch(config.tickers, config.data.history_start)
    cut = compute_signals(panel.upto(d), config.universe)
    ts = pd.Timestamp(d)
    for ps_cut, ps_full in zip(cut.pairs, full.pairs, strict=True):
        pd.testing.assert_series_equal(
            ps_cut.frame.iloc[-1], ps_full.frame.loc[ts], check_names=False
        )
        assert state_at(ps_cut, d) == state_at(ps_full, d)
    assert picture_at(cut, d) == picture_at(full, d)


def test_alert_text_is_the_one_pair_versions_with_the_pair_in_the_headline(
    real_prices: Path,
) -> None:
    from bot.render.text import render_alert

    config = Config()
    signals = _signals(config, real_prices)
    state = picture_at(signals, date(2025, 1, 27)).pair("chips/platforms")
    golden = (HERE / "golden" / "alert-default-2025-01-27.txt").read_text().splitlines()
    start = golden.index("[photo saved to rotabot-charts/ratio-2025-01-27.png]") + 1
    body = golden[start : golden.index("--- alert photo to chat 222 (HTML) ---")]
    text = render_alert(state, config).splitlines()
    assert text[0] == "🔴 <b>SEVERE · shock rotation · Chips/Platforms · 2025-01-27</b>"
    assert body[0] == "🔴 <b>SEVERE · shock rotation · 2025-01-27</b>"
    assert text[1:] == body[1:]
