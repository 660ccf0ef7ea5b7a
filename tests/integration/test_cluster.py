"""``rotabot sweep --cluster``: a local Dask cluster (2 worker processes on 127.0.0.1) ranks
exactly as a local run, and an unreachable scheduler or a dying worker fails cleanly."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import strategies
from bot.backtest.cluster import ClusterError, cluster_sweep
from bot.backtest.codes import Codes
from bot.backtest.engine import Settings, moves
from bot.backtest.market import MarketData, market_data
from bot.backtest.sweep import sweep
from bot.cli.main import main
from tests.synthetic import (
    panel_from_returns,
    random_returns,
    small_config,
    write_config,
    write_csv_dir,
)

distributed = pytest.importorskip("distributed")
pytestmark = pytest.mark.integration

TICKERS = ["C1", "C2", "C3", "C4", "P1", "P2", "P3", "BENCH"]
GRID = ["--grid", "lookback=5,10,21,42,63", "--grid", "rebalance=1,2,5,10,21",
        "--grid", "margin=0,0.01,0.03"]  # fmt: skip


def _returns() -> Any:
    returns = random_returns(TICKERS, 700, seed=7, vol=0.012)
    returns.loc[:, ["C1", "C2", "C3", "C4"]] += 0.002 * np.sin(np.arange(700) / 45.0)[:, None]
    return returns


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A scheduler and two worker processes on loopback; yields the scheduler's address."""
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=":0", silence_logs=40,
    ) as local:  # fmt: skip
        yield local.scheduler_address


@pytest.fixture
def world(tmp_path: Path) -> list[str]:
    folder = write_csv_dir(panel_from_returns(_returns()), tmp_path / "prices")
    config = write_config(
        tmp_path,
        '[data]\nhistory_start = "2019-01-01"\n'
        "[signals]\nmin_history = 60\nshort_window = 40\nlong_window = 250\n",
    )
    return ["--config", str(config), "--prices-dir", str(folder)]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_cluster_ranks_exactly_as_a_local_run(
    capsys: pytest.CaptureFixture[str], world: list[str], cluster: str
) -> None:
    args = [*world, "sweep", "--strategy", "rs_momentum", *GRID, "--walk-forward", "200:100",
            "--format", "json"]  # fmt: skip
    code, here, _ = run(capsys, *args)
    assert code == 0
    code, there, _ = run(capsys, *args, "--cluster", cluster)
    assert code == 0
    assert json.loads(there) == json.loads(here)
    assert json.loads(here)["combinations"] == 75


def _market() -> MarketData:
    universe = small_config(min_history=60, short_window=40, long_window=250).universe
    return market_data(panel_from_returns(_returns()), universe)


def test_many_small_tasks_give_the_local_figures(cluster: str) -> None:
    grid = strategies.grid_of("rs_momentum", {"lookback": [str(n) for n in range(3, 80, 2)],
                                              "rebalance": ["1", "3", "7", "21"]})  # fmt: skip
    data = _market()
    mv, window, settings = moves(data, Settings().fill), (100, 700), Settings()
    codes_of = strategies.GridCodes(grid)
    seen: list[int] = []
    far = cluster_sweep(cluster, codes_of, data, len(grid), mv, window, settings,
                        windows=[(100, 300)], progress=lambda d, t: seen.append(d),
                        task_seconds=1e-4, block=8)  # fmt: skip
    near = sweep(lambda idx: codes_of(data, idx), len(grid), mv, window, settings,
                 windows=[(100, 300)], engine="numba")  # fmt: skip
    for key, values in near.metrics.items():
        np.testing.assert_array_equal(far.metrics[key], values)
    np.testing.assert_array_equal(far.window_metrics[0]["sharpe"], near.window_metrics[0]["sharpe"])
    assert len(seen) > 3 and seen == sorted(seen) and seen[-1] == len(grid) == 156


def test_an_unreachable_scheduler_fails_within_seconds(
    capsys: pytest.CaptureFixture[str], world: list[str]
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    code, _, err = run(capsys, *world, "sweep", "--strategy", "rs_momentum", *GRID,
                       "--cluster", f"tcp://127.0.0.1:{port}")  # fmt: skip
    assert code == 1 and time.monotonic() - started < 15
    assert "cannot reach the Dask scheduler" in err and err.count("\n") == 1


@dataclass(frozen=True)
class Dying:
    """Codes that kill the worker process computing them (here, on the client, they work)."""

    grid: strategies.Grid

    def __call__(self, data: MarketData, indices: Sequence[int]) -> Codes:
        try:
            distributed.get_worker()
        except ValueError:  # not on a worker
            return strategies.GridCodes(self.grid)(data, indices)
        os._exit(3)


def test_a_worker_dying_past_its_retries_fails_the_sweep() -> None:
    import cloudpickle
    import dask

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    grid = strategies.grid_of("rs_momentum", {"lookback": [str(n) for n in range(3, 80)]})
    data = _market()
    mv = moves(data, Settings().fill)
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}), distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=":0", silence_logs=50,
    ) as local, pytest.raises(ClusterError, match="a worker died"):  # fmt: skip
        cluster_sweep(local.scheduler_address, Dying(grid), data, len(grid), mv, (100, 700),
                      Settings(), task_seconds=1e-4, block=8)  # fmt: skip
