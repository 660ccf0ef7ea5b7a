"""The command bot, through python-telegram-bot 22.

``build_application`` wires it: the ``COMMANDS`` table of ``bot.telegram.commands`` drives
the handlers, /help and the menu set with setMyCommands. Alerts are not sent from here: they
go through the outbox and ``bot.notify.telegram`` (whose ``send_part`` the replies reuse).

Authorisation: a command is served only in a chat of ``telegram.chat_ids`` (and, when
``telegram.allowed_user_ids`` is set, only from those users), and only for a new message,
never an edit. Anything else gets nothing: it is logged with its chat id, and with
``telegram.reveal_chat_id = true`` a /start is answered with the chat's id to ease set-up.
Handlers (``bot.telegram.commands``) stay thin: parse arguments, call ``BotService`` off the
event loop, format, reply.

Fairness: a command is not run by PTB's update handling but queued for its chat
(``bot.telegram.queues``): each chat's commands run in order, one at a time, beside other
chats', so a chat that floods the bot delays only itself, and its 11th waiting command gets
"busy". Arguments longer than ``MAX_ARGUMENT`` characters, or more than ``MAX_ARGUMENTS`` of
them, are refused before any work, quoting only a short prefix.

Polling: a failing getUpdates is logged once per outage and once when it recovers
(``bot.telegram.polling``); its tracebacks only at DEBUG.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from telegram import BotCommand, Update
from telegram.constants import ParseMode
from telegram.error import InvalidToken, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.config import Config
from bot.config.load import check_token
from bot.errors import BotError, NotifyError, UserError
from bot.notify.notifiers import Timeouts, protect_secret, redact
from bot.notify.telegram import RATE_LIMIT_RETRIES, send_part
from bot.render import replies
from bot.render.messages import compose
from bot.telegram.commands import (
    COMMANDS,
    BadArguments,
    Command,
    Reply,
    check_arguments,
    help_rows,
    hint,
)
from bot.telegram.polling import Outage, WatchedRequest
from bot.telegram.queues import Admission, ChatQueues

if TYPE_CHECKING:
    from bot.telegram.service import BotService

log = logging.getLogger(__name__)

App = Application[Any, Any, Any, Any, Any, Any]
# Handling an update only queues its command, but a "busy" or set-up reply is sent inline:
# a slow send must not hold up the updates behind it.
CONCURRENT_UPDATES = 8
BUSY = "Busy: {waiting} commands from this chat are still waiting. Try again in a minute."

__all__ = [
    "COMMANDS",
    "BadArguments",
    "Command",
    "Reply",
    "build_application",
    "help_rows",
    "publish_commands",
    "running",
    "send_reply",
    "serve",
]


# --- the application ----------------------------------------------------------------------

Callback = Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]


def build_application(config: Config, token: str, service: BotService) -> App:
    """Return the command bot, ready for ``serve`` or ``running``.

    Raises:
        UserError: the token cannot be a bot token (it is never shown).
    """
    check_token(token, config.telegram.token_env)
    protect_secret(token)
    t = Timeouts()
    queues, outage = ChatQueues(), Outage()

    async def stop_queues(app: App) -> None:
        service.stop()  # a running /backtest would hold the shutdown for minutes
        await queues.close()

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
        .get_updates_request(WatchedRequest(outage, connection_pool_size=1))
        .post_init(publish_commands)
        .post_stop(stop_queues)
        .build()
    )
    allowed: filters.BaseFilter = filters.Chat(chat_id=config.telegram.chat_ids)
    if config.telegram.allowed_user_ids:
        allowed = allowed & filters.User(user_id=config.telegram.allowed_user_ids)
    for command in COMMANDS:
        callback = _dispatcher(command, service, queues)
        app.add_handler(
            CommandHandler(command.name, callback, allowed & filters.UpdateType.MESSAGE)
        )
    # After the commands: only a message no command took reaches it (an unknown /word, text).
    unknown = (filters.COMMAND | filters.TEXT) & filters.UpdateType.MESSAGE
    app.add_handler(MessageHandler(allowed & unknown, _hinter(queues)))
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


def _dispatcher(command: Command, service: BotService, queues: ChatQueues) -> Callback:
    async def dispatch(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        args, bot = list(context.args or []), context.bot
        # Queued before any await: the chat's commands keep the order they arrived in.
        admitted = queues.submit(chat.id, lambda: _answer(command, service, bot, chat.id, args))
        if admitted is Admission.BUSY:
            text = BUSY.format(waiting=queues.waiting(chat.id))
            await _send_or_log(bot, chat.id, Reply(replies.render_problem(text)))

    return dispatch


def _hinter(queues: ChatQueues) -> Callback:
    async def answer_hint(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat, message = update.effective_chat, update.effective_message
        if chat is None or message is None:
            return
        reply = Reply(hint(message.text or ""))
        bot = context.bot
        # Through the chat's queue, like a command: the answers keep the messages' order.
        queues.submit(chat.id, lambda: _send_or_log(bot, chat.id, reply))

    return answer_hint


async def _answer(
    command: Command, service: BotService, bot: Any, chat_id: int, args: list[str]
) -> None:
    """Run one command and send its reply: the job a chat's queue runs."""
    usage = f"/{command.name} {command.usage}".strip()
    try:
        check_arguments(args)
        reply = await command.handler(service, chat_id, args)
    except BadArguments as exc:
        reply = Reply(replies.render_problem(str(exc), usage))
    except BotError as exc:  # bad input data or a source down: say so, briefly
        reply = Reply(replies.render_problem(str(exc)))
    except Exception:  # a bug: the details go to the log, the chat hears it failed
        log.exception("/%s in chat %s failed", command.name, chat_id)
        reply = Reply(replies.render_problem(replies.SORRY))
    await _send_or_log(bot, chat_id, reply)


async def _send_or_log(bot: Any, chat_id: int, reply: Reply) -> None:
    try:
        await send_reply(bot, chat_id, reply)
    except TelegramError as exc:
        log.warning("could not reply to chat %s: %s", chat_id, redact(str(exc)))


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
                chat.id, replies.render_chat_id(chat.id), parse_mode=ParseMode.HTML
            )

    return ignore


def _on_error(
    config: Config,
) -> Callable[[object, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]:
    async def report(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update is None and context.job is None and isinstance(context.error, TelegramError):
            # getUpdates failed: WatchedRequest logged the outage once, so only DEBUG here.
            log.debug("polling error", exc_info=context.error)
            return
        log.error("handling an update failed", exc_info=context.error)
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None or chat.id not in config.telegram.chat_ids:
            return  # only served chats hear from us, even about failures
        try:
            await context.bot.send_message(chat.id, replies.SORRY)
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

    def failed(exc: TelegramError) -> None:  # what run_polling does: to the error handler
        app.create_task(app.process_error(error=exc, update=None))

    await app.updater.start_polling(poll_interval=0.0, timeout=poll_timeout, error_callback=failed)
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        if app.post_stop is not None:  # run_polling calls it; so must we
            await app.post_stop(app)
        await app.shutdown()
