"""Telegram through python-telegram-bot 22: the only module that imports ``telegram``.

Two parts. ``TelegramClient`` sends alerts for ``bot.notify.notifiers.TelegramNotifier`` and turns
PTB's errors into ours (``Undelivered`` when Telegram surely did not take a message,
``Unconfirmed`` when it may have). ``build_application`` wires the command bot: one
``COMMANDS`` table drives the handlers, /help and the menu set with setMyCommands.

Authorisation: a command is served only in a chat of ``telegram.chat_ids`` (and, when
``telegram.allowed_user_ids`` is set, only from those users), and only for a new message,
never an edit. Anything else gets nothing: it is logged with its chat id, and with
``telegram.reveal_chat_id = true`` a /start is answered with the chat's id to ease set-up.
Handlers stay thin: parse arguments, call ``BotService`` off the event loop, format, reply.
"""

from __future__ import annotations

import asyncio
import logging
import re
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, NoReturn

import httpx
from telegram import BotCommand, Update
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CommandHandler,
    ContextTypes,
    ExtBot,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from bot.config import Config
from bot.errors import BotError, NotifyError, UsageError, UserError
from bot.notify.delivery import compose
from bot.notify.notifiers import (
    Part,
    PhotoPart,
    Timeouts,
    Unconfirmed,
    Undelivered,
    on_wire,
    protect_secret,
    redact,
)
from bot.render import text as fmt

if TYPE_CHECKING:
    from bot.telegram.service import BotService

log = logging.getLogger(__name__)

App = Application[Any, Any, Any, Any, Any, Any]
RATE_LIMIT_RETRIES = 3
CONCURRENT_UPDATES = 8  # a slow /chart must not hold up /status from another chat
CHART_DAYS = (20, 250, 5000)  # smallest, default, largest /chart window in sessions
MUTE_DAYS = (1, 1, 365)


# --- sending alerts -----------------------------------------------------------------------


class TelegramClient:
    """Send parts with PTB's ExtBot (rate limited); raise only bot.errors exceptions."""

    def __init__(self, config: Config, token: str, timeouts: Timeouts) -> None:
        protect_secret(token)
        request = _OutboxRequest(
            connect_timeout=timeouts.connect,
            read_timeout=timeouts.read,
            write_timeout=timeouts.write,
            media_write_timeout=timeouts.media_write,
            pool_timeout=timeouts.pool,
        )
        self._token_env = config.telegram.token_env
        self._bot: ExtBot[Any] = ExtBot(
            token,
            base_url=config.telegram.api_base_url,
            request=request,
            rate_limiter=AIORateLimiter(max_retries=RATE_LIMIT_RETRIES),
        )

    def __repr__(self) -> str:
        return "TelegramClient(token=<redacted>)"

    async def start(self) -> None:
        try:
            await self._bot.initialize()
        except TelegramError as exc:
            _reraise(exc, self._token_env)

    async def stop(self) -> None:
        await self._bot.shutdown()

    async def send(self, chat_id: int, part: Part) -> int:
        """Send one part; return Telegram's message id."""
        try:
            return await send_part(self._bot, chat_id, part)
        except TelegramError as exc:
            _reraise(exc, self._token_env)


class _OutboxRequest(HTTPXRequest):
    """HTTPXRequest that tells the outbox when a request really goes out (``notify.on_wire``)."""

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        on_wire()
        return await super().do_request(*args, **kwargs)


async def send_part(bot: Any, chat_id: int, part: Part) -> int:
    """Send one part with a PTB bot (alerts and command replies alike); return its id."""
    if isinstance(part, PhotoPart):
        message = await bot.send_photo(
            chat_id, part.png, caption=part.caption or None,
            parse_mode=ParseMode.HTML, filename=part.filename,
        )  # fmt: skip
    else:
        message = await bot.send_message(chat_id, part.text, parse_mode=ParseMode.HTML)
    return int(message.message_id)


def _reraise(exc: TelegramError, token_env: str) -> NoReturn:
    error = translate(exc, token_env)
    if isinstance(exc, InvalidToken):  # PTB's message quotes the token: do not chain it
        raise error from None
    raise error from exc


def translate(exc: TelegramError, token_env: str) -> NotifyError:
    """Return our error for a PTB error, by whether Telegram may have taken the message."""
    cause = exc.__cause__
    message = redact(exc.message)
    if isinstance(exc, RetryAfter):
        return Undelivered(f"rate limited by Telegram: {message}", _seconds(exc))
    if isinstance(exc, TimedOut):
        if isinstance(cause, httpx.ConnectTimeout | httpx.PoolTimeout):
            return Undelivered("timed out before the request was sent")
        return Unconfirmed("no answer from Telegram in time; the message may have arrived")
    if isinstance(exc, InvalidToken):
        return NotifyError(f"Telegram rejected the token in ${token_env}")
    if isinstance(exc, ChatMigrated):
        return NotifyError(f"the chat moved to id {exc.new_chat_id}: update telegram.chat_ids")
    if isinstance(exc, Forbidden | BadRequest):
        return NotifyError(f"Telegram refused: {message}")
    if isinstance(exc, NetworkError):
        if cause is None:  # an error answer (5xx): Telegram did not take the message
            return Undelivered(f"Telegram answered with an error: {message}")
        if isinstance(cause, httpx.ConnectError):
            return Undelivered(f"cannot reach Telegram: {message}")
        return Unconfirmed(f"connection lost mid-request: {message}")
    return NotifyError(f"Telegram error: {message}")


