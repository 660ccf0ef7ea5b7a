"""Performance metrics of daily return series, vectorised over many series at once.

Pure numpy. ``return_metrics`` takes simple daily returns shaped ``(sessions,)`` or
``(sessions, series)`` and reduces over axis 0, so a 1,000-combination sweep is scored in one
call. Conventions follow empyrical (and so pyfolio and zipline): 252 sessions a year, no
risk-free rate (cash earns nothing in the engine), sample standard deviation (ddof=1), the
drawdown measured from the starting capital too, and Sortino's downside deviation taken over
every session (returns above 0 count as 0). A test checks them against empyrical-reloaded.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

PERIODS = 252
"""Sessions per year, for annualising."""

Array = np.ndarray


def downside_risk(returns: Array) -> Array:
    """Annualised root mean square of the returns below 0 (0 for the others), over axis 0."""
    return _downside_risk(_by_series(returns))


def drawdowns(returns: Array) -> Array:
    """Return equity / running peak - 1 per session (0 at a new high); the peak starts at 1."""
    out: Array = _drawdowns(_by_series(returns)).T
    return out


def longest_run(flags: Array) -> Array:
    """Return, per column, the length of the longest run of True along axis 0."""
    return _longest_run(_by_series(flags))


def return_metrics(returns: Array) -> dict[str, Array]:
    """Return every return-based metric of ``returns`` (NaN-free), keyed by name.

    ``cagr`` counts years as sessions / 252; ``max_drawdown`` is the deepest fall below a
    running peak that starts at the initial capital (negative, 0 if none);
    ``max_drawdown_duration`` the longest run of sessions below such a peak; ``calmar`` is
    CAGR over the drawdown's size. Undefined ratios (a flat series) are NaN.
    """
    series = _by_series(returns)
    return finish_returns(return_stats(series), series.shape[-1])


RETURN_STATS = ("mean", "std", "risk", "growth", "max_drawdown", "max_drawdown_duration")
"""What every return metric is derived from: ``return_stats`` computes them with numpy, the
sweep's compiled loop (``bot.backtest.kernels``) with the same operations in the same order."""


PATH_STATS = (*RETURN_STATS, "turnover", "exposed", "trades", "wins")
"""What every metric of a simulated path is derived from (``path_metrics``); the sweep
engines return them as columns in this order."""


NEEDS = {
    "sharpe": ("mean", "std"),
    "sortino": ("mean", "risk"),
    "cagr": ("growth",),
    "total_return": ("growth",),
    "max_drawdown": ("max_drawdown",),
    "calmar": ("growth", "max_drawdown"),
}
"""The statistics each rankable metric is derived from (``finish_returns``)."""


def return_stats(series: Array, needed: Collection[str] = RETURN_STATS) -> dict[str, Array]:
    """Return the ``RETURN_STATS`` of each row of ``series`` (sessions on the last axis).

    Only those ``needed`` are computed (the others are NaN): ranking a sweep by one metric
    needs a fraction of the work.
    """
    out = {name: np.full(series.shape[:-1], np.nan) for name in RETURN_STATS}
    if "mean" in needed:
        out["mean"] = np.mean(series, axis=-1)
    if "std" in needed:
        out["std"] = np.std(series, axis=-1, ddof=1)
    if "risk" in needed:
        out["risk"] = _downside_risk(series)
    if "growth" in needed:
        out["growth"] = np.prod(1.0 + series, axis=-1)
    if "max_drawdown" in needed or "max_drawdown_duration" in needed:
        dd = _drawdowns(series)
        out["max_drawdown"] = np.minimum(np.min(dd, axis=-1), 0.0)
        if "max_drawdown_duration" in needed:
            out["max_drawdown_duration"] = _longest_run(dd < 0.0)
    return out


def finish_returns(stats: Mapping[str, Array], sessions: int) -> dict[str, Array]:
    """Derive the return metrics from ``return_stats`` over ``sessions`` sessions."""
    years = sessions / PERIODS
    mean, std, risk, mdd = stats["mean"], stats["std"], stats["risk"], stats["max_drawdown"]
    growth = stats["growth"]
    with np.errstate(invalid="ignore", divide="ignore"):
        annual = growth ** (1.0 / years) - 1.0
        return {
            "total_return": growth - 1.0,
            "cagr": annual,
            "volatility": std * np.sqrt(PERIODS),
            "sharpe": np.where(std > 0, mean / std, np.nan) * np.sqrt(PERIODS),
            "sortino": np.where(risk > 0, mean * PERIODS / risk, np.nan),
            "max_drawdown": mdd,
            "max_drawdown_duration": _counts(stats["max_drawdown_duration"]),
            "calmar": np.where(mdd < 0, annual / -mdd, np.nan),
        }


