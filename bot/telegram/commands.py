"""The bot's commands: one ``COMMANDS`` table drives the handlers, /help and the menu.

A handler parses its arguments, calls ``BotService`` off the event loop (its methods block)
and returns a ``Reply`` for ``bot.telegram.app`` to send. Arguments that cannot be used raise
``BadArguments`` (the reply adds the usage line); a pair that is not watched raises
``UsageError`` naming the watched pairs. Any argument echoed back is cut to a short prefix
(it may be pasted text of any length); the renderer escapes it.

Pairs are written as the config writes them, ``numerator/denominator``: an argument with a
slash is a pair, so ``/signal`` and ``/chart`` take their pair and value in either order.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from bot.config import Config, Pair
from bot.config.baskets import MAX_RRG_TAIL
from bot.core.models import Picture
from bot.errors import UsageError, did_you_mean
from bot.render import replies
from bot.render import text as fmt

if TYPE_CHECKING:
    from bot.telegram.service import BotService

CHART_SESSIONS = (20, 250, 5000)  # smallest, default, largest /chart window in sessions
MUTE_DAYS = (1, 1, 365)
ECHO = 40  # characters of a bad argument quoted back
MAX_ARGUMENT = 200  # characters: no command takes a longer word (a backtest key=value is short)
MAX_ARGUMENTS = 20
LISTED_PAIRS = 20  # watched pairs named in a refusal (/baskets lists them all)


@dataclass(frozen=True, slots=True)
class Reply:
    text: str = ""
    png: bytes | None = None
    filename: str = "chart.png"
    caption: str = ""


class BadArguments(UsageError):
    """Arguments a command cannot use; the reply adds the command's usage line."""


Handler = Callable[["BotService", int, list[str]], Awaitable[Reply]]


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    handler: Handler
    help: str
    usage: str = ""


# --- arguments ----------------------------------------------------------------------------


def shown(text: str) -> str:
    """Return an argument quoted for a reply: at most ``ECHO`` characters of it."""
    return repr(text[:ECHO] + ("…" if len(text) > ECHO else ""))


def check_arguments(args: Sequence[str]) -> None:
    """Refuse arguments no command could use before any work starts: too many, or one too
    long (pasted text), quoting a short prefix only."""
    if len(args) > MAX_ARGUMENTS:
        raise BadArguments(f"too many arguments: {len(args)} (no command takes {MAX_ARGUMENTS})")
    for arg in args:
        if len(arg) > MAX_ARGUMENT:
            raise BadArguments(
                f"argument too long: {shown(arg)} has {len(arg)} characters "
                f"(at most {MAX_ARGUMENT})"
            )


def is_pair(text: str) -> bool:
    """A pair has a slash; "2024/08/12" (digits and separators only) is a mistyped date."""
    return "/" in text and not re.fullmatch(r"[\d/.-]+", text)


def pick_pair(config: Config, text: str) -> Pair:
    """Return the watched pair ``text`` names (case aside).

    Raises:
        UsageError: not a watched pair; the message names the watched ones.
    """
    wanted = text.strip().lower()
    for pair in config.pairs:
        if pair.key == wanted:
            return pair
    keys = [p.key for p in config.pairs]
    listed = ", ".join(keys[:LISTED_PAIRS])
    if len(keys) > LISTED_PAIRS:
        listed += f" and {len(keys) - LISTED_PAIRS} more (see /baskets)"
    a, _, b = wanted.partition("/")
    flipped = f"{b}/{a}" in keys
    hint = f", but {b}/{a} is." if flipped else did_you_mean(wanted, keys) or "."
    raise UsageError(f"{shown(text)} is not a watched pair{hint} Watched: {listed}")


def pair_and_value(
    config: Config, args: Sequence[str], what: str
) -> tuple[Pair | None, str | None]:
    """Split ``[PAIR] [VALUE]`` (either order) into the watched pair and the other word."""
    pairs = [a for a in args if is_pair(a)]
    values = [a for a in args if not is_pair(a)]
    if len(pairs) > 1 or len(values) > 1:
        raise BadArguments(f"give at most one pair and one {what}")
    value = values[0] if values else None
    return (pick_pair(config, pairs[0]) if pairs else None), value


