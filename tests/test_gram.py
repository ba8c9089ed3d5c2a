"""Gram eigenvalues of many matrices at once (sparsity._gram): batching changes no bit of any result."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

import sparsity as sp
from sparsity import _gram

EPS64 = np.finfo(np.float64).eps


def _matrices() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    shapes = [(300, 120), (120, 120), (300, 120), (500, 64), (64, 64), (200, 120), (90, 90), (120, 120), (700, 64)]
    mats = [rng.standard_t(3.0, s).astype(np.float32 if i % 2 else np.float64) for i, s in enumerate(shapes)]
    mats.append(rng.standard_normal((900, 40)).T.T)  # a non-contiguous-looking but contiguous view
    mats.append(rng.standard_normal((80, 400)).T)  # Fortran-ordered (m >= n after the transpose)
    return mats


@pytest.mark.parametrize("cpus", [1, 2, 3, 8])
def test_batched_eigenvalues_equal_each_matrix_alone_bitwise(monkeypatch, cpus):
    monkeypatch.setattr(_gram.os, "cpu_count", lambda: cpus)
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
    alone = _gram.gram_eigenvalues_many([A])[0]
    np.testing.assert_array_equal(_gram.gram_eigenvalues_many([B, A, B])[1], alone)
    np.testing.assert_allclose(alone, small_path, rtol=0, atol=1e3 * EPS64 * small_path[-1])


def test_analyze_weights_rows_equal_analyze_matrix(monkeypatch):
    # analyze_weights batches the small matrices' spectra (flushing every few tensors here); every row must be
    # exactly the row analyze_matrix gives for the same tensor alone.
    import sparsity.layer_metrics as lm

    monkeypatch.setattr(lm, "_PENDING_BYTES", 300_000)
    rng = np.random.default_rng(2)
    tensors = {
        "a": rng.standard_t(2.5, (300, 120)),
        "b": rng.standard_normal((64, 256)).astype(np.float32),
        "conv": rng.standard_normal((32, 16, 3, 3)),
        "c": sp.synthetic.levy_matrix(1.5, 400, 200, rng=3),
        "zero": np.zeros((40, 30)),
        "d": rng.standard_t(4.0, (120, 120)),
    }
    df = sp.analyze_weights(tensors, entries=False)
    for name, W in tensors.items():
        row = df[df["name"] == name].iloc[0]
        one = sp.analyze_matrix(W, entries=False)
        for key in ("alpha_ww", "xmin", "D", "lambda_max", "norm", "sv_min", "measured_rank_decay", "num_spikes"):
            a, b = row[key], one[key]
            assert (a == b) or (np.isnan(a) and np.isnan(b)), (name, key, a, b)
        assert row["status"] == one["status"]
