"""Turn engine readings into events with drivers and one-line summaries in plain words."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bot.core.models import Driver, Evidence, RotationEvent, Severity

if TYPE_CHECKING:
    from bot.core.signals import Signals

Row = dict[str, Any]
"""One session of a frame as plain values (see ``row_at``)."""

CALM_SHARE = 0.25  # benchmark move under a quarter of the spread: "calm surface"
DRIVER_WINDOW = 20  # sessions behind the drivers of a regime turn


def row_at(frame: pd.DataFrame, ts: pd.Timestamp) -> Row:
    """Return the session ``ts`` of ``frame`` as a dict of column -> value."""
    return {str(k): v for k, v in frame.loc[ts].items()}


def pct(value: float) -> str:
    return f"{value * 100:+.1f}%"


def short_name(signals: Signals, key: str) -> str:
    """Return a basket's name without its parenthesis: "Chips (shovel sellers)" -> "Chips"."""
    name = signals.config.basket(key).name
    return name.split(" (")[0].strip() or key


def drivers(signals: Signals, moves: pd.Series, from_key: str, to_key: str) -> tuple[Driver, ...]:
    """Return the members that moved most: the worst of ``from_key``, the best of ``to_key``."""
    n = signals.config.signals.driver_count
    out: list[Driver] = []
    for key, worst in ((from_key, True), (to_key, False)):
        member = moves[list(signals.config.basket(key).tickers)].dropna()
        ranked = member.sort_values(ascending=worst).head(n)
        out += [Driver(str(t), key, float(v)) for t, v in ranked.items()]
    return tuple(out)


def _named(ds: tuple[Driver, ...], key: str) -> str:
    return ", ".join(f"{d.ticker} {pct(d.move)}" for d in ds if d.basket == key)


def _largest_since(signals: Signals, ts: pd.Timestamp) -> str | None:
    """Return the last session before ``ts`` with a spread at least as wide, or None."""
    spread = signals.frame["spread"].abs()
    before = spread.loc[: ts - pd.Timedelta(days=1)]
    wider = before[before >= spread.loc[ts]]
    return None if wider.empty else pd.Timestamp(str(wider.index[-1])).date().isoformat()


def shock_event(signals: Signals, ts: pd.Timestamp, row: Row, severity: Severity) -> RotationEvent:
    a, b = signals.keys
    spread = float(row["spread"])
    src, dst = (a, b) if spread < 0 else (b, a)
    ds = drivers(signals, pd.Series(row_at(signals.returns, ts)), src, dst)
    evidence: Evidence = {
        k: float(row[k])
        for k in (
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
    }
    evidence |= {f"return_{a}": float(row[f"ret_{a}"]), f"return_{b}": float(row[f"ret_{b}"])}
    evidence |= {"return_benchmark": float(row["benchmark"])}
    evidence["largest_since"] = _largest_since(signals, ts)
    calm = float(row["benchmark_share"]) < CALM_SHARE and severity != Severity.INFO
    prefix = (
        "Calm surface, violent rotation"
        if calm
        else (f"Rotation out of {short_name(signals, src)} into {short_name(signals, dst)}")
    )
    summary = (
        f"{prefix}: {signals.config.benchmark.name} {pct(float(row['benchmark']))} while "
        f"{short_name(signals, src)} {pct(float(row[f'ret_{src}']))} ({_named(ds, src)}) and "
        f"{short_name(signals, dst)} {pct(float(row[f'ret_{dst}']))} ({_named(ds, dst)})"
    )
    return RotationEvent(
        ts.date(), "shock", src, dst, severity, float(row["score"]), summary, ds, evidence
    )


def _recent_moves(signals: Signals, ts: pd.Timestamp) -> pd.Series:
    window = signals.returns.loc[:ts].tail(DRIVER_WINDOW)
    return (1.0 + window.fillna(0.0)).prod() - 1.0


def ma_cross_event(signals: Signals, ts: pd.Timestamp) -> RotationEvent:
    a, b = signals.keys
    row = row_at(signals.frame, ts)
    p = signals.config.signals
    dst, src = (a, b) if int(row["regime"]) > 0 else (b, a)
    side = "above" if dst == a else "below"
    ds = drivers(signals, _recent_moves(signals, ts), src, dst)
    trend = float(row["trend"])
    summary = (
        f"Regime turn toward {short_name(signals, dst)}: the {short_name(signals, a)}/"
        f"{short_name(signals, b)} ratio closed more than {p.regime_band:.1%} {side} its "
        f"{p.ma_long}-day average for {p.regime_confirm} sessions ({pct(trend)} vs the average); "
        f"{DRIVER_WINDOW}-day leaders {_named(ds, dst)}, laggards {_named(ds, src)}"
    )
    evidence: Evidence = {
        "trigger": "ma_cross",
        "ratio": float(row["ratio"]),
        "ma_long": float(row["ma_long"]),
        "trend": trend,
        "band": p.regime_band,
        "confirm_sessions": float(p.regime_confirm),
    }
    score = abs(trend) / p.regime_band
    return RotationEvent(
        ts.date(), "regime", src, dst, Severity.ALERT, score, summary, ds, evidence
    )


def quadrant_event(signals: Signals, ts: pd.Timestamp, before: str) -> RotationEvent:
    a, b = signals.keys
    row = row_at(signals.frame, ts)
    after = str(row["quadrant"])
    dst, src = (a, b) if after == "Leading" else (b, a)
    rsr, rsm = float(row["rs_ratio"]), float(row["rs_momentum"])
    ds = drivers(signals, _recent_moves(signals, ts), src, dst)
    summary = (
        f"RRG turn: {short_name(signals, a)} vs {short_name(signals, b)} moved from {before} "
        f"to {after} (RS-Ratio {rsr:.1f}, RS-Momentum {rsm:.1f}): "
        f"{short_name(signals, dst)} taking the lead"
    )
    evidence: Evidence = {
        "trigger": "rrg_quadrant",
        "from_quadrant": before,
        "to_quadrant": after,
        "rs_ratio": rsr,
        "rs_momentum": rsm,
    }
    score = float(np.hypot(rsr - 100.0, rsm - 100.0))
    return RotationEvent(ts.date(), "regime", src, dst, Severity.INFO, score, summary, ds, evidence)


def notes(signals: Signals, ts: pd.Timestamp, row: Row) -> tuple[str, ...]:
    """Return plain-words notes on a session that moved a lot without being a rotation."""
    p = signals.config.signals
    if bool(row["eligible"]) or not float(row["z"]) >= p.shock_info:
        return ()
    a, b = signals.keys
    moves = (
        f"{signals.config.benchmark.name} {pct(float(row['benchmark']))}, "
        f"{short_name(signals, a)} {pct(float(row[f'ret_{a}']))}, "
        f"{short_name(signals, b)} {pct(float(row[f'ret_{b}']))}"
    )
    if float(row["benchmark_share"]) > p.max_benchmark_share:
        return (f"Broad move, not a rotation: {moves}",)
    members = pd.Series(row_at(signals.returns, ts))[list(signals.config.basket_tickers)]
    top = str(members.abs().idxmax())
    move = float(members[top])
    return (f"Narrow move, not a rotation: {top} {pct(move)} did most of it ({moves})",)
