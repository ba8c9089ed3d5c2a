"""Best-k error curve on 10^7 float32 values against numpy.sort of the same array (the floor).

Target: the full curve in at most 1.5x the sort. Run: pytest bench/perf/test_perf_curves.py --benchmark-enable -s
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import best_time, report_ratio

import sparsity as sp

N = 10**7


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    return np.random.default_rng(0).standard_cauchy(N).astype(np.float32)


def test_full_curve_vs_sort(benchmark, data):
    sort_s = best_time(lambda: np.sort(data), repeat=5)
    curve = benchmark.pedantic(sp.best_k_error, args=(data,), rounds=5, iterations=1, warmup_rounds=1)
    ours_s = benchmark.stats.stats.min if benchmark.stats else best_time(lambda: sp.best_k_error(data), 5)
    assert curve.shape == (N + 1,)
    report_ratio("best_k_error full curve, 1e7 float32", ours_s, "numpy.sort", sort_s, "<= 1.5")


def test_values_at_small_k_vs_sort(benchmark, data):
    k = np.array([1, 10, 100, 1000])
    sort_s = best_time(lambda: np.sort(data), repeat=5)
    benchmark.pedantic(sp.best_k_error, args=(data, k), rounds=5, iterations=1)
    ours_s = benchmark.stats.stats.min if benchmark.stats else best_time(lambda: sp.best_k_error(data, k), 5)
    report_ratio("best_k_error at 4 small k (partition), 1e7 float32", ours_s, "numpy.sort", sort_s, "< 1")
