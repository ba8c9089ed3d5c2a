"""Decay exponents of the best-k error: the measured log-log fit, its default window, the predicted exponent.

Every function here returns Python scalars (or a :class:`DecayFit` of them), whatever the input's namespace.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from sparsity._array_api import to_numpy
from sparsity._checks import check_int, check_real
from sparsity._input import as_array
from sparsity.curves._best_k import best_k_error

__all__ = [
    "DecayFit",
    "decay_exponent",
    "decay_grid",
    "default_decay_window",
    "effective_sparsity",
    "loglog_fit",
    "predicted_decay_exponent",
]


class DecayFit(NamedTuple):
    """Least-squares power-law fit ``sigma_k ~ exp(intercept) * k**(-exponent)`` over ``k_min <= k <= k_max``.

    Attributes
    ----------
    exponent : float
        Measured decay exponent ``s`` (positive = decaying error).
    intercept : float
        Intercept of ``log sigma_k`` against ``log k``.
    r2 : float
        Coefficient of determination of the log-log fit.
    k_min, k_max : int
        The fit window actually used.
    """

    exponent: float
    intercept: float
    r2: float
    k_min: int
    k_max: int


def predicted_decay_exponent(alpha: float, p: float = 2.0) -> float:
    """Decay exponent of the best-k error predicted by the tail index: ``max(0, 1/alpha - 1/p)``.

    If the sorted magnitudes fall as :math:`k^{-1/\\alpha}` (survival tail index alpha) then
    :math:`\\sigma_k(x)_p \\sim k^{-(1/\\alpha - 1/p)}` for alpha < p, and the error does not decay
    as a power law for alpha >= p.

    Examples
    --------
    >>> predicted_decay_exponent(1.0)
    0.5
    >>> predicted_decay_exponent(3.0)
    0.0
    """
    alpha = check_real(alpha, "alpha", low=0.0, closed="neither", allow_inf=True)
    p = check_real(p, "p", low=0.0, closed="neither")
    return max(0.0, 1.0 / alpha - 1.0 / p)


def default_decay_window(n: int) -> tuple[int, int]:
    """Default fit window ``[k_min, k_max]`` of :func:`decay_exponent` for a vector of length n.

    ``k_min = 10`` (for n >= 1000; ``max(1, n // 100)`` below) skips the few largest order statistics, whose
    relative fluctuations are of order :math:`1/\\sqrt{k}`. ``k_max = floor(sqrt(n))`` keeps the window
    inside the power-law regime: for iid samples the finite-n correction to
    :math:`\\sigma_k^2 \\propto k^{1-2/\\alpha} - n^{1-2/\\alpha}` is of relative size
    :math:`(k/n)^{2/\\alpha - 1}`, which is at most :math:`n^{-(2/\\alpha - 1)/2} \\to 0` inside the window.
    """
    k_min = 10 if n >= 1000 else max(1, n // 100)
    k_max = max(math.isqrt(n), k_min + 2)
    return k_min, min(k_max, n - 1)


def decay_grid(k_min: int, k_max: int) -> np.ndarray:
    """The k at which :func:`decay_exponent` evaluates the curve: up to 64 log-spaced integers in the window."""
    return np.unique(np.round(np.geomspace(k_min, max(k_max, k_min), 64)).astype(np.int64))


def loglog_fit(ks: np.ndarray, values: np.ndarray) -> DecayFit:
    """Least squares of ``log values`` on ``log ks`` (positive values): the fit behind :func:`decay_exponent`."""
    lk, le = np.log(ks.astype(np.float64)), np.log(values)
    if not np.all(np.isfinite(le)):
        raise ValueError("loglog_fit needs positive, finite values")
    # closed-form simple regression on centred data: no BLAS/LAPACK call, so the result does not depend on
    # how many BLAS threads another thread (sparsity.linalg._gram) has allowed at that moment
    dk = lk - lk.mean()
    sxx = float(np.sum(dk * dk))
    if not sxx > 0:
        raise ValueError(f"loglog_fit needs at least 2 distinct k; got {np.unique(ks).tolist()}")
    if np.ptp(le) == 0:  # constant values: an exact fit with slope 0 (not 1e-28 from rounding of the mean)
        return DecayFit(0.0, float(le[0]), 1.0, int(ks[0]), int(ks[-1]))
    slope = float(np.sum(dk * (le - le.mean())) / sxx)
    intercept = float(le.mean() - slope * lk.mean())
    resid = le - (slope * lk + intercept)
    ss_tot = float(np.sum((le - le.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid**2)) / ss_tot if ss_tot > 0 else 1.0
    return DecayFit(float(-slope), float(intercept), r2, int(ks[0]), int(ks[-1]))


def decay_exponent(x: Any, *, p: float = 2.0, k_min: int | None = None, k_max: int | None = None) -> DecayFit:
    """Measured decay exponent ``s`` of the best-k error, :math:`\\sigma_k \\approx C k^{-s}`.

    Least squares of :math:`\\log \\sigma_k` on :math:`\\log k` at up to 64 log-spaced k in
    ``[k_min, k_max]`` (log spacing weighs every scale equally). The default window is
    :func:`default_decay_window`: ``[10, floor(sqrt(n))]``. If the error reaches zero inside the window
    (an exactly sparse vector) the window ends before that k.

    Parameters
    ----------
    x : array_like
        Any shape (flattened magnitudes).
    p : float, default 2.0
        Norm exponent.
    k_min, k_max : int, optional
        Fit window, ``1 <= k_min < k_max < n``.

    Returns
    -------
    DecayFit
        ``exponent`` (positive = decaying), ``intercept``, ``r2``, and the window used.

    Examples
    --------
    >>> import numpy as np, sparsity as sp
    >>> x = np.arange(1, 10**5 + 1) ** -1.0  # |x|_(k) = k^(-1/alpha) with alpha = 1
    >>> round(sp.decay_exponent(x).exponent, 3)  # theory: 1/alpha - 1/2 = 0.5, less a finite-n correction
    0.495
    """
    k_min, k_max = check_int(k_min, "k_min", allow_none=True), check_int(k_max, "k_max", allow_none=True)
    a, xp = as_array(x, allow_empty=True, check_finite=False)  # best_k_error checks finiteness after its sort
    n = math.prod(a.shape)
    if n < 4:
        raise ValueError(f"x must have at least 4 values to fit a decay exponent; got n = {n}")
    d_min, d_max = default_decay_window(n)
    lo, hi = (d_min if k_min is None else k_min), (d_max if k_max is None else k_max)
    if not 1 <= lo < hi < n:
        raise ValueError(f"the fit window must satisfy 1 <= k_min < k_max < n = {n}; got k_min={lo}, k_max={hi}")
    ks = decay_grid(lo, hi)
    # Only these k are needed: for a window far below n, best_k_error partitions instead of sorting.
    values = to_numpy(best_k_error(a, ks, p=p))
    zero = np.flatnonzero(values <= 0)
    if zero.size:  # exactly sparse: the error vanishes from k = nnz on; fit below it
        nnz = int(xp.count_nonzero(a))
        ks, values = ks[: zero[0]], values[: zero[0]]
        if ks.size < 3:
            raise ValueError(
                f"x is too sparse for a decay fit: it has {nnz} nonzero values, so its best-k error is zero from "
                f"k = {nnz} on, leaving fewer than 3 points in the window starting at k_min = {lo}"
            )
    return loglog_fit(ks, values)


def effective_sparsity(x: Any, eps: float = 0.1, *, p: float = 2.0) -> int:
    """Smallest k whose relative best-k error is at most ``eps``: :math:`\\sigma_k(x)_p \\le \\epsilon \\|x\\|_p`.

    Parameters
    ----------
    x : array_like
        Any shape (flattened magnitudes).
    eps : float, default 0.1
        Relative error tolerance, ``0 < eps``; ``eps >= 1`` gives 0.
    p : float, default 2.0
        Norm exponent.

    Returns
    -------
    k : int
        In ``[0, n]``; 0 for an all-zero ``x``.

    Examples
    --------
    >>> effective_sparsity([10.0, 1.0, 0.1], eps=0.2)
    1
    """
    eps = check_real(eps, "eps", low=0.0, closed="neither", allow_inf=True)
    a, xp = as_array(x, check_finite=False)  # best_k_error checks finiteness after its sort
    rel = best_k_error(a, p=p, relative=True)
    return int(xp.count_nonzero(rel > eps))  # rel is non-increasing: count the entries above eps, on the device
