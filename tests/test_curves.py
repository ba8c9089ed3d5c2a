"""Tests for sparsity.curves: closed forms, invariants, dtypes, bad input and the alpha = 2 theory."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import special, stats
from xp_helpers import xp_assert_close

import sparsity as sp
from sparsity.curves import default_decay_window
from sparsity.curves._best_k import _curve_xp

EPS = np.finfo(np.float64).eps


# ---------------------------------------------------------------- closed forms
@pytest.mark.parametrize("alpha", [0.5, 1.0, 1.5, 3.0])
def test_power_law_sequence_matches_hurwitz_zeta(alpha):
    # |x|_(j) = j^(-1/alpha): sigma_k^2 = sum_{j=k+1}^n j^(-b) = zeta(b, k+1) - zeta(b, n+1), b = 2/alpha
    # (for b < 1 through the analytic continuation of the Hurwitz zeta, which mpmath evaluates).
    n = 20_000
    x = np.arange(1, n + 1, dtype=np.float64) ** (-1.0 / alpha)
    rng = np.random.default_rng(0)
    curve = sp.best_k_error(rng.permutation(x) * rng.choice([-1.0, 1.0], n))
    b = 2.0 / alpha
    k = np.unique(np.geomspace(1, n - 1, 40).astype(int))
    if b > 1:
        ref = np.sqrt(special.zeta(b, k + 1) - special.zeta(b, n + 1))
    else:
        mpmath = pytest.importorskip("mpmath")
        mpmath.mp.dps = 40
        ref = np.array([float(mpmath.sqrt(mpmath.zeta(b, kk + 1) - mpmath.zeta(b, n + 1))) for kk in k])
    # Float64 cumulative sum of n positive terms: relative error <= n * eps (4.4e-12 here); the float64
    # zeta difference loses eps * zeta(b, k+1) / difference, below 1e-10 for these k. 1e-9 covers both.
    np.testing.assert_allclose(curve[k], ref, rtol=1e-9)
    assert curve[0] == pytest.approx(math.sqrt(np.sum(x**2)), rel=1e-13)


@pytest.mark.parametrize("p", [0.5, 1.0, 2.0, 3.0])
def test_endpoints(p):
    x = np.random.default_rng(1).standard_normal((30, 7))
    e = sp.best_k_error(x, p=p)
    assert e.shape == (x.size + 1,)
    assert e[-1] == 0.0
    np.testing.assert_allclose(e[0], np.sum(np.abs(x) ** p) ** (1 / p), rtol=1e-13)
    rel = sp.best_k_error(x, p=p, relative=True)
    assert rel[0] == pytest.approx(1.0, rel=1e-15)


def test_small_example_and_scalar_k():
    e = sp.best_k_error(np.array([3.0, -4.0, 0.0]))
    np.testing.assert_array_equal(e, [5.0, 3.0, 0.0, 0.0])
    assert float(sp.best_k_error([3.0, -4.0], 1)) == 3.0
    assert sp.best_k_error([3.0, -4.0], 1, relative=True) == pytest.approx(0.6)
    assert np.ndim(sp.best_k_error([3.0, -4.0], 1)) == 0


# ---------------------------------------------------------------- properties
finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=64)
vectors = arrays(np.float64, st.integers(1, 60), elements=finite)


@settings(max_examples=60, deadline=None)
@given(vectors, st.randoms(use_true_random=False))
def test_permutation_and_sign_invariance(x, rnd):
    perm = np.array(rnd.sample(range(x.size), x.size))
    signs = np.array([rnd.choice([-1.0, 1.0]) for _ in range(x.size)])
    np.testing.assert_allclose(sp.best_k_error(x[perm] * signs), sp.best_k_error(x), rtol=1e-12, atol=0)


@settings(max_examples=60, deadline=None)
@given(vectors, st.floats(1e-3, 1e3), st.sampled_from([1.0, 2.0, 3.0]))
def test_relative_curve_is_scale_invariant(x, c, p):
    a = sp.best_k_error(x, p=p, relative=True)
    b = sp.best_k_error(c * x, p=p, relative=True)
    # Scaling changes every term's rounding by at most a few ulps; accumulated over n <= 60 terms.
    np.testing.assert_allclose(a, b, rtol=1e-12 * x.size, atol=1e-14)


@settings(max_examples=60, deadline=None)
@given(vectors, st.sampled_from([0.5, 1.0, 2.0, 4.0]))
def test_curve_is_monotone_and_agrees_with_values_at_k(x, p):
    e = sp.best_k_error(x, p=p)
    assert np.all(np.diff(e) <= 0)
    k = np.arange(x.size + 1)
    np.testing.assert_allclose(sp.best_k_error(x, k, p=p), e, rtol=1e-12)


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
def test_partition_path_agrees_with_full_curve(p):
    x = np.random.default_rng(2).standard_cauchy(50_000)
    k = np.array([0, 1, 2, 7, 100, 3000])  # max(k) * 16 <= n: the partition path
    full = sp.best_k_error(x, p=p)
    np.testing.assert_allclose(sp.best_k_error(x, k, p=p), full[k], rtol=1e-11)
    np.testing.assert_allclose(sp.best_k_error(x, k, p=p, relative=True), full[k] / full[0], rtol=1e-11)


def test_generic_namespace_path_agrees_with_numpy_fast_path():
    import array_api_compat

    x = np.random.default_rng(3).standard_t(1.5, 10_000).astype(np.float32)
    xp = array_api_compat.array_namespace(x)
    for p in (1.0, 2.0, 2.5):
        ref = _curve_xp(np.abs(x), p, xp)
        np.testing.assert_allclose(sp.best_k_error(x, p=p), ref, rtol=1e-12)


def test_backends_agree(xp):
    x_np = np.random.default_rng(4).standard_normal(1000)
    x = xp.asarray(x_np)
    full = sp.best_k_error(x_np)
    # the generic path sorts and sums in float64 like the NumPy one (in another order): rtol 1e-13 >> n u
    xp_assert_close(sp.best_k_error(x), xp.asarray(full), rtol=1e-13)
    xp_assert_close(sp.best_k_error(x, relative=True), xp.asarray(full / full[0]), rtol=1e-13)
    k = [[0, 10], [999, 1000]]  # a 2-D k keeps its shape
    xp_assert_close(sp.best_k_error(x, xp.asarray(k)), xp.asarray(full[k]), rtol=1e-13)
    xp_assert_close(sp.best_k_error(x, k, p=1.0), xp.asarray(sp.best_k_error(x_np, p=1.0)[k]), rtol=1e-13)
    xp_assert_close(sp.best_k_error(x, 10), xp.asarray(full[10]), rtol=1e-13)
    xp_assert_close(sp.best_k_error(x, xp.asarray([], dtype=xp.int64)), xp.asarray(np.zeros(0)))
    f32 = sp.best_k_error(xp.asarray(x_np, dtype=xp.float32))
    xp_assert_close(f32, xp.asarray(sp.best_k_error(x_np.astype(np.float32))), rtol=1e-13)


def test_decay_exponent_and_effective_sparsity_on_every_backend(xp):
    x_np = np.random.default_rng(5).standard_cauchy(5000)
    x = xp.asarray(x_np)
    ref = sp.decay_exponent(x_np)
    fit = sp.decay_exponent(x)
    assert (fit.k_min, fit.k_max) == (ref.k_min, ref.k_max)
    # the same 64 curve values to ~1e-13 relative, so the log-log slope agrees to ~1e-13 / log(k_max / k_min)
    assert fit.exponent == pytest.approx(ref.exponent, rel=1e-10)
    assert fit.r2 == pytest.approx(ref.r2, rel=1e-10)
    for eps in (0.5, 0.1, 0.01):
        assert sp.effective_sparsity(x, eps) == sp.effective_sparsity(x_np, eps)
    sparse = np.zeros(5000)
    sparse[:12] = 1.0
    with pytest.raises(ValueError, match=r"too sparse .* zero from k = 12"):
        sp.decay_exponent(xp.asarray(sparse))


# ---------------------------------------------------------------- dtypes and range
@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint16, np.float16, np.float32, np.float64])
def test_dtypes_accumulate_in_float64(dtype):
    base = np.array([5, -3, 2, 0, 1, -7, 4], dtype=np.float64)
    if np.dtype(dtype).kind == "u":
        base = np.abs(base)
    e = sp.best_k_error(base.astype(dtype))
    assert e.dtype == np.float64
    np.testing.assert_allclose(e, sp.best_k_error(base), rtol=1e-15)


def test_bool_and_bfloat16_inputs():
    np.testing.assert_array_equal(sp.best_k_error(np.array([True, False, True])), [math.sqrt(2), 1.0, 0.0, 0.0])
    ml_dtypes = pytest.importorskip("ml_dtypes")
    x = np.array([1.5, -2.0, 0.25], dtype=ml_dtypes.bfloat16)
    np.testing.assert_allclose(sp.best_k_error(x), sp.best_k_error([1.5, -2.0, 0.25]), rtol=1e-15)


def test_float32_near_max_does_not_overflow():
    x = np.array([3e38, -3e38, 1e38, 1.0], dtype=np.float32)
    e = sp.best_k_error(x)
    assert np.all(np.isfinite(e))
    ref = np.sqrt(np.cumsum((np.sort(np.abs(x.astype(np.float64))) / 1e38) ** 2))[::-1] * 1e38
    np.testing.assert_allclose(e[:-1], ref, rtol=1e-14)


@pytest.mark.parametrize("scale", [1e-200, 1e200, 1e300])
def test_float64_extreme_magnitudes(scale):
    x = np.array([3.0, 4.0, 12.0])
    np.testing.assert_allclose(sp.best_k_error(x * scale), sp.best_k_error(x) * scale, rtol=1e-14)
    np.testing.assert_allclose(sp.best_k_error(x * scale, p=3.0), sp.best_k_error(x, p=3.0) * scale, rtol=1e-13)
    np.testing.assert_allclose(sp.best_k_error(x * scale, [0, 1]), [13.0 * scale, 5.0 * scale], rtol=1e-14)


def test_all_zero_input_has_zero_curves():
    z = np.zeros(5)
    np.testing.assert_array_equal(sp.best_k_error(z), np.zeros(6))
    np.testing.assert_array_equal(sp.best_k_error(z, relative=True), np.zeros(6))
    assert sp.effective_sparsity(z) == 0


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("x", "kwargs", "exc", "match"),
    [
        (
            np.array([1.0, np.nan, np.nan, np.inf]),
            {},
            ValueError,
            r"x must contain only finite values; got 2 NaN and 1 inf",
        ),
        (np.array([]), {}, ValueError, r"x must contain at least one value"),
        ([1.0, 2.0], {"p": 0}, ValueError, r"p must be a finite real number > 0; got 0"),
        ([1.0, 2.0], {"p": -1.5}, ValueError, r"p must be .*got -1.5"),
        ([1.0, 2.0], {"p": float("nan")}, ValueError, r"p must be"),
        ([1.0, 2.0], {"p": "2"}, TypeError, r"p must be a finite real number > 0; got '2'"),
        ([1.0, 2.0], {"p": True}, TypeError, r"p must be a finite real number > 0; got True"),
        ([1.0, 2.0], {"k": True}, TypeError, r"k must be an integer"),
        ([1.0, 2.0], {"k": 3}, ValueError, r"k must satisfy 0 <= k <= n = 2; got \[3\]"),
        ([1.0, 2.0], {"k": -1}, ValueError, r"k must satisfy .*got \[-1\]"),
        ([1.0, 2.0], {"k": 1.5}, TypeError, r"k must be an integer"),
        (np.array(["a", "b"]), {}, TypeError, r"x must be a real numeric array"),
        (np.array([1 + 2j]), {}, TypeError, r"x must be a real numeric array .*complex"),
        ([[1.0], [2.0, 3.0]], {}, TypeError, r"x must be a real numeric array"),
    ],
)
def test_bad_input(x, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        sp.best_k_error(x, **kwargs)


def test_decay_exponent_bad_input():
    x = np.arange(1, 101, dtype=float) ** -1.0
    with pytest.raises(ValueError, match=r"1 <= k_min < k_max < n = 100; got k_min=50, k_max=20"):
        sp.decay_exponent(x, k_min=50, k_max=20)
    with pytest.raises(TypeError, match=r"k_min must be None or an integer; got 2\.5"):
        sp.decay_exponent(x, k_min=2.5)
    with pytest.raises(TypeError, match=r"k_max must be None or an integer; got True"):
        sp.decay_exponent(x, k_max=True)
    with pytest.raises(ValueError, match="at least 4 values"):
        sp.decay_exponent([1.0, 2.0])
    sparse = np.zeros(5000)
    sparse[:12] = 1.0
    with pytest.raises(ValueError, match=r"too sparse .* zero from k = 12"):
        sp.decay_exponent(sparse)


def test_predicted_decay_exponent():
    assert sp.predicted_decay_exponent(1.0) == 0.5
    assert sp.predicted_decay_exponent(2.0) == 0.0
    assert sp.predicted_decay_exponent(3.0) == 0.0
    assert sp.predicted_decay_exponent(0.5, p=1.0) == 1.0
    assert sp.predicted_decay_exponent(float("inf")) == 0.0
    with pytest.raises(ValueError, match="alpha must be"):
        sp.predicted_decay_exponent(-1.0)


def test_effective_sparsity():
    assert sp.effective_sparsity([10.0, 1.0, 0.1], eps=0.2) == 1
    assert sp.effective_sparsity([1.0, 1.0, 1.0, 1.0], eps=0.5) == 3  # sqrt(1/4) = 0.5 <= 0.5 at k = 3
    assert sp.effective_sparsity([1.0, 2.0], eps=1.0) == 0
    with pytest.raises(ValueError, match=r"eps must be a real number > 0; got 0\.0"):
        sp.effective_sparsity([1.0], eps=0.0)
    with pytest.raises(ValueError, match=r"eps must be a real number > 0; got nan"):
        sp.effective_sparsity([1.0], eps=float("nan"))


# ---------------------------------------------------------------- theory: the alpha = 2 threshold
def _quantile_bias(alpha: float, n: int) -> float:
    """Deterministic finite-size bias of the default-window fit: fit minus theory on the quantile sequence.

    The quantiles (n/j)^(1/alpha) of a Pareto law have sigma_k^2 = n^(2/alpha) (zeta(b, k+1) - zeta(b, n+1)),
    b = 2/alpha, exactly; fitting it over the same window isolates the discretisation (O(1/k)) and the
    finite-n truncation ((k/n)^(b-1)) bias. Both vanish as n grows.
    """
    lo, hi = default_decay_window(n)
    ks = np.unique(np.round(np.geomspace(lo, hi, 64)))
    b = 2.0 / alpha
    log_sigma = 0.5 * np.log(special.zeta(b, ks + 1) - special.zeta(b, n + 1))
    return -np.polyfit(np.log(ks), log_sigma, 1)[0] - (1 / alpha - 0.5)


@pytest.mark.parametrize("alpha", [0.8, 1.0, 1.5])
def test_finite_size_bias_of_default_window_vanishes(alpha):
    biases = [abs(_quantile_bias(alpha, n)) for n in (10**4, 10**6, 10**8)]
    assert biases[0] > biases[1] > biases[2]
    assert biases[2] < 0.01


@pytest.mark.slow
@pytest.mark.parametrize("family", ["pareto", "stable"])
@pytest.mark.parametrize("alpha", [0.8, 1.0, 1.5])
def test_measured_decay_matches_theory_for_heavy_tails(family, alpha):
    n, reps = 10**6, 6
    rng = np.random.default_rng(int(alpha * 100) + (family == "stable"))
    exps = []
    for _ in range(reps):
        if family == "pareto":
            x = rng.random(n) ** (-1.0 / alpha)
        else:
            x = stats.levy_stable.rvs(alpha, 0.0, size=n, random_state=rng)
        exps.append(sp.decay_exponent(x).exponent)
    mean, se = float(np.mean(exps)), float(np.std(exps, ddof=1) / math.sqrt(reps))
    theory = sp.predicted_decay_exponent(alpha)
    # Tolerance: the deterministic finite-size bias (computed in closed form) plus 4 standard errors of the
    # replicate mean (se is itself estimated from 6 replicates, so 4 rather than 3), plus a 0.01 floor for
    # the second-order tail terms of the stable law that the Pareto quantiles do not model.
    tol = abs(_quantile_bias(alpha, n)) + 4 * se + (0.01 if family == "stable" else 0.0)
    assert abs(mean - theory) <= tol, (mean, theory, tol)


def _truncated_second_moment_ratio(dist, kappa: float) -> float:
    """lim_n sigma_{kappa n}^2 / ||x||^2 = E[X^2; |X| < q] / E[X^2], q the (1 - kappa) quantile of |X|."""
    from scipy import integrate

    q = dist.isf(kappa)
    num = integrate.quad(lambda t: t * t * dist.pdf(t), 0, q)[0]
    den = dist.expect(lambda t: t * t)
    return num / den


@pytest.mark.parametrize(
    ("name", "dist", "draw", "rel_sd"),
    [
        # rel_sd: relative standard deviation of a sample mean of X^2 for n draws (sqrt(Var X^2) / E X^2);
        # the ratio of two such means has at most twice that.
        ("gaussian", stats.halfnorm(), lambda r, n: r.standard_normal(n), math.sqrt(2.0)),
        ("laplace", stats.expon(), lambda r, n: r.laplace(size=n), math.sqrt(20.0) / 2.0),
    ],
)
def test_relative_error_converges_to_positive_constant_for_light_tails(name, dist, draw, rel_sd):
    kappa, n = 0.1, 10**6
    limit = math.sqrt(_truncated_second_moment_ratio(dist, kappa))
    rel = sp.best_k_error(draw(np.random.default_rng(7), n), int(kappa * n), relative=True)
    # sigma^2/||x||^2 has relative sd <= 2 rel_sd / sqrt(n); the quantile estimate adds less (second order);
    # sqrt halves relative errors. 5 sd for a per-test false alarm rate below 1e-6.
    tol = 5 * rel_sd / math.sqrt(n) * limit
    assert abs(float(rel) - limit) <= tol, (float(rel), limit, tol)


def test_relative_error_pareto_alpha_above_two_converges_to_positive_constant():
    alpha, kappa = 3.0, 0.1
    # Closed form for a Pareto(xmin = 1): E[X^2; X < q] / E[X^2] = 1 - q^(2 - alpha), q = kappa^(-1/alpha).
    limit = math.sqrt(1.0 - kappa ** ((alpha - 2) / alpha))
    rels = []
    for n in (10**4, 10**6):
        x = np.random.default_rng(n).random(n) ** (-1.0 / alpha)
        rels.append(float(sp.best_k_error(x, int(kappa * n), relative=True)))
    # X^2 has tail index alpha/2 = 1.5: sum X^2 / n fluctuates at relative order n^(1/1.5 - 1) = n^(-1/3)
    # (stable CLT), i.e. 0.01 at n = 1e6; 5x that is the tolerance.
    assert abs(rels[1] - limit) <= 5 * (10**6) ** (-1 / 3)
    assert rels[1] > 0.5


def test_relative_error_goes_to_zero_below_two():
    # Pareto alpha = 1: E X^2 = inf, so sigma_{kappa n}/||x|| -> 0 (Gribonval et al. 2012); the expected
    # relative squared error at k = 0.1 n behaves as ~ n^(1 - 2/alpha) = 1/n, so it falls by orders of magnitude.
    rels = []
    for n in (10**3, 10**5):
        vals = [
            float(sp.best_k_error(np.random.default_rng(s).random(n) ** -1.0, n // 10, relative=True)) for s in range(5)
        ]
        rels.append(np.median(vals))
    assert rels[1] < rels[0] / 3


@pytest.mark.parametrize("p", [0.5, 2.0, 3.0])
def test_subnormal_magnitudes(p):
    x = np.array([2.2e-313, 1e-320, 0.0])
    e = sp.best_k_error(x, p=p)
    assert np.all(np.isfinite(e)) and e[0] > 0
    m = 2.2e-313  # reference by exact rescaling (the plain powers underflow to 0); subnormals hold ~10 digits
    np.testing.assert_allclose(e[0], m * np.sum((x / m) ** p) ** (1 / p), rtol=1e-9)


def test_segmented_cumulative_sum_is_exact_across_segments(monkeypatch):
    # Force many small segments (run on threads): the curve must equal the single-segment one to rounding.
    import sparsity.curves._host as curves

    x = np.random.default_rng(9).standard_cauchy(100_000)
    one = sp.best_k_error(x)
    monkeypatch.setattr(curves, "_SEGMENT", 4096)
    many = sp.best_k_error(x)
    # Segments change only the summation order: relative difference <= n * eps.
    np.testing.assert_allclose(many, one, rtol=x.size * EPS)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("cpus", [2, 3, 8])
def test_partitioned_parallel_sort_equals_numpy_sort(monkeypatch, dtype, cpus):
    # Force the partition + threaded piece sort on a small array with ties, zeros, inf and NaN (floats):
    # the pieces are value-disjoint, so the concatenation must be exactly numpy's sort.
    import sparsity.curves._host as curves

    rng = np.random.default_rng(cpus)
    a = np.abs(rng.standard_cauchy(10_007) * 50).astype(dtype)
    a[::97] = 0
    a[5::13] = a[7]  # ties across the cut points
    if np.issubdtype(dtype, np.floating):
        a[3], a[11] = np.inf, np.nan
    monkeypatch.setattr(curves, "_PARALLEL_SORT_MIN", 1000)
    monkeypatch.setattr(curves, "available_cpus", lambda: cpus)
    got = a.copy()
    curves.sort_magnitudes(got)
    np.testing.assert_array_equal(got, np.sort(a))


def test_full_curve_is_the_same_with_the_parallel_sort(monkeypatch):
    import sparsity.curves._host as curves

    x = np.random.default_rng(4).standard_cauchy(50_000).astype(np.float32)
    serial = sp.best_k_error(x)
    monkeypatch.setattr(curves, "_PARALLEL_SORT_MIN", 1000)
    np.testing.assert_array_equal(sp.best_k_error(x), serial)


def test_fits_do_not_depend_on_the_blas_thread_count():
    # analyze_weights finishes rows while another thread holds a one-thread BLAS limit (sparsity.linalg._gram): the
    # host-side fits must give the same bits under any limit, so they call no BLAS
    from threadpoolctl import threadpool_limits

    from sparsity.curves import loglog_fit, power_sum

    rng = np.random.default_rng(31)
    x = rng.standard_t(1.5, 300_000)
    ks = np.unique(np.geomspace(10, 5000, 64).astype(np.int64))
    e = sp.best_k_error(x, ks)
    free = (loglog_fit(ks, e), power_sum(np.abs(x), 2.0))
    with threadpool_limits(1, "blas"):
        limited = (loglog_fit(ks, e), power_sum(np.abs(x), 2.0))
    assert free == limited
    fit = free[0]
    ref = np.polyfit(np.log(ks), np.log(e), 1)
    assert fit.exponent == pytest.approx(-ref[0], rel=1e-12)
    assert fit.intercept == pytest.approx(ref[1], rel=1e-12)


def test_loglog_fit_edge_cases():
    from sparsity.curves import loglog_fit

    ks = np.array([10, 20, 40, 80])
    flat = loglog_fit(ks, np.full(4, 3.0))
    assert (flat.exponent, flat.r2) == (0.0, 1.0) and flat.intercept == pytest.approx(math.log(3.0))
    with pytest.raises(ValueError, match="2 distinct k"):
        loglog_fit(np.array([10, 10, 10]), np.array([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="positive, finite"):
        loglog_fit(ks, np.array([1.0, 0.5, np.nan, 0.1]))
    exact = loglog_fit(ks, 5.0 * ks**-0.75)
    assert exact.exponent == pytest.approx(0.75, rel=1e-13) and exact.r2 == pytest.approx(1.0, abs=1e-13)


def test_results_stay_on_the_input_device():
    # array_api_strict has a second (fake) device: every array the curve code creates must be put beside x
    xps = pytest.importorskip("array_api_strict")
    device = xps.Device("device1")
    x = xps.asarray(np.random.default_rng(6).standard_normal(300), device=device)
    for k in (None, 5, [[1, 2], [3, 4]], np.zeros(0, dtype=np.int64)):
        assert sp.best_k_error(x, k).device == device
        assert sp.best_k_error(x, k, relative=True).device == device
