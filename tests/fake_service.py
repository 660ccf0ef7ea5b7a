"""A fake webhook service on 127.0.0.1 for apprise's ``json://`` and ``ntfy://`` schemes.

Every POST is recorded with its path, body and arrival time. A path can be scripted to answer
500 a number of times first (``fail(path, n)``) or to never answer in time (``hang(path)``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Post:
    path: str
    body: bytes
    at: float  # time.monotonic() on arrival

    def json(self) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.body)
        return found


@dataclass
class FakeService:
    posts: list[Post] = field(default_factory=list)
    _failures: dict[str, tuple[int, int]] = field(default_factory=dict)  # times, status
    _hanging: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _release: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> FakeService:
        service = self

        class Handler(_Handler):
            fake = service

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    def fail(self, path: str, times: int, status: int = 500) -> None:
        self._failures[path] = (times, status)

    def hang(self, path: str) -> None:
        self._hanging.add(path)

    def to(self, path: str) -> list[Post]:
        with self._lock:
            return [p for p in self.posts if p.path.split("?")[0] == path]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        end = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > end:
                raise AssertionError("timed out waiting for the fake service")
            time.sleep(0.02)

    def handle(self, path: str, body: bytes) -> int | None:
        """Record a POST; return the status to answer, or None to never answer."""
        with self._lock:
            self.posts.append(Post(path, body, time.monotonic()))
        bare = path.split("?")[0]
        if bare in self._hanging:
            self._release.wait(30.0)
            return None
        with self._lock:
            left, status = self._failures.get(bare, (0, 500))
            if left:
                self._failures[bare] = (left - 1, status)
                return status
        return 200


class _Handler(BaseHTTPRequestHandler):
    fake: FakeService

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        status = self.fake.handle(self.path, self.rfile.read(length))
        if status is None:
            return
        body = b'{"id": "1", "event": "message"}'
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self) -> None:
        self.do_POST()

    def log_message(self, format: str, *args: Any) -> None:
        return None
