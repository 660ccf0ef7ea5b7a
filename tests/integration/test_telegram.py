"""Telegram end to end: the real python-telegram-bot talks HTTP to the fake Bot API server."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import closing
from datetime import date
from pathlib import Path

import pytest

from bot.cli.main import main
from bot.config import Config, load_config
from bot.notify.notifiers import PhotoPart, RetryPolicy, TextPart, Timeouts
from bot.notify.outbox import deliver_pending, encode_parts
from bot.notify.telegram import TelegramNotifier
from bot.render.messages import Outgoing, compose
from bot.store.db import connect
from bot.store.state import OutboxRow, StateStore
from bot.telegram.app import COMMANDS, build_application, running
from bot.telegram.service import BotService
from tests.fake_telegram import (
    TOKEN,
    Delivered,
    Fail,
    FakeTelegram,
    Slow,
    config_text,
    market_closes,
    serve_fake,
    write_market,
)

pytestmark = [
    pytest.mark.integration,
    # PTB's own RetryAfter constructor reads its int-or-timedelta attribute, deprecated in 22.2.
    pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning"),
]

ALLOWED, GROUP, STRANGER = 111, -222, 999
LAST_SESSION = "2024-08-12"  # the synthetic market's last session: the shock
CHIPS = "&lt;b&gt;Chips &amp; Co&lt;/b&gt;"
PAIR_TITLE = "<b>Chips & Co</b>/Platforms"  # the pair in short names, as the chat shows it


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    yield from serve_fake()


@pytest.fixture
def prices(tmp_path: Path) -> Path:
    return write_market(tmp_path / "prices")


@pytest.fixture
def make_config(tmp_path: Path, fake: FakeTelegram, prices: Path) -> Callable[..., Path]:
    def make(**telegram: object) -> Path:
        chats = telegram.pop("chat_ids", (ALLOWED, GROUP))
        path = tmp_path / "config.toml"
        path.write_text(config_text(prices, fake.api_base_url, chats, **telegram))  # type: ignore[arg-type]
        return path

    return make


@pytest.fixture
def config(make_config: Callable[..., Path]) -> Config:
    return load_config(make_config())


def talk(config: Config, body: Callable[[], Awaitable[None]]) -> None:
    """Run the command bot against the fake for the duration of ``body``."""

    async def scenario() -> None:
        app = build_application(config, TOKEN, BotService(config))
        async with running(app):
            await body()

    asyncio.run(scenario())


def ask(config: Config, fake: FakeTelegram, chat: int, text: str) -> list[str]:
    """Send one command from ``chat``; return what the chat shows of the bot's answers."""

    before = len(fake.messages(chat))

    async def body() -> None:
        fake.queue_message(chat, text)
        await fake.until(lambda: len(fake.messages(chat)) > before, timeout=20)

    talk(config, body)
    return [m.plain for m in fake.messages(chat)[before:]]


def outbox(config: Config) -> list[tuple[int, str, list[int]]]:
    """(chat, status, Telegram's message ids) of every outbox row, in the order queued."""
    with closing(connect(config.state.path)) as conn:
        rows = conn.execute("SELECT chat_id, status, message_ids FROM outbox ORDER BY id")
        return [(int(c), str(s), json.loads(m)) for c, s, m in rows]


def send_through_outbox(
    config: Config, notifier: TelegramNotifier, outgoing: Outgoing
) -> list[OutboxRow]:
    """Queue ``outgoing`` for ALLOWED, deliver it as the daemon does; return its rows."""
    with closing(connect(config.state.path)) as conn:
        store = StateStore(conn)
        parts = encode_parts(outgoing.parts)
        store.enqueue(outgoing.key, date(2024, 8, 12), outgoing.kind, parts, [ALLOWED])
        asyncio.run(deliver_pending(store, notifier))
        return store.rows_of(outgoing.key)


# --- alerts ------------------------------------------------------------------------------


