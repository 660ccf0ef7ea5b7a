"""Who gets answered, and that names with markup are always shown as text.

The real python-telegram-bot client talks to the fake Bot API server, which (like Telegram)
refuses malformed HTML with a 400. Two promises are checked for every command in COMMANDS:

* commands from unknown chats, from users outside ``telegram.allowed_user_ids`` (even in an
  allowed chat) and edited messages reach no handler: nothing is sent back and nothing
  changes, except the opt-in ``reveal_chat_id`` answer to a /start;
* basket names and the benchmark name with HTML or Markdown characters, and arguments echoed
  back in an error, are escaped in every reply and alert: the chat shows them literally, and
  no tag of theirs reaches Telegram. (Basket keys cannot carry markup: the configuration
  allows only ``[a-z0-9_]`` in them.)
"""

from __future__ import annotations

import asyncio
import json
import logging
from contextlib import closing
from pathlib import Path

import pytest

from bot.cli.main import main
from bot.config import Config, load_config, parse_config
from bot.errors import ConfigError
from bot.render.replies import SORRY, render_chat_id
from bot.store.db import connect
from bot.telegram.app import COMMANDS, build_application, running
from bot.telegram.service import BotService
from tests.fake_telegram import (
    TOKEN,
    Delivered,
    FakeTelegram,
    config_text,
    market_closes,
    write_market,
)

pytestmark = [
    pytest.mark.integration,
    # PTB's own RetryAfter constructor reads its int-or-timedelta attribute, deprecated in 22.2.
    pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning"),
]

ALLOWED, GROUP = 111, -222  # the served chats
STRANGER, STRANGE_GROUP = 999, -333  # chats not in telegram.chat_ids
USER, FORGER = 5, 6  # telegram.allowed_user_ids = [USER]
ARGUMENTS = {"signal": "2024-08-12", "chart": "30", "mute": "3", "backtest": "rs_trend"}

NASTY_CHIPS = "<script>alert('x')</script> & *bold* _it_ `code`"
NASTY_PLATFORMS = "<b>Plat</b> & Co *_[link](http://x)"
NASTY_BENCH = "S&P <500>"
NASTY_KEYS = ("chips_1", "plat_2")  # keys allow [a-z0-9_] only: the awkward ones, still
NASTY_PAIR = f"{NASTY_KEYS[0]}/{NASTY_KEYS[1]}"


def write_config(
    folder: Path, fake: FakeTelegram, nasty: bool = False, shock: bool = True, **telegram: object
) -> Path:
    prices = write_market(folder / "prices", market_closes(shock_last=shock))
    chats = telegram.pop("chat_ids", (ALLOWED, GROUP))
    text = config_text(
        prices, fake.api_base_url, chats,  # type: ignore[arg-type]
        chips_name=NASTY_CHIPS if nasty else "Chips", **telegram,
    )  # fmt: skip
    if nasty:
        text = (
            text.replace('"Platforms (gold diggers)"', json.dumps(NASTY_PLATFORMS))
            .replace('name = "Index"', f"name = {json.dumps(NASTY_BENCH)}")
            .replace("[baskets.chips]", f"[baskets.{NASTY_KEYS[0]}]")
            .replace("[baskets.platforms]", f"[baskets.{NASTY_KEYS[1]}]")
        )
    path = folder / "config.toml"
    path.write_text(text)
    return path


def command_texts() -> list[str]:
    """Every command of the table, with a typical argument, and one addressed to the bot."""
    texts = [f"/{c.name} {ARGUMENTS.get(c.name, '')}".strip() for c in COMMANDS]
    return [*texts, "/status@rotabot_test_bot"]


def sends(fake: FakeTelegram) -> list[int]:
    """The chat of every message the bot tried to send (accepted or not)."""
    return [
        int(c.params["chat_id"]) for c in fake.calls if c.method in ("sendMessage", "sendPhoto")
    ]


def _ignored(caplog: pytest.LogCaptureFixture) -> int:
    return sum("ignored an update from unauthorised chat" in r.getMessage() for r in caplog.records)


# --- authorisation ------------------------------------------------------------------------


