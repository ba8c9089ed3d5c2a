"""Singular values and full-SVD truncation: private bodies behind :mod:`sparsity.linalg._api`.

Everything runs through the array namespace ``xp`` of the input (NumPy, CuPy, array_api_strict), so a
CuPy matrix is handled by cuSOLVER (``syevd`` for the Gram route, ``gesvd``/``gesdd`` for the SVD route) with
no CuPy branch here.

Accuracy of the two routes (``u`` the unit roundoff of the working precision, ``s_1`` the largest singular
value):

- ``"svd"`` (LAPACK ``gesdd`` / cuSOLVER ``gesvd``) is backward stable: ``|s_i' - s_i| <= p(m, n) u s_1``,
  a relative error ``p(m, n) u s_1 / s_i`` on ``s_i``, in the input precision.
- ``"gram"`` forms ``G = W^T W`` (the smaller Gram matrix) in float64 and takes ``eigvalsh``. Forming ``G``
  and the symmetric eigensolver each perturb the eigenvalues by at most ``c (m + n) u_64 s_1^2`` (Weyl), so
  ``|s_i'^2 - s_i^2| <= c (m + n) u_64 s_1^2``: the relative error of ``s_i`` is about
  ``u_64 s_1^2 / s_i^2``, i.e. accurate for ``s_i >> sqrt(u_64) s_1 ~ 1.5e-8 s_1`` and meaningless below.
  For float32 input this beats the float32 SVD (``u_32 s_1 / s_i``) whenever ``s_1 / s_i < u_32 / u_64 ~
  5e8``, that is, always in practice; for float64 input it loses half the digits of the small ones.
- ``"gram"`` with ``precision="mixed"`` (an option, :mod:`sparsity.linalg._gram`): the Gram matrix in
  float32, ``|s_i'^2 -
  s_i^2| <= m u_32 ||W||_F^2`` (worst case; measured ~1e-8 ``s_1^2``), the eigensolver in float64. With
  ``precision="float32"`` the eigensolver too, ``|s_i'^2 - s_i^2| <= c n u_32 s_1^2``, about 2x faster. Both
  leave the eigenvalues below their error unresolved: used for tail fits, never by default for
  :func:`sparsity.singular_values`.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from sparsity._array_api import to_numpy
from sparsity._input import as_array
from sparsity.linalg._gram import eigvalsh_upper, gram_eigenvalues_many, gram_numpy, resolve_precision

__all__ = [
    "SV_METHODS",
    "as_matrix",
    "eigenvalues_from_grams",
    "eigenvalues_gram",
    "oriented_matrices",
    "resolve_precision",
    "resolve_sv_method",
    "singular_values_body",
    "svd_factors",
]

SvMethod = Literal["auto", "gram", "svd"]


def as_matrix(W: Any, name: str = "W", *, min_ndim: int = 2, max_ndim: int | None = None) -> tuple[Any, Any]:
    """A (stack of) matrix input as ``(W, xp)``: :func:`sparsity._input.as_array` with at least 2 dimensions.

    bool and integer inputs become float64, float16 and ml_dtypes (bfloat16, float8) float32; float32/float64
    keep their dtype. Empty, NaN/inf, non-numeric and wrongly shaped inputs raise.
    """
    return as_array(W, name, min_ndim=min_ndim, max_ndim=max_ndim)


def resolve_sv_method(method: str, dtype: Any, xp: Any, *, need_small: bool = True) -> str:
    """The one place where ``method="auto"`` is decided.

    - float32 (and lower) input: ``"gram"`` -- the float64 Gram route is both faster and more accurate than
      a float32 SVD (see the module docstring: ``u_64 s_1^2 / s_i^2 < u_32 s_1 / s_i`` for
      ``s_1 / s_i < 5e8``).
    - float64 input: ``"svd"`` when the small singular values must be accurate (``need_small=True``, the
      default of :func:`sparsity.singular_values`), else ``"gram"`` (used by the ESD fits and layer metrics,
      which look at the large eigenvalues and are insensitive to an absolute error ``~ u_64 s_1^2``).
    """
    if method != "auto":
        return method
    if dtype == xp.float64 and need_small:
        return "svd"
    return "gram"


def _scaled_for_squares(W: Any, xp: Any, precision: str = "float64") -> tuple[Any, float]:
    """``(W / scale, scale)`` with squares safe in the working ``precision``.

    float64: ``scale = 1`` (no copy) when the largest magnitude is within ``2**+-400``, else the largest
    magnitude itself (``W`` divided in float64). A float32 Gram matrix (``"mixed"``, ``"float32"``):
    ``scale = 1`` within ``2**+-40`` (squares summed over up to ``2**40`` rows stay finite and normal), else
    the power of two nearest the largest magnitude (``W`` divided exactly, in float32). 0 for an all-zero
    ``W``.
    """
    scale = max(float(xp.max(W)), -float(xp.min(W)))  # max |W| without a temporary |W|
    if precision in ("mixed", "float32"):
        if scale == 0.0 or 2.0**-40 < scale < 2.0**40:
            return W, (1.0 if scale else 0.0)
        scale = 2.0 ** round(np.log2(scale))
        return xp.astype(xp.astype(W, xp.float64) / scale, xp.float32), scale
    if scale == 0.0 or 2.0**-400 < scale < 2.0**400:
        return W, (1.0 if scale else 0.0)
    return xp.astype(W, xp.float64) / scale, scale


def _gram_eigenvalues(W: Any, *, xp: Any, precision: str = "float64") -> Any:
    """Eigenvalues of the smaller Gram matrix of ``W / scale`` (float64, descending, clipped at 0) and ``scale``.

    ``precision`` is resolved (``"float64"``, ``"mixed"`` or ``"float32"``, see
    :mod:`sparsity.linalg._gram`): the working precision of the Gram matrix and the eigensolver.
    """
    m, n = int(W.shape[-2]), int(W.shape[-1])
    A, scale = _scaled_for_squares(W, xp, precision)
    if scale == 0.0:
        return xp.zeros((*W.shape[:-2], min(m, n)), dtype=xp.float64), 1.0
    if isinstance(A, np.ndarray) and A.ndim == 2 and precision == "float64":
        e = _gram_eigvalsh_numpy(A if m >= n else A.T)
    elif isinstance(A, np.ndarray) and A.ndim == 2:
        e = gram_eigenvalues_many([A if m >= n else A.T], precision)[0]
    else:
        work = xp.float64 if precision == "float64" else xp.float32
        A = xp.astype(A, work) if A.dtype != work else A
        At = xp.matrix_transpose(A)
        G = At @ A if m >= n else A @ At
        G = xp.astype(G, xp.float64) if precision == "mixed" else G
        e = xp.astype(xp.linalg.eigvalsh(G), xp.float64)
    e = xp.flip(xp.clip(e, min=0.0), axis=-1)
    return e, scale


def _gram_eigvalsh_numpy(A: np.ndarray) -> np.ndarray:
    """Ascending eigenvalues of ``A^T A`` for a 2-D NumPy ``A`` with ``m >= n`` (float32 or float64).

    The float64 Gram matrix of :func:`sparsity.linalg._gram.gram_numpy` (upper triangle, ``dsyrk``), then the
    tridiagonal reduction and ``dsterf`` (:func:`sparsity.linalg._lapack.eigvalsh_upper`) with every BLAS thread:
    about 1.5x faster than ``numpy.linalg.eigvalsh(A.T @ A)`` with the same backward error. This is the
    route of one matrix's singular values; ESDs (:func:`eigenvalues_gram`) go through
    :func:`sparsity.linalg._gram.gram_eigenvalues_many`.
    """
    return eigvalsh_upper(gram_numpy(A))


def _sv_gram(W: Any, *, xp: Any, precision: str = "float64") -> Any:
    e, scale = _gram_eigenvalues(W, xp=xp, precision=precision)
    return xp.sqrt(e) * scale


def _sv_svd(W: Any, *, xp: Any, precision: str = "float64") -> Any:
    del precision  # the SVD route works in the input's precision
    if W.dtype not in (xp.float32, xp.float64):
        W = xp.astype(W, xp.float64)
    s = xp.linalg.svdvals(W)
    return xp.astype(s, xp.float64)


SV_METHODS = {"gram": _sv_gram, "svd": _sv_svd}
"""Singular-value bodies: ``f(W, *, xp, precision) -> float64 singular values, descending, shape (..., min(m, n))``
(``precision``, resolved, is the Gram route's working precision; the SVD route works in the input's)."""


def singular_values_body(W: Any, method: str, *, xp: Any, precision: str = "float64") -> Any:
    """Validated input in, float64 singular values out (descending), on the input's device."""
    return SV_METHODS[method](W, xp=xp, precision=precision)


