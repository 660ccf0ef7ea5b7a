"""``rotabot signal --send``: a session's messages through the outbox, like the daemon's.

``send_signal`` builds the session's messages with ``bot.render.messages.session_messages``
(what the daemon queues: one alert per pair with events, or the quiet-day summary), queues
each under its key in the outbox of the state file for every chat of ``telegram.chat_ids``
that has not muted alerts with ``/mute``, then delivers them with the outbox's
``deliver_pending``. The outbox keeps one row per (key, chat), so a message reaches a chat
once whether the daemon, ``--send`` or both sent it, however often ``--send`` runs;
``--resend`` (``resend=True``) queues it again on purpose. What became of each chat is read
back from its outbox row: sent, already sent before, unconfirmed, queued or failed.

The notifier is Telegram when the token's environment variable is set, else the console,
which prints what Telegram would receive.

Only one process delivers from a state file at a time: ``--send`` takes the daemon's lock
(``bot.store.lock``) while it delivers. When a running daemon holds it, ``--send`` only
queues and the daemon sends the messages when it next delivers.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from bot.config import Config
from bot.config.load import check_token
from bot.core.models import Picture
from bot.core.signals import Signals
from bot.errors import NotifyError, UserError
from bot.notify.channels import open_channel
from bot.notify.notifiers import CONSOLE_CHAT, Notifier
from bot.notify.outbox import deliver_pending, encode_parts
from bot.render.messages import Outgoing as Outgoing
from bot.render.messages import compose as compose
from bot.render.messages import session_messages
from bot.store.db import connect
from bot.store.lock import AlreadyRunning, StateLock
from bot.store.state import OutboxRow, StateStore

log = logging.getLogger(__name__)

_REACHED = ("sent", "unconfirmed")


@dataclass(slots=True)
class DeliveryReport:
    """What became of one message in each chat, read back from its outbox rows."""

    sent: list[int] = field(default_factory=list)
    unconfirmed: list[int] = field(default_factory=list)  # may have arrived: not resent
    already: list[int] = field(default_factory=list)  # reached the chat before: not resent
    queued: list[int] = field(default_factory=list)  # left to the daemon holding the lock
    failed: dict[int, str] = field(default_factory=dict)


class MuteStore:
    """Per-chat mutes in the ``chat_mutes`` table: a chat is muted while now < until."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def mute(self, chat_id: int, until: datetime) -> None:
        self.conn.execute(
            "INSERT INTO chat_mutes (chat_id, until) VALUES (?, ?) "
            "ON CONFLICT (chat_id) DO UPDATE SET until = excluded.until",
            (chat_id, until.astimezone(UTC).isoformat(timespec="seconds")),
        )

    def unmute(self, chat_id: int, now: datetime) -> bool:
        """Lift a mute; return whether one was in force."""
        was = self.muted_until(chat_id, now) is not None
        self.conn.execute("DELETE FROM chat_mutes WHERE chat_id = ?", (chat_id,))
        return was

    def muted_until(self, chat_id: int, now: datetime) -> datetime | None:
        row = self.conn.execute(
            "SELECT until FROM chat_mutes WHERE chat_id = ?", (chat_id,)
        ).fetchone()
        if row is None:
            return None
        until = datetime.fromisoformat(row[0])
        return until if until > now else None


def token_of(config: Config, environ: Mapping[str, str] | None = None) -> str | None:
    """Return the bot token from the environment variable named by ``telegram.token_env``."""
    value = (os.environ if environ is None else environ).get(config.telegram.token_env, "")
    return value.strip() or None


def send_signal(config: Config, signals: Signals, picture: Picture, resend: bool = False) -> int:
    """Send the session's alerts (or quiet-day summary) through the outbox; return the exit
    status (1 when a chat failed)."""
    messages = session_messages(config, signals, picture)
    if not messages:
        _say(
            f"no rotation on {picture.date}: nothing sent "
            "(set telegram.send_quiet_days = true for a daily summary)"
        )
        return 0
    return send_messages(config, messages, picture.date, resend)


