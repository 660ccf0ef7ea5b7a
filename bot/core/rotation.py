"""Where a rotation is decided: shock and regime rotations of one pair of baskets.

Everything that turns readings into a yes or no lives here, and nothing else does: the
shock gates and severities, the regime state with its band and confirming closes, and the
confirmed RRG quadrant turns. ``bot.core.signals`` measures, this module decides,
``bot.core.explain`` puts a decision into words.

Shock rotation (evidence from ``bot.core.shock``): the session passes the breadth gate (most
members of each basket on their side of the midpoint) and the calm-benchmark gate (a market
moving as much as the spread is a broad move), and its score reaches ``shock_info``;
``shock_alert`` and ``shock_severe`` grade it.

Regime rotation: the ratio closing beyond its long moving average by the regime band for
``regime_confirm`` sessions in a row turns the regime (``alert``); an RRG quadrant turn from
Improving to Leading or Weakening to Lagging that has held ``regime_confirm`` sessions is an
``info`` event. Both persist rather than flicker (on 2016-2025 a fixed 2% band and bare
quadrant signs put 24% of regime events within 20 sessions of an opposite one):

* the band is ``regime_band`` or ``regime_band_vol`` standard deviations of the ratio's
  20-session moves over the last year, whichever is wider, so a volatile pair needs a
  proportionally larger break;
* a quadrant counts only once both RS-Ratio and RS-Momentum (standard-deviation units around
  100) are ``quadrant_margin`` beyond 100; in between the last definite quadrant holds.

Every decision on session t reads columns whose row t uses data up to t only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from datetime import date

import numpy as np
import pandas as pd

from bot.core.models import Quadrant, Severity
from bot.core.params import DetectorParams, Pair

SHOCK = "shock"
REGIME = "regime"
REVERSAL_WINDOW = 5  # sessions: a shock against one this recent reverses it, it is not new


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
    reverses: dt.date | None = None  # a shock against a shock of the last REVERSAL_WINDOW sessions


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


def stopped_by(
    score: float, breadth: float, benchmark_share: float, p: DetectorParams
) -> str | None:
    """Name the first rule that kept a session from being a shock, or None when it is one.

    ``history`` (no score yet), ``breadth``, ``benchmark`` (a broad move) or ``score``.
    """
    if not np.isfinite(score):
        return "history"
    if not breadth >= p.min_breadth:
        return "breadth"
    if np.isfinite(benchmark_share) and benchmark_share > p.max_benchmark_share:
        return "benchmark"
    return None if score >= p.shock_info else "score"


VOL_HORIZON = 20  # sessions of ratio move the band is scaled to
VOL_WINDOW = 252  # sessions over which that move's volatility is measured (trailing)


def move_volatility(ratio: pd.Series) -> pd.Series:
    """The standard deviation of the ratio's 20-session log moves over the trailing year
    (0 until half a year of moves is known)."""
    moves = np.log(ratio).diff().rolling(VOL_HORIZON).sum()
    vol: pd.Series = moves.rolling(VOL_WINDOW, min_periods=VOL_WINDOW // 2).std().fillna(0.0)
    return vol


def regime_band(ratio: pd.Series, params: DetectorParams) -> pd.Series:
    """Return the band of every session: ``regime_band`` or ``regime_band_vol`` standard
    deviations of the ratio's 20-session moves (``move_volatility``), the wider."""
    band: pd.Series = (params.regime_band_vol * move_volatility(ratio)).clip(
        lower=params.regime_band
    )
    return band


def definite_quadrant(rs_ratio: pd.Series, rs_momentum: pd.Series, margin: float) -> pd.Series:
    """Return the quadrant where both readings are ``margin`` beyond 100, else None."""
    hi, lo = 100.0 + margin, 100.0 - margin
    r, m = rs_ratio.to_numpy(), rs_momentum.to_numpy()
    names = np.full(len(r), None, dtype=object)
    names[(r >= hi) & (m >= hi)] = Quadrant.LEADING.value
    names[(r >= hi) & (m <= lo)] = Quadrant.WEAKENING.value
    names[(r <= lo) & (m <= lo)] = Quadrant.LAGGING.value
    names[(r <= lo) & (m >= hi)] = Quadrant.IMPROVING.value
    return pd.Series(names, index=rs_ratio.index, dtype=object)


def regime_states(
    ratio: pd.Series, ma_long: pd.Series, band: float | pd.Series, confirm: int
) -> pd.Series:
    """Return +1 (numerator leads), -1 (denominator leads) or 0 per session, with hysteresis.

    The state turns to +1 after ``confirm`` consecutive closes above ``ma_long * (1 + band)``
    and to -1 after ``confirm`` closes below ``ma_long * (1 - band)``; otherwise it holds.
    ``band`` is a fraction, or one per session (``regime_band``).
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


def decide_all(
    frame: pd.DataFrame, pair: Pair, params: DetectorParams, end: date | None = None
) -> list[Decision]:
    """Return every rotation of the pair from the start of the data to ``end``, oldest first."""
    hi = pd.Timestamp(end) if end is not None else None
    part = frame.loc[:hi]
    window = part.index
    found = _shocks(part, window, pair, params) + _regime_turns(part, window, pair, params)
    return _label_reversals(sorted(found, key=lambda d: (d.date, d.kind)), window)


def _label_reversals(found: list[Decision], sessions: pd.Index) -> list[Decision]:
    """Mark a shock against the direction of a shock of the last ``REVERSAL_WINDOW`` sessions.

    Such a shock is money going back, not a fresh rotation: it keeps its kind and severity,
    and says which move it reverses.
    """
    position = {pd.Timestamp(ts).date(): i for i, ts in enumerate(sessions)}
    out: list[Decision] = []
    last: Decision | None = None
    for d in found:
        if d.kind == SHOCK:
            if (
                last is not None
                and last.to_key == d.from_key
                and position[d.date] - position[last.date] <= REVERSAL_WINDOW
            ):
                d = replace(d, reverses=last.date)
            last = d
        out.append(d)
    return out


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
    trend, band = frame["trend"], frame["regime_band"]
    for ts in window[turned.loc[window].to_numpy()]:
        dst, src = (a, b) if int(regime[ts]) > 0 else (b, a)
        score = abs(float(trend[ts])) / max(float(band[ts]), 1e-12)  # config keeps band > 0
        day = pd.Timestamp(ts).date()
        out.append(Decision(day, pair, REGIME, "ma_cross", src, dst, Severity.ALERT, score))
    definite = definite_quadrant(frame["rs_ratio"], frame["rs_momentum"], params.quadrant_margin)
    quadrant = confirmed_quadrant(definite, params.regime_confirm)
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
