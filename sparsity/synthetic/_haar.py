"""Haar-random orthogonal factors as products of Householder reflectors (private).

The Q factor of the QR decomposition of an n x k Gaussian matrix G, with its columns multiplied by the signs
of diag(R), is Haar distributed on the Stiefel manifold (Mezzadri 2007). LAPACK's ``geqrf`` builds Q as
``H_1 ... H_k``, where ``H_j`` is the Householder reflector that maps the j-th column of ``H_{j-1} ... H_1 G``,
restricted to rows j..n, onto a multiple of e_1. Because the Gaussian law is rotation invariant and the
columns are independent, that restricted column is a fresh N(0, I_{n-j+1}) vector independent of the previous
reflectors. So the reflectors can be drawn directly, in O(nk) work, without running ``geqrf`` at all
(Stewart 1980): we skip the O(n k^2) factorisation and only pay for applying or forming Q.

Reflector convention (LAPACK ``dlarfg``): for a column ``(a, x)``, ``beta = -sign(a) ||(a, x)||``,
``tau = (beta - a) / beta``, ``v = (1, x / (a - beta))``, ``H = I - tau v v^T`` and ``H (a, x) = beta e_1``;
when ``x = 0``, ``tau = 0`` and ``beta = a``. The diagonal of R is ``beta``, so the Haar factor is
``(H_1 ... H_k)[:, :k] diag(sign(beta))``.

References: G. W. Stewart, SIAM J. Numer. Anal. 17 (1980) 403-409; F. Mezzadri, Notices AMS 54 (2007) 592-604.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import get_lapack_funcs

__all__ = ["haar_columns", "orthogonal_spectrum"]


def _reflectors(gen: np.random.Generator, n: int, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw k Householder reflectors of a Haar n x k factor: ``(V, tau, signs)`` in LAPACK layout.

    ``V`` is Fortran-ordered n x k; below its diagonal it holds the reflector vectors (the diagonal and upper
    triangle are not referenced by LAPACK).
    """
    g = gen.standard_normal(size=(k, n)).T  # Fortran order: every column contiguous
    tau = np.zeros(k)
    signs = np.ones(k)
    for j in range(k):
        col = g[j + 1 :, j]
        a = g[j, j]
        tail2 = float(np.dot(col, col))
        if tail2 == 0.0:  # last column of a square factor: H = I, R_jj = a
            signs[j] = -1.0 if a < 0 else 1.0
            continue
        beta = -np.copysign(np.sqrt(a * a + tail2), a)
        tau[j] = (beta - a) / beta
        col *= 1.0 / (a - beta)
        signs[j] = -1.0 if beta < 0 else 1.0
    return g, tau, signs


def _orgqr(v: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """Form the first k columns of ``H_1 ... H_k`` explicitly (LAPACK ``orgqr``)."""
    (orgqr,) = get_lapack_funcs(("orgqr",), (v,))
    lwork = int(orgqr(v, tau, lwork=-1)[1][0])
    q, _, info = orgqr(v, tau, lwork=max(lwork, 1), overwrite_a=1)
    if info != 0:  # pragma: no cover - LAPACK argument error would be a bug here
        raise RuntimeError(f"LAPACK orgqr failed with info={info}")
    return q


def _ormqr_left(v: np.ndarray, tau: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Return ``(H_1 ... H_k) c`` without forming the product (LAPACK ``ormqr``, side L, no transpose)."""
    (ormqr,) = get_lapack_funcs(("ormqr",), (v,))
    lwork = int(ormqr("L", "N", v, tau, c, -1)[1][0])
    out, _, info = ormqr("L", "N", v, tau, c, max(lwork, 1), overwrite_c=1)
    if info != 0:  # pragma: no cover
        raise RuntimeError(f"LAPACK ormqr failed with info={info}")
    return out


def haar_columns(gen: np.random.Generator, n: int, k: int) -> np.ndarray:
    """An n x k matrix with orthonormal columns, Haar distributed on the Stiefel manifold (float64)."""
    v, tau, signs = _reflectors(gen, n, k)
    q = _orgqr(v, tau)
    q *= signs
    return q


def orthogonal_spectrum(gen: np.random.Generator, s: np.ndarray, n: int, m: int) -> np.ndarray:
    """``U diag(s) V^T`` (n x m, float64, Fortran order) with independent Haar U (n x k) and V (m x k).

    Cost (k = len(s)): V is formed with ``orgqr`` and U is applied with ``ormqr``, about 4nmk - (2/3)k^3
    flops (10/3 n^3 for a square full-rank matrix, against 8/3 n^3 for one ``numpy.linalg.qr``). When k is
    small the cheaper route is to form both factors and multiply (2k^2(n + m) - (4/3)k^3 + 2nmk flops).
    """
    k = s.shape[0]
    v_ref, v_tau, v_signs = _reflectors(gen, m, k)
    u_ref, u_tau, u_signs = _reflectors(gen, n, k)
    weights = s * v_signs * u_signs
    q_v = _orgqr(v_ref, v_tau)  # m x k
    apply_flops = 4.0 * n * m * k - 2.0 * m * k * k
    form_flops = 2.0 * n * k * k - (2.0 / 3.0) * k**3 + 2.0 * n * m * k
    if apply_flops <= form_flops:
        c = np.zeros((n, m), order="F")
        np.multiply(weights[:, None], q_v.T, out=c[:k])
        return _ormqr_left(u_ref, u_tau, c)
    q_u = _orgqr(u_ref, u_tau)  # n x k
    q_u *= weights
    return np.asfortranarray(q_u @ q_v.T)
