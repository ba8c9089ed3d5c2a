"""Tests for the order-statistic and quantile tail estimators of sparsity.tails._fit (hill, moments, pickands,
ranksize, stable), the double bootstrap and the bootstrap confidence interval."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sparsity.tails import _estimators as est
from sparsity.tails._fit import fit_tail


def pareto(n: int, alpha: float, seed: int) -> np.ndarray:
    """Pareto sample, survival tail index alpha: U**(-1/alpha)."""
    return np.random.default_rng(seed).random(n) ** (-1.0 / alpha)


# ------------------------------------------------------------------------------------- formulas, literally


def test_hill_moments_pickands_ranksize_formulas():
    x = pareto(1000, 1.7, 0)
    d = np.sort(x)[::-1]
    k = 100
    logs = np.log(d[:k] / d[k])
    hill = fit_tail(x, "hill", k=k)
    assert hill.alpha == pytest.approx(1 / logs.mean(), rel=1e-12)
    assert hill.xmin == d[k] and hill.n_tail == k
    assert hill.alpha_se == pytest.approx(hill.alpha / math.sqrt(k), rel=1e-12)
    m1, m2 = logs.mean(), (logs**2).mean()
    g = m1 + 1 - 0.5 / (1 - m1**2 / m2)
    assert fit_tail(x, "moments", k=k).alpha == pytest.approx(1 / g, rel=1e-10)
    gp = math.log((d[k - 1] - d[2 * k - 1]) / (d[2 * k - 1] - d[4 * k - 1])) / math.log(2)
    assert fit_tail(x, "pickands", k=k).alpha == pytest.approx(1 / gp, rel=1e-12)
    slope = np.polyfit(np.log(d[:k]), np.log(np.arange(1, k + 1)), 1)[0]
    assert fit_tail(x, "ranksize", k=k).alpha == pytest.approx(-slope, rel=1e-9)


def test_stable_table_matches_scipy():
    levy = pytest.importorskip("scipy.stats").levy_stable
    for i in (2, 12, 22, 32):  # alpha = 0.5, 1.0, 1.5, 2.0
        a = est._STABLE_ALPHA[i]
        q = levy.ppf([0.75, 0.95], a, 0.0)
        assert est._STABLE_NU[i] == pytest.approx(q[1] / q[0], rel=1e-5)  # table printed to 6 decimals
    assert est._STABLE_NU[12] == pytest.approx(math.tan(0.45 * math.pi), rel=1e-6)  # Cauchy


# ------------------------------------------------------------------------------------------------ recovery
# With 20 seeds and a 95% interval the number of misses is Binomial(20, 0.05) if the coverage is nominal:
# P(misses > 4) = 0.0026. The same bound is used for every estimator whose CI is asymptotically valid.
MAX_MISSES = 4


@pytest.mark.parametrize("method", ["hill", "moments"])
def test_pareto_recovery_double_bootstrap(method):
    misses = 0
    for seed in range(20):
        f = fit_tail(pareto(2000, 1.5, seed), method, rng=seed, n_boot=50)
        misses += not (f.alpha_ci[0] <= 1.5 <= f.alpha_ci[1])
    assert misses <= MAX_MISSES


@pytest.mark.parametrize("df", [2, 3])
def test_student_t_recovery_moments(df):
    """Student-t with df degrees of freedom has tail index df. The moment estimator with the double-bootstrap k
    (Hill is biased here: second-order parameter rho = -2/df)."""
    misses = 0
    for seed in range(20):
        x = np.random.default_rng(seed).standard_t(df, 5000)
        f = fit_tail(x, "moments", rng=seed, n_boot=50)
        misses += not (f.alpha_ci[0] <= df <= f.alpha_ci[1])
    assert misses <= MAX_MISSES


@pytest.mark.parametrize("alpha", [0.8, 1.5, 1.9])
def test_stable_recovery_mcculloch(alpha):
    levy = pytest.importorskip("scipy.stats").levy_stable
    misses = 0
    for seed in range(20):
        x = levy.rvs(alpha, 0.0, size=3000, random_state=seed)
        f = fit_tail(x, "stable")
        assert 0 < f.alpha <= 2
        misses += not (f.alpha_ci[0] <= alpha <= f.alpha_ci[1])
    assert misses <= MAX_MISSES


def test_bootstrap_ci_coverage_and_determinism():
    misses = 0
    for seed in range(20):
        f = fit_tail(pareto(1000, 1.2, seed), "hill", k=200, ci="bootstrap", n_boot=100, rng=seed)
        misses += not (f.alpha_ci[0] <= 1.2 <= f.alpha_ci[1])
        assert f.details["n_boot_used"] == 100
    assert misses <= MAX_MISSES
    a = fit_tail(pareto(500, 1.2, 0), "csn", ci="bootstrap", n_boot=20, rng=7)
    b = fit_tail(pareto(500, 1.2, 0), "csn", ci="bootstrap", n_boot=20, rng=7)
    assert a.alpha_ci == b.alpha_ci


# ------------------------------------------------------------------------------------------ double bootstrap


def test_double_bootstrap_deterministic_and_in_range():
    x = np.sort(np.abs(np.random.default_rng(1).standard_t(3, 4000)))
    k1 = est.double_bootstrap_k(x, n_boot=50, rng=np.random.default_rng(5))
    k2 = est.double_bootstrap_k(x, n_boot=50, rng=np.random.default_rng(5))
    assert k1 == k2
    assert est._K_FLOOR <= k1 <= x.size - 1
    f = fit_tail(x, "hill", rng=5, n_boot=50)
    assert f.details["k_double_bootstrap"] and f.n_tail == f.details["k"]


def test_density_convention_everywhere():
    x = pareto(3000, 1.5, 3)
    for m in ("csn", "hill", "moments", "pickands", "kernel", "ranksize", "stable"):
        f = fit_tail(x, m, k=None if m in ("csn", "stable") else 300)
        assert f.alpha_density == f.alpha + 1.0, m


# ----------------------------------------------------------------------------------------------- bad input


def test_bad_k_and_options():
    x = pareto(100, 1.5, 0)
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 99\]; got 100"):
        fit_tail(x, "hill", k=100)
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 25\]; got 26"):  # Pickands: 4k <= n
        fit_tail(x, "pickands", k=26)
    with pytest.raises(ValueError, match="k must be None or an integer >= 1"):
        fit_tail(x, "hill", k=0)
    with pytest.raises(TypeError, match="k must be None or an integer"):
        fit_tail(x, "hill", k=2.0)
    with pytest.raises(ValueError, match="apply to method='csn' only"):
        fit_tail(x, "hill", xmin=2.0)
    with pytest.raises(ValueError, match="ci must be"):
        fit_tail(x, "hill", ci="exact")
    with pytest.raises(ValueError, match="hill needs"):
        fit_tail(np.r_[np.arange(1.0, 40.0), np.full(5, 50.0)], "hill", k=4)
    with pytest.raises(ValueError, match="moments needs"):
        fit_tail(np.r_[np.arange(1.0, 40.0), np.full(5, 50.0)], "moments", k=4)
    with pytest.raises(ValueError, match="pickands needs"):
        fit_tail(np.r_[np.ones(60), np.arange(2.0, 42.0)], "pickands", k=25)


def test_stable_outside_table_warns_and_clips():
    x = np.random.default_rng(0).standard_normal(2000) ** 9  # nu = (q.9 / q.5)**9 ~ 3e3, above the table (115)
    with pytest.warns(UserWarning, match="above McCulloch"):
        f = fit_tail(x, "stable")
    assert f.details["clipped_to_table"] and f.alpha == pytest.approx(0.4)


def _double_bootstrap_reference(x, n_boot, rng, eps=0.1):
    """The double bootstrap written out directly: resamples of values, sorted, logs taken per resample."""
    n = x.size
    n1 = int(n ** (1.0 - eps))
    n2 = max(int(n1 * n1 / n), 3)
    q1, q2 = np.zeros(n1 - 1), np.zeros(n2 - 1)
    for _ in range(n_boot):
        for q, size in ((q1, n1), (q2, n2)):
            s = np.sort(rng.choice(x, size, replace=True))[::-1]
            ld = np.log(s) - np.log(s[0])
            k = np.arange(1, size)
            s1, s2, nxt = np.cumsum(ld)[:-1], np.cumsum(ld * ld)[:-1], ld[1:]
            m1 = s1 / k - nxt
            m2 = np.maximum(s2 / k - 2 * nxt * s1 / k + nxt * nxt, 0.0)
            q += (m2 - 2 * m1 * m1) ** 2
    return int(np.argmin(q1)) + 1, int(np.argmin(q2)) + 1


@pytest.mark.parametrize(("seed", "n"), [(0, 3000), (1, 20_000), (2, 60_000)])
def test_double_bootstrap_minimisers_match_the_direct_computation(monkeypatch, seed, n):
    # Index sorting, logs taken once and two resamples at a time on threads (n1 >= 2**14 here for n = 60000)
    # change only rounding: the AMSE minimisers k1, k2 are those of the direct computation, and the chosen k
    # is the same with and without threads.
    rng = np.random.default_rng(seed)
    x = np.sort(np.abs(rng.standard_t(3, n) if seed % 2 else rng.pareto(1.5, n) + 1.0))
    k1, k2 = _double_bootstrap_reference(x, 30, np.random.default_rng(seed))
    calls = []
    original = est._aamse_curve
    monkeypatch.setattr(est, "_aamse_curve", lambda la, idx, k: calls.append(idx.size) or original(la, idx, k))
    k_threads = est.double_bootstrap_k(x, n_boot=30, rng=np.random.default_rng(seed))
    monkeypatch.setattr(est, "_PARALLEL_BOOT_MIN", 10**12)
    assert est.double_bootstrap_k(x, n_boot=30, rng=np.random.default_rng(seed)) == k_threads
    # recompute k from the reference minimisers with the same closing formula
    n1 = int(n**0.9)
    if k1 > k2 > 1:
        l1, ln1 = np.log(k1), np.log(n1)
        k_ref = (k1 * k1 / k2) * ((l1 * l1) / (2 * ln1 - l1) ** 2) ** ((ln1 - l1) / ln1)
    else:
        k_ref = k1 * (n / n1) ** (2.0 / 3.0)
    assert k_threads == int(min(max(round(k_ref), est._K_FLOOR), n - 1))
    assert len(calls) == 4 * 30  # two runs, two resamples per round


def test_in_place_aamse_equals_the_m1_m2_formula():
    # the in-place arithmetic evaluates the textbook expressions in the same order: bitwise equal
    rng = np.random.default_rng(9)
    x = np.sort(rng.pareto(1.2, 5000) + 1.0)
    idx = rng.integers(0, x.size, 4000)
    ld = np.log(x)[np.sort(idx)[::-1]]
    ld -= ld[0]
    k = np.arange(1, ld.size, dtype=np.float64)
    s1, s2, nxt = np.cumsum(ld)[:-1], np.cumsum(ld * ld)[:-1], ld[1:]
    m1 = s1 / k - nxt
    m2 = np.maximum(s2 / k - 2.0 * nxt * s1 / k + nxt * nxt, 0.0)
    ref = (m2 - 2.0 * m1 * m1) ** 2
    got = est._aamse_curve(np.log(x), idx.copy(), np.arange(1, idx.size, dtype=np.float64))
    np.testing.assert_array_equal(got, ref)


def test_method_bodies_return_the_typed_estimate():
    from sparsity.tails._csn import csn_method
    from sparsity.tails._estimate import TailEstimate
    from sparsity.tails._kernel import kernel_estimator
    from sparsity.tails._moments_dbs import moments_dbs, pickands_with_k

    x = np.sort(pareto(2000, 1.5, 4))
    rng = np.random.default_rng(0)
    bodies = (est.hill, moments_dbs, pickands_with_k, kernel_estimator, est.ranksize)
    results = [body(x, k=200, n_boot=10, rng=rng) for body in bodies]
    results.append(est.stable(x, k=None, n_boot=10, rng=rng))
    results.append(csn_method(x, discrete=False, xmin=None, xmax=None, min_tail=3, scan="pruned"))
    for r in results:
        assert type(r) is TailEstimate and isinstance(r.details, dict)
        assert r._fields == ("alpha", "xmin", "n_tail", "ks_distance", "alpha_se", "details")
