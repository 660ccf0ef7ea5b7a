"""Read ``[[channels]]``: the services apprise posts alerts to, besides Telegram.

Each table names a channel and the environment variable that holds its apprise URL
(``url_env``); the URL itself holds secrets, so a value that looks like a URL is refused
without being repeated in the error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import fields

from bot.config.model import DIGESTS, ChannelConfig
from bot.config.reader import Reader
from bot.core.params import Pair

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
CHANNEL_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
RESERVED = ("telegram", "console")
SEVERITIES = ("info", "alert", "severe")


def read_channels(top: Reader, watched: tuple[Pair, ...]) -> tuple[ChannelConfig, ...]:
    """Read every ``[[channels]]`` table, reporting problems as ``channels[i].key: ...``."""
    raw = top.table.get("channels", [])
    if not isinstance(raw, list):
        top.problem("channels", "must be an array of tables ([[channels]])")
        return ()
    channels: list[ChannelConfig] = []
    seen: dict[str, int] = {}
    for i, table in enumerate(raw):
        where = top.where(f"channels[{i}]")
        if not isinstance(table, Mapping):
            top.problem(f"channels[{i}]", "must be a table ([[channels]])")
            continue
        channel = _channel(Reader(table, where, top.problems), watched)
        if channel.name in seen:
            top.problem(
                f"channels[{i}].name", f"{channel.name!r} repeats channels[{seen[channel.name]}]"
            )
            continue
        seen[channel.name] = i
        channels.append(channel)
    return tuple(channels)


def _channel(r: Reader, watched: tuple[Pair, ...]) -> ChannelConfig:
    r.check_keys(f.name for f in fields(ChannelConfig))
    d = ChannelConfig("", "")
    return ChannelConfig(
        name=_name(r),
        url_env=_url_env(r),
        min_severity=r.choice("min_severity", d.min_severity, SEVERITIES),
        pairs=_pairs(r, watched),
        charts=r.boolean("charts", d.charts),
        digest=r.choice("digest", d.digest, DIGESTS),
    )


def _name(r: Reader) -> str:
    if "name" not in r.table:
        r.problem("name", "missing: give the channel a short name (it names it in logs)")
        return "?"
    name = r.string("name", "?")
    if not CHANNEL_NAME.fullmatch(name):
        r.problem("name", "use 1-32 lower-case letters, digits, '-' or '_' (like \"ops-discord\")")
    elif name in RESERVED:
        r.problem("name", f"{name!r} is reserved: pick another name")
    return name


def _url_env(r: Reader) -> str:
    if "url_env" not in r.table:
        r.problem("url_env", "missing: the NAME of the environment variable holding the URL")
        return ""
    value = r.table["url_env"]
    if not isinstance(value, str) or not ENV_NAME.fullmatch(value):
        # Never echo the value: it may be the URL itself, secrets and all.
        r.problem(
            "url_env",
            "must be the NAME of an environment variable (like ROTABOT_DISCORD_URL), "
            "not the URL: put the URL in that variable",
        )
        return ""
    return value


def _pairs(r: Reader, watched: tuple[Pair, ...]) -> tuple[str, ...]:
    texts = r.list_of("pairs", (), str, 'pairs like "chips/platforms"')
    known = [p.key for p in watched]
    out: list[str] = []
    for i, text in enumerate(texts):
        key = text.strip()
        if key not in known:
            r.problem(f"pairs[{i}]", f"{key!r} is not a watched pair (watched: {', '.join(known)})")
        elif key not in out:
            out.append(key)
    return tuple(out)
