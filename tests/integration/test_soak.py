"""The fault-injection soak (see tests/soak.py): 250 sessions under a seeded storm of faults.

Run with ``-s`` to see the figures. ``benchmarks/bench_soak_faults.py`` runs longer ones.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from tests.soak import check, run_clean, run_soak

pytestmark = pytest.mark.integration

SESSIONS = 250


def test_soak_250_sessions_with_faults(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # yfinance's pandas deprecations, not ours
        faulty = run_soak(tmp_path, SESSIONS, seed=3, faults=True, name="faulty")
        clean = run_clean(tmp_path, SESSIONS, seed=3)
    figures = check(faulty, clean)
    print("\nsoak:", figures)
    assert figures["sessions"] == SESSIONS
    assert figures["alert sessions"] > 10  # the market plants a rotation every ~23 sessions
    faults = figures["faults"]
    assert isinstance(faults, dict)
    kinds = {k.split(":")[0] for k in faults}
    assert {"data", "telegram"} <= kinds and faulty.soak.crashes >= 1
    bad_data = {"data: weekend", "data: outlier", "data: truncated", "data: empty member"}
    assert bad_data <= set(faults)  # each check at the door met at least once
    assert figures["alerts lost, doubled, from bad data"] == (0, 0, 0)
