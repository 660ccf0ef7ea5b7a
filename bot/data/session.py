"""One reading of the session so far: daily prices and intraday bars in, every pair's reading
out, or why it cannot be read (``read_session``), and where the bars come from
(``session_bars``). The daemon's checks, ``rotabot intraday`` and the chat's ``/now`` all read
the session here, so they can never disagree.

The rules, in one place: the daily history ends at the previous session (which must be the
calendar's previous session: a gap in the daily prices skips the reading); only complete bars
are read (a bar labelled by its start is complete at start plus the interval); a member's bar
must be there, from this session and fresh (``bot.data.intraday.moves_at``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd

from bot.config import Config, Pair
from bot.core.intraday import IntradayReading, intraday_readings
from bot.core.market import build_market
from bot.core.panel import PricePanel
from bot.data import calendar
from bot.data.intraday import (
    Moves,
    Skipped,
    interval_of,
    moves_at,
    previous_closes,
    read_bars,
)
from bot.errors import UsageError


@dataclass(frozen=True, slots=True)
class SessionRead:
    """What one reading read: the previous closes, the complete bars, the moves, and every
    pair's reading."""

    closes: dict[str, float]
    bars: Mapping[str, pd.DataFrame]
    moves: Moves
    readings: tuple[IntradayReading, ...]


def session_bars(
    config: Config, asof: datetime | None
) -> tuple[Mapping[str, pd.DataFrame], datetime]:
    """The bars to read and the moment: the CSV folder of ``[intraday] csv_dir`` when set
    (default moment: the end of its last bar), else Yahoo's for the session of ``asof``
    (default: now), in one batched request.

    Raises:
        UsageError: no bars in the folder; or offline with no folder to read.
        DataError: the folder or a file cannot be read; Yahoo cannot be reached.
    """
    zone = calendar.exchange_zone(config.schedule.calendar)
    folder = config.intraday.csv_dir
    if folder is not None:
        bars = read_bars(folder, config.tickers)
        if asof is None:
            if not bars:
                raise UsageError(f"no intraday bars in {folder} for the watched tickers")
            last = max(frame.index[-1] for frame in bars.values() if len(frame))
            asof = (last + interval_of(config.intraday.interval)).to_pydatetime()
        return bars, asof
    if config.data.refresh == "never":
        raise UsageError(
            "offline: intraday bars come from Yahoo unless [intraday] csv_dir names a folder "
            "of <TICKER>.csv bars"
        )
    from bot.config.paths import cache_dir
    from bot.data.yahoo_intraday import YahooBars

    moment = asof or datetime.now(UTC)
    source = YahooBars(config.intraday.interval, cache_dir=cache_dir(), zone=str(zone))
    return source.fetch(config.tickers, moment.astimezone(zone).date()), moment


def read_session(
    config: Config,
    panel: PricePanel,
    bars: Mapping[str, pd.DataFrame],
    asof: datetime,
    pairs: Sequence[Pair] | None = None,
) -> SessionRead | Skipped:
    """Read ``pairs`` (None: every watched pair) at ``asof`` (aware), or say why not.

    Raises:
        DataError: the daily prices have no session before ``asof``'s.
    """
    zone = calendar.exchange_zone(config.schedule.calendar)
    session = asof.astimezone(zone).date()
    name = config.schedule.calendar
    if not len(calendar.sessions(name, session, session)):
        return Skipped(asof, f"{session} is not a trading day ({name} calendar)")
    previous, closes = previous_closes(panel, session)
    expected = calendar.sessions(config.schedule.calendar, session - timedelta(days=10), session)
    before = [d.date() for d in expected if d.date() < session]
    if before and previous != before[-1]:
        return Skipped(asof, f"daily prices end at {previous}, before {before[-1]}")
    watched = {t: v for t, v in closes.items() if t in set(config.tickers)}
    interval = interval_of(config.intraday.interval)
    last_start = pd.Timestamp(asof).tz_convert("UTC") - pd.Timedelta(interval)
    complete = {t: f.loc[:last_start] for t, f in bars.items()}
    age = timedelta(minutes=config.intraday.max_age_minutes)
    found = moves_at(complete, (previous, watched), asof, zone, age, interval)
    if isinstance(found, Skipped):
        return found
    history = build_market(panel.upto(previous), config.universe)
    threshold = config.intraday.score_threshold(config.signals)
    readings = intraday_readings(history, pd.Timestamp(session), found.moves, threshold, pairs)
    return SessionRead(watched, complete, found, readings)