def bounded(text: str | None, bounds: tuple[int, int, int], what: str) -> int:
    """Return the whole number ``text`` (``bounds``: lowest, default when None, highest)."""
    lo, default, hi = bounds
    if text is None:
        return default
    if not re.fullmatch(r"\d{1,6}", text):
        raise BadArguments(f"{what} must be a whole number, got {shown(text)}")
    value = int(text)
    if not lo <= value <= hi:
        raise BadArguments(f"{what} must be between {lo} and {hi}, got {value}")
    return value


def a_date(text: str | None) -> date | None:
    """Return the YYYY-MM-DD date ``text`` (None when no date was given)."""
    if text is None:
        return None
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise BadArguments(f"not a date: {shown(text)} (want YYYY-MM-DD)")


def at_most_one(args: Sequence[str]) -> str | None:
    if len(args) > 1:
        raise BadArguments(f"too many arguments: {shown(' '.join(args[1:]))}")
    return args[0] if args else None


# --- handlers -----------------------------------------------------------------------------


async def _start(service: BotService, chat_id: int, args: list[str]) -> Reply:
    return Reply(replies.render_start(service.config, help_rows()))


async def _help(service: BotService, chat_id: int, args: list[str]) -> Reply:
    return Reply(replies.render_help(help_rows()))


async def _version(service: BotService, chat_id: int, args: list[str]) -> Reply:
    import platform

    import telegram

    from bot import __version__

    return Reply(
        replies.render_version(
            __version__,
            {"python-telegram-bot": telegram.__version__, "Python": platform.python_version()},
        )
    )


def hint(text: str) -> str:
    """Return the reply to a message that is no command this bot knows: one line, then /help."""
    word = text.strip().split(maxsplit=1)[0] if text.strip() else ""
    if word.startswith("/"):
        name = word[1:].split("@", 1)[0]
        known = [c.name for c in COMMANDS]
        line = f"Unknown command /{name[:ECHO]}{did_you_mean(name, known)}: the commands are below."
    else:
        line = "I only answer commands: the list is below (send /help for it any time)."
    return replies.render_hint(line, help_rows())


async def _status(service: BotService, chat_id: int, args: list[str]) -> Reply:
    return Reply(replies.render_status(await asyncio.to_thread(service.status, chat_id)))


async def _signal(service: BotService, chat_id: int, args: list[str]) -> Reply:
    pair, value = pair_and_value(service.config, args, "date")
    picture = await asyncio.to_thread(service.picture, a_date(value), pair)
    return Reply(render_picture(picture, service.config))


def render_picture(picture: Picture, config: Config) -> str:
    """Return the alert of every pair with events (config order), then one quiet summary of
    the pairs without (under a single "No rotation" headline)."""
    blocks = [fmt.render_alert(state, config) for state in picture.pairs if state.events]
    quiet = tuple(state for state in picture.pairs if not state.events)
    if quiet:
        blocks.append(fmt.render_quiet_day(Picture(picture.date, quiet, ()), config))
    return "\n\n".join(blocks)


async def _chart(service: BotService, chat_id: int, args: list[str]) -> Reply:
    config = service.config
    pair, value = pair_and_value(config, args, "number of sessions")
    sessions = bounded(value, CHART_SESSIONS, "SESSIONS")
    chosen = pair or config.pairs[0]
    png = await asyncio.to_thread(service.chart, chosen, sessions)
    caption = fmt.chart_caption(config, chosen.key, f"ratio, last {sessions} sessions")
    return Reply(png=png, filename=f"ratio-{'-'.join(chosen.keys)}.png", caption=caption)


async def _rrg(service: BotService, chat_id: int, args: list[str]) -> Reply:
    bounds = (1, service.config.watch.rrg_tail, MAX_RRG_TAIL)
    tail = bounded(at_most_one(args), bounds, "SESSIONS")
    png = await asyncio.to_thread(service.rrg, tail)
    caption = f"Every basket: relative rotation vs the benchmark, tails of {tail} sessions"
    return Reply(png=png, filename="rrg.png", caption=caption)


async def _scorecard(service: BotService, chat_id: int, args: list[str]) -> Reply:
    pair, extra = pair_and_value(service.config, args, "pair")
    if extra is not None:
        raise BadArguments(f"cannot read {shown(extra)}: want a watched pair like chips/platforms")
    s = await asyncio.to_thread(service.scorecard, pair)
    return Reply(replies.render_scorecard(s.rows, s.start, s.end, s.source))


