"""Find, read and validate the configuration file.

The file is ``--config PATH`` when given, else ``$ROTABOT_CONFIG``, else ``./config.toml``,
else ``config.toml`` in the user's config folder (``$XDG_CONFIG_HOME/rotabot``); with none of
them the defaults apply (``config.example.toml`` spells them out, and a test
keeps the two equal). Relative paths in a file are resolved against the file's folder, so a
daemon started from any working directory finds its state.

The Telegram token is never part of the configuration: only the *name* of the environment
variable holding it is.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import fields
from datetime import date, datetime, time
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.config.baskets import cross_checks, read_baskets, read_watch
from bot.config.channels import read_channels
from bot.config.intraday import read_intraday
from bot.config.model import (
    DIGESTS,
    Config,
    DataConfig,
    ScheduleConfig,
    StateConfig,
    TelegramConfig,
    WatchConfig,
)
from bot.config.paths import state_file, user_config_file
from bot.config.reader import Reader
from bot.core.params import Basket, Benchmark, DetectorParams, Pair
from bot.errors import ConfigError, UserError

ENV_CONFIG = "ROTABOT_CONFIG"
DEFAULT_FILE = "config.toml"
TICKER = re.compile(r"^[A-Z0-9^][A-Z0-9^.=\-]{0,14}$")
SECTIONS = (
    "data",
    "state",
    "baskets",
    "watch",
    "benchmark",
    "telegram",
    "schedule",
    "signals",
    "intraday",
)
ARRAYS = ("channels",)  # arrays of tables ([[channels]]), beside the sections


def resolve_path(
    explicit: str | os.PathLike[str] | None, environ: Mapping[str, str]
) -> Path | None:
    """Return the config file to read, or None for the built-in defaults."""
    if explicit is not None:
        return Path(explicit)
    if environ.get(ENV_CONFIG):
        return Path(environ[ENV_CONFIG])
    for candidate in (Path(DEFAULT_FILE), user_config_file()):
        if candidate.is_file():
            return candidate
    return None


def load_config(
    explicit: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Config:
    """Find, read and validate the configuration; raise one ConfigError listing every problem."""
    path = resolve_path(explicit, os.environ if environ is None else environ)
    if path is None:
        return Config()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([f"file not found: {path}"], source=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"cannot read {path}: {exc}"], source=str(path)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"not valid TOML: {exc}"], source=str(path)) from exc
    except RecursionError:
        raise ConfigError(["not valid TOML: nested too deeply"], source=str(path)) from None
    return parse_config(raw, base_dir=path.parent, source_file=path)


def parse_config(
    raw: Mapping[str, object], base_dir: Path = Path("."), source_file: Path | None = None
) -> Config:
    """Validate a parsed TOML document into a Config, collecting every problem."""
    problems: list[str] = []
    top = Reader(raw, "", problems)
    top.check_keys((*SECTIONS, *ARRAYS), kind="section")
    baskets = read_baskets(top.sub("baskets"))
    watch = read_watch(top.sub("watch"), baskets)
    config = Config(
        data=_data(top.sub("data"), base_dir),
        state=_state(top.sub("state"), base_dir),
        baskets=baskets,
        watch=watch,
        benchmark=_benchmark(top.sub("benchmark")),
        telegram=_telegram(top.sub("telegram")),
        schedule=_schedule(top.sub("schedule")),
        signals=_signals(top.sub("signals")),
        channels=read_channels(top, _watched(baskets, watch)),
        intraday=read_intraday(top.sub("intraday"), base_dir),
        source_file=source_file,
    )
    cross_checks(config, problems)
    if problems:
        raise ConfigError(problems, source=str(source_file or "configuration"))
    return config


def _watched(baskets: tuple[Basket, ...], watch: WatchConfig) -> tuple[Pair, ...]:
    """The pairs a channel may name: ``Config.pairs``, or none while the baskets are broken."""
    return Config(baskets=baskets, watch=watch).pairs if len(baskets) > 1 else watch.pairs


def _state(r: Reader, base_dir: Path) -> StateConfig:
    r.check_keys(("path",))
    return StateConfig(path=state_file(_path(r, "path", StateConfig().path, base_dir)))


def _path(r: Reader, key: str, default: Path, base_dir: Path) -> Path:
    text = r.string(key, str(default))
    try:
        p = Path(text).expanduser()
    except RuntimeError:  # "~someone/..." for a user this machine does not know
        r.problem(key, f"cannot expand {text!r}: no such user's home folder")
        p = default
    return p if p.is_absolute() else base_dir / p


def _data(r: Reader, base_dir: Path) -> DataConfig:
    d = DataConfig()
    r.check_keys(
        ("source", "csv_dir", "history_start", "refresh", "max_daily_move", "on_bad_ticker")
    )
    start_text = r.string("history_start", d.history_start.isoformat())
    try:
        start = date.fromisoformat(start_text)
    except ValueError:
        r.problem("history_start", f"must be a date like 2010-01-01, got {start_text!r}")
        start = d.history_start
    return DataConfig(
        source=r.choice("source", d.source, ("yahoo", "csv")),
        csv_dir=_path(r, "csv_dir", d.csv_dir, base_dir),
        history_start=start,
        refresh=r.choice("refresh", d.refresh, ("auto", "never")),
        max_daily_move=r.number("max_daily_move", d.max_daily_move, minimum=1.5, maximum=1000),
        on_bad_ticker=r.choice("on_bad_ticker", d.on_bad_ticker, ("skip", "drop")),
    )


def _benchmark(r: Reader) -> Benchmark:
    d = Benchmark()
    r.check_keys(("ticker", "name"))
    ticker = r.string("ticker", d.ticker).strip().upper()
    if not TICKER.match(ticker):
        r.problem("ticker", f"{ticker!r} is not a ticker symbol")
    default_name = d.name if ticker == d.ticker else ticker
    return Benchmark(ticker=ticker, name=r.string("name", default_name))


def _telegram(r: Reader) -> TelegramConfig:
    d = TelegramConfig()
    r.check_keys(f.name for f in fields(TelegramConfig))
    token_env = r.string("token_env", d.token_env)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", token_env):
        r.problem("token_env", "must be the NAME of an environment variable, not the token")
    url = r.string("api_base_url", d.api_base_url)
    if not url.startswith(("http://", "https://")):
        r.problem("api_base_url", f"must start with http:// or https://, got {url!r}")
    return TelegramConfig(
        token_env=token_env,
        chat_ids=_telegram_ids(r, "chat_ids", "integer chat ids"),
        allowed_user_ids=_telegram_ids(r, "allowed_user_ids", "integer user ids"),
        api_base_url=url,
        charts=r.boolean("charts", d.charts),
        reveal_chat_id=r.boolean("reveal_chat_id", d.reveal_chat_id),
        send_quiet_days=r.boolean("send_quiet_days", d.send_quiet_days),
        min_severity=r.choice("min_severity", d.min_severity, ("info", "alert", "severe")),
        digest=r.choice("digest", d.digest, DIGESTS),
    )


def _telegram_ids(r: Reader, key: str, what: str) -> tuple[int, ...]:
    """Read a list of Telegram ids: each must fit the signed 64 bits Telegram (and SQLite)
    use; a longer number is a typo that would fail only when the first alert goes out."""
    ids = r.list_of(key, (), int, what)
    for i, value in enumerate(ids):
        if not -(2**63) <= value < 2**63:
            shown = str(value) if len(str(value)) <= 30 else f"{str(value)[:30]}..."
            r.problem(f"{key}[{i}]", f"{shown} does not fit in 64 bits: not a Telegram id")
        elif value == 0:
            r.problem(f"{key}[{i}]", "0 is not a Telegram id")
    return tuple(v for v in ids if v and -(2**63) <= v < 2**63)


TOKEN_SHAPE = re.compile(r"[0-9]+:[A-Za-z0-9_-]+")


def check_token(token: str, token_env: str) -> None:
    """Refuse a bot token that cannot be one (whitespace inside, not ``digits:chars``).

    Telegram would refuse it anyway, but only after a request whose error may quote it; this
    says what is wrong and never shows the value.

    Raises:
        UserError: the token has the wrong shape (the message names ``$token_env`` only).
    """
    if any(c.isspace() for c in token):
        why = "it contains whitespace (a line break or a space inside it?)"
    elif not TOKEN_SHAPE.fullmatch(token):
        why = "it is not digits, a colon, then letters, digits, '_' or '-'"
    else:
        return
    raise UserError(
        f"${token_env} does not hold a Telegram bot token: {why}; set it to the token "
        "BotFather gave you and nothing else (the value is not shown)"
    )


def _clock(r: Reader, key: str, default: time) -> time:
    text = r.string(key, default.strftime("%H:%M"))
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", text.strip())
    if not m or int(m[1]) > 23 or int(m[2]) > 59:
        r.problem(key, f"must be a time like 16:30 (24-hour HH:MM), got {text!r}")
        return default
    return time(int(m[1]), int(m[2]))


def _schedule(r: Reader) -> ScheduleConfig:
    d = ScheduleConfig()
    r.check_keys(f.name for f in fields(ScheduleConfig))
    tz = r.string("timezone", d.timezone)
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # "America" is a folder of zones
        r.problem("timezone", f"unknown time zone {tz!r} (use an IANA name like America/New_York)")
        tz = d.timezone
    calendar = r.string("calendar", d.calendar)
    if calendar != d.calendar:
        calendar = _check_calendar(r, calendar, d.calendar)
    schedule = ScheduleConfig(
        time=_clock(r, "time", d.time),
        timezone=tz,
        calendar=calendar,
        retry_minutes=r.integer("retry_minutes", d.retry_minutes, minimum=1),
        deadline=_clock(r, "deadline", d.deadline),
        catch_up=r.choice("catch_up", d.catch_up, ("latest", "all", "none")),
        max_failures=r.integer("max_failures", d.max_failures, minimum=1),
    )
    if schedule.deadline <= schedule.time:
        r.problem("deadline", f"must be after schedule.time ({schedule.time:%H:%M})")
    elif (schedule.time, schedule.timezone, schedule.calendar) != (d.time, d.timezone, d.calendar):
        # The default is known to follow every XNYS close; any other schedule is checked
        # against the calendar (a second or so the first time: exchange_calendars loads).
        _check_run_time(r, schedule)
    return schedule


def _check_run_time(r: Reader, schedule: ScheduleConfig) -> None:
    """A run before a session's close (early closes included) finds no bar: refuse it."""
    early = [
        (day, close)
        for day, close in _closes(schedule.calendar)
        if schedule.run_after(close) < close
    ]
    if not early:
        return
    day, close = early[0]
    others = f" and {len(early) - 1} other session(s)" if len(early) > 1 else ""
    r.problem(
        "time",
        f"{schedule.time:%H:%M} {schedule.timezone} is before the "
        f"{close.astimezone(schedule.zone):%H:%M} close of {day}{others}; the job runs at "
        "that time on the day nearest each close, so pick a time after the close, in "
        "schedule.timezone",
    )