def test_signal_send_delivers_the_alert_with_its_photo_once_per_chat(
    fake: FakeTelegram, make_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("ROTABOT_TELEGRAM_TOKEN", TOKEN)
    assert main(["--config", str(make_config()), "signal", "--send"]) == 0
    got = fake.messages()
    assert [(m.chat_id, m.kind) for m in got] == [(ALLOWED, "photo"), (GROUP, "photo")]
    caption = got[0].plain
    assert caption.startswith(f"🔴 SEVERE · shock rotation · {PAIR_TITLE} · {LAST_SESSION}")
    assert f"{CHIPS} → Platforms (gold diggers)" in fake.calls_to("sendPhoto")[0].params["caption"]
    assert got[0].photo and got[0].photo.startswith(b"\x89PNG")
    assert got[0].filename == f"ratio-chips-platforms-{LAST_SESSION}.png"
    config = load_config(make_config())
    assert outbox(config) == [
        (ALLOWED, "sent", [got[0].message_id]), (GROUP, "sent", [got[1].message_id])
    ]  # fmt: skip
    assert "sent alert" in capsys.readouterr().err


def test_signal_send_twice_sends_once_and_resend_sends_again(
    fake: FakeTelegram, make_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("ROTABOT_TELEGRAM_TOKEN", TOKEN)
    argv = ["--config", str(make_config()), "signal"]
    assert main([*argv, "--send"]) == 0
    assert main([*argv, "--send"]) == 0
    assert [(m.chat_id, m.kind) for m in fake.messages()] == [(ALLOWED, "photo"), (GROUP, "photo")]
    assert "already went to chat(s) 111, -222: not sent again" in capsys.readouterr().err
    assert main([*argv, "--resend"]) == 0
    assert [m.chat_id for m in fake.messages()] == [ALLOWED, GROUP] * 2
    err = capsys.readouterr().err
    assert "resending alert" in err and "as asked" in err
    config = load_config(make_config())
    ids = [m.message_id for m in fake.messages()]
    assert outbox(config) == [(ALLOWED, "sent", [ids[2]]), (GROUP, "sent", [ids[3]])]


def test_the_daemon_and_signal_send_share_each_message(
    fake: FakeTelegram, make_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("ROTABOT_TELEGRAM_TOKEN", TOKEN)
    path = str(make_config())
    day = ["--simulate-from", LAST_SESSION, "--simulate-to", LAST_SESSION]
    assert main(["--config", path, "daemon", *day]) == 0
    assert [m.chat_id for m in fake.messages()] == [ALLOWED, GROUP]
    assert main(["--config", path, "signal", "--send"]) == 0  # the daemon's alert: not again
    assert [m.chat_id for m in fake.messages()] == [ALLOWED, GROUP]
    assert "not sent again" in capsys.readouterr().err


def test_rate_limit_is_waited_out_and_the_alert_arrives_exactly_once(
    fake: FakeTelegram, make_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROTABOT_TELEGRAM_TOKEN", TOKEN)
    fake.script("sendPhoto", Fail(429, retry_after=1))
    assert main(["--config", str(make_config(chat_ids=[ALLOWED])), "signal", "--send"]) == 0
    calls = fake.calls_to("sendPhoto")
    assert [c.status for c in calls] == [429, 200]
    assert calls[1].at - calls[0].at >= 1.0  # retry_after honoured
    assert len(fake.messages(ALLOWED)) == 1


def _notifier(config: Config, **timeouts: float) -> TelegramNotifier:
    return TelegramNotifier(
        config, TOKEN, policy=RetryPolicy(attempts=3, backoff=0.05), timeouts=Timeouts(**timeouts)
    )


def test_server_error_is_retried_and_delivered_once(fake: FakeTelegram, config: Config) -> None:
    fake.script("sendMessage", Fail(500), Fail(502))
    outgoing = Outgoing("k", "alert", (TextPart("<b>hello</b>"),))
    (row,) = send_through_outbox(config, _notifier(config), outgoing)
    assert row.status == "sent" and row.message_ids == [fake.messages()[0].message_id]
    assert [c.status for c in fake.calls_to("sendMessage")] == [500, 502, 200]
    assert [m.plain for m in fake.messages()] == ["hello"]


def test_a_send_that_timed_out_after_going_out_is_not_sent_again(
    fake: FakeTelegram, config: Config
) -> None:
    fake.script("sendMessage", Slow(1.0))
    parts = (TextPart("the alert"), PhotoPart(b"\x89PNG", "ratio.png", "chart"))
    outgoing = Outgoing("2024-08-12 shock chips->platforms", "alert", parts)
    (row,) = send_through_outbox(config, _notifier(config, read=0.3), outgoing)
    time.sleep(1.0)  # let the slow answer finish: a resend would have arrived by now
    assert [m.kind for m in fake.messages(ALLOWED)] == ["text", "photo"]  # each exactly once
    # The photo was confirmed, the text may not have arrived: the row stays in doubt.
    assert row.status == "unconfirmed" and row.error and "part 0 unconfirmed" in row.error
    assert row.message_ids == [fake.messages(ALLOWED)[1].message_id]
    again = send_through_outbox(config, _notifier(config), outgoing)  # queued again: a no-op
    assert again == [row] and len(fake.messages(ALLOWED)) == 2


def test_long_alert_goes_out_as_split_text_then_photo(fake: FakeTelegram, config: Config) -> None:
    block = "<b>Rotation</b> &amp; more\n<pre>" + "\n".join(f"T{i:04d}  -1.0%" for i in range(60))
    text = "\n\n".join([block + "</pre>"] * 12)  # about 10k characters
    outgoing = Outgoing("k", "alert", compose(text, b"\x89PNG", "ratio.png", "the chart"))
    (row,) = send_through_outbox(config, _notifier(config), outgoing)
    got = fake.messages(ALLOWED)
    assert row.status == "sent" and row.message_ids == [m.message_id for m in got]
    assert [m.kind for m in got] == ["text"] * (len(got) - 1) + ["photo"]
    assert len(got) >= 4  # the fake refuses any text over 4096 or with broken HTML
    assert all(c.status == 200 for c in fake.calls)
    assert sum(m.text.count("T0059") for m in got) == 12


def test_charts_off_sends_text_only(
    fake: FakeTelegram, make_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROTABOT_TELEGRAM_TOKEN", TOKEN)
    assert main(["--config", str(make_config(charts=False)), "signal", "--send"]) == 0
    assert [m.kind for m in fake.messages()] == ["text", "text"]


def test_quiet_day_summary_only_when_asked_for(
    fake: FakeTelegram, make_config: Callable[..., Path], prices: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("ROTABOT_TELEGRAM_TOKEN", TOKEN)
    write_market(prices, market_closes(shock_last=False))
    assert main(["--config", str(make_config()), "signal", "--send"]) == 0
    assert fake.messages() == []
    assert main(["--config", str(make_config(send_quiet_days=True)), "signal", "--send"]) == 0
    assert [m.plain.split("\n")[0] for m in fake.messages()] == ["⚪ No rotation · 2024-08-12"] * 2


def test_without_a_token_the_console_shows_what_telegram_would_get(
    fake: FakeTelegram, make_config: Callable[..., Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    assert main(["--config", str(make_config(chat_ids=[])), "signal", "--send"]) == 0
    out, err = capsys.readouterr()
    assert "ROTABOT_TELEGRAM_TOKEN is not set" in err
    assert "--- alert photo to console (HTML) ---" in out
    assert f"<b>{CHIPS} → Platforms (gold diggers)</b>" in out
    saved = tmp_path / "state" / "rotabot-charts" / f"ratio-chips-platforms-{LAST_SESSION}.png"
    assert f"[photo saved to {saved}]" in out
    assert saved.read_bytes().startswith(b"\x89PNG")
    assert fake.calls == []


def test_muted_chat_is_skipped_until_unmuted(
    fake: FakeTelegram, make_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_config(make_config())
    assert "muted in this chat until" in ask(config, fake, ALLOWED, "/mute 3")[0]
    monkeypatch.setenv("ROTABOT_TELEGRAM_TOKEN", TOKEN)
    assert main(["--config", str(make_config()), "signal", "--send"]) == 0
    assert [m.kind for m in fake.messages(ALLOWED)] == ["text"]  # only the /mute reply
    assert [m.kind for m in fake.messages(GROUP)] == ["photo"]
    assert ask(config, fake, ALLOWED, "/unmute")[-1] == "Alerts resumed in this chat."


# --- secrets -----------------------------------------------------------------------------


def test_token_never_appears_in_output_or_logs(
    fake: FakeTelegram, make_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    monkeypatch.setattr(logging.getLogger("httpx"), "level", logging.DEBUG)  # it logs URLs
    monkeypatch.setenv("ROTABOT_TELEGRAM_TOKEN", TOKEN)
    path = str(make_config())
    assert main(["--config", path, "--log-level", "DEBUG", "signal", "--send"]) == 0
    assert main(["--config", path, "check-config"]) == 0
    fake.token = "another-token"  # the server now refuses ours: an error path
    assert main(["--config", path, "signal", "--resend"]) == 1  # --send: sent already
    out, err = capsys.readouterr()
    assert "Telegram rejected the token in $ROTABOT_TELEGRAM_TOKEN" in err
    assert "/bot<redacted>/sendPhoto" in caplog.text  # the URLs were logged, token scrubbed
    for text in (out, err, caplog.text, repr(TelegramNotifier(load_config(path), TOKEN))):
        assert TOKEN not in text


# --- commands ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/start", f"I watch money rotate between baskets of stocks ({PAIR_TITLE})"),
        ("/help", "/backtest STRATEGY [pair=A/B] [key=value ...] - backtest a strategy"),
        ("/status", "Data through  2024-08-12"),
        ("/signal", f"SEVERE · shock rotation · {PAIR_TITLE} · {LAST_SESSION}"),
        ("/signal 2024-08-09", "No rotation · 2024-08-09"),
        ("/signal chips/platforms 2024-08-09", "No rotation · 2024-08-09"),
        ("/chart", f"{PAIR_TITLE}: ratio, last 250 sessions"),
        ("/chart 30", "ratio, last 30 sessions"),
        ("/chart 30 chips/platforms", f"{PAIR_TITLE}: ratio, last 30 sessions"),
        ("/rrg", "relative rotation vs the benchmark, tails of 10 sessions"),
        ("/rrg 3", "tails of 3 sessions"),
        ("/baskets", "AAA"),
        ("/scorecard", "events a replay finds"),
        ("/scorecard chips/platforms", "pct: where the mean stands among random sessions"),
        ("/mute", "Alerts muted in this chat until"),
        ("/unmute", "Alerts were not muted here."),
    ],
)
def test_each_command_is_answered_in_an_allowed_chat(
    fake: FakeTelegram, config: Config, command: str, expected: str
) -> None:
    replies = ask(config, fake, ALLOWED, command)
    assert len(replies) == 1 and expected in replies[0], replies
    assert all(c.status == 200 for c in fake.calls)  # valid HTML, within Telegram's limits
    if command.startswith(("/chart", "/rrg")):
        assert fake.messages(ALLOWED)[0].kind == "photo"


def test_scorecard_refuses_what_is_not_a_pair(fake: FakeTelegram, config: Config) -> None:
    (reply,) = ask(config, fake, ALLOWED, "/scorecard soon")
    assert "cannot read 'soon': want a watched pair" in reply


def test_help_and_the_command_menu_list_every_command(fake: FakeTelegram, config: Config) -> None:
    help_text = ask(config, fake, GROUP, "/help@rotabot_test_bot")[0]
    assert [line.split()[0][1:] for line in help_text.splitlines()[1:]] == [
        c.name for c in COMMANDS
    ]  # fmt: skip
    assert "/chart [PAIR] [SESSIONS] - a pair's ratio chart over SESSIONS sessions" in help_text
    assert [c["command"] for c in fake.commands] == [c.name for c in COMMANDS]


@pytest.mark.parametrize(
    ("text", "first_line"),
    [
        ("/stauts", "Unknown command /stauts, did you mean 'status'?: the commands are below."),
        ("/frobnicate now", "Unknown command /frobnicate: the commands are below."),
        ("what is rotating?", "I only answer commands: the list is below"),
    ],
)
def test_unknown_commands_and_plain_text_get_a_hint_and_the_help(
    fake: FakeTelegram, config: Config, text: str, first_line: str
) -> None:
    (reply,) = ask(config, fake, ALLOWED, text)
    lines = reply.splitlines()
    assert lines[0].startswith(first_line)
    assert lines[2] == "Commands" and "/status - " in reply


def test_version_names_the_running_rotabot(fake: FakeTelegram, config: Config) -> None:
    from bot import __version__

    (reply,) = ask(config, fake, ALLOWED, "/version")
    assert reply.startswith(f"rotabot {__version__}\n") and "python-telegram-bot 22." in reply


def test_backtest_replies_with_the_result(fake: FakeTelegram, config: Config) -> None:
    reply = ask(config, fake, ALLOWED, "/backtest rs_trend window=20 pair=chips/platforms")[0]
    assert reply.startswith("Backtest rs_trend 2024-"), reply


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (
            "/signal 2024-13-45",
            "not a date: '2024-13-45' (want YYYY-MM-DD)\nUsage: /signal [PAIR] [DATE]",
        ),
        ("/signal 2024-08-12 20240812", "give at most one pair and one date\nUsage: /signal"),
        ("/signal 2023-01-03", "reaches outside the data"),
        (
            "/chart 0",
            "SESSIONS must be between 20 and 5000, got 0\nUsage: /chart [PAIR] [SESSIONS]",
        ),
        ("/chart lots", "SESSIONS must be a whole number, got 'lots'"),
        ("/chart " + "9" * 60, "SESSIONS must be a whole number, got '" + "9" * 40 + "…'"),
        ("/rrg 251", "SESSIONS must be between 1 and 250, got 251\nUsage: /rrg [SESSIONS]"),
        ("/rrg 5 5", "too many arguments: '5'"),
        ("/mute 9999", "DAYS must be between 1 and 365, got 9999"),
        ("/backtest", "name a strategy\nUsage: /backtest STRATEGY [pair=A/B] [key=value ...]"),
        ("/backtest rs_trend window", "cannot read 'window': want STRATEGY [pair=A/B]"),
    ],
)
def test_bad_arguments_get_a_short_helpful_reply(
    fake: FakeTelegram, config: Config, command: str, expected: str
) -> None:
    replies = ask(config, fake, ALLOWED, command)
    assert len(replies) == 1 and expected in replies[0]


# --- many pairs --------------------------------------------------------------------------

# A third basket and two watched pairs; the synthetic shock hits both pairs on the last session.
MORE_BASKETS = """
[baskets.mixed]
name = "Mixed (a bit of both)"
tickers = ["AAA", "BBB"]

[watch]
pairs = ["chips/platforms", "platforms/mixed"]
rrg_tail = 5

[benchmark]"""
WATCHED = "Watched: chips/platforms, platforms/mixed"


@pytest.fixture
def two_pairs(make_config: Callable[..., Path]) -> Config:
    path = make_config(chat_ids=[ALLOWED])
    path.write_text(path.read_text().replace("[benchmark]", MORE_BASKETS, 1))
    return load_config(path)


def conversation(config: Config, fake: FakeTelegram, lines: list[str]) -> list[list[Delivered]]:
    """Send each line from ALLOWED in turn, on one running bot; return each one's answers."""
    answers: list[list[Delivered]] = []

    async def body() -> None:
        for line in lines:
            before = len(fake.messages(ALLOWED))
            fake.queue_message(ALLOWED, line)
            await fake.until(lambda: len(fake.messages(ALLOWED)) > before, timeout=20)  # noqa: B023
            answers.append(fake.messages(ALLOWED)[before:])

    talk(config, body)
    assert all(c.status == 200 for c in fake.calls)  # valid HTML, within Telegram's limits
    return answers


def test_signal_reports_every_watched_pair_or_the_one_named(
    fake: FakeTelegram, two_pairs: Config
) -> None:
    lines = [
        "/signal",
        "/signal platforms/mixed",
        "/signal 2024-08-09",
        "/signal 2024-08-09 Platforms/Mixed",
    ]
    every, one, quiet, quiet_one = [
        [m.plain for m in ms] for ms in conversation(two_pairs, fake, lines)
    ]
    (text,) = every  # one reply: an alert per pair, in config order
    first = text.index(f"SEVERE · shock rotation · {PAIR_TITLE} · {LAST_SESSION}")
    assert first < text.index(f"SEVERE · shock rotation · Platforms/Mixed · {LAST_SESSION}")
    assert one[0].startswith(f"🔴 SEVERE · shock rotation · Platforms/Mixed · {LAST_SESSION}")
    assert "Chips" not in one[0]
    (text,) = quiet  # a quiet day: one headline, then each pair's moves and trend
    assert text.count("No rotation · 2024-08-09") == 1
    assert f"Ratio {PAIR_TITLE} " in text and "Ratio Platforms/Mixed " in text
    assert quiet_one[0].startswith("⚪ No rotation · 2024-08-09") and "Chips" not in quiet_one[0]


def test_chart_rrg_and_baskets_with_several_pairs(fake: FakeTelegram, two_pairs: Config) -> None:
    lines = ["/chart platforms/mixed 60", "/rrg 15", "/rrg", "/baskets"]
    chart, rrg, rrg_default, baskets = conversation(two_pairs, fake, lines)
    assert [(m.kind, m.filename) for m in chart] == [("photo", "ratio-platforms-mixed.png")]
    assert chart[0].plain == "Platforms/Mixed: ratio, last 60 sessions"
    assert chart[0].photo and chart[0].photo.startswith(b"\x89PNG")
    assert [(m.kind, m.filename) for m in rrg] == [("photo", "rrg.png")]
    assert "every basket" in rrg[0].plain.lower() and "tails of 15 sessions" in rrg[0].plain
    assert "tails of 5 sessions" in rrg_default[0].plain  # watch.rrg_tail
    assert "Mixed (a bit of both)" in baskets[0].plain
    assert "Pairs watched (numerator/denominator): chips/platforms, platforms/mixed" in (
        baskets[0].plain
    )


def test_a_pair_not_watched_gets_a_short_reply_naming_the_watched_ones(
    fake: FakeTelegram, two_pairs: Config
) -> None:
    lines = [
        "/signal nosuch/pair",
        "/chart mixed/platforms 30",
        "/backtest rs_trend pair=nosuch/pair",  # refused before any backtest runs
        "/signal 2024-08-12 " + "x/" * 90,
        "/signal 2024-08-12 " + "x/" * 2000,  # longer than any argument: refused unread
    ]
    answers = [[m.plain for m in ms] for ms in conversation(two_pairs, fake, lines)]
    assert answers[0] == [f"'nosuch/pair' is not a watched pair. {WATCHED}"]
    assert answers[1] == [
        f"'mixed/platforms' is not a watched pair, but platforms/mixed is. {WATCHED}"
    ]
    assert answers[2] == answers[0]
    (long,) = answers[3]  # only a short prefix of the argument comes back
    assert long == f"'{'x/' * 20}…' is not a watched pair. {WATCHED}"
    (longer,) = answers[4]
    assert longer == (
        f"argument too long: '{'x/' * 20}…' has 4000 characters (at most 200)\n"
        "Usage: /signal [PAIR] [DATE]"
    )


# --- authorisation -----------------------------------------------------------------------


def _ignored(caplog: pytest.LogCaptureFixture, chat: int) -> bool:
    return any(f"unauthorised chat {chat} " in r.getMessage() for r in caplog.records)


def test_unknown_chat_gets_nothing_and_is_logged(
    fake: FakeTelegram, config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    async def body() -> None:
        fake.queue_message(STRANGER, "/start")
        fake.queue_message(STRANGER, "/status")
        await fake.until(lambda: _ignored(caplog, STRANGER))
        fake.queue_message(ALLOWED, "/help")  # answered after the stranger's updates
        await fake.until(lambda: bool(fake.messages(ALLOWED)))

    talk(config, body)
    assert fake.messages(STRANGER) == []


def test_reveal_chat_id_answers_start_from_an_unknown_chat(
    fake: FakeTelegram, make_config: Callable[..., Path], caplog: pytest.LogCaptureFixture
) -> None:
    config = load_config(make_config(reveal_chat_id=True))
    assert ask(config, fake, STRANGER, "/start") == [
        f"This chat's id is {STRANGER}. Add it to telegram.chat_ids in the bot's config.toml "
        "to receive alerts here."
    ]
    assert _ignored(caplog, STRANGER)


def test_edited_messages_and_other_users_are_not_served(
    fake: FakeTelegram, make_config: Callable[..., Path]
) -> None:
    config = load_config(make_config(allowed_user_ids=[5]))

    async def body() -> None:
        fake.queue_message(ALLOWED, "/status", user_id=5, edited=True)
        fake.queue_message(ALLOWED, "/status", user_id=6)  # allowed chat, not an allowed user
        fake.queue_message(ALLOWED, "/help", user_id=5)
        await fake.until(lambda: bool(fake.messages(ALLOWED)))

    talk(config, body)
    assert [m.plain.split("\n")[0] for m in fake.messages(ALLOWED)] == ["Commands"]


# --- rotabot serve -----------------------------------------------------------------------


def test_serve_without_a_token_exits_2_naming_the_variable(
    config: Config, make_config: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(make_config()), "serve"]) == 2
    assert "set the environment variable ROTABOT_TELEGRAM_TOKEN" in capsys.readouterr().err


def test_serve_answers_commands_until_sigterm(
    fake: FakeTelegram, make_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROTABOT_TELEGRAM_TOKEN", TOKEN)
    path = str(make_config())

    def operator() -> None:
        try:
            fake.wait_for(lambda: bool(fake.calls_to("getUpdates")))
            fake.queue_message(ALLOWED, "/baskets")
            fake.wait_for(lambda: bool(fake.messages(ALLOWED)), timeout=20)
        finally:
            os.kill(os.getpid(), signal.SIGTERM)  # what systemd sends; PTB stops cleanly

    thread = threading.Thread(target=operator, daemon=True)
    thread.start()
    assert main(["--config", path, "serve"]) == 0
    thread.join(5)
    assert "AAA" in fake.messages(ALLOWED)[0].plain


# --- failures are told, never silent ----------------------------------------------------


class BrokenService(BotService):
    """A service with a bug in /status (a fake standing in for any unexpected failure)."""

    def status(self, chat_id: int) -> object:  # type: ignore[override]
        raise RuntimeError("a bug")


def test_an_unexpected_failure_gets_an_apology_and_is_logged(
    fake: FakeTelegram, config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    async def body() -> None:
        fake.queue_message(ALLOWED, "/status")
        await fake.until(lambda: bool(fake.messages(ALLOWED)))

    async def scenario() -> None:
        async with running(build_application(config, TOKEN, BrokenService(config))):
            await body()

    asyncio.run(scenario())
    assert [m.plain for m in fake.messages(ALLOWED)] == [
        "Sorry, that failed on my side; the details are in the bot's log."
    ]  # fmt: skip
    assert any(r.exc_info and "a bug" in str(r.exc_info[1]) for r in caplog.records)


def test_missing_price_data_is_explained(fake: FakeTelegram, config: Config, prices: Path) -> None:
    for csv in prices.glob("*.csv"):
        csv.unlink()
    assert "no price file for AAA" in ask(config, fake, ALLOWED, "/signal")[0]


def test_unreachable_telegram_fails_the_send_with_exit_1(
    make_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    path = make_config()
    text = re.sub(r"http://127\.0\.0\.1:\d+/bot", f"http://127.0.0.1:{port}/bot", path.read_text())
    path.write_text(text)
    monkeypatch.setenv("ROTABOT_TELEGRAM_TOKEN", TOKEN)
    assert main(["--config", str(path), "signal", "--send"]) == 1
    assert "rotabot: failed: cannot reach Telegram" in capsys.readouterr().err


def test_status_shows_the_checks_during_the_session(fake: FakeTelegram, config: Config) -> None:
    from datetime import UTC, date, datetime

    from bot.store.db import connect
    from bot.store.state import StateStore

    day, now = date(2024, 8, 12), datetime(2024, 8, 12, 14, 30, tzinfo=UTC)
    conn = connect(config.state.path)
    store = StateStore(conn)
    store.record_check(day, "10:30", now, "read")
    for at in ("12:00", "14:00", "15:15"):
        store.record_check(day, at, now, "skipped", "no bar yet for AAA")
    conn.close()
    (reply,) = ask(config, fake, ALLOWED, "/status")
    assert "During the session" in reply
    assert f"checks {day}: 10:30 read, 12:00 skipped, 14:00 skipped, 15:15 skipped" in reply
    assert reply.count("3 intraday checks skipped in a row") == 1
    assert "no bar yet for AAA" in reply


def test_now_reads_the_session_as_a_check_would(
    fake: FakeTelegram, make_config: Callable[..., Path], tmp_path: Path
) -> None:
    from datetime import UTC, datetime, time
    from zoneinfo import ZoneInfo

    import pandas as pd

    from tests.fake_telegram import market_closes

    ny = ZoneInfo("America/New_York")
    session = date(2024, 8, 13)  # the session after the synthetic market's last
    last = market_closes().iloc[-1]
    moves = {"AAA": -0.06, "BBB": -0.05, "CCC": -0.07, "DDD": 0.04, "EEE": 0.03, "FFF": 0.05}
    starts = pd.date_range(datetime.combine(session, time(9, 30), ny), periods=30, freq="5min")
    bars = tmp_path / "bars"
    bars.mkdir()
    for ticker, close in last.items():
        price = close * (1 + moves.get(str(ticker), 0.0))
        rows = [f"{s.isoformat()},{price},{price},{price},{price},1" for s in starts]
        (bars / f"{ticker}.csv").write_text(
            "datetime,open,high,low,close,volume\n" + "\n".join(rows)
        )
    path = make_config()
    path.write_text(path.read_text() + f'\n[intraday]\ncsv_dir = "{bars}"\nthreshold = 3.0\n')
    config = load_config(path)

    def now_at(moment: datetime) -> str:
        before = len(fake.messages(ALLOWED))

        async def body() -> None:
            app = build_application(config, TOKEN, BotService(config, clock=lambda: moment))
            async with running(app):
                fake.queue_message(ALLOWED, "/now")
                await fake.until(lambda: len(fake.messages(ALLOWED)) > before, timeout=20)

        asyncio.run(body())
        return fake.messages(ALLOWED)[-1].plain

    reply = now_at(datetime.combine(session, time(11), ny).astimezone(UTC))
    assert "Now · 11:00 ET" in reply
    chips = "<b>Chips & Co</b>"  # the basket's name, shown as written (escaped on the wire)
    assert f"11:00 ET: {chips} -6.0% vs Platforms +4.0% while the Index is +0.0%" in reply
    assert f"warning: {chips} → Platforms (provisional, the close decides)" in reply
    closed = now_at(datetime(2024, 8, 17, 15, tzinfo=UTC))  # a Saturday
    assert "The market is closed" in closed and "/signal shows the last close" in closed
