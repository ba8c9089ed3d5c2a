"""Randomized truncated SVD (Halko, Martinsson & Tropp 2011), written once against the array namespace.

CuPy has no randomized SVD of its own; this body uses only ``matmul``, ``linalg.qr`` and ``linalg.svd`` of the
input's namespace, so the same code runs on NumPy, CuPy and array_api_strict. The Gaussian test matrix is
drawn on the host from a NumPy ``Generator`` (reproducible across backends), cast to the input dtype and
moved to the input's device (the scikit-learn convention).

Algorithm (HMT Algorithms 4.3/4.4 and 5.1): ``Y = A Omega`` with ``Omega`` of shape ``(n, k + p)``; ``q``
power iterations ``Y <- A (A^T Y)`` with a QR re-orthonormalisation after every product; ``Q = qr(Y)``;
``B = Q^T A`` (small, ``(k + p) x n``); ``B = U_B S V^T``; ``U = Q U_B``; keep the leading ``k`` triplets.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["default_power_iterations", "randomized_svd_body"]


def default_power_iterations(k: int, min_dim: int) -> int:
    """scikit-learn's default: 7 power iterations when ``k < 0.1 min(m, n)`` (slowly decaying spectra), else 4."""
    return 7 if k < 0.1 * min_dim else 4


def _orthonormalize(Y: Any, *, xp: Any) -> Any:
    Q, _ = xp.linalg.qr(Y)
    return Q


def _gaussian(shape: tuple[int, int], dtype: Any, like: Any, rng: np.random.Generator, *, xp: Any) -> Any:
    host = rng.standard_normal(shape)
    dev = getattr(like, "device", None)
    arr = xp.asarray(host, device=dev) if dev is not None else xp.asarray(host)
    return xp.astype(arr, dtype)


def randomized_svd_body(
    W: Any,
    k: int,
    *,
    oversamples: int,
    n_iter: int,
    rng: np.random.Generator,
    xp: Any,
) -> tuple[Any, Any, Any]:
    """Leading ``k`` singular triplets of a 2-D ``W`` (validated, floating): ``U (m, k)``, ``s (k,)``, ``Vt (k, n)``.

    Works on the transpose when ``m < n`` so the sketch is always of the smaller side.
    """
    m, n = int(W.shape[0]), int(W.shape[1])
    if m < n:
        U, s, Vt = randomized_svd_body(
            xp.matrix_transpose(W), k, oversamples=oversamples, n_iter=n_iter, rng=rng, xp=xp
        )
        return xp.matrix_transpose(Vt), s, xp.matrix_transpose(U)
    ell = min(k + oversamples, n)
    Wt = xp.matrix_transpose(W)
    Q = _orthonormalize(W @ _gaussian((n, ell), W.dtype, W, rng, xp=xp), xp=xp)
    for _ in range(n_iter):
        Z = _orthonormalize(Wt @ Q, xp=xp)
        Q = _orthonormalize(W @ Z, xp=xp)
    B = xp.matrix_transpose(Q) @ W
    Ub, s, Vt = xp.linalg.svd(B, full_matrices=False)
    U = Q @ Ub[:, :k]
    return U, s[:k], Vt[:k, :]
