"""The daemon's checks during the session, on a fake clock: warn once, confirm or withdraw at
the close, skip on missing or stale bars, follow mutes, early closes and restarts."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pandas as pd
import pytest

from bot.config import Config
from bot.config.intraday import IntradayConfig
from bot.config.model import ChannelConfig
from bot.daemon.intraday import check_times
from bot.daemon.scheduler import Daemon
from bot.notify.channels import Fanout
from bot.notify.delivery import MuteStore
from bot.notify.status import collect_status, render_status
from bot.store.db import connect
from bot.store.state import StateStore
from tests.fakes import RecordingNotifier
from tests.unit.test_daemon import NY, PANEL, ROTATION_DAY, TICKERS, Loader, make_config, run_clock

WARNING = f"{ROTATION_DAY} chips/platforms warning chips->platforms"
QUIET_DAY = date(2026, 11, 10)  # an ordinary session of the synthetic market


def session_bars(
    day: date, path: Callable[[str, float], float], skip: tuple[str, ...] = ()
) -> dict[str, pd.DataFrame]:
    """5-minute bars of ``day`` for every ticker: ``path(ticker, hours since the open)`` is
    the return from the previous close."""
    prev = PANEL.close.loc[: pd.Timestamp(day)].iloc[-2]
    starts = pd.date_range(
        datetime.combine(day, time(9, 30), NY), periods=78, freq="5min", name="datetime"
    ).tz_convert("UTC")
    out = {}
    for t in TICKERS:
        if t in skip:
            continue
        hours = [(s - starts[0]).total_seconds() / 3600 for s in starts]
        closes = [prev[t] * (1 + path(t, h)) for h in hours]
        out[t] = pd.DataFrame({"close": closes}, index=starts)
    return out


def gap_at_open(day: date) -> Callable[[str, float], float]:
    """The session's whole close-to-close move from the first bar on (a gap at the open)."""
    move = (PANEL.close.loc[pd.Timestamp(day)] / PANEL.close.loc[: pd.Timestamp(day)].iloc[-2]) - 1
    return lambda t, h: float(move[t])


ROTATION = {"C1": -0.06, "C2": -0.05, "C3": -0.05, "C4": -0.04, "P1": 0.05, "P2": 0.03}
ROTATION |= {"P3": 0.02, "BENCH": 0.0}


def rotation_until(hours: float, day: date) -> Callable[[str, float], float]:
    """The rotation's moves until ``hours`` after the open, then the session's own close."""
    close = gap_at_open(day)
    return lambda t, h: ROTATION[t] if h < hours else close(t, h)


class Bars:
    """A bar loader over fixed per-session bars; records each call."""

    def __init__(self, by_day: Mapping[date, dict[str, pd.DataFrame]]) -> None:
        self.by_day = by_day
        self.calls: list[datetime] = []

    def __call__(self, session: date, now: datetime) -> dict[str, pd.DataFrame]:
        self.calls.append(now)
        moment = pd.Timestamp(now).tz_convert("UTC")
        return {t: f.loc[:moment] for t, f in self.by_day.get(session, {}).items()}


def daemon_for(tmp_path: Path, bars: Bars, notifier: RecordingNotifier, **kw: object) -> Daemon:
    config = with_checks(make_config(tmp_path), **kw)
    return Daemon(
        config,
        lambda: connect(config.state.path),
        Loader(),
        lambda conn: notifier,
        muted=lambda conn, chat, now: MuteStore(conn).muted_until(chat, now) is not None,
        bars=bars,
    )


def with_checks(config: Config, **kw: object) -> Config:
    return replace(config, intraday=IntradayConfig(enabled=True, **kw))  # type: ignore[arg-type]


def day_clock(day: date) -> tuple[datetime, datetime]:
    return datetime.combine(day, time(8), NY), datetime.combine(
        day + timedelta(days=1), time(8), NY
    )


