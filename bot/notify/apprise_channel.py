"""``AppriseNotifier``: one ``[[channels]]`` entry (Discord, Slack, e-mail, ntfy, webhooks...).

apprise does the talking; this module gives its outcome the outbox's meaning:

* the service answered 429 or 5xx, or the connection was never made (refused, connect
  timeout, unknown host): it surely did not take the message, ``Undelivered`` (retried here
  with backoff, then left pending for the next delivery);
* the service answered another error (4xx: a revoked webhook): ``NotifyError``, failed for good;
* anything else (a read timeout after the request left, a dropped connection, no bound answer):
  it may have arrived, ``Unconfirmed``, never resent.

Every send is bounded (``ChannelTimeouts.bound``, retries included): apprise's own socket
timeouts, plus ``asyncio.wait_for`` around the worker thread, so a service that never answers
holds up only its own rows, never Telegram or the other channels (``bot.notify.outbox``
delivers targets side by side).

The URL holds secrets (webhook tokens, passwords): it is only in memory, never in ``repr``, an
error or a log line. Its secret parts are registered with ``protect_secret``, and apprise's own
log records (which name hosts and paths) are kept out of the application's logs: they are read
here, in memory, only to classify a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from types import TracebackType
from typing import Self
from urllib.parse import parse_qsl, unquote, urlsplit

from bot.config.model import ChannelConfig
from bot.errors import NotifyError
from bot.notify.notifiers import (
    Part,
    PhotoPart,
    RetryPolicy,
    Sent,
    Unconfirmed,
    Undelivered,
    on_wire,
    protect_secret,
)

log = logging.getLogger(__name__)

_TAG = re.compile(r"<[^>]+>")
_STATUS = re.compile(r"error=(\d{3})")
_NEVER_CONNECTED = (
    "NewConnectionError",
    "Failed to establish a new connection",
    "ConnectTimeout",
    "Connection refused",
    "NameResolutionError",
    "Name or service not known",
)
_SECRET_MIN = 8  # shorter pieces ("hook", "v1", a port) are not secrets and would garble logs


@dataclass(frozen=True, slots=True)
class ChannelTimeouts:
    """Seconds. ``bound`` caps one part's send, retries and backoff included."""

    connect: float = 5.0
    read: float = 10.0
    bound: float = 30.0


DEFAULT_POLICY = RetryPolicy(attempts=3, backoff=1.0, max_wait=10.0)


class AppriseNotifier:
    """Send parts to one apprise URL; the ``chat_id`` of ``send`` is ignored (always 0)."""

    def __init__(
        self,
        name: str,
        url: str,
        *,
        charts: bool = False,
        timeouts: ChannelTimeouts = ChannelTimeouts(),
        policy: RetryPolicy = DEFAULT_POLICY,
    ) -> None:
        protect_url(url)
        self.name = name
        self._url = url
        self._charts = charts
        self._timeouts = timeouts
        self._policy = policy

    def __repr__(self) -> str:
        return f"AppriseNotifier({self.name!r})"

    @classmethod
    def from_channel(cls, channel: ChannelConfig, environ: Mapping[str, str]) -> Self | None:
        """Return the channel's notifier, or None when its variable is unset or empty."""
        url = environ.get(channel.url_env, "").strip()
        return cls(channel.name, url, charts=channel.charts) if url else None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    async def send(self, chat_id: int, part: Part, key: str, kind: str) -> Sent:
        """Send one part within ``timeouts.bound`` seconds; raise as the module doc says."""
        in_flight = [False]  # is a request out right now (or only a backoff wait)?
        try:
            return await asyncio.wait_for(self._send(part, kind, in_flight), self._timeouts.bound)
        except TimeoutError:
            if not in_flight[0]:  # cut during a backoff wait: the last try surely failed
                raise Undelivered(
                    f"channel {self.name}: not delivered within {self._timeouts.bound:g} s; "
                    "will retry"
                ) from None
            raise Unconfirmed(
                f"channel {self.name}: no answer within {self._timeouts.bound:g} s; "
                "it may have arrived, not sent again"
            ) from None

    async def _send(self, part: Part, kind: str, in_flight: list[bool]) -> Sent:
        for attempt in range(1, self._policy.attempts + 1):
            try:
                on_wire()
                in_flight[0] = True
                await _in_thread(partial(self._post, part, kind))
                return Sent(None)
            except Undelivered:
                in_flight[0] = False
                if attempt == self._policy.attempts:
                    raise
            await asyncio.sleep(min(self._policy.backoff * 2 ** (attempt - 1), 10.0))
        raise AssertionError("unreachable")  # the loop returns or raises

    def _post(self, part: Part, kind: str) -> None:
        """Post one part with apprise (blocking: runs in a worker thread)."""
        import apprise

        _quiet_apprise()
        client = apprise.Apprise()
        if not client.add(self._with_timeouts()):
            raise NotifyError(
                f"channel {self.name}: its URL is not one apprise knows "
                "(check the scheme in the variable named by url_env)"
            )
        body, attach = _content(part, self._charts)
        result = client.notify(
            body=body, title=f"rotabot {kind}", attach=attach, log_level=logging.DEBUG
        )
        if not result:
            raise self._failure(" ".join(e.message for r in result for a in r for e in a))

    def _with_timeouts(self) -> str:
        sep = "&" if "?" in self._url else "?"
        read = min(self._timeouts.read, self._timeouts.bound)
        return f"{self._url}{sep}cto={self._timeouts.connect:g}&rto={read:g}"

    def _failure(self, logs: str) -> NotifyError:
        """Classify apprise's failure from its log text (read here, never repeated)."""
        status = _STATUS.search(logs)
        if status is not None:
            code = int(status.group(1))
            what = f"channel {self.name}: the service answered HTTP {code}"
            if code == 429 or code >= 500:
                return Undelivered(f"{what}; will retry")
            return NotifyError(f"{what}; not retried (check the channel's URL)")
        if any(mark in logs for mark in _NEVER_CONNECTED):
            return Undelivered(f"channel {self.name}: could not connect; will retry")
        return Unconfirmed(
            f"channel {self.name}: the request went out but no answer came back; "
            "it may have arrived, not sent again"
        )


