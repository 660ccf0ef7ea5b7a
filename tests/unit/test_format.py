"""Golden texts of what the bot says, escaping, phone-width tables and message splitting."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.config import Basket, Benchmark, Config
from bot.core.models import Driver, Picture, Quadrant, RotationEvent, Severity, SignalState
from bot.core.record import HorizonStats, TrackRecord
from bot.notify.notifiers import PhotoPart, TextPart
from bot.notify.status import DeliveryRecord
from bot.render import html as tg
from bot.render import replies
from bot.render import text as fmt
from bot.render.messages import compose
from tests.fake_telegram import check_html

NEW_YORK = ZoneInfo("America/New_York")
CONFIG = Config(
    baskets=(
        Basket("chips", "<b>Chips & Co</b>", ("NVDA", "AMD")),
        Basket("platforms", "Platforms (gold diggers)", ("META", "MSFT")),
    ),
    benchmark=Benchmark("^GSPC", "S&P 500"),
)
SHOCK = RotationEvent(
    date(2026, 7, 1),
    "shock",
    "chips",
    "platforms",
    Severity.SEVERE,
    4.31,
    "Calm surface, violent rotation: S&P 500 +0.1% while <b>Chips & Co</b> -6.0% "
    "(NVDA -7.0%, AMD -5.0%) and Platforms +5.0% (META +9.0%, MSFT +1.0%)",
    (
        Driver("NVDA", "chips", -0.07),
        Driver("AMD", "chips", -0.05),
        Driver("META", "platforms", 0.09),
        Driver("MSFT", "platforms", 0.01),
    ),
    {"largest_since": "2025-01-27"},
    pair="chips/platforms",
)
STATE = SignalState(
    date=date(2026, 7, 1),
    pair="chips/platforms",
    ratio=0.8123,
    ratio_ma_short=0.84,
    ratio_ma_long=0.9,
    trend=-0.0975,
    regime="platforms",
    quadrant=Quadrant.LAGGING,
    rs_ratio=98.7,
    rs_momentum=97.2,
    indicators={},
    basket_returns={"chips": -0.06, "platforms": 0.05},
    benchmark_return=0.001,
    basket_quadrants={"chips": Quadrant.WEAKENING, "platforms": Quadrant.LEADING},
    events=(SHOCK,),
)
CHIPS = "&lt;b&gt;Chips &amp; Co&lt;/b&gt;"
TREND = f"""Ratio {CHIPS}/Platforms 0.8123 · -9.8% vs its 200-day average · Platforms lead on the \
200-day trend
RRG {CHIPS} vs Platforms: Lagging (RS-Ratio 98.7, RS-Momentum 97.2)
vs S&amp;P 500: {CHIPS} Weakening, Platforms Leading"""
MOVES = f"""<pre>Session 2026-07-01   Move
{CHIPS}   -6.0%
Platforms           +5.0%
S&amp;P 500             +0.1%</pre>"""

GOLDEN_ALERT = f"""🔴 <b>SEVERE · shock rotation · {CHIPS}/Platforms · 2026-07-01</b>
<b>{CHIPS} → Platforms (gold diggers)</b>
Calm surface, violent rotation: S&amp;P 500 +0.1% while {CHIPS} -6.0% (NVDA -7.0%, AMD -5.0%) \
and Platforms +5.0% (META +9.0%, MSFT +1.0%)
Largest spread since 2025-01-27 · score 4.31
Drivers on the day:
<pre>NVDA  {CHIPS}  -7.0%
AMD   {CHIPS}  -5.0%
META  Platforms          +9.0%
MSFT  Platforms          +1.0%</pre>

{TREND}"""

GOLDEN_QUIET = f"""⚪ <b>No rotation · 2026-07-01</b>
<i>Broad move, not a rotation: S&amp;P 500 -3.0%</i>
{CHIPS}/Platforms: best score 2.71, no rotation: the S&amp;P 500 moved as much as the spread \
(300% of it, limit 60%)

{MOVES}

