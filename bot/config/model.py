"""The configuration as typed, frozen values (defaults = ``config.example.toml``).

Baskets, pairs, the benchmark and the detector's thresholds are the core's own types
(``bot.core.params``); ``Config.universe`` hands them to the core in one value.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.config.intraday import IntradayConfig
from bot.config.paths import default_state_path
from bot.core.params import Basket, Benchmark, DetectorParams, Pair, Universe


@dataclass(frozen=True, slots=True)
class DataConfig:
    source: str = "yahoo"
    csv_dir: Path = Path("prices")
    history_start: date = date(2010, 1, 1)
    refresh: str = "auto"  # "auto": fetch when the cache lacks the last closed session; "never"
    max_daily_move: float = 3.0  # a one-session move beyond this factor, not shared: an outlier
    on_bad_ticker: str = "skip"  # the daemon, on refused prices: "skip" the session, or "drop"


@dataclass(frozen=True, slots=True)
class StateConfig:
    """The state file; by default in the user's state folder (``$XDG_STATE_HOME/rotabot``), so
    no command leaves a file in the folder it was started from."""

    path: Path = field(default_factory=default_state_path)


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

MAX_PAIRS = 100


@dataclass(frozen=True, slots=True)
class WatchConfig:
    """Which pairs are watched; empty ``pairs`` means the first two baskets in file order."""

    pairs: tuple[Pair, ...] = ()
    rrg_tail: int = 10  # sessions of tail drawn behind each basket on the RRG chart


@dataclass(frozen=True, slots=True)
class TelegramConfig:
    token_env: str = "ROTABOT_TELEGRAM_TOKEN"
    chat_ids: tuple[int, ...] = ()
    allowed_user_ids: tuple[int, ...] = ()
    api_base_url: str = "https://api.telegram.org/bot"
    charts: bool = True
    reveal_chat_id: bool = False
    send_quiet_days: bool = False
    min_severity: str = "alert"  # events below it are not pushed (still in /signal and replay)
    digest: str = "off"  # "off" | "daily" | "weekly": one summary message after the session


DIGESTS = ("off", "daily", "weekly")


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    """One ``[[channels]]`` table: a service apprise posts to (Discord, Slack, e-mail, ntfy...).

    ``url_env`` names the environment variable holding the apprise URL: the URL holds secrets,
    so it never sits in the file (nor in any output, log or error).
    """

    name: str
    url_env: str
    min_severity: str = "alert"
    pairs: tuple[str, ...] = ()  # pair keys ("chips/platforms"); empty: every watched pair
    charts: bool = False  # attach the ratio chart where the service takes attachments
    digest: str = "off"

    def watches(self, pair: str) -> bool:
        return not self.pairs or pair in self.pairs


@dataclass(frozen=True, slots=True)
class ScheduleConfig:
    """When the daily job runs. ``time`` and ``deadline`` are clock times in ``timezone``."""

    time: dt.time = dt.time(16, 30)
    timezone: str = "America/New_York"
    calendar: str = "XNYS"
    retry_minutes: int = 15
    deadline: dt.time = dt.time(20, 0)
    catch_up: str = "latest"
    max_failures: int = 3

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def run_after(self, close: dt.datetime) -> dt.datetime:
        """Return when the job runs for a session closing at ``close`` (aware, in ``zone``).

        It is ``time`` on the day that puts it nearest the close, at most 12 hours either
        way: 02:30 in Asia/Kolkata lands after a New York close, while 09:00 in New York stays
        09:00 before the close (a mistake ``bot.config.load`` refuses) rather than quietly
        becoming the next morning.
        """
        earliest = close - HALF_DAY
        day = earliest.astimezone(self.zone).date()
        run = dt.datetime.combine(day, self.time, self.zone)
        if run < earliest:
            run = dt.datetime.combine(day + dt.timedelta(days=1), self.time, self.zone)
        return run

    def deadline_after(self, run: dt.datetime) -> dt.datetime:
        """Return the deadline of a job that runs at ``run``: ``deadline`` on the same day."""
        return dt.datetime.combine(run.astimezone(self.zone).date(), self.deadline, self.zone)


HALF_DAY = dt.timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    state: StateConfig = field(default_factory=StateConfig)
    baskets: tuple[Basket, ...] = DEFAULT_BASKETS
    watch: WatchConfig = field(default_factory=WatchConfig)
    benchmark: Benchmark = field(default_factory=Benchmark)
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    signals: DetectorParams = field(default_factory=DetectorParams)
    channels: tuple[ChannelConfig, ...] = ()
    intraday: IntradayConfig = field(default_factory=IntradayConfig)
    source_file: Path | None = None

    @property
    def pairs(self) -> tuple[Pair, ...]:
        """The watched pairs: ``watch.pairs``, else the first two baskets."""
        if self.watch.pairs:
            return self.watch.pairs
        return (Pair(self.baskets[0].key, self.baskets[1].key),)

    @property
    def universe(self) -> Universe:
        return Universe(self.baskets, self.pairs, self.benchmark, self.signals)

    @property
    def basket_tickers(self) -> tuple[str, ...]:
        return self.universe.basket_tickers

    @property
    def tickers(self) -> tuple[str, ...]:
        """Every ticker the bot needs: basket members, then the benchmark."""
        return self.universe.tickers

    def basket(self, key: str) -> Basket:
        return self.universe.basket(key)

    def pair(self, key: str) -> Pair:
        return self.universe.pair(key)