async def _in_thread(work: Callable[[], None]) -> None:
    """Run blocking ``work`` in a daemon thread and await it. Unlike ``asyncio.to_thread`` an
    abandoned call (the bound passed) holds up neither the loop's shutdown nor the exit."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def settle(exc: BaseException | None) -> None:
        if done.done():
            return
        if exc is None:
            done.set_result(None)
        else:
            done.set_exception(exc)

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # handed to the awaiting task, which classifies it
            _call_soon(loop, settle, exc)
        else:
            _call_soon(loop, settle, None)

    threading.Thread(target=run, name="rotabot-apprise", daemon=True).start()
    await done


def _call_soon(
    loop: asyncio.AbstractEventLoop,
    settle: Callable[[BaseException | None], None],
    exc: BaseException | None,
) -> None:
    with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits
        loop.call_soon_threadsafe(settle, exc)


def _content(part: Part, charts: bool) -> tuple[str, object]:
    """Return a part as plain text (Telegram HTML stripped) and its attachment, if any."""
    import apprise
    from apprise.attachment.memory import AttachMemory

    if isinstance(part, PhotoPart):
        text = _plain(part.caption or part.filename)
        if not charts:
            return text, None
        files = apprise.AppriseAttachment()
        memory = AttachMemory(  # type: ignore[no-untyped-call]
            content=part.png, name=part.filename, mimetype="image/png"
        )
        files.add(memory)
        return text, files
    return _plain(part.text), None


def _plain(text: str) -> str:
    return html.unescape(_TAG.sub("", text))


def _quiet_apprise() -> None:
    # apprise's records name hosts and URL paths: capture them (log_level above) but never
    # hand them to the application's handlers.
    logger = logging.getLogger("apprise")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())


def protect_url(url: str) -> None:
    """Register the secret parts of an apprise URL for redaction: the whole URL, the user
    and password, every path segment and every query value."""
    protect_secret(url)
    parts = urlsplit(url)
    pieces = [parts.username or "", parts.password or ""]
    pieces += [unquote(s) for s in parts.path.split("/")]
    pieces += [s for s in parts.path.split("/")]
    pieces += [v for _, v in parse_qsl(parts.query)]
    if parts.scheme not in ("json", "jsons", "ntfy", "ntfys", "form", "xml"):
        pieces.append(parts.hostname or "")  # discord://webhook_id/token: the "host" is secret
    for piece in pieces:
        if len(piece) >= _SECRET_MIN:
            protect_secret(piece)
