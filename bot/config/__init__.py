"""Typed, frozen configuration read from TOML.

The file is ``--config PATH`` when given, else ``$ROTABOT_CONFIG``, else ``./config.toml``;
with none of them the defaults below apply (``config.example.toml`` spells them out, and a
test keeps the two equal). Relative paths in a file are resolved against the file's folder,
so a daemon started from any working directory finds its state.

The Telegram token is never part of the configuration: only the *name* of the environment
variable holding it is.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from datetime import date, time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.config.reader import Reader
from bot.errors import ConfigError

ENV_CONFIG = "ROTABOT_CONFIG"
DEFAULT_FILE = "config.toml"
_TICKER = re.compile(r"^[A-Z0-9^][A-Z0-9^.=\-]{0,14}$")


@dataclass(frozen=True, slots=True)
class DataConfig:
    source: str = "yahoo"
    csv_dir: Path = Path("prices")
    history_start: date = date(2010, 1, 1)
    refresh: str = "auto"  # "auto": fetch when the cache lacks the last closed session; "never"


@dataclass(frozen=True, slots=True)
class StateConfig:
    path: Path = Path("rotabot.db")


@dataclass(frozen=True, slots=True)
class Basket:
    key: str
    name: str
    tickers: tuple[str, ...]
    weights: tuple[float, ...] | None = None

    def weight_map(self) -> dict[str, float]:
        """Return each member's raw weight (1.0 each when no weights are configured)."""
        weights = self.weights or (1.0,) * len(self.tickers)
        return dict(zip(self.tickers, weights, strict=True))


DEFAULT_BASKETS = (
    Basket(
        "chips",
        "Chips (shovel sellers)",
        (
            "NVDA",
            "AMD",
            "MU",
            "INTC",
            "TSM",
            "AVGO",
            "ASML",
            "AMAT",
            "LRCX",
            "KLAC",
            "MRVL",
            "QCOM",
            "SNDK",
            "GLW",
        ),
    ),
    Basket(
        "platforms",
        "Platforms (gold diggers)",
        ("META", "MSFT", "GOOGL", "AMZN", "PLTR", "CRM", "ORCL", "NOW", "ADBE"),
    ),
)


@dataclass(frozen=True, slots=True)
class BenchmarkConfig:
    ticker: str = "^GSPC"
    name: str = "S&P 500"


@dataclass(frozen=True, slots=True)
class TelegramConfig:
    token_env: str = "ROTABOT_TELEGRAM_TOKEN"
    chat_ids: tuple[int, ...] = ()
    allowed_user_ids: tuple[int, ...] = ()
    api_base_url: str = "https://api.telegram.org/bot"
    charts: bool = True
    reveal_chat_id: bool = False
    send_quiet_days: bool = False


@dataclass(frozen=True, slots=True)
class ScheduleConfig:
    time: dt.time = dt.time(16, 30)
    timezone: str = "America/New_York"
    calendar: str = "XNYS"
    retry_minutes: int = 15
    deadline: dt.time = dt.time(20, 0)
    catch_up: str = "latest"
    max_failures: int = 3


@dataclass(frozen=True, slots=True)
class SignalsConfig:
    """Thresholds of the rotation detector (see ``bot.core.rotation``)."""

    short_window: int = 63
    long_window: int = 756
    min_history: int = 120
    shock_info: float = 2.5
    shock_alert: float = 3.0
    shock_severe: float = 4.0
    min_breadth: float = 0.6
    max_benchmark_share: float = 0.6
    ma_short: int = 50
    ma_long: int = 200
    regime_band: float = 0.02
    regime_confirm: int = 3
    rrg_window: int = 63
    driver_count: int = 2


@dataclass(frozen=True, slots=True)
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    state: StateConfig = field(default_factory=StateConfig)
    baskets: tuple[Basket, ...] = DEFAULT_BASKETS
    benchmark: BenchmarkConfig = field(default_factory=BenchmarkConfig)
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    signals: SignalsConfig = field(default_factory=SignalsConfig)
    source_file: Path | None = None

    @property
    def basket_tickers(self) -> tuple[str, ...]:
        return tuple(t for b in self.baskets for t in b.tickers)

    @property
    def tickers(self) -> tuple[str, ...]:
        """Every ticker the bot needs: basket members, then the benchmark."""
        return (*self.basket_tickers, self.benchmark.ticker)

    def basket(self, key: str) -> Basket:
        for b in self.baskets:
            if b.key == key:
                return b
        raise KeyError(key)


SECTIONS = ("data", "state", "baskets", "benchmark", "telegram", "schedule", "signals")


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
    config = Config(
        data=_data(top.sub("data"), base_dir),
        state=StateConfig(path=_path(top.sub("state"), "path", StateConfig().path, base_dir)),
        baskets=_baskets(top.sub("baskets")),
        benchmark=_benchmark(top.sub("benchmark")),
        telegram=_telegram(top.sub("telegram")),
        schedule=_schedule(top.sub("schedule")),
        signals=_signals(top.sub("signals")),
        source_file=source_file,
    )
    _cross_checks(config, problems)
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


