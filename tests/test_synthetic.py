"""Tests for sparsity.synthetic: laws against scipy.stats, determinism, backends, and random-matrix edges.

Significance conventions used below (every test is seeded, so each outcome is fixed; the levels say how
unlikely a failure would be for a correct generator under a fresh seed):

- KS tests: under H0 the p-value is uniform, so ``p > 1e-3`` fails a correct generator with probability 1e-3.
- Mean tests: CLT z-score with the sample standard deviation, |z| <= 4.5 (two-sided 7e-6 per test, so a
  family of up to ~100 such tests still fails with probability < 1e-3).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import sparsity
from sparsity import synthetic
from sparsity._array_api import to_numpy
from sparsity.synthetic import _haar

KS_LEVEL = 1e-3
Z_MAX = 4.5

# --------------------------------------------------------------------------- vectors against scipy.stats

STABLE_CASES = [
    # (alpha, beta, scale, loc)
    (1.5, 0.0, 1.0, 0.0),
    (1.5, 0.7, 2.0, 1.0),
    (0.7, 1.0, 1.0, 0.0),
    (0.7, -1.0, 0.5, -2.0),
    (1.0, 0.0, 1.0, 0.0),
    (1.0, 1.0, 3.0, 0.5),  # S1 alpha = 1 location term (2/pi) beta scale log(scale) = 2.10
    (1.0, -1.0, 0.4, 0.0),
    (1.3, -1.0, 1.0, 0.0),
    (2.0, 0.0, 1.5, 0.0),
]


@pytest.mark.parametrize(("alpha", "beta", "scale", "loc"), STABLE_CASES)
def test_stable_matches_scipy_levy_stable(alpha, beta, scale, loc):
    # n = 2000 keeps scipy's numerical CDF affordable (~0.5 ms per point); a KS test at this size detects a
    # CDF shift of 1.95 / sqrt(2000) = 0.044, far below the effect of a wrong parameterisation (a wrong S1
    # alpha = 1 shift moves the location by 2.1 scales in the beta = 1 case).
    x = synthetic.stable(alpha, 2000, beta=beta, scale=scale, loc=loc, rng=11)
    law = stats.levy_stable(alpha, beta, loc=loc, scale=scale)
    assert stats.kstest(x, law.cdf).pvalue > KS_LEVEL


@pytest.mark.parametrize("beta", [-1.0, 0.3, 1.0])
def test_stable_alpha_one_scale_and_location_are_s1(beta):
    # Same seed -> same standard draws Z, so the S1 definition is an exact identity:
    # X(scale=c, loc=d) = c Z + d + (2/pi) beta c log c for alpha = 1, and c Z + d otherwise.
    c, d = 3.0, -0.25
    z1 = synthetic.stable(1.0, 1000, beta=beta, rng=5)
    x1 = synthetic.stable(1.0, 1000, beta=beta, scale=c, loc=d, rng=5)
    np.testing.assert_allclose(x1, c * z1 + d + 2.0 / math.pi * beta * c * math.log(c), rtol=1e-12, atol=1e-12)
    z2 = synthetic.stable(1.4, 1000, beta=beta, rng=5)
    x2 = synthetic.stable(1.4, 1000, beta=beta, scale=c, loc=d, rng=5)
    np.testing.assert_allclose(x2, c * z2 + d, rtol=1e-12, atol=1e-12)


def test_stable_totally_skewed_support():
    # alpha < 1 and beta = 1 (-1): support is [loc, inf) ((-inf, loc]) in S1.
    assert np.all(synthetic.stable(0.6, 5000, beta=1.0, loc=2.0, rng=2) >= 2.0)
    assert np.all(synthetic.stable(0.6, 5000, beta=-1.0, loc=2.0, rng=2) <= 2.0)


@pytest.mark.parametrize(
    ("draw", "law"),
    [
        (lambda r: synthetic.pareto(1.5, 5000, xmin=2.0, rng=r), stats.pareto(1.5, scale=2.0)),
        (lambda r: synthetic.pareto(0.6, 5000, rng=r), stats.pareto(0.6)),
        (lambda r: np.abs(synthetic.pareto(2.5, 5000, symmetric=True, rng=r)), stats.pareto(2.5)),
        (lambda r: synthetic.student_t(3.0, 5000, scale=2.0, rng=r), stats.t(3.0, scale=2.0)),
        (lambda r: synthetic.student_t(0.8, 5000, rng=r), stats.t(0.8)),
        (lambda r: synthetic.gaussian(5000, scale=2.0, loc=1.0, rng=r), stats.norm(1.0, 2.0)),
        (lambda r: synthetic.laplace(5000, scale=0.5, loc=-1.0, rng=r), stats.laplace(-1.0, 0.5)),
        (lambda r: synthetic.generalized_gaussian(0.5, 5000, scale=2.0, rng=r), stats.gennorm(0.5, scale=2.0)),
        (lambda r: synthetic.generalized_gaussian(3.0, 5000, rng=r), stats.gennorm(3.0)),
        (lambda r: synthetic.lognormal(5000, sigma=0.7, mu=1.0, rng=r), stats.lognorm(0.7, scale=math.e)),
    ],
    ids=[
        "pareto",
        "pareto-alpha<1",
        "pareto-symmetric",
        "t3",
        "t0.8",
        "gaussian",
        "laplace",
        "gengauss0.5",
        "gengauss3",
        "lognormal",
    ],
)
def test_vector_laws_match_scipy(draw, law):
    assert stats.kstest(draw(7), law.cdf).pvalue > KS_LEVEL


def test_pareto_is_not_lomax():
    x = synthetic.pareto(2.0, 1000, xmin=3.0, rng=0)
    assert x.min() >= 3.0
    # numpy's Generator.pareto (Lomax) starts at 0; ours starts at xmin: the smallest of 1000 draws is
    # below xmin * (1 - log(1000)/ (1000 alpha))^-1 ~ xmin (1 + 0.0035) except with probability 1e-3.
    assert x.min() < 3.0 * (1.0 + math.log(1000) / (1000 * 2.0)) * 1.0001


def test_symmetric_pareto_signs_are_fair():
    x = synthetic.pareto(1.5, 10000, symmetric=True, rng=4)
    frac = np.mean(x > 0)
    assert abs(frac - 0.5) <= Z_MAX * 0.5 / math.sqrt(x.size)


@pytest.mark.parametrize(
    ("distribution", "alpha", "law"),
    [
        ("pareto", 1.2, stats.pareto(1.2)),  # scipy's pareto is the true Pareto (support [1, inf)), not Lomax
        ("stable", 1.2, stats.levy_stable(1.2, 0.0)),
        ("student_t", 3.0, stats.t(3.0)),
    ],
)
def test_levy_matrix_entries(distribution, alpha, law):
    w = synthetic.levy_matrix(alpha, 40, 50, distribution=distribution, rng=3)
    assert w.shape == (40, 50)
    x = np.abs(w).ravel() if distribution == "pareto" else w.ravel()
    assert stats.kstest(x, law.cdf).pvalue > KS_LEVEL


def test_power_law_sequence_and_sparse_plus_noise():
    x = synthetic.power_law_sequence(1.5, 100, scale=2.0)
    np.testing.assert_allclose(x, 2.0 * np.arange(1, 101) ** (-1 / 1.5), rtol=1e-15)
    y = synthetic.sparse_plus_noise(1000, 17, 0.0, amplitude=3.0, rng=1)
    assert np.count_nonzero(y) == 17
    assert set(np.abs(y[y != 0]).tolist()) == {3.0}
    z = synthetic.sparse_plus_noise(1000, 17, 0.1, amplitude=3.0, rng=1)
    # Same seed: same noise and positions; the noise part has sd 0.1.
    assert np.count_nonzero(np.abs(z) > 2.0) == 17


# --------------------------------------------------------------------------- tail index via fit_tail


@pytest.mark.parametrize("alpha", [0.8, 1.5, 2.5])
def test_tail_index_recovered_by_fit_tail(alpha):
    if not hasattr(sparsity, "fit_tail"):
        pytest.skip("sparsity.fit_tail has not landed yet")
    n = 20000
    x = synthetic.pareto(alpha, n, xmin=1.0, symmetric=True, rng=21)
    fit = sparsity.fit_tail(x, method="csn", xmin=1.0)
    # With xmin known the MLE is n / sum(log|x|), sum ~ Gamma(n, 1/alpha): sd(alpha_hat) = alpha / sqrt(n)
    # (to O(1/n)) and its bias alpha / (n - 1) is negligible.
    assert abs(fit.alpha - alpha) <= Z_MAX * alpha / math.sqrt(n)


def test_power_law_spectrum_tail_index_recovered_by_fit_tail():
    if not hasattr(sparsity, "fit_tail"):
        pytest.skip("sparsity.fit_tail has not landed yet")
    k, a = 4000, 1.6
    s = synthetic.power_law_spectrum(k, sv_tail_index=a, scale=0.5)
    fit = sparsity.fit_tail(s, method="csn", xmin=0.5)
    # Deterministic quantiles: the MLE is a k / sum(-log q_i), q_i = (i - 1/2)/k. The midpoint rule on
    # int_0^1 -log u du = 1 errs by < (1 + 1/24 * pi^2/6 * 4)/k < 1.3/k (first cell (1 - log 2)/k, the
    # rest by the midpoint error bound), so |alpha_hat / a - 1| < 1.3 / k.
    assert abs(fit.alpha / a - 1.0) < 1.3 / k


# --------------------------------------------------------------------------- determinism, rng, backends

GENERATORS = {
    "stable": lambda **kw: synthetic.stable(1.3, (3, 4), beta=0.4, **kw),
    "pareto": lambda **kw: synthetic.pareto(1.5, 12, symmetric=True, **kw),
    "student_t": lambda **kw: synthetic.student_t(2.0, 12, **kw),
    "gaussian": lambda **kw: synthetic.gaussian(12, **kw),
    "laplace": lambda **kw: synthetic.laplace(12, **kw),
    "generalized_gaussian": lambda **kw: synthetic.generalized_gaussian(1.5, 12, **kw),
    "lognormal": lambda **kw: synthetic.lognormal(12, **kw),
    "sparse_plus_noise": lambda **kw: synthetic.sparse_plus_noise(12, 3, 0.1, **kw),
    "gaussian_matrix": lambda **kw: synthetic.gaussian_matrix(5, 7, **kw),
    "levy_matrix": lambda **kw: synthetic.levy_matrix(1.5, 5, 7, **kw),
    "spiked_matrix": lambda **kw: synthetic.spiked_matrix(6, 5, [3.0, 2.0], rank=2, **kw),
    "spectrum_matrix": lambda **kw: synthetic.spectrum_matrix([3.0, 2.0, 1.0], 5, 4, **kw),
}


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_same_seed_same_numbers(name):
    gen = GENERATORS[name]
    a, b, c = gen(rng=123), gen(rng=123), gen(rng=124)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # A Generator is consumed: two calls on one Generator differ, and a fresh Generator with the same seed
    # reproduces the integer-seed result.
    g = np.random.default_rng(123)
    first, second = gen(rng=g), gen(rng=g)
    np.testing.assert_array_equal(first, a)
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_backends_give_the_same_numbers(name, xp):
    gen = GENERATORS[name]
    ref = gen(rng=9)
    out = gen(rng=9, xp=xp)
    assert type(out).__module__.split(".")[0] == xp.__name__.split(".")[0]
    assert out.dtype == xp.float64
    np.testing.assert_array_equal(to_numpy(out), ref)
    out32 = gen(rng=9, xp=xp, dtype=xp.float32)
    assert out32.dtype == xp.float32
    np.testing.assert_array_equal(to_numpy(out32), ref.astype(np.float32))


@pytest.mark.parametrize(
    "call",
    [
        lambda xp: synthetic.power_law_sequence(1.5, 10, xp=xp),
        lambda xp: synthetic.power_law_spectrum(10, alpha_ww=2.0, xp=xp),
    ],
)
def test_deterministic_generators_on_backends(call, xp):
    np.testing.assert_array_equal(to_numpy(call(xp)), call(None))


def test_array_inputs_from_every_backend(xp):
    # spectrum_matrix and bbp_outlier take arrays: any namespace goes through sparsity._input.as_array
    s = [3.0, 2.0, 1.0]
    np.testing.assert_array_equal(
        synthetic.spectrum_matrix(xp.asarray(s), 5, 4, rng=2), synthetic.spectrum_matrix(s, 5, 4, rng=2)
    )
    theta = [0.5, 2.0]
    np.testing.assert_array_equal(
        synthetic.bbp_outlier(xp.asarray(theta), 50, 80), synthetic.bbp_outlier(theta, 50, 80)
    )


def test_numpy_dtype_names_accepted():
    assert synthetic.gaussian(3, rng=0, dtype="float32").dtype == np.float32
    assert synthetic.gaussian(3, rng=0, dtype=np.float32).dtype == np.float32


def test_float32_overflow_is_clipped_with_warning():
    # Pareto with alpha = 0.05: P(X > 3.4e38) = (3.4e38)^-0.05 = 0.012, so ~24 of 2000 draws overflow float32.
    with pytest.warns(UserWarning, match="exceed the largest finite float32"):
        x = synthetic.pareto(0.05, 2000, rng=0, dtype=np.float32)
    assert np.all(np.isfinite(x))
    assert x.max() == np.finfo(np.float32).max


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: synthetic.stable(2.5, 10), ValueError, r"alpha must be a finite real number in \(0, 2\]; got 2\.5"),
        (lambda: synthetic.stable(0.0, 10), ValueError, "alpha"),
        (lambda: synthetic.stable(1.5, 10, beta=1.5), ValueError, "beta"),
        (lambda: synthetic.stable(1.5, 10, scale=-1.0), ValueError, "scale"),
        (lambda: synthetic.stable("1.5", 10), TypeError, "alpha"),
        (lambda: synthetic.pareto(1.5, -3), ValueError, r"size must be an integer >= 0; got -3"),
        (lambda: synthetic.pareto(True, 3), TypeError, r"alpha must be a finite real number > 0; got True"),
        (lambda: synthetic.pareto(1.5, 2.5), TypeError, "size"),
        (lambda: synthetic.pareto(1.5, 10, xmin=0.0), ValueError, "xmin"),
        (lambda: synthetic.pareto(float("nan"), 10), ValueError, "alpha"),
        (lambda: synthetic.gaussian(10, rng=-1), ValueError, r"rng must be None, an integer seed >= 0 .*; got -1"),
        (lambda: synthetic.gaussian(10, rng=1.5), TypeError, "rng"),
        (lambda: synthetic.gaussian(10, rng=np.random.RandomState(0)), TypeError, "rng"),
        (lambda: synthetic.gaussian(10, dtype=np.int32), TypeError, "dtype"),
        (lambda: synthetic.gaussian(10, xp="numpy"), TypeError, "xp"),
        (lambda: synthetic.sparse_plus_noise(10, 11, 0.1), ValueError, "k"),
        (lambda: synthetic.sparse_plus_noise(10, 2, -0.1), ValueError, "noise_scale"),
        (lambda: synthetic.power_law_sequence(1.0, 0), ValueError, "n"),
        (lambda: synthetic.gaussian_matrix(0, 3), ValueError, "n"),
        (
            lambda: synthetic.levy_matrix(2.5, 3, 3, distribution="stable"),
            ValueError,
            r"alpha must be in \(0, 2\] for distribution='stable'; got 2\.5",
        ),
        (lambda: synthetic.levy_matrix(alpha=0.0, n=3, m=3), ValueError, r"alpha must be a finite real number > 0"),
        (
            lambda: synthetic.levy_matrix(1.5, 3, 3, distribution="cauchy"),
            ValueError,
            r"distribution must be one of \['pareto', 'stable', 'student_t'\]; got 'cauchy'",
        ),
        (
            lambda: synthetic.marchenko_pastur_edges(3, 3, kind="eig"),
            ValueError,
            r"kind must be one of \['singular', 'eigen'\]; got 'eig'",
        ),
        (lambda: synthetic.spiked_matrix(5, 4, 1.0, rank=5), ValueError, "rank"),
        (lambda: synthetic.spiked_matrix(5, 4, [1.0, 2.0], rank=1), ValueError, "theta"),
        (lambda: synthetic.spiked_matrix(5, 4, -1.0), ValueError, "theta"),
        (lambda: synthetic.bbp_outlier(-1.0, 5, 4), ValueError, r"theta must be >= 0; got -1\.0"),
        (lambda: synthetic.bbp_outlier([1.0, np.nan], 5, 4), ValueError, r"theta must contain only finite values"),
        (lambda: synthetic.spectrum_matrix([1.0, 2.0, 3.0], 5, 2), ValueError, "singular_values"),
        (lambda: synthetic.spectrum_matrix([1.0, -2.0], 5, 2), ValueError, "singular_values"),
        (lambda: synthetic.spectrum_matrix([[1.0]], 5, 2), ValueError, r"singular_values must have 1 dimension; got"),
        (lambda: synthetic.spectrum_matrix(["a"], 5, 2), TypeError, r"singular_values must be a real numeric array"),
        (lambda: synthetic.spectrum_matrix([np.inf], 5, 2), ValueError, r"singular_values must contain only finite"),
        (lambda: synthetic.power_law_spectrum(10), ValueError, "alpha_ww"),
        (lambda: synthetic.power_law_spectrum(10, alpha_ww=2.0, sv_tail_index=2.0), ValueError, "exactly one"),
        (lambda: synthetic.power_law_spectrum(10, alpha_ww=1.0), ValueError, "alpha_ww"),
    ],
)
def test_bad_input_names_the_parameter(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# --------------------------------------------------------------------------- random-matrix edges

# Tracy-Widom (beta = 1) quantiles (Tracy & Widom 1996; Bornemann 2010 tables): F1(-5) ~ 3e-4 and
# 1 - F1(4) ~ 2e-4, so z in [-5, 4] holds with probability > 0.999.
TW_LOW, TW_HIGH = -5.0, 4.0


def _tw_centring(n: int, m: int) -> tuple[float, float, float, float]:
    """Finite-size centre and scale of the extreme eigenvalues of X^T X (unnormalised, unit variance).

    Largest: Johnstone (2001) with the N - 1/2, M - 1/2 correction; smallest (soft edge, N > M): Ma (2012),
    (mu_- - lambda_min) / s_- -> TW1.
    """
    a, b = math.sqrt(max(n, m) - 0.5), math.sqrt(min(n, m) - 0.5)
    mu_hi, s_hi = (a + b) ** 2, (a + b) * (1 / a + 1 / b) ** (1 / 3)
    mu_lo, s_lo = (a - b) ** 2, (a - b) * (1 / b - 1 / a) ** (1 / 3)
    return mu_hi, s_hi, mu_lo, s_lo


def _gram_eigs(w: np.ndarray) -> np.ndarray:
    g = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    return np.linalg.eigvalsh(g)


@pytest.mark.slow
@pytest.mark.parametrize(("n", "m"), [(2000, 4000), (2000, 1000)])
def test_marchenko_pastur_edges_at_n2000(n, m):
    lo, hi = synthetic.marchenko_pastur_edges(n, m)
    lo2, hi2 = synthetic.marchenko_pastur_edges(n, m, kind="eigen")
    assert (lo2, hi2) == pytest.approx((lo * lo, hi * hi), rel=1e-15)
    mu_hi, s_hi, mu_lo, s_lo = _tw_centring(n, m)
    # Unnormalised eigenvalue units: lambda(X^T X) = m * s^2. The asymptotic edges differ from the finite-size
    # centres by O(1), far inside one Tracy-Widom unit (O(n^(1/3)) ~ 15 here).
    assert abs(m * hi * hi - mu_hi) < s_hi
    assert abs(m * lo * lo - mu_lo) < s_lo
    ev = _gram_eigs(synthetic.gaussian_matrix(n, m, rng=3)) * m
    assert TW_LOW <= (ev[-1] - mu_hi) / s_hi <= TW_HIGH
    assert TW_LOW <= (mu_lo - ev[0]) / s_lo <= TW_HIGH


@pytest.mark.slow
def test_bbp_outliers_at_n2000():
    n, m = 2000, 4000
    thetas = [3.0, 2.0]
    assert synthetic.bbp_threshold(n, m) == pytest.approx(0.5**0.25)
    w = synthetic.spiked_matrix(n, m, thetas, rank=2, rng=5)
    top = np.sqrt(_gram_eigs(w)[::-1][:2])
    pred = synthetic.bbp_outlier(thetas, n, m)
    # Each singular value of X / sqrt(m) + P is a (1/sqrt(m))-Lipschitz function of the Gaussian X (Weyl), so
    # by Gaussian concentration P(|s_i - E s_i| > t) <= 2 exp(-m t^2 / 2). With a union bound over the two
    # outliers at total level delta = 1e-4: t = sqrt(2 log(4 / delta) / m) = 0.073. The outlier's mean
    # differs from its limit by O(1/n) (no n^(-1/2) bias in the CLT of Bai & Yao 2008): allowance 1/min(n, m).
    tol = math.sqrt(2 * math.log(4 / 1e-4) / m) + 1.0 / min(n, m)
    np.testing.assert_allclose(top, pred, rtol=0, atol=tol)
    # The outliers are separated from the bulk edge by far more than the tolerance: the test has power.
    assert pred.min() - synthetic.marchenko_pastur_edges(n, m)[1] > 5 * tol


@pytest.mark.slow
def test_subcritical_spike_stays_at_the_edge():
    n, m = 2000, 1000
    theta = 1.0  # below bbp_threshold = 2^(1/4) = 1.19
    assert theta < synthetic.bbp_threshold(n, m)
    assert synthetic.bbp_outlier(theta, n, m) == synthetic.marchenko_pastur_edges(n, m)[1]
    ev = _gram_eigs(synthetic.spiked_matrix(n, m, theta, rng=8)) * m
    mu_hi, s_hi, _, _ = _tw_centring(n, m)
    # Subcritical spikes leave the Tracy-Widom law of the top eigenvalue unchanged (Baik, Ben Arous, Peche 2005).
    assert TW_LOW <= (ev[-1] - mu_hi) / s_hi <= TW_HIGH


def test_bbp_formulas_are_transpose_symmetric_and_continuous():
    for n, m in [(300, 500), (500, 300), (400, 400)]:
        g = n / m
        tc = synthetic.bbp_threshold(n, m, sigma=2.0)
        # W^T = sigma X^T / sqrt(m) + theta v u^T is the same model for shape (m, n) with noise level
        # sigma' = sigma sqrt(n / m) (its noise is divided by sqrt(n)) and the same theta.
        sigma_t = 2.0 * math.sqrt(g)
        assert synthetic.bbp_threshold(m, n, sigma=sigma_t) == pytest.approx(tc, rel=1e-14)
        for th in [0.5 * tc, 3.7]:
            pred = synthetic.bbp_outlier(th, n, m, sigma=2.0)
            assert synthetic.bbp_outlier(th, m, n, sigma=sigma_t) == pytest.approx(pred, rel=1e-14)
        # Continuity at the threshold: the outlier equals the bulk edge there.
        edge = synthetic.marchenko_pastur_edges(n, m, sigma=2.0)[1]
        assert synthetic.bbp_outlier(tc * (1 + 1e-9), n, m, sigma=2.0) == pytest.approx(edge, rel=1e-8)


# --------------------------------------------------------------------------- prescribed spectra


@pytest.mark.parametrize(("n", "m", "k"), [(300, 200, 200), (200, 300, 200), (250, 250, 250), (300, 200, 7)])
def test_spectrum_matrix_has_the_prescribed_spectrum(n, m, k):
    s = np.sort(np.random.default_rng(0).uniform(0.1, 10.0, size=k))  # any order is allowed
    w = synthetic.spectrum_matrix(s, n, m, rng=1)
    got = np.linalg.svd(w, compute_uv=False)
    expected = np.zeros(min(n, m))
    expected[:k] = s[::-1]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10)


def test_spectrum_matrix_with_power_law_spectrum():
    s = synthetic.power_law_spectrum(100, alpha_ww=2.5)
    w = synthetic.spectrum_matrix(s, 150, 100, rng=2)
    np.testing.assert_allclose(np.linalg.svd(w, compute_uv=False), s, rtol=1e-12, atol=1e-10)


def test_power_law_spectrum_conventions():
    k = 500
    a = synthetic.power_law_spectrum(k, alpha_ww=2.0)
    b = synthetic.power_law_spectrum(k, sv_tail_index=2.0)
    np.testing.assert_array_equal(a, b)  # sv_tail_index = 2 (alpha_ww - 1)
    assert np.all(np.diff(a) < 0)
    # Empirical survival at s_i is exactly the Pareto survival (s_i / scale)^-a at the midpoint (i - 1/2)/k.
    s = synthetic.power_law_spectrum(k, sv_tail_index=1.3, scale=2.0)
    np.testing.assert_allclose((s / 2.0) ** -1.3, (np.arange(1, k + 1) - 0.5) / k, rtol=1e-12)


@pytest.mark.parametrize(("n", "k"), [(5, 5), (7, 3)])
def test_haar_columns_are_haar(n, k):
    # Each column of a Haar Stiefel matrix is uniform on the sphere S^(n-1), so every entry u satisfies
    # (u + 1)/2 ~ Beta((n-1)/2, (n-1)/2). Without the sign fix of Mezzadri (2007) U[0, 0] would always be <= 0
    # and the last column of a square factor would carry a biased sign.
    gen = np.random.default_rng(17)
    draws = np.stack([_haar.haar_columns(gen, n, k) for _ in range(3000)])
    np.testing.assert_allclose(draws[0].T @ draws[0], np.eye(k), atol=1e-12)
    law = stats.beta((n - 1) / 2, (n - 1) / 2, loc=-1.0, scale=2.0)
    for i, j in [(0, 0), (n - 1, k - 1), (0, k - 1), (n - 1, 0)]:
        assert stats.kstest(draws[:, i, j], law.cdf).pvalue > KS_LEVEL


@pytest.mark.parametrize("k", [3, 1])  # k = 3 applies U with ormqr; k = 1 forms both factors
def test_spectrum_matrix_is_orthogonally_invariant(k):
    # For W = U diag(s) V^T with independent Haar U, V: E W_ij = 0 and E W_ij^2 = sum(s^2) / (n m) for every
    # entry. CLT z-test per entry with the sample sd (12 entries x 2 moments, |z| <= 4.5).
    n, m, reps = 4, 3, 4000
    s = np.array([3.0, 2.0, 1.0])[:k]
    gen = np.random.default_rng(23)
    w = np.stack([synthetic.spectrum_matrix(s, n, m, rng=gen) for _ in range(reps)])
    for values, target in [(w, 0.0), (w**2, np.sum(s**2) / (n * m))]:
        z = (values.mean(axis=0) - target) / (values.std(axis=0, ddof=1) / math.sqrt(reps))
        assert np.all(np.abs(z) <= Z_MAX), z


def test_dtype_resolution_is_warning_free_and_accepts_0d_theta():
    import warnings

    import array_api_strict

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = synthetic.gaussian(3, rng=0, xp=array_api_strict, dtype=np.float32)
        assert out.dtype == array_api_strict.float32
        with pytest.raises(TypeError, match="dtype"):
            synthetic.gaussian(3, rng=0, dtype=array_api_strict.float32)  # a strict dtype for NumPy output
    np.testing.assert_array_equal(
        synthetic.spiked_matrix(5, 4, np.array(2.0), rng=1), synthetic.spiked_matrix(5, 4, 2.0, rng=1)
    )
