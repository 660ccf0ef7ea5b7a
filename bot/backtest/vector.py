"""The sweep's numpy engine, and the held-day tables both sweep engines read.

Most sessions of a path trade nothing, and what such a session earns and costs depends only
on the session and the weights held: ``held_days`` works that out once per session and
palette row (a few rows), the engines look it up, and only trading sessions (and the first,
which pays the entry) are worked out in full. ``run_vector`` does this with whole-array numpy
operations over a block of paths; the compiled loop (``bot.backtest.kernels``) does it a path
at a time. Both follow ``engine.simulate`` and ``metrics.return_metrics`` operation for
operation (numpy's own reductions here), and a test holds them to the engine.

numpy needs no compilation, so it is the engine for grids too small to repay numba's loading
(a few tenths of a second per process); larger grids go to the compiled loop.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

from bot.backtest.metrics import PATH_STATS, RETURN_STATS, return_stats

Array = np.ndarray
HELD = ("net", "log_before", "log_after", "turnover")
"""Rows of a held-day table, each shaped ``(palette rows, sessions of the window)``."""


def held_days(
    palette: Array, before: Array, after: Array, start: int, stop: int, rate: float
) -> Array:
    """Return ``(4, rows, sessions)``: per palette row held through each session of the
    window without a trade, its net return, ``log1p`` of the move before the trade time,
    the log growth after it (costs included) and its turnover (the drift rebalanced)."""
    close_fill = after.shape[0] == 0
    mb = before[start:stop]
    pb = _dot(palette, mb)
    turn = np.zeros_like(pb)
    for k in range(palette.shape[1]):
        w = palette[:, k, None]
        turn += np.abs(w - w * (1.0 + mb[None, :, k]) / (1.0 + pb))
    pa = np.zeros_like(pb) if close_fill else _dot(palette, after[start:stop])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.stack(
            [
                ((1.0 + pb) * (1.0 + pa) - 1.0) - rate * turn,
                np.log1p(pb),
                np.log1p(pa) + np.log1p(-(rate * turn)),
                turn,
            ]
        )


def _dot(palette: Array, moves: Array) -> Array:
    """Return ``sum_k palette[p, k] * moves[t, k]`` shaped ``(rows, sessions)``, k in order."""
    out = np.zeros((palette.shape[0], moves.shape[0]))
    for k in range(palette.shape[1]):
        out += palette[:, k, None] * moves[None, :, k]
    return out


def run_vector(
    codes: Array,
    palette: Array,
    cash: int,
    held: Array,
    moved: tuple[Array, Array, Array, Array],
    window: tuple[int, int],
    rate: float,
    windows: Sequence[tuple[int, int]],
    needed: Collection[str] = PATH_STATS,
) -> tuple[Array, Array]:
    """Simulate a block of paths with numpy; return ``(stats, window stats)`` exactly as
    ``kernels.run_paths`` writes them (``windows`` counted from the window's start).

    Only the ``needed`` statistics are computed, the others are NaN: ranking by a return
    metric needs neither the trades nor most return statistics.
    """
    after, missing = moved[1], moved[3]
    start, stop = window
    n = stop - start
    cb, ca = _lagged(codes, 2, start, stop, cash), _lagged(codes, 1, start, stop, cash)
    bits = (palette != 0) @ (1 << np.arange(palette.shape[1], dtype=np.int64))
    live = np.bitwise_or.reduce(bits[codes], axis=1)  # assets each path ever holds
    missed = np.zeros(n, dtype=np.int64)
    if after.shape[0]:
        missed = missing[start:stop] @ (1 << np.arange(palette.shape[1], dtype=np.int64))
    special = ca != cb
    changed = special.copy()
    special[:, 0] = True
    odd = np.flatnonzero(missed)  # sessions some asset lacks its open on
    special[:, odd] |= (missed[odd][None, :] & live[:, None]) != 0
    flat = cb.astype(np.int64) * n + np.arange(n)
    trading = not set(needed).isdisjoint(PATH_STATS[len(RETURN_STATS) :])
    tables = [held[q].ravel().take(flat) if trading or q == 0 else np.empty((len(codes), n))
              for q in range(len(HELD))]  # fmt: skip
    entry = np.abs(palette[cb[:, 0]]).sum(axis=1)
    _trading_days(np.nonzero(special), (cb, ca), palette, moved, (start, rate), live, missed,
                  entry, (tables[0], tables[1], tables[2], tables[3]))  # fmt: skip
    net, log_b, log_a, turn = tables
    stats = return_stats(net, needed)
    columns = [stats[name] for name in RETURN_STATS] + [np.full(len(codes), np.nan)] * 4
    if trading:
        gross_w = np.abs(palette).sum(axis=1) > 0
        log_entry = np.log1p(-rate * entry)
        columns[-4:] = [
            turn.sum(axis=1),
            gross_w[cb if after.shape[0] == 0 else ca].sum(axis=1),
            *_trade_counts(changed, (cb, ca), gross_w, log_b, log_a, log_entry),
        ]
    per_window = np.empty((len(windows), len(codes), len(RETURN_STATS)))
    for w, (lo, hi) in enumerate(windows):
        part = return_stats(net[:, lo:hi], needed)
        per_window[w] = np.column_stack([part[name] for name in RETURN_STATS])
    return np.column_stack(columns), per_window


def _lagged(codes: Array, lag: int, start: int, stop: int, cash: int) -> Array:
    """Return ``codes[:, s - lag]`` for s in ``start..stop-1`` (cash before the first)."""
    if start >= lag:
        return codes[:, start - lag : stop - lag]
    out = np.full((len(codes), stop - start), cash, dtype=codes.dtype)
    out[:, lag - start :] = codes[:, : stop - lag]
    return out


def _trading_days(
    where: tuple[Array, ...],
    lags: tuple[Array, Array],
    palette: Array,
    moved: tuple[Array, Array, Array, Array],
    start_rate: tuple[int, float],
    live: Array,
    missed: Array,
    entry: Array,
    out: tuple[Array, Array, Array, Array],
) -> None:
    """Work out in full the sessions the table does not cover: trades, the first session (it
    pays the entry) and sessions traded at the close for a held asset's missing open."""
    rows, cols = where
    before, after, full, _ = moved
    start, rate = start_rate
    t = start + cols
    wb, wa = palette[lags[0][rows, cols]], palette[lags[1][rows, cols]]
    at_close = ((missed[cols] & live[rows]) != 0)[:, None]
    mb = np.where(at_close, full[t], before[t]) if after.shape[0] else before[t]
    pb = np.zeros(len(rows))
    for k in range(palette.shape[1]):
        pb += wb[:, k] * mb[:, k]
    turn = np.zeros(len(rows))
    for k in range(palette.shape[1]):
        turn += np.abs(wa[:, k] - wb[:, k] * (1.0 + mb[:, k]) / (1.0 + pb))
    first = cols == 0
    turn[first] += entry[rows[first]]
    pa = np.zeros(len(rows))
    if after.shape[0]:
        ma = np.where(at_close, 0.0, after[t])
        for k in range(palette.shape[1]):
            pa += wa[:, k] * ma[:, k]
    cost = rate * turn
    cost[first] -= rate * entry[rows[first]]
    net, log_b, log_a, turnover = out
    with np.errstate(invalid="ignore", divide="ignore"):
        net[rows, cols] = ((1.0 + pb) * (1.0 + pa) - 1.0) - rate * turn
        log_b[rows, cols] = np.log1p(pb)
        log_a[rows, cols] = np.log1p(pa) + np.log1p(-cost)
    turnover[rows, cols] = turn


def _trade_counts(
    changed: Array,
    lags: tuple[Array, Array],
    invests: Array,
    log_b: Array,
    log_a: Array,
    entry_log: Array,
) -> tuple[Array, Array]:
    """Count trades and winning ones per path, summed as ``engine._trade_stats`` sums them:
    one bincount over every session into its holding period (numbered across paths)."""
    paths, n = changed.shape
    offset = np.arange(paths) * (n + 1)
    after = np.cumsum(changed, axis=1, dtype=np.int64)
    after += offset[:, None]
    before = np.empty_like(after)
    before[:, 0] = offset
    before[:, 1:] = after[:, :-1]
    size = paths * (n + 1)
    growth = np.bincount(before.ravel(), log_b.ravel(), size)
    growth += np.bincount(after.ravel(), log_a.ravel(), size)
    growth[offset] += entry_log
    invested = np.zeros(size, dtype=bool)
    invested[offset] = invests[lags[0][:, 0]]
    changes = np.flatnonzero(changed)  # positions in the flattened (paths, n) block
    invested[after.ravel()[changes]] = invests[lags[1].ravel()[changes]]
    wins = invested & (growth > 0)
    return invested.reshape(paths, -1).sum(axis=1), wins.reshape(paths, -1).sum(axis=1)