@pytest.mark.parametrize("reveal", [False, True], ids=["quiet", "reveal_chat_id"])
def test_strangers_forged_users_and_edits_reach_no_handler(
    fake: FakeTelegram, tmp_path: Path, caplog: pytest.LogCaptureFixture, reveal: bool
) -> None:
    caplog.set_level(logging.WARNING)
    config = load_config(
        write_config(tmp_path, fake, allowed_user_ids=[USER], reveal_chat_id=reveal)
    )
    unauthorised = [  # (chat, user): the chat or the user is not allowed
        (STRANGER, STRANGER), (STRANGE_GROUP, USER), (ALLOWED, FORGER), (GROUP, FORGER),
    ]  # fmt: skip
    texts = command_texts()
    assert {t.split()[0][1:].split("@")[0] for t in texts} == {c.name for c in COMMANDS}

    async def body() -> None:
        for text in texts:
            for chat, user in unauthorised:
                fake.queue_message(chat, text, user_id=user)
                fake.queue_message(chat, text, user_id=user, edited=True)
            fake.queue_message(ALLOWED, text, user_id=USER, edited=True)  # an allowed user's edit
        # The bot logs every update it turns away (edits by the allowed user match no handler
        # at all); once all are logged, one real command shows the bot is alive and answering.
        await fake.until(lambda: _ignored(caplog) >= 2 * len(unauthorised) * len(texts))
        fake.queue_message(ALLOWED, "/help", user_id=USER)
        await fake.until(lambda: any(m.plain.startswith("Commands") for m in fake.messages()))
        await asyncio.sleep(1.0)  # room for any late answer a leak would send

    _talk(config, body)
    served = [m for m in fake.messages() if m.plain.startswith("Commands")]
    assert [m.chat_id for m in served] == [ALLOWED]
    others = [m for m in fake.messages() if m not in served]
    if reveal:  # only each new (unedited) /start from outside gets the chat's id, nothing else
        assert sorted(m.chat_id for m in others) == sorted(chat for chat, _ in unauthorised)
        assert all(m.text == render_chat_id(m.chat_id) for m in others)
    else:
        assert others == []
    assert sorted(sends(fake)) == sorted([ALLOWED] + [m.chat_id for m in others])
    assert not fake.calls_to("sendPhoto")
    assert _mutes(config) == []  # the forged /mute changed nothing