@lru_cache(maxsize=4)
def _closes(name: str) -> tuple[tuple[date, datetime], ...]:
    """Return (session, close) of the calendar's sessions from a year ago to its end."""
    import warnings

    import exchange_calendars
    import pandas as pd

    start = pd.Timestamp.now().normalize() - pd.Timedelta(days=400)  # both DST seasons
    with warnings.catch_warnings():  # as in bot.data.calendar: a deprecation users can't act on
        warnings.filterwarnings("ignore", message="Series.values returning an ndarray")
        closes = exchange_calendars.get_calendar(name, start=start).closes
    return tuple((pd.Timestamp(s).date(), c.to_pydatetime()) for s, c in closes.items())


def _check_calendar(r: Reader, name: str, default: str) -> str:
    # exchange_calendars is slow to import, so only a non-default calendar pays for the check.
    import exchange_calendars

    from bot.errors import did_you_mean

    names = exchange_calendars.get_calendar_names(include_aliases=True)
    if name not in names:
        r.problem("calendar", f"unknown exchange calendar {name!r}{did_you_mean(name, names)}")
        return default
    return name


def _signals(r: Reader) -> DetectorParams:
    d = DetectorParams()
    r.check_keys(f.name for f in fields(DetectorParams))
    values: dict[str, int | float] = {}
    for f in fields(DetectorParams):
        default = getattr(d, f.name)
        if isinstance(default, int):
            values[f.name] = r.integer(f.name, default, minimum=1)
        else:
            values[f.name] = r.number(f.name, default, minimum=0.0)
    signals = DetectorParams(**values)  # type: ignore[arg-type]
    if not signals.shock_info <= signals.shock_alert <= signals.shock_severe:
        r.problem("shock_alert", "thresholds must rise: shock_info <= shock_alert <= shock_severe")
    if signals.ma_short >= signals.ma_long:
        r.problem("ma_short", f"must be shorter than signals.ma_long ({signals.ma_long})")
    if signals.short_window >= signals.long_window:
        r.problem(
            "short_window", f"must be shorter than signals.long_window ({signals.long_window})"
        )
    if not signals.regime_band > 0:
        r.problem("regime_band", "must be greater than 0 (a regime turn needs a band to cross)")
    for key in ("min_breadth", "max_benchmark_share"):
        if getattr(signals, key) > 1:
            r.problem(key, "is a share: must be between 0 and 1")
    return signals
