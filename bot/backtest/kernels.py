"""The sweep's compiled loop (numba): engine and metrics of each path in one pass.

``run_paths`` is ``engine.simulate`` followed by ``Simulation.metrics`` for many paths, written
as one loop per path over its sessions: weights looked up by code in a small palette, the day's
profit, drift, turnover, costs, trade segments and every statistic the metrics need, with the
same floating-point operations in the same order as the numpy engine (numpy's pairwise
summation included), so both give the same figures to the last bit or so (a test holds them
to 1e-12). A path's net returns live in one scratch row that stays in the core's cache; nothing
of size sessions x paths is ever built.

The functions are compiled on first use and cached on disk beside this file (numba's
``cache=True``), so only the first run after an install pays the compilation (about ten
seconds); later processes pay only numba's loading (a few tenths of a second), which is why
small grids use the numpy engine (``bot.backtest.vector``) instead. They release the GIL:
blocks of paths run on threads.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from bot.backtest.metrics import PERIODS

Array = np.ndarray
SQRT_PERIODS = math.sqrt(PERIODS)
PW_BLOCK = 128  # numpy's pairwise-summation block


@njit(cache=True, nogil=True)
def pairwise_sum(a: Array, lo: int, n: int) -> float:
    """Sum ``a[lo:lo + n]`` exactly as numpy's add.reduce does (pairwise, 8 accumulators).

    numpy recurses; numba cannot cache a recursive function, so the same tree is walked with
    explicit stacks: halves rounded down to a multiple of 8, blocks of up to 128 at the leaves.
    """
    todo = np.empty((64, 3), dtype=np.int64)  # (lo, n, halves already summed?)
    sums = np.empty(64)
    todo[0, 0], todo[0, 1], todo[0, 2] = lo, n, 0
    tasks, done = 1, 0
    while tasks:
        tasks -= 1
        at, size, joined = todo[tasks, 0], todo[tasks, 1], todo[tasks, 2]
        if size <= PW_BLOCK:
            sums[done] = _block_sum(a, at, size)
            done += 1
        elif joined:
            done -= 1
            sums[done - 1] = sums[done - 1] + sums[done]
        else:
            half = size // 2
            half -= half % 8
            todo[tasks, 2] = 1  # come back to add the two halves, left first
            todo[tasks + 1, 0], todo[tasks + 1, 1], todo[tasks + 1, 2] = at + half, size - half, 0
            todo[tasks + 2, 0], todo[tasks + 2, 1], todo[tasks + 2, 2] = at, half, 0
            tasks += 3
    return float(sums[0])


@njit(cache=True, nogil=True)
def _block_sum(a: Array, lo: int, n: int) -> float:
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    while i < n - (n % 8):
        j = lo + i
        r0 += a[j]
        r1 += a[j + 1]
        r2 += a[j + 2]
        r3 += a[j + 3]
        r4 += a[j + 4]
        r5 += a[j + 5]
        r6 += a[j + 6]
        r7 += a[j + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return float(res)


@njit(cache=True, nogil=True)
def return_stats(net: Array, lo: int, hi: int, tmp: Array, out: Array) -> None:
    """Write ``metrics.RETURN_STATS`` of ``net[lo:hi]`` into ``out[:6]`` (as numpy does)."""
    n = hi - lo
    mean = pairwise_sum(net, lo, n) / n
    for i in range(n):
        d = net[lo + i] - mean
        tmp[i] = d * d
    std = math.sqrt(pairwise_sum(tmp, 0, n) / (n - 1)) if n > 1 else np.nan
    for i in range(n):
        b = min(net[lo + i], 0.0)
        tmp[i] = b * b
    risk = math.sqrt(pairwise_sum(tmp, 0, n) / n) * SQRT_PERIODS
    equity, peak, deepest, growth = 1.0, -np.inf, np.inf, 1.0
    run, longest = 0, 0
    for i in range(n):
        x = 1.0 + net[lo + i]
        growth *= x
        equity = equity * x if i else x
        if equity > peak or math.isnan(equity):  # np.maximum.accumulate keeps a NaN
            peak = equity if not math.isnan(peak) else peak
        top = peak if (peak > 1.0 or math.isnan(peak)) else 1.0
        dd = equity / top - 1.0
        if dd < deepest or math.isnan(dd):
            deepest = dd if not math.isnan(deepest) else deepest
        run = run + 1 if dd < 0.0 else 0
        longest = max(longest, run)
    out[0], out[1], out[2], out[3] = mean, std, risk, growth
    out[4] = deepest if (deepest < 0.0 or math.isnan(deepest)) else 0.0
    out[5] = longest


@njit(cache=True, nogil=True)
def run_paths(
    codes: Array,
    palette: Array,
    cash: int,
    held: Array,
    before: Array,
    after: Array,
    full: Array,
    missing: Array,
    start: int,
    stop: int,
    rate: float,
    windows: Array,
    stats: Array,
    window_stats: Array,
) -> None:
    """Simulate each path of ``codes`` over sessions ``start..stop-1`` and write its statistics.

    ``codes`` (paths, sessions) index the rows of ``palette`` (distinct weights, row ``cash``
    all zero); ``before``, ``after``, ``full`` and ``missing`` are ``engine.Moves`` (``after``
    with no rows for ``Fill.CLOSE``). ``stats`` (paths, len(PATH_STATS)) receives the main
    window's statistics, ``window_stats`` (windows, paths, 6) the return statistics over each
    ``windows[w] = (lo, hi)``, positions counted from ``start``.

    Most sessions trade nothing: what such a session earns and costs depends only on the
    session and the weights held, so ``held`` (``vector.held_days``, shaped (4, rows,
    sessions); or (4, 0, 0) to work every session out in full) has it per palette row;
    trading sessions are worked out in full (``_step``).
    """
    n = stop - start
    rows, assets = palette.shape
    close_fill = after.shape[0] == 0
    tabled = held.shape[1] > 0
    gross_w = np.abs(palette).sum(axis=1)
    odd = np.zeros(n, dtype=np.bool_)  # sessions some asset lacks its open on
    if not close_fill:
        for i in range(n):
            odd[i] = missing[start + i].any()
    net, tmp = np.empty(n), np.empty(n)
    live, used = np.empty(assets, dtype=np.int64), np.zeros(rows, dtype=np.bool_)
    step = np.empty(3)
    for c in range(codes.shape[0]):
        path = codes[c]
        nlive = _live_assets(path, palette, used, live)
        entry, turnover, exposed = 0.0, 0.0, 0
        seg, g1, g2, trades, wins = 0, 0.0, 0.0, 0, 0
        invested = False
        for i in range(n):
            t = start + i
            cb = path[t - 2] if t >= 2 else cash
            ca = path[t - 1] if t >= 1 else cash
            quiet = tabled and ca == cb and i > 0
            if quiet and not (odd[i] and _at_close(missing, t, live, nlive)):
                net[i] = held[0, cb, i]
                g1 += held[1, cb, i]
                g2 += held[2, cb, i]
                turnover += held[3, cb, i]
                if gross_w[cb] > 0:
                    exposed += 1
                continue
            _step(palette, cb, ca, before, after, full, missing, t, close_fill, live, nlive, step)
            pb, pa, turn = step[0], step[1], step[2]
            if i == 0:
                for j in range(nlive):
                    entry += abs(palette[cb, live[j]])
                turn += entry
                invested = gross_w[cb] > 0
            net[i] = ((1.0 + pb) * (1.0 + pa) - 1.0) - rate * turn
            turnover += turn
            if gross_w[cb if close_fill else ca] > 0:
                exposed += 1
            # Trade segments, summed as engine._trade_stats's bincounts sum them.
            cost = rate * turn
            if i == 0:
                cost -= rate * entry
            g1 += math.log1p(pb)
            grow_after = math.log1p(pa) + math.log1p(-cost)
            if ca != cb:
                total = g1 + g2 + (math.log1p(-rate * entry) if seg == 0 else 0.0)
                if invested:
                    trades += 1
                    wins += 1 if total > 0 else 0
                seg, g1, g2, invested = seg + 1, 0.0, grow_after, gross_w[ca] > 0
            else:
                g2 += grow_after
        total = g1 + g2 + (math.log1p(-rate * entry) if seg == 0 else 0.0)
        if invested:
            trades += 1
            wins += 1 if total > 0 else 0
        row = stats[c]
        return_stats(net, 0, n, tmp, row)
        row[6], row[7], row[8], row[9] = turnover, exposed, trades, wins
        for w in range(windows.shape[0]):
            return_stats(net, windows[w, 0], windows[w, 1], tmp, window_stats[w, c])


@njit(cache=True, nogil=True)
def _step(
    palette: Array,
    cb: int,
    ca: int,
    before: Array,
    after: Array,
    full: Array,
    missing: Array,
    t: int,
    close_fill: bool,
    live: Array,
    nlive: int,
    out: Array,
) -> None:
    """Write ``(move before the trade, move after it, turnover)`` of session ``t`` for weights
    ``palette[cb]`` held into the trade and ``palette[ca]`` out of it (``engine.simulate``).

    ``live`` lists the assets the path ever holds (``nlive`` of them). A session where a live
    asset lacks its open is traded at the close.
    """
    at_close = not close_fill and _at_close(missing, t, live, nlive)
    pb = 0.0
    for j in range(nlive):
        k = live[j]
        pb += palette[cb, k] * (full[t, k] if at_close else before[t, k])
    turn = 0.0
    for j in range(nlive):
        k = live[j]
        m = full[t, k] if at_close else before[t, k]
        drifted = palette[cb, k] * (1.0 + m) / (1.0 + pb)
        turn += abs(palette[ca, k] - drifted)
    pa = 0.0
    if not close_fill:
        for j in range(nlive):
            k = live[j]
            pa += palette[ca, k] * (0.0 if at_close else after[t, k])
    out[0], out[1], out[2] = pb, pa, turn


@njit(cache=True, nogil=True)
def _at_close(missing: Array, t: int, live: Array, nlive: int) -> bool:
    for j in range(nlive):
        if missing[t, live[j]]:
            return True
    return False


@njit(cache=True, nogil=True)
def _live_assets(path: Array, palette: Array, used: Array, live: Array) -> int:
    """Fill ``live`` with the assets the path ever holds (as ``simulate`` drops the others)."""
    used[:] = False
    for t in range(path.shape[0]):
        used[path[t]] = True
    count = 0
    for k in range(palette.shape[1]):
        for p in range(palette.shape[0]):
            if used[p] and palette[p, k] != 0:
                live[count] = k
                count += 1
                break
    return count
