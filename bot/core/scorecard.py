"""The bot's own alerts, scored: what followed each kind of event, against random sessions.

For every (pair, kind, severity): the forward spread returns of its events over 1, 5 and 20
sessions (the ``to`` basket's compounded return minus the ``from`` basket's over t+1..t+h),
their mean, hit rate and HAC t (``bot.core.record``), and a baseline: the same number of
sessions drawn at random from the period (seeded), each paired with one event's direction,
``draws`` times. The percentile says where the events' mean stands among those draws: near 50
an alert is worth a random day; near 100 (or 0) its move continued (or reversed) more than
chance would give.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from bot.core.models import RotationEvent
from bot.core.record import HORIZONS, HorizonStats, horizon_stats

DRAWS = 2000
SEED = 20161


@dataclass(frozen=True, slots=True)
class Baseline:
    draws: int
    seed: int
    mean: float  # the mean of the random draws' means
    percentile: float  # share of draws whose mean is below the events' mean, 0-100

    def to_json(self) -> dict[str, object]:
        return {
            "draws": self.draws,
            "seed": self.seed,
            "mean": round(self.mean, 6),
            "percentile": round(self.percentile, 2),
        }


@dataclass(frozen=True, slots=True)
class ScoreRow:
    pair: str
    kind: str
    severity: str
    count: int
    horizons: dict[int, HorizonStats]
    baselines: dict[int, Baseline | None]

    def to_json(self) -> dict[str, object]:
        return {
            "pair": self.pair,
            "kind": self.kind,
            "severity": self.severity,
            "count": self.count,
            "horizons": {
                str(h): s.to_json()
                | {"baseline": b.to_json() if (b := self.baselines[h]) else None}
                for h, s in self.horizons.items()
            },
        }


def scorecard(
    found: Sequence[RotationEvent],
    levels: pd.DataFrame,
    period: tuple[date, date],
    draws: int = DRAWS,
    seed: int = SEED,
) -> list[ScoreRow]:
    """Score ``found`` (events of any pairs) on the basket index ``levels`` (one column per
    basket, indexed by session, running past the period so forward returns can be read);
    random sessions are drawn from ``period``. Rows come in the order first seen."""
    groups: dict[tuple[str, str, str], list[RotationEvent]] = {}
    for e in found:
        groups.setdefault((e.pair, e.kind, e.severity.value), []).append(e)
    sessions = pd.DatetimeIndex(levels.index)
    at = {ts.date(): i for i, ts in enumerate(sessions)}
    lo = int(sessions.searchsorted(pd.Timestamp(period[0]), side="left"))
    hi = int(sessions.searchsorted(pd.Timestamp(period[1]), side="right"))
    return [
        _row(key, members, levels, at, (lo, hi), draws, seed + i)
        for i, (key, members) in enumerate(groups.items())
    ]


def _row(
    key: tuple[str, str, str],
    members: list[RotationEvent],
    levels: pd.DataFrame,
    at: dict[date, int],
    window: tuple[int, int],
    draws: int,
    seed: int,
) -> ScoreRow:
    pair, kind, severity = key
    a, b = pair.split("/")
    horizons, baselines = {}, {}
    for h in HORIZONS:
        spread = forward_all(levels[b].to_numpy(), levels[a].to_numpy(), h)  # b over a
        usable = [e for e in members if e.date in at and np.isfinite(spread[at[e.date]])]
        signs = np.array([1.0 if e.to_basket == b else -1.0 for e in usable])
        values = signs * spread[[at[e.date] for e in usable]] if usable else np.array([])
        horizons[h] = horizon_stats(list(values), h)
        pool = spread[window[0] : window[1]]
        baselines[h] = baseline(pool, signs, float(values.mean()), draws, seed) if usable else None
    return ScoreRow(pair, kind, severity, len(members), horizons, baselines)


def forward_all(to_level: np.ndarray, from_level: np.ndarray, h: int) -> np.ndarray:
    """Per session t: to's return minus from's over t+1..t+h (NaN where t+h is past the end)."""
    out = np.full(len(to_level), np.nan)
    if len(to_level) > h:
        out[:-h] = to_level[h:] / to_level[:-h] - from_level[h:] / from_level[:-h]
    return out


def baseline(
    spread: np.ndarray, signs: np.ndarray, observed: float, draws: int = DRAWS, seed: int = SEED
) -> Baseline:
    """Draw ``len(signs)`` sessions at random, ``draws`` times, each paired with one event's
    direction; return where ``observed`` stands among the draws' means."""
    pool = np.flatnonzero(np.isfinite(spread))
    if len(pool) < len(signs):
        return Baseline(draws, seed, float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    picks = np.stack([rng.choice(pool, size=len(signs), replace=False) for _ in range(draws)])
    means = (spread[picks] * signs[None, :]).mean(axis=1)
    # Ties count half: a period of one session must not put its events at the 0th percentile.
    below = (means < observed).mean() + 0.5 * (means == observed).mean()
    return Baseline(draws, seed, float(means.mean()), float(below * 100.0))
