"""Tests for sparsity.linalg._api: singular values, ESD, truncation (exact and randomized), rank-k errors.

Error bounds used below (u = unit roundoff of the working precision, s_1 the largest singular value):
- backward-stable SVD (LAPACK gesdd): |s_i' - s_i| <= p(m, n) u s_1 (Weyl); we take p(m, n) = m + n.
- float64 Gram route: |s_i'^2 - s_i^2| <= c (m + n) u_64 s_1^2 (forming W^T W: m u_64 s_1^2 normwise after
  Weyl; symmetric eigensolver: n u_64 ||G||), i.e. |s_i' - s_i| <= (m + n) u_64 s_1^2 / s_i up to c; c = 4.
The reference (scipy svdvals in float64) carries its own (m + n) u_64 s_1, added to each bound.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
from xp_helpers import xp_assert_close

import sparsity as sp
from sparsity import synthetic
from sparsity._array_api import to_numpy

EPS64 = float(np.finfo(np.float64).eps)
EPS32 = float(np.finfo(np.float32).eps)


def _graded(n: int, m: int, decades: float, rng: int) -> tuple[np.ndarray, np.ndarray]:
    """n x m matrix with singular values log-spaced over ``decades`` (Haar singular vectors)."""
    r = min(n, m)
    s = np.logspace(0, -decades, r)
    return synthetic.spectrum_matrix(s, n, m, rng=rng), s


# ----------------------------------------------------------------------------------------- singular values


@pytest.mark.parametrize("shape", [(120, 40), (40, 120)])
def test_svd_method_matches_svdvals_within_backward_error(shape):
    W, _ = _graded(*shape, decades=8, rng=1)
    ref = scipy.linalg.svdvals(W)
    s = to_numpy(sp.singular_values(W, method="svd"))
    m, n = shape
    bound = 2 * (m + n) * EPS64 * ref[0]  # ours + the reference's backward error
    assert np.all(np.abs(s - ref) <= bound)


@pytest.mark.parametrize("shape", [(150, 50), (50, 150)])
def test_gram_method_error_follows_squared_condition_bound(shape):
    W, _ = _graded(*shape, decades=6, rng=2)
    ref = scipy.linalg.svdvals(W)
    s = to_numpy(sp.singular_values(W, method="gram"))
    m, n = shape
    bound = 4 * (m + n) * EPS64 * ref[0] ** 2 / ref + (m + n) * EPS64 * ref[0]
    assert np.all(np.abs(s - ref) <= bound)
    # the bound is not vacuous: the largest singular values are accurate to ~1e-13 relative
    assert abs(s[0] - ref[0]) <= 1e-12 * ref[0]


def test_float32_input_gram_beats_float32_svd_bound():
    W64, _ = _graded(200, 80, decades=3, rng=3)
    W = W64.astype(np.float32)
    ref = scipy.linalg.svdvals(W.astype(np.float64))  # exact singular values of the float32 matrix
    s = to_numpy(sp.singular_values(W))  # auto -> gram for float32
    assert s.dtype == np.float64
    gram_bound = 4 * 280 * EPS64 * ref[0] ** 2 / ref + 280 * EPS64 * ref[0]
    assert np.all(np.abs(s - ref) <= gram_bound)
    s32 = to_numpy(sp.singular_values(W, method="svd"))
    assert np.all(np.abs(s32 - ref) <= 2 * 280 * EPS32 * ref[0])


def test_auto_method_is_svd_for_float64_exact_small_values():
    # singular values down to 1e-12 s_1: only the SVD route resolves them (gram error ~ u_64 s_1^2 / s_i)
    W, s_true = _graded(60, 30, decades=12, rng=4)
    s = to_numpy(sp.singular_values(W))
    assert np.all(np.abs(s - s_true) <= 2 * 90 * EPS64 * s_true[0])


def test_stack_matches_each_matrix():
    rng = np.random.default_rng(5)
    W = rng.standard_normal((4, 30, 20))
    for method in ("gram", "svd"):
        s = to_numpy(sp.singular_values(W, method=method))
        assert s.shape == (4, 20)
        for i in range(4):
            ref = scipy.linalg.svdvals(W[i])
            np.testing.assert_allclose(s[i], ref, rtol=0, atol=4 * 50 * EPS64 * ref[0] ** 2 / ref[-1])


def test_backends_agree(xp):
    rng = np.random.default_rng(6)
    W_np = rng.standard_normal((40, 25))
    W = xp.asarray(W_np)
    ref = scipy.linalg.svdvals(W_np)
    # tolerances: the backward-error bounds of the two routes (module docstring of sparsity.linalg._svd), m + n = 65
    for method, atol in (("gram", 4 * 65 * EPS64 * ref[0] ** 2 / ref[-1]), ("svd", 4 * 65 * EPS64 * ref[0])):
        xp_assert_close(sp.singular_values(W, method=method), xp.asarray(ref), rtol=0, atol=atol)
    xp_assert_close(sp.singular_values(xp.asarray(W_np, dtype=xp.float32)), xp.asarray(ref), rtol=0, atol=1e-5 * ref[0])
    xp_assert_close(sp.esd(W), xp.asarray(ref**2), rtol=0, atol=4 * 65 * EPS64 * ref[0] ** 2)
    spectral = np.append(ref, 0.0)
    xp_assert_close(sp.rank_k_error(W, norm="spectral"), xp.asarray(spectral), rtol=0, atol=2 * 65 * EPS64 * ref[0])
    fro = np.sqrt(np.cumsum((ref**2)[::-1]))[::-1]
    fro = np.append(fro, 0.0)
    k = [[0, 3], [24, 25]]  # array k, 2-D: the shape is kept for both norms
    for norm, curve in (("fro", fro), ("spectral", spectral)):
        err = sp.rank_k_error(W, xp.asarray(k), norm=norm)
        xp_assert_close(err, xp.asarray(curve[k]), rtol=0, atol=4 * 65 * EPS64 * ref[0])
        rel = sp.rank_k_error(W, k, norm=norm, relative=True)
        xp_assert_close(rel, xp.asarray(curve[k] / curve[0]), rtol=0, atol=4 * 65 * EPS64)


def test_fit_esd_on_every_backend(xp):
    W_np = synthetic.spectrum_matrix(synthetic.power_law_spectrum(120, alpha_ww=1.8), 240, 120, rng=15)
    ref = sp.fit_esd(W_np)
    fit = sp.fit_esd(xp.asarray(W_np))
    # the Gram eigenvalues agree to ~(m + n) u lambda_max on both paths; the CSN scan then picks the same xmin and
    # n_tail, and alpha_ww = 1 + n / sum(log(lambda / xmin)) moves by about that relative amount
    assert fit.num_pl_spikes == ref.num_pl_spikes
    assert fit.alpha_ww == pytest.approx(ref.alpha_ww, rel=1e-9)
    lam = xp.asarray(scipy.linalg.svdvals(W_np) ** 2)
    assert sp.fit_esd(lam, evals=True).alpha_ww == pytest.approx(ref.alpha_ww, rel=1e-9)


def test_integer_bool_float16_bfloat16_inputs():
    W = np.arange(12).reshape(4, 3)
    ref = scipy.linalg.svdvals(W.astype(np.float64))
    np.testing.assert_allclose(to_numpy(sp.singular_values(W)), ref, atol=1e-12 * ref[0])
    assert to_numpy(sp.singular_values(W.astype(bool))).dtype == np.float64
    h = sp.singular_values(W.astype(np.float16))
    np.testing.assert_allclose(to_numpy(h), ref, rtol=0, atol=1e-5 * ref[0])
    ml_dtypes = pytest.importorskip("ml_dtypes")
    b = sp.singular_values(W.astype(ml_dtypes.bfloat16))
    np.testing.assert_allclose(to_numpy(b), ref, rtol=0, atol=1e-5 * ref[0])


def test_huge_and_tiny_values_do_not_overflow():
    W, s = _graded(30, 20, decades=2, rng=7)
    for scale, dtype in ((1e30, np.float32), (1e200, np.float64), (1e-200, np.float64)):
        out = to_numpy(sp.singular_values((W * scale).astype(dtype), method="gram"))
        assert np.all(np.isfinite(out))
        tol = 50 * 4 * EPS64 * s[0] ** 2 / s if dtype == np.float64 else 50 * EPS32 * s[0]
        np.testing.assert_allclose(out / scale, s, rtol=0, atol=np.max(tol) + 4 * EPS32 * s[0])


def test_all_zero_matrix():
    z = np.zeros((5, 3))
    for method in ("gram", "svd"):
        assert np.all(to_numpy(sp.singular_values(z, method=method)) == 0)
    np.testing.assert_array_equal(to_numpy(sp.rank_k_error(z, relative=True)), np.zeros(4))


@pytest.mark.parametrize(
    ("bad", "exc", "match"),
    [
        (
            np.array([1.0, np.nan, 2.0, 3.0]).reshape(2, 2),
            ValueError,
            r"W must contain only finite values; got 1 NaN and 0 infinite value\(s\) among 4",
        ),
        (np.array([[np.inf, 1.0], [0.0, 1.0]]), ValueError, r"W must contain only finite values; got 0 NaN and 1 inf"),
        (np.ones(3), ValueError, r"W must have at least 2 dimensions; got shape \(3,\)"),
        (np.ones((0, 3)), ValueError, r"W must contain at least one value; got an empty array of shape \(0, 3\)"),
        (np.ones((2, 2), dtype=complex), TypeError, "W must be a real numeric array .*complex128"),
        (np.array([["a", "b"]]), TypeError, "W must be a real numeric array"),
        (
            "text",
            TypeError,
            r"W must be a real numeric array \(bool, int or float\); got dtype <U4 \(from str 'text'\)",
        ),
    ],
)
def test_bad_input_messages(bad, exc, match):
    with pytest.raises(exc, match=match):
        sp.singular_values(bad)


def test_bad_method():
    with pytest.raises(ValueError, match=r"method must be one of \['auto', 'gram', 'svd'\]; got 'lapack'"):
        sp.singular_values(np.eye(3), method="lapack")


# --------------------------------------------------------------------------------------------------- ESD


def test_esd_is_unnormalised_squared_singular_values():
    W, s = _graded(50, 20, decades=3, rng=8)
    lam = to_numpy(sp.esd(W))
    np.testing.assert_allclose(lam, s**2, rtol=0, atol=4 * 70 * EPS64 * s[0] ** 2)
    np.testing.assert_allclose(to_numpy(sp.esd(W.T)), lam, rtol=0, atol=4 * 70 * EPS64 * s[0] ** 2)


def test_alpha_conversions():
    assert sp.alpha_ww_to_sv_tail_index(2.0) == 2.0  # the l2 threshold is the same number on both scales
    a = np.array([1.5, 2.0, 3.0, np.nan])
    back = sp.sv_tail_index_to_alpha_ww(sp.alpha_ww_to_sv_tail_index(a))
    np.testing.assert_array_equal(back[:3], a[:3])
    assert np.isnan(back[3])
    rule = r"must be a real number or array of real numbers > {} \(NaN passes through\); got {}"
    with pytest.raises(ValueError, match="alpha_ww " + rule.format(1, "0.9")):
        sp.alpha_ww_to_sv_tail_index(0.9)
    with pytest.raises(ValueError, match="sv_tail_index " + rule.format(0, "-1.0")):
        sp.sv_tail_index_to_alpha_ww(np.array([1.0, -1.0]))
    with pytest.raises(TypeError, match="alpha_ww " + rule.format(1, "True")):
        sp.alpha_ww_to_sv_tail_index(True)


def test_fit_esd_matches_fit_tail_on_eigenvalues():
    W = synthetic.spectrum_matrix(synthetic.power_law_spectrum(150, alpha_ww=1.8), 300, 150, rng=9)
    fit = sp.fit_esd(W)
    lam = scipy.linalg.svdvals(W) ** 2
    tf = sp.fit_tail(lam, "csn")
    assert fit.alpha_ww == pytest.approx(tf.alpha + 1.0, rel=1e-9)
    assert fit.sv_tail_index == pytest.approx(2 * tf.alpha, rel=1e-9)
    assert fit.num_pl_spikes == tf.n_tail == int(np.count_nonzero(lam >= fit.xmin * (1 - 1e-12)))
    same = sp.fit_esd(lam, evals=True)
    assert same.alpha_ww == pytest.approx(fit.alpha_ww, rel=1e-9)
    with pytest.raises(ValueError, match=r"must be finite and >= 0; got 1 bad value\(s\), e.g. -1.0"):
        sp.fit_esd(np.append(lam, -1.0), evals=True)
    with pytest.raises(ValueError, match=r"W \(eigenvalues, evals=True\) must contain at least one value"):
        sp.fit_esd(np.array([]), evals=True)
    with pytest.raises(ValueError, match=r"W must have 2 to 3 dimensions; got shape \(2, 2, 2, 2\)"):
        sp.fit_esd(np.ones((2, 2, 2, 2)))
    with pytest.raises(TypeError, match="evals must be True or False; got 1"):
        sp.fit_esd(lam, evals=1)


# ---------------------------------------------------------------------------------------------- truncation


@pytest.mark.parametrize("k", [0, 1, 7, 30])
def test_eckart_young_truncation_error_is_the_singular_value_tail(k):
    W, s = _graded(60, 30, decades=4, rng=10)
    Wk = truncate_np = to_numpy(sp.truncate(W, k, method="svd"))
    assert np.linalg.matrix_rank(truncate_np, tol=1e-9 * s[0]) == k
    fro = np.linalg.norm(W - Wk)
    tail = math.sqrt(float(np.sum(s[k:] ** 2)))
    tol = 4 * 90 * EPS64 * np.linalg.norm(W)  # backward error of the SVD and of the product
    assert abs(fro - tail) <= tol
    assert fro == pytest.approx(float(to_numpy(sp.rank_k_error(W, k))), abs=tol)
    spec = np.linalg.norm(W - Wk, 2)
    ref = s[k] if k < 30 else 0.0
    assert abs(spec - ref) <= tol
    assert abs(float(to_numpy(sp.rank_k_error(W, k, norm="spectral"))) - ref) <= tol


def test_rank_k_error_curve_relative_and_arrays():
    W, s = _graded(40, 20, decades=2, rng=11)
    curve = to_numpy(sp.rank_k_error(W))
    assert curve.shape == (21,)
    assert curve[-1] == 0
    assert curve[0] == pytest.approx(np.linalg.norm(W), rel=1e-12)
    rel = to_numpy(sp.rank_k_error(W, np.array([0, 5, 20]), relative=True))
    np.testing.assert_allclose(rel, curve[[0, 5, 20]] / curve[0], rtol=1e-12, atol=1e-15)
    srel = to_numpy(sp.rank_k_error(W, [0, 3], norm="spectral", relative=True))
    np.testing.assert_allclose(srel, [1.0, s[3] / s[0]], rtol=1e-12)
    with pytest.raises(ValueError, match=r"k must satisfy 0 <= k <= min\(m, n\) = 20; got \[21\]"):
        sp.rank_k_error(W, 21)
    with pytest.raises(TypeError, match=r"k must be an integer or an array of integers; got 2\.5"):
        sp.rank_k_error(W, 2.5)
    with pytest.raises(TypeError, match=r"k must be an integer or an array of integers; got True"):
        sp.rank_k_error(W, True, norm="spectral")
    with pytest.raises(ValueError, match="norm must be one of"):
        sp.rank_k_error(W, norm="nuclear")


def test_rank_k_error_one_rule_for_k_and_shape_kept():
    # Regression: norm="spectral" flattened a 2-D k (norm="fro" kept it) and refused k = 2.0, which
    # best_k_error accepts. Both norms now validate k with sparsity._checks.check_k and keep its shape.
    W, s = _graded(30, 12, decades=2, rng=16)
    k = np.array([[0, 1, 2], [10, 11, 12]])
    fro = to_numpy(sp.rank_k_error(W))
    spectral = np.append(s, 0.0)
    tol = 4 * 42 * EPS64 * s[0]  # backward error of the SVD, m + n = 42
    for norm, curve in (("fro", fro), ("spectral", spectral)):
        err = sp.rank_k_error(W, k, norm=norm)
        assert err.shape == (2, 3)
        np.testing.assert_allclose(err, curve[k], rtol=0, atol=tol)
        assert sp.rank_k_error(W, 2.0, norm=norm) == sp.rank_k_error(W, 2, norm=norm)
        np.testing.assert_array_equal(sp.rank_k_error(W, k.astype(float), norm=norm), err)
        assert sp.rank_k_error(W, np.zeros((0, 2), dtype=int), norm=norm).shape == (0, 2)
        assert np.ndim(sp.rank_k_error(W, 3, norm=norm)) == 0


def test_truncate_validation():
    W = np.eye(4)
    with pytest.raises(ValueError, match=r"k must satisfy 0 <= k <= min\(m, n\) = 4; got \[5\]"):
        sp.truncate(W, 5)
    with pytest.raises(TypeError, match="k must be an integer"):
        sp.truncate(W, True)
    with pytest.raises(TypeError, match=r"k must be an integer; got an array of shape \(2,\)"):
        sp.truncate(W, [1, 2])
    np.testing.assert_array_equal(sp.truncate(W, 2.0), sp.truncate(W, 2))  # the one rule for k, as best_k_error
    with pytest.raises(TypeError, match=r"rng must be None, an integer seed >= 0 or a numpy\.random\.Generator"):
        sp.truncate(W, 2, method="randomized", rng="seed")
    with pytest.raises(ValueError, match="method must be one of \\['auto', 'svd', 'randomized'\\]; got 'qr'"):
        sp.truncate(W, 2, method="qr")
    with pytest.raises(ValueError, match="W must be 2-D for method='randomized'"):
        sp.truncate(np.ones((2, 4, 4)), 1, method="randomized")
    with pytest.raises(ValueError, match="oversamples must be an integer >= 0; got -1"):
        sp.truncate(W, 2, oversamples=-1)


def test_randomized_exact_on_low_rank():
    rng = np.random.default_rng(12)
    W = rng.standard_normal((80, 6)) @ rng.standard_normal((6, 50))
    for shape_W in (W, W.T):
        Wk = to_numpy(sp.truncate(shape_W, 6, method="randomized", rng=0))
        assert np.linalg.norm(shape_W - Wk) <= 100 * 130 * EPS64 * np.linalg.norm(W)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_randomized_within_hmt_frobenius_deviation_bound(seed):
    # HMT (2011) Thm 10.7, q = 0 power iterations, p >= 4 oversamples, any t, u >= 1:
    #   ||(I - P_Y) A||_F <= (1 + t sqrt(12 k / p)) tau_k + u t e sqrt(k + p) / (p + 1) s_{k+1},
    #   tau_k = (sum_{j>k} s_j^2)^(1/2), failure probability <= 5 t^-p + 2 exp(-u^2 / 2).
    # t = 4, u = 6, p = 10: failure probability <= 5e-6 + 3e-8 per draw.
    # The returned rank-k matrix Q [B]_k adds the orthogonal error ||B - [B]_k||_F <= tau_k (s_j(B) <= s_j(A)).
    k, p, t, u = 10, 10, 4.0, 6.0
    s = np.arange(1, 121, dtype=float) ** -0.6  # slowly decaying: the bound is not trivially met
    A = synthetic.spectrum_matrix(s, 200, 120, rng=100 + seed)
    tau = math.sqrt(float(np.sum(s[k:] ** 2)))
    proj = (1 + t * math.sqrt(12 * k / p)) * tau + u * t * math.e * math.sqrt(k + p) / (p + 1) * s[k]
    Ak = to_numpy(sp.truncate(A, k, method="randomized", rng=seed, oversamples=p, n_iter=0))
    err = np.linalg.norm(A - Ak)
    assert tau - 1e-12 <= err <= math.sqrt(proj**2 + tau**2)
    # power iterations bring it close to the optimum (HMT Cor. 10.10: the excess shrinks like (.)^(1/(2q+1)))
    Ak4 = to_numpy(sp.truncate(A, k, method="randomized", rng=seed, oversamples=p, n_iter=4))
    assert np.linalg.norm(A - Ak4) <= err


def test_randomized_reproducible_and_factors():
    W, _ = _graded(70, 40, decades=3, rng=13)
    U1, s1, V1 = sp.truncate(W, 5, method="randomized", rng=3, return_factors=True)
    U2, s2, V2 = sp.truncate(W, 5, method="randomized", rng=np.random.default_rng(3), return_factors=True)
    np.testing.assert_array_equal(to_numpy(s1), to_numpy(s2))
    np.testing.assert_array_equal(to_numpy(U1), to_numpy(U2))
    np.testing.assert_array_equal(to_numpy(V1), to_numpy(V2))
    assert U1.shape == (70, 5) and s1.shape == (5,) and V1.shape == (5, 40)


def test_truncate_backends(xp):
    W_np, s = _graded(50, 30, decades=3, rng=14)
    W = xp.asarray(W_np)
    for method in ("svd", "randomized"):
        Wk = sp.truncate(W, 4, method=method, rng=0)
        assert type(Wk).__module__.split(".")[0] == type(W).__module__.split(".")[0]
        err = np.linalg.norm(W_np - to_numpy(Wk))
        tau = math.sqrt(float(np.sum(s[4:] ** 2)))
        # svd: Eckart-Young to rounding; randomized with 7 power iterations on a 1e-3-graded spectrum: the
        # HMT Cor. 10.10 excess is below 1e-6 tau here; we allow 1e-6 tau.
        assert abs(err - tau) <= 1e-6 * tau + 4 * 80 * EPS64 * s[0]


def test_blocked_gram_equals_one_shot(monkeypatch):
    # Large float32 matrices form the Gram matrix from float64 row blocks (memory); the eigenvalues must be
    # those of the one-shot Gram to rounding: both are float64 sums of exact float32 products.
    import sparsity.linalg._gram as gram
    import sparsity.linalg._svd as svd

    A = np.random.default_rng(3).standard_t(3.0, (2000, 300)).astype(np.float32)
    one = svd._gram_eigvalsh_numpy(A)
    monkeypatch.setattr(gram, "_GRAM_BLOCK_BYTES", 50_000)  # ~20 rows of float64 per block
    blocked = svd._gram_eigvalsh_numpy(A)
    # Weyl: two float64 Gram matrices and eigensolves, each within ~(m + n) u_64 lambda_max
    np.testing.assert_allclose(blocked, one, rtol=0, atol=2 * (2000 + 300) * EPS64 * one.max())


def test_spectral_results_stay_on_the_input_device():
    xps = pytest.importorskip("array_api_strict")
    device = xps.Device("device1")
    W = xps.asarray(np.random.default_rng(17).standard_normal((30, 20)), device=device)
    assert sp.singular_values(W).device == device
    assert sp.esd(W).device == device
    for norm in ("fro", "spectral"):
        assert sp.rank_k_error(W, norm=norm).device == device
        assert sp.rank_k_error(W, [[1, 2]], norm=norm).device == device