def _tickers(r: Reader, key: str) -> tuple[str, ...]:
    tickers = tuple(t.strip().upper() for t in r.list_of(key, (), str, "ticker strings"))
    for i, t in enumerate(tickers):
        if not _TICKER.match(t):
            r.problem(f"{key}[{i}]", f"{t!r} is not a ticker symbol")
    seen: set[str] = set()
    for t in tickers:
        if t in seen:
            r.problem(key, f"{t} is listed twice")
        seen.add(t)
    return tickers


def _baskets(r: Reader) -> tuple[Basket, ...]:
    if not r.table:
        return DEFAULT_BASKETS
    baskets = []
    for key in r.table:
        b = r.sub(key)
        b.check_keys(("name", "tickers", "weights"))
        if "tickers" not in b.table:
            b.problem("tickers", "missing: list the basket's ticker symbols")
        tickers = _tickers(b, "tickers")
        if "tickers" in b.table and not tickers and isinstance(b.table["tickers"], list):
            b.problem("tickers", "must not be empty")
        weights = b.list_of("weights", (), float, "numbers") or None
        if weights is not None:
            if len(weights) != len(tickers):
                b.problem("weights", f"has {len(weights)} value(s) but tickers has {len(tickers)}")
            if any(w <= 0 for w in weights):
                b.problem("weights", "every weight must be greater than 0")
        baskets.append(Basket(key, b.string("name", key), tickers, weights))
    if len(baskets) != 2:
        r.problems.append(
            f"baskets: exactly two baskets are needed (numerator, then denominator), "
            f"got {len(baskets)}"
        )
    return tuple(baskets)


def _benchmark(r: Reader) -> BenchmarkConfig:
    d = BenchmarkConfig()
    r.check_keys(("ticker", "name"))
    ticker = r.string("ticker", d.ticker).strip().upper()
    if not _TICKER.match(ticker):
        r.problem("ticker", f"{ticker!r} is not a ticker symbol")
    default_name = d.name if ticker == d.ticker else ticker
    return BenchmarkConfig(ticker=ticker, name=r.string("name", default_name))


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

    from bot.config.reader import did_you_mean

    names = exchange_calendars.get_calendar_names(include_aliases=True)
    if name not in names:
        r.problem("calendar", f"unknown exchange calendar {name!r}{did_you_mean(name, names)}")
        return default
    return name


def _signals(r: Reader) -> SignalsConfig:
    d = SignalsConfig()
    r.check_keys(f.name for f in fields(SignalsConfig))
    values: dict[str, int | float] = {}
    for f in fields(SignalsConfig):
        default = getattr(d, f.name)
        if isinstance(default, int):
            values[f.name] = r.integer(f.name, default, minimum=1)
        else:
            values[f.name] = r.number(f.name, default, minimum=0.0)
    signals = SignalsConfig(**values)  # type: ignore[arg-type]
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


def _cross_checks(config: Config, problems: list[str]) -> None:
    owner: dict[str, str] = {}
    for b in config.baskets:
        for t in b.tickers:
            if t in owner and owner[t] != b.key:
                problems.append(
                    f"baskets.{b.key}.tickers: {t} is also in baskets.{owner[t]}; "
                    "a ticker may belong to one basket only"
                )
            owner.setdefault(t, b.key)
    bench = config.benchmark.ticker
    if bench in owner:
        problems.append(
            f"benchmark.ticker: {bench} is a member of baskets.{owner[bench]}; "
            "pick a market index or ETF"
        )


def with_overrides(config: Config, prices_dir: Path | None = None, offline: bool = False) -> Config:
    """Apply the global CLI options: ``--prices-dir DIR`` (CSV from DIR) and ``--offline``."""
    data = config.data
    if prices_dir is not None:
        data = replace(data, source="csv", csv_dir=Path(prices_dir))
    if offline:
        data = replace(data, refresh="never")
    return replace(config, data=data)


def redacted_view(config: Config, environ: Mapping[str, str]) -> dict[str, object]:
    """Return the effective configuration as plain data; the token shows only as set/unset."""
    view: dict[str, object] = {}
    for f in fields(config):
        value = getattr(config, f.name)
        if f.name == "baskets":
            view["baskets"] = {
                b.key: {"name": b.name, "tickers": list(b.tickers)}
                | ({"weights": list(b.weights)} if b.weights else {})
                for b in value
            }
        elif f.name == "source_file":
            view["source_file"] = str(value) if value else "(built-in defaults)"
        elif is_dataclass(value):
            view[f.name] = {g.name: _plain(getattr(value, g.name)) for g in fields(value)}
    token_set = bool(environ.get(config.telegram.token_env))
    telegram = view["telegram"]
    assert isinstance(telegram, dict)
    telegram["token"] = "set (redacted)" if token_set else f"not set (${config.telegram.token_env})"
    return view


def _plain(value: object) -> object:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return value
