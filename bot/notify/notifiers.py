"""Notifiers: where alerts go. ``ConsoleNotifier`` prints, ``TelegramNotifier`` sends.

Both take the same parts (``TextPart``, ``PhotoPart``: Telegram HTML and PNG bytes), so the
console shows exactly what a chat would receive; with no token a newcomer still sees the
product work.

Delivery over Telegram, and how a send that may have arrived avoids a double alert:

* Rate limits: PTB's ``AIORateLimiter`` throttles to Telegram's published limits and retries
  an HTTP 429 after the ``retry_after`` Telegram asks for; a 429 that outlives those retries
  joins the retry loop below, still waiting ``retry_after`` (up to ``RetryPolicy.max_wait``).
* A send is retried, with exponential backoff, only when Telegram certainly did not take the
  message: an error *answer* (429, 5xx) or a connection that was never made (connect or pool
  timeout, connection refused). Those raise ``Undelivered``.
* When the request went out and no answer came back (read or write timeout, connection
  dropped mid-request) Telegram may already have delivered it, and the Bot API offers no way
  to ask or to send idempotently. Such a send raises ``Unconfirmed`` and is NOT retried: it is
  recorded with status ``unconfirmed``, logged as a warning, and counted as delivered. We
  prefer a rare missed alert to a double one; timeouts are generous (``Timeouts``) so this
  needs a really bad connection, and ``/status`` shows the unconfirmed delivery.
* Each part's outcome (after its retries) is a row of the ``deliveries`` table (chat,
  message id, UTC time, key, part, status ``sent``/``unconfirmed``/``failed``), so a
  scheduler can skip a (key, chat) already ``sent`` or ``unconfirmed``
  (``DeliveryLog.delivered``) and never alert twice across restarts.

The token is only held in memory: it is kept out of ``repr``, redacted from log records
(``protect_secret``) and from error messages.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import sys
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self, TextIO

from bot.config import Config
from bot.errors import NotifyError

if TYPE_CHECKING:
    from bot.telegram.app import TelegramClient

log = logging.getLogger(__name__)

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
class TextPart:
    text: str  # Telegram HTML, at most 4096 units
    label: str = "text"


@dataclass(frozen=True, slots=True)
class PhotoPart:
    png: bytes
    filename: str
    caption: str | None = None  # Telegram HTML, at most 1024 units
    label: str = "photo"

    def __repr__(self) -> str:
        return f"PhotoPart({self.filename!r}, {len(self.png)} bytes, label={self.label!r})"


Part = TextPart | PhotoPart


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


# --- delivery records ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    chat_id: int
    key: str
    kind: str
    part: str
    status: str  # "sent", "unconfirmed" or "failed"
    at: datetime  # aware, UTC
    message_id: int | None


class DeliveryLog:
    """Rows of the ``deliveries`` table (see ``bot.store.db``, migration 2)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def record(
        self,
        chat_id: int,
        key: str,
        kind: str,
        part: str,
        status: str,
        message_id: int | None = None,
        error: str | None = None,
        at: datetime | None = None,
    ) -> None:
        when = (at or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
        self.conn.execute(
            "INSERT INTO deliveries (chat_id, message_id, sent_at, key, kind, part, status, error)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (chat_id, message_id, when, key, kind, part, status, error),
        )

    def latest(self, kind: str | None = None) -> DeliveryRecord | None:
        """Return the most recent record that reached Telegram (of ``kind`` when given)."""
        sql = (
            "SELECT chat_id, key, kind, part, status, sent_at, message_id FROM deliveries "
            "WHERE status != 'failed'"
        )
        args: tuple[str, ...] = ()
        if kind is not None:
            sql += " AND kind = ?"
            args = (kind,)
        row = self.conn.execute(sql + " ORDER BY id DESC LIMIT 1", args).fetchone()
        if row is None:
            return None
        chat, key, kind_, part, status, at, message = row
        return DeliveryRecord(chat, key, kind_, part, status, datetime.fromisoformat(at), message)

    def delivered(self, key: str, chat_id: int) -> bool:
        """True when some part of ``key`` reached (or may have reached) ``chat_id``."""
        row = self.conn.execute(
            "SELECT 1 FROM deliveries WHERE key = ? AND chat_id = ? AND status != 'failed'",
            (key, chat_id),
        ).fetchone()
        return row is not None


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


# --- notifiers ----------------------------------------------------------------------------


class ConsoleNotifier:
    """Print what Telegram would receive; save photos as files and print their paths."""

    def __init__(self, folder: Path, stream: TextIO | None = None) -> None:
        self.folder = Path(folder)
        self.stream = stream or sys.stdout
        self._count = 0

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    async def send(self, chat_id: int, part: Part, key: str, kind: str) -> Sent:
        self._count += 1
        to = "console" if chat_id == CONSOLE_CHAT else f"chat {chat_id}"
        lines = [f"--- {kind} {part.label} to {to} (HTML) ---"]
        if isinstance(part, TextPart):
            lines.append(part.text)
        else:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / part.filename
            path.write_bytes(part.png)
            lines.append(f"[photo saved to {path}]")
            if part.caption:
                lines.append(part.caption)
        on_wire()
        print("\n".join(lines), file=self.stream)
        return Sent(self._count)


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


class TelegramNotifier:
    """Send parts through the Telegram Bot API and record each delivery (see module doc)."""

    def __init__(
        self,
        config: Config,
        token: str,
        deliveries: DeliveryLog | None = None,
        policy: RetryPolicy = RetryPolicy(),
        timeouts: Timeouts = Timeouts(),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        protect_secret(token)
        self._config = config
        self._token = token
        self._deliveries = deliveries
        self._policy = policy
        self._timeouts = timeouts
        self._sleep = sleep
        self._client: TelegramClient | None = None

    def __repr__(self) -> str:
        return f"TelegramNotifier(api={self._config.telegram.api_base_url!r}, token=<redacted>)"

    async def __aenter__(self) -> Self:
        from bot.telegram.app import TelegramClient

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
                self._record(chat_id, key, kind, part, "unconfirmed", None, exc)
                log.warning("chat %s: %s; not resending %s (%s)", chat_id, exc, part.label, key)
                return Sent(None, confirmed=False)
            except Undelivered as exc:
                wait = self._wait(exc, attempt)
                if wait is None:
                    self._record(chat_id, key, kind, part, "failed", None, exc)
                    raise
                log.warning("chat %s: %s; retry %d in %.1fs", chat_id, exc, attempt, wait)
                await self._sleep(wait)
            except NotifyError as exc:
                self._record(chat_id, key, kind, part, "failed", None, exc)
                raise
            else:
                self._record(chat_id, key, kind, part, "sent", message_id, None)
                return Sent(message_id)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _wait(self, exc: Undelivered, attempt: int) -> float | None:
        """Return the delay before the next try, or None to give up."""
        if attempt >= self._policy.attempts:
            return None
        if exc.retry_after is not None:
            return exc.retry_after if exc.retry_after <= self._policy.max_wait else None
        return float(self._policy.backoff * 2 ** (attempt - 1))

    def _record(
        self,
        chat_id: int,
        key: str,
        kind: str,
        part: Part,
        status: str,
        message_id: int | None,
        exc: Exception | None,
    ) -> None:
        if self._deliveries is not None:
            error = redact(str(exc)) if exc is not None else None
            self._deliveries.record(chat_id, key, kind, part.label, status, message_id, error)
