"""Find, read and validate the configuration file.

The file is ``--config PATH`` when given, else ``$ROTABOT_CONFIG``, else ``./config.toml``;
with none of them the defaults apply (``config.example.toml`` spells them out, and a test
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
from datetime import date, time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.config.baskets import cross_checks, read_baskets, read_watch
from bot.config.model import (
    Config,
    DataConfig,
    ScheduleConfig,
    StateConfig,
    TelegramConfig,
)
from bot.config.reader import Reader
from bot.core.params import Benchmark, DetectorParams
from bot.errors import ConfigError

ENV_CONFIG = "ROTABOT_CONFIG"
DEFAULT_FILE = "config.toml"
TICKER = re.compile(r"^[A-Z0-9^][A-Z0-9^.=\-]{0,14}$")
SECTIONS = ("data", "state", "baskets", "watch", "benchmark", "telegram", "schedule", "signals")


def resolve_path(
    explicit: str | os.PathLike[str] | None, environ: Mapping[str, str]
) -> Path | None:
    """Return the config file to read, or None for the built-in defaults."""
    if explicit is not None:
        return Path(explicit)
    if environ.get(ENV_CONFIG):
        return Path(environ[ENV_CONFIG])
    default = Path(DEFAULT_FILE)
    return default if default.is_file() else None


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
    top.check_keys(SECTIONS, kind="section")
    baskets = read_baskets(top.sub("baskets"))
    config = Config(
        data=_data(top.sub("data"), base_dir),
        state=StateConfig(path=_path(top.sub("state"), "path", StateConfig().path, base_dir)),
        baskets=baskets,
        watch=read_watch(top.sub("watch"), baskets),
        benchmark=_benchmark(top.sub("benchmark")),
        telegram=_telegram(top.sub("telegram")),
        schedule=_schedule(top.sub("schedule")),
        signals=_signals(top.sub("signals")),
        source_file=source_file,
    )
    cross_checks(config, problems)
    if problems:
        raise ConfigError(problems, source=str(source_file or "configuration"))
    return config


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
    r.check_keys(("source", "csv_dir", "history_start", "refresh"))
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
        chat_ids=r.list_of("chat_ids", (), int, "integer chat ids"),
        allowed_user_ids=r.list_of("allowed_user_ids", (), int, "integer user ids"),
        api_base_url=url,
        charts=r.boolean("charts", d.charts),
        reveal_chat_id=r.boolean("reveal_chat_id", d.reveal_chat_id),
        send_quiet_days=r.boolean("send_quiet_days", d.send_quiet_days),
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
    return schedule


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
    for key in ("min_breadth", "max_benchmark_share"):
        if getattr(signals, key) > 1:
            r.problem(key, "is a share: must be between 0 and 1")
    return signals
