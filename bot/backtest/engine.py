"""The vectorised backtest engine: target weights in, daily equity, trades and metrics out.

Timing. A strategy's target weights for session t are decided at the close of t, from data up
to t. With ``Fill.CLOSE`` (the default) they are traded at the close of t+1, so they earn the
returns from t+2 on; with ``Fill.NEXT_OPEN`` they are traded at the open of t+1 and earn that
session's open-to-close move (at its close instead, on a session lacking an opening price for
a traded asset; the result notes how many). The account opens at the close before the first
session of the window holding what the strategy held then, and pays for that entry on the
first session.

Money. Weights are fractions of equity per asset (``MarketData.assets``: a pair's two baskets
and the benchmark, or every basket and the benchmark); the rest is cash earning nothing.
Long-only weights are >= 0 and sum to at most 1; ``spread=True`` (pairs only) turns a
preference for one basket into long that basket and short the other, 100% each. Positions are
rebalanced to target at every trade time, so drift between trades is traded too (a long/short
spread pays a little every day). Costs, ``(cost_bps + slippage_bps) / 10_000`` times the
turnover ``sum |new weight - drifted weight|``, are subtracted from the session's return.

Every array function works on ``(sessions, paths, assets)`` targets: one path for a backtest,
one per parameter combination for a sweep. No Python loop runs over sessions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

import numpy as np
import pandas as pd

from bot.backtest.market import BENCHMARK, MarketData
from bot.backtest.metrics import Metrics, path_metrics, return_stats
from bot.errors import UsageError

Array = np.ndarray


class Fill(StrEnum):
    CLOSE = "close"
    NEXT_OPEN = "next_open"


@dataclass(frozen=True, slots=True)
class Settings:
    fill: Fill = Fill.CLOSE
    cost_bps: float = 3.0
    slippage_bps: float = 2.0
    spread: bool = False

    @property
    def rate(self) -> float:
        """Cost per unit of turnover (0.0005 = 5 bps)."""
        return (self.cost_bps + self.slippage_bps) / 10_000.0


@dataclass(frozen=True, slots=True)
class Moves:
    """Asset returns split at the trade time, shaped ``(sessions, assets)``, NaN-free.

    ``before`` is earned by the position held before the session's trade (the whole
    close-to-close return with ``Fill.CLOSE``, the gap to the open with ``Fill.NEXT_OPEN``);
    ``after`` by the position after it (None with ``Fill.CLOSE``: the trade is at the close).
    ``missing`` flags where an asset has a close but no open: on such a session the engine
    trades at the close instead (``full`` is the close-to-close return).
    """

    sessions: pd.DatetimeIndex
    before: Array
    after: Array | None = None
    full: Array | None = None
    missing: Array | None = None


def moves(data: MarketData, fill: Fill) -> Moves:
    """Return the asset moves the engine needs for ``fill`` (NaN: no price, so no move)."""
    returns = data.returns.to_numpy()
    if fill is Fill.CLOSE:
        return Moves(data.sessions, np.nan_to_num(returns))
    intraday = data.intraday.to_numpy()
    missing = ~np.isnan(returns) & np.isnan(intraday)
    gap = (1.0 + returns) / (1.0 + intraday) - 1.0
    full = np.nan_to_num(returns)
    return Moves(data.sessions, np.nan_to_num(gap), np.nan_to_num(intraday), full, missing)


@dataclass(frozen=True, slots=True)
class Simulation:
    """Outcome per session and path over a window: arrays shaped ``(sessions, paths)``."""

    net: Array
    gross: Array
    turnover: Array
    exposed: Array  # bool: any position during the session
    trades: Array  # (paths,) periods of constant non-cash target weights
    wins: Array  # (paths,) of those, the ones with a positive compounded return
    at_close: int = 0  # sessions traded at the close for lack of opens (Fill.NEXT_OPEN)

    def metrics(self) -> dict[str, Array]:
        """Return every metric per path (each value shaped ``(paths,)``)."""
        stats = return_stats(np.ascontiguousarray(self.net.T))
        stats["turnover"] = self.turnover.sum(axis=0)
        stats["exposed"] = self.exposed.sum(axis=0).astype("float64")
        stats["trades"], stats["wins"] = self.trades, self.wins
        return path_metrics(stats, len(self.net))


def as_spread(targets: Array) -> Array:
    """Turn long-only basket weights into a long/short spread: +w in one, -w in the other.

    The pair layout only: assets 0 and 1 are the two baskets.
    """
    out = targets.copy()
    net = targets[..., 0] - targets[..., 1]
    out[..., 0], out[..., 1] = net, -net
    return out


def lagged(targets: Array, lag: int, start: int, stop: int) -> Array:
    """Return ``targets[s - lag]`` for s in ``start..stop-1`` (cash before the first row)."""
    out = np.zeros((stop - start, *targets.shape[1:]))
    lo = max(start - lag, 0)
    rows = targets[lo : stop - lag]
    out[len(out) - len(rows) :] = rows
    return out


def simulate(targets: Array, mv: Moves, start: int, stop: int, rate: float) -> Simulation:
    """Run ``targets`` (sessions, paths, assets) over sessions ``start..stop-1``."""
    if stop - start < 2:
        raise UsageError("the backtest window needs at least two sessions")
    live = np.flatnonzero((targets != 0).any(axis=(0, 1)))  # skip never-held assets
    targets = targets[..., live]
    before = lagged(targets, 2, start, stop)
    after = lagged(targets, 1, start, stop)
    move_before, move_after, at_close = _split_moves(mv, live, start, stop)
    pnl_before = _dot(before, move_before)
    with np.errstate(invalid="ignore", divide="ignore"):
        drifted = before * (1.0 + move_before[:, None, :]) / (1.0 + pnl_before)[..., None]
    turnover = _gross(after - drifted)
    entry = _gross(before[0])
    turnover[0] += entry
    if move_after is None:
        pnl_after = np.zeros_like(pnl_before)
        held = before
    else:
        pnl_after = _dot(after, move_after)
        held = after
    gross = (1.0 + pnl_before) * (1.0 + pnl_after) - 1.0
    net = gross - rate * turnover
    trades, wins = _trade_stats(before, after, pnl_before, pnl_after, turnover, entry, rate)
    exposed = _gross(held) > 0
    return Simulation(net, gross, turnover, exposed, trades, wins, at_close)


# numpy reduces a short last axis slowly; the assets are few (a pair and the benchmark, or a
# handful of baskets), so add them up by hand.
def _dot(weights: Array, move: Array) -> Array:
    """Return the portfolio move ``sum_k weights[..., k] * move[:, k]``, shape ``(n, paths)``."""
    out = np.zeros(weights.shape[:-1])
    for k in range(weights.shape[-1]):
        out += weights[..., k] * move[:, k, None]
    return out


def _gross(weights: Array) -> Array:
    """Return ``sum_k |weights[..., k]|``."""
    out = np.zeros(weights.shape[:-1])
    for k in range(weights.shape[-1]):
        out += np.abs(weights[..., k])
    return out


def _split_moves(mv: Moves, live: Array, start: int, stop: int) -> tuple[Array, Array | None, int]:
    """Return the window's moves before and after the trade, and the close-fill fallbacks.

    A session where a traded asset lacks its open is traded at the close instead: the whole
    day's move then belongs to the position before the trade.
    """
    before = mv.before[start:stop, live]
    if mv.after is None:
        return before, None, 0
    assert mv.full is not None and mv.missing is not None  # set together by ``moves``
    after = mv.after[start:stop, live]
    at_close = np.asarray(mv.missing[start:stop, live].any(axis=1))
    if at_close.any():
        before = np.where(at_close[:, None], mv.full[start:stop, live], before)
        after = np.where(at_close[:, None], 0.0, after)
    return before, after, int(at_close.sum())


def _trade_stats(
    before: Array,
    after: Array,
    pnl_before: Array,
    pnl_after: Array,
    turnover: Array,
    entry: Array,
    rate: float,
) -> tuple[Array, Array]:
    """Count trades (periods of constant non-cash targets) and the winning ones, per path.

    A session's move before the trade belongs to the old position; the move after it and the
    trade's cost to the new one; the entry cost at the window start to the opening position.
    """
    n, paths = pnl_before.shape
    changed = np.zeros((n, paths), dtype=bool)
    for k in range(after.shape[-1]):
        changed |= after[..., k] != before[..., k]
    seg_after = np.cumsum(changed, axis=0)
    seg_before = np.vstack([np.zeros((1, paths), dtype=seg_after.dtype), seg_after[:-1]])
    offset = np.arange(paths) * (n + 1)
    size = paths * (n + 1)
    cost = rate * turnover
    cost[0] -= rate * entry
    log_after = np.log1p(pnl_after) + np.log1p(-cost)
    growth = np.bincount((seg_before + offset).ravel(), np.log1p(pnl_before).ravel(), size)
    growth += np.bincount((seg_after + offset).ravel(), log_after.ravel(), size)
    growth[offset] += np.log1p(-rate * entry)
    invested = np.zeros(size, dtype=bool)
    invested[offset] = _gross(before[0]) > 0
    rows, cols = np.nonzero(changed)
    invested[seg_after[rows, cols] + offset[cols]] = _gross(after[rows, cols]) > 0
    invested = invested.reshape(paths, n + 1)
    wins = invested & (growth.reshape(paths, n + 1) > 0)
    return invested.sum(axis=1), wins.sum(axis=1)


def window(sessions: pd.DatetimeIndex, start: date, end: date) -> tuple[int, int]:
    """Return positions ``(first, stop)`` of the sessions from ``start`` to ``end`` inclusive."""
    first = int(sessions.searchsorted(pd.Timestamp(start)))
    stop = int(sessions.searchsorted(pd.Timestamp(end), side="right"))
    return first, stop


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """A backtest over a window of sessions (every frame is indexed by those sessions).

    ``equity`` starts from 1.0 (the capital at the close before the first session) and is
    net of costs, ``returns`` are its daily net returns, ``turnover`` the traded fraction of
    equity per session (costs = turnover x rate). ``weights`` are the positions held during
    each session (after the open with ``Fill.NEXT_OPEN``), one column per asset; ``trades``
    has one row per executed change of target weights, the entry first (columns ``date``,
    ``decided``, one per asset, ``turnover``, ``cost``); ``benchmark_equity`` has one column
    per benchmark, NaN before a benchmark has prices.
    """

    equity: pd.Series
    returns: pd.Series
    turnover: pd.Series
    weights: pd.DataFrame
    trades: pd.DataFrame
    metrics: Metrics
    benchmarks: dict[str, Metrics]
    benchmark_equity: pd.DataFrame
    benchmark_periods: dict[str, tuple[date, date]]
    settings: Settings
    notes: tuple[str, ...] = ()


def backtest(
    targets: pd.DataFrame, data: MarketData, start: date, end: date, settings: Settings
) -> BacktestResult:
    """Backtest target weights (index sessions, columns ``data.assets``) from start to end."""
    if list(targets.columns) != list(data.assets) or not targets.index.equals(data.sessions):
        raise ValueError("targets must have the sessions of the data and its assets as columns")
    if settings.spread and data.pair is None:
        raise UsageError("a long/short spread needs a pair; these data trade every basket")
    first, stop = window(data.sessions, start, end)
    path = targets.to_numpy(dtype="float64")[:, None, :]
    if settings.spread:
        path = as_spread(path)
    sim = simulate(path, moves(data, settings.fill), first, stop, settings.rate)
    index = data.sessions[first:stop]
    lag = 1 if settings.fill is Fill.NEXT_OPEN else 2
    held = lagged(path, lag, first, stop)[:, 0, :]
    bench_metrics, bench_equity, periods = benchmarks(data, first, stop, settings.rate)
    return BacktestResult(
        equity=pd.Series(np.cumprod(1.0 + sim.net[:, 0]), index=index, name="equity"),
        returns=pd.Series(sim.net[:, 0], index=index, name="return"),
        turnover=pd.Series(sim.turnover[:, 0], index=index, name="turnover"),
        weights=pd.DataFrame(held, index=index, columns=list(data.assets)),
        trades=_trades(path, sim, data, first, stop, settings),
        metrics=Metrics.from_columns(sim.metrics()),
        benchmarks=bench_metrics,
        benchmark_equity=bench_equity,
        benchmark_periods=periods,
        settings=settings,
        notes=_notes(sim, data, first, stop),
    )


def _notes(sim: Simulation, data: MarketData, first: int, stop: int) -> tuple[str, ...]:
    notes = []
    if sim.at_close:
        notes.append(
            f"{sim.at_close} of {stop - first} sessions lack an opening price for a traded "
            "asset and were traded at the close instead"
        )
    return tuple(notes)


def _trades(
    path: Array, sim: Simulation, data: MarketData, first: int, stop: int, settings: Settings
) -> pd.DataFrame:
    """List the entry and every executed change of target weights, oldest first."""
    after = lagged(path, 1, first, stop)[:, 0, :]
    before = lagged(path, 2, first, stop)[:, 0, :]
    rows = np.flatnonzero((after != before).any(axis=1))
    turnover = sim.turnover[:, 0].copy()
    entry = float(np.abs(before[0]).sum())
    turnover[0] -= entry
    # The entry is bought at the close before the window: the decision of two sessions back.
    decided = first + rows - 1
    weights = after[rows]
    if entry:
        rows, decided = np.r_[0, rows], np.r_[max(first - 2, 0), decided]
        weights = np.vstack([before[:1], weights])
        turnover = np.r_[entry, turnover[rows[1:]]]
    else:
        turnover = turnover[rows]
    frame = pd.DataFrame(weights, columns=list(data.assets))
    frame.insert(0, "decided", data.sessions[decided])
    frame.insert(0, "date", data.sessions[first + rows])
    frame["turnover"] = turnover
    frame["cost"] = turnover * settings.rate
    return frame


Group = tuple[list[str], list[int], Array]
"""Benchmarks simulated together: names, the assets they need prices of, weights per name."""


def benchmark_groups(data: MarketData) -> list[Group]:
    """A pair: hold each basket and 50/50 rebalanced daily; every basket: their equal-weight
    mix rebalanced daily. Then the benchmark ticker alone."""
    eye = np.eye(len(data.assets))
    n = len(data.baskets)
    if data.pair is not None:
        a, b = data.keys
        names = [f"hold_{a}", f"hold_{b}", "50_50_rebalanced"]
        first: Group = (names, [0, 1], np.array([eye[0], eye[1], (eye[0] + eye[1]) / 2]))
    else:
        first = (["equal_weight"], list(range(n)), eye[:n].mean(axis=0, keepdims=True))
    return [first, ([data.universe.benchmark.ticker], [n], eye[[n]])]


def benchmarks(
    data: MarketData, first: int, stop: int, rate: float
) -> tuple[dict[str, Metrics], pd.DataFrame, dict[str, tuple[date, date]]]:
    """Run the benchmarks of ``benchmark_groups`` through the same engine and costs.

    Each is held from the close before the window (or before the first session in the window
    on which its assets all have prices, when that comes later; a benchmark without two such
    sessions in the window is left out).
    """
    groups = benchmark_groups(data)
    names = [name for group, _, _ in groups for name in group]
    known = ~np.isnan(data.returns.to_numpy()[first:stop])
    mv = moves(data, Fill.CLOSE)
    curves = np.full((stop - first, len(names)), np.nan)
    metrics: dict[str, Metrics] = {}
    periods: dict[str, tuple[date, date]] = {}
    column = 0
    for group, needs, weights in groups:
        available = known[:, needs].all(axis=1)
        if available.sum() >= 2:
            lo = first + int(np.argmax(available))
            path = np.broadcast_to(weights, (stop, *weights.shape))
            sim = simulate(path, mv, lo, stop, rate)
            columns = sim.metrics()
            curves[lo - first :, column : column + len(group)] = np.cumprod(1.0 + sim.net, axis=0)
            for i, name in enumerate(group):
                metrics[name] = Metrics.from_columns(columns, i)
                periods[name] = (data.sessions[lo].date(), data.sessions[stop - 1].date())
        column += len(group)
    frame = pd.DataFrame(curves, index=data.sessions[first:stop], columns=names)
    return metrics, frame[list(metrics)], periods


__all__ = ["BENCHMARK", "BacktestResult", "Fill", "Settings", "backtest", "simulate"]
