"""rrg: positions from the Relative Rotation Graph quadrant of one basket against the other.

Idea: a relative-strength trend (RS-Ratio) and its momentum (RS-Momentum) place the numerator
basket in one of four quadrants against the denominator: Leading, Weakening, Lagging,
Improving; rotations run clockwise. A quadrant counts once it has held ``confirm`` sessions.
Rules (``rule``):

* ``quadrant``: Leading holds the numerator basket, Lagging the denominator, and the
  transition quadrants (Weakening, Improving) keep the holding;
* ``early``: follow RS-Momentum: Improving or Leading holds the numerator, Weakening or
  Lagging the denominator (earlier, noisier);
* ``strict``: Leading and Lagging as in ``quadrant``, the transition quadrants in cash.

Cash until the first confirmed quadrant.

Parameters: ``window`` (sessions normalising RS-Ratio and RS-Momentum, default 63), ``rule``
(default ``quadrant``), ``confirm`` (sessions, default 1).

Source: Julius de Kempenaer's Relative Rotation Graphs (RRG Research; StockCharts), through the
public approximation in ``bot.core.strength.rrg`` (the original formulas are proprietary).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Self

import numpy as np

from bot.backtest.market import MarketData
from bot.core.params import DetectorParams
from bot.core.strength import ROC_SPAN, rrg
from strategies.base import (
    Array,
    Strategy,
    column,
    ffill,
    param,
    pick_baskets,
    run_length,
    unique_index,
)

NAN = np.nan
# Side per quadrant code (Leading, Weakening, Lagging, Improving); NaN keeps the holding.
RULES = {
    "quadrant": (1.0, NAN, -1.0, NAN),
    "early": (1.0, -1.0, -1.0, 1.0),
    "strict": (1.0, 0.0, -1.0, 0.0),
}


@dataclass(frozen=True, slots=True)
class Rrg(Strategy):
    """Hold the basket the RRG quadrant favours (Leading: numerator, Lagging: denominator)."""

    name: ClassVar[str] = "rrg"
    window: int = param(63, "sessions normalising RS-Ratio and RS-Momentum", minimum=2)
    rule: str = param("quadrant", "how quadrants map to holdings", choices=tuple(RULES))
    confirm: int = param(1, "sessions a quadrant must hold before it counts", minimum=1)

    def warmup(self, params: DetectorParams) -> int:
        # RS-Ratio needs two windows (average, then the spread of the deviation), RS-Momentum a
        # rate of change of it and a third window.
        return 3 * self.window + ROC_SPAN + self.confirm - 4

    @classmethod
    def grid_weights(cls, data: MarketData, combos: Sequence[Self]) -> Array:
        a, b = data.keys
        windows, which = unique_index(column(combos, "window", "int64"))
        codes = np.column_stack([_codes(data, a, b, w) for w in windows])[:, which]
        known = codes >= 0
        same = known & (codes == np.vstack([np.full((1, codes.shape[1]), -1), codes[:-1]]))
        held = run_length(same) + 1
        table = np.array([RULES[c.rule] for c in combos])  # (combos, 4)
        side = np.take_along_axis(table.T, np.where(known, codes, 0), axis=0)
        confirmed = known & (held >= column(combos, "confirm", "int64"))
        return pick_baskets(ffill(np.where(confirmed, side, np.nan)))


def _codes(data: MarketData, a: str, b: str, window: int) -> Array:
    """Return the quadrant code per session: 0 Leading, 1 Weakening, 2 Lagging, 3 Improving."""
    pair = rrg(data.levels[a], data.levels[b], window)
    ratio, mom = pair["rs_ratio"].to_numpy(), pair["rs_momentum"].to_numpy()
    up_ratio, up_mom = ratio >= 100.0, mom >= 100.0
    codes = np.select([up_ratio & up_mom, up_ratio & ~up_mom, ~up_ratio & ~up_mom], [0, 1, 2], 3)
    out: Array = np.where(np.isnan(ratio) | np.isnan(mom), -1, codes)
    return out
