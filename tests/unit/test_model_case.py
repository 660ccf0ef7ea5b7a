"""2026-07-01 rebuilt: calm S&P, chips crushed, platforms up, on a turbulent synthetic history.

The real data end in 2025, so the session is rebuilt from the figures reported that day on
top of three and a half years of synthetic factor returns whose last months run at twice
the usual chips-vs-platforms spread volatility (as mid-2026 did).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from bot.config import Config
from bot.core.models import Severity
from bot.core.signals import compute_signals, events, state_at
from tests.synthetic import panel_from_returns

MODEL_DAY = pd.Timestamp("2026-07-01")
CHIPS_MOVES = {
    "MU": -0.106,
    "INTC": -0.0903,
    "AMD": -0.0689,
    "TSM": -0.0698,
    "GLW": -0.136,
    "NVDA": -0.0125,
    "SNDK": -0.105,
    "KLAC": -0.118,
    "AVGO": -0.045,
    "ASML": -0.055,
    "AMAT": -0.075,
    "LRCX": -0.08,
    "MRVL": -0.065,
    "QCOM": -0.03,
}
PLATFORM_MOVES = {
    "META": 0.0881,
    "PLTR": 0.0777,
    "MSFT": 0.0302,
    "GOOGL": 0.012,
    "AMZN": 0.015,
    "CRM": 0.024,
    "ORCL": 0.008,
    "NOW": 0.031,
    "ADBE": 0.02,
}
SP500 = -0.0022


def turbulent_history(config: Config, seed: int = 7) -> pd.DataFrame:
    """Return member and benchmark returns to 2026-06-30, then the model day."""
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2023-01-03", "2026-07-01", name="date")
    n = len(idx)
    market = rng.normal(0.0004, 0.011, n)
    # The sector factor drives the spread: calm at first, twice as volatile from 2026-03.
    regime = np.where(idx >= pd.Timestamp("2026-03-02"), 2.0, 1.0)
    sector = rng.normal(0.0, 0.0055, n) * regime
    chips, platforms = config.baskets[0].tickers, config.baskets[1].tickers
    data = {t: market + sector + rng.normal(0, 0.012, n) * regime for t in chips}
    data |= {t: market - sector + rng.normal(0, 0.011, n) * regime for t in platforms}
    data[config.benchmark.ticker] = market
    returns = pd.DataFrame(data, index=idx)
    returns.loc[idx < pd.Timestamp("2025-02-13"), "SNDK"] = np.nan  # listed in 2025
    returns.loc[MODEL_DAY] = CHIPS_MOVES | PLATFORM_MOVES | {config.benchmark.ticker: SP500}
    return returns


@pytest.fixture(scope="module")
def model() -> tuple[Config, pd.DataFrame]:
    config = Config()
    return config, turbulent_history(config)


def test_history_is_turbulent_like_mid_2026(model: tuple[Config, pd.DataFrame]) -> None:
    config, returns = model
    signals = compute_signals(panel_from_returns(returns), config.universe)
    ev = signals.first.frame.loc[MODEL_DAY]
    # The recent spread volatility runs at about twice its long-run level.
    assert 1.5 < ev["sigma_short"] / ev["sigma_long"] < 2.5


def test_model_day_is_a_chips_to_platforms_shock(model: tuple[Config, pd.DataFrame]) -> None:
    config, returns = model
    signals = compute_signals(panel_from_returns(returns), config.universe)
    found = [e for e in events(signals, MODEL_DAY.date(), MODEL_DAY.date()) if e.kind == "shock"]
    assert len(found) == 1
    event = found[0]
    assert (event.from_basket, event.to_basket) == ("chips", "platforms")
    assert event.severity == Severity.SEVERE
    assert event.summary.startswith("Calm surface, violent rotation: S&P 500 -0.2% while Chips")
    assert "KLAC -11.8%" in event.summary and "META +8.8%" in event.summary
    assert [d.ticker for d in event.drivers] == ["GLW", "KLAC", "META", "PLTR"]
    # A z-score against the last three months alone sees a much smaller move.
    assert event.evidence["z_short"] < event.score < event.evidence["z"] * 1.25  # type: ignore[operator]
    # NVDA (-1.25%) stayed above the midpoint of the two baskets: 13 of 14 chips moved.
    assert event.evidence["breadth"] == pytest.approx(13 / 14)


def test_model_day_state_reads_out_the_rotation(model: tuple[Config, pd.DataFrame]) -> None:
    config, returns = model
    state = state_at(
        compute_signals(panel_from_returns(returns), config.universe).first, date(2026, 7, 1)
    )
    assert state.benchmark_return == pytest.approx(SP500)
    assert state.basket_returns["chips"] == pytest.approx(np.mean(list(CHIPS_MOVES.values())))
    assert [e.kind for e in state.events].count("shock") == 1
