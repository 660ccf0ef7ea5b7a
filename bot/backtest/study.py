"""Event study of the rotation detector: what the spread did after each kind of alert.

For an event on session t that says money moved from basket ``from`` to basket ``to``, the
forward spread return over h sessions is measured from the close of t (when the alert is
sent): ``to``'s return over t..t+h minus ``from``'s. Positive means the rotation continued,
negative that it reversed. Per pair, event kind and severity (and per kind over all
severities) the study reports count, mean, hit rate (share positive) and the t-statistic of
the mean. Each pair's events are measured on its own two baskets' index levels (the core's,
``bot.core.market``), so pairs never mix.

t-statistics are Newey-West (HAC, h-1 lags): forward windows of events closer together than h
sessions overlap, and a plain t would overstate them. Each row also has the baseline of
``bot.core.scorecard``: where the events' mean stands among as many random sessions of the
period, each paired with one event's direction (seeded, so reproducible).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

import numpy as np
import pandas as pd

from bot.core.models import RotationEvent, Severity
from bot.core.record import MIN_EVENTS, MIN_T, hac_t
from bot.core.scorecard import SEED, Baseline, baseline, forward_all

HORIZONS = (1, 5, 20)


@dataclass(frozen=True, slots=True)
class StudyRow:
    """Forward spread returns of one group of events over one horizon (fractions)."""

    kind: str
    severity: str  # a Severity value, or "all"
    horizon: int
    count: int
    mean: float
    hit_rate: float
    t_stat: float
    pair: str = ""  # the pair the events were found on ("chips/platforms")
    baseline: Baseline | None = None  # the same count of random sessions, drawn many times

    @property
    def verdict(self) -> str:
        """The track record's rule (``bot.core.record``): an edge needs n >= 20 and |t| >= 2."""
        if self.count < MIN_EVENTS or np.isnan(self.t_stat):
            return "too few"
        if self.t_stat >= MIN_T:
            return "continuation"
        if self.t_stat <= -MIN_T:
            return "reversal"
        return "inconclusive"

    def to_json(self) -> dict[str, object]:
        def clean(v: float) -> float | None:
            return None if np.isnan(v) else round(v, 8)

        return {
            "pair": self.pair,
            "kind": self.kind,
            "severity": self.severity,
            "horizon": self.horizon,
            "count": self.count,
            "mean": clean(self.mean),
            "hit_rate": clean(self.hit_rate),
            "t_stat": clean(self.t_stat),
            "verdict": self.verdict,
            "baseline": self.baseline.to_json() if self.baseline else None,
        }


def forward_spreads(
    found: Sequence[RotationEvent], levels: pd.DataFrame, horizons: Sequence[int]
) -> np.ndarray:
    """Return ``(events, horizons)`` forward spread returns, NaN past the end of the data.

    ``levels`` holds the basket index levels, one column per basket key, indexed by session.
    """
    index = pd.DatetimeIndex(levels.index)
    at = index.get_indexer(pd.DatetimeIndex([pd.Timestamp(e.date) for e in found]))
    if (at < 0).any():
        raise ValueError("an event's session is not in the levels' index")
    keys = [str(c) for c in levels.columns]
    level = levels.to_numpy(dtype="float64")
    to = np.array([keys.index(e.to_basket) for e in found], dtype="int64")
    src = np.array([keys.index(e.from_basket) for e in found], dtype="int64")
    out = np.full((len(found), len(horizons)), np.nan)
    for j, h in enumerate(horizons):
        ahead = np.minimum(at + h, len(index) - 1)
        spread = level[ahead, to] / level[at, to] - level[ahead, src] / level[at, src]
        out[:, j] = np.where(at + h < len(index), spread, np.nan)
    return out


def event_study(
    found: Sequence[RotationEvent],
    levels: pd.DataFrame,
    horizons: Sequence[int] = HORIZONS,
    pairs: Sequence[str] | None = None,
    period: tuple[date, date] | None = None,
) -> list[StudyRow]:
    """Return one row per (pair, kind, severity or "all", horizon), each group in order.

    ``pairs`` orders the pairs (default: as they first appear in ``found``); ``levels`` holds
    the index levels of every basket an event names; the baseline draws its random sessions
    from ``period`` (default: every session of ``levels``).
    """
    spreads = forward_spreads(found, levels, horizons)
    order = list(pairs) if pairs is not None else list(dict.fromkeys(e.pair for e in found))
    index = pd.DatetimeIndex(levels.index)
    lo, hi = (
        (0, len(index))
        if period is None
        else (
            int(index.searchsorted(pd.Timestamp(period[0]))),
            int(index.searchsorted(pd.Timestamp(period[1]), side="right")),
        )
    )
    rows = []
    for pair in order:
        mine = np.array([e.pair == pair for e in found], dtype=bool)
        chosen = [e for e, m in zip(found, mine, strict=True) if m]
        a, b = _basis(pair, chosen)
        pools = {
            h: forward_all(levels[b].to_numpy(), levels[a].to_numpy(), h)[lo:hi] for h in horizons
        }
        rows += _pair_rows(pair, chosen, spreads[mine], horizons, pools, b)
    return rows


def _basis(pair: str, found: Sequence[RotationEvent]) -> tuple[str, str]:
    """The pair's two baskets (numerator, denominator); for events without a pair, the first
    event's own direction."""
    if "/" in pair:
        a, _, b = pair.partition("/")
        return a, b
    return found[0].from_basket, found[0].to_basket


def _pair_rows(
    pair: str,
    found: Sequence[RotationEvent],
    spreads: np.ndarray,
    horizons: Sequence[int],
    pools: dict[int, np.ndarray],
    b: str,
) -> list[StudyRow]:
    kinds = sorted({e.kind for e in found}, key=lambda k: (k != "shock", k))
    signs = np.array([1.0 if e.to_basket == b else -1.0 for e in found])
    rows = []
    for i, kind in enumerate(kinds):
        for k, severity in enumerate([s.value for s in Severity] + ["all"]):
            mask = np.array(
                [e.kind == kind and severity in ("all", e.severity.value) for e in found]
            )
            if not mask.any():
                continue
            for j, h in enumerate(horizons):
                row = _row(pair, kind, severity, h, spreads[mask, j])
                known = ~np.isnan(spreads[mask, j])
                if row.count:
                    seed = SEED + 100 * i + 10 * k + j
                    base = baseline(pools[h], signs[mask][known], row.mean, seed=seed)
                    row = replace(row, baseline=base)
                rows.append(row)
    return rows


def _row(pair: str, kind: str, severity: str, horizon: int, values: np.ndarray) -> StudyRow:
    values = values[~np.isnan(values)]
    n = len(values)
    mean = float(values.mean()) if n else np.nan
    hit = float((values > 0).mean()) if n else np.nan
    t = hac_t(values, horizon - 1) if n else None
    return StudyRow(kind, severity, horizon, n, mean, hit, np.nan if t is None else t, pair)
