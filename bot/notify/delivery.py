"""``rotabot signal --send``: a session's messages through the outbox, like the daemon's.

``send_signal`` builds the session's messages with ``bot.render.messages.session_messages``
(what the daemon queues: one alert per pair with events, or the quiet-day summary), queues
each under its key in the outbox of the state file for every chat of ``telegram.chat_ids``
that has not muted alerts with ``/mute``, then delivers them with the outbox's
``deliver_pending``. The outbox keeps one row per (key, chat), so a message reaches a chat
once whether the daemon, ``--send`` or both sent it, however often ``--send`` runs;
``--resend`` (``resend=True``) queues it again on purpose. What became of each chat is read
back from its outbox row: sent, already sent before, unconfirmed, queued or failed.

Each ``[[channels]]`` entry whose URL variable is set is a target too, with its own alerts
(``channel_messages``: its ``min_severity``, ``pairs``, ``charts``) under the same keys and the
same rules. Targets are served side by side; when one fails the others are still served, the
exit status is 1 and the failing channel is named (never its URL).

The notifier is Telegram when the token's environment variable is set, else the console.
With neither a token nor a channel it is a dry run: it says "would send" and prints what
each target would get, and never claims a message was sent.

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
from bot.notify.channels import Fanout, open_channel
from bot.notify.console import ConsoleNotifier
from bot.notify.notifiers import CONSOLE_CHAT, redact
from bot.notify.outbox import deliver_pending, encode_parts
from bot.render.messages import Outgoing as Outgoing
from bot.render.messages import channel_messages, session_messages
from bot.render.messages import compose as compose
from bot.store.db import connect
from bot.store.lock import AlreadyRunning, StateLock
from bot.store.state import TELEGRAM, OutboxRow, StateStore, Target

log = logging.getLogger(__name__)

_REACHED = ("sent", "unconfirmed")


@dataclass(slots=True)
class DeliveryReport:
    """What became of one message at each target, read back from its outbox rows."""

    sent: list[Target] = field(default_factory=list)
    unconfirmed: list[Target] = field(default_factory=list)  # may have arrived: not resent
    already: list[Target] = field(default_factory=list)  # reached it before: not resent
    queued: list[Target] = field(default_factory=list)  # left to the daemon holding the lock
    failed: dict[Target, str] = field(default_factory=dict)


Plan = list[tuple[Outgoing, list[Target]]]


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
    fanout, chats = _pick_notifier(config, token_of(config))
    dry = isinstance(fanout.main, ConsoleNotifier)  # the chats' messages are only printed
    plan: Plan = [(m, []) for m in session_messages(config, signals, picture)]
    for channel in config.channels:
        if channel.name in fanout.named:
            for m in channel_messages(config, signals, picture, channel):
                plan.append((m, [Target(channel.name)]))
    if not plan:
        _say(
            f"no rotation on {picture.date}: nothing to send "
            "(set telegram.send_quiet_days = true for a daily summary)"
        )
        return 0
    return send_plan(config, fanout, chats, plan, picture.date, resend, dry)


def send_plan(
    config: Config,
    fanout: Fanout,
    chats: list[int],
    plan: Plan,
    session: date,
    resend: bool = False,
    dry: bool = False,
) -> int:
    """Queue each message for its targets (an empty list: every unmuted chat), deliver them
    side by side, and report per target (module doc); return the exit status."""
    conn = connect(config.state.path)
    try:
        store = StateStore(conn)
        muted = _muted(conn, chats)
        listeners = [Target(TELEGRAM, c) for c in chats if c not in muted]
        plan = [(m, targets or listeners) for m, targets in plan]
        before = {m.key: _statuses(store, m.key) for m, _ in plan}
        for m, targets in plan:
            parts = encode_parts(m.parts)
            if resend:
                _say(f"resending {m.kind} {m.key} as asked (--resend)")
                store.requeue(m.key, session, m.kind, parts, targets)
                before[m.key] = {}
            else:
                store.enqueue(m.key, session, m.kind, parts, targets)
        delivered, error = _deliver(config, store, fanout, sorted({m.key for m, _ in plan}))
        reports = [
            (m, _report(store.rows_of(m.key), targets, before[m.key], delivered))
            for m, targets in plan
        ]
    finally:
        conn.close()
    if muted:
        _say(f"skipped muted chat(s) {', '.join(map(str, muted))}")
    status = max(_summarise(report, m, dry) for m, report in reports)
    if error is not None:  # a target could not even be opened: the others were served
        raise error
    return status


def _muted(conn: sqlite3.Connection, chats: Sequence[int]) -> list[int]:
    now = datetime.now(UTC)
    mutes = MuteStore(conn)
    return [c for c in chats if mutes.muted_until(c, now) is not None]


def _statuses(store: StateStore, key: str) -> dict[Target, str]:
    return {r.target: r.status for r in store.rows_of(key)}


def _deliver(
    config: Config, store: StateStore, notifier: Fanout, keys: list[str]
) -> tuple[bool, NotifyError | None]:
    """Deliver the pending rows of ``keys`` unless a daemon holds the state file; return
    whether this process delivered, and the error of a target that could not be opened
    (Telegram unreachable): every other target was served, its rows stay pending."""
    lock = StateLock(config.state.path)
    try:
        lock.acquire()
    except AlreadyRunning:
        return False, None
    try:
        # With the lock held no one else is sending: a row still "sending" was cut short.
        if store.recover():
            log.warning("outbox rows interrupted mid-send were marked unconfirmed, not resent")
        asyncio.run(deliver_pending(store, notifier, keys))
    except NotifyError as exc:
        return True, exc
    finally:
        lock.release()
    return True, None


def _report(
    rows: Sequence[OutboxRow],
    targets: Sequence[Target],
    before: Mapping[Target, str],
    delivered: bool,
) -> DeliveryReport:
    report = DeliveryReport()
    by_target = {r.target: r for r in rows}
    for chat in targets:
        row = by_target.get(chat)
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
            report.failed[chat] = f"{error or 'refused'}{again}"
        elif delivered:
            report.failed[chat] = (
                f"{error or 'not delivered'}; it stays queued for the next --send or the daemon"
            )
        else:
            report.queued.append(chat)
    return report


def _pick_notifier(config: Config, token: str | None) -> tuple[Fanout, list[int]]:
    chats = list(config.telegram.chat_ids)
    if token is None:
        _say(f"${config.telegram.token_env} is not set: printing what Telegram would receive")
        return _fanout(config, None), chats or [CONSOLE_CHAT]
    if not chats:
        raise UserError(
            "telegram.chat_ids is empty: list the chats to alert in the config file "
            "(with telegram.reveal_chat_id = true, /start tells a chat its id)"
        )
    check_token(token, config.telegram.token_env)
    return _fanout(config, token), chats


def _fanout(config: Config, token: str | None) -> Fanout:
    found = open_channel(config, token)[1]
    return found if isinstance(found, Fanout) else Fanout(found)


def _summarise(report: DeliveryReport, message: Outgoing, dry: bool = False) -> int:
    what = f"{message.kind} {message.key}"
    printed = [t for t in report.sent if dry and t.channel == TELEGRAM]
    if printed:
        _say(f"would send {what} to {_names(printed)} (dry run: printed above, nothing went out)")
    if sent := [t for t in report.sent if t not in printed]:
        _say(f"sent {what} to {_names(sent)}")
    if report.unconfirmed:
        _say(f"warning: {what}: no confirmation from {_names(report.unconfirmed)}; not resent")
    if report.already:
        _say(
            f"{what} already went to {_names(report.already)}: not sent again "
            "(--resend sends it anyway)"
        )
    if report.queued:
        _say(
            f"queued {what} for {_names(report.queued)}: the daemon running on this state file "
            "sends it"
        )
    for target, problem in report.failed.items():
        # A notifier's own message may already start with the target's name: say it once.
        _say(f"error: {what}: {target}: {redact(problem).removeprefix(f'{target}: ')}")
    return 1 if report.failed else 0


def _names(targets: Sequence[Target]) -> str:
    """ "chat(s) 111, -222", "channel(s) ops", or both joined by "and"."""
    chats = [str(t.chat_id) for t in targets if t.channel == TELEGRAM]
    named = [t.channel for t in targets if t.channel != TELEGRAM]
    found = []
    if chats:
        found.append(f"chat(s) {', '.join(chats)}")
    if named:
        found.append(f"channel(s) {', '.join(named)}")
    return " and ".join(found)


def _say(text: str) -> None:
    # Status lines go to stderr so stdout keeps only the signal (and the console messages).
    print(f"rotabot: {text}", file=sys.stderr)
