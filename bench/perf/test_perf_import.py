"""Import time of ``import sparsity`` against ``import numpy, scipy.special, scipy.linalg`` (what it builds on).

Each import runs in a fresh interpreter (``python -X importtime`` is not needed: the wall time of ``-c`` is what a
user waits for), best of 7, both sides interleaved. Run: pytest bench/perf/test_perf_import.py --benchmark-enable -s
"""

from __future__ import annotations

import subprocess
import sys
import time

from conftest import report_ratio


def _wall(code: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - t0


def test_import_time_vs_numpy_scipy():
    ours, floor = float("inf"), float("inf")
    for _ in range(7):  # interleaved rounds: both sides see the same machine state
        floor = min(floor, _wall("import numpy, scipy.special, scipy.linalg"))
        ours = min(ours, _wall("import sparsity"))
    bare = min(_wall("pass") for _ in range(5))
    report_ratio(
        f"import sparsity (interpreter start {bare * 1e3:.0f} ms included)",
        ours,
        "import numpy+scipy.special+scipy.linalg",
        floor,
    )