def test_gap_at_the_open_is_flagged_at_the_first_check_and_confirmed(tmp_path: Path) -> None:
    bars = Bars({ROTATION_DAY: session_bars(ROTATION_DAY, gap_at_open(ROTATION_DAY))})
    notifier = RecordingNotifier()
    daemon = daemon_for(tmp_path, bars, notifier)
    run_clock(daemon, *day_clock(ROTATION_DAY))
    # The daemon woke at each check's time: 10:30, 12:00, 14:00 and 15:15 New York time.
    checks = daemon.store.checks_of(ROTATION_DAY)
    assert [(c.at, c.status) for c in checks] == [
        ("10:30", "read"), ("12:00", "read"), ("14:00", "read"), ("15:15", "read"),
    ]  # fmt: skip
    assert datetime.fromisoformat(checks[0].checked_at) == datetime.combine(
        ROTATION_DAY, time(10, 30), NY
    )
    warned = [(c, text) for c, k, _, text in notifier.sent if k == WARNING]
    assert [c for c, _ in warned] == [11, 22]  # once per chat, however many checks saw it
    assert "In progress, 10:30 ET: Chips -5.0% vs Platforms +3.3%" in warned[0][1]
    assert "the close run confirms or withdraws it after 16:30 ET" in warned[0][1]
    [warning] = daemon.store.warnings_of(ROTATION_DAY)
    assert (warning.first_at, warning.outcome) == ("10:30", "confirmed")
    alerts = [t for c, k, _, t in notifier.sent if c == 11 and "shock" in k]
    assert len(alerts) == 1 and "First flagged at 10:30 ET" in alerts[0]
    assert not [k for k in notifier.keys() if "withdrawn" in k]


def test_a_rotation_that_reverses_by_the_close_is_withdrawn(tmp_path: Path) -> None:
    bars = Bars({QUIET_DAY: session_bars(QUIET_DAY, rotation_until(4.0, QUIET_DAY))})
    notifier = RecordingNotifier()
    daemon = daemon_for(tmp_path, bars, notifier)
    MuteStore(daemon.store.conn).mute(22, datetime.combine(QUIET_DAY, time(12), NY))
    run_clock(daemon, *day_clock(QUIET_DAY))
    key = f"{QUIET_DAY} chips/platforms warning chips->platforms"
    withdrawn = f"{QUIET_DAY} chips/platforms withdrawn chips->platforms"
    # 22 was muted at 10:30: it gets neither the warning nor the note that withdraws it.
    assert notifier.keys(11).count(key) == 1 and key not in notifier.keys(22)
    assert notifier.keys(11).count(withdrawn) == 1 and withdrawn not in notifier.keys(22)
    note = next(t for c, k, _, t in notifier.sent if k == withdrawn)
    assert "in-progress warning of 10:30 ET" in note and "did not hold" in note
    [warning] = daemon.store.warnings_of(QUIET_DAY)
    assert warning.outcome == "withdrawn"
    statuses = [c.status for c in daemon.store.checks_of(QUIET_DAY)]
    assert statuses == ["read"] * 4
    assert not daemon.store.events_of(QUIET_DAY)  # the close found no rotation


def test_missing_or_stale_bars_skip_the_check_and_three_in_a_row_show_once(
    tmp_path: Path,
) -> None:
    day_bars = session_bars(ROTATION_DAY, gap_at_open(ROTATION_DAY), skip=("P3",))
    day_bars["C1"] = day_bars["C1"].loc[: datetime.combine(ROTATION_DAY, time(11), NY)]
    notifier = RecordingNotifier()
    daemon = daemon_for(tmp_path, Bars({ROTATION_DAY: day_bars}), notifier)
    run_clock(daemon, *day_clock(ROTATION_DAY))
    checks = daemon.store.checks_of(ROTATION_DAY)
    assert [c.status for c in checks] == ["skipped"] * 4
    assert checks[0].reason == "no bar yet for P3"
    assert "older than 20 minutes for C1 (11:00)" in str(checks[1].reason)
    assert WARNING not in notifier.keys()  # never from incomplete data
    assert not daemon.store.warnings_of(ROTATION_DAY)
    status = collect_status(daemon.config, daemon.store.conn, day_clock(ROTATION_DAY)[1])
    text = render_status(status, daemon.config)
    lines = [line for line in text.splitlines() if "skipped in a row" in line]
    assert len(lines) == 1 and "4 intraday checks skipped in a row" in lines[0]
    assert f"checks {ROTATION_DAY}: 10:30 skipped, 12:00 skipped" in text


def test_checks_after_an_early_close_are_dropped() -> None:
    config = with_checks(make_config(Path("unused")))
    friday = date(2026, 11, 27)  # the day after Thanksgiving closes at 13:00
    assert [label for label, _ in check_times(config, friday)] == ["10:30", "12:00"]
    assert len(check_times(config, date(2026, 11, 30))) == 4


