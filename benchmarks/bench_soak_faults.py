"""The fault-injection soak, longer: N sessions per seed, several seeds (tests/soak.py).

The CI test runs 250 sessions with one seed; this runs more of both and prints the figures.
Run: python benchmarks/bench_soak_faults.py [SESSIONS] [SEEDS]   (default 600 sessions, 3 seeds)
"""

from __future__ import annotations

import sys
import tempfile
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(sessions: int, seeds: int) -> None:
    from tests.soak import check, run_clean, run_soak

    warnings.simplefilter("ignore")  # yfinance's pandas deprecation noise
    for seed in range(1, seeds + 1):
        with tempfile.TemporaryDirectory() as tmp:
            faulty = run_soak(Path(tmp), sessions, seed=seed, faults=True, name="faulty")
            clean = run_clean(Path(tmp), sessions, seed=seed)
            figures = check(faulty, clean)  # raises on a lost, doubled or wrong alert
        print(f"seed {seed}: OK")
        for key, value in figures.items():
            print(f"  {key}: {value}")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    main(args[0] if args else 600, args[1] if len(args) > 1 else 3)
