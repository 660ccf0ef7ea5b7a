"""Run a sweep on an existing Dask distributed cluster (``rotabot sweep --cluster ADDRESS``).

rotabot does not grow a cluster of its own: it connects to a scheduler someone started
(``dask scheduler``, then ``dask worker tcp://HOST:8786`` on each machine, every one with the
same rotabot installed). The market data and the asset moves go to every worker once
(``scatter``). The grid is cut into tasks of a few seconds each, sized by timing a block here
(those first blocks are kept, not wasted); each task is a range of combinations that a worker
runs block by block through the very loop of a local sweep (``sweep.run_block``). What comes
back is raw statistics, joined and ranked here by ``sweep.finish``, so the ranking is exactly
a local run's. Walk-forward windows are measured in the same pass, in the same tasks.

Imported only when ``--cluster`` is given: dask is the optional extra ``rotabot[cluster]``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from bot.backtest.codes import Codes
from bot.backtest.engine import Moves, Settings
from bot.backtest.sweep import (
    BlockStats,
    Progress,
    SweepResult,
    Tables,
    Window,
    blocks,
    finish,
    run_block,
)
from bot.errors import BotError, UsageError

CONNECT_SECONDS = 5.0
TASK_SECONDS = 2.0
RETRIES = 1
"""A task that raises is tried once more; one whose worker dies is moved to another worker by
the scheduler, up to its ``allowed-failures`` (3 by default), then the sweep fails."""

CodesOf = Callable[[Any, Sequence[int]], Codes]
"""``(market data, indices) -> Codes``: picklable, the data given to it on the worker."""


class ClusterError(BotError):
    """The cluster could not be reached, or could not finish the sweep (exit status 1)."""


def cluster_sweep(
    address: str,
    codes_of: CodesOf,
    data: object,
    combos: int,
    mv: Moves,
    window: Window,
    settings: Settings,
    *,
    windows: Sequence[Window] = (),
    progress: Progress | None = None,
    task_seconds: float = TASK_SECONDS,
    connect_seconds: float = CONNECT_SECONDS,
    block: int | None = None,
) -> SweepResult:
    """Sweep ``combos`` combinations on the cluster at ``address``; as ``sweep.sweep``."""
    distributed = _distributed()
    client = connect(address, connect_seconds)
    try:
        parts = blocks(combos, len(mv.sessions), mv.before.shape[1], block)
        head, pace = _calibrate(codes_of, data, parts[:2], mv, window, settings, windows)
        done = sum(len(r[0]) for r in head)
        # Tasks of a few seconds, but at least two per worker thread to keep every core busy.
        block_size = len(parts[0])
        cores = max(sum(client.nthreads().values()), 1)
        share = (combos - done) // (2 * cores) // block_size * block_size
        size = max(block_size, min(task_size(pace, task_seconds, block_size), share))
        if progress is not None:
            progress(done, combos)
        ranges = [range(lo, min(lo + size, combos)) for lo in range(done, combos, size)]
        if not ranges:
            return finish(head, window, windows)
        shared = client.scatter([data, mv], broadcast=True)
        job = uuid.uuid4().hex[:8]
        futures = [
            client.submit(
                run_range, codes_of, *shared, r, window, settings, tuple(windows), len(parts[0]),
                key=f"rotabot-sweep-{job}-{r.start}", retries=RETRIES,
            )
            for r in ranges
        ]  # fmt: skip
        tail = _gather(distributed, client, futures, ranges, (done, combos), progress)
        return finish([*head, *tail], window, windows)
    except OSError as exc:
        raise ClusterError(f"lost the Dask scheduler at {address}: {exc}") from exc
    finally:
        client.close()


def connect(address: str, seconds: float = CONNECT_SECONDS) -> Any:
    """Return a client of the scheduler at ``address``; ClusterError within ``seconds``."""
    distributed = _distributed()
    try:
        return distributed.Client(address, timeout=seconds, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ClusterError(
            f"cannot reach the Dask scheduler at {address} within {seconds:g} s: {exc}; "
            "start one with `dask scheduler` and workers with `dask worker ADDRESS`"
        ) from exc
    except ValueError as exc:
        raise UsageError(f"--cluster {address!r}: {exc}") from exc


def run_range(
    codes_of: CodesOf,
    data: object,
    mv: Moves,
    indices: range,
    window: Window,
    settings: Settings,
    windows: Sequence[Window],
    block: int,
) -> BlockStats:
    """One task, on a worker: the combinations at ``indices``, ``block`` at a time, joined."""
    tables: Tables = {}
    parts = [
        run_block(codes_of(data, indices[lo : lo + block]), mv, window, settings, windows, tables)
        for lo in range(0, len(indices), block)
    ]
    return _join(parts)


def task_size(seconds_per_combo: float, target: float, block: int) -> int:
    """Return combinations per task so that one takes about ``target`` seconds (whole blocks)."""
    wanted = target / max(seconds_per_combo, 1e-9)
    return max(block, int(wanted // block) * block)


def _calibrate(
    codes_of: CodesOf,
    data: object,
    parts: Sequence[range],
    mv: Moves,
    window: Window,
    settings: Settings,
    windows: Sequence[Window],
) -> tuple[list[BlockStats], float]:
    """Run the first two blocks here (the first loads the compiled loop, the second is timed);
    return their statistics and the seconds a combination took."""
    tables: Tables = {}
    head, seconds = [], 0.0
    for part in parts:
        started = time.perf_counter()
        head.append(run_block(codes_of(data, part), mv, window, settings, windows, tables))
        seconds = (time.perf_counter() - started) / len(part)
    return head, seconds


def _gather(
    distributed: Any,
    client: Any,
    futures: list[Any],
    ranges: list[range],
    done_of: tuple[int, int],
    progress: Progress | None,
) -> list[BlockStats]:
    """Wait for every task, feeding the progress bar as they finish; results in grid order."""
    size = {f.key: len(r) for f, r in zip(futures, ranges, strict=True)}
    done, combos = done_of
    try:
        for future in distributed.as_completed(futures, loop=client.loop):
            if future.status == "error":
                future.result()  # raises the task's own error
            done += size[future.key]
            if progress is not None:
                progress(done, combos)
        return [f.result() for f in futures]
    except (distributed.scheduler.KilledWorker, distributed.client.FutureCancelledError) as exc:
        # KilledWorker: a task's workers kept dying; cancelled: every worker holding the
        # scattered data died, so the tasks cannot run anywhere.
        raise ClusterError(
            f"a worker died running part of the sweep, past its retries ({exc}); "
            "check the workers' memory and logs"
        ) from exc
    finally:
        for f in futures:
            f.release()


def _join(parts: Sequence[BlockStats]) -> BlockStats:
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts], axis=1)


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:  # an optional extra
        raise UsageError(
            "--cluster needs dask distributed: pip install 'rotabot[cluster]'"
        ) from exc
    return distributed
