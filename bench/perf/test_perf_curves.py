"""Best-k error curve on 10^7 float32 values against numpy.sort of the same array (the floor).

Target: the full curve in at most 1.5x the sort. Both sides are timed interleaved (best of 7 each), so background
load hits them alike. Run: pytest bench/perf/test_perf_curves.py --benchmark-enable -s
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pytest
from conftest import report_ratio

import sparsity as sp

N = 10**7
ROUNDS = 7


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    return np.random.default_rng(0).standard_cauchy(N).astype(np.float32)


def _interleaved(fns: dict[str, Callable[[], object]], repeat: int = ROUNDS) -> dict[str, float]:
    """Best time of each function (seconds), calls interleaved round by round."""
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeat):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def test_full_curve_vs_sort(benchmark, data):
    curve = benchmark.pedantic(sp.best_k_error, args=(data,), rounds=1, iterations=1, warmup_rounds=1)
    assert curve.shape == (N + 1,)
    t = _interleaved({"ours": lambda: sp.best_k_error(data), "sort": lambda: np.sort(data)})
    report_ratio("best_k_error full curve, 1e7 float32", t["ours"], "numpy.sort", t["sort"], "<= 1.5")


def test_values_at_small_k_vs_sort(benchmark, data):
    k = np.array([1, 10, 100, 1000])
    benchmark.pedantic(sp.best_k_error, args=(data, k), rounds=1, iterations=1, warmup_rounds=1)
    t = _interleaved({"ours": lambda: sp.best_k_error(data, k), "sort": lambda: np.sort(data)})
    report_ratio("best_k_error at 4 small k (partition), 1e7 float32", t["ours"], "numpy.sort", t["sort"], "< 1")
