"""The sweep engines (numpy and compiled) against the reference engine, path by path.

``engine.simulate`` on one path is what ``rotabot backtest`` runs; every sweep figure must
equal its figures to 1e-12 (counts exactly), for several strategies, both fills (with
sessions lacking opens), long and spread, and over the walk-forward's sub-windows too.
"""

from __future__ import annotations

import itertools
import tracemalloc
from collections.abc import Sequence
from functools import cache

import numpy as np
import pytest

import strategies
from bot.backtest.codes import Codes, encode, for_engine
from bot.backtest.engine import Fill, Settings, as_spread, moves, simulate
from bot.backtest.market import MarketData, basket_data, market_data
from bot.backtest.metrics import return_metrics
from bot.backtest.sweep import Engine, pick_engine, sweep, sweep_ranked
from bot.core.market import build_market
from bot.core.params import Basket, Universe
from strategies.base import compute_codes, compute_grid
from tests.synthetic import SMALL_BASKETS, panel_from_returns, random_returns, small_config

TICKERS = ["C1", "C2", "C3", "C4", "P1", "P2", "P3", "BENCH"]
UNIVERSE = small_config(min_history=60, short_window=40, long_window=250).universe
ROTATION = Universe(
    (*SMALL_BASKETS, Basket("duo", "Duo", ("C1", "P1"))),
    UNIVERSE.pairs,
    UNIVERSE.benchmark,
    UNIVERSE.params,
)
GRIDS = {
    "rs_momentum": {"lookback": ["5", "21", "63"], "rebalance": ["1", "5", "21"],
                    "margin": ["0", "0.02"]},
    "dual_momentum": {"lookback": ["21", "63"], "rebalance": ["1", "10"],
                      "into": ["cash", "benchmark"]},
    "rs_trend": {"window": ["20", "50"], "band": ["0", "0.01"], "confirm": ["1", "3"]},
    "shock_fade": {"hold": ["2", "7"], "min_score": ["1.5", "2.5"]},
    "sector_rotation": {"k": ["1", "2"], "lookback": ["10", "40"], "rebalance": ["1", "7"]},
}  # fmt: skip
SETTINGS = {
    "close": Settings(cost_bps=3, slippage_bps=2),
    "next_open": Settings(fill=Fill.NEXT_OPEN, cost_bps=10, slippage_bps=0),
    "spread": Settings(spread=True),
}
EXACT = ("trades", "max_drawdown_duration")


@cache
def world(trades: str) -> MarketData:
    """600 sessions; the benchmark lists late, and some opens are missing (fills at close)."""
    returns = random_returns(TICKERS, 600, seed=31, vol=0.013)
    returns.loc[:, ["C1", "C2", "C3"]] += 0.002 * np.sin(np.arange(600) / 30.0)[:, None]
    returns.loc[returns.index[:80], "BENCH"] = np.nan
    for day in (200, 350, 470):
        returns.iloc[day, :7] = [-0.06, -0.05, -0.05, -0.04, 0.05, 0.03, 0.02]
    panel = panel_from_returns(returns)
    panel.open.loc[panel.open.index[300:305], "C2"] = np.nan
    panel.open.loc[panel.open.index[400:402], "BENCH"] = np.nan
    panel.open.loc[panel.open.index[100:], "P1"] *= 1.003
    if trades == "baskets":
        return basket_data(build_market(panel, ROTATION))
    return market_data(panel, UNIVERSE)


CASES = [
    (name, mode)
    for name, mode in itertools.product(GRIDS, SETTINGS)
    if not (mode == "spread" and strategies.get(name).trades == "baskets")
]


@pytest.mark.parametrize("engine", ["numpy", "numba"])
@pytest.mark.parametrize(("name", "mode"), CASES)
def test_a_sweep_equals_the_engine_path_by_path(name: str, mode: str, engine: Engine) -> None:
    grid = strategies.grid_of(name, GRIDS[name])
    cls, settings = grid.cls, SETTINGS[mode]
    data = world(cls.trades)
    mv = moves(data, settings.fill)
    window = (90, len(data.sessions))
    parts = [(120, 300), (300, 480), (90, 600)]
    result = sweep(
        lambda idx: compute_codes(cls, data, [grid[i] for i in idx]),
        len(grid), mv, window, settings, windows=parts, block=5, engine=engine,
    )  # fmt: skip
    weights = compute_grid(cls, data, list(grid))
    if settings.spread:
        weights = as_spread(weights)
    traded = 0
    for j in range(len(grid)):
        sim = simulate(weights[:, [j]], mv, *window, settings.rate)
        expected = sim.metrics()
        for key, values in expected.items():
            got, want = result.metrics[key][j], values[0]
            if key in EXACT:
                assert got == want, (key, j)
            else:
                np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, err_msg=key)
        for part, figures in zip(parts, result.window_metrics, strict=True):
            lo, hi = part[0] - window[0], part[1] - window[0]
            for key, values in return_metrics(sim.net[lo:hi]).items():
                np.testing.assert_allclose(figures[key][j], values[0], rtol=1e-12, atol=1e-12)
        traded += int(expected["trades"][0] > 2)
    assert traded >= len(grid) // 2, "most combinations must trade, or the test proves little"


