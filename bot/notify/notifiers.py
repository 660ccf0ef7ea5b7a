"""Notifiers: where messages go, and the outcomes a send can have.

A notifier sends parts (``TextPart``, ``PhotoPart`` from ``bot.render.parts``: Telegram HTML
and PNG bytes). ``ConsoleNotifier`` (``bot.notify.console``) prints them, so with no token a
newcomer still sees exactly what a chat would receive; ``TelegramNotifier``
(``bot.notify.telegram``) sends them through the Bot API. Every message goes through the
outbox (``bot.notify.outbox``), which writes a row before sending and records each outcome:

* ``Sent``: Telegram took the part (``confirmed``), or a notifier that retries internally
  reports that it may have (``confirmed=False``).
* ``Undelivered``: Telegram certainly did not take it; sending again is safe, the outbox
  leaves the row pending.
* ``Unconfirmed``: the request went out and no answer came back. Telegram may have delivered
  it and the Bot API offers no way to ask or to send idempotently, so it is NOT sent again:
  the row ends ``unconfirmed``. We prefer a rare missed alert to a double one; ``/status`` and
  ``rotabot status`` show unconfirmed deliveries.

``ON_WIRE`` is how a notifier tells the outbox that bytes are about to leave (see there).

The token is only held in memory: it is kept out of ``repr``, redacted from log records
(``protect_secret``) and from error messages (``redact``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self

from bot.errors import NotifyError
from bot.render.parts import Part, PhotoPart, TextPart

__all__ = [
    "CONSOLE_CHAT",
    "ON_WIRE",
    "REDACTED",
    "Notifier",
    "Part",
    "PhotoPart",
    "RetryPolicy",
    "Sent",
    "TextPart",
    "Timeouts",
    "Unconfirmed",
    "Undelivered",
    "on_wire",
    "protect_secret",
    "redact",
]

CONSOLE_CHAT = 0
"""The pseudo chat the console prints to when no chat is configured."""

ON_WIRE: ContextVar[Callable[[], None] | None] = ContextVar("rotabot_on_wire", default=None)
"""Set by an outbox around ``Notifier.send``: called right before the bytes leave.

The outbox marks its row "in doubt" there, after any rate-limit wait or retry back-off, so a
crash while waiting leaves the row pending (sent later) rather than in doubt (never resent).
"""


def on_wire() -> None:
    """Tell the outbox (if any) that a message is about to go out; notifiers call this."""
    hook = ON_WIRE.get()
    if hook is not None:
        hook()


@dataclass(frozen=True, slots=True)
class Sent:
    message_id: int | None
    confirmed: bool = True


class Undelivered(NotifyError):
    """Telegram certainly did not take the message: sending again is safe."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unconfirmed(NotifyError):
    """The request went out but no answer came back: the message may have been delivered."""


class Notifier(Protocol):
    """Sends parts to chats; an async context manager around its connection."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    async def send(self, chat_id: int, part: Part, key: str, kind: str) -> Sent:
        """Send one part; raise NotifyError when it could not be delivered."""
        ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 4  # tries of one part, the first included
    backoff: float = 2.0  # seconds before the 2nd try; doubles after each failure
    max_wait: float = 60.0  # a longer retry_after gives up instead of blocking the caller


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds; generous, because a timeout after sending leaves a delivery unconfirmed."""

    connect: float = 10.0
    read: float = 30.0
    write: float = 30.0
    media_write: float = 60.0
    pool: float = 5.0


# --- secrets ------------------------------------------------------------------------------

_SECRETS: set[str] = set()
REDACTED = "<redacted>"


def redact(text: str) -> str:
    for secret in _SECRETS:
        text = text.replace(secret, REDACTED)
    return text


def protect_secret(secret: str) -> None:
    """Redact ``secret`` from every log record from now on (httpx logs URLs with the token)."""
    if not secret or secret in _SECRETS:
        return
    if not _SECRETS:
        previous = logging.getLogRecordFactory()

        def factory(*args: object, **kwargs: object) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            _scrub(record)
            return record

        logging.setLogRecordFactory(factory)
    _SECRETS.add(secret)
    # httpx logs every request URL at INFO; that is noise in a polling bot, so quiet it
    # unless the user asked for it explicitly.
    httpx_log = logging.getLogger("httpx")
    if httpx_log.level == logging.NOTSET:
        httpx_log.setLevel(logging.WARNING)


def _scrub(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except (TypeError, ValueError):  # a broken format string: let the handler report it
        return
    clean = redact(message)
    if clean != message:
        record.msg, record.args = clean, None
    if record.exc_info and record.exc_info[1] is not None:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