def test_a_restart_after_the_warning_was_queued_delivers_it_once(tmp_path: Path) -> None:
    bars = Bars({ROTATION_DAY: session_bars(ROTATION_DAY, gap_at_open(ROTATION_DAY))})
    dead = RecordingNotifier(fail_next=["undelivered", "undelivered"])
    first = daemon_for(tmp_path, bars, dead)
    at = datetime.combine(ROTATION_DAY, time(10, 30), NY)
    first.start(at)
    asyncio.run(first.tick(at))  # queued; the send failed before anything went out
    assert WARNING not in dead.keys()
    first.close()
    notifier = RecordingNotifier()
    second = daemon_for(tmp_path, bars, notifier)
    run_clock(second, at + timedelta(minutes=3), at + timedelta(hours=2))
    assert notifier.keys(11).count(WARNING) == 1 and notifier.keys(22).count(WARNING) == 1
    store = StateStore(second.store.conn)
    assert [c.at for c in store.checks_of(ROTATION_DAY)] == ["10:30", "12:00"]


def test_a_late_start_reads_once_and_marks_the_checks_it_slept_through(tmp_path: Path) -> None:
    bars = Bars({ROTATION_DAY: session_bars(ROTATION_DAY, gap_at_open(ROTATION_DAY))})
    notifier = RecordingNotifier()
    daemon = daemon_for(tmp_path, bars, notifier)
    start = datetime.combine(ROTATION_DAY, time(14, 40), NY)
    run_clock(daemon, start, start + timedelta(minutes=20))
    checks = {c.at: c.status for c in daemon.store.checks_of(ROTATION_DAY)}
    assert checks == {"10:30": "missed", "12:00": "missed", "14:00": "read"}
    [warning] = daemon.store.warnings_of(ROTATION_DAY)
    assert warning.first_at == "14:40"  # when it was read, not the label of the check


def test_checks_use_no_daily_bar_of_the_session(tmp_path: Path) -> None:
    """The loader hands the checks the session's own daily bar (the clock's date): the
    readings must equal those made on prices cut at the previous session."""
    bars = Bars({ROTATION_DAY: session_bars(ROTATION_DAY, gap_at_open(ROTATION_DAY))})
    a = daemon_for(tmp_path / "a", bars, RecordingNotifier())
    cut = Loader(PANEL.upto(ROTATION_DAY - timedelta(days=1)))
    b = replace(a, prices=cut, connect=lambda: connect(tmp_path / "b.db"))
    at = datetime.combine(ROTATION_DAY, time(10, 30), NY)
    for d in (a, b):
        d.start(at)
        asyncio.run(d.tick(at))
    assert (
        a.store.checks_of(ROTATION_DAY)[0].readings == b.store.checks_of(ROTATION_DAY)[0].readings
    )


def test_no_check_after_the_close(tmp_path: Path) -> None:
    bars = Bars({ROTATION_DAY: session_bars(ROTATION_DAY, gap_at_open(ROTATION_DAY))})
    notifier = RecordingNotifier()
    daemon = daemon_for(tmp_path, bars, notifier)
    start = datetime.combine(ROTATION_DAY, time(16, 10), NY)
    run_clock(daemon, start, start + timedelta(hours=1))
    assert daemon.store.checks_of(ROTATION_DAY) == [] and bars.calls == []
    assert WARNING not in notifier.keys()
    assert [s for s, _ in daemon.evaluations] == [ROTATION_DAY]  # the close run still ran


def test_channels_get_the_warning_by_their_own_rules_and_its_withdrawal(tmp_path: Path) -> None:
    config = with_checks(make_config(tmp_path))
    config = replace(
        config,
        channels=(
            ChannelConfig("ops", "OPS_URL", min_severity="info"),
            ChannelConfig("elsewhere", "ELSEWHERE_URL", pairs=("chips/other",)),
        ),
    )
    chats, ops, elsewhere = RecordingNotifier(), RecordingNotifier(), RecordingNotifier()
    fanout = Fanout(chats, {"ops": ops, "elsewhere": elsewhere})
    bars = Bars({QUIET_DAY: session_bars(QUIET_DAY, rotation_until(4.0, QUIET_DAY))})
    daemon = Daemon(
        config, lambda: connect(config.state.path), Loader(), lambda conn: fanout, bars=bars
    )
    run_clock(daemon, *day_clock(QUIET_DAY))
    key = f"{QUIET_DAY} chips/platforms warning chips->platforms"
    withdrawn = f"{QUIET_DAY} chips/platforms withdrawn chips->platforms"
    assert ops.keys() == [key, withdrawn]
    assert elsewhere.keys() == []  # it watches another pair
    assert chats.keys(11) == [key, withdrawn] == chats.keys(22)


