"""Which targets get which of a session's messages, beyond the chats' alerts.

The chats get ``session_messages`` (the job queues those for every unmuted chat); each
``[[channels]]`` entry gets its own alerts (its ``min_severity``, ``pairs``, ``charts``); every
target whose digest is on gets the session's digest, daily, or on the week's last session.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta

from bot.config import Config
from bot.core.models import Picture
from bot.core.signals import Signals
from bot.data.runtimes import Runtimes
from bot.notify.outbox import encode_parts
from bot.render.digest import problem_digest, session_digest
from bot.render.messages import Outgoing, channel_messages
from bot.store.outbox import Queued, Target, Targets

Routed = list[tuple[Queued, Targets]]


def _queued(message: Outgoing) -> Queued:
    return (message.key, message.kind, encode_parts(message.parts))


def channel_alerts(
    config: Config, signals: Signals, picture: Picture, flagged: Mapping[str, str] | None = None
) -> Routed:
    """Each named channel's own alerts, queued for that channel only (``flagged``: pair ->
    when an in-progress warning first flagged its rotation)."""
    routed: Routed = []
    for channel in config.channels:
        for message in channel_messages(config, signals, picture, channel, flagged):
            routed.append((_queued(message), [Target(channel.name)]))
    return routed


def digests(
    config: Config,
    runtimes: Runtimes,
    session: date,
    chats: Sequence[int],
    picture: Picture | None,
    problem: str = "",
) -> Routed:
    """The session's digests: one per (cadence, floor) for the targets that want it, or the
    problem digest (``problem``) when the session produced no signal."""
    last_of_week = _last_of_week(runtimes, session)
    wanted: list[tuple[str, str, Target | int]] = []
    if config.telegram.digest != "off":
        wanted += [(config.telegram.digest, config.telegram.min_severity, c) for c in chats]
    wanted += [
        (c.digest, c.min_severity, Target(c.name)) for c in config.channels if c.digest != "off"
    ]
    groups: dict[tuple[bool, str], list[Target | int]] = {}
    for cadence, floor, target in wanted:
        if cadence == "daily" or last_of_week:
            groups.setdefault((cadence == "weekly", floor), []).append(target)
    routed: Routed = []
    for (weekly, floor), targets in groups.items():
        if picture is None:
            message = problem_digest(session, problem, weekly)
        else:
            message = session_digest(config, picture, floor, weekly)
        routed.append((_queued(message), targets))
    return routed


def _last_of_week(runtimes: Runtimes, session: date) -> bool:
    following = runtimes.sessions(session + timedelta(days=1), session + timedelta(days=10))
    return not following or following[0].isocalendar()[:2] != session.isocalendar()[:2]
