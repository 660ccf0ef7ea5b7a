"""Bad-data faults for the soak (tests/soak.py): what the checks at the door must refuse.

* ``weekend``: Yahoo serves a bar dated the Saturday before the session (a copy of the bar
  before it) for some tickers: the bar is set aside, the session is evaluated as usual.
* ``outlier``: one member's prices x1000 from the session on (an unadjusted split): the
  ticker is fetched again in full, still jumps, and is refused; the session is skipped.
* ``truncated`` and ``empty member``: the prices come from a CSV folder instead, with one
  member's last line cut inside adj_close, or one member's file holding only its header:
  the folder is refused by file and line; the session is skipped.

Each fault lasts one attempt: ``BadData.restore`` puts Yahoo's bars back before the next.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from bot.data.checks import Rules
from bot.data.csv_source import CsvSource
from bot.data.source import PriceSource
from tests.fake_yahoo import FakeYahoo

KINDS = ("weekend", "outlier", "truncated", "empty member")
REFUSED = ("outlier", "truncated", "empty member")  # the kinds that skip the session


@dataclass
class BadData:
    yahoo: FakeYahoo
    folder: Path
    calendar: str
    saved: dict[str, pd.DataFrame] = field(default_factory=dict)

    def restore(self) -> None:
        for ticker, bars in self.saved.items():
            self.yahoo.add(ticker, bars)
        self.saved.clear()

    def inject(
        self, kind: str, session: date, members: tuple[str, ...], rng: random.Random
    ) -> PriceSource | None:
        """Plant ``kind`` for this attempt; return the CSV source to read instead, if any."""
        victim = rng.choice(members)
        if kind == "weekend":
            saturday = session - timedelta(days=(session.weekday() - 5) % 7 or 7)
            for ticker in rng.sample(members, rng.randint(1, len(members))):
                bars = self._save(ticker)
                before = bars.loc[: pd.Timestamp(saturday)].iloc[[-1]]
                extra = before.set_axis(pd.DatetimeIndex([saturday], name=bars.index.name))
                self.yahoo.add(ticker, pd.concat([bars, extra]).sort_index())
            return None
        if kind == "outlier":
            bars = self._save(victim)
            bars.loc[pd.Timestamp(session) :, ["open", "high", "low", "close", "adj_close"]] *= 1000
            self.yahoo.add(victim, bars)
            return None
        return self._csv_folder(kind, victim, session)

    def _save(self, ticker: str) -> pd.DataFrame:
        bars = self.yahoo.bars(ticker)
        self.saved.setdefault(ticker, bars.copy())
        return bars

    def _csv_folder(self, kind: str, victim: str, session: date) -> PriceSource:
        """Yahoo's bars up to the session as a CSV folder, with ``victim``'s file damaged."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for ticker, listing in self.yahoo.listings.items():
            bars = listing.bars.loc[: pd.Timestamp(session)]
            text = bars.to_csv(index_label="date", date_format="%Y-%m-%d")
            if ticker == victim and kind == "empty member":
                text = text.splitlines(keepends=True)[0]
            elif ticker == victim:  # the last line cut inside adj_close: "...,216.85,21"
                lines = text.splitlines()
                cells = lines[-1].split(",")
                lines[-1] = ",".join([*cells[:5], cells[5][:2]])
                text = "\n".join(lines)
            (self.folder / f"{ticker}.csv").write_text(text)
        return CsvSource(self.folder, Rules(self.calendar))