def test_a_session_whose_close_is_never_read_withdraws_its_warning(tmp_path: Path) -> None:
    bars = Bars({ROTATION_DAY: session_bars(ROTATION_DAY, gap_at_open(ROTATION_DAY))})
    notifier = RecordingNotifier()
    daemon = daemon_for(tmp_path, bars, notifier)
    loader = Loader(PANEL.upto(ROTATION_DAY - timedelta(days=1)))  # the close never comes
    daemon.prices = loader
    run_clock(daemon, *day_clock(ROTATION_DAY))
    withdrawn = f"{ROTATION_DAY} chips/platforms withdrawn chips->platforms"
    assert notifier.keys(11).count(WARNING) == 1 and notifier.keys(11).count(withdrawn) == 1
    note = next(t for c, k, _, t in notifier.sent if k == withdrawn)
    assert "could not be confirmed: the close's data never came" in note
    assert daemon.store.warnings_of(ROTATION_DAY)[0].outcome == "withdrawn"


def test_a_confirmation_below_a_targets_alert_level_gets_a_note(tmp_path: Path) -> None:
    big = {t: 3 * m for t, m in ROTATION.items()}  # stronger during the session than at the close
    close = gap_at_open(ROTATION_DAY)
    bars = Bars(
        {ROTATION_DAY: session_bars(ROTATION_DAY, lambda t, h: big[t] if h < 4 else close(t, h))}
    )
    notifier = RecordingNotifier()
    daemon = daemon_for(tmp_path, bars, notifier)
    config = daemon.config
    daemon.config = replace(
        config,
        signals=replace(config.signals, shock_severe=40.0),  # the close's shock grades "alert"
        telegram=replace(config.telegram, min_severity="severe"),
        intraday=replace(config.intraday, threshold=10.0),
    )
    run_clock(daemon, *day_clock(ROTATION_DAY))
    confirmed = f"{ROTATION_DAY} chips/platforms confirmed chips->platforms"
    assert notifier.keys(11) == [WARNING, confirmed]  # no alert: the close is below "severe"
    note = notifier.sent[-1][3]
    assert "held: the close shows a shock Chips → Platforms graded alert" in note
    assert "below the alert level here, so no alert follows" in note


def test_a_warning_still_pending_at_the_close_is_cancelled(tmp_path: Path) -> None:
    bars = Bars({QUIET_DAY: session_bars(QUIET_DAY, rotation_until(4.0, QUIET_DAY))})
    down = RecordingNotifier(fail_next=["undelivered"] * 200)  # Telegram down all afternoon
    daemon = daemon_for(tmp_path, bars, down)
    start, _ = day_clock(QUIET_DAY)
    run_clock(daemon, start, datetime.combine(QUIET_DAY, time(16, 45), NY))
    assert down.sent == []
    assert daemon.store.rows_of(f"{QUIET_DAY} chips/platforms warning chips->platforms") == []
    assert not [r for r in daemon.store.pending() if "withdrawn" in r.key]  # never got it


def test_a_rehearsal_never_settles_a_live_warning(tmp_path: Path) -> None:
    from bot.store.state import REHEARSAL

    bars = Bars({QUIET_DAY: session_bars(QUIET_DAY, rotation_until(4.0, QUIET_DAY))})
    notifier = RecordingNotifier()
    live = daemon_for(tmp_path, bars, notifier)
    live.start(datetime.combine(QUIET_DAY, time(10, 0), NY))
    asyncio.run(live.tick(datetime.combine(QUIET_DAY, time(10, 30), NY)))
    assert notifier.keys(11) == [f"{QUIET_DAY} chips/platforms warning chips->platforms"]
    rehearsal = replace(live, marks=REHEARSAL)
    asyncio.run(rehearsal.rehearse(QUIET_DAY, QUIET_DAY))
    assert not [k for k in notifier.keys() if "withdrawn" in k]  # the live close speaks
    assert rehearsal.store.warnings_of(QUIET_DAY)[0].outcome == "withdrawn"
    assert live.store.warnings_of(QUIET_DAY)[0].outcome == "open"
    run_clock(live, datetime.combine(QUIET_DAY, time(10, 31), NY), day_clock(QUIET_DAY)[1])
    withdrawn = f"{QUIET_DAY} chips/platforms withdrawn chips->platforms"
    assert live.store.warnings_of(QUIET_DAY)[0].outcome == "withdrawn"
    assert notifier.keys(11).count(withdrawn) == 1 == notifier.keys(22).count(withdrawn)


