"""The backtest engine: timing, costs, drift, fills, trades, benchmarks, sweeps, event study."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd
import pytest

from bot.backtest.codes import encode
from bot.backtest.engine import (
    Fill,
    Moves,
    Settings,
    as_spread,
    backtest,
    moves,
    simulate,
)
from bot.backtest.market import basket_data, market_data, pair_data
from bot.backtest.metrics import return_metrics
from bot.backtest.study import event_study, forward_spreads
from bot.backtest.sweep import CodesFor, Engine, fold_windows, sweep, walk_forward, walk_windows
from bot.core.market import build_market
from bot.core.models import RotationEvent, Severity
from bot.core.params import Basket, Pair, Universe
from bot.core.signals import compute_signals
from bot.errors import UsageError
from tests.synthetic import (
    SMALL_BASKETS,
    panel_from_returns,
    random_returns,
    sessions,
    small_config,
)

RATE = 0.001
TICKERS = ["C1", "C2", "C3", "C4", "P1", "P2", "P3", "BENCH"]
CONFIG = small_config(min_history=60, short_window=40, long_window=250)
UNIVERSE = CONFIG.universe
# Three baskets and two watched pairs; "duo" shares members with the other two.
WIDE = Universe(
    (*SMALL_BASKETS, Basket("duo", "Duo", ("C1", "P3"))),
    (Pair("chips", "platforms"), Pair("duo", "platforms")),
    UNIVERSE.benchmark,
    UNIVERSE.params,
)


def close_moves(returns: Sequence[Sequence[float]]) -> Moves:
    values = np.array(returns, dtype="float64")
    return Moves(sessions(len(values)), values)


def path(*rows: Sequence[float]) -> np.ndarray:
    """Targets of one path: ``(sessions, 1, assets)``."""
    return np.array(rows, dtype="float64")[:, None, :]


def test_a_decision_at_t_earns_from_t_plus_2_and_pays_at_t_plus_1() -> None:
    mv = close_moves([[0.01], [0.02], [0.03], [0.04], [0.05], [0.06]])
    targets = path([0], [0], [1], [1], [1], [1])  # decided at the close of session 2
    sim = simulate(targets, mv, 0, 6, RATE)
    assert sim.gross[:, 0].tolist() == pytest.approx([0, 0, 0, 0, 0.05, 0.06])
    assert sim.turnover[:, 0].tolist() == pytest.approx([0, 0, 0, 1, 0, 0])
    assert sim.net[3, 0] == pytest.approx(-RATE)


def test_next_open_fill_splits_the_session_at_the_open() -> None:
    full = np.array([[0.0], [0.0], [0.0], [0.05], [0.02]])
    intraday = np.array([[0.0], [0.0], [0.0], [0.03], [0.01]])
    gap = (1 + full) / (1 + intraday) - 1
    mv = Moves(sessions(5), gap, intraday, full, np.zeros((5, 1), dtype=bool))
    sim = simulate(path([0], [0], [1], [1], [1]), mv, 0, 5, RATE)
    # Bought at the open of session 3: its gap is missed, its open-to-close move is earned.
    assert sim.gross[3, 0] == pytest.approx(0.03)
    assert sim.gross[4, 0] == pytest.approx(0.02)
    assert sim.turnover[3, 0] == pytest.approx(1.0)


def test_next_open_falls_back_to_the_close_where_an_open_is_missing() -> None:
    full = np.array([[0.0], [0.0], [0.0], [0.05], [0.02]])
    missing = np.array([[False], [False], [False], [True], [False]])
    mv = Moves(sessions(5), full.copy(), np.zeros((5, 1)), full, missing)
    sim = simulate(path([0], [0], [1], [1], [1]), mv, 0, 5, RATE)
    assert sim.at_close == 1
    assert sim.gross[3, 0] == 0.0  # traded at that close: the day's move is not earned
    assert sim.gross[4, 0] == pytest.approx(0.02)


def test_the_account_enters_the_current_position_on_the_first_session() -> None:
    mv = close_moves([[0.01]] * 6)
    sim = simulate(path(*[[1]] * 6), mv, 3, 6, RATE)
    assert sim.turnover[:, 0].tolist() == pytest.approx([1, 0, 0])
    assert sim.net[0, 0] == pytest.approx(0.01 - RATE)
    assert sim.exposed[:, 0].all()


def test_drift_between_trades_is_traded() -> None:
    ra, rb = 0.10, -0.05
    mv = close_moves([[0, 0], [0, 0], [ra, rb], [0, 0]])
    sim = simulate(path(*[[0.5, 0.5]] * 4), mv, 2, 4, RATE)
    value = 1 + 0.5 * ra + 0.5 * rb
    drift = abs(0.5 - 0.5 * (1 + ra) / value) + abs(0.5 - 0.5 * (1 + rb) / value)
    assert sim.gross[0, 0] == pytest.approx(0.5 * ra + 0.5 * rb)
    assert sim.turnover[0, 0] == pytest.approx(1.0 + drift)  # entry plus the rebalance


def test_spread_is_long_one_basket_short_the_other() -> None:
    targets = path([1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0])
    assert as_spread(targets)[:, 0, :].tolist() == [[1, -1, 0], [-1, 1, 0], [0, 0, 1], [0, 0, 0]]
    mv = close_moves([[0, 0, 0]] * 2 + [[0.03, 0.01, 0.0]] * 2)
    sim = simulate(as_spread(path(*[[1, 0, 0]] * 4)), mv, 2, 4, RATE)
    assert sim.gross[:, 0].tolist() == pytest.approx([0.02, 0.02])
    # Entry (long 1, short 1), then back to +1/-1 after the legs drifted apart.
    assert sim.turnover[0, 0] == pytest.approx(2.0 + 2 * 0.01 / 1.02)


def test_costs_lower_returns_by_turnover_times_rate() -> None:
    rng = np.random.default_rng(3)
    mv = Moves(sessions(300), rng.normal(0, 0.01, (300, 3)))
    targets = np.zeros((300, 4, 3))
    targets[:, :, 0] = rng.random((300, 4)) > 0.5
    targets[:, :, 1] = (rng.random((300, 4)) > 0.7) * (1 - targets[:, :, 0])
    free = simulate(targets, mv, 10, 300, 0.0)
    paid = simulate(targets, mv, 10, 300, 0.0025)
    assert free.turnover.sum() > 50
    np.testing.assert_allclose(free.net - paid.net, paid.turnover * 0.0025, rtol=0, atol=1e-15)


def test_trades_and_wins_count_holding_periods() -> None:
    mv = close_moves([[0, 0]] * 3 + [[0.02, 0], [0.01, 0], [0, 0], [0, -0.03], [0, 0.01], [0, 0]])
    # Targets: cash, A (held on sessions 3-4), cash, B (held on 6-8).
    targets = path([0, 0], [1, 0], [1, 0], [0, 0], [0, 1], [0, 1], [0, 1], [0, 1], [0, 1])
    sim = simulate(targets, mv, 0, 9, 0.0)
    assert sim.trades[0] == 2
    assert sim.wins[0] == 1  # A made 3%, B lost about 2%


def test_backtest_on_a_synthetic_panel() -> None:
    returns = random_returns(TICKERS, 320, seed=5)
    returns.loc[returns.index[:150], "BENCH"] = np.nan  # the benchmark lists late
    data = market_data(panel_from_returns(returns), UNIVERSE)
    targets = pd.DataFrame(0.0, index=data.sessions, columns=list(data.assets))
    targets.iloc[100:200, 0] = 1.0
    targets.iloc[200:, 1] = 1.0
    start, end = data.sessions[50].date(), data.sessions[-1].date()
    result = backtest(targets, data, start, end, Settings(cost_bps=10, slippage_bps=0))
    assert result.equity.index[0].date() == start and len(result.equity) == 270
    assert result.equity.iloc[-1] == pytest.approx(np.prod(1 + result.returns.to_numpy()))
    assert result.weights.iloc[:52, 0].sum() == 0 and result.weights.iloc[52, 0] == 1.0
    assert result.trades["date"].tolist() == [data.sessions[101], data.sessions[201]]
    assert result.trades["turnover"].tolist() == pytest.approx([1.0, 2.0])
    assert result.metrics.trades == 2
    assert list(result.benchmarks) == ["hold_chips", "hold_platforms", "50_50_rebalanced", "BENCH"]
    assert result.benchmark_periods["BENCH"][0] == data.sessions[150].date()
    assert result.benchmark_equity["BENCH"].iloc[:100].isna().all()
    hold = result.benchmark_equity["hold_chips"]
    chips = data.returns["chips"].to_numpy()[50:]
    expected = (1 + chips[0] - 0.001) * np.prod(1 + chips[1:])  # entry cost on the first day
    assert hold.iloc[-1] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("key", ["chips/platforms", "duo/platforms"])
def test_market_shocks_are_the_alerts_shocks(key: str) -> None:
    returns = random_returns(TICKERS, 400, seed=8)
    returns.iloc[300, :7] = [-0.06, -0.05, -0.05, -0.04, 0.05, 0.03, 0.02]
    panel = panel_from_returns(returns)
    pair = WIDE.pair(key)
    ours = market_data(panel, WIDE, pair).shocks
    theirs = compute_signals(panel, WIDE).pair(key).frame[ours.columns]
    pd.testing.assert_frame_equal(ours, theirs)
    if key == "chips/platforms":
        assert ours["eligible"].iloc[300]


def test_the_assets_are_the_cores_baskets() -> None:
    returns = random_returns(TICKERS, 120, seed=4)
    returns.loc[returns.index[:30], "BENCH"] = np.nan
    market = build_market(panel_from_returns(returns), WIDE)
    pair = pair_data(market, WIDE.pair("duo/platforms"))
    assert pair.assets == ("duo", "platforms", "benchmark") and pair.keys == ("duo", "platforms")
    every = basket_data(market)
    assert every.assets == ("chips", "platforms", "duo", "benchmark") and every.pair is None
    for data in (pair, every):
        for key in data.baskets:
            pd.testing.assert_series_equal(data.returns[key], market.baskets[key])
            pd.testing.assert_series_equal(data.levels[key], market.levels[key])
        raw = data.returns["benchmark"]
        pd.testing.assert_series_equal(raw, market.benchmark, check_names=False)
    with pytest.raises(ValueError, match="every basket"):
        _ = every.shocks


def test_a_backtest_of_every_basket_has_its_own_benchmarks() -> None:
    returns = random_returns(TICKERS, 300, seed=6)
    data = basket_data(build_market(panel_from_returns(returns), WIDE))
    targets = pd.DataFrame(0.0, index=data.sessions, columns=list(data.assets))
    targets.iloc[50:, [0, 2]] = 0.5
    start, end = data.sessions[60].date(), data.sessions[-1].date()
    result = backtest(targets, data, start, end, Settings(cost_bps=0, slippage_bps=0))
    assert list(result.benchmarks) == ["equal_weight", "BENCH"]
    mix = data.returns[["chips", "platforms", "duo"]].to_numpy()[60:].mean(axis=1)
    assert result.benchmark_equity["equal_weight"].iloc[-1] == pytest.approx(np.prod(1 + mix))
    assert list(result.weights.columns) == ["chips", "platforms", "duo", "benchmark"]
    with pytest.raises(UsageError, match="needs a pair"):
        backtest(targets, data, start, end, Settings(spread=True))


@pytest.mark.parametrize("every", [False, True])
def test_intraday_and_gap_compound_to_the_close_to_close_return(every: bool) -> None:
    returns = random_returns(TICKERS, 60, seed=9)
    panel = panel_from_returns(returns)
    panel.open.loc[panel.open.index[30:], "C2"] *= 1.01  # opens differ from the closes
    data = basket_data(build_market(panel, WIDE)) if every else market_data(panel, UNIVERSE)
    mv = moves(data, Fill.NEXT_OPEN)
    assert mv.after is not None and mv.before.shape[1] == len(data.assets)
    total = (1 + mv.before) * (1 + mv.after) - 1
    np.testing.assert_allclose(total[2:], data.returns.to_numpy()[2:], atol=1e-12)


def test_start_must_leave_two_sessions() -> None:
    with pytest.raises(UsageError, match="two sessions"):
        simulate(path([1], [1]), close_moves([[0.0], [0.0]]), 1, 2, RATE)


# -- sweeps and walk-forward ----------------------------------------------------------------


def grid_world() -> tuple[Moves, np.ndarray]:
    rng = np.random.default_rng(12)
    returns = rng.normal(0.0004, 0.012, (600, 3))
    targets = np.zeros((600, 7, 3))
    for j in range(7):
        hold = np.sin(np.arange(600) / (8 + 9 * j)) > 0
        targets[:, j, 0], targets[:, j, 1] = hold, ~hold
    return Moves(sessions(600), returns), targets


def codes_of(targets: np.ndarray) -> CodesFor:
    return lambda idx: encode(targets[:, list(idx)])


@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_sweep_equals_one_simulation_per_combination(engine: Engine) -> None:
    mv, targets = grid_world()
    result = sweep(codes_of(targets), 7, mv, (50, 600), Settings(), block=3, engine=engine)
    for j in range(7):
        alone = simulate(targets[:, [j]], mv, 50, 600, Settings().rate).metrics()
        for key, value in alone.items():
            np.testing.assert_allclose(result.metrics[key][j], value[0], rtol=1e-12)
    sharpe = result.metrics["sharpe"]
    assert sharpe[result.order("sharpe")[0]] == np.nanmax(sharpe)


def test_walk_forward_picks_on_training_and_trades_the_test_windows() -> None:
    mv, targets = grid_world()
    settings = Settings()
    windows = fold_windows((50, 600), 200, 100)
    assert windows[0] == ((50, 250), (250, 350)) and windows[-1] == ((350, 550), (550, 600))
    result = sweep(codes_of(targets), 7, mv, (50, 600), settings, windows=walk_windows(windows))
    walk = walk_forward(lambda idx: targets[:, list(idx)], result, mv, windows, settings, "sharpe")
    net = simulate(targets, mv, 50, 600, settings.rate).net
    stitched = np.zeros((600, 1, 3))
    for k, ((lo, hi), _) in enumerate(windows):
        train_sharpe = return_metrics(net[lo - 50 : hi - 50])["sharpe"]
        assert walk.folds[k].best == int(np.argmax(train_sharpe))
        upto = windows[k + 1][0][1] - 1 if k + 1 < len(windows) else 600
        stitched[hi - 1 : upto, 0] = targets[hi - 1 : upto, walk.folds[k].best]
    expected = simulate(stitched, mv, 250, 600, settings.rate)
    np.testing.assert_array_equal(walk.net, expected.net[:, 0])
    span_sharpe = return_metrics(net[200:])["sharpe"]
    assert walk.hindsight_best == int(np.argmax(span_sharpe))
    with pytest.raises(ValueError, match="did not measure"):
        result.best_in((60, 260), "sharpe")


def test_fold_windows_need_room() -> None:
    with pytest.raises(UsageError, match="needs more than"):
        fold_windows((0, 100), 99, 10)


# -- event study ------------------------------------------------------------------------------


def event(day: pd.Timestamp, kind: str, to: str, severity: Severity) -> RotationEvent:
    src = "b" if to == "a" else "a"
    return RotationEvent(day.date(), kind, src, to, severity, 3.0, "test")


def test_forward_spreads_are_measured_from_the_events_close() -> None:
    index = sessions(6)
    levels = pd.DataFrame({"a": [100, 110, 121, 121, 100, 90], "b": [100] * 6}, index=index)
    found = [
        event(index[1], "shock", "a", Severity.ALERT),
        event(index[4], "shock", "b", Severity.INFO),
    ]
    spreads = forward_spreads(found, levels, [1, 2])
    assert spreads[0].tolist() == pytest.approx([0.10, 0.10])
    assert spreads[1, 0] == pytest.approx(0.10)  # a fell 10%: money kept going to b
    assert np.isnan(spreads[1, 1])  # past the end of the data


def test_event_study_groups_by_kind_and_severity() -> None:
    index = sessions(40)
    rng = np.random.default_rng(1)
    a = 100 * np.cumprod(1 + rng.normal(0, 0.01, 40))
    levels = pd.DataFrame({"a": a, "b": 100.0}, index=index)
    found = [event(index[i], "shock", "a", Severity.ALERT) for i in (2, 5, 9, 14)]
    found.append(event(index[20], "regime", "b", Severity.INFO))
    rows = event_study(found, levels, (1, 5))
    keys = [(r.kind, r.severity, r.horizon) for r in rows]
    assert keys[:4] == [
        ("shock", "alert", 1),
        ("shock", "alert", 5),
        ("shock", "all", 1),
        ("shock", "all", 5),
    ]
    first = rows[0]
    moves_after = [a[i + 1] / a[i] - 1 for i in (2, 5, 9, 14)]
    assert first.count == 4 and first.mean == pytest.approx(np.mean(moves_after))
    # Newey-West with h - 1 = 0 lags: the heteroskedasticity-robust t of the mean.
    t = np.mean(moves_after) / (np.std(moves_after, ddof=0) / 2)
    assert first.t_stat == pytest.approx(t)
    assert first.baseline is not None and 0 <= first.baseline.percentile <= 100
    again = event_study(found, levels, (1, 5))[0]
    assert again.baseline == first.baseline  # seeded: the same draws every time
    assert first.hit_rate == pytest.approx(np.mean(np.array(moves_after) > 0))
    regime = [r for r in rows if r.kind == "regime"]
    assert regime[0].count == 1 and regime[0].verdict == "too few"


def test_window_dates_map_to_positions() -> None:
    from bot.backtest.engine import window

    index = sessions(10)
    assert window(index, date(2020, 1, 4), index[5].date()) == (2, 6)  # a Saturday start
