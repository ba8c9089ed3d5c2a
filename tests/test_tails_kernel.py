"""Tests for the KS-scan kernels: the NumPy twin (sparsity.tails._ks_scan) against the definition, the CuPy kernel
(sparsity.tails._ks_scan_cupy) against the twin (GPU only), and the registry that picks a kernel per namespace."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import types

import numpy as np
import pytest

from sparsity.tails import _ks_backends
from sparsity.tails._csn import _continuous_alphas
from sparsity.tails._csn_scan import first_index as _first_index
from sparsity.tails._ks_scan import ks_scan_numpy


def _setup(seed: int, ties: bool, n: int = 400, alpha: float = 1.3):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.random(n) ** (-1 / alpha))
    if ties:
        x = np.sort(np.round(x, 1))
    first = _first_index(x)
    cand = np.flatnonzero(first == np.arange(x.size))[:-2]
    L = np.log(x)
    alpha, cn = _continuous_alphas(L, cand, x.size, None)
    return x, L, first, cand, alpha, cn


@pytest.mark.parametrize(("seed", "ties"), [(0, False), (1, True)])
def test_exact_scan_matches_definition(seed, ties):
    x, L, first, cand, alpha, cn = _setup(seed, ties)
    d, j = ks_scan_numpy(L, first, cand, alpha, cn, 0)
    for c in range(0, cand.size, 37):
        i = cand[c]
        tail = x[i:]
        u = np.unique(tail)
        emp = np.searchsorted(tail, u, side="left") / tail.size
        ref = np.abs(1 - (u / x[i]) ** (-alpha[c]) - emp)
        assert d[c] == pytest.approx(ref.max(), abs=1e-13)
        assert x[j[c]] == u[np.argmax(ref)]


@pytest.mark.parametrize("k", [1, 4, 16, 64])
def test_grid_is_a_lower_bound_and_exact_when_dense(k):
    x, L, first, cand, alpha, cn = _setup(2, True)
    exact, _ = ks_scan_numpy(L, first, cand, alpha, cn, 0)
    grid, _ = ks_scan_numpy(L, first, cand, alpha, cn, k)
    assert np.all(grid <= exact)
    dense = (x.size - cand) <= k + 1
    np.testing.assert_array_equal(grid[dense], exact[dense])


@pytest.mark.gpu
@pytest.mark.parametrize("k", [0, 8, 128])
def test_cupy_kernel_matches_numpy_twin(k):
    cp = pytest.importorskip("cupy")
    from sparsity.tails._ks_scan_cupy import ks_scan_cupy

    _x, L, first, cand, alpha, cn = _setup(3, True)
    d_np, j_np = ks_scan_numpy(L, first, cand, alpha, cn, k)
    d_cp, j_cp = ks_scan_cupy(*(cp.asarray(a) for a in (L, first, cand, alpha, cn)), k=k)
    # CUDA exp and NumPy exp may differ by an ulp or two; |G| <= 1, so 1e-14 absolute covers it
    np.testing.assert_allclose(cp.asnumpy(d_cp), d_np, rtol=0, atol=1e-14)
    np.testing.assert_array_equal(cp.asnumpy(j_cp), j_np)


@pytest.mark.gpu
def test_fit_tail_on_cupy_input_matches_numpy():
    cp = pytest.importorskip("cupy")
    from sparsity.tails._fit import fit_tail

    x = np.random.default_rng(4).random(20_000) ** (-1 / 1.5)
    a = fit_tail(x)
    b = fit_tail(cp.asarray(x))
    assert (b.xmin, b.n_tail) == (a.xmin, a.n_tail)
    assert b.alpha == pytest.approx(a.alpha, rel=1e-12)


@pytest.mark.parametrize(("seed", "ties"), [(5, False), (6, True)])
def test_block_pruned_exact_equals_plain_exact(seed, ties):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.random(20_000) ** (-1 / 1.1))
    if ties:
        x = np.sort(np.round(x, 2))
    first = _first_index(x)
    cand = np.flatnonzero(first == np.arange(x.size))[:-2][::97]
    L = np.log(x)
    alpha, cn = _continuous_alphas(L, cand, x.size, None)
    d_plain, j_plain = ks_scan_numpy(L, first, cand, alpha, cn, 0, blocks=False)
    d_blocks, j_blocks = ks_scan_numpy(L, first, cand, alpha, cn, 0, blocks=True)
    np.testing.assert_array_equal(d_blocks, d_plain)
    np.testing.assert_array_equal(j_blocks, j_plain)


def test_window_bound_is_a_lower_bound():
    from sparsity.tails._ks_scan import ks_window_numpy

    _x, L, first, cand, alpha, cn = _setup(7, True)
    exact, _ = ks_scan_numpy(L, first, cand, alpha, cn, 0)
    grid, where = ks_scan_numpy(L, first, cand, alpha, cn, 8)
    win = ks_window_numpy(L, first, cand, alpha, cn, where, 8)
    assert np.all(win <= exact)
    # the window contains the grid maximiser itself, so it is at least the grid bound
    assert np.all(win >= grid)


@pytest.mark.parametrize(("ties", "chunk"), [(False, 1 << 18), (True, 1 << 18), (True, 5000), (True, 1000), (False, 1)])
def test_vectorised_short_tails_equal_the_per_candidate_scan(monkeypatch, ties, chunk):
    # every candidate of a 3000-value sample (tails from 3 to 2998: short ones vectorised, long ones blocked),
    # in one chunk or many: bitwise the plain per-candidate scan
    import importlib

    ks = importlib.import_module("sparsity.tails._ks_scan")  # the module (the package exports a function)
    x, L, first, cand, alpha, cn = _setup(11, ties, n=3000, alpha=1.2)
    monkeypatch.setattr(ks, "_CHUNK_ELEMENTS", chunk)
    d, j = ks_scan_numpy(L, first, cand, alpha, cn, 0)
    d_plain, j_plain = ks_scan_numpy(L, first, cand, alpha, cn, 0, blocks=False)
    assert np.any(x.size - cand < ks._SHORT_TAIL) and np.any(x.size - cand >= ks._SHORT_TAIL)
    np.testing.assert_array_equal(d, d_plain)
    np.testing.assert_array_equal(j, j_plain)


def test_batched_block_scan_with_an_invalid_candidate_equals_the_plain_scan():
    # long tails are scanned together; a NaN alpha among them (candidate 5; candidate 0 is a short tail)
    # gives the plain scan's NaN and index, and does not disturb its neighbours in the batch
    rng = np.random.default_rng(12)
    x = np.sort(rng.random(6000) ** (-1 / 1.4))
    first = _first_index(x)
    cand = np.flatnonzero(first == np.arange(x.size))[:-2][::-301][:12]  # tails 3, 304, ..., in descending order
    L = np.log(x)
    alpha, cn = _continuous_alphas(L, cand, x.size, None)
    alpha[[0, 5]] = np.nan
    d, j = ks_scan_numpy(L, first, cand, alpha, cn, 0)
    d_plain, j_plain = ks_scan_numpy(L, first, cand, alpha, cn, 0, blocks=False)
    assert np.isnan(d[0]) and np.isnan(d[5]) and np.all(np.isfinite(np.delete(d, [0, 5])))
    np.testing.assert_array_equal(d, d_plain)
    np.testing.assert_array_equal(j, j_plain)


def test_float32_logs_are_evaluated_in_float64():
    # the scan works in float64 in place: float32 logs give exactly the float64 results of the same values
    _x, L, first, cand, alpha, cn = _setup(13, True)
    L32 = L.astype(np.float32)
    for k in (0, 16):
        d32, j32 = ks_scan_numpy(L32, first, cand, alpha, cn, k)
        d64, j64 = ks_scan_numpy(L32.astype(np.float64), first, cand, alpha, cn, k)
        np.testing.assert_array_equal(d32, d64)
        np.testing.assert_array_equal(j32, j64)


# ---------------------------------------------------------------------------------------------- registry


@pytest.mark.parametrize(
    ("module_name", "kernel"),
    [("numpy", "numpy"), ("array_api_compat.numpy", "numpy"), ("array_api_strict", "numpy"), ("torch", "numpy"),
     ("cupy", "cupy"), ("array_api_compat.cupy", "cupy")],
)  # fmt: skip
def test_kernel_is_chosen_by_the_namespace_name(module_name, kernel):
    fake = types.SimpleNamespace(__name__=module_name)
    assert _ks_backends.ks_kernel_for(fake).name == kernel


def test_choosing_the_cupy_kernel_does_not_import_cupy():
    code = (
        "import sys, types; import sparsity; from sparsity.tails._ks_backends import ks_kernel_for; "
        "k = ks_kernel_for(types.SimpleNamespace(__name__='array_api_compat.cupy')); "
        "print(k.name, 'cupy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["cupy", "False"]


def test_fit_tail_scans_with_the_kernel_registered_for_its_namespace(monkeypatch):
    # a counting kernel registered for array_api_strict: fit_tail on such an array runs its scans (and gets
    # the NumPy result bitwise, since it wraps the NumPy kernel); NumPy input does not touch it
    xps = pytest.importorskip("array_api_strict")
    calls = []

    def scan(*args, **kwargs):
        calls.append(args[5])
        return _ks_backends.NUMPY_KERNEL.scan(*args, **kwargs)

    counting = dataclasses.replace(_ks_backends.NUMPY_KERNEL, name="array_api_strict", scan=scan)
    monkeypatch.setitem(_ks_backends._KERNELS, "array_api_strict", counting)
    from sparsity.tails import fit_tail

    x = np.random.default_rng(8).random(3000) ** (-1 / 1.4)
    ref = fit_tail(x)
    assert calls == []
    got = fit_tail(xps.asarray(x))
    assert calls and 0 in calls  # exact scans (k = 0) and grid scans
    assert (got.alpha, got.xmin, got.ks_distance, got.n_tail) == (ref.alpha, ref.xmin, ref.ks_distance, ref.n_tail)
