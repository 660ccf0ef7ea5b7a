"""Which session a command reports on: a date checked against the prices, or the latest
complete one (every listed ticker has its bar)."""

from __future__ import annotations

import logging
from datetime import date

import pandas as pd

from bot.config import Config
from bot.core.panel import PricePanel, complete_sessions, missing_on
from bot.errors import UsageError

log = logging.getLogger(__name__)


def check_range(panel: PricePanel, start: date, end: date) -> None:
    """Raise UsageError when ``start``..``end`` reaches outside the sessions in the data."""
    dates = panel.dates
    if len(dates) == 0:
        raise UsageError("no prices at all: run `rotabot prices update` or check --prices-dir")
    first, last = dates[0].date(), dates[-1].date()
    if start < first or end > last:
        raise UsageError(f"{start}..{end} reaches outside the data, which covers {first}..{last}")


def pick_session(panel: PricePanel, config: Config, asof: date | None) -> date:
    """Return the session to report: ``asof`` checked, or the latest complete session."""
    tickers = list(config.tickers)
    if asof is None:
        complete = complete_sessions(panel, tickers)
        if len(complete) == 0:
            raise UsageError("no session has prices for every ticker")
        latest = complete[-1]
        if latest != panel.dates[-1]:
            lacking = ", ".join(missing_on(panel, tickers, panel.dates[-1]))
            log.warning("%s lacks %s; showing %s", panel.dates[-1].date(), lacking, latest.date())
        return latest.date()
    check_range(panel, asof, asof)
    ts = pd.Timestamp(asof)
    if ts not in panel.dates:
        before = panel.dates[panel.dates < ts][-1].date()
        raise UsageError(f"{asof} is not a session in the data (the session before is {before})")
    absent = missing_on(panel, tickers, ts)
    if absent:
        raise UsageError(f"{asof} is missing prices for {', '.join(absent)}")
    return asof
