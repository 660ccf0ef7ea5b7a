"""Small synthetic price histories for tests: deterministic, fast, shaped like the real data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from bot.config import Basket, Config
from bot.core.panel import FIELDS, PricePanel

SMALL_BASKETS = (
    Basket("chips", "Chips (shovel sellers)", ("C1", "C2", "C3", "C4")),
    Basket("platforms", "Platforms (gold diggers)", ("P1", "P2", "P3")),
)


def small_config(**signals: float | int) -> Config:
    """Return a config with two small baskets, benchmark ``BENCH`` and adjusted thresholds."""
    from dataclasses import replace

    from bot.config import Benchmark, DetectorParams

    return Config(
        baskets=SMALL_BASKETS,
        benchmark=Benchmark("BENCH", "Bench"),
        signals=replace(DetectorParams(), **signals),  # type: ignore[arg-type]
    )


def sessions(n: int, start: str = "2020-01-02") -> pd.DatetimeIndex:
    return pd.bdate_range(start, periods=n, name="date")


def panel_from_returns(returns: pd.DataFrame, start_price: float = 100.0) -> PricePanel:
    """Build a PricePanel whose adj_close compounds ``returns`` (NaN return = not listed yet).

    Each column starts at ``start_price`` on the session before its first return. ``close``
    equals adj_close; open/high/low are derived so every field is filled.
    """
    prices = {}
    for t in returns.columns:
        r = returns[t]
        first = r.first_valid_index()
        level = (1.0 + r.fillna(0.0)).cumprod() * start_price
        if first is not None:
            pos = max(returns.index.get_loc(first) - 1, 0)  # type: ignore[operator]
            level.iloc[:pos] = np.nan
        else:
            level[:] = np.nan
        prices[t] = level
    adj = pd.DataFrame(prices, index=returns.index)
    adj.index.name = "date"
    return PricePanel(
        open=adj * 0.999,
        high=adj * 1.01,
        low=adj * 0.99,
        close=adj.copy(),
        adj_close=adj,
        volume=adj.notna() * 1_000_000.0,
    )


def random_returns(
    tickers: Sequence[str],
    n: int,
    seed: int = 0,
    vol: float = 0.015,
    start: str = "2020-01-02",
) -> pd.DataFrame:
    """Return correlated daily returns (a common factor plus noise) for ``tickers``."""
    rng = np.random.default_rng(seed)
    common = rng.normal(0.0003, vol * 0.7, n)
    data = {t: common + rng.normal(0.0, vol * 0.7, n) for t in tickers}
    return pd.DataFrame(data, index=sessions(n, start))


def write_csv_dir(panel: PricePanel, folder: Path, tickers: Sequence[str] | None = None) -> Path:
    """Write one <TICKER>.csv per ticker in the format of the shared price folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for t in tickers or panel.tickers:
        frame = panel.ticker_frame(t)
        frame.index = frame.index.strftime("%Y-%m-%d")
        frame.to_csv(
            folder / f"{t}.csv", index_label="date", columns=list(FIELDS), float_format="%.6f"
        )
    return folder


def write_config(folder: Path, config_text: str = "", extra: Mapping[str, str] = {}) -> Path:
    """Write a config.toml for the small baskets (benchmark BENCH) and return its path."""
    text = (
        '[baskets.chips]\nname = "Chips (shovel sellers)"\ntickers = ["C1","C2","C3","C4"]\n'
        '[baskets.platforms]\nname = "Platforms (gold diggers)"\ntickers = ["P1","P2","P3"]\n'
        '[benchmark]\nticker = "BENCH"\nname = "Bench"\n' + config_text
    )
    path = folder / "config.toml"
    path.write_text(text)
    return path
