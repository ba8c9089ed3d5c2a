"""Spectra of matrices: singular values, the ESD (eigenvalues of W^T W), rank-k truncation and rank-k errors.

Conventions (see DESIGN.md). The empirical spectral density (ESD) is the set of eigenvalues
``lambda_i = s_i^2`` of ``W^T W``, unnormalised (WeightWatcher's convention). WeightWatcher fits a density
power law :math:`\\rho(\\lambda) \\sim \\lambda^{-\\alpha_{ww}}` to its tail; we call that exponent ``alpha_ww``.
The singular values then have survival tail index ``sv_tail_index = 2 (alpha_ww - 1)``: if
:math:`P(\\Lambda > t) \\sim t^{-(\\alpha_{ww} - 1)}` then :math:`P(S > u) = P(\\Lambda > u^2) \\sim
u^{-2(\\alpha_{ww} - 1)}`. By Eckart-Young the best rank-k Frobenius error is the best k-term l2 error of the
singular values, so it decays like :math:`k^{-(1/a - 1/2)}` for ``a = sv_tail_index < 2`` (``alpha_ww < 2``) and
does not decay for ``alpha_ww >= 2``: ``alpha_ww = 2`` is the l2 compressibility threshold.

Backends: NumPy, CuPy (cuSOLVER ``syevd``/``gesvd``) and any array-API namespace, through one code path.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from sparsity._array_api import device
from sparsity._checks import as_generator, check_choice, check_int, check_k
from sparsity._input import as_host
from sparsity.curves import best_k_error
from sparsity.linalg._gram import PRECISIONS, Precision
from sparsity.linalg._randomized import default_power_iterations, randomized_svd_body
from sparsity.linalg._svd import (
    as_matrix,
    eigenvalues_gram,
    resolve_precision,
    resolve_sv_method,
    singular_values_body,
    svd_factors,
)

__all__ = ["esd", "rank_k_error", "singular_values", "truncate"]

SvMethod = Literal["auto", "gram", "svd"]
TruncateMethod = Literal["auto", "svd", "randomized"]
Norm = Literal["fro", "spectral"]


_SV_METHODS = ("auto", "gram", "svd")
_TRUNCATE_METHODS = ("auto", "svd", "randomized")
_NORMS = ("fro", "spectral")
_R_NAME = "min(m, n)"  # the upper bound of k, as error messages name it


def singular_values(W: Any, *, method: SvMethod = "auto", precision: Precision = "auto") -> Any:
    """Singular values of a matrix or a stack of matrices, in descending order.

    Parameters
    ----------
    W : array_like, shape (..., m, n)
        NumPy, CuPy or array-API array (bool/int become float64, float16/bfloat16 float32).
    method : {"auto", "gram", "svd"}
        ``"gram"``: ``eigvalsh`` of the smaller Gram matrix formed in float64; relative error of ``s_i``
        about ``u_64 s_1^2 / s_i^2`` (``u_64 = 1.1e-16``), so only ``s_i >> 1.5e-8 s_1`` are accurate.
        ``"svd"``: LAPACK ``gesdd`` / cuSOLVER ``gesvd`` in the input precision; relative error about
        ``u s_1 / s_i``. ``"auto"``: ``"gram"`` for float32 and lower (faster and at least as accurate as a
        float32 SVD), ``"svd"`` for float64 (see ``sparsity.linalg._svd.resolve_sv_method``).
    precision : {"auto", "float64", "mixed", "float32"}
        Working precision of the Gram route (the SVD route works in the input's): ``"mixed"`` forms the Gram
        matrix in float32 (``|s_i^2' - s_i^2| <= m u_32 ||W||_F^2``, ``u_32 = 6e-8``, measured ~1e-8
        ``s_1^2``), ``"float32"`` also solves it in float32 (``<= c n u_32 s_1^2``, about 2x faster for orders
        >= 2048): only ``s_i`` well above those errors are accurate. ``"auto"`` (default) is ``"float64"``.

    Returns
    -------
    s : array, shape (..., min(m, n))
        float64, same namespace and device as ``W``.

    Examples
    --------
    >>> import numpy as np
    >>> singular_values(np.diag([1.0, 3.0, 2.0]))
    array([3., 2., 1.])
    """
    check_choice(method, "method", _SV_METHODS)
    check_choice(precision, "precision", PRECISIONS)
    Wv, xp = as_matrix(W, "W")
    m = resolve_sv_method(method, Wv.dtype, xp)
    prec = resolve_precision(precision)
    return singular_values_body(Wv, m, xp=xp, precision=prec)


def esd(W: Any, *, method: SvMethod = "gram", precision: Precision = "auto") -> Any:
    """Empirical spectral density: the eigenvalues ``s_i^2`` of ``W^T W``, unnormalised, descending.

    WeightWatcher's convention (no division by ``N``); ``min(m, n)`` eigenvalues per matrix (the nonzero
    spectrum of both Gram matrices).

    Parameters
    ----------
    W : array_like, shape (..., m, n)
    method : {"gram", "svd", "auto"}
        Route to the eigenvalues (see :func:`singular_values`); ``"gram"`` by default: its absolute error
        ``~ (m + n) u_64 lambda_max`` does not affect the tail fit.
    precision : {"auto", "float64", "mixed", "float32"}
        Working precision of the Gram route (:mod:`sparsity.linalg._gram`). ``"auto"`` (default) is
        ``"float64"``. ``"mixed"``: the Gram matrix by ``ssyrk`` in float32 (2x faster Gram matrix, no copy of
        a float32 ``W``), the eigensolver in float64; eigenvalue error ``<= m u_32 ||W||_F^2`` (``u_32 =
        2^-24``), measured ``<= 3.6e-6 lambda_max``; ``alpha_ww`` within 1.0e-4 (tinyllama, every tensor) and
        7.1e-4 (llama7b sample, heaviest tail) of float64, for 12-20 % less time. ``"float32"``: the eigensolver
        too (``ssytrd`` + ``ssterf``, the spectra in half the time), error ``delta ~ c n u_32 lambda_max``
        (measured up to 4.3e-5 ``lambda_max``), which moves a tail fit above ``xmin`` by up to ``2 (alpha_ww -
        1)^2 delta / xmin``: within 8e-4 on planted power laws but up to 2e-2 on Gaussian and iid layers
        (``alpha_ww`` of 25-63). Both leave eigenvalues below their error unresolved; measured with
        ``bench/large.py --precision-check`` on the checkpoints of ``bench/make_checkpoint.py``.

    Returns
    -------
    evals : array, shape (..., min(m, n))
        float64, same namespace and device as ``W``.

    Examples
    --------
    >>> import numpy as np
    >>> esd(np.array([[3.0, 0.0], [0.0, 1.0], [0.0, 0.0]]))
    array([9., 1.])
    """
    check_choice(method, "method", _SV_METHODS)
    check_choice(precision, "precision", PRECISIONS)
    Wv, xp = as_matrix(W, "W")
    m = resolve_sv_method(method, Wv.dtype, xp, need_small=False)
    if m == "gram":
        return eigenvalues_gram(Wv, xp=xp, precision=precision)
    s = singular_values_body(Wv, m, xp=xp)
    return s * s


def truncate(
    W: Any,
    k: int,
    *,
    method: TruncateMethod = "auto",
    rng: int | np.random.Generator | None = None,
    oversamples: int = 10,
    n_iter: int | None = None,
    return_factors: bool = False,
) -> Any:
    """Best rank-``k`` approximation of ``W`` (Eckart-Young): ``W_k = U_k diag(s_k) V_k^T``.

    Parameters
    ----------
    W : array_like, shape (m, n) (or (..., m, n) with ``method="svd"``)
    k : int
        Rank, ``0 <= k <= min(m, n)`` (an integral float such as ``2.0`` is accepted).
    method : {"auto", "svd", "randomized"}
        ``"svd"``: exact, from the thin SVD. ``"randomized"``: Halko-Martinsson-Tropp with ``oversamples``
        extra columns and ``n_iter`` power iterations; for ``q = n_iter`` its expected spectral error is at
        most ``[(1 + sqrt(k/(p-1))) s_{k+1}^{2q+1} + e sqrt(k+p)/p (sum_{j>k} s_j^{2(2q+1)})^{1/2}]^{1/(2q+1)}``
        (HMT Cor. 10.10) plus ``s_{k+1}`` for the final rank-k truncation. ``"auto"``: ``"randomized"`` when
        ``W`` is 2-D, ``min(m, n) >= 1000`` and ``k + oversamples <= min(m, n) / 10``; ``"svd"`` otherwise.
    rng : None, int or numpy.random.Generator
        Randomness of the randomized method (Gaussian test matrix drawn on the host).
    oversamples, n_iter : int
        Randomized method only; ``n_iter=None``: 7 if ``k < 0.1 min(m, n)`` else 4 (scikit-learn's rule).
    return_factors : bool
        Return ``(U, s, Vt)`` of shapes ``(m, k), (k,), (k, n)`` instead of the product.

    Returns
    -------
    W_k : array, shape of ``W``, dtype of ``W`` (floating), same namespace and device as ``W``
        With ``return_factors``, the tuple ``(U, s, Vt)`` in that namespace (``s`` in the dtype of ``W``).

    References
    ----------
    .. [1] N. Halko, P.-G. Martinsson, J. A. Tropp, "Finding structure with randomness", SIAM Review 53(2),
       217-288 (2011).

    Examples
    --------
    >>> import numpy as np
    >>> W = np.outer([1.0, 2.0], [1.0, 1.0]) + np.diag([0.1, 0.0])
    >>> float(np.linalg.matrix_rank(truncate(W, 1)))
    1.0
    """
    check_choice(method, "method", _TRUNCATE_METHODS)
    Wv, xp = as_matrix(W, "W")
    m_dim, n_dim = int(Wv.shape[-2]), int(Wv.shape[-1])
    r = min(m_dim, n_dim)
    karr = check_k(as_host(k), r, n_name=_R_NAME)
    if karr.ndim:
        raise TypeError(f"k must be an integer; got an array of shape {karr.shape}")
    k = int(karr)
    oversamples = check_int(oversamples, "oversamples", low=0)
    n_iter = check_int(n_iter, "n_iter", low=0, allow_none=True)
    two_d = len(Wv.shape) == 2
    if method == "auto":
        method = "randomized" if two_d and r >= 1000 and k + oversamples <= r / 10 else "svd"
    if method == "randomized":
        if not two_d:
            raise ValueError(f"W must be 2-D for method='randomized'; got shape {tuple(Wv.shape)}")
        gen = as_generator(rng)
        q = default_power_iterations(k, r) if n_iter is None else n_iter
        U, s, Vt = randomized_svd_body(Wv, k, oversamples=oversamples, n_iter=q, rng=gen, xp=xp)
    else:
        U, s, Vt = svd_factors(Wv, k, xp=xp)
    if return_factors:
        return U, s, Vt
    return (U * s[..., None, :]) @ Vt


def rank_k_error(
    W: Any, k: Any = None, *, norm: Norm = "fro", relative: bool = False, method: SvMethod = "auto"
) -> Any:
    """Best rank-k approximation error of ``W`` from its singular values alone (Eckart-Young-Mirsky).

    ``norm="fro"``: :math:`\\|W - W_k\\|_F = (\\sum_{j>k} s_j^2)^{1/2}`, the best k-term l2 error of the
    singular values (:func:`sparsity.best_k_error`). ``norm="spectral"``: :math:`\\|W - W_k\\|_2 = s_{k+1}`
    (0 for ``k >= rank``).

    Parameters
    ----------
    W : array_like, shape (m, n)
    k : None, int or array of int
        ``None``: the whole curve ``k = 0 .. min(m, n)``; otherwise the values at those ``k`` (any shape,
        kept; integral floats such as ``2.0`` are the integers they equal, as in :func:`sparsity.best_k_error`).
    norm : {"fro", "spectral"}
    relative : bool
        Divide by ``||W||_F`` or ``||W||_2`` (0 for the zero matrix).
    method : {"auto", "gram", "svd"}
        Route to the singular values (:func:`singular_values`).

    Returns
    -------
    err : array, shape (min(m, n) + 1,) or shape of ``k``
        float64, namespace and device of ``W`` (for NumPy input and a scalar ``k``, a NumPy float64 scalar;
        a ``k`` array never sets the namespace).

    Examples
    --------
    >>> import numpy as np
    >>> rank_k_error(np.diag([4.0, 3.0, 0.0]), norm="fro")
    array([5., 3., 0., 0.])
    """
    check_choice(norm, "norm", _NORMS)
    check_choice(method, "method", _SV_METHODS)
    Wv, xp = as_matrix(W, "W", max_ndim=2)
    s = singular_values_body(Wv, resolve_sv_method(method, Wv.dtype, xp), xp=xp)
    karr = None if k is None else check_k(as_host(k), int(s.shape[0]), n_name=_R_NAME)
    if norm == "fro":
        return best_k_error(s, karr, p=2.0, relative=relative)
    curve = xp.concat([s, xp.zeros(1, dtype=s.dtype, device=device(s))])
    if relative:
        top = float(s[0])
        curve = curve / top if top > 0 else curve * 0.0
    if karr is None:
        return curve
    if karr.ndim == 0:
        return curve[int(karr)]
    idx = xp.asarray(karr.reshape(-1), device=device(s))
    return xp.reshape(xp.take(curve, idx, axis=0), karr.shape)