async def _baskets(service: BotService, chat_id: int, args: list[str]) -> Reply:
    return Reply(replies.render_baskets(service.config))


async def _backtest(service: BotService, chat_id: int, args: list[str]) -> Reply:
    if not args:
        raise BadArguments("name a strategy")
    name, params = args[0], args[1:]
    # The backtest's own errors quote a name, key or value whole: keep each within ECHO.
    bad = [p for p in params if not (p.startswith("pair=") or re.fullmatch(BACKTEST_PARAM, p))]
    if bad or not re.fullmatch(BACKTEST_NAME, name):
        raise BadArguments(f"cannot read {shown(' '.join(bad) or name)}: want {BACKTEST_USAGE}")
    params = _with_pair(service.config, params)
    return Reply(replies.render_backtest(await asyncio.to_thread(service.backtest, name, params)))


def _with_pair(config: Config, params: list[str]) -> list[str]:
    """Check a ``pair=A/B`` parameter names a watched pair; write it as the config does."""
    picked = [p for p in params if p.startswith("pair=")]
    if len(picked) > 1:
        raise BadArguments("give pair= once")
    if not picked:
        return params
    pair = pick_pair(config, picked[0].removeprefix("pair="))
    return [f"pair={pair.key}" if p in picked else p for p in params]


async def _now(service: BotService, chat_id: int, args: list[str]) -> Reply:
    from bot.data import calendar
    from bot.data.intraday import Skipped
    from bot.render.intraday import clock, now_text

    config = service.config
    pair, extra = pair_and_value(config, args, "pair")
    if extra is not None:
        raise BadArguments(f"cannot read {shown(extra)}: want a watched pair like chips/platforms")
    moment, read = await asyncio.to_thread(service.now, pair)
    when = clock(moment, calendar.exchange_zone(config.schedule.calendar))
    if read is None:
        return Reply(now_text(config, when, None))
    if isinstance(read, Skipped):
        return Reply(now_text(config, when, (), read.reason))
    return Reply(now_text(config, when, read.readings))


async def _mute(service: BotService, chat_id: int, args: list[str]) -> Reply:
    days = bounded(at_most_one(args), MUTE_DAYS, "DAYS")
    return Reply(replies.render_mute(await asyncio.to_thread(service.mute, chat_id, days)))


async def _unmute(service: BotService, chat_id: int, args: list[str]) -> Reply:
    return Reply(replies.render_unmute(await asyncio.to_thread(service.unmute, chat_id)))


BACKTEST_USAGE = "STRATEGY [pair=A/B] [key=value ...]"
BACKTEST_NAME = rf"[A-Za-z_][\w-]{{0,{ECHO - 1}}}"
BACKTEST_PARAM = rf"[A-Za-z_]\w{{0,{ECHO - 1}}}=\S{{1,{ECHO}}}"

COMMANDS: tuple[Command, ...] = (
    Command("start", _start, "what this bot does"),
    Command("help", _help, "list the commands"),
    Command("status", _status, "last run, last alert, next run, data freshness"),
    Command(
        "signal",
        _signal,
        "the rotation picture at a close (default: every watched pair, latest close)",
        "[PAIR] [DATE]",
    ),
    Command(
        "chart",
        _chart,
        f"a pair's ratio chart over SESSIONS sessions (default: the first pair, "
        f"{CHART_SESSIONS[1]} sessions)",
        "[PAIR] [SESSIONS]",
    ),
    Command(
        "rrg",
        _rrg,
        "every basket vs the benchmark, tails of SESSIONS sessions (default: watch.rrg_tail)",
        "[SESSIONS]",
    ),
    Command("baskets", _baskets, "the baskets, their members and weights, the watched pairs"),
    Command("scorecard", _scorecard, "what followed the bot's alerts, vs random days", "[PAIR]"),
    Command("now", _now, "every pair's reading during the session, as the checks see it", "[PAIR]"),
    Command("backtest", _backtest, "backtest a strategy", BACKTEST_USAGE),
    Command("mute", _mute, "pause alerts in this chat (default 1 day)", "[DAYS]"),
    Command("unmute", _unmute, "resume alerts in this chat"),
    Command("version", _version, "the rotabot version this bot runs"),
)


def help_rows() -> list[tuple[str, str, str]]:
    return [(c.name, c.usage, c.help) for c in COMMANDS]
