"""What a backtest trades: the two baskets and the benchmark as three assets on one session index.

Pure: a PricePanel and the Config in, frames out. A basket is traded as one asset, an index
rebalanced daily exactly as the rotation engine builds it (``bot.core.baskets``: members join
on their first full day, weights renormalised among members with a price), so backtests and
alerts read the same series. Costs apply to moves between the assets and cash, not to the
baskets' internal rebalancing.

Every series is causal: row t uses prices up to the close of t only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from bot.config import Config, SignalsConfig
from bot.core.baskets import basket_index, basket_return, basket_returns, member_returns
from bot.core.panel import PricePanel
from bot.core.shock import shock_evidence
from bot.errors import DataError

BENCHMARK = "benchmark"
"""Asset name of the benchmark ticker in weights and returns (the basket keys name the others)."""


@dataclass(frozen=True)
class MarketData:
    """Inputs of strategies and of the engine.

    ``returns`` and ``levels`` are indexed by session (``DatetimeIndex`` named ``date``) with
    the columns ``assets``: numerator basket key, denominator basket key, ``"benchmark"``.
    ``returns`` holds simple close-to-close returns (0.01 = +1%), NaN where an asset has no
    price yet or misses a bar; ``levels`` holds index levels (base 100 on the session before
    the first return), NaN before that.

    Not slotted on purpose: ``shocks`` and ``intraday`` are computed on first use only, so a
    strategy that needs neither does not pay for them.
    """

    config: Config
    returns: pd.DataFrame
    levels: pd.DataFrame
    member: pd.DataFrame = field(repr=False)  # member returns, one column per ticker
    panel: PricePanel = field(repr=False)  # the prices read, for the opens

    @property
    def keys(self) -> tuple[str, str]:
        return self.config.baskets[0].key, self.config.baskets[1].key

    @property
    def assets(self) -> tuple[str, str, str]:
        a, b = self.keys
        return a, b, BENCHMARK

    @property
    def params(self) -> SignalsConfig:
        return self.config.signals

    @property
    def sessions(self) -> pd.DatetimeIndex:
        index = self.returns.index
        assert isinstance(index, pd.DatetimeIndex)  # checked by market_data
        return index

    @property
    def ratio(self) -> pd.Series:
        """Numerator index over denominator index, as in the rotation engine."""
        a, b = self.keys
        return self.levels[a] / self.levels[b]

    @property
    def first_session(self) -> int:
        """Position of the first session on which both basket levels are known."""
        known = self.ratio.notna().to_numpy()
        if not known.any():
            raise DataError("the two baskets never have prices on the same session")
        return int(np.argmax(known))

    @cached_property
    def shocks(self) -> pd.DataFrame:
        """The detector's shock evidence (columns of ``bot.core.shock.shock_evidence``).

        Built from the same inputs as ``bot.core.signals.compute_signals``, so a shock here is a
        shock in the alerts (a unit test holds the two equal).
        """
        config = self.config
        a, b = self.keys
        fallback = self.member[list(config.basket_tickers)].mean(axis=1)
        bench = self.member[config.benchmark.ticker].fillna(fallback)
        members = {bk.key: bk.tickers for bk in config.baskets}
        return shock_evidence(self.member, members, self.returns[[a, b]], bench, config.signals)

    @cached_property
    def intraday(self) -> pd.DataFrame:
        """Open-to-close returns of the assets; NaN where a member with a price lacks an open.

        A basket's intraday return is its close-to-close return divided by the growth over the
        gap ``(1 + r) / (1 + g) - 1``, with ``g`` the weighted gap of its members: exact for a
        basket rebalanced at the close and left to drift through the open.
        """
        tickers = list(self.config.tickers)
        member_intraday = self.panel.close[tickers] / self.panel.open[tickers] - 1.0
        member_gap = (1.0 + self.member) / (1.0 + member_intraday) - 1.0
        lacking = self.member.notna() & member_gap.isna()
        out = {}
        for bk in self.config.baskets:
            tickers = list(bk.tickers)
            gap = basket_return(member_gap, bk.weight_map())
            gap = gap.where(~lacking[tickers].any(axis=1))
            out[bk.key] = (1.0 + self.returns[bk.key]) / (1.0 + gap) - 1.0
        ticker = self.config.benchmark.ticker
        out[BENCHMARK] = member_intraday[ticker].where(self.member[ticker].notna())
        return pd.DataFrame(out, index=self.returns.index)[list(self.assets)]


def market_data(panel: PricePanel, config: Config) -> MarketData:
    """Build the backtest inputs of ``panel`` for the configured baskets and benchmark."""
    _check(panel, config)
    tickers = list(config.tickers)
    member = member_returns(panel.adj_close[tickers])
    a, b = (bk.key for bk in config.baskets)
    frame = basket_returns(member, [(bk.key, bk.weight_map()) for bk in config.baskets])
    frame[BENCHMARK] = member[config.benchmark.ticker]
    levels = pd.DataFrame({k: basket_index(frame[k]) for k in (a, b, BENCHMARK)})
    return MarketData(config=config, returns=frame, levels=levels, member=member, panel=panel)


def _check(panel: PricePanel, config: Config) -> None:
    index = panel.adj_close.index
    if not isinstance(index, pd.DatetimeIndex) or not index.is_monotonic_increasing:
        raise DataError("prices must be indexed by sorted session dates")
    if not index.is_unique:
        raise DataError("price dates must be unique")
    absent = [t for t in config.tickers if t not in panel.adj_close.columns]
    if absent:
        raise DataError(f"no prices for {', '.join(absent)}")
    if BENCHMARK in (bk.key for bk in config.baskets):
        raise DataError(f"a basket may not be called {BENCHMARK!r} in backtests")