def eigenvalues_gram(W: Any, *, xp: Any, precision: str = "auto") -> Any:
    """Eigenvalues of ``W^T W`` (float64, descending, unnormalised) through the Gram route.

    ``precision`` (``"auto"`` = ``"float64"``, ``"mixed"``: float32 Gram matrix, ``"float32"``: float32 Gram
    matrix and eigensolver; :mod:`sparsity.linalg._gram`) is resolved by
    :func:`sparsity.linalg._gram.resolve_precision`. NumPy input goes through
    :func:`sparsity.linalg._gram.gram_eigenvalues_many` (bitwise the same whatever else is batched with it);
    other namespaces through :func:`_gram_eigenvalues`.
    """
    prec = resolve_precision(precision)
    if isinstance(W, np.ndarray):
        mats, scale = oriented_matrices(W, prec)
        evals = gram_eigenvalues_many(mats) if prec == "float64" else gram_eigenvalues_many(mats, prec)
        return eigenvalues_from_grams(W.shape, evals, scale)
    e, scale = _gram_eigenvalues(W, xp=xp, precision=prec)
    return e * scale * scale if scale != 1.0 else e


def oriented_matrices(W: np.ndarray, precision: str = "float64") -> tuple[list[np.ndarray], float]:
    """The 2-D matrices (``m >= n``, transposed views where needed) of a NumPy matrix or stack ``W / scale``.

    ``scale`` is 1 unless the largest magnitude is outside the range whose squares are safe in ``precision``
    (``2**+-400`` for float64, ``2**+-40`` for a float32 Gram matrix, :func:`_scaled_for_squares`); then
    ``W`` is divided by it. An all-zero ``W`` gives no matrices and ``scale = 0``.
    """
    W = np.asarray(W)  # ndarray subclasses (np.matrix) reshape differently
    m, n = int(W.shape[-2]), int(W.shape[-1])
    A, scale = _scaled_for_squares(W, np, precision)
    if scale == 0.0:
        return [], 0.0
    return [M if m >= n else M.T for M in A.reshape(-1, m, n)], scale


