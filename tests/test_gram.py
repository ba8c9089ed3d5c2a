"""Gram eigenvalues of many matrices at once (sparsity.linalg._gram): batching changes no bit of any result."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.linalg

import sparsity as sp
from sparsity import _threads
from sparsity.linalg import _gram, _svd

EPS64 = np.finfo(np.float64).eps


def _matrices() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    shapes = [(300, 120), (120, 120), (300, 120), (500, 64), (64, 64), (200, 120), (90, 90), (120, 120), (700, 64)]
    mats = [rng.standard_t(3.0, s).astype(np.float32 if i % 2 else np.float64) for i, s in enumerate(shapes)]
    mats.append(rng.standard_normal((900, 80))[:, ::2])  # a strided (non-contiguous) view
    mats.append(rng.standard_normal((80, 400)).T)  # Fortran-ordered (m >= n after the transpose)
    return mats


@pytest.mark.parametrize("cpus", [1, 2, 3, 8])
def test_batched_eigenvalues_equal_each_matrix_alone_bitwise(monkeypatch, cpus):
    monkeypatch.setattr(_gram, "available_cpus", lambda: cpus)
    mats = _matrices()
    batch = _gram.gram_eigenvalues_many(mats)
    for A, e in zip(mats, batch, strict=True):
        np.testing.assert_array_equal(e, _gram.gram_eigenvalues_many([A])[0])


def test_batched_eigenvalues_match_scipy_on_the_float64_gram():
    # Weyl: both are eigenvalues of float64 Gram matrices accurate to ~ m u_64 ||A||^2, so they agree to that.
    for A in _matrices():
        e = _gram.gram_eigenvalues_many([A])[0]
        A64 = A.astype(np.float64)
        ref = scipy.linalg.eigvalsh(A64.T @ A64)
        assert np.all(np.diff(e) >= 0)
        np.testing.assert_allclose(e, ref, rtol=0, atol=10 * A.shape[0] * EPS64 * ref[-1])


def test_large_matrices_take_the_all_threads_path(monkeypatch):
    # A matrix above the small limits (here forced by SMALL_BYTES) is solved alone with every BLAS thread;
    # its result is the same in a batch as alone, and equal to the small path's to rounding.
    rng = np.random.default_rng(1)
    A, B = rng.standard_normal((400, 100)), rng.standard_normal((200, 100))
    small_path = _gram.gram_eigenvalues_many([A])[0]
    monkeypatch.setattr(_gram, "SMALL_BYTES", 8 * 300 * 100)
    assert not _gram.is_small(400, 100) and _gram.is_small(200, 100)
    calls = []
    original = _gram.eigvalsh_upper
    monkeypatch.setattr(_gram, "eigvalsh_upper", lambda G: calls.append(G.shape) or original(G))
    alone = _gram.gram_eigenvalues_many([A])[0]
    assert calls == [(100, 100)]
    np.testing.assert_array_equal(_gram.gram_eigenvalues_many([B, A, B])[1], alone)
    # two float64 Gram matrices and two backward-stable eigensolvers: within ~2 (m + n) u_64 lambda_max (Weyl)
    np.testing.assert_allclose(alone, small_path, rtol=0, atol=2 * (400 + 100) * EPS64 * small_path[-1])


def test_analyze_weights_rows_equal_analyze_matrix():
    # analyze_weights analyses one tensor after another; every row must be exactly (bitwise) the row
    # analyze_matrix gives for the same tensor alone, entry columns included
    rng = np.random.default_rng(2)
    tensors = {
        "a": rng.standard_t(2.5, (300, 120)),
        "b": rng.standard_normal((64, 256)).astype(np.float32),
        "conv": rng.standard_normal((32, 16, 3, 3)),  # 9 small matrices solved together on threads
        "c": sp.synthetic.levy_matrix(1.5, 400, 200, rng=3),
        "zero": np.zeros((40, 30)),
        "tiny": np.ones((2, 1)),
        "d": rng.standard_t(4.0, (120, 120)),
    }
    df = sp.analyze_weights(tensors, entry_top=500)
    assert list(df["name"]) == list(tensors)
    for name, W in tensors.items():
        row = df[df["name"] == name].iloc[0]
        one = sp.analyze_matrix(W, entry_top=500)
        for key, b in one.items():
            a = row[key]
            assert (a == b) or (a is pd.NA and b is None) or (np.isnan(a) and np.isnan(b)), (name, key, a, b)
    assert "too few for entry metrics" in df[df["name"] == "tiny"].iloc[0]["reason"]


def test_one_column_and_one_row_matrices():
    for W in (np.ones((5, 1), np.float32), np.ones((1, 7)), np.full((3, 1), 2.0)):
        s = sp.singular_values(W, method="gram")
        norm = np.linalg.norm(W.astype(np.float64))
        np.testing.assert_allclose(s, [norm], rtol=1e-12)
        assert sp.esd(W)[0] == pytest.approx(norm**2, rel=1e-12)
    G = np.array([[4.0]])
    assert _gram.eigvalsh_upper(G.copy()).tolist() == [4.0]


def test_one_column_matrix_on_the_large_path(monkeypatch):
    monkeypatch.setattr(_gram, "SMALL_BYTES", 0)
    A = np.arange(1.0, 11.0)[:, None]
    assert _gram.gram_eigenvalues_many([A])[0].tolist() == [float(np.sum(A * A))]


def test_huge_entries_keep_zero_eigenvalues_zero():
    # |W| up to 2**600: the squares overflow to inf, but the exact zeros of the spectrum must stay 0, not NaN
    W = np.zeros((6, 4))
    W[0, 0] = 2.0**600
    e = sp.esd(W)
    assert not np.any(np.isnan(e)) and np.isinf(e[0]) and np.all(e[1:] == 0)


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_ndarray_subclass_input():
    rng = np.random.default_rng(4)
    A = rng.standard_normal((40, 60))
    row = sp.analyze_matrix(np.asmatrix(A), entries=False)
    assert row["alpha_ww"] == sp.analyze_matrix(A, entries=False)["alpha_ww"]


def test_concurrent_callers_restore_blas_threads():
    # The single-thread BLAS limit is process-wide; concurrent callers are serialised and the thread counts
    # are the same after as before.
    import threading

    from threadpoolctl import threadpool_info

    before = [d["num_threads"] for d in threadpool_info()]
    mats = _matrices()
    errors = []

    def work():
        try:
            for _ in range(3):
                _gram.gram_eigenvalues_many(mats)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert [d["num_threads"] for d in threadpool_info()] == before


def _fail_eigensolves_of(monkeypatch, shape):
    """Make every Gram eigensolve that holds a matrix of this shape fail, as LAPACK would."""
    original = _svd.gram_eigenvalues_many

    def flaky(mats, *args, **kw):
        if any(A.shape == shape for A in mats):
            raise np.linalg.LinAlgError("eigenvalues did not converge")
        return original(mats, *args, **kw)

    monkeypatch.setattr(_svd, "gram_eigenvalues_many", flaky)


def test_a_failing_eigensolve_fails_only_its_tensor(monkeypatch):
    _fail_eigensolves_of(monkeypatch, (77, 33))
    rng = np.random.default_rng(5)
    tensors = {
        "ok1": rng.standard_normal((50, 30)),
        "bad": rng.standard_normal((77, 33)),
        "ok2": rng.standard_normal((60, 20)),
    }
    df = sp.analyze_weights(tensors, entries=False)
    assert list(df["status"]) == ["ok", "failed", "ok"]
    assert "did not converge" in df.loc[1, "reason"]
    # the identity columns are kept, as integers
    assert (df.loc[1, "N"], df.loc[1, "M"], df.loc[1, "rf"]) == (77, 33, 1) and df["N"].dtype == "Int64"
    with pytest.raises(np.linalg.LinAlgError, match="tensor 'bad'") as info:  # the error type is kept
        sp.analyze_weights(tensors, entries=False, errors="raise")
    assert str(info.value) == "eigenvalues did not converge"  # the tensor is named in a note


def test_overflowing_spectrum_gives_a_failed_row_with_the_reason():
    W = np.random.default_rng(6).standard_normal((30, 20)) * 1e300
    row = sp.analyze_matrix(W, entries=False)
    assert row["status"] == "failed" and "overflows float64" in row["reason"]


def test_lock_is_fresh_in_a_forked_child():
    import os

    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    with _threads._LOCK:
        pid = os.fork()
        if pid == 0:  # child: the inherited lock was held by the parent's thread; a new one must be free
            os._exit(0 if _threads._LOCK.acquire(timeout=5) else 1)
        _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0


def test_a_failing_entry_fit_fails_only_its_row(monkeypatch):
    import sparsity.layers._analyze as lm

    original = lm.entry_columns

    def flaky(mags, n, **kw):
        if n == 77 * 30:
            raise ValueError("boom")
        return original(mags, n, **kw)

    monkeypatch.setattr(lm, "entry_columns", flaky)
    rng = np.random.default_rng(6)
    tensors = {"ok1": rng.standard_normal((40, 30)), "bad": rng.standard_normal((77, 30)), "ok2": np.eye(30) + 1}
    df = sp.analyze_weights(tensors)
    assert list(df["status"]) == ["ok", "failed", "ok"]
    assert df.iloc[1]["reason"] == "boom" and df.iloc[1]["N"] == 77
    with pytest.raises(ValueError, match="boom") as info:
        sp.analyze_weights(tensors, errors="raise")
    assert info.value.__notes__ == ["while analysing tensor 'bad'"]  # the original error, with a note


def test_errors_raise_reports_the_first_failing_tensor(monkeypatch):
    # tensor 1's spectrum fails and tensor 2 cannot even be read: the error raised is tensor 1's (reading order);
    # an error that is not a data error (a bug) is never turned into a row
    import sparsity.layers._analyze as lm

    _fail_eigensolves_of(monkeypatch, (77, 33))
    rng = np.random.default_rng(7)
    nan = rng.standard_normal((40, 30))
    nan[0, 0] = np.nan
    source = {
        "t0": rng.standard_normal((50, 30)),
        "t1": rng.standard_normal((77, 33)),
        "t2": nan,
        "t3": rng.standard_t(3.0, (50, 30)),
    }
    with pytest.raises(np.linalg.LinAlgError, match="tensor 't1'"):
        sp.analyze_weights(source, entries=False, errors="raise")
    df = sp.analyze_weights(source, errors="row")
    assert list(df["status"]) == ["ok", "failed", "failed", "ok"]
    assert df.loc[2, "shape"] == (40, 30) and df.loc[2, "N"] is pd.NA  # failed before its matrices were known

    def boom(*args, **kwargs):
        raise RuntimeError("not caught by errors='row'")

    monkeypatch.setattr(lm, "_analyze_row", boom)
    with pytest.raises(RuntimeError):
        sp.analyze_weights(source)


def test_blas_limit_is_scoped_to_our_calls(monkeypatch):
    # One BLAS thread only while our small eigenproblems run, never while the caller's source yields tensors
    from threadpoolctl import threadpool_info

    def blas_threads():
        return [d["num_threads"] for d in threadpool_info() if d["user_api"] == "blas"]

    before = blas_threads()
    seen_inside, seen_outside = [], []
    original = _gram._small_gram_eigenvalues

    def spy(A):
        seen_inside.append(blas_threads())
        return original(A)

    monkeypatch.setattr(_gram, "_small_gram_eigenvalues", spy)
    rng = np.random.default_rng(8)

    def source():
        for i in range(3):
            seen_outside.append(blas_threads())
            yield f"w{i}", rng.standard_normal((60, 40))

    sp.analyze_weights(source(), entries=False)
    assert seen_inside and all(set(t) == {1} for t in seen_inside)
    assert seen_outside == [before] * 3 and blas_threads() == before
