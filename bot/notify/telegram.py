"""Sending over Telegram with python-telegram-bot 22: ``TelegramClient`` and ``TelegramNotifier``.

``TelegramClient`` sends one part with PTB's ``ExtBot`` and turns PTB's errors into ours
(``Undelivered`` when Telegram surely did not take a message, ``Unconfirmed`` when it may
have). ``TelegramNotifier`` adds the retry policy the outbox relies on:

* Rate limits: PTB's ``AIORateLimiter`` throttles to Telegram's published limits and retries
  an HTTP 429 after the ``retry_after`` Telegram asks for; a 429 that outlives those retries
  joins the retry loop below, still waiting ``retry_after`` (up to ``RetryPolicy.max_wait``).
* A send is retried, with exponential backoff, only when Telegram certainly did not take the
  message: an error *answer* (429, 5xx) or a connection that was never made (connect or pool
  timeout, connection refused). Those raise ``Undelivered`` once the tries are used up.
* When the request went out and no answer came back (read or write timeout, connection
  dropped mid-request) Telegram may already have delivered it: the part is NOT retried, it is
  logged as a warning and returned as ``Sent(None, confirmed=False)``; the outbox records the
  row as ``unconfirmed``. Timeouts are generous (``Timeouts``), so this needs a really bad
  connection.

The command bot (``bot.telegram.app``) reuses ``send_part`` for its replies.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Awaitable, Callable
from datetime import timedelta
from types import TracebackType
from typing import Any, NoReturn, Self

import httpx
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
from telegram.ext import AIORateLimiter, ExtBot
from telegram.request import HTTPXRequest

from bot.config import Config
from bot.errors import NotifyError
from bot.notify.notifiers import (
    Part,
    PhotoPart,
    RetryPolicy,
    Sent,
    Timeouts,
    Unconfirmed,
    Undelivered,
    on_wire,
    protect_secret,
    redact,
)

log = logging.getLogger(__name__)

RATE_LIMIT_RETRIES = 3
DEFAULT_POLICY = RetryPolicy()
DEFAULT_TIMEOUTS = Timeouts()


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


class TelegramNotifier:
    """Send parts through the Telegram Bot API, retrying what surely did not arrive."""

    @classmethod
    def from_config(cls, config: Config, token: str | None) -> Self:
        if token is None:
            raise ValueError("the Telegram channel needs a token")
        return cls(config, token)

    def __init__(
        self,
        config: Config,
        token: str,
        policy: RetryPolicy = DEFAULT_POLICY,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        protect_secret(token)
        self._config = config
        self._token = token
        self._policy = policy
        self._timeouts = timeouts
        self._sleep = sleep
        self._client: TelegramClient | None = None

    def __repr__(self) -> str:
        return f"TelegramNotifier(api={self._config.telegram.api_base_url!r}, token=<redacted>)"

    async def __aenter__(self) -> Self:
        client = TelegramClient(self._config, self._token, self._timeouts)
        await client.start()
        self._client = client
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._client is not None:
            await self._client.stop()
            self._client = None

    async def send(self, chat_id: int, part: Part, key: str, kind: str) -> Sent:
        if self._client is None:
            raise RuntimeError("use TelegramNotifier as an async context manager")
        for attempt in range(1, self._policy.attempts + 1):
            try:
                message_id = await self._client.send(chat_id, part)
            except Unconfirmed as exc:
                log.warning("chat %s: %s; not resending %s (%s)", chat_id, exc, part.label, key)
                return Sent(None, confirmed=False)
            except Undelivered as exc:
                wait = self._wait(exc, attempt)
                if wait is None:
                    raise
                log.warning("chat %s: %s; retry %d in %.1fs", chat_id, exc, attempt, wait)
                await self._sleep(wait)
            else:
                return Sent(message_id)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _wait(self, exc: Undelivered, attempt: int) -> float | None:
        """Return the delay before the next try, or None to give up."""
        if attempt >= self._policy.attempts:
            return None
        if exc.retry_after is not None:
            return exc.retry_after if exc.retry_after <= self._policy.max_wait else None
        return float(self._policy.backoff * 2 ** (attempt - 1))
