"""Named channels through the one outbox: apprise itself posting to a fake service on 127.0.0.1.

Telegram is the real python-telegram-bot client against the fake Bot API; the channels are
apprise's ``json://`` and ``ntfy://`` schemes posting to ``tests.fake_service``. Every target
gets the outbox's rules, and one slow or failing target never holds up the others.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import date
from pathlib import Path

import pytest

from bot.config import Config, StateConfig, TelegramConfig
from bot.notify.apprise_channel import AppriseNotifier, ChannelTimeouts
from bot.notify.channels import Fanout
from bot.notify.notifiers import Notifier, RetryPolicy, TextPart
from bot.notify.outbox import deliver_pending, encode_parts
from bot.notify.status import collect_status, render_status
from bot.notify.telegram import TelegramNotifier
from bot.store.db import connect
from bot.store.state import StateStore, Target
from tests.fake_service import FakeService
from tests.fake_telegram import TOKEN, FakeTelegram

pytestmark = pytest.mark.integration

CHAT = 111
SESSION = date(2026, 7, 1)
KEY = "2026-07-01 chips/platforms shock chips->platforms"
HOOK, NTFY = Target("hook"), Target("ntfy")
FAST = RetryPolicy(attempts=3, backoff=0.05)


@pytest.fixture
def service() -> Iterator[FakeService]:
    with FakeService() as fake:
        yield fake


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


def config_for(tmp_path: Path, telegram: FakeTelegram) -> Config:
    return Config(
        state=StateConfig(path=tmp_path / "state.db"),
        telegram=TelegramConfig(chat_ids=(CHAT,), api_base_url=telegram.api_base_url),
    )


def hook(service: FakeService, path: str = "/hook/s3cr3t-path", **kw: object) -> AppriseNotifier:
    url = f"json://{service.host}{path}"
    timeouts = kw.pop("timeouts", ChannelTimeouts(connect=1.0, read=2.0, bound=5.0))
    assert isinstance(timeouts, ChannelTimeouts)
    return AppriseNotifier("hook", url, timeouts=timeouts, policy=FAST)


def ntfy(service: FakeService) -> AppriseNotifier:
    return AppriseNotifier("ntfy", f"ntfy://{service.host}/rotabot-topic", policy=FAST)


def queue(path: Path, *targets: int | Target, key: str = KEY) -> None:
    parts = encode_parts((TextPart("<b>Shock</b> rotation &amp; more"),))
    with closing(connect(path)) as conn:
        StateStore(conn).enqueue(key, SESSION, "alert", parts, list(targets))


def deliver(path: Path, fanout: Notifier | Fanout) -> int:
    with closing(connect(path)) as conn:
        store = StateStore(conn)
        store.recover()  # what a (re)start does before delivering
        return asyncio.run(deliver_pending(store, fanout))


def statuses(path: Path) -> dict[Target, str]:
    with closing(connect(path)) as conn:
        return {r.target: r.status for r in StateStore(conn).rows_of(KEY)}


def test_an_alert_arrives_once_per_target(
    tmp_path: Path, service: FakeService, telegram: FakeTelegram
) -> None:
    config = config_for(tmp_path, telegram)
    path = config.state.path
    queue(path, CHAT, HOOK, NTFY)
    fanout = Fanout(TelegramNotifier(config, TOKEN), {"hook": hook(service), "ntfy": ntfy(service)})
    assert deliver(path, fanout) == 3
    assert deliver(path, fanout) == 0  # a second delivery (a restart, --send again) sends none
    (posted,) = service.to("/hook/s3cr3t-path")
    assert posted.json()["message"] == "Shock rotation & more"  # Telegram HTML made plain
    (topic,) = service.to("/")  # ntfy posts the topic in the body
    assert topic.json()["topic"] == "rotabot-topic"
    assert topic.json()["message"] == "Shock rotation & more"
    assert [m.plain for m in telegram.messages(CHAT)] == ["Shock rotation & more"]
    assert set(statuses(path).values()) == {"sent"}
    with closing(connect(path)) as conn:
        text = render_status(collect_status(config, conn, telegram_now()), config)
    assert "channel hook: last success 20" in text and "chat 111: last success 20" in text


def telegram_now() -> object:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def test_a_crash_between_the_outbox_write_and_the_send_delivers_once_after_restart(
    tmp_path: Path, service: FakeService
) -> None:
    path = tmp_path / "state.db"
    queue(path, HOOK)  # written, then the process died before sending: nothing went out
    assert service.posts == []
    assert deliver(path, Fanout(_no_chats(), {"hook": hook(service)})) == 1  # the restart
    assert deliver(path, Fanout(_no_chats(), {"hook": hook(service)})) == 0
    assert len(service.to("/hook/s3cr3t-path")) == 1


def test_a_crash_after_the_bytes_left_is_unconfirmed_and_not_resent(
    tmp_path: Path, service: FakeService
) -> None:
    path = tmp_path / "state.db"
    queue(path, HOOK)
    with closing(connect(path)) as conn:  # the crash: marked in doubt, then the process died
        (row,) = StateStore(conn).pending()
        StateStore(conn).sending(row.id)
    assert deliver(path, Fanout(_no_chats(), {"hook": hook(service)})) == 0
    assert statuses(path) == {HOOK: "unconfirmed"}
    assert service.posts == []


def test_a_target_answering_500_is_retried_then_delivered(
    tmp_path: Path, service: FakeService
) -> None:
    path = tmp_path / "state.db"
    queue(path, HOOK)
    service.fail("/hook/s3cr3t-path", 2)  # two 500s, then it takes it (3 tries allowed)
    assert deliver(path, Fanout(_no_chats(), {"hook": hook(service)})) == 1
    assert len(service.to("/hook/s3cr3t-path")) == 3
    assert statuses(path) == {HOOK: "sent"}


def test_a_target_down_for_longer_stays_pending_and_goes_out_on_the_next_delivery(
    tmp_path: Path, service: FakeService
) -> None:
    path = tmp_path / "state.db"
    queue(path, HOOK)
    service.fail("/hook/s3cr3t-path", 3)
    assert deliver(path, Fanout(_no_chats(), {"hook": hook(service)})) == 0
    assert statuses(path) == {HOOK: "pending"}
    with closing(connect(path)) as conn:
        (row,) = StateStore(conn).rows_of(KEY)
    assert row.error == "channel hook: the service answered HTTP 500; will retry"
    assert deliver(path, Fanout(_no_chats(), {"hook": hook(service)})) == 1
    assert statuses(path) == {HOOK: "sent"}


def test_a_refused_connection_stays_pending_and_a_4xx_fails_for_good(
    tmp_path: Path, service: FakeService
) -> None:
    path = tmp_path / "state.db"
    queue(path, HOOK)
    gone = AppriseNotifier("hook", "json://127.0.0.1:9/hook", policy=FAST)  # nothing listens
    assert deliver(path, Fanout(_no_chats(), {"hook": gone})) == 0
    assert statuses(path) == {HOOK: "pending"}
    service.fail("/hook/s3cr3t-path", 1, status=404)  # a revoked webhook: retrying is useless
    assert deliver(path, Fanout(_no_chats(), {"hook": hook(service)})) == 0
    assert statuses(path) == {HOOK: "failed"}
    assert len(service.to("/hook/s3cr3t-path")) == 1


def test_a_target_that_never_answers_does_not_delay_telegram(
    tmp_path: Path, service: FakeService, telegram: FakeTelegram
) -> None:
    config = config_for(tmp_path, telegram)
    path = config.state.path
    queue(path, HOOK, CHAT, NTFY)  # the hanging channel's row comes first
    service.hang("/hook/s3cr3t-path")
    bound = ChannelTimeouts(connect=1.0, read=10.0, bound=1.5)
    slow = hook(service, timeouts=bound)
    fanout = Fanout(TelegramNotifier(config, TOKEN), {"hook": slow, "ntfy": ntfy(service)})
    started = time.monotonic()
    assert deliver(path, fanout) == 3  # settled: two sent, one unconfirmed
    took = time.monotonic() - started
    (call,) = telegram.calls_to("sendMessage")
    assert call.at - started < 1.0  # Telegram did not wait for the hanging channel
    assert service.to("/")[0].at - started < 1.0
    assert took < bound.bound + 1.0  # the hanging send was cut at its bound
    assert statuses(path) == {Target("telegram", CHAT): "sent", NTFY: "sent", HOOK: "unconfirmed"}


def test_a_channel_without_a_notifier_keeps_its_rows_pending(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "state.db"
    queue(path, HOOK)
    with caplog.at_level(logging.WARNING):
        assert deliver(path, Fanout(_no_chats())) == 0
    assert statuses(path) == {HOOK: "pending"}
    assert "channel hook: not configured" in caplog.text


def _no_chats() -> Notifier:
    from tests.fakes import RecordingNotifier

    return RecordingNotifier()


def test_a_bound_reached_while_backing_off_leaves_the_row_pending(
    tmp_path: Path, service: FakeService
) -> None:
    path = tmp_path / "state.db"
    queue(path, HOOK)
    service.fail("/hook/s3cr3t-path", 99)
    patient = AppriseNotifier(
        "hook",
        f"json://{service.host}/hook/s3cr3t-path",
        timeouts=ChannelTimeouts(connect=1.0, read=1.0, bound=0.5),
        policy=RetryPolicy(attempts=3, backoff=5.0),
    )
    started = time.monotonic()
    assert deliver(path, Fanout(_no_chats(), {"hook": patient})) == 0
    assert time.monotonic() - started < 2.0
    assert statuses(path) == {HOOK: "pending"}  # the 500 proved it did not go out: retried
    assert len(service.to("/hook/s3cr3t-path")) == 1
