"""Performance of the exact CSN fit (``fit_tail(x, "csn")``) against powerlaw and WeightWatcher.

Run: ``pytest bench/perf/test_perf_tails.py --benchmark-enable -s``. Same Pareto samples for every tool; the
peers test every candidate xmin (their default), as we do. Before timing, each benchmark checks that the
answers are identical (alpha to 1e-9 relative, xmin exactly). Targets from the issue: >= 20x faster than the
faster peer at n = 3e4; n = 1e6 in under 30 s on 2 cores. Timings are noisy on a shared 2-core machine.
"""

from __future__ import annotations

import io
import warnings
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import pytest
from conftest import best_time, report_ratio

from sparsity.tails._csn import csn_fit
from sparsity.tails._fit import fit_tail


def _pareto(n: int, alpha: float = 1.5, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random(n) ** (-1.0 / alpha)


def _powerlaw(x: np.ndarray):
    import powerlaw

    with warnings.catch_warnings(), redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        return powerlaw.Fit(x, verbose=0)


def _weightwatcher(x: np.ndarray):
    from weightwatcher.WW_powerlaw import WWFit

    return WWFit(x)


@pytest.mark.parametrize("n", [3_000, 30_000])
def test_csn_vs_peers(benchmark, n):
    pytest.importorskip("powerlaw")
    pytest.importorskip("weightwatcher")
    x = _pareto(n)
    ours = fit_tail(x)
    ww = _weightwatcher(x)
    pl = _powerlaw(x)
    for name, peer_alpha, peer_xmin in (("powerlaw", pl.alpha, pl.xmin), ("weightwatcher", ww.alpha, ww.xmin)):
        assert ours.xmin == peer_xmin, name
        assert ours.alpha_density == pytest.approx(peer_alpha, rel=1e-9), name
    benchmark.pedantic(fit_tail, args=(x,), rounds=3, iterations=1)
    # interleaved rounds, best of each side: a peer is never timed in a different machine state than ours
    t_ours = t_ww = t_pl = float("inf")
    for _ in range(3 if n <= 3_000 else 2):
        t_ours = min(t_ours, best_time(lambda: fit_tail(x), repeat=2))
        t_ww = min(t_ww, best_time(lambda: _weightwatcher(x), repeat=1))
        t_pl = min(t_pl, best_time(lambda: _powerlaw(x), repeat=1))
    target = ">= 20x faster: ratio <= 0.05" if n >= 30_000 else ""  # the target is at n = 3e4
    report_ratio(f"tails csn n={n}", t_ours, "weightwatcher", t_ww, target=target)
    report_ratio(f"tails csn n={n}", t_ours, "powerlaw", t_pl, target=target)


def test_pruned_vs_naive_scan(benchmark):
    x = np.sort(_pareto(30_000, seed=1))
    a = csn_fit(x, scan="naive")
    b = csn_fit(x, scan="pruned")
    assert (a.xmin, a.ks_distance) == (b.xmin, b.ks_distance)
    benchmark.pedantic(csn_fit, args=(x,), rounds=3, iterations=1)
    t_pruned = best_time(lambda: csn_fit(x), repeat=3)
    t_naive = best_time(lambda: csn_fit(x, scan="naive"), repeat=1)
    report_ratio("tails csn scan n=30000", t_pruned, "our naive O(n^2) scan", t_naive)


@pytest.mark.parametrize("sample", ["lognormal body + Pareto tail", "pure Pareto (hardest: D nearly flat)"])
def test_csn_million(benchmark, sample):
    n = 1_000_000
    if sample.startswith("pure"):
        x = _pareto(n, seed=4)
    else:
        x = np.concatenate([np.random.default_rng(2).lognormal(0, 1, n // 2), 3 * _pareto(n - n // 2, seed=3)])
    benchmark.pedantic(fit_tail, args=(x,), rounds=1, iterations=1)
    t_ours = best_time(lambda: fit_tail(x), repeat=1)
    t_sort = best_time(lambda: np.sort(x), repeat=3)
    report_ratio(f"tails csn n={n} {sample} (target < 30 s)", t_ours, "numpy sort (floor)", t_sort)


@pytest.mark.parametrize(
    ("method", "top"),
    [("csn", 20_000), ("hill", 20_000), ("moments", 20_000), ("kernel", 20_000), ("pickands", 20_000), ("hill", None)],
)
def test_entry_tail_candidates(benchmark, method, top):
    # the entry-tail candidates of bench/entry_tail_study.py on one MiniLM FFN-sized matrix (1536 x 384 entries,
    # Student-t df 5), against the partial sort that extracts the top magnitudes (the floor every candidate pays)
    a = np.abs(np.random.default_rng(6).standard_t(5.0, 1536 * 384))
    x = a if top is None else np.partition(a, a.size - top)[a.size - top :]
    benchmark.pedantic(fit_tail, args=(x, method), kwargs={"rng": "data"}, rounds=1, iterations=1)
    t_ours = best_time(lambda: fit_tail(x, method, rng="data"), repeat=1)
    t_floor = best_time(lambda: np.partition(a, a.size - 20_000), repeat=3)
    where = "all entries" if top is None else f"top {top}"
    report_ratio(f"entry tail {method} on {where} of 589824", t_ours, "numpy partition (floor)", t_floor)
