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

Big spectra (Gram order ``n >= BIG_ORDER = 2048``: LLM projections, embeddings):

- precision (:func:`resolve_precision`): three routes, measured with ``bench/large.py --precision-check`` on
  all 156 2-D tensors of ``tinyllama`` and ``--precision-preset llama7b`` on 21 of its 226 (every shape and
  kind, the planted alpha_ww nearest 1.5, 2, 2.5, 3.5 and 6 of each shape, the lowest, 1.517, included):

  - ``"float64"`` (the default, what ``"auto"`` resolves to): ``dsyrk`` on float64 row blocks (no float64 copy
    of a float32 matrix), ``dsytrd`` + ``dsterf``.
  - ``"mixed"``: the Gram matrix by ``ssyrk`` in float32 (no copy at all, 2x faster: 0.18 s against 0.38 s for
    5632 x 2048 on one thread), widened, then the float64 eigensolver. Its error is the Gram rounding, ``|E| <=
    gamma_m |A|^T |A|`` (``||E||_2 <= m u_32 ||A||_F^2`` in the worst case), measured ``<= 3.6e-6
    lambda_max``; ``|alpha_ww - alpha_ww(float64)|`` max 1.0e-4 on tinyllama, 7.1e-4 on llama7b (the
    4096 x 4096 layer with alpha_ww = 1.517, whose ``xmin`` is ``6e-7 lambda_max``): within 1e-3, but it saves
    only 12-20 % of the spectra's CPU time (the float64 eigensolver dominates), so it is an option.
  - ``"float32"``: also ``ssytrd`` + ``ssterf`` (0.37 s against 0.72 s at order 2048, 2.7 s against 5.3 s at
    4096; spectra CPU 71 s against 136 s on tinyllama). The float32 tridiagonal reduction dominates the error:
    every eigenvalue within ``delta = p(n) u_32 ||G||`` (``p(n) <= n``: ``delta <= n u_32 lambda_max`` = 1.2e-4
    / 2.4e-4 ``lambda_max`` at 2048 / 4096), measured up to 1.9e-5 / 4.3e-5 ``lambda_max`` (flat spectra; 1e-7
    to 1e-6 on power laws, ``||G||_F ~ lambda_max``). The MLE over the tail above ``xmin`` moves by up to ``2
    (alpha_ww - 1)^2 delta / xmin`` for a fixed ``xmin``. That bound certifies 1e-3 on none of the big tensors
    (``xmin`` is 6e-7 to 0.9 ``lambda_max``); measured: within 4.9e-4 (tinyllama) and 7.8e-4 (llama7b) on the
    planted power laws, but up to 1.9e-2 on Gaussian and iid-Pareto layers (alpha_ww of 25-63: the few edge
    eigenvalues of a flat spectrum, amplified by ``(alpha_ww - 1)^2``; 8 tinyllama and 2 llama7b tensors above
    1e-3). An option for power-law spectra only.

