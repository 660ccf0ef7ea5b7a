"""The daily job on prices refused at the door: one notice per chat naming ticker and session,
then the session skipped (no event, no alert), or carried on without the ticker ("drop")."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.config import Config
from bot.core.panel import PricePanel
from bot.daemon.job import Outcome
from bot.data.checks import BadPrices, Refusal
from bot.errors import DataError
from bot.render.html import esc
from bot.store.db import connect
from bot.store.state import StateStore
from tests.fakes import RecordingNotifier
from tests.unit.test_daemon import PANEL, ROTATION_DAY, Loader, make_config, make_daemon

RUN_AT = datetime(2026, 11, 12, 21, 30, tzinfo=UTC)
SPLIT = "adj_close moved x1000 in one session (51.2 -> 51200) and the other tickers did not"


class RefusingLoader(Loader):
    """Refuses the rotation day's prices (once the refresh set ``ticker`` aside)."""

    def __init__(self, error: DataError) -> None:
        super().__init__()
        self.error = error

    def __call__(self, session: date, now: datetime) -> PricePanel:
        panel = super().__call__(session, now)
        if session == ROTATION_DAY:
            raise self.error
        return panel


def refusal(ticker: str) -> BadPrices:
    return BadPrices([Refusal(ticker, ROTATION_DAY, SPLIT)], PANEL.upto(ROTATION_DAY))


def run_day(config: Config, error: DataError) -> tuple[Outcome, RecordingNotifier]:
    notifier = RecordingNotifier()
    daemon = make_daemon(config, RefusingLoader(error), notifier)
    daemon.start(RUN_AT.replace(hour=12))
    asyncio.run(daemon.tick(RUN_AT))
    outcome = [o for s, o in daemon.evaluations if s == ROTATION_DAY][-1]
    return outcome, notifier


def notices(notifier: RecordingNotifier) -> list[tuple[int, str, str]]:
    return [(c, k, text) for c, k, kind, text in notifier.sent if kind == "notice"]


def on(config: Config, policy: str) -> Config:
    return replace(config, data=replace(config.data, on_bad_ticker=policy))


@pytest.mark.parametrize(
    "error",
    [refusal("P2"), DataError("/data/P2.csv:41: 2026-11-14 is a Saturday, not a session")],
)
def test_refused_prices_skip_the_session_with_one_notice_per_chat(
    tmp_path: Path, error: DataError
) -> None:
    config = make_config(tmp_path)
    outcome, notifier = run_day(config, error)
    assert outcome == Outcome.INCOMPLETE
    sent = notices(notifier)
    assert [(c, k) for c, k, _ in sent] == [(c, f"{ROTATION_DAY} prices refused") for c in (11, 22)]
    line = "P2 2026-11-12: " + SPLIT if isinstance(error, BadPrices) else str(error)
    assert all(esc(line) in text and "no signal for this session" in text for _, _, text in sent)
    assert not any("shock" in k for k in notifier.keys())  # no alert from the bad data
    store = StateStore(connect(config.state.path))
    assert store.events_of(ROTATION_DAY) == [] and store.is_final(ROTATION_DAY)


def test_drop_carries_on_without_the_refused_ticker(tmp_path: Path) -> None:
    config = on(make_config(tmp_path), "drop")
    outcome, notifier = run_day(config, refusal("P2"))
    assert outcome == Outcome.DONE
    sent = notices(notifier)
    assert len(sent) == 2 and all("carrying on without them" in t for _, _, t in sent)
    shocks = [k for k in notifier.keys(11) if "shock" in k]
    assert shocks == [f"{ROTATION_DAY} chips/platforms shock chips->platforms"]
    events = StateStore(connect(config.state.path)).events_of(ROTATION_DAY)
    assert events and all("P2" not in str(e) for e in events)


@pytest.mark.parametrize(
    "error", [refusal("BENCH"), DataError("/data/P2.csv:9: 6 field(s) where the header has 7")]
)
def test_drop_still_skips_when_the_benchmark_or_a_file_is_refused(
    tmp_path: Path, error: DataError
) -> None:
    config = on(make_config(tmp_path), "drop")
    outcome, notifier = run_day(config, error)
    assert outcome == Outcome.INCOMPLETE
    assert all("no signal for this session" in t for _, _, t in notices(notifier))
    assert not any("shock" in k for k in notifier.keys())
