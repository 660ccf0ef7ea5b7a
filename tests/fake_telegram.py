"""A fake Telegram Bot API: a real HTTP server on 127.0.0.1 for the real python-telegram-bot.

``FakeTelegram`` serves ``/bot<token>/<method>`` on a free port from a thread: getMe,
deleteWebhook, getUpdates (queued updates, honouring ``offset`` and waiting briefly like a
long poll), sendMessage, sendPhoto (multipart), setMyCommands, getMyCommands, close, logOut.
Like Telegram it rejects malformed HTML (unknown or unbalanced tags, a bare ``&`` or ``<``)
and texts over 4096 or captions over 1024 characters with a 400, so tests catch markup that
a real chat would refuse. Each method can be scripted to fail (``Fail(429, retry_after=1)``,
``Fail(500)``) or to answer slowly after taking the message (``Slow(seconds)``). Every call
is recorded in ``calls``; each message that got through is in ``delivered``.

The bottom of the module builds the small synthetic market the Telegram tests talk about.
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import html
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import numpy as np
import pandas as pd

TOKEN = "123456:FAKE-token_for-tests-only"
BOT_USER = {
    "id": 123456,
    "is_bot": True,
    "first_name": "Rotabot",
    "username": "rotabot_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
MAX_POLL_WAIT = 0.5  # seconds a getUpdates waits for news (Telegram: up to its timeout)
_ALLOWED_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
    "tg-spoiler", "span", "blockquote", "tg-emoji",
}  # fmt: skip


@dataclass(frozen=True)
class Fail:
    """Answer the next call with an error status (and Telegram's error body)."""

    status: int
    retry_after: int | None = None


@dataclass(frozen=True)
class Slow:
    """Take the message, then answer only after ``seconds`` (a client may time out first)."""

    seconds: float


@dataclass(frozen=True)
class Call:
    method: str
    params: dict[str, str]
    files: dict[str, tuple[str, bytes]]
    status: int
    at: float  # time.monotonic() on arrival


@dataclass(frozen=True)
class Delivered:
    chat_id: int
    message_id: int
    kind: str  # "text" or "photo"
    text: str  # the text, or the caption ("" when none), as sent (HTML)
    photo: bytes | None = None
    filename: str | None = None

    @property
    def plain(self) -> str:
        """What the chat shows: tags dropped, entities decoded."""
        return html.unescape(re.sub(r"<[^>]*>", "", self.text))


@dataclass
class FakeTelegram:
    token: str = TOKEN
    calls: list[Call] = field(default_factory=list)
    delivered: list[Delivered] = field(default_factory=list)
    commands: list[dict[str, str]] = field(default_factory=list)
    _updates: list[dict[str, Any]] = field(default_factory=list)
    _script: dict[str, list[Fail | Slow]] = field(default_factory=dict)
    _next_update: int = 1
    _next_message: int = 1000
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _server: ThreadingHTTPServer | None = None
    _port: int = 0

    # -- life cycle --

    def __enter__(self) -> FakeTelegram:
        fake = self

        class Handler(_Handler):
            owner = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        with self._cond:
            self._cond.notify_all()
        self._server.shutdown()
        self._server.server_close()

    def down(self) -> None:
        """Stop listening: clients get "connection refused" until ``up``."""
        assert self._server is not None
        self._port = self._server.server_address[1]
        self._server.shutdown()
        self._server.server_close()

    def up(self) -> None:
        """Listen again on the same port."""
        fake = self

        class Handler(_Handler):
            owner = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    @property
    def url(self) -> str:
        assert self._server is not None, "use FakeTelegram as a context manager"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_base_url(self) -> str:
        """What ``telegram.api_base_url`` must be; PTB appends the token."""
        return self.url + "/bot"

    # -- scripting --

    def script(self, method: str, *actions: Fail | Slow) -> None:
        with self._cond:
            self._script.setdefault(method, []).extend(actions)

    def queue_message(
        self, chat_id: int, text: str, user_id: int | None = None, edited: bool = False
    ) -> int:
        """Queue a message from a user in ``chat_id`` (negative ids are groups)."""
        with self._cond:
            update_id, self._next_update = self._next_update, self._next_update + 1
            chat: dict[str, Any] = {"id": chat_id, "type": "private"}
            if chat_id < 0:
                chat = {"id": chat_id, "type": "group", "title": "A group"}
            message: dict[str, Any] = {
                "message_id": update_id,
                "date": int(time.time()),
                "chat": chat,
                "from": {"id": user_id or abs(chat_id), "is_bot": False, "first_name": "Ann"},
                "text": text,
            }
            if text.startswith("/"):
                length = len(text.split()[0])
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
            if edited:
                message["edit_date"] = int(time.time())
            kind = "edited_message" if edited else "message"
            self._updates.append({"update_id": update_id, kind: message})
            self._cond.notify_all()
            return update_id

    # -- reading --

    def messages(self, chat_id: int | None = None) -> list[Delivered]:
        with self._cond:
            return [d for d in self.delivered if chat_id is None or d.chat_id == chat_id]

    def calls_to(self, method: str) -> list[Call]:
        with self._cond:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Block until ``predicate()`` holds (use from a thread other than the bot's loop)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out; the fake got {self._summary()}")
                self._cond.wait(min(left, 0.05))

    async def until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Await ``predicate()`` without blocking the event loop the bot runs on."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; the fake got {self._summary()}")
            await asyncio.sleep(0.02)

    def _summary(self) -> str:
        return ", ".join(f"{c.method}:{c.status}" for c in self.calls if c.method != "getUpdates")

    # -- serving (called from the handler threads) --

    def handle(
        self, token: str, method: str, params: dict[str, str], files: dict[str, Any]
    ) -> tuple[int, Any, float]:
        """Return (HTTP status, JSON body, delay before answering) for one call."""
        with self._cond:
            if token != self.token:
                status, body, delay = 401, _error(401, "Unauthorized"), 0.0
            else:
                status, body, delay = self._answer(method, params, files)
            self.calls.append(Call(method, params, files, status, time.monotonic()))
            self._cond.notify_all()
        return status, body, delay

    def _answer(
        self, method: str, params: dict[str, str], files: dict[str, Any]
    ) -> tuple[int, Any, float]:
        action = self._script[method].pop(0) if self._script.get(method) else None
        if isinstance(action, Fail):
            return action.status, _error(action.status, "Scripted failure", action.retry_after), 0.0
        delay = action.seconds if isinstance(action, Slow) else 0.0
        if method == "getUpdates":
            return 200, _ok(self._pending(params)), 0.0
        if method in ("sendMessage", "sendPhoto"):
            status, body = self._take_message(method, params, files)
            return status, body, delay
        if method == "setMyCommands":
            self.commands = json.loads(params.get("commands", "[]"))
            return 200, _ok(True), delay
        if method == "getMe":
            return 200, _ok(BOT_USER), delay
        if method in ("deleteWebhook", "close", "logOut", "deleteMyCommands"):
            return 200, _ok(True), delay
        if method == "getMyCommands":
            return 200, _ok(self.commands), delay
        return 404, _error(404, "Not Found: method not found"), 0.0

    def _pending(self, params: dict[str, str]) -> list[dict[str, Any]]:
        offset = int(params.get("offset", "0") or 0)
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates:
            wait = min(float(params.get("timeout", "0") or 0), MAX_POLL_WAIT)
            self._cond.wait(wait)  # a queue_message or shutdown wakes it early
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        return list(self._updates)

    def _take_message(
        self, method: str, params: dict[str, str], files: dict[str, Any]
    ) -> tuple[int, Any]:
        photo = method == "sendPhoto"
        text = params.get("caption", "") if photo else params.get("text", "")
        problem = (
            check_html(text, 1024 if photo else 4096)
            if params.get("parse_mode") == "HTML"
            else None
        )
        if problem:
            return 400, _error(400, f"Bad Request: {problem}")
        chat_id = int(params["chat_id"])
        self._next_message += 1
        upload = files.get("photo")
        self.delivered.append(
            Delivered(
                chat_id,
                self._next_message,
                "photo" if photo else "text",
                text,
                upload[1] if upload else None,
                upload[0] if upload else None,
            )
        )
        message: dict[str, Any] = {
            "message_id": self._next_message,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
            "from": BOT_USER,
        }
        if photo:
            size = {"file_id": "f", "file_unique_id": "u", "width": 800, "height": 450}
            message |= {"photo": [size], "caption": text}
        else:
            message["text"] = text
        return 200, _ok(message)


def _ok(result: Any) -> dict[str, Any]:
    return {"ok": True, "result": result}


def _error(code: int, description: str, retry_after: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
        body["description"] = f"Too Many Requests: retry after {retry_after}"
    return body


def check_html(text: str, limit: int) -> str | None:
    """Return Telegram's complaint about ``text`` in HTML parse mode, or None when it is fine."""
    stack: list[str] = []
    plain: list[str] = []
    for token in re.findall(r"<[^>]*>|&[^;&<\s]*;?|[^<&]+|[<&]", text):
        if token.startswith("<") and token.endswith(">") and len(token) > 2:
            m = re.fullmatch(r"<(/?)([a-z-]+)(\s[^>]*)?>", token)
            if not m or m.group(2) not in _ALLOWED_TAGS:
                return f"can't parse entities: unsupported tag {token!r}"
            if m.group(1):
                if not stack or stack.pop() != m.group(2):
                    return f"can't parse entities: unexpected end tag {token!r}"
            else:
                stack.append(m.group(2))
        elif token.startswith("&"):
            if not re.fullmatch(r"&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);", token):
                return f"can't parse entities: bad entity {token!r}"
            plain.append(html.unescape(token))
        elif token == "<":
            return "can't parse entities: unclosed start tag"
        else:
            plain.append(token)
    if stack:
        return f"can't parse entities: unclosed tag <{stack[-1]}>"
    size = len("".join(plain).strip().encode("utf-16-le")) // 2
    if size > limit:
        return "message is too long" if limit == 4096 else "message caption is too long"
    return None


class _Handler(BaseHTTPRequestHandler):
    owner: FakeTelegram

    def do_POST(self) -> None:
        self._serve()

    def do_GET(self) -> None:
        self._serve()

    def _serve(self) -> None:
        m = re.fullmatch(r"/bot([^/]+)/(\w+)", self.path.split("?")[0])
        if not m:
            self._reply(404, _error(404, "Not Found"))
            return
        params, files = self._body()
        status, body, delay = self.owner.handle(m.group(1), m.group(2), params, files)
        if delay:
            time.sleep(delay)
        self._reply(status, body)

    def _body(self) -> tuple[dict[str, str], dict[str, tuple[str, bytes]]]:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        kind = self.headers.get("Content-Type", "")
        if kind.startswith("multipart/form-data"):
            return _multipart(kind, raw)
        if kind.startswith("application/json"):
            return {
                k: v if isinstance(v, str) else json.dumps(v)
                for k, v in json.loads(raw or b"{}").items()
            }, {}
        return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True)), {}

    def _reply(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            pass

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""


def _multipart(kind: str, raw: bytes) -> tuple[dict[str, str], dict[str, tuple[str, bytes]]]:
    parser = email.parser.BytesParser(policy=email.policy.HTTP)
    message = parser.parsebytes(b"Content-Type: " + kind.encode() + b"\r\n\r\n" + raw)
    params: dict[str, str] = {}
    files: dict[str, tuple[str, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        payload = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename:
            files[str(name)] = (filename, payload)
        else:
            params[str(name)] = payload.decode("utf-8")
    return params, files


# --- the synthetic market -----------------------------------------------------------------

CHIPS = ("AAA", "BBB", "CCC")
PLATFORMS = ("DDD", "EEE", "FFF")
BENCH = "IDX"
SESSIONS = 160


def market_closes(sessions: int = SESSIONS, shock_last: bool = True, seed: int = 7) -> pd.DataFrame:
    """Return closes (index sessions, one column per ticker): a calm random walk, and on the
    last session (``shock_last``) a violent rotation out of the chips into the platforms."""
    rng = np.random.default_rng(seed)
    index = pd.bdate_range("2024-01-02", periods=sessions, name="date")
    tickers = [*CHIPS, *PLATFORMS, BENCH]
    common = rng.normal(0.0003, 0.006, sessions)
    moves = rng.normal(0.0, 0.008, (sessions, len(tickers))) + common[:, None]
    moves[:, -1] = common
    if shock_last:
        moves[-1] = [-0.060, -0.055, -0.070, 0.030, 0.040, 0.035, 0.001]
    moves[0] = 0.0
    closes = 100.0 * np.cumprod(1.0 + moves, axis=0)
    return pd.DataFrame(closes, index=index, columns=tickers)


def write_market(folder: Path, closes: pd.DataFrame | None = None) -> Path:
    """Write ``<TICKER>.csv`` files (the columns ``rotabot --prices-dir`` reads)."""
    closes = market_closes() if closes is None else closes
    folder.mkdir(parents=True, exist_ok=True)
    for ticker in closes.columns:
        c = closes[ticker]
        frame = pd.DataFrame(
            {
                "open": c,
                "high": c * 1.01,
                "low": c * 0.99,
                "close": c,
                "adj_close": c,
                "volume": 1_000_000.0,
            }
        )
        frame.index = pd.DatetimeIndex(frame.index).strftime("%Y-%m-%d")
        frame.to_csv(folder / f"{ticker}.csv", index_label="date", float_format="%.6f")
    return folder


def config_text(
    prices: Path,
    api_base_url: str,
    chat_ids: tuple[int, ...] = (111,),
    chips_name: str = "<b>Chips & Co</b>",
    **telegram: object,
) -> str:
    """Return a config.toml for the synthetic market with short windows to match."""
    extra = "".join(f"{k} = {json.dumps(v)}\n" for k, v in telegram.items())
    return f"""
[data]
source = "csv"
csv_dir = {json.dumps(str(prices))}
history_start = "2024-01-01"

[state]
path = "state/rotabot.db"

[baskets.chips]
name = {json.dumps(chips_name)}
tickers = {json.dumps(list(CHIPS))}

[baskets.platforms]
name = "Platforms (gold diggers)"
tickers = {json.dumps(list(PLATFORMS))}

[benchmark]
ticker = "{BENCH}"
name = "Index"

[telegram]
chat_ids = {json.dumps(list(chat_ids))}
api_base_url = "{api_base_url}"
{extra}
[signals]
short_window = 20
long_window = 60
min_history = 30
ma_short = 10
ma_long = 40
rrg_window = 20
"""


def serve_fake(token: str = TOKEN) -> Iterator[FakeTelegram]:
    """Generator for a pytest fixture: ``yield from serve_fake()``."""
    with FakeTelegram(token) as fake:
        yield fake
