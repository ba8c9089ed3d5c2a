"""Exact finite-n expectations of the best-k error of iid Pareto samples, and their decay exponent.

For n iid Pareto(alpha, xmin) draws (survival ``(x / xmin)**-alpha``) the j-th largest is
:math:`X_{(j)} = x_{min} U_{(j)}^{-1/\\alpha}` with :math:`U_{(j)} \\sim \\mathrm{Beta}(j, n + 1 - j)`, so for every
real p > 0, with :math:`s = p / \\alpha`,

.. math:: E[X_{(j)}^p] = x_{min}^p \\frac{\\Gamma(n+1)\\,\\Gamma(j - s)}{\\Gamma(j)\\,\\Gamma(n + 1 - s)}
   \\quad (j > s), \\qquad E[X_{(j)}^p] = \\infty \\quad (j \\le s).

The sum over ``j > k`` telescopes (:math:`f(j) = \\Gamma(j+1-s)/\\Gamma(j)` has
:math:`f(j) - f(j-1) = (1-s)\\,\\Gamma(j-s)/\\Gamma(j)`), which gives the closed form used here, exact for every
k and n:

.. math:: E[\\sigma_k^p] = \\sum_{j>k} E[X_{(j)}^p]
   = \\frac{x_{min}^p\\, n}{1 - s}\\Big(1 - \\frac{\\Gamma(n)\\,\\Gamma(k+1-s)}{\\Gamma(n+1-s)\\,\\Gamma(k)}\\Big)
   \\quad (s \\ne 1), \\qquad = x_{min}^p\\, n\\,(\\psi(n) - \\psi(k)) \\quad (s = 1).

Everything is evaluated in logs (no overflow for any n or s) with an accurate log-gamma ratio, so the cost is
O(1) per k (O(n) for the whole curve) and the last :data:`_DIRECT_TAIL` values, where the closed form would cancel,
are summed directly from the bottom.

For other laws (stable, Student-t, real data through a semi-parametric model) the finite-n prediction comes
from simulation: :mod:`sparsity.expected._sim`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special

from sparsity._array_api import to_namespace, to_numpy
from sparsity._checks import check_bool, check_int, check_k, check_real
from sparsity._input import as_array, as_host
from sparsity.curves import DecayFit, decay_grid, default_decay_window, loglog_fit

__all__ = ["expected_best_k_error", "finite_n_decay_exponent", "log_gamma_ratio"]

_STIRLING_MIN = 20.0
"""Below this argument the log-gamma ratio is shifted up by the recurrence before Stirling's series is used."""
_BLOCK = 1 << 15
"""k values evaluated per block (bounded temporaries)."""
_DIRECT_TAIL = 1024
"""The tail sums of the last this many k (k > n - _DIRECT_TAIL) are summed term by term (no cancellation)."""
# Stirling series log Gamma(z) = (z - 1/2) log z - z + log(2 pi)/2 + sum_m c_m z**(1 - 2m), m = 1..4;
# the truncation error after z**-7 is below 1e-15 for z >= 20.
_STIRLING = (1.0 / 12.0, -1.0 / 360.0, 1.0 / 1260.0, -1.0 / 1680.0)


