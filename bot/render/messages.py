"""A session's messages: one alert per pair with events, or one quiet-day summary.

Each message has a key naming what it reports ("2025-01-27 chips/platforms shock
chips->platforms"); the outbox keeps one row per (key, target), so two pairs flagged on one
session are two alerts, each delivered once, and the same session evaluated twice (a
restart, ``signal --send`` run again) finds its keys already there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from bot.config import Config
from bot.config.model import ChannelConfig
from bot.core.models import Picture, Severity, SignalState
from bot.core.signals import Signals
from bot.render import html
from bot.render import text as fmt
from bot.render.parts import Part, PhotoPart, TextPart

ALERT_CHART_DAYS = 250  # about a year of sessions behind an alert

Flagged = Mapping[str, str] | None  # pair -> when an in-progress warning first flagged it


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One logical message: its parts in sending order, under a key naming what it reports."""

    key: str
    kind: str  # "alert" or "quiet"
    parts: tuple[Part, ...]


def alert_key(state: SignalState) -> str:
    """Name what one pair's alert reports: "2025-01-27 chips/platforms shock chips->platforms"."""
    # Two regime rules may fire the same way on one session: name the direction once.
    names = dict.fromkeys(f"{e.kind} {e.from_basket}->{e.to_basket}" for e in state.events)
    return f"{state.date} {state.pair} " + " + ".join(names)


def compose(text: str, png: bytes | None, filename: str, caption: str) -> tuple[Part, ...]:
    """Return the parts of a message: one captioned photo when the text fits a caption,
    else the text (split at 4096) then the photo with the short ``caption``."""
    if png is not None and html.fits_caption(text):
        return (PhotoPart(png, filename, text),)
    texts = html.split_message(text)
    parts: list[Part] = [
        TextPart(t, "text" if len(texts) == 1 else f"text {i}/{len(texts)}")
        for i, t in enumerate(texts, start=1)
    ]
    if png is not None:
        parts.append(PhotoPart(png, filename, caption))
    return tuple(parts)


def session_messages(
    config: Config, signals: Signals, picture: Picture, flagged: Flagged = None
) -> list[Outgoing]:
    """Return the session's alerts (one per pair with events at or above
    ``telegram.min_severity``, in config order), or its quiet-day summary when no pair has one
    and ``telegram.send_quiet_days`` is on; events below the threshold are only in the summary.
    ``flagged``: pair -> when an in-progress warning first flagged its rotation ("10:30 ET")."""
    alerts = pair_alerts(config, signals, picture, config.telegram.min_severity, flagged=flagged)
    if alerts or not config.telegram.send_quiet_days:
        return alerts
    text = fmt.render_quiet_day(picture, config)
    return [Outgoing(f"{picture.date} quiet", "quiet", compose(text, None, "", ""))]


def channel_messages(
    config: Config,
    signals: Signals,
    picture: Picture,
    channel: ChannelConfig,
    flagged: Flagged = None,
) -> list[Outgoing]:
    """Return one named channel's alerts: its own ``min_severity``, ``pairs`` and ``charts``.
    The keys are the chats' keys: the outbox tells the targets apart."""
    states = replace(picture, pairs=tuple(p for p in picture.pairs if channel.watches(p.pair)))
    return pair_alerts(config, signals, states, channel.min_severity, channel.charts, flagged)


def pair_alerts(
    config: Config,
    signals: Signals,
    picture: Picture,
    min_severity: str,
    charts: bool | None = None,
    flagged: Flagged = None,
) -> list[Outgoing]:
    """Return one alert per pair with events at or above ``min_severity``, in config order."""
    floor = Severity(min_severity).rank
    alerts = []
    for state in picture.pairs:
        pushed = tuple(e for e in state.events if e.severity.rank >= floor)
        if pushed:
            chart = config.telegram.charts if charts is None else charts
            first = (flagged or {}).get(state.pair)
            alerts.append(_alert(config, signals, replace(state, events=pushed), chart, first))
    return alerts


def _alert(
    config: Config, signals: Signals, state: SignalState, charts: bool, first: str | None
) -> Outgoing:
    text = fmt.render_alert(state, config, first)
    png = None
    if charts:
        from bot.render.charts import ratio_chart

        png = ratio_chart(signals.pair(state.pair), end=state.date, days=ALERT_CHART_DAYS)
    caption = fmt.chart_caption(config, state.pair, f"ratio to {state.date}")
    filename = f"ratio-{state.pair.replace('/', '-')}-{state.date}.png"
    return Outgoing(alert_key(state), "alert", compose(text, png, filename, caption))
