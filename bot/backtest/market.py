"""What a backtest trades: baskets and the benchmark as assets on one session index.

Pure: the core's ``Market`` in, frames out. The basket series are the core's own
(``bot.core.market.build_market`` is the one place they are built), so a backtest and an
alert can never read different baskets. A basket is traded as one asset, an index rebalanced
daily exactly as the core builds it (members join on their first full day, weights
renormalised among members with a price). Costs apply to moves between the assets and cash,
not to the baskets' internal rebalancing.

Two layouts of assets:

* a pair (``pair_data``): numerator basket, denominator basket, ``"benchmark"``, the layout
  of every pair strategy (the engine's long/short spread needs it);
* every basket (``basket_data``): each basket key in configuration order, then
  ``"benchmark"``, for strategies that rotate among all of them.

Every series is causal: row t uses prices up to the close of t only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from bot.core.baskets import basket_index, basket_return
from bot.core.market import Market, build_market
from bot.core.panel import PricePanel
from bot.core.params import DetectorParams, Pair, Universe
from bot.core.signals import shock_readings
from bot.errors import DataError

BENCHMARK = "benchmark"
"""Asset name of the benchmark ticker in weights and returns (the basket keys name the others)."""


@dataclass(frozen=True)
class MarketData:
    """Inputs of strategies and of the engine.

    ``returns`` and ``levels`` are indexed by session (``DatetimeIndex`` named ``date``) with
    the columns ``assets``: the traded basket keys, then ``"benchmark"``. ``returns`` holds
    simple close-to-close returns (0.01 = +1%), NaN where an asset has no price yet or misses
    a bar; ``levels`` holds index levels (base 100 on the session before the first return),
    NaN before that. ``pair`` is the traded pair, None when every basket is traded.

    Not slotted on purpose: ``shocks`` and ``intraday`` are computed on first use only, so a
    strategy that needs neither does not pay for them.
    """

    market: Market = field(repr=False)
    returns: pd.DataFrame
    levels: pd.DataFrame
    pair: Pair | None = None

    @property
    def universe(self) -> Universe:
        return self.market.universe

    @property
    def params(self) -> DetectorParams:
        return self.market.universe.params

    @property
    def member(self) -> pd.DataFrame:
        """Member returns, one column per ticker of the universe."""
        return self.market.member

    @property
    def panel(self) -> PricePanel:
        """The prices read (for the opens)."""
        return self.market.panel

    @property
    def assets(self) -> tuple[str, ...]:
        return tuple(str(c) for c in self.returns.columns)

    @property
    def baskets(self) -> tuple[str, ...]:
        """The traded basket keys: every asset but the benchmark, in asset order."""
        return self.assets[:-1]

    @property
    def keys(self) -> tuple[str, str]:
        """The traded pair's basket keys (numerator, denominator)."""
        if self.pair is None:
            raise ValueError("these market data trade every basket, not a pair")
        return self.pair.keys

    @property
    def sessions(self) -> pd.DatetimeIndex:
        index = self.returns.index
        assert isinstance(index, pd.DatetimeIndex)  # checked by build_market
        return index

    @property
    def ratio(self) -> pd.Series:
        """Numerator index over denominator index, as in the rotation engine."""
        a, b = self.keys
        return self.levels[a] / self.levels[b]

    @property
    def first_session(self) -> int:
        """Position of the first session on which every traded basket's level is known."""
        known = self.levels[list(self.baskets)].notna().all(axis=1).to_numpy()
        if not known.any():
            raise DataError(f"the baskets {', '.join(self.baskets)} never all have prices")
        return int(np.argmax(known))

    @cached_property
    def reference(self) -> pd.Series:
        """Index level of the benchmark relative strength is measured against.

        The benchmark where it has a return, else the equal-weight mean of the traded
        baskets' members: the core's fallback (``Market.benchmark_for``), so a late-listing
        benchmark does not leave the early years without a reference.
        """
        tickers = tuple(dict.fromkeys(t for k in self.baskets for t in self._members(k)))
        return basket_index(self.market.benchmark_for(tickers))

    @cached_property
    def shocks(self) -> pd.DataFrame:
        """The pair's shock evidence and ``eligible``: ``bot.core.signals.shock_readings``,
        the very readings the alerts use."""
        if self.pair is None:
            raise ValueError("shocks are read on a pair; these market data trade every basket")
        return shock_readings(self.market, self.pair)

    @cached_property
    def intraday(self) -> pd.DataFrame:
        """Open-to-close returns of the assets; NaN where a member with a price lacks an open.

        A basket's intraday return is its close-to-close return divided by the growth over the
        gap ``(1 + r) / (1 + g) - 1``, with ``g`` the weighted gap of its members: exact for a
        basket rebalanced at the close and left to drift through the open.
        """
        tickers = list(self.universe.tickers)
        member_intraday = self.panel.close[tickers] / self.panel.open[tickers] - 1.0
        member_gap = (1.0 + self.member) / (1.0 + member_intraday) - 1.0
        lacking = self.member.notna() & member_gap.isna()
        out = {}
        for key in self.baskets:
            basket = self.universe.basket(key)
            gap = basket_return(member_gap, basket.weight_map())
            gap = gap.where(~lacking[list(basket.tickers)].any(axis=1))
            out[key] = (1.0 + self.returns[key]) / (1.0 + gap) - 1.0
        ticker = self.universe.benchmark.ticker
        out[BENCHMARK] = member_intraday[ticker].where(self.member[ticker].notna())
        return pd.DataFrame(out, index=self.returns.index)[list(self.assets)]

    def _members(self, key: str) -> tuple[str, ...]:
        return self.universe.basket(key).tickers


def pair_data(market: Market, pair: Pair) -> MarketData:
    """Assets numerator, denominator, benchmark: what every pair strategy trades."""
    return _assets(market, pair.keys, pair)


def basket_data(market: Market) -> MarketData:
    """Every basket of the universe (configuration order), then the benchmark."""
    return _assets(market, tuple(b.key for b in market.universe.baskets), None)


def market_data(panel: PricePanel, universe: Universe, pair: Pair | None = None) -> MarketData:
    """Build the market once and return the assets of ``pair`` (default: the first pair)."""
    return pair_data(build_market(panel, universe), pair or universe.pairs[0])


def _assets(market: Market, keys: tuple[str, ...], pair: Pair | None) -> MarketData:
    if BENCHMARK in keys:
        raise DataError(f"a basket may not be called {BENCHMARK!r} in backtests")
    unknown = [k for k in keys if k not in market.baskets.columns]
    if unknown:
        raise DataError(f"no basket called {', '.join(unknown)}")
    returns = market.baskets[list(keys)].copy()
    returns[BENCHMARK] = market.benchmark
    levels = market.levels[list(keys)].copy()
    levels[BENCHMARK] = basket_index(market.benchmark)
    return MarketData(market=market, returns=returns, levels=levels, pair=pair)
