"""The market as the core reads it: every member's and every basket's returns, computed once.

``build_market`` is the one place basket series are made; the signals of every pair and the
backtests read the same frames, so an alert and a backtest can never disagree on a basket.
Pure and causal: row t uses prices up to the close of t only.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from bot.core.baskets import basket_index, basket_returns, member_returns
from bot.core.panel import PricePanel
from bot.core.params import Pair, Universe
from bot.errors import DataError


@dataclass(frozen=True, slots=True)
class Market:
    """Returns and index levels on one session index (``DatetimeIndex`` named ``date``).

    ``member``: simple daily returns of every ticker of the universe (0.01 = +1%), NaN where a
    ticker has no price or misses a bar. ``baskets``/``levels``: one column per basket key,
    returns and index levels (base 100 on the session before the first return).
    ``benchmark``: the benchmark ticker's return, NaN where it has none.
    """

    universe: Universe
    member: pd.DataFrame
    baskets: pd.DataFrame
    levels: pd.DataFrame
    benchmark: pd.Series
    panel: PricePanel

    @property
    def sessions(self) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(self.member.index)

    def benchmark_for(self, tickers: tuple[str, ...]) -> pd.Series:
        """The benchmark's return, or where it has none the equal-weight mean of ``tickers``.

        The fallback covers a benchmark whose history starts later than its baskets'. It is
        taken over the members of the pair being read, so adding a basket elsewhere never
        changes a pair's readings.
        """
        fallback = self.member[list(tickers)].mean(axis=1)
        return self.benchmark.fillna(fallback)

    def pair_benchmark(self, pair: Pair) -> pd.Series:
        return self.benchmark_for(self.universe.pair_tickers(pair))


def build_market(panel: PricePanel, universe: Universe) -> Market:
    """Compute member returns, then each basket's returns and levels once for all pairs.

    Raises:
        DataError: the prices are not indexed by sorted unique dates, a ticker is absent, or
            a basket has no member with prices.
    """
    check_panel(panel, universe)
    tickers = list(universe.tickers)
    member = member_returns(panel.adj_close[tickers])
    baskets = basket_returns(member, [(b.key, b.weight_map()) for b in universe.baskets])
    levels = pd.DataFrame({k: basket_index(baskets[k]) for k in baskets.columns})
    bench = member[universe.benchmark.ticker]
    return Market(universe, member, baskets, levels, bench, panel)


def check_panel(panel: PricePanel, universe: Universe) -> None:
    """Refuse prices the core cannot read without guessing."""
    index = panel.adj_close.index
    if not isinstance(index, pd.DatetimeIndex):
        raise DataError("prices must be indexed by date")
    if not index.is_monotonic_increasing or not index.is_unique:
        raise DataError("price dates must be sorted and unique")
    absent = [t for t in universe.tickers if t not in panel.adj_close.columns]
    if absent:
        raise DataError(f"no prices for {', '.join(absent)}")
    for b in universe.baskets:
        if panel.adj_close[list(b.tickers)].notna().sum().sum() == 0:
            raise DataError(f"basket {b.key}: none of its members has prices")
