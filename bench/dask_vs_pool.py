"""The suite on a local Dask cluster against the local process pool, same workers, timed in the same run.

    python bench/dask_vs_pool.py [--suite quick] [--workers 2] [--tasks N] [--repeat 1]

Prints the wall time of each (Dask including the start and close of its LocalCluster), the ratio (target: Dask
within 1.2x of the pool) and whether the two results.csv agree in every column except the t_* timings.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import pandas as pd

from sparsity.harness.cases import TIMING_COLUMNS
from sparsity.harness.runner import run_suite
from sparsity.harness.suite import load_suite


def _time(suite, out: Path, **executor) -> float:
    t0 = time.perf_counter()
    run_suite(suite, out, progress=False, report=False, fresh=True, **executor)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="quick")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tasks", type=int, default=None, help="only the first N tasks of the suite")
    parser.add_argument("--repeat", type=int, default=1, help="best of N for each side")
    args = parser.parse_args()
    suite = load_suite(args.suite)
    if args.tasks:
        suite = dataclasses.replace(suite, tasks=suite.tasks[: args.tasks])
    with tempfile.TemporaryDirectory() as tmp:
        pool = min(_time(suite, Path(tmp) / "pool", workers=args.workers) for _ in range(args.repeat))
        dask = min(
            _time(suite, Path(tmp) / "dask", workers=args.workers, scheduler="local") for _ in range(args.repeat)
        )
        a, b = (pd.read_csv(Path(tmp) / d / "results.csv").drop(columns=list(TIMING_COLUMNS)) for d in ("pool", "dask"))
        equal = a.equals(b)
    print(f"suite {suite.name}: {len(suite.tasks)} tasks, {args.workers} workers, best of {args.repeat}")
    print(f"process pool      {pool:8.2f} s")
    print(f"Dask LocalCluster {dask:8.2f} s  (start and close included)")
    print(f"ratio Dask / pool {dask / pool:8.2f}  (target <= 1.2)")
    print(f"results equal except t_*: {equal}")


if __name__ == "__main__":
    main()