def test_the_numpy_and_compiled_engines_agree_on_a_large_block() -> None:
    grid = strategies.grid_of(
        "rs_momentum", {"lookback": [str(n) for n in range(3, 60, 4)],
                        "rebalance": [str(n) for n in range(1, 30, 3)]},
    )  # fmt: skip
    data = world("pair")
    mv = moves(data, Fill.NEXT_OPEN)
    runs = [
        sweep(lambda idx: compute_codes(grid.cls, data, [grid[i] for i in idx]), len(grid), mv,
              (70, 600), Settings(fill=Fill.NEXT_OPEN), engine=engine, workers=2)
        for engine in ("numpy", "numba")
    ]  # fmt: skip
    for key, values in runs[0].metrics.items():
        np.testing.assert_allclose(runs[1].metrics[key], values, rtol=1e-12, atol=1e-12)


def test_codes_stand_for_the_weights_they_encode() -> None:
    rng = np.random.default_rng(2)
    weights = np.zeros((50, 4, 3))
    weights[:, :, 0] = rng.random((50, 4)) > 0.6
    weights[:, :, 1] = (rng.random((50, 4)) > 0.5) * 0.5 * (1 - weights[:, :, 0])
    weights[7, 2, 1] = -0.0  # the same weight as 0.0: one code
    found = encode(weights)
    assert found.codes.shape == (4, 50) and len(found.palette) <= 4
    np.testing.assert_array_equal(found.weights(), weights)
    codes, palette, cash = for_engine(found, spread=True)
    assert not palette[cash].any()
    assert len(np.unique(palette, axis=0)) == len(palette)
    np.testing.assert_array_equal(palette[codes.T], as_spread(weights) + 0.0)


def test_a_strategys_own_codes_skip_the_weights() -> None:
    grid = strategies.grid_of("rs_momentum", GRIDS["rs_momentum"])
    found = grid.cls.grid_codes(world("pair"), list(grid))
    assert found.codes.dtype == np.int32 and found.palette.shape == (4, 3)
    assert isinstance(found, Codes)


def _peak_bytes(lookbacks: int) -> int:
    grid = strategies.grid_of(
        "rs_momentum", {"lookback": [str(n) for n in range(2, 2 + lookbacks)],
                        "rebalance": [str(n) for n in range(1, 51)]},
    )  # fmt: skip
    data = world("pair")
    mv = moves(data, Fill.CLOSE)
    tracemalloc.start()
    try:
        sweep(lambda idx: compute_codes(grid.cls, data, [grid[i] for i in idx]), len(grid),
              mv, (60, len(data.sessions)), Settings(), engine="numpy", workers=1)  # fmt: skip
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_is_bounded_by_the_block_not_the_grid() -> None:
    small, large = _peak_bytes(10), _peak_bytes(80)  # 500 and 4,000 combinations
    assert large < 1.5 * small, (small, large)
    assert large < 4_000 * 540 * 8, "less than one float per session and combination"


def test_numba_takes_over_when_the_grid_repays_loading_it() -> None:
    assert pick_engine(10**9) == "numba"
    import bot.backtest.kernels  # noqa: F401  (once loaded, every sweep uses it)

    assert pick_engine(10) == "numba"


@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_a_palette_too_large_to_table_is_worked_out_session_by_session(engine: Engine) -> None:
    rng = np.random.default_rng(9)
    rows = rng.dirichlet(np.ones(4), 90)[:, :3]  # 90 distinct weight rows, each summing < 1
    weights = rows[np.repeat(rng.integers(0, 90, (60, 6)), 10, axis=0)]  # (600, 6, 3)
    mv = moves(world("pair"), Fill.NEXT_OPEN)
    result = sweep(lambda idx: encode(weights[:, list(idx)]), 6, mv, (50, 600),
                   Settings(fill=Fill.NEXT_OPEN), engine=engine)  # fmt: skip
    assert len(encode(weights).palette) > 64  # sweep.TABLE_ROWS
    for j in range(6):
        expected = simulate(weights[:, [j]], mv, 50, 600, Settings().rate).metrics()
        for key, values in expected.items():
            np.testing.assert_allclose(result.metrics[key][j], values[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("rank_by", ["sharpe", "calmar", "max_drawdown"])
def test_ranking_first_then_measuring_the_best_gives_the_full_sweeps_top(rank_by: str) -> None:
    grid = strategies.grid_of("rs_momentum", {"lookback": [str(n) for n in range(3, 60, 3)],
                                              "rebalance": ["1", "4", "9"]})  # fmt: skip
    data = world("pair")
    mv = moves(data, Fill.CLOSE)

    def codes(idx: Sequence[int]) -> Codes:
        return compute_codes(grid.cls, data, [grid[i] for i in idx])

    full = sweep(codes, len(grid), mv, (70, 600), Settings(), engine="numpy")
    quick = sweep_ranked(codes, len(grid), mv, (70, 600), Settings(), rank_by=rank_by, top=5,
                         engine="numpy")  # fmt: skip
    best = full.order(rank_by)[:5]
    np.testing.assert_array_equal(quick.order(rank_by)[:5], best)
    for key, values in full.metrics.items():
        np.testing.assert_array_equal(quick.metrics[key][best], values[best])
    assert np.isnan(quick.metrics["win_rate"][full.order(rank_by)[5:]]).all()
