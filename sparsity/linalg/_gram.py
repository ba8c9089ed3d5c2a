"""Float64 Gram matrices of NumPy matrices and their eigenvalues, many matrices at once (private).

The ESD of a weight matrix ``A`` (``m >= n`` after a transpose) is the spectrum of ``G = A^T A``. A model's
analysis is dominated by forming each ``G`` (BLAS ``syrk``) and by the symmetric eigensolver (LAPACK
``dsytrd`` + ``dsterf``, whose tridiagonal reduction is memory-bound and gains little from a second BLAS
thread at these sizes). :func:`gram_eigenvalues_many` therefore treats *small* matrices (``n <= BATCH_MAX_N``
and a float64 copy of at most ``SMALL_BYTES``) with single-threaded BLAS, several at once on Python threads:
NumPy releases the GIL in ``matmul`` and :func:`sparsity.linalg._lapack.eigvalsh_upper` releases it in LAPACK
(NumPy's single-matrix ``eigvalsh`` and SciPy's f2py wrappers do not). Larger matrices use every BLAS thread,
one after the other.

Measured on 2 cores (``bench/perf/test_perf_spectra.py::test_gram_batch_vs_sequential``): the 36 Gram
spectra of MiniLM's encoder are 1.5x faster as one threaded batch than one after another with one BLAS thread
when the cores are free (less when other processes hold them), and 2x to 6x faster than one after another
with the default two BLAS threads.

Determinism: BLAS and LAPACK rounding depends on the number of threads, so the path is chosen by the
matrix size alone, and a small matrix is always solved with one BLAS thread
(:func:`sparsity._threads.single_blas_thread`, lifted when the call returns). It gets the same float64 Gram
matrix and bitwise the same eigenvalues whether it comes alone or with others, on any machine.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy.linalg.blas import dsyrk

from sparsity._threads import available_cpus, single_blas_thread
from sparsity.linalg._lapack import eigvalsh_upper

__all__ = ["BATCH_MAX_N", "SMALL_BYTES", "eigvalsh_upper", "gram_eigenvalues_many", "gram_numpy", "is_small"]

BATCH_MAX_N = 1024
"""Largest Gram size treated as small (single-threaded BLAS, batched over threads)."""

SMALL_BYTES = 16 * 2**20
"""Largest float64 copy of a matrix treated as small (a 4096 x 512 matrix)."""

_GRAM_BLOCK_BYTES = 16 * 2**20
"""Large float32 matrices form their Gram matrix from float64 row blocks of about this size."""

_MAX_THREADS = 8


def is_small(m: int, n: int) -> bool:
    """Whether an ``m x n`` matrix (``m >= n``) takes the single-threaded, batched path."""
    return n <= BATCH_MAX_N and 8 * m * n <= SMALL_BYTES


def gram_numpy(A: np.ndarray) -> np.ndarray:
    """Upper triangle of ``A^T A`` in float64 (Fortran order) for a 2-D NumPy ``A`` with ``m >= n``.

    ``A`` is converted to float64 (products of float32 numbers are exact in float64) and BLAS ``dsyrk`` forms
    only the upper triangle (half the flops of ``A.T @ A``) on a Fortran-ordered view (no copy). A float32
    matrix over :data:`_GRAM_BLOCK_BYTES` is accumulated over float64 row blocks, so the extra memory is one
    block and the Gram matrix instead of a float64 copy of the whole matrix (2x its float32 size).
    """
    if A.dtype == np.float64 or A.nbytes <= _GRAM_BLOCK_BYTES:
        A64 = np.ascontiguousarray(A, dtype=np.float64)
        return dsyrk(1.0, A64.T, trans=0)  # A64.T is Fortran-ordered: dsyrk(trans=0) forms A64.T @ A64
    rows = max(1, _GRAM_BLOCK_BYTES // (8 * A.shape[1]))
    G = dsyrk(1.0, np.ascontiguousarray(A[:rows], dtype=np.float64).T, trans=0)
    for start in range(rows, A.shape[0], rows):
        B64 = np.ascontiguousarray(A[start : start + rows], dtype=np.float64)
        G = dsyrk(1.0, B64.T, beta=1.0, c=G, trans=0, overwrite_c=1)
    return G


def _workers(tasks: int) -> int:
    return max(1, min(tasks, available_cpus(), _MAX_THREADS))


def _small_gram_eigenvalues(A: np.ndarray) -> np.ndarray:
    """Ascending eigenvalues of ``A^T A`` for a small matrix.

    NumPy's ``matmul`` (BLAS ``syrk``, a full symmetric C-ordered result) and
    :func:`sparsity.linalg._lapack.eigvalsh_upper` on its Fortran-ordered transpose view (the same matrix), both
    with the GIL released.
    """
    A64 = np.ascontiguousarray(A, dtype=np.float64)
    return eigvalsh_upper(np.matmul(A64.T, A64).T)


def gram_eigenvalues_many(mats: list[np.ndarray]) -> list[np.ndarray]:
    """Ascending eigenvalues of ``A^T A`` for each 2-D float NumPy matrix ``A`` (``m >= n``) in ``mats``.

    Small matrices (:func:`is_small`) with one BLAS thread, largest first, several at once on Python threads
    when there are several: each thread forms a Gram matrix and solves it (:func:`_small_gram_eigenvalues`).
    The others: :func:`gram_numpy` and :func:`eigvalsh_upper` with every BLAS thread, one after the other. The
    result of each matrix does not depend on which others come with it.

    Parameters
    ----------
    mats : list of ndarray, each of shape (m, n) with m >= n

    Returns
    -------
    evals : list of ndarray, each of shape (n,)
        float64, ascending, in the order of ``mats``.
    """
    mats = [np.asarray(A) for A in mats]
    out: list[np.ndarray] = [np.empty(0)] * len(mats)
    small = [i for i, A in enumerate(mats) if is_small(*A.shape)]
    for i in sorted(set(range(len(mats))) - set(small)):
        out[i] = eigvalsh_upper(gram_numpy(mats[i]))
    if not small:
        return out
    # largest first, so that the threads finish together
    small.sort(key=lambda i: -(mats[i].shape[0] + mats[i].shape[1]) * mats[i].shape[1] ** 2)
    workers = _workers(len(small))
    with single_blas_thread():  # lifted when this call returns
        if workers == 1:
            for i in small:
                out[i] = _small_gram_eigenvalues(mats[i])
            return out
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for i, e in zip(small, pool.map(_small_gram_eigenvalues, [mats[i] for i in small]), strict=True):
                out[i] = e
    return out
