"""Send a session's alert (or its quiet-day summary) to every configured chat.

``send_signal`` is what ``rotabot signal --send`` calls. It picks the notifier (Telegram when
the token's environment variable is set, else the console), builds the message once (text,
and the ratio chart unless ``telegram.charts = false``) and sends it to each chat in
``telegram.chat_ids`` that has not muted alerts with ``/mute``. The async ``deliver`` is the
part a scheduler running on the bot's event loop can call directly.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.config import Config
from bot.core.models import SignalState
from bot.core.signals import Signals
from bot.errors import NotifyError, UserError
from bot.notify.notifiers import (
    CONSOLE_CHAT,
    ConsoleNotifier,
    DeliveryLog,
    Notifier,
    Part,
    PhotoPart,
    TelegramNotifier,
    TextPart,
)
from bot.store.db import connect

ALERT_CHART_DAYS = 250  # about a year of sessions behind an alert
CHARTS_FOLDER = "rotabot-charts"


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One logical message: its parts in sending order, under a key naming what it reports."""

    key: str
    kind: str  # "alert" or "quiet"
    parts: tuple[Part, ...]


@dataclass(slots=True)
class DeliveryReport:
    sent: list[int] = field(default_factory=list)
    unconfirmed: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    muted: list[int] = field(default_factory=list)


def session_key(state: SignalState) -> str:
    """Name what a session's message reports: "2025-01-27 shock chips->platforms"."""
    if not state.events:
        return f"{state.date} quiet"
    names = [f"{e.kind} {e.from_basket}->{e.to_basket}" for e in state.events]
    return f"{state.date} " + " + ".join(names)


def compose(text: str, png: bytes | None, filename: str, caption: str) -> tuple[Part, ...]:
    """Return the parts of a message: one captioned photo when the text fits a caption,
    else the text (split at 4096) then the photo with the short ``caption``."""
    from bot.render.text import fits_caption, split_message

    if png is not None and fits_caption(text):
        return (PhotoPart(png, filename, text),)
    texts = split_message(text)
    parts: list[Part] = [
        TextPart(t, "text" if len(texts) == 1 else f"text {i}/{len(texts)}")
        for i, t in enumerate(texts, start=1)
    ]
    if png is not None:
        parts.append(PhotoPart(png, filename, caption))
    return tuple(parts)


def build_outgoing(config: Config, signals: Signals, state: SignalState) -> Outgoing | None:
    """Return the session's alert, its quiet-day summary, or None when nothing is due."""
    from bot.render import text as fmt

    if state.events:
        text, kind = fmt.render_alert(state, config), "alert"
    elif config.telegram.send_quiet_days:
        text, kind = fmt.render_quiet_day(state, config), "quiet"
    else:
        return None
    png = None
    if config.telegram.charts and state.events:
        from bot.render.charts import ratio_chart

        png = ratio_chart(signals, end=state.date, days=ALERT_CHART_DAYS)
    caption = fmt.chart_caption(config, f"ratio to {state.date}")
    parts = compose(text, png, f"ratio-{state.date}.png", caption)
    return Outgoing(session_key(state), kind, parts)


async def deliver(
    notifier: Notifier, chat_ids: Sequence[int], outgoing: Outgoing
) -> DeliveryReport:
    """Send ``outgoing`` to each chat, part by part; one chat's failure does not stop others."""
    report = DeliveryReport()
    async with notifier:
        for chat in chat_ids:
            confirmed = True
            try:
                for part in outgoing.parts:
                    sent = await notifier.send(chat, part, outgoing.key, outgoing.kind)
                    confirmed = confirmed and sent.confirmed
            except NotifyError as exc:
                report.failed[chat] = str(exc)
                continue
            (report.sent if confirmed else report.unconfirmed).append(chat)
    return report


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


def send_signal(config: Config, signals: Signals, state: SignalState) -> int:
    """Send the alert or quiet-day summary of ``state``; return the exit status."""
    outgoing = build_outgoing(config, signals, state)
    if outgoing is None:
        _say(
            f"no rotation on {state.date}: nothing sent "
            "(set telegram.send_quiet_days = true for a daily summary)"
        )
        return 0
    token = token_of(config)
    conn = connect(config.state.path)
    try:
        notifier, chats = _pick_notifier(config, token, conn)
        now = datetime.now(UTC)
        mutes = MuteStore(conn)
        muted = [c for c in chats if mutes.muted_until(c, now) is not None]
        targets = [c for c in chats if c not in muted]
        report = asyncio.run(deliver(notifier, targets, outgoing))
        report.muted = muted
    finally:
        conn.close()
    return _summarise(report, outgoing)


def _pick_notifier(
    config: Config, token: str | None, conn: sqlite3.Connection
) -> tuple[Notifier, list[int]]:
    chats = list(config.telegram.chat_ids)
    if token is None:
        _say(f"${config.telegram.token_env} is not set: printing what Telegram would receive")
        folder = config.state.path.parent / CHARTS_FOLDER
        return ConsoleNotifier(folder), chats or [CONSOLE_CHAT]
    if not chats:
        raise UserError(
            "telegram.chat_ids is empty: list the chats to alert in the config file "
            "(with telegram.reveal_chat_id = true, /start tells a chat its id)"
        )
    return TelegramNotifier(config, token, DeliveryLog(conn)), chats


def _summarise(report: DeliveryReport, outgoing: Outgoing) -> int:
    what = f"{outgoing.kind} {outgoing.key}"
    if report.sent:
        _say(f"sent {what} to {len(report.sent)} chat(s)")
    if report.unconfirmed:
        chats = ", ".join(map(str, report.unconfirmed))
        _say(f"warning: no confirmation from Telegram for chat(s) {chats}; not resent")
    if report.muted:
        _say(f"skipped muted chat(s) {', '.join(map(str, report.muted))}")
    for chat, problem in report.failed.items():
        _say(f"error: chat {chat}: {problem}")
    return 1 if report.failed else 0


def _say(text: str) -> None:
    # Status lines go to stderr so stdout keeps only the signal (and the console messages).
    print(f"rotabot: {text}", file=sys.stderr)
