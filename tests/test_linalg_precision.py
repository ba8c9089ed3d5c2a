"""Working precision of the Gram route (sparsity.linalg._gram.resolve_precision): float32 Gram for big spectra.

Error bound used throughout (derived in sparsity/linalg/_gram.py): the float32 routes compute the exact
eigenvalues of ``A^T A + E_1 + E_2``, with ``E_1`` the ``ssyrk`` rounding (``|E_1| <= gamma_m |A|^T |A|``, so
``||E_1||_2 <= m u_32 ||A||_F^2``) and ``E_2`` the backward error of the eigensolver: ``ssytrd`` + ``ssterf``
(``<= c n u_32 ||G||_2 <= c n u_32 ||A||_F^2``) for ``"float32"``, negligible (``u_64``) for ``"mixed"``. By
Weyl every eigenvalue moves by at most ``(m + c n) u_32 ||A||_F^2`` (``m u_32 ||A||_F^2`` for ``"mixed"``);
the float64 route's own error is negligible beside it.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.fft

import sparsity as sp
from sparsity.linalg import _gram, _svd
from sparsity.synthetic import power_law_spectrum

U32 = 2.0**-24


def _bound(A: np.ndarray, c: float = 2.0) -> float:
    """``(m + c n) u_32 ||A||_F^2`` (module docstring): ``c = 2`` for ssytrd's constant, ``c = 0`` for "mixed"."""
    m, n = max(A.shape), min(A.shape)
    return (m + c * n) * U32 * float(np.sum(np.asarray(A, dtype=np.float64) ** 2))


def _spy32(monkeypatch) -> list[int]:
    """Orders of the float32 Gram matrices formed (``gram_numpy32`` on the big path, ``matmul`` on the small)."""
    calls: list[int] = []
    original = _gram.gram_numpy32
    monkeypatch.setattr(_gram, "gram_numpy32", lambda A: calls.append(A.shape[1]) or original(A))
    small = _gram._small_gram_eigenvalues32
    monkeypatch.setattr(_gram, "_small_gram_eigenvalues32", lambda A, p: calls.append(A.shape[1]) or small(A, p))
    return calls


def test_auto_is_float64_and_routes_pass_through():
    assert _gram.resolve_precision("auto") == "float64"
    for route in ("float64", "mixed", "float32"):
        assert _gram.resolve_precision(route) == route


def test_only_explicit_routes_form_a_float32_gram(monkeypatch):
    calls = _spy32(monkeypatch)
    rng = np.random.default_rng(0)
    A32 = rng.standard_normal((200, 64)).astype(np.float32)
    sp.esd(A32)
    sp.singular_values(A32)
    assert calls == []  # the default is float64 everywhere
    sp.esd(A32, precision="mixed")
    sp.esd(A32.T, precision="float32")  # the smaller side is the Gram order, whatever the orientation
    sp.singular_values(A32, precision="float32")
    sp.esd(A32.astype(np.float64)[:, :10], precision="mixed")  # forced, on a small float64 matrix
    assert calls == [64, 64, 64, 10]


@pytest.mark.parametrize("precision", ["float64", "mixed", "float32"])
def test_big_eigensolves_run_on_one_blas_thread(monkeypatch, precision):
    # orders >= BIG_ORDER (here lowered to 64, and every matrix sent off the small path): the eigensolver runs
    # with one BLAS thread; below BIG_ORDER with the caller's threads, as before
    from threadpoolctl import threadpool_info

    def blas_threads() -> int:
        return max(d["num_threads"] for d in threadpool_info() if d["user_api"] == "blas")

    monkeypatch.setattr(_gram, "BIG_ORDER", 64)
    monkeypatch.setattr(_gram, "SMALL_BYTES", 0)
    seen: list[tuple[int, int]] = []
    for name in ("eigvalsh_upper", "eigvalsh_upper32"):
        original = getattr(_gram, name)
        monkeypatch.setattr(_gram, name, lambda G, f=original: seen.append((G.shape[0], blas_threads())) or f(G))
    rng = np.random.default_rng(8)
    outside = blas_threads()
    sp.esd(rng.standard_normal((100, 64)).astype(np.float32), precision=precision)
    sp.esd(rng.standard_normal((100, 63)).astype(np.float32), precision=precision)
    assert seen == [(64, 1), (63, outside)]
    assert blas_threads() == outside  # the limit is lifted after the call


@pytest.mark.parametrize("shape", [(300, 100), (100, 300), (120, 120)])
@pytest.mark.parametrize(("precision", "c"), [("float32", 2.0), ("mixed", 0.0)])
def test_float32_eigenvalues_within_the_bound(shape, precision, c):
    rng = np.random.default_rng(1)
    A = (rng.standard_t(2.5, shape) * np.geomspace(1.0, 1e-3, shape[1])).astype(np.float32)
    lam64 = sp.esd(A, precision="float64")
    lam32 = sp.esd(A, precision=precision)
    assert lam32.dtype == np.float64 and lam32.shape == (min(shape),)
    assert np.all(np.diff(lam32) <= 0) and np.all(lam32 >= 0)
    np.testing.assert_allclose(lam32, lam64, rtol=0, atol=_bound(A, c))
    assert not np.array_equal(lam32, lam64)  # a float32 route (float64 agrees with itself to ~1e-13)
    s32 = sp.singular_values(A, method="gram", precision=precision)
    np.testing.assert_allclose(s32**2, lam32, rtol=1e-12, atol=0)