def send_messages(
    config: Config, messages: Sequence[Outgoing], session: date, resend: bool = False
) -> int:
    """Queue ``messages`` for every unmuted chat, deliver them, report per chat (module doc)."""
    notifier, chats = _pick_notifier(config, token_of(config))
    conn = connect(config.state.path)
    try:
        store = StateStore(conn)
        now = datetime.now(UTC)
        mutes = MuteStore(conn)
        muted = [c for c in chats if mutes.muted_until(c, now) is not None]
        targets = [c for c in chats if c not in muted]
        before: dict[str, dict[int, str]] = {}
        for m in messages:
            before[m.key] = {r.chat_id: r.status for r in store.rows_of(m.key)}
            parts = encode_parts(m.parts)
            if resend:
                _say(f"resending {m.kind} {m.key} as asked (--resend)")
                store.requeue(m.key, session, m.kind, parts, targets)
                before[m.key] = {}
            else:
                store.enqueue(m.key, session, m.kind, parts, targets)
        delivered = _deliver(config, store, notifier, [m.key for m in messages])
        reports = [
            (m, _report(store.rows_of(m.key), targets, before[m.key], delivered)) for m in messages
        ]
    finally:
        conn.close()
    if muted:
        _say(f"skipped muted chat(s) {', '.join(map(str, muted))}")
    return max(_summarise(report, m) for m, report in reports)


def _deliver(config: Config, store: StateStore, notifier: Notifier, keys: list[str]) -> bool:
    """Deliver the pending rows of ``keys`` unless a daemon holds the state file; return
    whether this process delivered."""
    lock = StateLock(config.state.path)
    try:
        lock.acquire()
    except AlreadyRunning:
        return False
    try:
        # With the lock held no one else is sending: a row still "sending" was cut short.
        if store.recover():
            log.warning("outbox rows interrupted mid-send were marked unconfirmed, not resent")
        asyncio.run(deliver_pending(store, notifier, keys))
    except NotifyError:
        _say(f"{', '.join(keys)}: stays queued for the next --send or the daemon")
        raise
    finally:
        lock.release()
    return True


def _report(
    rows: Sequence[OutboxRow], targets: Sequence[int], before: Mapping[int, str], delivered: bool
) -> DeliveryReport:
    report = DeliveryReport()
    by_chat = {r.chat_id: r for r in rows}
    for chat in targets:
        row = by_chat.get(chat)
        status = row.status if row else "missing"
        error = row.error if row else None
        if status in _REACHED and before.get(chat) in _REACHED:
            report.already.append(chat)
        elif status == "sent":
            report.sent.append(chat)
        elif status == "unconfirmed":
            report.unconfirmed.append(chat)
        elif status == "failed":
            again = " (--resend tries again)" if before.get(chat) == "failed" else ""
            report.failed[chat] = f"{error or 'refused by Telegram'}{again}"
        elif delivered:
            report.failed[chat] = (
                f"{error or 'not delivered'}; it stays queued for the next --send or the daemon"
            )
        else:
            report.queued.append(chat)
    return report


def _pick_notifier(config: Config, token: str | None) -> tuple[Notifier, list[int]]:
    chats = list(config.telegram.chat_ids)
    if token is None:
        _say(f"${config.telegram.token_env} is not set: printing what Telegram would receive")
        return open_channel(config, None)[1], chats or [CONSOLE_CHAT]
    if not chats:
        raise UserError(
            "telegram.chat_ids is empty: list the chats to alert in the config file "
            "(with telegram.reveal_chat_id = true, /start tells a chat its id)"
        )
    check_token(token, config.telegram.token_env)
    return open_channel(config, token)[1], chats


def _summarise(report: DeliveryReport, message: Outgoing) -> int:
    what = f"{message.kind} {message.key}"
    if report.sent:
        _say(f"sent {what} to {len(report.sent)} chat(s)")
    if report.unconfirmed:
        chats = ", ".join(map(str, report.unconfirmed))
        _say(f"warning: {what}: no confirmation from Telegram for chat(s) {chats}; not resent")
    if report.already:
        chats = ", ".join(map(str, report.already))
        _say(f"{what} already went to chat(s) {chats}: not sent again (--resend sends it anyway)")
    if report.queued:
        chats = ", ".join(map(str, report.queued))
        _say(f"queued {what} for chat(s) {chats}: the daemon running on this state file sends it")
    for chat, problem in report.failed.items():
        _say(f"error: {what}: chat {chat}: {problem}")
    return 1 if report.failed else 0


def _say(text: str) -> None:
    # Status lines go to stderr so stdout keeps only the signal (and the console messages).
    print(f"rotabot: {text}", file=sys.stderr)