def test_warnings_a_crash_left_open_are_withdrawn_at_the_next_start(tmp_path: Path) -> None:
    bars = Bars({ROTATION_DAY: session_bars(ROTATION_DAY, gap_at_open(ROTATION_DAY))})
    notifier = RecordingNotifier()
    daemon = daemon_for(tmp_path, bars, notifier)
    at = datetime.combine(ROTATION_DAY, time(10, 30), NY)
    daemon.start(at)
    asyncio.run(daemon.tick(at))
    # Stopped after the session was marked skipped, before its warnings were settled.
    daemon.store.start(ROTATION_DAY, at)
    daemon.store.mark(ROTATION_DAY, "skipped", error="missed while down")
    restarted = daemon_for(tmp_path, bars, notifier)
    restarted.start(at + timedelta(days=1))
    asyncio.run(restarted.deliver())
    withdrawn = f"{ROTATION_DAY} chips/platforms withdrawn chips->platforms"
    assert notifier.keys(11).count(withdrawn) == 1
    assert restarted.store.warnings_of(ROTATION_DAY)[0].outcome == "withdrawn"


def test_a_check_reads_only_complete_bars(tmp_path: Path) -> None:
    """Bars are labelled by their start: at 10:30 the bar of 10:30 is not complete, so the
    check reads the 10:25 bar (55 minutes into the session), never a later price."""
    rising = Bars({ROTATION_DAY: session_bars(ROTATION_DAY, lambda t, h: -0.01 * h)})
    daemon = daemon_for(tmp_path, rising, RecordingNotifier())
    at = datetime.combine(ROTATION_DAY, time(10, 30), NY)
    daemon.start(at)
    asyncio.run(daemon.tick(at))
    [check] = daemon.store.checks_of(ROTATION_DAY)
    moves = check.readings[0]["moves"]
    assert isinstance(moves, dict)
    assert moves["chips"] == pytest.approx(-0.01 * 55 / 60) == moves["platforms"]


def test_checks_read_their_own_daily_prices(tmp_path: Path) -> None:
    """The live daemon hands the checks the cache (no Yahoo fetch per check): the close run's
    loader is never called by a check."""
    bars = Bars({ROTATION_DAY: session_bars(ROTATION_DAY, gap_at_open(ROTATION_DAY))})
    daemon = daemon_for(tmp_path, bars, RecordingNotifier())
    close_loader, check_loader = Loader(), Loader()
    daemon.prices, daemon.check_prices = close_loader, check_loader
    at = datetime.combine(ROTATION_DAY, time(10, 30), NY)
    daemon.start(at)
    asyncio.run(daemon.tick(at))
    assert [c.status for c in daemon.store.checks_of(ROTATION_DAY)] == ["read"]
    assert close_loader.calls == [] and len(check_loader.calls) == 1


def test_a_bad_bar_file_skips_the_check_with_its_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.errors import DataError

    def broken(session: date, now: datetime) -> dict[str, pd.DataFrame]:
        raise DataError("bars/C1.csv: every datetime needs its UTC offset")

    daemon = daemon_for(tmp_path, Bars({}), RecordingNotifier())
    daemon.bars = broken
    at = datetime.combine(ROTATION_DAY, time(10, 30), NY)
    daemon.start(at)
    asyncio.run(daemon.tick(at))
    [check] = daemon.store.checks_of(ROTATION_DAY)
    assert (check.status, check.reason) == (
        "skipped",
        "bars/C1.csv: every datetime needs its UTC offset",
    )
    assert "Traceback" not in caplog.text and not [r for r in caplog.records if r.exc_info]
