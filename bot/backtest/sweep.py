"""Parameter sweeps and walk-forward selection on top of the two sweep engines.

A sweep runs every parameter combination over one window. The grid is cut into blocks sized
so that a block's working arrays stay in the processor's cache; for each block the strategy
gives its targets as codes (``Strategy.grid_codes``, a few bytes per session and combination,
see ``bot.backtest.codes``) and an engine simulates every path and reduces it to its metrics:
the compiled loop (``bot.backtest.kernels``, one pass a path) or, for grids too small to repay
loading numba, whole-array numpy (``bot.backtest.vector``). Neither keeps a sessions x
combinations array beyond the block, so memory is bounded by the block whatever the size of
the grid. Blocks run on a small thread pool (both engines release the GIL). ``run_block`` and
``finish`` are the two halves a cluster runs apart (``bot.backtest.cluster``): blocks on the
workers, the ranking here.

Walk-forward: on each training window pick the combination that ranks best there, trade it
over the following test window only, and stitch the test windows together. Switching from one
fold's choice to the next is traded and charged like any other rebalance, and a choice made
at the close of a training window's last session acts from the next decision on, so the
stitched figure is one a user could have had. Next to it, the in-sample figure: the single
combination that ranks best over the same test span with hindsight. The rankings on the
training windows and the span come out of the sweep's own pass (``windows``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from bot.backtest.codes import Codes, for_engine
from bot.backtest.engine import Moves, Settings, as_spread, simulate
from bot.backtest.metrics import (
    NEEDS,
    PATH_STATS,
    RETURN_STATS,
    Metrics,
    finish_returns,
    path_metrics,
)
from bot.backtest.vector import held_days, run_vector
from bot.errors import UsageError

Array = np.ndarray
Window = tuple[int, int]
CodesFor = Callable[[Sequence[int]], Codes]
"""Targets, as codes, of the combinations at ``indices`` (``Codes.codes`` one row each)."""
WeightsFor = Callable[[Sequence[int]], Array]
"""Target weights ``(sessions, len(indices), assets)`` of the combinations at ``indices``."""
Progress = Callable[[int, int], None]
BlockStats = tuple[Array, Array]
"""What ``run_block`` returns: ``(stats (combos, len(PATH_STATS)), window stats (windows,
combos, len(RETURN_STATS)))``."""

Tables = dict[tuple[tuple[int, ...], bytes], Array]
"""``vector.held_days`` tables by palette, shared by the blocks of a sweep."""
Engine = Literal["numpy", "numba"]
NUMBA_FROM = 20_000_000
"""Sessions x combinations from which a sweep uses the compiled loop: numba's loading (0.3 to
0.5 s a process) is then repaid by its speed (about three times numpy's)."""
TABLE_ROWS = 64
"""Palettes of more rows are not tabled for the compiled loop (a table grows with sessions x
rows); it then works every session out in full, several times slower."""
BLOCK_BYTES = 4 << 20
"""Target weights of one block (sessions x combos x assets float64) fit in about this much:
a few MiB, the size of a core's share of a current processor's cache."""


@dataclass(frozen=True, slots=True)
class SweepResult:
    """Every combination over one window: ``metrics`` values shaped ``(combos,)``; for each
    of ``windows`` (positions ``[lo, hi)``), the return metrics over that part of it."""

    metrics: dict[str, Array]
    windows: tuple[Window, ...] = ()
    window_metrics: tuple[dict[str, Array], ...] = ()

    def order(self, by: str) -> Array:
        """Return combination indices, best first by metric ``by`` (undefined values last)."""
        return rank(self.metrics[by])

    def best_in(self, window: Window, by: str) -> int:
        """Return the combination that ranks first by ``by`` over one of ``windows``."""
        if window not in self.windows:
            raise ValueError(f"the sweep did not measure the window {window}")
        return int(rank(self.window_metrics[self.windows.index(window)][by])[0])


def rank(values: Array) -> Array:
    keyed = np.where(np.isnan(values), -np.inf, values)
    order: Array = np.argsort(-keyed, kind="stable")
    return order


def blocks(combos: int, sessions: int, assets: int, size: int | None = None) -> list[range]:
    """Cut ``range(combos)`` into blocks of ``size`` (default: sized to ``BLOCK_BYTES``)."""
    size = size or int(np.clip(BLOCK_BYTES // max(sessions * assets * 8, 1), 8, 1024))
    return [range(lo, min(lo + size, combos)) for lo in range(0, combos, size)]


def sweep(
    codes_for: CodesFor,
    combos: int,
    mv: Moves,
    window: Window,
    settings: Settings,
    *,
    windows: Sequence[Window] = (),
    block: int | None = None,
    workers: int = 2,
    progress: Progress | None = None,
    engine: Engine | None = None,
    needed: Collection[str] = PATH_STATS,
) -> SweepResult:
    """Simulate ``combos`` parameter combinations over ``window`` (positions ``start, stop``).

    ``windows`` are parts of ``window`` to measure the return metrics over as well;
    ``engine`` defaults to ``pick_engine``'s choice. ``needed`` (of ``PATH_STATS``; say
    ``NEEDS["sharpe"]`` to rank only) lets the numpy engine skip the others: their metrics
    are NaN. The compiled loop computes everything at no extra cost.
    """
    if combos < 1:
        raise ValueError("a sweep needs at least one combination")
    parts = blocks(combos, len(mv.sessions), mv.before.shape[1], block)
    tables: Tables = {}
    chosen = engine or pick_engine(combos * (window[1] - window[0]))

    def run(indices: range) -> BlockStats:
        found = codes_for(indices)
        return run_block(found, mv, window, settings, windows, tables, chosen, needed)

    done, results = 0, []
    with ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:
        for part, result in zip(parts, pool.map(run, parts), strict=True):
            results.append(result)
            done += len(part)
            if progress is not None:
                progress(done, combos)
    return finish(results, window, windows)


def sweep_ranked(
    codes_for: CodesFor,
    combos: int,
    mv: Moves,
    window: Window,
    settings: Settings,
    *,
    rank_by: str,
    top: int,
    **options: Any,
) -> SweepResult:
    """Rank every combination by ``rank_by``, then measure only the best ``top`` in full.

    What a table of the best needs, for a fraction of the work with the numpy engine: the
    others keep their ranking metric (and what it is derived from); the rest is NaN.
    ``options`` go to ``sweep``.
    """
    ranked = sweep(codes_for, combos, mv, window, settings, needed=NEEDS[rank_by], **options)
    best = [int(i) for i in ranked.order(rank_by)[:top]]
    options.pop("progress", None)
    full = sweep(lambda idx: codes_for([best[i] for i in idx]), len(best), mv, window,
                 settings, **options)  # fmt: skip
    metrics = {key: np.asarray(values, dtype="float64") for key, values in ranked.metrics.items()}
    for key, values in full.metrics.items():
        metrics[key][best] = values
    return SweepResult(metrics, ranked.windows, ranked.window_metrics)


def pick_engine(work: int) -> Engine:
    """Numba for ``work`` (sessions x combinations) of ``NUMBA_FROM`` or more, or once this
    process has loaded it anyway; numpy otherwise."""
    loaded = "bot.backtest.kernels" in sys.modules
    return "numba" if loaded or work >= NUMBA_FROM else "numpy"


def run_block(
    found: Codes,
    mv: Moves,
    window: Window,
    settings: Settings,
    windows: Sequence[Window] = (),
    tables: Tables | None = None,
    engine: Engine = "numba",
    needed: Collection[str] = PATH_STATS,
) -> BlockStats:
    """Run one block of paths through ``engine``; return its raw statistics.

    ``tables`` keeps the held-day table of each palette for the next blocks.
    """
    start, stop = window
    if stop - start < 2:
        raise UsageError("the backtest window needs at least two sessions")
    codes, palette, cash = for_engine(found, settings.spread)
    moved = _arrays(mv, palette.shape[1])
    spans = [(lo - start, hi - start) for lo, hi in windows]
    if engine == "numpy":  # the numpy engine needs the table whatever the palette's size
        held = _held(tables, palette, moved, window, settings.rate)
        return run_vector(codes, palette, cash, held, moved, window, settings.rate, spans, needed)
    held = np.zeros((4, 0, 0))  # the compiled loop works every session out without one
    if len(palette) <= TABLE_ROWS:
        held = _held(tables, palette, moved, window, settings.rate)
    from bot.backtest import kernels

    stats = np.empty((len(codes), len(PATH_STATS)))
    window_stats = np.empty((len(spans), len(codes), len(RETURN_STATS)))
    kernels.run_paths(
        codes, palette, cash, held, *moved, start, stop, settings.rate,
        np.array(spans, dtype=np.int64).reshape(-1, 2), stats, window_stats,
    )  # fmt: skip
    return stats, window_stats


def _held(
    tables: Tables | None, palette: Array, moved: tuple[Array, ...], window: Window, rate: float
) -> Array:
    """Return the held-day table of ``palette``, from ``tables`` when a block made it."""
    key = (palette.shape, palette.tobytes())
    found = tables.get(key) if tables is not None else None
    if found is None:
        found = held_days(palette, moved[0], moved[1], window[0], window[1], rate)
        if tables is not None:
            tables[key] = found
    return found


def _arrays(mv: Moves, assets: int) -> tuple[Array, Array, Array, Array]:
    """Return ``(before, after, full, missing)`` as the compiled loop takes them: C-ordered,
    and with no rows where ``Fill.CLOSE`` has none (one compiled version serves both fills)."""
    empty, none = np.zeros((0, assets)), np.zeros((0, assets), dtype=bool)
    return (
        np.ascontiguousarray(mv.before, dtype=np.float64),
        empty if mv.after is None else np.ascontiguousarray(mv.after, dtype=np.float64),
        empty if mv.full is None else np.ascontiguousarray(mv.full, dtype=np.float64),
        none if mv.missing is None else np.ascontiguousarray(mv.missing, dtype=bool),
    )


def finish(results: Sequence[BlockStats], window: Window, windows: Sequence[Window]) -> SweepResult:
    """Join the blocks' statistics, in combination order, into a ``SweepResult``."""
    stats = np.concatenate([r[0] for r in results])
    columns = {name: stats[:, i] for i, name in enumerate(PATH_STATS)}
    metrics = path_metrics(columns, window[1] - window[0])
    per_window = np.concatenate([r[1] for r in results], axis=1)
    window_metrics = tuple(
        finish_returns({n: per_window[w, :, i] for i, n in enumerate(RETURN_STATS)}, hi - lo)
        for w, (lo, hi) in enumerate(windows)
    )
    return SweepResult(metrics, tuple(windows), window_metrics)


def _targets(weights_for: WeightsFor, indices: Sequence[int], settings: Settings) -> Array:
    targets = weights_for(indices)
    return as_spread(targets) if settings.spread else targets


@dataclass(frozen=True, slots=True)
class Fold:
    """One walk-forward step: positions ``[lo, hi)`` of its windows and what was picked."""

    train: tuple[int, int]
    test: tuple[int, int]
    best: int
    in_sample: Metrics
    out_of_sample: Metrics


@dataclass(frozen=True, slots=True)
class WalkForward:
    folds: list[Fold]
    out_of_sample: Metrics  # the stitched test windows
    in_sample: Metrics  # the hindsight best over the same span
    hindsight_best: int
    net: Array  # daily net returns of the stitched test windows


def fold_windows(window: tuple[int, int], train: int, test: int) -> list[tuple[Window, Window]]:
    """Return rolling ``(train, test)`` windows; the last test window may be shorter."""
    start, stop = window
    if train < 2 or test < 2:
        raise UsageError("walk-forward windows need at least two sessions each")
    out = []
    lo = start
    while lo + train + 2 <= stop:
        hi = lo + train
        out.append(((lo, hi), (hi, min(hi + test, stop))))
        lo += test
    if not out:
        raise UsageError(
            f"walk-forward {train}:{test} needs more than {train + 1} sessions, "
            f"the window has {stop - start}"
        )
    return out


def walk_windows(windows: list[tuple[Window, Window]]) -> list[Window]:
    """Return the windows a sweep must measure for ``walk_forward``: each training window,
    then the span of the test windows."""
    return [train for train, _ in windows] + [(windows[0][1][0], windows[-1][1][1])]


def walk_forward(
    weights_for: WeightsFor,
    result: SweepResult,
    mv: Moves,
    windows: list[tuple[Window, Window]],
    settings: Settings,
    rank_by: str,
) -> WalkForward:
    """Pick the best combination on each training window and trade it on the test window.

    ``result`` is a sweep that measured ``walk_windows(windows)``.
    """
    rate = settings.rate
    best = [result.best_in(train, rank_by) for train, _ in windows]
    chosen = sorted(set(best))
    targets = _targets(weights_for, chosen, settings)
    column = {combo: i for i, combo in enumerate(chosen)}
    folds = []
    for (train, test), combo in zip(windows, best, strict=True):
        path = targets[:, [column[combo]]]
        folds.append(
            Fold(
                train, test, combo, _metrics(path, mv, train, rate), _metrics(path, mv, test, rate)
            )
        )
    span = (windows[0][1][0], windows[-1][1][1])
    stitched = _stitch(targets, [column[b] for b in best], windows)
    sim = simulate(stitched, mv, span[0], span[1], rate)
    hindsight = result.best_in(span, rank_by)
    in_sample = _metrics(_targets(weights_for, [hindsight], settings), mv, span, rate)
    return WalkForward(
        folds, Metrics.from_columns(sim.metrics()), in_sample, hindsight, sim.net[:, 0]
    )


def _metrics(path: Array, mv: Moves, window: tuple[int, int], rate: float) -> Metrics:
    return Metrics.from_columns(simulate(path, mv, window[0], window[1], rate).metrics())


def _stitch(targets: Array, picks: list[int], windows: list[tuple[Window, Window]]) -> Array:
    """Return one path following each fold's pick from the close its training window ends.

    Cash before the first pick; afterwards pick k rules the decisions from the last session of
    its training window up to the last session of the next one.
    """
    out = np.zeros((len(targets), 1, targets.shape[-1]))
    ends = [hi - 1 for (_, hi), _ in windows] + [len(targets)]
    for k, pick in enumerate(picks):
        out[ends[k] : ends[k + 1], 0] = targets[ends[k] : ends[k + 1], pick]
    return out
