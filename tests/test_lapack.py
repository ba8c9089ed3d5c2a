"""sparsity.linalg._lapack: SciPy's LAPACK through its C pointers: the f2py wrappers' numbers, GIL released."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest
from scipy.linalg import lapack

from sparsity.linalg._lapack import eigvalsh_upper


def _gram(n: int, seed: int) -> np.ndarray:
    A = np.random.default_rng(seed).standard_normal((2 * n + 3, n))
    return np.asfortranarray(A.T @ A)


@pytest.mark.parametrize("n", [1, 2, 3, 64, 300])
def test_equals_the_f2py_dsytrd_dsterf_bitwise(n):
    G = _gram(n, n)
    ours = eigvalsh_upper(G.copy(order="F"))
    if n == 1:
        assert ours.tolist() == [G[0, 0]]
        return
    lwork = int(lapack.dsytrd_lwork(n, lower=0)[0])
    _, d, e, _, info = lapack.dsytrd(G.copy(order="F"), lower=0, lwork=lwork)
    ref, info2 = lapack.dsterf(d, e)
    assert info == info2 == 0
    np.testing.assert_array_equal(ours, ref)
    assert np.all(np.diff(ours) >= 0)


def test_reads_only_the_upper_triangle():
    G = _gram(50, 1)
    H = np.triu(G) + np.tril(np.full_like(G, np.nan), -1)  # garbage below the diagonal
    np.testing.assert_array_equal(eigvalsh_upper(np.asfortranarray(H)), eigvalsh_upper(G.copy(order="F")))


@pytest.mark.parametrize(
    "G", [np.zeros((3, 2), order="F"), np.ones((4, 4), np.float32, order="F"), np.ones((4, 4), order="C")]
)
def test_rejects_what_lapack_cannot_take(G):
    with pytest.raises(ValueError, match="Fortran-ordered float64"):
        eigvalsh_upper(G)


def test_read_only_empty_and_unaligned_input():
    G = _gram(5, 3)
    frozen = np.frombuffer(G.tobytes(order="F"), dtype=np.float64).reshape((5, 5), order="F")
    with pytest.raises(ValueError, match="writeable: False"):
        eigvalsh_upper(frozen)  # LAPACK overwrites G: never into memory we may not write
    assert eigvalsh_upper(np.zeros((0, 0), order="F")).shape == (0,)
    raw = np.zeros(5 * 5 * 8 + 1, dtype=np.uint8)[1:].view(np.float64).reshape((5, 5), order="F")
    raw[...] = G
    assert not raw.flags.aligned
    np.testing.assert_array_equal(eigvalsh_upper(raw), eigvalsh_upper(G.copy(order="F")))


def test_the_gil_is_released_during_the_call():
    # With a long switch interval a thread keeps the GIL until it blocks or releases it. While the worker is
    # inside LAPACK the main thread must run Python code (time.sleep(0) gives the GIL back at once when the
    # worker returns); a call holding the GIL (SciPy's f2py dsytrd) lets it run 0 iterations meanwhile.
    import sys
    import time

    from threadpoolctl import threadpool_limits

    G = _gram(600, 2)
    eigvalsh_upper(_gram(600, 3))  # pointers and workspace size cached: only the LAPACK calls remain
    inside, done = threading.Event(), threading.Event()

    def work():
        try:
            inside.set()
            eigvalsh_upper(G)
        finally:
            done.set()

    old = sys.getswitchinterval()
    sys.setswitchinterval(1.0)
    try:
        with threadpool_limits(1, "blas"):  # no BLAS threads competing with the main thread for a core
            t = threading.Thread(target=work)
            t.start()
            inside.wait()
            count = 0
            deadline = time.monotonic() + 60
            while not done.is_set() and time.monotonic() < deadline:
                count += 1
                time.sleep(0)
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert count > 100


def test_signature_check():
    from scipy.linalg import cython_lapack

    from sparsity.linalg import _lapack

    real = _lapack._CAPSULE_NAME(cython_lapack.__pyx_capi__["dsterf"])
    assert _lapack._signature_matches("dsterf", real)
    assert not _lapack._signature_matches("dsterf", b"void (int *, int *, double *, int *)")
    assert not _lapack._signature_matches("dsterf", real.replace(b"int *", b"int64_t *"))  # 64-bit LAPACK ints


@pytest.mark.parametrize("n", [2, 64, 300])
def test_falls_back_to_the_f2py_wrappers_with_a_warning(monkeypatch, n):
    # A SciPy whose pointer signatures differ from the declared ones: warn once, then the f2py wrappers, which
    # run the same LAPACK routines with the same workspace, so the eigenvalues are bitwise the same.
    from sparsity.linalg import _lapack

    G = _gram(n, n + 1)
    pointers = eigvalsh_upper(G.copy(order="F"))
    assert _lapack.uses_pointers()
    monkeypatch.setattr(_lapack, "_ROUTE", {})
    monkeypatch.setattr(_lapack, "_signature_matches", lambda name, signature: False)
    with pytest.warns(RuntimeWarning, match="using SciPy's f2py LAPACK wrappers instead"):
        fallback = eigvalsh_upper(G.copy(order="F"))
    np.testing.assert_array_equal(fallback, pointers)
    assert not _lapack.uses_pointers()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the warning comes once, not at every call
        np.testing.assert_array_equal(eigvalsh_upper(G.copy(order="F")), pointers)


def test_fallback_reports_lapack_errors(monkeypatch):
    from sparsity.linalg import _lapack

    monkeypatch.setattr(_lapack, "_ROUTE", {"pointers": None})
    monkeypatch.setattr(_lapack.lapack, "dsterf", lambda d, e, **kw: (d, 3))
    with pytest.raises(np.linalg.LinAlgError, match="LAPACK info = 3"):
        eigvalsh_upper(_gram(4, 0))