def _series_diff(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``S(x) - S(x - t)`` of the Stirling correction series, without cancellation for small ``t``.

    With ``S(z) = a P(a**2)``, ``a = 1/z``: ``a P(a^2) - b P(b^2) = (a - b) [P(a^2) + b (a + b) Q]``, where
    ``b = 1/(x - t)``, ``a - b = -t a b`` and ``Q = (P(a^2) - P(b^2)) / (a^2 - b^2)``.
    """
    c1, c3, c5, c7 = _STIRLING
    a, b = 1.0 / x, 1.0 / (x - t)
    a2, b2 = a * a, b * b
    pa = c1 + a2 * (c3 + a2 * (c5 + a2 * c7))
    q = c3 + c5 * (a2 + b2) + c7 * (a2 * a2 + a2 * b2 + b2 * b2)
    return -t * a * b * (pa + b * (a + b) * q)


def log_gamma_ratio(x: Any, t: Any) -> Any:
    """``log Gamma(x) - log Gamma(x - t)`` for ``x - t > 0``, accurate for large x and for small ``|t|``.

    ``scipy.special.gammaln(x) - gammaln(x - t)`` loses about ``eps * x log x`` in absolute terms (1e-3 at
    x = 1e12); here Stirling's series is differenced analytically,
    ``t log x - t - (x - t - 1/2) log1p(-t/x) + S(x) - S(x - t)``, after shifting the arguments above 20 with
    ``Gamma(z + 1) = z Gamma(z)`` (each shift adds ``log1p(-t / (x + i))``). The result is accurate to a few
    ulps of ``|t| log x`` (it is proportional to t as t -> 0).

    Parameters
    ----------
    x, t : array_like of float
        Broadcast together; ``x - t > 0``.

    Returns
    -------
    r : array of float64
        Shape of the broadcast of ``x`` and ``t``; in the namespace and on the device of ``x`` (or of ``t`` when
        ``x`` is not an array), computed on the host. NumPy (a 0-d array for scalars) when neither is an array.

    Examples
    --------
    >>> from scipy.special import gammaln
    >>> bool(abs(log_gamma_ratio(10.0, 2.5) - (gammaln(10.0) - gammaln(7.5))) < 1e-13)
    True
    """
    (xa, _), (ta, _) = as_array(x, "x", check_finite=False), as_array(t, "t", check_finite=False)
    like = xa if hasattr(x, "shape") or not hasattr(t, "shape") else ta
    return to_namespace(_log_gamma_ratio(to_numpy(xa), to_numpy(ta)), like)


def _log_gamma_ratio(x: Any, t: Any) -> np.ndarray:
    """:func:`log_gamma_ratio` of NumPy arrays (the body, without input conversion)."""
    x, t = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(t, dtype=np.float64))
    shape = x.shape
    x, t = x.reshape(-1), t.reshape(-1)
    shift = np.maximum(np.ceil(_STIRLING_MIN - (x - t)), 0.0)
    z = x + shift
    out = t * np.log(z) - t - (z - t - 0.5) * np.log1p(-t / z) + _series_diff(z, t)
    small = np.flatnonzero(shift)  # log Gamma(x) - log Gamma(x - t) = lgr(x + m, t) + sum_{i<m} log1p(-t/(x+i))
    if small.size:
        xs, ts, ms = x[small], t[small], shift[small]
        acc = np.zeros(small.size)
        for i in range(int(ms.max())):
            acc += np.where(ms > i, np.log1p(-ts / (xs + i)), 0.0)
        out[small] += acc
    return out.reshape(shape)


def _log_tail_sums(k: np.ndarray, n: int, alpha: float, p: float) -> np.ndarray:
    """``log sum_{j=k+1}^{n} E[U_(j)^-s]``, ``s = p / alpha``, for integer ``k`` with ``s < k + 1 <= n``.

    (``U_(j)``: the j-th smallest of n uniforms.) Closed form for ``k <= n - _DIRECT_TAIL`` (telescoping, see the
    module docstring); the last values are cumulative sums, from the bottom, of the terms
    ``log E[U_(j)^-s] = lgr(n + 1, s) - lgr(j, s)``.
    """
    s = p / alpha
    t = (p - alpha) / alpha  # s - 1, without the rounding of p / alpha - 1 near alpha = p
    out = np.empty(k.shape)
    far = k <= n - _DIRECT_TAIL
    zero = far & (k == 0)  # Gamma(k) = inf: R_0 = 0, the sum is n E[U^-s] = n / (1 - s) (finite: s < 1 here)
    if np.any(zero):
        out[zero] = math.log(n) - math.log(-t)
    far &= k > 0
    if np.any(far):
        kk = k[far].astype(np.float64)
        if t == 0.0:
            out[far] = math.log(n) + np.log(special.digamma(n) - special.digamma(kk))
        else:
            # log R_k = log[Gamma(n) Gamma(k+1-s) / (Gamma(n+1-s) Gamma(k))]; the sum is n (R_k - 1) / (s - 1) > 0
            y = _log_gamma_ratio(float(n), t) - _log_gamma_ratio(kk, t)
            # log|expm1(y)| without overflow: y + log(-expm1(-y)) for y > 0, log(-expm1(y)) for y < 0
            log_abs = np.log(-np.expm1(-np.abs(y))) + np.maximum(y, 0.0)
            out[far] = math.log(n) + log_abs - math.log(abs(t))
    near = ~(far | zero)
    if np.any(near):
        lo = max(n - _DIRECT_TAIL, math.floor(s)) + 1  # terms j = lo..n, all finite (j > s)
        j = np.arange(lo, n + 1, dtype=np.float64)
        terms = _log_gamma_ratio(float(n + 1), s) - _log_gamma_ratio(j, s)
        # tails[i] = log sum_{j >= lo + i} terms, summed from the bottom (smallest terms first)
        tails = np.logaddexp.accumulate(terms[::-1])[::-1]
        out[near] = tails[k[near] + 1 - lo]
    return out


def _expected_curve(k: np.ndarray, n: int, alpha: float, p: float, xmin: float) -> np.ndarray:
    """``E[sigma_k^p]^(1/p)`` at integer ``0 <= k <= n`` (inf where ``k + 1 <= p / alpha``, 0 at ``k = n``)."""
    s = p / alpha
    out = np.zeros(k.shape)
    finite = (k + 1 > s) & (k < n)
    out[(k + 1 <= s) & (k < n)] = math.inf
    idx = np.flatnonzero(finite)
    for start in range(0, idx.size, _BLOCK):  # cache-sized blocks: the temporaries stay small
        sel = idx[start : start + _BLOCK]
        out[sel] = xmin * np.exp(_log_tail_sums(k[sel], n, alpha, p) / p)
    return out


def expected_best_k_error(
    n: int,
    alpha: float,
    k: Any = None,
    *,
    p: float = 2.0,
    xmin: float = 1.0,
    relative: bool = False,
) -> Any:
    """Root-mean-p best k-term error of n iid Pareto draws: :math:`(E[\\sigma_k(X)_p^p])^{1/p}`, exactly.

    This is the p-th root of the expected p-th power of the error (not the expected error: by Jensen's
    inequality :math:`E[\\sigma_k] \\le (E[\\sigma_k^p])^{1/p}` for p >= 1). It is what the measured curve
    :func:`sparsity.best_k_error` is compared with. The formula (module docstring) holds for every real p > 0,
    k and n; it is evaluated in logs with an accurate log-gamma ratio, O(1) per k.

    Parameters
    ----------
    n : int
        Sample size, >= 1.
    alpha : float
        Survival tail index, > 0 (``P(X > t) = (t / xmin)**-alpha`` for t >= xmin).
    k : int or array_like of int, optional
        ``None`` returns the whole curve, ``k = 0..n``. Otherwise the values at these k (``0 <= k <= n``).
    p : float, default 2.0
        Norm exponent, > 0.
    xmin : float, default 1.0
        Scale (lower end of the support), > 0; the curve is proportional to it.
    relative : bool, default False
        Divide by :math:`(E\\|X\\|_p^p)^{1/p}` (the k = 0 value). That expectation is finite only when
        ``alpha > p``; otherwise a ``ValueError`` is raised.

    Returns
    -------
    e : ndarray of shape (n + 1,) or of the shape of ``k``, float64
        Non-increasing in k, ``e[n] = 0``. Entries whose sum contains an order statistic with
        ``j <= p / alpha`` (that is ``k + 1 <= p / alpha``) have an infinite expectation and are ``inf``.
        A scalar ``k`` gives a NumPy float64 scalar. Always NumPy: no argument is data, and a ``k`` array of
        another namespace does not set the output's.

    Raises
    ------
    ValueError
        ``n < 1``, ``alpha <= 0``, ``p <= 0``, ``xmin <= 0``, ``k`` outside ``[0, n]``, or ``relative`` with
        ``alpha <= p``.

    References
    ----------
    .. [1] H. A. David, H. N. Nagaraja, "Order Statistics", 3rd ed., Wiley (2003), Sections 2.5 and 3.1.

    Examples
    --------
    >>> e = expected_best_k_error(3, 4.0)  # E[X^2] = alpha / (alpha - 2) = 2 per draw
    >>> round(float(e[0]) ** 2, 12), float(e[3])
    (6.0, 0.0)
    >>> float(expected_best_k_error(100, 1.0, 0))  # E[X_(1)^2] is infinite for alpha <= 2
    inf
    """
    n = check_int(n, "n", low=1)
    alpha = check_real(alpha, "alpha", low=0.0, closed="neither")
    p = check_real(p, "p", low=0.0, closed="neither")
    xmin = check_real(xmin, "xmin", low=0.0, closed="neither")
    relative = check_bool(relative, "relative")
    if relative and alpha <= p:
        raise ValueError(
            f"relative=True needs alpha > p (a finite expected ||x||_p^p); got alpha = {alpha!r}, p = {p!r}"
        )
    karr = np.arange(n + 1, dtype=np.int64) if k is None else check_k(as_host(k), n)
    values = _expected_curve(karr.ravel(), n, alpha, p, xmin).reshape(karr.shape)
    if relative:
        values = values / _expected_curve(np.zeros(1, dtype=np.int64), n, alpha, p, xmin)[0]
    return values[()] if values.ndim == 0 else values


def finite_n_decay_exponent(
    n: int, alpha: float, *, p: float = 2.0, k_min: int | None = None, k_max: int | None = None
) -> DecayFit:
    """Finite-n predicted decay exponent: the fit of :func:`sparsity.decay_exponent`, applied to the exact curve.

    The same least squares of log error on log k, at the same k (:func:`sparsity.curves.decay_grid`) in the same
    default window (:func:`sparsity.curves.default_decay_window`), applied to :func:`expected_best_k_error`
    (``xmin = 1``; the exponent does not depend on it). As ``n -> inf`` it tends to
    ``max(0, 1/alpha - 1/p)``; at finite n it carries the curvature of the finite-n curve, which is what the
    measured exponent is compared with.

    If the expected error is infinite at the start of the window (``k_min + 1 <= p / alpha``), the window
    starts at the first k with a finite expectation; ``DecayFit.k_min`` reports the window used.

    Parameters
    ----------
    n : int
        Sample size, >= 4.
    alpha : float
        Survival tail index, > 0.
    p : float, default 2.0
        Norm exponent, > 0.
    k_min, k_max : int, optional
        Fit window, ``1 <= k_min < k_max < n``; default ``default_decay_window(n)``.

    Returns
    -------
    DecayFit
        ``exponent`` (positive = decaying), ``intercept``, ``r2``, ``k_min``, ``k_max``.

    Examples
    --------
    >>> fit = finite_n_decay_exponent(10**6, 1.0)  # asymptotically 1/alpha - 1/2 = 0.5
    >>> round(fit.exponent, 3), fit.k_min, fit.k_max
    (0.508, 10, 1000)
    """
    n = check_int(n, "n", low=4)
    alpha = check_real(alpha, "alpha", low=0.0, closed="neither")
    p = check_real(p, "p", low=0.0, closed="neither")
    d_min, d_max = default_decay_window(n)
    lo = d_min if k_min is None else check_int(k_min, "k_min", low=1)
    hi = d_max if k_max is None else check_int(k_max, "k_max", low=1)
    if not 1 <= lo < hi < n:
        raise ValueError(f"the fit window must satisfy 1 <= k_min < k_max < n = {n}; got k_min={lo}, k_max={hi}")
    ks = decay_grid(lo, hi)
    values = _expected_curve(ks, n, alpha, p, 1.0)
    keep = np.isfinite(values)
    if np.count_nonzero(keep) < 3:
        raise ValueError(
            f"the expected error is infinite for k + 1 <= p / alpha = {p / alpha:g}, leaving fewer than 3 points "
            f"in the window [{lo}, {hi}]: raise k_max"
        )
    return loglog_fit(ks[keep], values[keep])
