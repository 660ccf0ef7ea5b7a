"""Target weights of many paths, compressed: each session's weights as a code into a palette.

A rotation strategy holds one of a handful of weight vectors at a time (cash, one basket, the
other, the benchmark), so ``(sessions, paths, assets)`` float weights (24 bytes a session and
path for a pair) say the same as a 4-byte code per session and path plus a palette of the
few distinct rows. The sweep's compiled loop reads codes; a strategy can produce them
directly (``Strategy.grid_codes``) or have its weights encoded here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bot.backtest.engine import as_spread

Array = np.ndarray
CODE = np.int32


@dataclass(frozen=True, slots=True)
class Codes:
    """Weights ``palette[codes[path, session]]``.

    ``codes`` is shaped ``(paths, sessions)`` (one contiguous row per path: the engine walks a
    path at a time), integers indexing ``palette``, shaped ``(rows, assets)``, float64.
    """

    codes: Array
    palette: Array

    def weights(self) -> Array:
        """Return the weights ``(sessions, paths, assets)`` the codes stand for."""
        out: Array = self.palette[self.codes.T]
        return out


def encode(weights: Array) -> Codes:
    """Compress weights ``(sessions, paths, assets)`` into codes of their distinct rows."""
    sessions, paths, assets = weights.shape
    # + 0.0 turns -0.0 into 0.0, so equal weights get one code, as the engine compares them.
    rows = np.ascontiguousarray(weights.transpose(1, 0, 2) + 0.0).reshape(-1, assets)
    change = np.ones(len(rows), dtype=bool)
    if len(rows) > 1:
        change[1:] = _differs(rows[1:], rows[:-1])
    change[::sessions] = True  # each path starts a run
    palette, inverse = np.unique(rows[change], axis=0, return_inverse=True)
    codes = inverse.reshape(-1)[np.cumsum(change) - 1].astype(CODE)
    return Codes(codes.reshape(paths, sessions), palette)


def for_engine(found: Codes, spread: bool) -> tuple[Array, Array, int]:
    """Return ``(codes, palette, cash)`` ready for ``kernels.run_paths``.

    The palette gets the long/short spread applied (``engine.as_spread``) when asked, an
    all-zero row (cash before the first session), and distinct rows only: the engine treats
    equal codes as unchanged weights. ``cash`` is the position of the zero row.
    """
    palette = as_spread(found.palette) if spread else found.palette
    palette = np.vstack([np.zeros((1, palette.shape[1])), palette]) + 0.0
    distinct, first, inverse = np.unique(palette, axis=0, return_index=True, return_inverse=True)
    # Keep the rows in their first-seen order: an already distinct palette maps to itself.
    order = np.argsort(first)
    position = np.empty_like(order)
    position[order] = np.arange(len(order))
    remap = position[inverse.reshape(-1)]
    codes = np.ascontiguousarray(found.codes, dtype=CODE)
    if not np.array_equal(remap[1:], np.arange(len(palette) - 1)):
        codes = remap[1:][codes].astype(CODE)
    return codes, np.ascontiguousarray(distinct[order]), int(remap[0])


def _differs(a: Array, b: Array) -> Array:
    """Return rows of ``a`` unequal to those of ``b``; by hand, the asset axis being short."""
    out: Array = a[:, 0] != b[:, 0]
    for k in range(1, a.shape[1]):
        out |= a[:, k] != b[:, k]
    return out
