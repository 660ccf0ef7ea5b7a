"""A reading during the session: the close-run shock detector on a provisional bar.

Pure. ``provisional_market`` appends the session's moves so far (each member's return from
the previous close to an intraday moment) as one provisional row to the market of the
sessions before it; ``intraday_readings`` then calls the very functions of the close run
(``bot.core.signals.shock_readings``, hence ``bot.core.shock.shock_evidence`` and
``bot.core.rotation.shock_eligible``) and reads only that last row. The volatilities come
from sessions before it, exactly as at the close, so feeding a full day's close-to-close
returns gives the close run's evidence and score for that session, to the bit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

import numpy as np
import pandas as pd

from bot.core import rotation
from bot.core.baskets import basket_index, basket_returns
from bot.core.market import Market
from bot.core.params import Pair
from bot.core.signals import shock_readings
from bot.errors import DataError


@dataclass(frozen=True, slots=True)
class IntradayReading:
    """One pair's shock evidence on the session so far.

    ``moves``: basket key -> basket return so far (numerator first, 0.01 = +1%);
    ``members``: each member's return so far; ``stopped_by``: the first rule that keeps it
    from a warning (``history``, ``breadth``, ``benchmark`` or ``score``, the last measured
    against ``threshold``), None when ``flagged``. ``from_key``/``to_key``: where money moved
    from and to (the basket that fell against the other is ``from_key``).
    """

    pair: Pair
    session: date
    moves: dict[str, float]
    members: dict[str, float]
    benchmark: float
    spread: float
    z: float
    score: float
    breadth: float
    benchmark_share: float
    dispersion_share: float
    opposite: bool
    eligible: bool
    threshold: float
    stopped_by: str | None

    @property
    def flagged(self) -> bool:
        """Whether the gates pass and the score reaches the threshold: a provisional warning."""
        return self.stopped_by is None

    @property
    def from_key(self) -> str:
        a, b = self.pair.keys
        return a if self.spread < 0 else b

    @property
    def to_key(self) -> str:
        a, b = self.pair.keys
        return b if self.spread < 0 else a

    @property
    def direction(self) -> str:
        """``from -> to``, as the close run's shocks name it."""
        return f"{self.from_key} -> {self.to_key}"


def provisional_market(
    history: Market, session: pd.Timestamp, moves: Mapping[str, float]
) -> Market:
    """Return ``history`` with ``session`` appended as a provisional row of member returns.

    Args:
        history: the market of the sessions before ``session`` (``build_market``).
        session: the session being read (a later date than every session of ``history``).
        moves: ticker -> return from the previous close (0.01 = +1%); a ticker of the universe
            left out is read as a missing bar (NaN), as at the close.

    Basket returns and levels are recomputed with the functions ``build_market`` uses; the
    panel stays the history's (the provisional bar has no prices of its own).

    Raises:
        DataError: ``session`` is not after the history's last session.
    """
    day = pd.Timestamp(session).normalize()
    if len(history.sessions) and day <= history.sessions[-1]:
        raise DataError(
            f"session {day.date()} is not after the history's last {history.sessions[-1].date()}"
        )
    columns = history.member.columns
    row = pd.DataFrame(
        [[float(moves.get(str(t), np.nan)) for t in columns]],
        index=pd.DatetimeIndex([day], name=history.member.index.name),
        columns=columns,
    )
    member = pd.concat([history.member, row]) if len(history.member) else row
    universe = history.universe
    baskets = basket_returns(member, [(b.key, b.weight_map()) for b in universe.baskets])
    levels = pd.DataFrame({k: basket_index(baskets[k]) for k in baskets.columns})
    bench = member[universe.benchmark.ticker]
    return Market(universe, member, baskets, levels, bench, history.panel)


def intraday_readings(
    history: Market,
    session: pd.Timestamp,
    moves: Mapping[str, float],
    threshold: float,
    pairs: Sequence[Pair] | None = None,
) -> tuple[IntradayReading, ...]:
    """Read every pair of ``pairs`` (default: the universe's) as if the moves so far were
    the session's bar; ``threshold`` is the score a provisional warning needs."""
    market = provisional_market(history, session, moves)
    chosen = tuple(pairs) if pairs is not None else market.universe.pairs
    return tuple(_reading(market, pair, threshold) for pair in chosen)


def _reading(market: Market, pair: Pair, threshold: float) -> IntradayReading:
    last = shock_readings(market, pair).iloc[-1]
    a, b = pair.keys
    params = market.universe.params
    score, breadth, share = (float(last[k]) for k in ("score", "breadth", "benchmark_share"))
    # The warning's own threshold stands where the close run's shock_info stands.
    stopped = rotation.stopped_by(score, breadth, share, replace(params, shock_info=threshold))
    row = market.member.iloc[-1]
    return IntradayReading(
        pair=pair,
        session=market.sessions[-1].date(),
        moves={a: float(market.baskets[a].iloc[-1]), b: float(market.baskets[b].iloc[-1])},
        members={t: float(row[t]) for t in market.universe.pair_tickers(pair)},
        benchmark=float(market.pair_benchmark(pair).iloc[-1]),
        spread=float(last["spread"]),
        z=float(last["z"]),
        score=score,
        breadth=breadth,
        benchmark_share=share,
        dispersion_share=float(last["dispersion_share"]),
        opposite=bool(last["opposite"] == 1.0),
        eligible=bool(last["eligible"]),
        threshold=threshold,
        stopped_by=stopped,
    )
