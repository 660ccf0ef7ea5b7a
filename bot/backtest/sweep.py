"""Parameter sweeps and walk-forward selection on top of the vectorised engine.

A sweep runs every parameter combination over one window: the strategy computes the target
weights of a block of combinations at once and the engine simulates the block as paths of one
array, so a 1,000-combination grid costs a few dozen array passes, not 1,000 backtests. Blocks
run on a small thread pool (numpy releases the GIL in its loops).

Walk-forward: on each training window pick the combination that ranks best there, trade it
over the following test window only, and stitch the test windows together. Switching from one
fold's choice to the next is traded and charged like any other rebalance, and a choice made
at the close of a training window's last session acts from the next decision on, so the
stitched figure is one a user could have had. Next to it, the in-sample figure: the single
combination that ranks best over the same test span with hindsight.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from bot.backtest.engine import Moves, Settings, as_spread, simulate
from bot.backtest.metrics import Metrics, return_metrics
from bot.errors import UsageError

Array = np.ndarray
WeightsFor = Callable[[Sequence[int]], Array]
"""Target weights ``(sessions, len(indices), assets)`` of the combinations at ``indices``."""
Progress = Callable[[int, int], None]

"""Metrics a sweep can rank by; higher is better for each (drawdowns are negative)."""


@dataclass(frozen=True, slots=True)
class SweepResult:
    """Every combination over one window: ``metrics`` values shaped ``(combos,)``, ``net``
    the daily net returns shaped ``(sessions, combos)``."""

    metrics: dict[str, Array]
    net: Array

    def order(self, by: str) -> Array:
        """Return combination indices, best first by metric ``by`` (undefined values last)."""
        return rank(self.metrics[by])


def rank(values: Array) -> Array:
    keyed = np.where(np.isnan(values), -np.inf, values)
    order: Array = np.argsort(-keyed, kind="stable")
    return order


def sweep(
    weights_for: WeightsFor,
    combos: int,
    mv: Moves,
    window: tuple[int, int],
    settings: Settings,
    *,
    block: int = 100,
    workers: int = 2,
    progress: Progress | None = None,
) -> SweepResult:
    """Simulate ``combos`` parameter combinations over ``window`` (positions ``start, stop``)."""
    if combos < 1:
        raise ValueError("a sweep needs at least one combination")
    start, stop = window
    blocks = [list(range(lo, min(lo + block, combos))) for lo in range(0, combos, block)]
    net = np.empty((stop - start, combos))
    parts: list[dict[str, Array]] = []

    def run(indices: list[int]) -> dict[str, Array]:
        sim = simulate(_targets(weights_for, indices, settings), mv, start, stop, settings.rate)
        net[:, indices[0] : indices[-1] + 1] = sim.net
        return sim.metrics()

    done = 0
    with ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:
        for part in pool.map(run, blocks):
            parts.append(part)
            done += len(part["cagr"])
            if progress is not None:
                progress(done, combos)
    metrics = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    return SweepResult(metrics, net)


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


def fold_windows(
    window: tuple[int, int], train: int, test: int
) -> list[tuple[tuple[int, int], tuple[int, int]]]:
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


def walk_forward(
    weights_for: WeightsFor,
    result: SweepResult,
    mv: Moves,
    windows: list[tuple[tuple[int, int], tuple[int, int]]],
    settings: Settings,
    rank_by: str,
    offset: int,
) -> WalkForward:
    """Pick the best combination on each training window and trade it on the test window.

    ``result`` is the sweep over the session positions starting at ``offset``.
    """
    rate = settings.rate
    best = [int(_best(result, lo - offset, hi - offset, rank_by)) for (lo, hi), _ in windows]
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
    hindsight = int(_best(result, span[0] - offset, span[1] - offset, rank_by))
    in_sample = _metrics(_targets(weights_for, [hindsight], settings), mv, span, rate)
    return WalkForward(
        folds, Metrics.from_columns(sim.metrics()), in_sample, hindsight, sim.net[:, 0]
    )


def _best(result: SweepResult, lo: int, hi: int, by: str) -> int:
    return int(rank(return_metrics(result.net[lo:hi])[by])[0])


def _metrics(path: Array, mv: Moves, window: tuple[int, int], rate: float) -> Metrics:
    return Metrics.from_columns(simulate(path, mv, window[0], window[1], rate).metrics())


def _stitch(
    targets: Array, picks: list[int], windows: list[tuple[tuple[int, int], tuple[int, int]]]
) -> Array:
    """Return one path following each fold's pick from the close its training window ends.

    Cash before the first pick; afterwards pick k rules the decisions from the last session of
    its training window up to the last session of the next one.
    """
    out = np.zeros((len(targets), 1, targets.shape[-1]))
    ends = [hi - 1 for (_, hi), _ in windows] + [len(targets)]
    for k, pick in enumerate(picks):
        out[ends[k] : ends[k + 1], 0] = targets[ends[k] : ends[k + 1], pick]
    return out