def test_without_allowed_user_ids_any_member_of_an_allowed_chat_is_served(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    """The counterpart of the test above: the same filter lets the right updates through."""
    config = load_config(write_config(tmp_path, fake))

    async def body() -> None:
        fake.queue_message(GROUP, "/baskets", user_id=FORGER)
        await fake.until(lambda: bool(fake.messages(GROUP)))

    _talk(config, body)
    assert "AAA" in fake.messages(GROUP)[0].plain


def _talk(config: Config, body: object) -> None:
    async def scenario() -> None:
        async with running(build_application(config, TOKEN, BotService(config))):
            await body()  # type: ignore[operator]

    asyncio.run(scenario())


def _mutes(config: Config) -> list[tuple[int, str]]:
    if not config.state.path.exists():
        return []
    with closing(connect(config.state.path)) as conn:
        return [(int(c), str(u)) for c, u in conn.execute("SELECT chat_id, until FROM chat_mutes")]


# --- escaping -----------------------------------------------------------------------------


def test_tickers_cannot_carry_markup() -> None:
    """Tickers are checked against a strict pattern, so only names and keys need escaping."""
    raw = {
        "baskets": {
            "a": {"tickers": ["<B>", "A&B", "*_`", "AAA"]},
            "b": {"tickers": ["BBB"]},
        },
        "benchmark": {"ticker": "<i>"},
    }
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    problems = "\n".join(info.value.problems)
    for where in ("baskets.a.tickers[0]", "baskets.a.tickers[1]", "baskets.a.tickers[2]"):
        assert where in problems
    assert "benchmark.ticker" in problems


def assert_shown_escaped(message: Delivered, *names: str) -> None:
    """The chat shows each name literally, and its raw tags never reach Telegram."""
    for name in names:
        assert name in message.plain, (name, message.plain)
    for tag in ("<script>", "</script>", "<b>Plat", "<500>"):
        assert tag not in message.text, message.text


NASTY_SHORT = "<script>alert('x')</script> & *bold* _it_ `code`/<b>Plat</b> & Co *_"
# A command line per command of the table, what its reply must show, and arguments that get
# echoed back in the error reply.
REPLIES = [
    ("/start", (NASTY_CHIPS, NASTY_PLATFORMS)),
    ("/help", ()),
    ("/status", ()),
    ("/signal", (NASTY_CHIPS, NASTY_PLATFORMS, NASTY_BENCH, NASTY_SHORT)),
    ("/signal 2024-08-09", (NASTY_BENCH,)),  # a quiet day: the moves table
    (f"/signal {NASTY_PAIR} 2024-08-09", (NASTY_BENCH, NASTY_SHORT)),
    ("/chart 30", (NASTY_SHORT,)),
    (f"/chart {NASTY_PAIR}", (NASTY_SHORT,)),
    ("/rrg", ("relative rotation vs the benchmark",)),
    ("/baskets", (NASTY_CHIPS, NASTY_PLATFORMS, NASTY_BENCH, *NASTY_KEYS)),
    ("/backtest rs_trend window=20", ("Backtest rs_trend", f"hold_{NASTY_KEYS[0]}")),
    ("/backtest rs_trend x=<script>", ("no parameter 'x'",)),
    ("/mute 1", ()),
    ("/unmute", ()),
    ("/signal <b>2024", ("not a date: '<b>2024'",)),
    ("/signal <b>x</b>/y", ("'<b>x</b>/y' is not a watched pair", NASTY_PAIR)),
    ("/chart <i>&amp;", ("SESSIONS must be a whole number, got '<i>&amp;'",)),
    ("/rrg <script>", ("SESSIONS must be a whole number, got '<script>'",)),
    ("/backtest <b>x", ("cannot read '<b>x'",)),
    ("/backtest rs_trend pair=<i>a/b</i>", ("'<i>a/b</i>' is not a watched pair",)),
    ("/scorecard", ("Scorecard",)),
    ("/scorecard <b>x</b>", ("'<b>x</b>' is not a watched pair",)),
    # Refused before the clock is read: the reply cannot depend on the time the test runs.
    ("/now <b>x</b>", ("'<b>x</b>' is not a watched pair",)),
    ("/version", ("rotabot",)),
]


def test_every_reply_shows_names_and_arguments_escaped(fake: FakeTelegram, tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, fake, nasty=True, chat_ids=(ALLOWED,)))
    assert {line.split()[0][1:] for line, _ in REPLIES} == {c.name for c in COMMANDS}
    replies: dict[str, list[Delivered]] = {}

    async def body() -> None:
        for line, _ in REPLIES:
            before = len(fake.messages(ALLOWED))
            fake.queue_message(ALLOWED, line)
            await fake.until(lambda: len(fake.messages(ALLOWED)) > before, timeout=60)  # noqa: B023
            replies[line] = fake.messages(ALLOWED)[before:]

    _talk(config, body)
    _assert_all_sends_valid_html(fake)
    for line, names in REPLIES:
        (reply,) = replies[line]
        assert reply.plain != SORRY, line
        assert_shown_escaped(reply, *names)


def _assert_all_sends_valid_html(fake: FakeTelegram) -> None:
    calls = [c for c in fake.calls if c.method in ("sendMessage", "sendPhoto")]
    assert calls
    assert [c.status for c in calls] == [200] * len(calls)  # the fake refuses broken HTML
    # HTML parse mode everywhere, so Markdown characters are plain text, never formatting.
    assert {c.params.get("parse_mode") for c in calls} == {"HTML"}


@pytest.mark.parametrize("shock", [True, False], ids=["alert", "quiet_day"])
def test_alerts_show_names_escaped(
    fake: FakeTelegram, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shock: bool
) -> None:
    path = write_config(
        tmp_path, fake, nasty=True, shock=shock, chat_ids=(ALLOWED,), send_quiet_days=True
    )
    monkeypatch.setenv("ROTABOT_TELEGRAM_TOKEN", TOKEN)
    assert main(["--config", str(path), "signal", "--send"]) == 0
    _assert_all_sends_valid_html(fake)
    shown = "\n".join(m.plain for m in fake.messages(ALLOWED))
    if shock:  # the event's headline names both baskets in full
        assert f"{NASTY_CHIPS} → {NASTY_PLATFORMS}" in shown
        assert fake.messages(ALLOWED)[-1].kind == "photo"
    assert f"vs {NASTY_BENCH}: " in shown
    for message in fake.messages(ALLOWED):
        assert_shown_escaped(message)
