"""Where a rotation is decided: shock and regime rotations of one pair of baskets.

Everything that turns readings into a yes or no lives here, and nothing else does: the
shock gates and severities, the regime state with its band and confirming closes, and the
confirmed RRG quadrant turns. ``bot.core.signals`` measures, this module decides,
``bot.core.explain`` puts a decision into words.

Shock rotation (evidence from ``bot.core.shock``): the session passes the breadth gate (most
members of each basket on their side of the midpoint) and the calm-benchmark gate (a market
moving as much as the spread is a broad move), and its score reaches ``shock_info``;
``shock_alert`` and ``shock_severe`` grade it.

Regime rotation: the ratio closing beyond its long moving average by ``regime_band`` for
``regime_confirm`` sessions in a row turns the regime (``alert``); an RRG quadrant turn from
Improving to Leading or Weakening to Lagging that has held ``regime_confirm`` sessions is an
``info`` event.

Every decision on session t reads columns whose row t uses data up to t only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from bot.core.models import Quadrant, Severity
from bot.core.params import DetectorParams, Pair

SHOCK = "shock"
REGIME = "regime"


@dataclass(frozen=True, slots=True)
class Decision:
    """A rotation of ``pair`` on ``date``: money moved from ``from_key`` to ``to_key``.

    ``trigger`` says which rule fired: ``shock``, ``ma_cross`` or ``rrg_quadrant``;
    ``before`` is the quadrant left behind by an RRG turn.
    """

    date: date
    pair: Pair
    kind: str
    trigger: str
    from_key: str
    to_key: str
    severity: Severity
    score: float
    before: str | None = None


def severity_for(score: float, params: DetectorParams) -> Severity | None:
    """Grade a shock score; None below ``shock_info``."""
    if score >= params.shock_severe:
        return Severity.SEVERE
    if score >= params.shock_alert:
        return Severity.ALERT
    if score >= params.shock_info:
        return Severity.INFO
    return None


def shock_eligible(evidence: pd.DataFrame, params: DetectorParams) -> pd.Series:
    """Return per session whether the shock gates pass (a score exists, breadth, calm market)."""
    return (
        evidence["score"].notna()
        & (evidence["breadth"] >= params.min_breadth)
        & (evidence["benchmark_share"].fillna(0.0) <= params.max_benchmark_share)
    )


def regime_states(ratio: pd.Series, ma_long: pd.Series, band: float, confirm: int) -> pd.Series:
    """Return +1 (numerator leads), -1 (denominator leads) or 0 per session, with hysteresis.

    The state turns to +1 after ``confirm`` consecutive closes above ``ma_long * (1 + band)``
    and to -1 after ``confirm`` closes below ``ma_long * (1 - band)``; otherwise it holds.
    """
    above = (ratio > ma_long * (1.0 + band)).to_numpy()
    below = (ratio < ma_long * (1.0 - band)).to_numpy()
    signal = np.where(
        _run_length(above) >= confirm, 1.0, np.where(_run_length(below) >= confirm, -1.0, np.nan)
    )
    state = pd.Series(signal, index=ratio.index).ffill().fillna(0.0)
    return state.astype("int64")


def _run_length(flags: np.ndarray) -> np.ndarray:
    """Return, per position, how many consecutive True values end there."""
    out = np.zeros(len(flags), dtype="int64")
    run = 0
    for i, flag in enumerate(flags):
        run = run + 1 if flag else 0
        out[i] = run
    return out


def confirmed_quadrant(quadrant: pd.Series, confirm: int) -> pd.Series:
    """Return the quadrant that has held for ``confirm`` sessions, carried until the next one."""
    values = quadrant.to_numpy()
    same = np.ones(len(values), dtype="int64")
    for i in range(1, len(values)):
        if values[i] is not None and values[i] == values[i - 1]:
            same[i] = same[i - 1] + 1
    held = pd.Series(values, index=quadrant.index, dtype=object)
    return held.where((same >= confirm) & quadrant.notna().to_numpy()).ffill()


def decide(
    frame: pd.DataFrame,
    pair: Pair,
    params: DetectorParams,
    start: date | None = None,
    end: date | None = None,
) -> list[Decision]:
    """Return the pair's rotations between ``start`` and ``end`` inclusive, oldest first.

    Args:
        frame: the pair's readings (``bot.core.signals.PairSignals.frame``): ``score``,
            ``eligible``, ``spread``, ``regime``, ``quadrant``, ``trend``, ``rs_ratio``,
            ``rs_momentum`` per session.
    """
    lo = pd.Timestamp(start) if start is not None else None
    hi = pd.Timestamp(end) if end is not None else None
    window = frame.loc[lo:hi].index
    found = _shocks(frame, window, pair, params) + _regime_turns(frame, window, pair, params)
    return sorted(found, key=lambda d: (d.date, d.kind))


def _shocks(
    frame: pd.DataFrame, window: pd.Index, pair: Pair, params: DetectorParams
) -> list[Decision]:
    part = frame.loc[window]
    hits = part[part["eligible"] & (part["score"] >= params.shock_info)]
    a, b = pair.keys
    out = []
    for ts, score, spread in zip(hits.index, hits["score"], hits["spread"], strict=True):
        severity = severity_for(float(score), params)
        if severity is None:  # pragma: no cover - filtered above
            continue
        src, dst = (a, b) if spread < 0 else (b, a)
        day = pd.Timestamp(ts).date()
        out.append(Decision(day, pair, SHOCK, SHOCK, src, dst, severity, float(score)))
    return out


def _regime_turns(
    frame: pd.DataFrame, window: pd.Index, pair: Pair, params: DetectorParams
) -> list[Decision]:
    a, b = pair.keys
    regime = frame["regime"]
    prior = regime.shift(1).fillna(0).astype("int64")
    turned = (regime != prior) & (prior != 0)
    out = []
    trend = frame["trend"]
    for ts in window[turned.loc[window].to_numpy()]:
        dst, src = (a, b) if int(regime[ts]) > 0 else (b, a)
        score = abs(float(trend[ts])) / params.regime_band
        day = pd.Timestamp(ts).date()
        out.append(Decision(day, pair, REGIME, "ma_cross", src, dst, Severity.ALERT, score))
    quadrant = confirmed_quadrant(frame["quadrant"], params.regime_confirm)
    before = quadrant.shift(1)
    into_a = (before == Quadrant.IMPROVING.value) & (quadrant == Quadrant.LEADING.value)
    into_b = (before == Quadrant.WEAKENING.value) & (quadrant == Quadrant.LAGGING.value)
    flips = (into_a | into_b).loc[window].to_numpy()
    rs_ratio, rs_momentum = frame["rs_ratio"], frame["rs_momentum"]
    for ts in window[flips]:
        dst, src = (a, b) if quadrant[ts] == Quadrant.LEADING.value else (b, a)
        rsr, rsm = float(rs_ratio[ts]), float(rs_momentum[ts])
        score = float(np.hypot(rsr - 100.0, rsm - 100.0))
        day = pd.Timestamp(ts).date()
        decision = Decision(
            day, pair, REGIME, "rrg_quadrant", src, dst, Severity.INFO, score, str(before[ts])
        )
        out.append(decision)
    return out