def path_metrics(stats: Mapping[str, Array], sessions: int) -> dict[str, Array]:
    """Return every metric of a simulated path from its statistics over ``sessions``.

    ``stats`` holds the ``RETURN_STATS`` of the net returns, and ``turnover`` (summed over the
    sessions), ``exposed`` (sessions with a position), ``trades`` and ``wins`` (see
    ``bot.backtest.engine.Simulation``), each shaped ``(paths,)``.
    """
    out = finish_returns(stats, sessions)
    out["turnover"] = stats["turnover"] / (sessions / PERIODS)
    out["exposure"] = stats["exposed"] / sessions
    trades = np.asarray(stats["trades"])
    out["trades"] = _counts(trades)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["win_rate"] = np.where(trades > 0, stats["wins"] / trades, np.nan)
    return out


def _counts(values: Array) -> Array:
    """Whole numbers as int64, unless some were not computed (NaN): then float64 as given."""
    values = np.asarray(values)
    return values if np.isnan(values).any() else values.astype("int64")


# The helpers below work along the last axis of one contiguous row per series: reducing a
# (sessions, few series) array down its columns strides through memory and is several times
# slower.


def _by_series(values: Array) -> Array:
    """Return ``values`` with sessions on the last axis, rows contiguous."""
    return np.ascontiguousarray(values.T)


def _downside_risk(series: Array) -> Array:
    below = np.minimum(series, 0.0)
    risk: Array = np.sqrt(np.mean(below * below, axis=-1)) * np.sqrt(PERIODS)
    return risk


def _drawdowns(series: Array) -> Array:
    equity = np.cumprod(1.0 + series, axis=-1)
    peak = np.maximum(np.maximum.accumulate(equity, axis=-1), 1.0)
    dd: Array = equity / peak - 1.0
    return dd


def _longest_run(flags: Array) -> Array:
    idx = np.arange(flags.shape[-1])
    last_false = np.maximum.accumulate(np.where(flags, -1, idx), axis=-1)
    run = np.where(flags, idx - last_false, 0)
    out: Array = run.max(axis=-1, initial=0)
    return out


@dataclass(frozen=True, slots=True)
class Metrics:
    """The figures of one backtest (fractions: 0.12 = 12%; ratios are annualised).

    ``max_drawdown`` is negative; ``max_drawdown_duration`` counts sessions spent below a
    previous peak; ``turnover`` is the yearly sum of absolute weight changes (1.0 = the whole
    capital traded once a year; a full switch between baskets is 2.0); ``exposure`` is the
    share of sessions with a position; ``trades`` counts periods of constant non-cash target
    weights, and ``win_rate`` the share of them whose compounded return, entry cost
    included, was positive (NaN without trades).
    """

    total_return: float
    cagr: float
    volatility: float
    sharpe: float
    sortino: float
    max_drawdown: float
    max_drawdown_duration: int
    calmar: float
    turnover: float
    exposure: float
    trades: int
    win_rate: float

    @classmethod
    def from_columns(cls, columns: Mapping[str, Array], i: int = 0) -> Metrics:
        """Pick series ``i`` of column-wise results (each value shaped ``(series,)``)."""
        counts = ("max_drawdown_duration", "trades")
        values: dict[str, Any] = {}
        for f in fields(cls):
            value = np.atleast_1d(columns[f.name])[i]
            values[f.name] = int(value) if f.name in counts else float(value)
        return cls(**values)

    @classmethod
    def json_rows(
        cls, columns: Mapping[str, Array], order: Array
    ) -> list[dict[str, float | int | None]]:
        """Return ``to_json`` of every series in ``order``, column by column (a sweep has
        thousands of them: one object each would cost more than the sweep)."""
        counts = ("max_drawdown_duration", "trades")
        out: dict[str, list[float | int | None]] = {}
        for f in fields(cls):
            values = np.asarray(columns[f.name])[order]
            if f.name in counts:
                out[f.name] = [None if v != v else int(v) for v in values.tolist()]
            else:
                out[f.name] = [None if v != v else round(v, 8) for v in values.tolist()]
        return [dict(zip(out, row, strict=True)) for row in zip(*out.values(), strict=True)]

    def to_json(self) -> dict[str, float | int | None]:
        """Return plain values; NaN (undefined, e.g. Sharpe of a flat line) becomes None."""
        out: dict[str, float | int | None] = {}
        for key, value in asdict(self).items():
            if isinstance(value, float):
                out[key] = None if np.isnan(value) else round(value, 8)
            else:
                out[key] = value
        return out
