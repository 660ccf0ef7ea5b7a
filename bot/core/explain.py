"""Put decided rotations into words: drivers, evidence and a one-line summary.

Nothing here decides whether a session is a rotation (``bot.core.rotation`` does); this
module only describes a ``Decision`` of one pair as a ``RotationEvent``.

A ten-year replay of many pairs describes a thousand events, so the pair's frame and the
member returns are read once into plain arrays (``Context``) rather than through pandas
indexing per event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from bot.core.models import Driver, Evidence, RotationEvent, Severity

if TYPE_CHECKING:
    from bot.core.rotation import Decision
    from bot.core.signals import PairSignals

CALM_SHARE = 0.25  # benchmark move under a quarter of the spread: "calm surface"
DRIVER_WINDOW = 20  # sessions behind the drivers of a regime turn
SHOCK_EVIDENCE = (
    "spread",
    "z",
    "z_short",
    "z_long",
    "sigma_short",
    "sigma_long",
    "breadth",
    "benchmark_share",
    "dispersion_share",
    "opposite",
)


def pct(value: float | None, spec: str = "+.1f") -> str:
    """Return a fraction as a signed percentage: 0.0123 -> "+1.2%" ("n/a" for None)."""
    return "n/a" if value is None else f"{value * 100:{spec}}%"


@dataclass(frozen=True, slots=True)
class Context:
    """One pair's readings as arrays: what describing its events needs, read once."""

    ps: PairSignals
    sessions: pd.DatetimeIndex
    frame: dict[str, np.ndarray]
    member: np.ndarray  # (sessions, tickers) member returns
    column: dict[str, int]  # ticker -> column of ``member``

    @classmethod
    def of(cls, ps: PairSignals) -> Context:
        frame = {str(c): ps.frame[c].to_numpy() for c in ps.frame.columns}
        member = ps.returns.to_numpy(dtype="float64")
        column = {str(t): i for i, t in enumerate(ps.returns.columns)}
        return cls(ps, pd.DatetimeIndex(ps.frame.index), frame, member, column)

    def at(self, ts: pd.Timestamp) -> int:
        """Return the position of session ``ts`` (KeyError when it is not a session)."""
        i = int(self.sessions.searchsorted(ts))
        if i >= len(self.sessions) or self.sessions[i] != ts:
            raise KeyError(ts)
        return i

    def value(self, name: str, i: int) -> float:
        return float(self.frame[name][i])

    def name(self, key: str) -> str:
        """A basket's name without its parenthesis: "Chips (shovel sellers)" -> "Chips"."""
        return self.ps.basket(key).short_name


def describe(ps: PairSignals, decision: Decision, ctx: Context | None = None) -> RotationEvent:
    """Return the event of a decided rotation of ``ps``'s pair, in words."""
    ctx = ctx or Context.of(ps)
    i = ctx.at(pd.Timestamp(decision.date))
    if decision.trigger == "shock":
        return _shock_event(ctx, i, decision)
    if decision.trigger == "ma_cross":
        return _ma_cross_event(ctx, i, decision)
    return _quadrant_event(ctx, i, decision)


def drivers(ctx: Context, moves: np.ndarray, from_key: str, to_key: str) -> tuple[Driver, ...]:
    """Return the members that moved most: the worst of ``from_key``, the best of ``to_key``.

    Ties keep the order pandas' ``Series.sort_values`` gives, so summaries stay stable.
    """
    n = ctx.ps.params.driver_count
    out: list[Driver] = []
    for key, worst in ((from_key, True), (to_key, False)):
        tickers = [t for t in ctx.ps.basket(key).tickers if not np.isnan(moves[ctx.column[t]])]
        values = np.array([moves[ctx.column[t]] for t in tickers], dtype="float64")
        order = _sort_order(values, ascending=worst)[:n]
        out += [Driver(tickers[j], key, float(values[j])) for j in order]
    return tuple(out)


def _sort_order(values: np.ndarray, ascending: bool) -> np.ndarray:
    """Return the argsort pandas uses for a NaN-free ``Series.sort_values`` (quicksort)."""
    if ascending:
        return values.argsort(kind="quicksort")
    idx = np.arange(len(values))[::-1]
    return idx[values[::-1].argsort(kind="quicksort")][::-1]


def _named(ds: tuple[Driver, ...], key: str) -> str:
    return ", ".join(f"{d.ticker} {pct(d.move)}" for d in ds if d.basket == key)


def _largest_since(ctx: Context, i: int) -> str | None:
    """Return the last session before ``i`` with a spread at least as wide, or None."""
    spread = np.abs(ctx.frame["spread"].astype("float64"))
    wider = np.flatnonzero(spread[:i] >= spread[i])
    return None if len(wider) == 0 else ctx.sessions[wider[-1]].date().isoformat()


def _history_from(ctx: Context) -> str | None:
    """The first session with a spread: "on record" means since then, and says so."""
    known = np.flatnonzero(np.isfinite(ctx.frame["spread"].astype("float64")))
    return None if len(known) == 0 else ctx.sessions[known[0]].date().isoformat()


def why_not(ctx: Context, ts: pd.Timestamp) -> tuple[float | None, str | None]:
    """Return the session's shock score and, when it is no shock, the rule that stopped it."""
    from bot.core.rotation import stopped_by

    ps = ctx.ps
    i = ctx.at(ts)
    p = ps.params
    score, breadth = ctx.value("score", i), ctx.value("breadth", i)
    share = ctx.value("benchmark_share", i)
    rule = stopped_by(score, breadth, share, p)
    words = {
        None: None,
        "history": "not enough history yet",
        "score": f"score {score:.2f} < {p.shock_info:g}",
        "breadth": f"breadth {breadth:.0%} < {p.min_breadth:.0%}",
        "benchmark": (
            f"the {ps.universe.benchmark.name} moved as much as the spread "
            f"({share:.0%} of it, limit {p.max_benchmark_share:.0%})"
        ),
    }[rule]
    return (score if np.isfinite(score) else None), words


