"""The ESD power-law fit and the alpha_ww <-> singular-value tail index conversions (public functions).

``alpha_ww`` is WeightWatcher's density exponent of the eigenvalues of ``W^T W``; the singular values then have
survival tail index ``sv_tail_index = 2 (alpha_ww - 1)`` (see :mod:`sparsity.linalg`).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from sparsity._array_api import to_numpy
from sparsity._checks import check_bool, check_real
from sparsity._input import as_array
from sparsity.layers._esd_fit import EsdFit, esd_fit_body
from sparsity.linalg._svd import as_matrix, eigenvalues_gram, host_float64

__all__ = ["EsdFit", "alpha_ww_to_sv_tail_index", "fit_esd", "sv_tail_index_to_alpha_ww"]


def alpha_ww_to_sv_tail_index(alpha_ww: Any) -> Any:
    """``sv_tail_index = 2 (alpha_ww - 1)``: survival tail index of the singular values.

    Parameters
    ----------
    alpha_ww : float or array_like
        WeightWatcher's ESD density exponent, > 1 (NaN passes through).

    Returns
    -------
    sv_tail_index : float or array
        A float for a real number; for an array, a float64 array in its namespace and on its device.

    Examples
    --------
    >>> alpha_ww_to_sv_tail_index(2.0)
    2.0
    """
    a = _as_real(alpha_ww, "alpha_ww", lower=1.0)
    return 2.0 * (a - 1.0)


def sv_tail_index_to_alpha_ww(sv_tail_index: Any) -> Any:
    """``alpha_ww = 1 + sv_tail_index / 2``: inverse of :func:`alpha_ww_to_sv_tail_index`.

    A float for a real number; for an array, a float64 array in its namespace and on its device.

    Examples
    --------
    >>> sv_tail_index_to_alpha_ww(1.0)
    1.5
    """
    a = _as_real(sv_tail_index, "sv_tail_index", lower=0.0)
    return 1.0 + a / 2.0


def _as_real(value: Any, name: str, *, lower: float) -> Any:
    """A real number (-> float) or an array of them (-> float64 array, its namespace), each > lower or NaN.

    NaN is a failed fit, passed through. The array-valued twin of :func:`sparsity._checks.check_real`, with
    its message format.
    """
    rule = f"a real number or array of real numbers > {lower:g} (NaN passes through)"
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be {rule}; got {value!r}")
    if isinstance(value, numbers.Real):
        a = float(value)
        if not (math.isnan(a) or a > lower):
            raise ValueError(f"{name} must be {rule}; got {a!r}")
        return a
    try:
        arr, xp = as_array(value, name, allow_empty=True, check_finite=False)
    except TypeError:
        raise TypeError(f"{name} must be {rule}; got {value!r}") from None
    host = to_numpy(arr)
    bad = ~np.isnan(host) & ~(host > lower)
    if bad.any():
        raise ValueError(f"{name} must be {rule}; got {float(host[bad].ravel()[0])!r}")
    return xp.astype(arr, xp.float64)


def fit_esd(W: Any, *, xmin: float | None = None, evals: bool = False) -> EsdFit:
    """Fit ``alpha_ww`` to the ESD tail by the exact Clauset-Shalizi-Newman method (:func:`sparsity.fit_tail`).

    The eigenvalues above ``lambda_max * max(m, n) * u_64`` (the numerical-rank tolerance) are fitted with
    the continuous power-law MLE, ``xmin`` chosen by minimising the KS distance over every eigenvalue but the
    two largest. This is WeightWatcher's default fit (its ``WWFit``), except that WeightWatcher drops
    eigenvalues below a fixed absolute ``1e-5`` and switches to a different small-sample objective below 20
    eigenvalues.

    Parameters
    ----------
    W : array_like, shape (m, n) or (k, m, n)
        A matrix, a stack whose eigenvalues are pooled (Conv kernels, see :func:`analyze_matrix`), or, with
        ``evals=True``, a 1-D array of eigenvalues.
    xmin : float, optional
        Fixed lower cutoff instead of the KS scan.
    evals : bool
        Whether ``W`` already holds the eigenvalues.

    Returns
    -------
    EsdFit

    References
    ----------
    .. [1] C. H. Martin, M. W. Mahoney, "Implicit self-regularization in deep neural networks", JMLR 22 (2021).
    .. [2] A. Clauset, C. R. Shalizi, M. E. J. Newman, SIAM Review 51(4), 661-703 (2009).

    Examples
    --------
    >>> import numpy as np
    >>> s = np.arange(1, 201) ** -1.0  # sv_tail_index 1 -> alpha_ww 1.5
    >>> rng = np.random.default_rng(0)
    >>> U, _ = np.linalg.qr(rng.standard_normal((400, 200)))
    >>> fit = fit_esd(U * s)
    >>> round(fit.alpha_ww, 1)
    1.5
    """
    xmin = check_real(xmin, "xmin", low=0.0, closed="neither", allow_none=True)
    if check_bool(evals, "evals"):
        values, _ = as_array(W, "W (eigenvalues, evals=True)", check_finite=False)  # checked below with < 0
        lam = host_float64(values).ravel()
        big = lam.size
    else:
        Wv, xp = as_matrix(W, "W", max_ndim=3)
        lam = host_float64(eigenvalues_gram(Wv, xp=xp)).ravel()
        big = max(int(Wv.shape[-2]), int(Wv.shape[-1]))
    bad = ~np.isfinite(lam) | (lam < 0)
    if bad.any():
        raise ValueError(
            f"W (eigenvalues) must be finite and >= 0; got {int(bad.sum())} bad value(s), e.g. {float(lam[bad][0])!r}"
        )
    return esd_fit_body(lam, big, xmin=xmin)
