"""Tests for sparsity.expected: exact finite-n Pareto curves and decay, and the simulated predictions."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from sparsity.curves import best_k_error, decay_exponent, decay_grid, default_decay_window, loglog_fit
from sparsity.expected import (
    decay_prediction_interval,
    expected_best_k_error,
    finite_n_decay_exponent,
    log_gamma_ratio,
    model_sampler,
    simulated_decay_exponent,
)


def _direct(n: int, alpha: float, p: float, mp) -> list[float]:
    """(sum_{j>k} E[X_(j)^p])^(1/p) for k = 0..n, term by term from the bottom in 40-digit arithmetic."""
    s = mp.mpf(p) / mp.mpf(alpha)
    out = [0.0] * (n + 1)
    tot = mp.mpf(0)
    for j in range(n, 0, -1):  # out[j - 1] = sum over j' >= j
        if j <= s:
            out[:j] = [math.inf] * j
            break
        tot += mp.exp(mp.loggamma(n + 1) + mp.loggamma(j - s) - mp.loggamma(j) - mp.loggamma(n + 1 - s))
        out[j - 1] = float(tot ** (1 / mp.mpf(p)))
    return out


@pytest.mark.parametrize(
    ("n", "alpha", "p"),
    [(1500, 1.0, 2.0), (1500, 0.7, 2.0), (1500, 2.0, 2.0), (1500, 5.0, 2.0), (1500, 1.3, 1.0), (1500, 0.05, 2.0),
     (1500, 2.0000001, 2.0), (200, 0.9, 0.5)],
)  # fmt: skip
def test_matches_definition_in_high_precision(n, alpha, p):
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 40
    e = expected_best_k_error(n, alpha, p=p)
    refs = _direct(n, alpha, p, mp)
    # both sides of the switch from the closed form to the direct tail sum at k = n - 1024
    for k in sorted({0, 1, 5, 40, 100, n // 2, n - 1025, n - 1024, n - 1023, n - 3, n - 1, n} & set(range(n + 1))):
        ref = refs[k]
        if math.isinf(ref):
            assert e[k] == math.inf
        else:
            # every step is a few ulps of log-values of size <= s log n: 1e-12 relative is a wide margin
            assert e[k] == pytest.approx(ref, rel=1e-12, abs=0.0), k


def test_closed_forms():
    # alpha = 1, p = 2: E sigma_k^2 = n (n - k) / (k - 1) exactly (Gamma ratios collapse)
    n = 10**6
    k = np.array([2, 10, 1000, n - 5, n - 1])
    assert expected_best_k_error(n, 1.0, k) == pytest.approx(np.sqrt(n * (n - k) / (k - 1.0)), rel=1e-12)
    # k = 0 with alpha > p: n E[X^p] = n alpha / (alpha - p)
    assert float(expected_best_k_error(50, 3.0, 0, p=1.5, xmin=2.0)) == pytest.approx(
        2.0 * (50 * 3.0 / 1.5) ** (1 / 1.5), rel=1e-13
    )


def test_log_gamma_ratio_against_mpmath():
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 40
    for x, t in [(10.0, 2.5), (1e12, 4.0), (1e6, 1e-9), (25.0, -0.3), (3.0, 2.9), (1e4, 200.0), (1e15, -0.5)]:
        ref = mp.loggamma(mp.mpf(x)) - mp.loggamma(mp.mpf(x) - mp.mpf(t))
        assert float(log_gamma_ratio(x, t)) == pytest.approx(float(ref), rel=1e-13)


def test_curve_shape_and_infinite_entries():
    e = expected_best_k_error(100, 0.5, p=2.0)  # s = 4: k + 1 <= 4 infinite
    assert e.shape == (101,) and np.all(np.isinf(e[:4])) and np.isfinite(e[4]) and e[100] == 0.0
    assert np.all(np.diff(e[4:]) < 0)
    assert isinstance(expected_best_k_error(100, 3.0, 7), np.float64)
    assert expected_best_k_error(100, 3.0, [[1, 2]]).shape == (1, 2)
    assert expected_best_k_error(100, 3.0, 7, xmin=3.0) == pytest.approx(3.0 * expected_best_k_error(100, 3.0, 7))
    rel = expected_best_k_error(100, 3.0, relative=True)
    assert rel[0] == pytest.approx(1.0) and rel[100] == 0.0


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: expected_best_k_error(0, 1.0), ValueError, "n must be an integer >= 1"),
        (lambda: expected_best_k_error(10, -1.0), ValueError, "alpha must be"),
        (lambda: expected_best_k_error(10, 1.0, 11), ValueError, "k must satisfy"),
        (lambda: expected_best_k_error(10, 1.0, relative=True), ValueError, "relative=True needs alpha > p"),
        (lambda: finite_n_decay_exponent(100, 1.0, k_min=50, k_max=20), ValueError, "fit window"),
        (lambda: finite_n_decay_exponent(100, 0.01), ValueError, "infinite"),
    ],
)
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("alpha", [0.8, 1.5, 3.0])
def test_against_monte_carlo_means(alpha):
    n, reps = 1000, 4000
    x = np.random.default_rng(int(alpha * 10)).random((reps, n)) ** (-1.0 / alpha)
    ks = decay_grid(*default_decay_window(n))
    sq = np.stack([best_k_error(row, ks) ** 2 for row in x])  # (reps, len(ks)): sigma_k^2 per replicate
    mean, se = sq.mean(axis=0), sq.std(axis=0, ddof=1) / math.sqrt(reps)
    expected = expected_best_k_error(n, alpha, ks) ** 2
    # Monte Carlo z-scores; sigma_k^2 has a finite variance here (k + 1 > 4 / alpha), so the CLT applies
    assert np.max(np.abs(mean - expected) / se) < 4.5
    # the decay exponent of the mean curve: delta method, s = -sum w_i log sqrt(m_i), w = regression weights
    lk = np.log(ks)
    w = (lk - lk.mean()) / np.sum((lk - lk.mean()) ** 2)
    z = (sq / expected) @ w / 2.0  # per-replicate linearised contribution
    s_se = z.std(ddof=1) / math.sqrt(reps)
    s_mc = loglog_fit(ks, np.sqrt(mean)).exponent
    assert abs(s_mc - finite_n_decay_exponent(n, alpha).exponent) < 4 * s_se


def test_finite_n_exponent_converges_to_the_asymptote():
    ns = [10**3, 10**4, 10**6, 10**9, 10**12, 10**16]
    for alpha in (0.5, 1.0, 1.5, 1.9, 3.0):
        limit = max(0.0, 1 / alpha - 0.5)
        gaps = [finite_n_decay_exponent(n, alpha).exponent - limit for n in ns]
        # converges from above, monotonically: the finite-n curve bends down towards k = n (the -n term) and
        # the Gamma-ratio corrections (1 + O(1/k)) steepen the small-k end
        assert all(g > 0 for g in gaps) and all(b < a for a, b in itertools.pairwise(gaps)), (alpha, gaps)
    # alpha = 1, p = 2, n -> inf at a fixed window: sigma_k^2 -> n^2 / (k - 1): exponent of sqrt(1/(k-1))
    ks = decay_grid(10, 10**4)
    limit = loglog_fit(ks, 1 / np.sqrt(ks - 1.0)).exponent
    assert finite_n_decay_exponent(10**16, 1.0, k_min=10, k_max=10**4).exponent == pytest.approx(limit, abs=1e-10)


def test_finite_n_window_matches_decay_exponent():
    fit = finite_n_decay_exponent(10**4, 1.2)
    assert (fit.k_min, fit.k_max) == default_decay_window(10**4)
    # the same fit on the same grid: on a vector equal to the expected order statistics it is the same number
    fit2 = finite_n_decay_exponent(2000, 0.2, k_min=2, k_max=40)  # s = 10: the window starts at k = 10
    assert fit2.k_min == 10


# ------------------------------------------------------------------------------------------ simulation


def test_simulated_exponents_equal_decay_exponent_per_replicate():
    f = model_sampler("stable", 0.8)
    sim = simulated_decay_exponent(f, 5000, replicates=12, rng=3)
    root = np.random.SeedSequence(int(np.random.default_rng(3).integers(0, 2**63 - 1)))
    ref = [decay_exponent(f(np.random.default_rng(c), 5000)).exponent for c in root.spawn(12)]
    assert sim.exponents == pytest.approx(np.array(ref), abs=1e-12)
    assert sim.mean == pytest.approx(np.mean(ref)) and (sim.k_min, sim.k_max) == default_decay_window(5000)
    # replicate r does not depend on the number of replicates
    more = simulated_decay_exponent(f, 5000, replicates=20, rng=3)
    assert np.array_equal(more.exponents[:12], sim.exponents)


def test_prediction_interval_coverage_pareto():
    n, m = 2000, 400
    iv = decay_prediction_interval(model_sampler("pareto", 1.0), n, replicates=m, rng=10)
    fresh = simulated_decay_exponent(model_sampler("pareto", 1.0), n, replicates=m, rng=11).exponents
    cover = np.mean((fresh >= iv.lo) & (fresh <= iv.hi))
    # the interval's own coverage has sd ~ sqrt(2 * .95 * .05 / m) (two estimated quantiles), the fresh count
    # adds a binomial sd sqrt(.95 * .05 / m): 4 sigma of the sum
    sd = math.sqrt(3 * 0.95 * 0.05 / m)
    assert abs(cover - 0.95) < 4 * sd


def test_alpha_uncertainty_widens_the_interval():
    n = 5000
    fixed = decay_prediction_interval(model_sampler("pareto", 1.2), n, rng=0)
    unsure = decay_prediction_interval(model_sampler("pareto", 1.2, n_tail=50), n, rng=0)
    assert unsure.hi - unsure.lo > fixed.hi - fixed.lo
    normal = decay_prediction_interval(model_sampler("student_t", 1.2, alpha_se=0.2), n, rng=0)
    assert normal.lo < normal.mean < normal.hi


def test_semiparametric_sampler():
    data = np.random.default_rng(0).standard_t(3, 5000)
    xmin = 2.0
    f = model_sampler("semiparametric", 2.5, xmin=xmin, data=data)
    y = f(np.random.default_rng(1), 20000)
    q = np.mean(np.abs(data) >= xmin)
    # tail share is Binomial(20000, q): 4 sigma
    assert abs(np.mean(y >= xmin) - q) < 4 * math.sqrt(q * (1 - q) / 20000)
    body = y[y < xmin]
    assert np.all(np.isin(body, np.abs(data)))
    with pytest.raises(ValueError, match="needs data"):
        model_sampler("semiparametric", 2.5, xmin=1.0)
    with pytest.raises(ValueError, match="at most one"):
        model_sampler("pareto", 2.5, alpha_se=0.1, n_tail=10)
    with pytest.raises(ValueError, match="law must be one of"):
        model_sampler("cauchy", 1.0)