{TREND}"""


def _pre_lines(text: str) -> list[str]:
    blocks = re.findall(r"<pre>(.*?)</pre>", text, flags=re.DOTALL)
    return [html.unescape(line) for block in blocks for line in block.split("\n")]


def test_alert_golden_text_escapes_every_name() -> None:
    text = fmt.render_alert(STATE, CONFIG)
    assert text == GOLDEN_ALERT
    assert check_html(text, tg.MAX_TEXT) is None
    assert "<b>Chips" not in text  # the configured name never becomes markup


def test_quiet_day_golden_text() -> None:
    notes = ("Broad move, not a rotation: S&P 500 -3.0%",)
    why = "the S&P 500 moved as much as the spread (300% of it, limit 60%)"
    state = replace(STATE, events=(), notes=notes, shock_score=2.71, no_shock_because=why)
    assert fmt.render_quiet_day(Picture(state.date, (state,), ()), CONFIG) == GOLDEN_QUIET
    assert fmt.render_signal(state, CONFIG) == GOLDEN_QUIET


def test_regime_alert_names_the_driver_window_and_severity_order() -> None:
    turn = RotationEvent(
        date(2026, 7, 1), "regime", "platforms", "chips", Severity.INFO, 1.1,
        "RRG turn: Chips vs Platforms moved from Improving to Leading", (), {},
    )  # fmt: skip
    drivers = (Driver("NVDA", "chips", 0.3),)
    state = replace(STATE, events=(replace(turn, drivers=drivers), SHOCK))
    text = fmt.render_alert(state, CONFIG)
    assert text.index("SEVERE") < text.index("INFO · regime turn")  # most severe first
    assert "Drivers over 20 sessions:" in text
    assert text.count("Largest spread") == 1  # only the shock has a spread record
    assert check_html(text, tg.MAX_TEXT) is None


def test_largest_spread_says_since_when_the_data_held_starts() -> None:
    evidence = {"largest_since": None, "history_from": "2010-01-05"}
    state = replace(STATE, events=(replace(SHOCK, evidence=evidence),))
    text = fmt.render_alert(state, CONFIG)
    assert "Largest spread in the data held (since 2010-01-05) · score 4.31" in text
    assert "on record" not in text


def _record(n: int, mean: float, hits: float, t: float | None, verdict: str) -> TrackRecord:
    stats = {h: HorizonStats(n, mean, hits, t) for h in (1, 5, 20)}
    return TrackRecord(n, stats, verdict)


def test_track_record_line_says_what_earlier_events_were_worth() -> None:
    weak = replace(SHOCK, track_record=_record(9, 0.022, 8 / 9, 3.1, "no measured edge"))
    text = fmt.render_alert(replace(STATE, events=(weak,)), CONFIG)
    assert (
        "Track record: no measured edge yet (9 earlier severe shocks on this pair; the next "
        "session continued 8 of 9 times, mean +2.2%)" in text
    )
    strong = replace(SHOCK, track_record=_record(24, -0.012, 0.25, -2.6, "reversed"))
    text = fmt.render_alert(replace(STATE, events=(strong,)), CONFIG)
    assert (
        "Track record: 24 earlier severe shocks on this pair; over the next session the move "
        "reversed 18 of 24 times (mean -1.2%, t -2.6)" in text
    )


def test_a_reversal_and_a_turn_against_the_trend_are_said_plainly() -> None:
    back = replace(SHOCK, reverses=date(2026, 6, 29))
    text = fmt.render_alert(replace(STATE, events=(back,), regime="chips"), CONFIG)
    assert "SEVERE · shock reversal" in text
    assert f"The day's move went toward Platforms; on the 200-day trend {CHIPS} still lead." in text


def test_tables_stay_within_phone_width_even_with_long_names() -> None:
    long = replace(CONFIG.baskets[0], name="Semiconductors & equipment makers " * 3)
    config = replace(CONFIG, baskets=(long, CONFIG.baskets[1]))
    quiet = fmt.render_quiet_day(Picture(STATE.date, (replace(STATE, events=()),), ()), config)
    for text in (fmt.render_alert(STATE, config), replies.render_baskets(config), quiet):
        lines = _pre_lines(text)
        assert lines and max(len(line) for line in lines) <= tg.TABLE_WIDTH
    moves = _pre_lines(quiet)
    assert "Semiconductors & equipment maker…  -6.0%" in moves  # cut text, whole number


def test_status_golden_text() -> None:
    at = datetime(2026, 7, 1, 16, 41, tzinfo=NEW_YORK)
    key = "2026-07-01 shock chips->platforms"
    record = DeliveryRecord(111, key, "alert", "unconfirmed", at, ())
    report = replies.StatusReport(
        data_through=date(2026, 7, 1),
        lagging=("SNDK",),
        last_alert=record,
        last_send=record,
        next_run=datetime(2026, 7, 2, 16, 30, tzinfo=NEW_YORK),
        muted_until=datetime(2026, 7, 3, 12, 0, tzinfo=NEW_YORK),
        chats=2,
        last_run="2026-07-01 done",
        pending=1,
    )
    assert replies.render_status(report) == (
        "<b>rotabot status</b>\n"
        "<pre>Last run      2026-07-01 done\n"
        "Data through  2026-07-01\n"
        "Last send     2026-07-01 16:41 EDT\n"
        "Last alert    2026-07-01\n"
        "Next run      2026-07-02 16:30 EDT\n"
        "Alerts here   muted to 2026-07-03 12:00\n"
        "Chats         2\n"
        "Outbox        1 pending</pre>\n"
        "Last alert: 2026-07-01 shock chips-&gt;platforms, unconfirmed 2026-07-01 16:41 EDT\n"
        "No bar on the latest session for: SNDK"
    )


def test_baskets_help_backtest_and_problem_replies() -> None:
    assert replies.render_baskets(CONFIG) == (
        f"<b>{CHIPS}</b> (key chips)\n<pre>NVDA  50.0%\nAMD   50.0%</pre>\n\n"
        "<b>Platforms (gold diggers)</b> (key platforms)\n"
        "<pre>META  50.0%\nMSFT  50.0%</pre>\n\n"
        "Pairs watched (numerator/denominator): chips/platforms\n\n"
        "Benchmark: <b>S&amp;P 500</b> (^GSPC)"
    )
    rows = [("start", "", "what this bot does"), ("chart", "[DAYS]", "the <ratio> chart")]
    assert replies.render_help(rows) == (
        "<b>Commands</b>\n/start - what this bot does\n/chart [DAYS] - the &lt;ratio&gt; chart"
    )
    result = {
        "strategy": "rs_trend", "start": "2016-01-04", "end": "2025-12-31",
        "metrics": {"cagr": 0.1234, "volatility": 0.25, "sharpe": 0.8, "max_drawdown": -0.35},
        "benchmarks": {"<50/50>": {"cagr": 0.15}},
    }  # fmt: skip
    assert replies.render_backtest(result) == (
        "<b>Backtest rs_trend</b> 2016-01-04 to 2025-12-31\n"
        "<pre>           CAGR  Sharpe   MaxDD\n"
        "Strategy  12.3%    0.80  -35.0%\n"
        "&lt;50/50&gt;   15.0%     n/a     n/a</pre>"
    )
    assert replies.render_problem("not a date: '<x>'", "/signal [DATE]") == (
        "not a date: '&lt;x&gt;'\nUsage: <code>/signal [DATE]</code>"
    )


# --- splitting --------------------------------------------------------------------------


def test_short_text_is_one_message() -> None:
    assert tg.split_message("one\ntwo") == ["one\ntwo"]


def test_long_text_splits_on_line_boundaries_within_the_limit() -> None:
    lines = [f"line {i}: S&amp;P <b>bold</b> " + "x" * (i % 50) for i in range(400)]
    text = "\n".join(lines)
    chunks = tg.split_message(text)
    assert len(chunks) > 1
    assert all(tg.units(c) <= tg.MAX_TEXT for c in chunks)
    assert all(check_html(c, tg.MAX_TEXT) is None for c in chunks)
    assert "\n".join(chunks).split("\n") == lines  # nothing lost, nothing cut mid-line


def test_split_inside_pre_closes_and_reopens_it() -> None:
    rows = "\n".join(f"TICK{i:03d}  {i:>6}" for i in range(60))
    text = "Header\n<pre>" + rows + "</pre>\nFooter"
    chunks = tg.split_message(text, limit=300)
    assert len(chunks) > 2
    for chunk in chunks:
        assert tg.units(chunk) <= 300
        assert check_html(chunk, 300) is None
    assert chunks[1].startswith("<pre>") and chunks[0].endswith("</pre>")
    body = "".join(c.replace("<pre>", "").replace("</pre>", "") for c in chunks)
    assert "TICK059" in body and body.count("TICK") == 60


def test_overlong_line_is_wrapped_without_breaking_entities_or_tags() -> None:
    line = " ".join(["<b>S&amp;P</b>"] * 200)
    chunks = tg.split_message(line, limit=500)
    assert len(chunks) > 1
    for chunk in chunks:
        assert tg.units(chunk) <= 500
        assert check_html(chunk, 500) is None


def test_limits_count_utf16_units_like_telegram() -> None:
    text = "\n".join(["🔴" * 10] * 30)  # 30 lines of 20 units (plus newlines)
    chunks = tg.split_message(text, limit=100)
    assert all(tg.units(c) <= 100 for c in chunks)
    assert tg.units("🔴") == 2


@pytest.mark.parametrize("with_chart", [True, False])
def test_alert_parts_photo_with_caption_or_text_then_photo(with_chart: bool) -> None:
    png = b"\x89PNG fake" if with_chart else None
    short = fmt.render_alert(STATE, CONFIG)
    parts = compose(short, png, "ratio.png", "chart")
    if with_chart:
        assert parts == (PhotoPart(png or b"", "ratio.png", short),)
    else:
        assert parts == (TextPart(short),)
    long = "\n".join([short] * 4)  # over the 1024 caption limit
    parts = compose(long, png, "ratio.png", "chart")
    assert [p.label for p in parts] == (["text", "photo"] if with_chart else ["text"])
    assert isinstance(parts[0], TextPart) and parts[0].text == long


def test_data_incomplete_notice() -> None:
    absent = [f"T{i}" for i in range(10)]
    assert fmt.render_data_incomplete(CONFIG, date(2026, 7, 1), ["A&B", "MSFT"]) == (
        "⚠️ <b>Data incomplete · 2026-07-01</b>\n"
        "No 2026-07-01 bar by 20:00 America/New_York for A&amp;B, MSFT: no signal for this session."
    )
    assert "T7 and 2 more:" in fmt.render_data_incomplete(CONFIG, date(2026, 7, 1), absent)


def test_quiet_day_of_several_pairs_titles_each_pair() -> None:
    other = replace(STATE, pair="platforms/chips", events=())
    text = fmt.render_quiet_day(Picture(STATE.date, (replace(STATE, events=()), other), ()), CONFIG)
    assert text.count("<pre>Session 2026-07-01") == 2
    assert f"<b>{CHIPS}/Platforms</b>" in text and f"<b>Platforms/{CHIPS}</b>" in text


def test_a_regime_alert_keeps_the_days_moves_a_shock_alert_says_them_once() -> None:
    turn = replace(SHOCK, kind="regime", severity=Severity.ALERT, evidence={})
    assert "<pre>Session 2026-07-01" in fmt.render_alert(replace(STATE, events=(turn,)), CONFIG)
    assert "<pre>Session 2026-07-01" not in fmt.render_alert(STATE, CONFIG)


def test_progress_off_a_terminal_is_a_line_a_quarter(capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli.prices import ProgressBar

    bar = ProgressBar(delay=0.0)  # stderr is captured here: not a terminal
    for done in range(0, 101):
        bar(done, 100, "combinations")
    bar.close()
    lines = capsys.readouterr().err.splitlines()
    assert lines == [f"{n}/100 combinations" for n in (25, 50, 75, 100)]
