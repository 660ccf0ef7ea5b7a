"""Telegram end to end: the real python-telegram-bot talks HTTP to the fake Bot API server."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import re
import signal
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest

from bot.cli.main import main
from bot.config import Config, load_config
from bot.notify.delivery import Outgoing, compose, deliver
from bot.notify.notifiers import (
    DeliveryLog,
    PhotoPart,
    RetryPolicy,
    TelegramNotifier,
    TextPart,
    Timeouts,
)
from bot.render.text import BACKTEST_MISSING
from bot.store.db import connect
from bot.telegram.app import COMMANDS, build_application, running
from bot.telegram.service import BotService
from tests.fake_telegram import (
    TOKEN,
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


def deliveries(config: Config) -> list[tuple[int, str, str, int | None]]:
    with closing(connect(config.state.path)) as conn:
        rows = conn.execute("SELECT chat_id, part, status, message_id FROM deliveries ORDER BY id")
        return [(int(c), str(p), str(s), m) for c, p, s, m in rows]


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
    assert caption.startswith(f"🔴 SEVERE · shock rotation · {LAST_SESSION}")  # parsed text
    assert f"{CHIPS} → Platforms (gold diggers)" in fake.calls_to("sendPhoto")[0].params["caption"]
    assert got[0].photo and got[0].photo.startswith(b"\x89PNG")
    assert got[0].filename == f"ratio-{LAST_SESSION}.png"
    config = load_config(make_config())
    assert [(c, p, s) for c, p, s, _ in deliveries(config)] == [
        (ALLOWED, "photo", "sent"), (GROUP, "photo", "sent")
    ]  # fmt: skip
    assert [m for *_, m in deliveries(config)] == [m.message_id for m in got]
    assert "sent alert" in capsys.readouterr().err


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


def _notifier(config: Config, conn: object, **timeouts: float) -> TelegramNotifier:
    return TelegramNotifier(
        config, TOKEN, DeliveryLog(conn),  # type: ignore[arg-type]
        policy=RetryPolicy(attempts=3, backoff=0.05), timeouts=Timeouts(**timeouts),
    )  # fmt: skip


def test_server_error_is_retried_and_delivered_once(fake: FakeTelegram, config: Config) -> None:
    fake.script("sendMessage", Fail(500), Fail(502))
    outgoing = Outgoing("k", "alert", (TextPart("<b>hello</b>"),))
    with closing(connect(config.state.path)) as conn:
        report = asyncio.run(deliver(_notifier(config, conn), [ALLOWED], outgoing))
    assert report.sent == [ALLOWED]
    assert [c.status for c in fake.calls_to("sendMessage")] == [500, 502, 200]
    assert [m.plain for m in fake.messages()] == ["hello"]


def test_a_send_that_timed_out_after_going_out_is_not_sent_again(
    fake: FakeTelegram, config: Config
) -> None:
    fake.script("sendMessage", Slow(1.0))
    parts = (TextPart("the alert"), PhotoPart(b"\x89PNG", "ratio.png", "chart"))
    outgoing = Outgoing("2024-08-12 shock chips->platforms", "alert", parts)
    with closing(connect(config.state.path)) as conn:
        notifier = _notifier(config, conn, read=0.3)
        report = asyncio.run(deliver(notifier, [ALLOWED], outgoing))
    time.sleep(1.0)  # let the slow answer finish: a resend would have arrived by now
    assert report.unconfirmed == [ALLOWED] and not report.failed
    assert [m.kind for m in fake.messages(ALLOWED)] == ["text", "photo"]  # each exactly once
    assert [(p, s) for _, p, s, _ in deliveries(config)] == [
        ("text", "unconfirmed"), ("photo", "sent")
    ]  # fmt: skip
    with closing(connect(config.state.path)) as conn:
        assert DeliveryLog(conn).delivered(outgoing.key, ALLOWED)


def test_long_alert_goes_out_as_split_text_then_photo(fake: FakeTelegram, config: Config) -> None:
    block = "<b>Rotation</b> &amp; more\n<pre>" + "\n".join(f"T{i:04d}  -1.0%" for i in range(60))
    text = "\n\n".join([block + "</pre>"] * 12)  # about 10k characters
    outgoing = Outgoing("k", "alert", compose(text, b"\x89PNG", "ratio.png", "the chart"))
    with closing(connect(config.state.path)) as conn:
        report = asyncio.run(deliver(_notifier(config, conn), [ALLOWED], outgoing))
    assert report.sent == [ALLOWED]
    got = fake.messages(ALLOWED)
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
    saved = tmp_path / "state" / "rotabot-charts" / f"ratio-{LAST_SESSION}.png"
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
    assert main(["--config", path, "signal", "--send"]) == 1
    out, err = capsys.readouterr()
    assert "Telegram rejected the token in $ROTABOT_TELEGRAM_TOKEN" in err
    assert "/bot<redacted>/sendPhoto" in caplog.text  # the URLs were logged, token scrubbed
    for text in (out, err, caplog.text, repr(TelegramNotifier(load_config(path), TOKEN))):
        assert TOKEN not in text


# --- commands ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/start", "I watch money rotate between <b>Chips & Co</b> and Platforms (gold"),
        ("/help", "/backtest STRATEGY [key=value ...] - backtest a strategy"),
        ("/status", "Data through  2024-08-12"),
        ("/signal", f"SEVERE · shock rotation · {LAST_SESSION}"),
        ("/signal 2024-08-09", "No rotation · 2024-08-09"),
        ("/chart", "<b>Chips & Co</b>/Platforms: ratio, last 250 sessions"),
        ("/chart 30", "ratio, last 30 sessions"),
        ("/rrg", "relative rotation vs the benchmark"),
        ("/baskets", "AAA"),
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


def test_help_and_the_command_menu_list_every_command(fake: FakeTelegram, config: Config) -> None:
    help_text = ask(config, fake, GROUP, "/help@rotabot_test_bot")[0]
    assert [line.split()[0][1:] for line in help_text.splitlines()[1:]] == [
        c.name for c in COMMANDS
    ]  # fmt: skip
    assert [c["command"] for c in fake.commands] == [c.name for c in COMMANDS]


def test_backtest_replies_whether_or_not_backtesting_exists(
    fake: FakeTelegram, config: Config
) -> None:
    reply = ask(config, fake, ALLOWED, "/backtest rs_trend")[0]
    if importlib.util.find_spec("bot.backtest.engine") is None:
        assert reply == BACKTEST_MISSING
    else:
        assert reply  # a result or the backtest's own complaint, never silence


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/signal 2024-13-45", "not a date: '2024-13-45' (want YYYY-MM-DD)\nUsage: /signal [DATE]"),
        ("/signal 2023-01-03", "reaches outside the data"),
        ("/chart 0", "DAYS must be between 20 and 5000, got 0\nUsage: /chart [DAYS]"),
        ("/chart lots", "DAYS must be a whole number, got 'lots'"),
        ("/mute 9999", "DAYS must be between 1 and 365, got 9999"),
        ("/backtest", "name a strategy\nUsage: /backtest STRATEGY [key=value ...]"),
        ("/backtest rs_trend window", "cannot read 'window': want STRATEGY key=value"),
    ],
)
def test_bad_arguments_get_a_short_helpful_reply(
    fake: FakeTelegram, config: Config, command: str, expected: str
) -> None:
    replies = ask(config, fake, ALLOWED, command)
    assert len(replies) == 1 and expected in replies[0]


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