- threads: the Gram matrix (``syrk``, compute-bound) with every BLAS thread; the eigensolver with one BLAS
  thread for orders ``>= BIG_ORDER`` (``sytrd`` is half memory-bound ``symv``: on the 2 shared cores here a
  second thread took 0.65 -> 3.1 CPU s and 1.5 -> 8.4 s wall for order 2048, its threads spinning while other
  processes held the cores; tinyllama's analysis went from 485 to 121 CPU s); it also makes those eigenvalues
  independent of the machine's core count. The price: on 2 idle cores a second thread is 1.7x faster at order
  2048 (0.37 s against 0.63 s wall, ``bench/perf/test_perf_spectra.py::test_big_spectrum_precision_routes``).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import numpy as np
from scipy.linalg.blas import dsyrk, ssyrk

from sparsity._threads import available_cpus, single_blas_thread
from sparsity.linalg._lapack import eigvalsh_upper, eigvalsh_upper32

__all__ = [
    "BATCH_MAX_N",
    "BIG_ORDER",
    "PRECISIONS",
    "SMALL_BYTES",
    "Precision",
    "eigvalsh_upper",
    "gram_eigenvalues_many",
    "gram_numpy",
    "gram_numpy32",
    "is_small",
    "resolve_precision",
]

Precision = Literal["auto", "float64", "mixed", "float32"]
PRECISIONS = ("auto", "float64", "mixed", "float32")

BATCH_MAX_N = 1024
"""Largest Gram size treated as small (single-threaded BLAS, batched over threads)."""

BIG_ORDER = 2048
"""Smallest Gram order (smaller side of the matrix) whose eigensolver runs on one BLAS thread (module docstring).

Below it the path and threads are those of before (MiniLM's 30522 x 384 embedding keeps its bits); the LLM
hidden sizes (2048, 4096, ...) are at or above it."""

_GRAM32 = ("mixed", "float32")

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


def resolve_precision(precision: str) -> str:
    """The one place where ``precision="auto"`` is decided: ``"float64"`` for every input.

    ``"mixed"`` stays within 1e-3 of float64 in ``alpha_ww`` on the checked LLM tensors but saves only 12-20 %
    of the time, ``"float32"`` misses 1e-3 on non-power-law layers (module docstring): both are opt-in.
    Explicit routes pass through.
    """
    return "float64" if precision == "auto" else precision


def gram_numpy32(A: np.ndarray) -> np.ndarray:
    """Upper triangle of ``A^T A`` in float32 (Fortran order) for a 2-D NumPy ``A`` with ``m >= n``, by ``ssyrk``.

    No copy of a float32 ``A`` that is C- or Fortran-contiguous (a transposed view is passed as is with
    ``trans=1``); other inputs are converted to float32 first.
    """
    if A.dtype != np.float32 or not (A.flags.c_contiguous or A.flags.f_contiguous):
        A = np.ascontiguousarray(A, dtype=np.float32)
    if A.flags.c_contiguous:
        return ssyrk(1.0, A.T, trans=0)  # A.T is Fortran-ordered: ssyrk(trans=0) forms A.T @ A
    return ssyrk(1.0, A, trans=1)  # Fortran-ordered A: A^T A


def _big_gram_eigenvalues(A: np.ndarray, precision: str) -> np.ndarray:
    """Ascending eigenvalues of ``A^T A`` for a matrix off the small path, in the resolved ``precision``.

    The Gram matrix with every BLAS thread; for order ``>= BIG_ORDER`` the eigensolver with one (see
    the module docstring), below it with every thread as before.
    """
    G = gram_numpy32(A) if precision in _GRAM32 else gram_numpy(A)
    if precision == "mixed":
        G = G.astype(np.float64, order="F")
    solve = eigvalsh_upper32 if precision == "float32" else eigvalsh_upper
    if G.shape[0] < BIG_ORDER:
        return solve(G)
    with single_blas_thread():
        return solve(G)


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


def _small_gram_eigenvalues32(A: np.ndarray, precision: str) -> np.ndarray:
    """:func:`_small_gram_eigenvalues` with a float32 Gram matrix (``"mixed"``/``"float32"`` forced).

    Solved in float64 (``"mixed"``) or float32.
    """
    A32 = np.ascontiguousarray(A, dtype=np.float32)
    G = np.matmul(A32.T, A32).T
    return eigvalsh_upper32(G) if precision == "float32" else eigvalsh_upper(G.astype(np.float64, order="F"))


def gram_eigenvalues_many(mats: list[np.ndarray], precision: str = "float64") -> list[np.ndarray]:
    """Ascending eigenvalues of ``A^T A`` for each 2-D float NumPy matrix ``A`` (``m >= n``) in ``mats``.

    Small matrices (:func:`is_small`) with one BLAS thread, largest first, several at once on Python threads
    when there are several: each thread forms a Gram matrix and solves it (:func:`_small_gram_eigenvalues`).
    The others one after the other (:func:`_big_gram_eigenvalues`: the Gram matrix with every BLAS thread). The
    result of each matrix does not depend on which others come with it.

    Parameters
    ----------
    mats : list of ndarray, each of shape (m, n) with m >= n
    precision : {"float64", "mixed", "float32", "auto"}
        Working precision of the Gram matrix and the eigensolver (module docstring); ``"auto"`` is
        ``"float64"`` (:func:`resolve_precision`). Default float64.

    Returns
    -------
    evals : list of ndarray, each of shape (n,)
        float64, ascending, in the order of ``mats``.
    """
    mats = [np.asarray(A) for A in mats]
    out: list[np.ndarray] = [np.empty(0)] * len(mats)
    prec = [resolve_precision(precision)] * len(mats)
    small = [i for i, A in enumerate(mats) if is_small(*A.shape) and prec[i] == "float64"]
    for i in sorted(set(range(len(mats))) - set(small)):
        if is_small(*mats[i].shape):  # a float32 Gram matrix forced on a small matrix
            with single_blas_thread():
                out[i] = _small_gram_eigenvalues32(mats[i], prec[i])
        else:
            out[i] = _big_gram_eigenvalues(mats[i], prec[i])
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
