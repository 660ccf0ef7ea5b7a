"""The daemon's schedule, exactly-once rules, catch-up and failure handling, on a fake clock."""

from __future__ import annotations

import asyncio
from contextlib import closing
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from bot.config import Config, StateConfig, TelegramConfig, parse_config
from bot.config.model import ChannelConfig
from bot.core.panel import PricePanel
from bot.daemon.job import Outcome
from bot.daemon.scheduler import Daemon
from bot.data.calendar import sessions as nyse_sessions
from bot.data.runtimes import Runtimes
from bot.errors import DataUnavailable
from bot.notify.channels import Fanout
from bot.notify.status import collect_status, render_status
from bot.store.db import connect
from bot.store.state import StateStore
from tests.fakes import RecordingNotifier
from tests.synthetic import panel_from_returns, small_config

NY = ZoneInfo("America/New_York")
TICKERS = ["C1", "C2", "C3", "C4", "P1", "P2", "P3", "BENCH"]
ROTATION_DAY = date(2026, 11, 12)


def world() -> PricePanel:
    """Synthetic bars on every NYSE session of 2025-2026, with one rotation on ROTATION_DAY."""
    idx = nyse_sessions("XNYS", date(2025, 1, 2), date(2026, 12, 31))
    rng = np.random.default_rng(9)
    common = rng.normal(0, 0.007, len(idx))
    returns = pd.DataFrame({t: common + rng.normal(0, 0.007, len(idx)) for t in TICKERS}, index=idx)
    returns.loc[pd.Timestamp(ROTATION_DAY)] = [-0.06, -0.05, -0.05, -0.04, 0.05, 0.03, 0.02, 0.0]
    return panel_from_returns(returns)


PANEL = world()


def make_config(tmp_path: Path, **schedule: object) -> Config:
    base = small_config(min_history=60, short_window=40, long_window=250)
    return replace(
        base,
        data=replace(base.data, history_start=date(2025, 1, 1)),
        state=StateConfig(tmp_path / "state.db"),
        telegram=TelegramConfig(chat_ids=(11, 22), charts=False),
        schedule=replace(base.schedule, **schedule),  # type: ignore[arg-type]
    )


class Loader:
    """Prices as known at ``now`` (bars up to that local date), recording every call."""

    def __init__(self, panel: PricePanel = PANEL) -> None:
        self.panel = panel
        self.calls: list[tuple[date, datetime]] = []
        self.fail: Exception | None = None

    def __call__(self, session: date, now: datetime) -> PricePanel:
        self.calls.append((session, now))
        if self.fail is not None:
            raise self.fail
        return self.panel.upto(now.astimezone(NY).date())


def make_daemon(config: Config, loader: Loader, notifier: RecordingNotifier) -> Daemon:
    return Daemon(config, lambda: connect(config.state.path), loader, lambda conn: notifier)


def run_clock(daemon: Daemon, start: datetime, end: datetime) -> list[datetime]:
    """Start the daemon at ``start`` and sleep from wake-up to wake-up until ``end``."""
    wakes = []
    daemon.start(start)
    now = start
    while now < end:
        now = asyncio.run(daemon.tick(now))
        wakes.append(now)
    return wakes


