"""Quiet about transient faults: one warning per getUpdates outage, one line when it ends.

python-telegram-bot retries a failed ``getUpdates`` (a 502, an answer that is not JSON, a
refused connection, a timeout) with a pause, and by default logs a traceback for every failed
try: a short Telegram hiccup at night became pages of tracebacks. ``WatchedRequest``, the
connection the bot polls with, sees every answer (or its absence) first: the first failure
of an outage is one warning naming the cause, the first good answer after it one line, and
the rest (with PTB's own report of each failure) only at DEBUG.

It also turns a 2xx answer that is not the Bot API's JSON object into a ``NetworkError``,
which PTB retries after a pause; PTB itself would log it as critical and poll again at once,
in a tight loop.
"""

from __future__ import annotations

import json
import logging
import time
from http import HTTPStatus
from typing import Any

from telegram.error import NetworkError, TelegramError
from telegram.request import HTTPXRequest

from bot.notify.notifiers import redact

log = logging.getLogger(__name__)

CAUSE = 160  # characters of the cause quoted (a proxy's error page can be long)
_TOKEN_REFUSED = (HTTPStatus.UNAUTHORIZED, HTTPStatus.NOT_FOUND)  # PTB stops: no outage


class Outage:
    """Whether getUpdates is failing, since when and how often."""

    def __init__(self) -> None:
        self.since: float | None = None
        self.failures = 0

    def failed(self, cause: str, exc: BaseException | None = None) -> None:
        self.failures += 1
        if self.since is None:
            self.since = time.monotonic()
            shown = redact(" ".join(cause.split()))
            shown = shown if len(shown) <= CAUSE else shown[:CAUSE] + "..."
            log.warning(
                "Telegram: polling for commands failed (%s); retrying quietly until it works",
                shown,
            )
        log.debug("getUpdates failed (%d in this outage)", self.failures, exc_info=exc)

    def succeeded(self) -> None:
        if self.since is None:
            return
        log.warning(
            "Telegram: polling for commands works again after %.0f s (%d failed tries)",
            time.monotonic() - self.since,
            self.failures,
        )
        self.since, self.failures = None, 0


class WatchedRequest(HTTPXRequest):
    """The getUpdates connection: reports outages to ``outage``, refuses garbled answers."""

    def __init__(self, outage: Outage, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.outage = outage

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        try:
            code, payload = await super().do_request(*args, **kwargs)
        except TelegramError as exc:  # no answer: refused, timed out, cut off
            self.outage.failed(str(exc) or type(exc).__name__, exc)
            raise
        if not 200 <= code <= 299:
            if code not in _TOKEN_REFUSED:
                self.outage.failed(_error_answer(code, payload))
        elif not _api_answer(payload):
            self.outage.failed(f"HTTP {code} with an answer that is not the Bot API's JSON")
            raise NetworkError("Telegram's answer is not the Bot API's JSON")
        else:
            self.outage.succeeded()
        return code, payload

    @staticmethod
    def parse_json_payload(payload: bytes) -> Any:
        # PTB's own logs a traceback for each answer that is not JSON (an error page), and
        # fails outside its retry loop on JSON that is not an object.
        try:
            answer = json.loads(payload.decode("utf-8", "replace"))
        except ValueError as exc:
            raise TelegramError("Invalid server response: not JSON") from exc
        if not isinstance(answer, dict):
            raise TelegramError("Invalid server response: not a JSON object")
        return answer


def _error_answer(code: int, payload: bytes) -> str:
    """Describe an error answer: Telegram's description, or the HTTP status it came with."""
    try:
        status = f"{HTTPStatus(code).phrase} ({code})"
    except ValueError:
        status = f"HTTP {code}"
    try:
        answer = json.loads(payload.decode("utf-8", "replace"))
    except ValueError:
        return f"{status}, an answer that is not JSON"
    described = answer.get("description") if isinstance(answer, dict) else None
    return f"{described}, {status}" if described else status


def _api_answer(payload: bytes) -> bool:
    try:
        answer = json.loads(payload.decode("utf-8", "replace"))
    except ValueError:
        return False
    return isinstance(answer, dict) and answer.get("ok") is True and "result" in answer
