"""Strategies: the registry, the contract (no look-ahead, exact costs), each rule's behaviour."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import ClassVar, Self

import numpy as np
import pandas as pd
import pytest

import strategies
from bot.backtest.engine import Settings, backtest
from bot.backtest.market import MarketData, basket_data, market_data
from bot.core.market import build_market
from bot.core.panel import PricePanel
from bot.core.params import Basket, DetectorParams, Pair, Universe
from bot.core.signals import compute_signals
from bot.core.strength import rrg
from bot.errors import StrategyError, UsageError
from strategies.base import (
    ParamSpec,
    Strategy,
    compute_codes,
    compute_grid,
    compute_weights,
    param,
    param_specs,
)
from tests.synthetic import SMALL_BASKETS, panel_from_returns, random_returns, small_config

TICKERS = ["C1", "C2", "C3", "C4", "P1", "P2", "P3", "BENCH"]
CONFIG = small_config(min_history=60, short_window=40, long_window=250)
UNIVERSE = CONFIG.universe
# Basket strategies rotate among every basket: give them a third one to choose from (a ticker
# may sit in several baskets).
ROTATION = Universe(
    (*SMALL_BASKETS, Basket("duo", "Duo", ("C1", "P1"))),
    UNIVERSE.pairs,
    UNIVERSE.benchmark,
    UNIVERSE.params,
)
SHOCK_DAYS = (300, 420, 560, 640)
# Dense cut points: a strategy peeking k sessions ahead differs from the full run only in
# the last k rows of a cut, and only where the peek changes its decision (a step prime to
# the rebalancing periods reaches every phase of their schedules).
CUTS = (*range(120, 700, 4), 300, 301, 420, 561, 640, 699)


@cache
def world() -> PricePanel:
    """700 sessions where the baskets trade the lead, with four clean shock rotations."""
    returns = random_returns(TICKERS, 700, seed=21, vol=0.012)
    drift = 0.002 * np.sin(np.arange(700) / 45.0)  # slow swings of the ratio
    returns.loc[:, ["C1", "C2", "C3", "C4"]] = returns[["C1", "C2", "C3", "C4"]].add(drift, axis=0)
    for i, day in enumerate(SHOCK_DAYS):
        sign = 1 if i % 2 else -1
        returns.iloc[day, :7] = [sign * m for m in (0.06, 0.05, 0.05, 0.04, -0.05, -0.03, -0.02)]
        returns.iloc[day, 7] = 0.001
    return panel_from_returns(returns)


def data_of(panel: PricePanel, trades: str) -> MarketData:
    """The assets a strategy trading ``trades`` ("pair" or "baskets") sees in ``panel``."""
    if trades == "baskets":
        return basket_data(build_market(panel, ROTATION))
    return market_data(panel, UNIVERSE)


@cache
def full_data(trades: str = "pair") -> MarketData:
    return data_of(world(), trades)


@cache
def cut_data(cut: int, trades: str = "pair") -> MarketData:
    """What was known at the close of session ``cut``."""
    return data_of(world().upto(world().dates[cut]), trades)


def fast(cls: type[Strategy]) -> Strategy:
    """The strategy with every whole-number parameter cut to a quarter: it trades often."""
    values = {
        s.name: max(int(s.minimum or 1), int(s.default) // 4)  # type: ignore[call-overload]
        for s in param_specs(cls)
        if s.kind is int
    }
    return cls(**values)


# -- the contract, for every registered strategy ----------------------------------------------


@pytest.mark.parametrize("speed", ["default", "fast"])
@pytest.mark.parametrize("name", strategies.names())
def test_no_look_ahead(name: str, speed: str) -> None:
    cls = strategies.get(name)
    strategy = cls() if speed == "default" else fast(cls)
    full = compute_weights(strategy, full_data(cls.trades))
    assert full.to_numpy().sum() > 5, "the strategy never invests: the test would prove nothing"
    assert full.diff().abs().to_numpy()[1:].sum() >= 2, "it never trades"
    values = full.to_numpy()
    for cut in CUTS:
        known = compute_weights(strategy, cut_data(cut, cls.trades))
        assert known.index.equals(full.index[: cut + 1])
        np.testing.assert_array_equal(known.to_numpy(), values[: cut + 1], err_msg=f"cut {cut}")


@pytest.mark.parametrize("name", strategies.names())
def test_costs_lower_returns_by_exactly_turnover_times_rate(name: str) -> None:
    strategy = strategies.build(name)
    data = full_data(strategy.trades)
    targets = compute_weights(strategy, data)
    start = data.sessions[strategy.warmup(CONFIG.signals)].date()
    end = data.sessions[-1].date()
    free = backtest(targets, data, start, end, Settings(cost_bps=0.0, slippage_bps=0.0))
    paid = backtest(targets, data, start, end, Settings(cost_bps=7.0, slippage_bps=3.0))
    assert paid.turnover.sum() > 1.0
    np.testing.assert_allclose(
        (free.returns - paid.returns).to_numpy(), paid.turnover.to_numpy() * 0.001, atol=1e-15
    )
    assert paid.equity.iloc[-1] < free.equity.iloc[-1]


@pytest.mark.parametrize("name", strategies.names())
def test_a_grid_equals_its_combinations_one_by_one(name: str) -> None:
    cls = strategies.get(name)
    combos = [cls(**dict(zip(keys, values, strict=True))) for keys, values in _small_grid(cls)]
    data = full_data(cls.trades)
    grid = compute_grid(cls, data, combos)
    for j, combo in enumerate(combos):
        np.testing.assert_array_equal(grid[:, j], compute_weights(combo, data).to_numpy())


def _small_grid(cls: type[Strategy]) -> list[tuple[list[str], tuple[object, ...]]]:
    """Two or three values of each parameter around its default."""
    options: dict[str, list[object]] = {}
    for spec in param_specs(cls):
        if spec.choices:
            options[spec.name] = list(spec.choices)
        elif spec.kind is int:
            low = int(spec.minimum or 1)
            options[spec.name] = [spec.default, max(low, int(spec.default) // 3)]  # type: ignore[call-overload]
        else:
            options[spec.name] = [spec.default, float(spec.default) + 0.01]  # type: ignore[arg-type]
    keys = list(options)
    return [(keys, combo) for combo in itertools.product(*options.values())]


@pytest.mark.parametrize("name", strategies.names())
def test_the_sweeps_codes_are_the_strategys_weights(name: str) -> None:
    cls = strategies.get(name)
    options = {s.name: s for s in param_specs(cls)}
    grid = {key: [str(v) for v in values] for key, values in _wide_values(options).items()}
    combos = list(strategies.grid_of(name, grid))
    data = full_data(cls.trades)
    found = compute_codes(cls, data, combos)
    assert found.codes.shape == (len(combos), len(data.sessions))
    np.testing.assert_array_equal(found.weights(), compute_grid(cls, data, combos))


def _wide_values(specs: dict[str, ParamSpec]) -> dict[str, list[object]]:
    """A few values of each parameter, from quick to slow (dozens of combinations)."""
    out: dict[str, list[object]] = {}
    for spec in specs.values():
        if spec.choices:
            out[spec.name] = list(spec.choices)
        elif spec.kind is int:
            low = int(spec.minimum or 1)
            top = int(spec.default)  # type: ignore[call-overload]
            out[spec.name] = sorted({max(low, top // 5), max(low, top // 2), top})
        else:
            out[spec.name] = [spec.default, float(spec.default) + 0.015]  # type: ignore[arg-type]
    return out


@pytest.mark.parametrize("name", strategies.names())
def test_each_module_documents_idea_parameters_and_source(name: str) -> None:
    cls = strategies.get(name)
    doc = sys.modules[cls.__module__].__doc__ or ""
    assert doc.startswith(f"{name}:") and "Source:" in doc and "Parameters:" in doc
    for spec in param_specs(cls):
        assert f"``{spec.name}``" in doc and spec.help


# -- each rule ----------------------------------------------------------------------------------


def trend_world(chips: float, platforms: float, bench: float = 0.0) -> MarketData:
    returns = pd.DataFrame(0.0, index=pd.bdate_range("2021-01-04", periods=40), columns=TICKERS)
    returns[["C1", "C2", "C3", "C4"]] = chips
    returns[["P1", "P2", "P3"]] = platforms
    returns["BENCH"] = bench
    return market_data(panel_from_returns(returns), UNIVERSE)


def test_rs_momentum_holds_the_stronger_basket_from_the_first_due_decision() -> None:
    data = trend_world(0.01, 0.0)
    weights = compute_weights(
        strategies.build("rs_momentum", {"lookback": "5", "rebalance": "3"}), data
    )
    # Returns over 5 sessions exist from session 5; decisions are due on 0, 3, 6, ...
    assert weights["chips"].tolist() == [0.0] * 6 + [1.0] * 34
    assert weights[["platforms", "benchmark"]].to_numpy().sum() == 0


def test_rs_momentum_margin_keeps_the_holding_while_the_gap_is_small() -> None:
    data = trend_world(0.001, 0.0)
    wide = strategies.build("rs_momentum", {"lookback": "5", "rebalance": "1", "margin": "0.5"})
    assert compute_weights(wide, data).to_numpy().sum() == 0


def test_dual_momentum_steps_aside_when_both_baskets_fall() -> None:
    data = trend_world(-0.01, -0.002, bench=0.001)
    cash = compute_weights(
        strategies.build("dual_momentum", {"lookback": "5", "rebalance": "1"}), data
    )
    assert cash.to_numpy().sum() == 0
    into = {"lookback": "5", "rebalance": "1", "into": "benchmark"}
    bench = compute_weights(strategies.build("dual_momentum", into), data)
    assert bench["benchmark"].tolist() == [0.0] * 5 + [1.0] * 35
    up = compute_weights(
        strategies.build("dual_momentum", {"lookback": "5", "rebalance": "1"}),
        trend_world(-0.001, 0.004),
    )
    assert up["platforms"].iloc[5:].eq(1.0).all()


def test_rs_trend_with_the_engines_settings_trades_the_regime() -> None:
    regime = compute_signals(world(), UNIVERSE).first.frame["regime"]
    weights = compute_weights(strategies.build("rs_trend"), full_data())
    assert (regime != 0).sum() > 100
    np.testing.assert_array_equal(weights["chips"].to_numpy(), (regime > 0).to_numpy())
    np.testing.assert_array_equal(weights["platforms"].to_numpy(), (regime < 0).to_numpy())


@pytest.mark.parametrize(("name", "held"), [("shock_follow", 0), ("shock_fade", 1)])
def test_shock_strategies_hold_for_h_sessions_after_each_shock(name: str, held: int) -> None:
    weights = compute_weights(strategies.build(name, {"hold": "4"}), full_data()).to_numpy()
    shocks = full_data().shocks
    fired = np.flatnonzero(shocks["eligible"] & (shocks["score"] >= 2.5))
    assert set(SHOCK_DAYS) <= set(fired)
    expected = sorted({d + k for d in fired for k in range(4)})
    assert np.flatnonzero(weights.sum(axis=1) > 0).tolist() == expected
    for i, day in enumerate(SHOCK_DAYS):
        winner = 0 if i % 2 else 1  # odd shocks: chips up
        side = winner if held == 0 else 1 - winner
        assert weights[day : day + 4, side].tolist() == [1.0] * 4


def test_rrg_early_rule_follows_rs_momentum() -> None:
    data = full_data()
    weights = compute_weights(strategies.build("rrg", {"rule": "early", "window": "20"}), data)
    pair = rrg(data.levels["chips"], data.levels["platforms"], 20)
    known = (pair["rs_ratio"].notna() & pair["rs_momentum"].notna()).to_numpy()
    up = (pair["rs_momentum"] >= 100).to_numpy()
    assert known.sum() > 500
    np.testing.assert_array_equal(weights["chips"].to_numpy()[known], up[known].astype(float))
    strict = compute_weights(strategies.build("rrg", {"rule": "strict", "window": "20"}), data)
    assert (strict.sum(axis=1).iloc[100:] == 0).any()  # transition quadrants sit in cash


def rotation_world(drifts: dict[str, list[float]], bench: float = 0.0) -> MarketData:
    """Four one-ticker baskets a..d whose returns follow ``drifts`` (one value per session)."""
    n = len(next(iter(drifts.values())))
    returns = pd.DataFrame(drifts, index=pd.bdate_range("2021-01-04", periods=n))
    returns["BENCH"] = bench
    keys = list(drifts)
    universe = Universe(
        tuple(Basket(k, k.upper(), (k,)) for k in keys),
        (Pair(keys[0], keys[1]),),
        UNIVERSE.benchmark,
        UNIVERSE.params,
    )
    return basket_data(build_market(panel_from_returns(returns), universe))


def steady(*daily: float, n: int = 30) -> dict[str, list[float]]:
    return {k: [r] * n for k, r in zip("abcd", daily, strict=True)}


def rotation(data: MarketData, **params: str) -> pd.DataFrame:
    return compute_weights(strategies.build("sector_rotation", params), data)


def test_sector_rotation_holds_the_top_k_baskets_at_equal_weight() -> None:
    data = rotation_world(steady(0.003, 0.002, -0.001, 0.001), bench=0.0015)
    assert data.assets == ("a", "b", "c", "d", "benchmark")
    top = rotation(data, k="1", lookback="5", rebalance="1")
    # Lookback returns exist from session 5: from then on, a alone.
    assert top["a"].tolist() == [0.0] * 5 + [1.0] * 25
    assert top.drop(columns="a").to_numpy().sum() == 0
    two = rotation(data, k="2", lookback="5", rebalance="1")
    assert two.iloc[-1].tolist() == [0.5, 0.5, 0.0, 0.0, 0.0]
    # d lags the benchmark but rises: its own momentum keeps it in the third slot.
    three = rotation(data, k="3", lookback="5", rebalance="1")
    assert three.iloc[-1].tolist() == pytest.approx([1 / 3, 1 / 3, 0.0, 1 / 3, 0.0])


def test_sector_rotation_leaves_a_falling_baskets_slot_in_cash() -> None:
    data = rotation_world(steady(0.003, -0.002, -0.001, -0.004))
    weights = rotation(data, k="2", lookback="5", rebalance="1")
    assert weights.iloc[-1].tolist() == [0.5, 0.0, 0.0, 0.0, 0.0]  # b ranks second but falls
    everything = rotation(data, k="9", lookback="5", rebalance="1")
    assert everything.iloc[-1].tolist() == [0.25, 0.0, 0.0, 0.0, 0.0]  # k > n: 1/n a slot


def test_sector_rotation_switches_at_the_first_due_decision_after_the_lead_changes() -> None:
    drifts = steady(0.004, 0.0, 0.0, 0.0, n=40)
    drifts["b"] = [0.0] * 20 + [0.02] * 20  # b takes the lead from session 20 on
    weights = rotation(rotation_world(drifts), k="1", lookback="5", rebalance="4")
    # Decisions on sessions 0, 4, 8, ...: b's 5-session return beats a's from session 21
    # (0.02 + 4 x 0 against 5 x 0.004), first due on 24.
    assert weights["a"].tolist() == [0.0] * 8 + [1.0] * 16 + [0.0] * 16
    assert weights["b"].tolist() == [0.0] * 24 + [1.0] * 16


def test_sector_rotation_grid_over_k_equals_its_combinations_one_by_one() -> None:
    data = full_data("baskets")
    combos = strategies.build_grid(
        "sector_rotation", {"k": ["1", "2", "3"], "lookback": ["20", "63"]}, {"rebalance": "5"}
    )
    grid = compute_grid(type(combos[0]), data, combos)
    assert len({grid[:, j].tobytes() for j in range(len(combos))}) == len(combos)
    for j, combo in enumerate(combos):
        np.testing.assert_array_equal(grid[:, j], compute_weights(combo, data).to_numpy())


def test_a_pair_strategy_refuses_data_of_every_basket() -> None:
    with pytest.raises(StrategyError, match="trades a pair of baskets"):
        compute_weights(strategies.build("rs_momentum"), full_data("baskets"))
    with pytest.raises(StrategyError, match="trades every basket"):
        compute_weights(strategies.build("sector_rotation"), full_data())


# -- the registry ---------------------------------------------------------------------------------


def test_the_seven_built_in_strategies_are_registered() -> None:
    assert strategies.names() == [
        "dual_momentum",
        "rrg",
        "rs_momentum",
        "rs_trend",
        "sector_rotation",
        "shock_fade",
        "shock_follow",
    ]


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("rs_momentun", {}, "did you mean 'rs_momentum'"),
        ("rs_momentum", {"lookbak": "20"}, "did you mean 'lookback'"),
        ("rs_momentum", {"lookback": "abc"}, "expected a whole number"),
        ("rs_momentum", {"lookback": "0"}, "must be at least 1"),
        ("rrg", {"rule": "quadrnt"}, "must be one of quadrant, early, strict"),
        ("dual_momentum", {"threshold": "nan"}, "finite"),
        ("shock_fade", {"min_score": "-1"}, "at least 0"),
    ],
)
def test_bad_names_and_values_are_usage_errors(
    name: str, params: dict[str, str], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        strategies.build(name, params)


def test_build_grid_is_the_product_in_order() -> None:
    combos = strategies.build_grid(
        "rs_momentum", {"lookback": ["10", "20"], "margin": ["0", "0.1"]}, {"rebalance": "5"}
    )
    assert [(c.params()["lookback"], c.params()["margin"]) for c in combos] == [
        (10, 0.0),
        (10, 0.1),
        (20, 0.0),
        (20, 0.1),
    ]
    assert {c.params()["rebalance"] for c in combos} == {5}
    with pytest.raises(UsageError, match="both"):
        strategies.build_grid("rs_momentum", {"lookback": ["10"]}, {"lookback": "5"})


@dataclass(frozen=True, slots=True)
class Broken(Strategy):
    name: ClassVar[str] = "broken"
    mode: str = param("nan", "what to get wrong", choices=("nan", "short", "shape", "raise"))

    def warmup(self, params: DetectorParams) -> int:
        return 0

    @classmethod
    def grid_weights(cls, data: MarketData, combos: Sequence[Self]) -> np.ndarray:
        out = np.zeros((len(data.sessions), len(combos), 3))
        mode = combos[0].mode
        if mode == "raise":
            raise ZeroDivisionError("oops")
        if mode == "shape":
            return out[:, :, :2]
        out[5, :, 0] = np.nan if mode == "nan" else -1.0
        return out


@pytest.mark.parametrize("mode", ["nan", "short", "shape", "raise"])
def test_plug_in_failures_become_strategy_errors(mode: str) -> None:
    with pytest.raises(StrategyError, match="broken"):
        compute_weights(Broken(mode), trend_world(0.0, 0.0))


def test_a_second_strategy_with_a_taken_name_is_refused() -> None:
    @dataclass(frozen=True, slots=True)
    class Impostor(Broken):
        name: ClassVar[str] = "rs_momentum"

    with pytest.raises(ValueError, match="two strategies"):
        strategies.register(Impostor)
    assert strategies.get("rs_momentum") is not Impostor