@pytest.mark.parametrize(("precision", "c"), [("float32", 2.0), ("mixed", 0.0)])
def test_float32_routes_on_array_api_strict(precision, c):
    xps = pytest.importorskip("array_api_strict")
    rng = np.random.default_rng(2)
    A = rng.standard_normal((150, 60)).astype(np.float32)
    lam = sp.esd(xps.asarray(A), precision=precision)
    assert lam.dtype == xps.float64
    np.testing.assert_allclose(np.asarray(lam), sp.esd(A, precision="float64"), rtol=0, atol=_bound(A, c))


@pytest.mark.parametrize("scale", [1e30, 1e-30])
def test_float32_gram_scales_extreme_magnitudes(scale):
    # |W| outside 2^+-40: divided by a power of two (exact) before the float32 squares, multiplied back after;
    # the eigenvalues are those of the unscaled matrix times scale^2 within the same relative bound
    rng = np.random.default_rng(3)
    A = rng.standard_normal((120, 40))
    ref = sp.esd(A, precision="float64")
    lam = sp.esd(A * scale, precision="float32")
    assert np.all(np.isfinite(lam))
    np.testing.assert_allclose(lam / scale**2, ref, rtol=0, atol=_bound(A) + 4 * U32 * ref[0])


def _planted(n: int, alpha_ww: float, seed: int) -> np.ndarray:
    """``W = C_1 diag(s) C_2^T`` (n x n, float32), ``C_j`` orthonormal DCT-II with random signs: planted spectrum."""
    rng = np.random.default_rng(seed)
    s = np.asarray(power_law_spectrum(n, alpha_ww=alpha_ww))
    W = scipy.fft.dct(np.diag(s) * rng.choice([-1.0, 1.0], n), axis=0, norm="ortho")
    W = scipy.fft.dct(W * rng.choice([-1.0, 1.0], n)[:, None], axis=1, norm="ortho")
    return W.astype(np.float32)


@pytest.mark.parametrize(
    "alpha_ww",
    [1.5, pytest.param(3.5, marks=pytest.mark.slow)],  # 1.5: the heaviest planted tail, smallest xmin / lambda_max
)
def test_mixed_alpha_ww_within_1e3_of_float64_on_an_order_2048_matrix(monkeypatch, alpha_ww):
    # issue 13's rule for a faster precision: alpha_ww within 1e-3 of the float64 route (the default)
    W = _planted(2048, alpha_ww, seed=4)
    ref = sp.analyze_matrix(W, entries=False)
    assert ref["alpha_ww"] == sp.analyze_matrix(W, entries=False, spectra_precision="float64")["alpha_ww"]
    assert abs(ref["alpha_ww"] - alpha_ww) < 0.05  # the planted truth is recovered at all
    calls = _spy32(monkeypatch)
    row = sp.analyze_matrix(W, entries=False, spectra_precision="mixed")
    assert calls and set(calls) == {2048}  # the ESD (and any refit of rounded copies) through the float32 Gram
    assert abs(row["alpha_ww"] - ref["alpha_ww"]) <= 1e-3


def test_precision_is_checked():
    with pytest.raises(ValueError, match="precision"):
        sp.esd(np.eye(3), precision="float16")
    with pytest.raises(ValueError, match="spectra_precision"):
        sp.analyze_matrix(np.eye(12), spectra_precision="half")


@pytest.mark.parametrize("precision", ["float32", "mixed"])
def test_eigenvalues_gram_float32_stack_and_zero(precision):
    rng = np.random.default_rng(5)
    stack = rng.standard_normal((3, 50, 20)).astype(np.float32)
    lam = _svd.eigenvalues_gram(stack, xp=np, precision=precision)
    assert lam.shape == (3, 20)
    for k in range(3):
        np.testing.assert_allclose(lam[k], sp.esd(stack[k], precision="float64"), rtol=0, atol=_bound(stack[k]))
    assert np.all(_svd.eigenvalues_gram(np.zeros((30, 10), np.float32), xp=np, precision=precision) == 0)


@pytest.mark.slow
def test_full_float32_alpha_ww_on_a_planted_order_2048_matrix():
    # the explicit "float32" route on a planted power law: within the measured 5e-4 of float64 (its failures
    # are on non-power-law layers with alpha_ww of 28-77, see sparsity/linalg/_gram.py)
    W = _planted(2048, 2.0, seed=6)
    ref = sp.analyze_matrix(W, entries=False, spectra_precision="float64")
    row = sp.analyze_matrix(W, entries=False, spectra_precision="float32")
    assert abs(row["alpha_ww"] - ref["alpha_ww"]) <= 1e-3
