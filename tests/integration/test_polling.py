"""Quiet about transient faults: a failing getUpdates is one warning per outage.

The real python-telegram-bot client polls the fake Bot API server, which answers getUpdates
with a 502, with an error page that is not JSON, with JSON that is not the Bot API's, or not
at all (connection refused). What the log shows at INFO and above is asserted: one warning
naming the cause when an outage starts, one line when polling works again, no traceback; and
the bot still answers commands afterwards.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bot.config import Config, load_config
from bot.telegram.app import build_application, running
from bot.telegram.service import BotService
from tests.fake_telegram import TOKEN, FakeTelegram, _Handler, config_text, write_market

pytestmark = pytest.mark.integration

CHAT = 111
FAILED = "Telegram: polling for commands failed"
RECOVERED = "Telegram: polling for commands works again"


class Raw:
    """An answer sent as it is: bytes that need not be JSON at all."""

    def __init__(self, status: int, body: bytes) -> None:
        self.status, self.body = status, body


class GarblingTelegram(FakeTelegram):
    """The fake Bot API, able to answer the next getUpdates calls with raw bytes."""

    def __init__(self) -> None:
        super().__init__()
        self.garbled: list[Raw] = []

    def __enter__(self) -> GarblingTelegram:
        fake = self

        class Handler(_Handler):
            owner = fake

            def _reply(self, status: int, body: Any) -> None:
                if not isinstance(body, Raw):
                    super()._reply(status, body)
                    return
                self.send_response(body.status)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body.body)))
                self.end_headers()
                self.wfile.write(body.body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def _answer(self, method: str, params: dict[str, str], files: dict[str, Any]) -> Any:
        if method == "getUpdates" and self.garbled:
            return 200, self.garbled.pop(0), 0.0
        return super()._answer(method, params, files)


@pytest.fixture
def fake() -> Iterator[GarblingTelegram]:
    with GarblingTelegram() as server:
        yield server


@pytest.fixture
def config(tmp_path: Path, fake: FakeTelegram) -> Config:
    path = tmp_path / "config.toml"
    path.write_text(config_text(write_market(tmp_path / "prices"), fake.api_base_url, (CHAT,)))
    return load_config(path)


def seen(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.INFO and text in r.getMessage()]


async def answered(fake: FakeTelegram, command: str) -> None:
    before = len(fake.messages(CHAT))
    fake.queue_message(CHAT, command)
    await fake.until(lambda: len(fake.messages(CHAT)) > before, timeout=30)


def polls(fake: FakeTelegram) -> int:
    return len(fake.calls_to("getUpdates"))


def test_each_outage_is_one_warning_and_one_recovery_line(
    config: Config, fake: GarblingTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    async def scenario() -> None:
        async with running(build_application(config, TOKEN, BotService(config))):
            await answered(fake, "/help")
            # Outage 1: a proxy's 502 error page (not JSON), then JSON that is not the API's.
            fake.garbled += [Raw(502, b"<html>Bad Gateway</html>"), Raw(200, b'"garbage"')]
            await fake.until(lambda: bool(seen(caplog, RECOVERED)), timeout=30)
            await answered(fake, "/help")
            # Outage 2: nobody listening.
            fake.down()
            down_at = polls(fake)
            await asyncio.sleep(1.5)
            fake.up()
            await fake.until(lambda: len(seen(caplog, RECOVERED)) == 2, timeout=30)
            await answered(fake, "/help")
            assert polls(fake) > down_at

    asyncio.run(scenario())
    failed, recovered = seen(caplog, FAILED), seen(caplog, RECOVERED)
    assert [r.levelno for r in failed] == [logging.WARNING, logging.WARNING]
    assert "Bad Gateway (502), an answer that is not JSON" in failed[0].getMessage()
    assert "ConnectError" in failed[1].getMessage()
    assert "(2 failed tries)" in recovered[0].getMessage()
    assert len(recovered) == 2
    loud = [r for r in caplog.records if r.levelno >= logging.INFO and r.exc_info]
    assert loud == [], [r.getMessage() for r in loud]  # tracebacks only at DEBUG
    assert any(r.levelno == logging.DEBUG and r.exc_info for r in caplog.records)
    assert TOKEN not in caplog.text
    assert len(fake.messages(CHAT)) == 3  # /help answered before, between and after