def eigenvalues_from_grams(shape: tuple[int, ...], evals: list[np.ndarray], scale: float) -> np.ndarray:
    """Assemble :func:`eigenvalues_gram`'s result from the Gram eigenvalues of :func:`oriented_matrices`.

    ``evals`` are ascending; the result has shape ``(..., min(m, n))``, descending, clipped at 0, times
    ``scale**2``.
    """
    r = min(int(shape[-2]), int(shape[-1]))
    if not evals:
        return np.zeros((*shape[:-2], r))
    e = np.clip(np.stack(evals)[:, ::-1], 0.0, None).reshape(*shape[:-2], r)
    if scale == 1.0:
        return e
    with np.errstate(over="ignore"):  # eigenvalues beyond the float64 range are inf (exact zeros stay 0)
        return e * scale * scale


def svd_factors(W: Any, k: int, *, xp: Any) -> tuple[Any, Any, Any]:
    """Leading ``k`` singular triplets from the full thin SVD: ``U (..., m, k)``, ``s (..., k)``, ``Vt (..., k, n)``."""
    U, s, Vt = xp.linalg.svd(W, full_matrices=False)
    return U[..., :k], s[..., :k], Vt[..., :k, :]


def host_float64(x: Any) -> np.ndarray:
    """``x`` (any backend) as a float64 NumPy array: moved to the host in its own dtype, then widened there.

    No copy for float64 NumPy input: callers that modify the result must copy it.
    """
    return np.asarray(to_numpy(x), dtype=np.float64)