def test_a_month_with_a_holiday_an_early_close_and_a_dst_change(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    loader, notifier = Loader(), RecordingNotifier()
    daemon = make_daemon(config, loader, notifier)
    run_clock(daemon, datetime(2026, 10, 29, 12, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
    expected = [s.date() for s in nyse_sessions("XNYS", date(2026, 10, 29), date(2026, 11, 30))]
    assert date(2026, 11, 26) not in expected  # Thanksgiving
    assert [s for s, _ in daemon.evaluations] == expected  # one evaluation per session
    assert all(outcome == Outcome.DONE for _, outcome in daemon.evaluations)
    when = dict(loader.calls)
    assert when[date(2026, 10, 30)] == datetime(2026, 10, 30, 20, 30, tzinfo=UTC)  # 16:30 EDT
    assert when[date(2026, 11, 2)] == datetime(2026, 11, 2, 21, 30, tzinfo=UTC)  # 16:30 EST
    # The day after Thanksgiving closes at 13:00; the job still runs at schedule.time.
    assert when[date(2026, 11, 27)] == datetime(2026, 11, 27, 21, 30, tzinfo=UTC)  # 16:30 EST
    # The rotation day is alerted once to each chat; no message reaches a chat twice, and
    # only sessions with events send anything (quiet days are off).
    sent = [(c, k) for c, k, _, _ in notifier.sent]
    assert (11, f"{ROTATION_DAY} chips/platforms shock chips->platforms") in sent
    assert (22, f"{ROTATION_DAY} chips/platforms shock chips->platforms") in sent
    assert len(sent) == len(set(sent)) and len(notifier.keys(11)) == len(notifier.keys(22))
    with_events = {s for s, _ in daemon.evaluations if daemon.store.events_of(s)}
    assert {date.fromisoformat(k[:10]) for k in notifier.keys(11)} == with_events


def test_reruns_and_restarts_never_alert_twice(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    notifier = RecordingNotifier()
    run_at = datetime(2026, 11, 12, 21, 30, tzinfo=UTC)
    first = make_daemon(config, Loader(), notifier)
    first.start(run_at - timedelta(hours=2))
    asyncio.run(first.tick(run_at))
    asyncio.run(first.tick(run_at))  # a second trigger
    second = make_daemon(config, Loader(), notifier)  # a restart on the same state file
    second.start(run_at + timedelta(minutes=5))
    asyncio.run(second.tick(run_at + timedelta(minutes=5)))
    shock = [k for k in notifier.keys() if "shock" in k]
    assert len(shock) == 2 and set(notifier.keys(11)) == set(notifier.keys(22))
    assert [s for s, _ in first.evaluations + second.evaluations] == [ROTATION_DAY]


def test_data_incomplete_until_the_deadline(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    day = pd.Timestamp("2026-11-12")
    adj = PANEL.adj_close.copy()
    adj.loc[day, "P2"] = np.nan  # P2's bar never arrives
    panel = PricePanel(PANEL.open, PANEL.high, PANEL.low, PANEL.close, adj, PANEL.volume)
    loader, notifier = Loader(panel), RecordingNotifier()
    daemon = make_daemon(config, loader, notifier)
    run_clock(
        daemon, datetime(2026, 11, 12, 12, tzinfo=UTC), datetime(2026, 11, 13, 12, tzinfo=UTC)
    )
    tries = [t for s, t in loader.calls if s == day.date()]
    # 16:30 to 20:00 every 15 minutes, then one more at the deadline: 15 attempts.
    assert len(tries) == 15 and tries[-1] == datetime(2026, 11, 13, 1, 0, tzinfo=UTC)
    assert [o for s, o in daemon.evaluations if s == day.date()][-1] == Outcome.INCOMPLETE
    notices = [(c, k) for c, k, kind, _ in notifier.sent if kind == "notice"]
    assert notices == [(11, "2026-11-12 data incomplete"), (22, "2026-11-12 data incomplete")]
    assert not any("shock" in k for k in notifier.keys())  # no signal on incomplete data
    assert StateStore(connect(config.state.path)).events_of(day.date()) == []


@pytest.mark.parametrize(
    ("policy", "evaluated"),
    [
        ("latest", [date(2026, 11, 23)]),
        ("all", [date(2026, 11, 19), date(2026, 11, 20), date(2026, 11, 23)]),
        ("none", []),
    ],
)
def test_catch_up_after_three_days_down(tmp_path: Path, policy: str, evaluated: list[date]) -> None:
    config = make_config(tmp_path, catch_up=policy)
    notifier = RecordingNotifier()
    before = make_daemon(config, Loader(), notifier)
    run_clock(
        before, datetime(2026, 11, 16, 12, tzinfo=UTC), datetime(2026, 11, 18, 23, tzinfo=UTC)
    )
    assert before.store.last_final() == date(2026, 11, 18)
    # Down from the 19th; started again on the 24th before that day's run.
    after = make_daemon(config, Loader(), notifier)
    run_clock(after, datetime(2026, 11, 24, 12, tzinfo=UTC), datetime(2026, 11, 24, 13, tzinfo=UTC))
    assert [s for s, _ in after.evaluations] == evaluated
    skipped = {date(2026, 11, 19), date(2026, 11, 20), date(2026, 11, 23)} - set(evaluated)
    for s in skipped:
        run = after.store.run(s)
        assert run is not None and run.status == "skipped"


def test_failures_are_counted_and_notified_once(tmp_path: Path) -> None:
    config = make_config(tmp_path, max_failures=3)
    loader, notifier = Loader(), RecordingNotifier()
    loader.fail = RuntimeError("disk on fire")
    daemon = make_daemon(config, loader, notifier)
    start = datetime(2026, 11, 12, 12, tzinfo=UTC)
    daemon.start(start)
    now = datetime(2026, 11, 12, 21, 30, tzinfo=UTC)
    for _ in range(6):
        now = asyncio.run(daemon.tick(now))  # never raises: the daemon keeps going
    notices = [(c, t) for c, _, kind, t in notifier.sent if kind == "notice"]
    assert [c for c, _ in notices] == [11, 22]
    assert "failed 3 times in a row" in notices[0][1] and "disk on fire" in notices[0][1]
    loader.fail = None
    asyncio.run(daemon.tick(now))
    run = daemon.store.run(date(2026, 11, 12))
    assert run is not None and run.status == "done" and run.attempts == 7


def test_interrupted_send_is_not_repeated(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    notifier = RecordingNotifier(fail_next=["unconfirmed"])
    daemon = make_daemon(config, Loader(), notifier)
    run_at = datetime(2026, 11, 12, 21, 30, tzinfo=UTC)
    daemon.start(run_at - timedelta(hours=1))
    asyncio.run(daemon.tick(run_at))
    counts = daemon.store.counts()
    assert counts == {"unconfirmed": 1, "sent": 1}
    # A row left in "sending" (the process died mid-request) is not sent again on start-up.
    store = daemon.store
    store.enqueue("manual", date(2026, 11, 12), "notice", [{"type": "text", "text": "x"}], [11])
    (row,) = store.pending()
    store.sending(row.id)
    again = make_daemon(config, Loader(), notifier)
    again.start(run_at + timedelta(minutes=1))
    asyncio.run(again.tick(run_at + timedelta(minutes=1)))
    assert "manual" not in notifier.keys()
    assert again.store.counts()["unconfirmed"] == 2


def test_undelivered_sends_are_retried(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    notifier = RecordingNotifier(fail_next=["undelivered"])
    daemon = make_daemon(config, Loader(), notifier)
    run_at = datetime(2026, 11, 12, 21, 30, tzinfo=UTC)
    daemon.start(run_at - timedelta(hours=1))
    asyncio.run(daemon.tick(run_at))
    assert daemon.store.counts() == {"pending": 1, "sent": 1}
    asyncio.run(daemon.tick(run_at + timedelta(minutes=15)))
    assert daemon.store.counts() == {"sent": 2}
    assert len(notifier.keys(11)) == 1 and len(notifier.keys(22)) == 1


def test_muted_chats_miss_alerts(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    notifier = RecordingNotifier()
    daemon = Daemon(
        config,
        lambda: connect(config.state.path),
        Loader(),
        lambda conn: notifier,
        muted=lambda conn, chat, now: chat == 22,
    )
    run_at = datetime(2026, 11, 12, 21, 30, tzinfo=UTC)
    daemon.start(run_at - timedelta(hours=1))
    asyncio.run(daemon.tick(run_at))
    assert notifier.keys(22) == [] and len(notifier.keys(11)) == 1


def test_rehearsal_resumes_and_sends_nothing_twice(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    notifier = RecordingNotifier()
    daemon = make_daemon(config, Loader(), notifier)
    count = asyncio.run(daemon.rehearse(date(2026, 11, 2), date(2026, 11, 13)))
    assert count == 10 and len(daemon.evaluations) == 10
    again = make_daemon(config, Loader(), notifier)
    asyncio.run(again.rehearse(date(2026, 11, 2), date(2026, 11, 20)))
    assert [s for s, _ in again.evaluations] == [date(2026, 11, d) for d in (16, 17, 18, 19, 20)]
    assert len([k for k in notifier.keys(11) if "shock" in k]) == 1


def test_a_session_caught_up_after_its_deadline_gets_a_few_tries(tmp_path: Path) -> None:
    config = make_config(tmp_path, catch_up="all")
    notifier = RecordingNotifier()
    flaky = Loader()
    fails = iter([True, False])

    def load(session: date, now: datetime) -> PricePanel:
        if next(fails, False):
            raise DataUnavailable("Yahoo 429", missing=["C1"])
        return flaky(session, now)

    daemon = Daemon(config, lambda: connect(config.state.path), load, lambda conn: notifier)
    daemon.start(datetime(2026, 11, 11, 23, tzinfo=UTC))  # first start, then down at once
    # Down past the 11th's and the 12th's deadlines; back on the 13th before that day's run,
    # and the first fetch fails: the missed session is tried again instead of given up on.
    back = datetime(2026, 11, 13, 14, tzinfo=UTC)
    wake = asyncio.run(daemon.tick(back))
    assert wake == back + timedelta(minutes=15), daemon.evaluations
    asyncio.run(daemon.tick(wake))
    # The 11th (missed, first fetch failed) waits and is tried again; the 12th goes through.
    assert daemon.evaluations == [
        (date(2026, 11, 11), Outcome.WAITING),
        (date(2026, 11, 12), Outcome.DONE),
        (date(2026, 11, 11), Outcome.DONE),
    ]


# --- the schedule in its own time zone ------------------------------------------------------


def test_the_default_schedule_runs_at_1630_new_york_in_every_season() -> None:
    runtimes = Runtimes(Config().schedule)
    assert runtimes.run_at(date(2026, 7, 1)) == datetime(2026, 7, 1, 20, 30, tzinfo=UTC)  # EDT
    assert runtimes.run_at(date(2026, 12, 1)) == datetime(2026, 12, 1, 21, 30, tzinfo=UTC)  # EST
    early = date(2026, 11, 27)  # closes at 13:00: the job still runs at 16:30
    assert runtimes.run_at(early) == datetime(2026, 11, 27, 21, 30, tzinfo=UTC)
    assert runtimes.deadline(early) == datetime(2026, 11, 28, 1, 0, tzinfo=UTC)  # 20:00 EST


def kolkata() -> Config:
    return parse_config(
        {"schedule": {"timezone": "Asia/Kolkata", "time": "02:30", "deadline": "06:00"}}
    )


def test_a_schedule_in_kolkata_runs_at_0230_kolkata_after_the_new_york_close() -> None:
    runtimes = Runtimes(kolkata().schedule)
    ist = ZoneInfo("Asia/Kolkata")
    for session in (date(2026, 7, 1), date(2026, 12, 1), date(2026, 11, 27)):  # EDT, EST, early
        run = runtimes.run_at(session)
        close = nyse_close(session)
        assert run >= close
        assert run.astimezone(ist).replace(tzinfo=None) == datetime.combine(
            session + timedelta(days=1), time(2, 30)
        )
        assert runtimes.deadline(session) == run + timedelta(hours=3, minutes=30)
    # 02:30 IST is 21:00 UTC: an hour after a summer close, right at a winter one.
    assert runtimes.run_at(date(2026, 12, 1)) == datetime(2026, 12, 1, 21, 0, tzinfo=UTC)


def nyse_close(session: date) -> datetime:
    from bot.data.calendar import session_close

    return session_close("XNYS", session)


def test_the_daemon_in_kolkata_evaluates_each_session_at_its_kolkata_run_time(
    tmp_path: Path,
) -> None:
    config = replace(make_config(tmp_path), schedule=kolkata().schedule)
    loader, notifier = Loader(), RecordingNotifier()
    daemon = make_daemon(config, loader, notifier)
    run_clock(daemon, datetime(2026, 11, 9, 12, tzinfo=UTC), datetime(2026, 11, 14, tzinfo=UTC))
    assert [s for s, _ in daemon.evaluations] == [date(2026, 11, d) for d in (9, 10, 11, 12, 13)]
    when = dict(loader.calls)
    assert when[date(2026, 11, 12)] == datetime(2026, 11, 12, 21, 0, tzinfo=UTC)  # 02:30 IST
    assert len([k for k in notifier.keys(11) if "shock" in k]) == 1


def test_status_shows_the_next_run_in_the_schedule_zone_and_in_utc(tmp_path: Path) -> None:
    config = replace(kolkata(), state=StateConfig(tmp_path / "state.db"))
    with closing(connect(config.state.path)) as conn:
        text = render_status(
            collect_status(config, conn, datetime(2026, 11, 12, 12, tzinfo=UTC)), config
        )
    assert (
        "next run: session 2026-11-12 at 2026-11-13 02:30 Asia/Kolkata (2026-11-12 21:00 UTC)"
        in text
    )


def channel_config(tmp_path: Path, telegram_digest: str = "off") -> Config:
    config = make_config(tmp_path)
    return replace(
        config,
        telegram=replace(config.telegram, digest=telegram_digest),
        channels=(
            ChannelConfig("ops", "OPS_URL", min_severity="info", digest="daily"),
            ChannelConfig("weekly", "WEEKLY_URL", min_severity="severe", digest="weekly"),
        ),
    )


def test_channels_get_their_own_alerts_and_digests(tmp_path: Path) -> None:
    config = channel_config(tmp_path)
    chats, ops, weekly = RecordingNotifier(), RecordingNotifier(), RecordingNotifier()
    fanout = Fanout(chats, {"ops": ops, "weekly": weekly})
    daemon = Daemon(config, lambda: connect(config.state.path), Loader(), lambda conn: fanout)
    # Monday 9 to Friday 13 November 2026; the rotation is on Thursday the 12th.
    run_clock(daemon, datetime(2026, 11, 9, 12, tzinfo=UTC), datetime(2026, 11, 14, tzinfo=UTC))
    shock = f"{ROTATION_DAY} chips/platforms shock chips->platforms"
    assert chats.keys(11) == [shock] and chats.keys(22) == [shock]  # no digest for the chats
    days = [f"2026-11-{d:02d} digest" for d in (9, 10, 11, 12, 13)]
    assert [k for k in ops.keys() if k.endswith("digest")] == days  # one per session
    assert shock in ops.keys()
    assert weekly.keys() == [shock, "2026-11-13 weekly digest"]  # on the week's last session
    (text,) = [t for _, k, _, t in ops.sent if k == f"{ROTATION_DAY} digest"]
    assert "Daily digest · 2026-11-12" in text
    assert "Alerted: severe shock toward Platforms (Chips/Platforms)" in text
    assert "best score" in text
    quiet = next(t for _, k, _, t in ops.sent if k == "2026-11-10 digest")
    assert "No rotation." in quiet and "best score" in quiet


def test_a_digest_says_so_when_the_job_fails_or_data_never_comes(tmp_path: Path) -> None:
    config = channel_config(tmp_path, telegram_digest="daily")
    loader, chats, ops = Loader(), RecordingNotifier(), RecordingNotifier()
    loader.fail = RuntimeError("disk on fire")
    fanout = Fanout(chats, {"ops": ops})
    daemon = Daemon(config, lambda: connect(config.state.path), loader, lambda conn: fanout)
    now = datetime(2026, 11, 12, 21, 30, tzinfo=UTC)
    daemon.start(now - timedelta(hours=2))
    for _ in range(3):
        now = asyncio.run(daemon.tick(now))
    key = "2026-11-12 digest (no signal)"
    digests = [k for k in chats.keys(11) if "digest" in k]
    assert digests == [key] and ops.keys() == [key]  # once, however many failures
    text = ops.sent[0][3]
    assert "No signal for this session: the daily job failed (RuntimeError)" in text
    assert "disk on fire" not in text  # the error's text stays in the log


def test_pending_rows_are_retried_with_backoff_not_the_next_day(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    notifier = RecordingNotifier(fail_next=["undelivered"])
    daemon = make_daemon(config, Loader(), notifier)
    run_at = datetime(2026, 11, 12, 21, 30, tzinfo=UTC)
    daemon.start(run_at - timedelta(hours=1))
    wake = asyncio.run(daemon.tick(run_at))
    assert wake == run_at + timedelta(minutes=1)  # not tomorrow's run
    notifier.fail_next = ["undelivered"]
    again = asyncio.run(daemon.tick(wake))
    assert again == wake + timedelta(minutes=2)  # backing off
    later = asyncio.run(daemon.tick(again))
    assert daemon.store.counts() == {"sent": 2}
    assert later == daemon.runtimes.next_run(again)[1]  # nothing owed: back to the schedule