def _seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        # PTB 22.2+ warns that the int form is deprecated; we accept int and timedelta alike.
        warnings.simplefilter("ignore", DeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


# --- the command table --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reply:
    text: str = ""
    png: bytes | None = None
    filename: str = "chart.png"
    caption: str = ""


class BadArguments(UsageError):
    """Arguments a command cannot use; the reply adds the command's usage line."""


Handler = Callable[["BotService", int, list[str]], Awaitable[Reply]]


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    handler: Handler
    help: str
    usage: str = ""


def _one_int(args: Sequence[str], bounds: tuple[int, int, int], what: str) -> int:
    lo, default, hi = bounds
    if not args:
        return default
    if not re.fullmatch(r"\d{1,6}", args[0]):
        raise BadArguments(f"{what} must be a whole number, got {args[0]!r}")
    value = int(args[0])
    if not lo <= value <= hi:
        raise BadArguments(f"{what} must be between {lo} and {hi}, got {value}")
    return value


def _one_date(args: Sequence[str]) -> date | None:
    if not args:
        return None
    try:
        return date.fromisoformat(args[0])
    except ValueError:
        raise BadArguments(f"not a date: {args[0]!r} (want YYYY-MM-DD)") from None


async def _start(service: BotService, chat_id: int, args: list[str]) -> Reply:
    return Reply(fmt.render_start(service.config, help_rows()))


async def _help(service: BotService, chat_id: int, args: list[str]) -> Reply:
    return Reply(fmt.render_help(help_rows()))


async def _status(service: BotService, chat_id: int, args: list[str]) -> Reply:
    return Reply(fmt.render_status(await asyncio.to_thread(service.status, chat_id)))


async def _signal(service: BotService, chat_id: int, args: list[str]) -> Reply:
    state = await asyncio.to_thread(service.signal, _one_date(args))
    return Reply(fmt.render_signal(state, service.config))


async def _chart(service: BotService, chat_id: int, args: list[str]) -> Reply:
    days = _one_int(args, CHART_DAYS, "DAYS")
    png = await asyncio.to_thread(service.chart, days)
    caption = fmt.chart_caption(service.config, f"ratio, last {days} sessions")
    return Reply(png=png, filename="ratio.png", caption=caption)


async def _rrg(service: BotService, chat_id: int, args: list[str]) -> Reply:
    png = await asyncio.to_thread(service.rrg)
    caption = fmt.chart_caption(service.config, "relative rotation vs the benchmark")
    return Reply(png=png, filename="rrg.png", caption=caption)


async def _baskets(service: BotService, chat_id: int, args: list[str]) -> Reply:
    return Reply(fmt.render_baskets(service.config))


async def _backtest(service: BotService, chat_id: int, args: list[str]) -> Reply:
    if not args:
        raise BadArguments("name a strategy")
    name, params = args[0], args[1:]
    bad = [p for p in params if not re.fullmatch(r"[A-Za-z_]\w*=\S+", p)]
    if bad or not re.fullmatch(r"[A-Za-z_][\w-]*", name):
        raise BadArguments(f"cannot read {' '.join(bad) or name!r}: want STRATEGY key=value ...")
    result = await asyncio.to_thread(service.backtest, name, params)
    return Reply(fmt.render_backtest(result) if result is not None else fmt.BACKTEST_MISSING)


async def _mute(service: BotService, chat_id: int, args: list[str]) -> Reply:
    until = await asyncio.to_thread(service.mute, chat_id, _one_int(args, MUTE_DAYS, "DAYS"))
    return Reply(fmt.render_mute(until))


async def _unmute(service: BotService, chat_id: int, args: list[str]) -> Reply:
    return Reply(fmt.render_unmute(await asyncio.to_thread(service.unmute, chat_id)))


COMMANDS: tuple[Command, ...] = (
    Command("start", _start, "what this bot does"),
    Command("help", _help, "list the commands"),
    Command("status", _status, "last run, last alert, next run, data freshness"),
    Command("signal", _signal, "the rotation picture at a close (default: latest)", "[DATE]"),
    Command("chart", _chart, f"the ratio chart (default {CHART_DAYS[1]} sessions)", "[DAYS]"),
    Command("rrg", _rrg, "relative rotation graph of both baskets vs the benchmark"),
    Command("baskets", _baskets, "the baskets, their members and weights"),
    Command("backtest", _backtest, "backtest a strategy", "STRATEGY [key=value ...]"),
    Command("mute", _mute, "pause alerts in this chat (default 1 day)", "[DAYS]"),
    Command("unmute", _unmute, "resume alerts in this chat"),
)


def help_rows() -> list[tuple[str, str, str]]:
    return [(c.name, c.usage, c.help) for c in COMMANDS]


# --- the application ----------------------------------------------------------------------

Callback = Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]


