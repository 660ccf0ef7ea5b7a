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
from bot.core.models import RotationEvent
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


NEW_KEYS = ("pair", "reverses", "track_record")


def _core(row: dict[str, object]) -> dict[str, object]:
    """An event as the one-pair version wrote it: without the fields added since."""
    out = {k: v for k, v in row.items() if k not in NEW_KEYS}
    evidence = dict(out["evidence"])  # type: ignore[call-overload]
    evidence.pop("history_from", None)
    out["evidence"] = evidence
    if row.get("reverses"):  # a reversal says so at the end of its summary
        out["summary"] = str(out["summary"]).rsplit("; reverses the ", 1)[0]
    return out


def test_default_shocks_are_the_one_pair_versions(real_prices: Path) -> None:
    """The redesign kept every shock of 2016-2025; the regime rules were changed on purpose
    (see test_regime_turns_persist), so regime events are compared there, not here."""
    found = [e.to_json() for e in events(_signals(Config(), real_prices), START, END)]
    assert {e["pair"] for e in found} == {"chips/platforms"}
    shocks = [_core(e) for e in found if e["kind"] == "shock"]
    assert shocks == [e for e in _golden() if e["kind"] == "shock"]
    assert sum(1 for e in found if e["reverses"]) >= 1


def test_extra_baskets_leave_chips_platforms_unchanged(
    watchlist: tuple[Config, Signals], real_prices: Path
) -> None:
    _, signals = watchlist
    alone = [e.to_json() for e in events(_signals(Config(), real_prices), START, END)]
    found = [e.to_json() for e in events(signals, START, END, pair="chips/platforms")]
    assert found == alone


def _whipsaw(found: list[RotationEvent], sessions: pd.DatetimeIndex) -> float:
    """Share of regime events followed within 20 sessions by an opposite one on the pair."""
    at = {ts.date(): i for i, ts in enumerate(sessions)}
    regime = [e for e in found if e.kind == "regime"]
    flipped = sum(
        any(
            f.pair == e.pair and f.to_basket == e.from_basket and 0 < at[f.date] - at[e.date] <= 20
            for f in regime[i + 1 :]
        )
        for i, e in enumerate(regime)
    )
    return flipped / len(regime)


def test_regime_turns_persist(watchlist: tuple[Config, Signals], real_prices: Path) -> None:
    """Under 10% of regime events are undone within 20 sessions (the one-pair version: 24%),
    on the default pair and across the ten pairs of the watchlist."""
    one = _signals(Config(), real_prices)
    assert _whipsaw(events(one, START, END), one.sessions) < 0.10
    _, many = watchlist
    assert _whipsaw(events(many, START, END), many.sessions) < 0.10
    old = [e for e in _golden() if e["kind"] == "regime"]
    assert len(old) == 50  # the one-pair version's regime events, 12 of them undone in 20


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


def test_alert_text_is_the_one_pair_versions_plus_what_it_is_worth(real_prices: Path) -> None:
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
    assert text[4].startswith("<i>Track record: ")  # the one line added after the score
    lead = "· Platforms lead"
    kept = [line.replace(lead + " on the 200-day trend", lead) for line in text[1:4] + text[5:]]
    # The day's moves table is gone from shock alerts: the summary line already gives them.
    table = body.index("<pre>Session 2025-01-27   Move")
    assert kept == body[1 : table - 1] + body[table + 4 :]