def _event(decision: Decision, summary: str, ds: tuple[Driver, ...], ev: Evidence) -> RotationEvent:
    d = decision
    if d.reverses is not None:
        summary += f"; reverses the {d.reverses:%m-%d} move"
    return RotationEvent(
        d.date, d.kind, d.from_key, d.to_key, d.severity, d.score, summary, ds, ev, d.pair.key,
        d.reverses,
    )  # fmt: skip


def _shock_event(ctx: Context, i: int, decision: Decision) -> RotationEvent:
    a, b = ctx.ps.keys
    src, dst = decision.from_key, decision.to_key
    ds = drivers(ctx, ctx.member[i], src, dst)
    evidence: Evidence = {k: ctx.value(k, i) for k in SHOCK_EVIDENCE}
    evidence |= {f"return_{a}": ctx.value(f"ret_{a}", i), f"return_{b}": ctx.value(f"ret_{b}", i)}
    evidence |= {"return_benchmark": ctx.value("benchmark", i)}
    evidence["largest_since"] = _largest_since(ctx, i)
    evidence["history_from"] = _history_from(ctx)
    calm = ctx.value("benchmark_share", i) < CALM_SHARE and decision.severity != Severity.INFO
    prefix = (
        "Calm surface, violent rotation"
        if calm
        else f"Rotation out of {ctx.name(src)} into {ctx.name(dst)}"
    )
    summary = (
        f"{prefix}: {ctx.ps.universe.benchmark.name} {pct(ctx.value('benchmark', i))} while "
        f"{ctx.name(src)} {pct(ctx.value(f'ret_{src}', i))} ({_named(ds, src)}) and "
        f"{ctx.name(dst)} {pct(ctx.value(f'ret_{dst}', i))} ({_named(ds, dst)})"
    )
    return _event(decision, summary, ds, evidence)


def _recent_moves(ctx: Context, i: int) -> np.ndarray:
    """Each member's compounded return over the ``DRIVER_WINDOW`` sessions ending at ``i``."""
    window = ctx.member[max(0, i + 1 - DRIVER_WINDOW) : i + 1]
    moves: np.ndarray = np.prod(1.0 + np.nan_to_num(window, nan=0.0), axis=0) - 1.0
    return moves


def _ma_cross_event(ctx: Context, i: int, decision: Decision) -> RotationEvent:
    a, b = ctx.ps.keys
    p = ctx.ps.params
    src, dst = decision.from_key, decision.to_key
    side = "above" if dst == a else "below"
    ds = drivers(ctx, _recent_moves(ctx, i), src, dst)
    trend = ctx.value("trend", i)
    summary = (
        f"Regime turn toward {ctx.name(dst)}: the {ctx.name(a)}/{ctx.name(b)} ratio closed "
        f"more than {ctx.value('regime_band', i):.1%} {side} its {p.ma_long}-day average for "
        f"{p.regime_confirm} sessions ({pct(trend)} vs the average); "
        f"{DRIVER_WINDOW}-day leaders {_named(ds, dst)}, laggards {_named(ds, src)}"
    )
    evidence: Evidence = {
        "trigger": "ma_cross",
        "ratio": ctx.value("ratio", i),
        "ma_long": ctx.value("ma_long", i),
        "trend": trend,
        "band": ctx.value("regime_band", i),
        "confirm_sessions": float(p.regime_confirm),
    }
    return _event(decision, summary, ds, evidence)


def _quadrant_event(ctx: Context, i: int, decision: Decision) -> RotationEvent:
    a, b = ctx.ps.keys
    before, after = decision.before or "", str(ctx.frame["quadrant"][i])
    src, dst = decision.from_key, decision.to_key
    rsr, rsm = ctx.value("rs_ratio", i), ctx.value("rs_momentum", i)
    ds = drivers(ctx, _recent_moves(ctx, i), src, dst)
    summary = (
        f"RRG turn: {ctx.name(a)} vs {ctx.name(b)} moved from {before} "
        f"to {after} (RS-Ratio {rsr:.1f}, RS-Momentum {rsm:.1f}): "
        f"relative momentum turning toward {ctx.name(dst)}"
    )
    evidence: Evidence = {
        "trigger": "rrg_quadrant",
        "from_quadrant": before,
        "to_quadrant": after,
        "rs_ratio": rsr,
        "rs_momentum": rsm,
    }
    return _event(decision, summary, ds, evidence)


def notes(ctx: Context, ts: pd.Timestamp) -> tuple[str, ...]:
    """Return plain-words notes on a session that moved a lot without being a rotation."""
    ps = ctx.ps
    i = ctx.at(ts)
    p = ps.params
    if bool(ctx.frame["eligible"][i]) or not ctx.value("z", i) >= p.shock_info:
        return ()
    a, b = ps.keys
    moves = (
        f"{ps.universe.benchmark.name} {pct(ctx.value('benchmark', i))}, "
        f"{ctx.name(a)} {pct(ctx.value(f'ret_{a}', i))}, "
        f"{ctx.name(b)} {pct(ctx.value(f'ret_{b}', i))}"
    )
    if ctx.value("benchmark_share", i) > p.max_benchmark_share:
        return (f"Broad move, not a rotation: {moves}",)
    members = pd.Series({t: ctx.member[i, ctx.column[t]] for t in ps.tickers})
    top = str(members.abs().idxmax())
    return (
        f"Narrow move, not a rotation: {top} {pct(float(members[top]))} did most of it ({moves})",
    )