def build_application(config: Config, token: str, service: BotService) -> App:
    """Return the command bot, ready for ``serve`` or ``running``."""
    protect_secret(token)
    t = Timeouts()
    app: App = (
        ApplicationBuilder()
        .token(token)
        .base_url(config.telegram.api_base_url)
        .rate_limiter(AIORateLimiter(max_retries=RATE_LIMIT_RETRIES))
        .concurrent_updates(CONCURRENT_UPDATES)
        .connect_timeout(t.connect)
        .read_timeout(t.read)
        .write_timeout(t.write)
        .media_write_timeout(t.media_write)
        .pool_timeout(t.pool)
        .post_init(publish_commands)
        .build()
    )
    allowed: filters.BaseFilter = filters.Chat(chat_id=config.telegram.chat_ids)
    if config.telegram.allowed_user_ids:
        allowed = allowed & filters.User(user_id=config.telegram.allowed_user_ids)
    for command in COMMANDS:
        callback = _dispatcher(command, service)
        app.add_handler(
            CommandHandler(command.name, callback, allowed & filters.UpdateType.MESSAGE)
        )
    app.add_handler(MessageHandler(~allowed, _stranger(config)))
    app.add_error_handler(_on_error(config))
    return app


async def publish_commands(app: App) -> None:
    """Set the bot's command menu from COMMANDS (a failure only costs the menu)."""
    menu = [BotCommand(c.name, f"{c.usage} {c.help}".strip()[:256]) for c in COMMANDS]
    try:
        await app.bot.set_my_commands(menu)
    except TelegramError as exc:
        log.warning("could not set the command menu: %s", exc)


def _dispatcher(command: Command, service: BotService) -> Callback:
    usage = f"/{command.name} {command.usage}".strip()

    async def dispatch(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        try:
            reply = await command.handler(service, chat.id, list(context.args or []))
        except BadArguments as exc:
            reply = Reply(fmt.render_problem(str(exc), usage))
        except BotError as exc:  # bad input data or a source down: say so, briefly
            reply = Reply(fmt.render_problem(str(exc)))
        await send_reply(context.bot, chat.id, reply)

    return dispatch


async def send_reply(bot: Any, chat_id: int, reply: Reply) -> None:
    # A chart alone goes out with its caption; a long text first, then the captioned chart.
    for part in compose(reply.text or reply.caption, reply.png, reply.filename, reply.caption):
        await send_part(bot, chat_id, part)


def _stranger(config: Config) -> Callback:
    async def ignore(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat, user = update.effective_chat, update.effective_user
        log.warning(
            "ignored an update from unauthorised chat %s (user %s)",
            chat.id if chat else None,
            user.id if user else None,
        )
        message = update.message  # a new message, not an edit
        text = message.text if message and message.text else ""
        if config.telegram.reveal_chat_id and chat and re.match(r"/start(@\w+)?(\s|$)", text):
            await context.bot.send_message(
                chat.id, fmt.render_chat_id(chat.id), parse_mode=ParseMode.HTML
            )

    return ignore


def _on_error(
    config: Config,
) -> Callable[[object, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]:
    async def report(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("handling an update failed", exc_info=context.error)
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None or chat.id not in config.telegram.chat_ids:
            return  # only served chats hear from us, even about failures
        try:
            await context.bot.send_message(chat.id, fmt.SORRY)
        except TelegramError:
            log.warning("could not tell chat %s about the failure", chat.id)

    return report


def serve(app: App, token_env: str) -> None:
    """Poll for commands until SIGINT or SIGTERM (PTB installs the signal handlers)."""
    try:
        app.run_polling(allowed_updates=Update.ALL_TYPES, bootstrap_retries=3)
    except InvalidToken:  # its message quotes the token: neither show nor chain it
        raise UserError(f"Telegram rejected the token in ${token_env}") from None
    except TelegramError as exc:
        raise NotifyError(f"Telegram: {redact(exc.message)}") from exc


@asynccontextmanager
async def running(app: App, poll_timeout: int = 1) -> AsyncIterator[App]:
    """Run ``app`` on the current event loop for the ``async with`` body (tests, embedding)."""
    await app.initialize()
    await publish_commands(app)
    await app.start()
    assert app.updater is not None  # built with the default updater
    await app.updater.start_polling(poll_interval=0.0, timeout=poll_timeout)
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
