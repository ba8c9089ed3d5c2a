"""Discrete CSN fit: the exact Hurwitz-zeta MLE for every candidate ``xmin`` and the KS scan over them.

``a = alpha_density`` maximises ``-a * sum(log x_i) - m * log Z(a)`` with ``Z(a) = zeta(a, xmin)`` (truncated:
``zeta(a, xmin) - zeta(a, xmax + 1)``). The score ``E_a[log X] - mean(log x_i)`` decreases in ``a``; it is
evaluated with the analytic derivative of ``log Z`` (:func:`sparsity.tails._zeta.zeta_log_moments`) and solved
by bisection. The bracket starts at ``[1 + 1e-6, 50]`` (the score is positive at ``1 + 1e-6`` for untruncated
float64 data: ``E[log(X/xmin)]`` is then about ``1e6``) and its upper end doubles while the root lies above
it, up to :func:`_a_cap` (where ``zeta(a, xmin)`` would underflow and the KS distance could not be evaluated).
A candidate whose root lies outside (above the cap; below ``1 + 1e-6``, which only truncation allows) has
no estimate: it is left out of the scan with a warning that counts it, or raises for a fixed ``xmin``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import special

from sparsity.tails._csn_scan import CsnResult, candidates, first_index, prune
from sparsity.tails._zeta import zeta_log_moments

__all__ = ["A_LOW", "discrete_alpha_density", "discrete_fit", "discrete_fixed_xmin", "discrete_se"]

A_LOW = 1.0 + 1e-6
"""Lower end of the bracket of the discrete density exponent (``zeta(a, q)`` has its pole at ``a = 1``)."""
_A_HIGH = 50.0
_A_MAX = 1e4
_LOG_TINY = 700.0  # zeta(a, q) ~ q**(-a) stays a normal float64 while a * log(q) <= 700


def _a_cap(xmin: np.ndarray) -> np.ndarray:
    """Largest density exponent at which ``zeta(a, xmin)`` is a normal float64 (at most ``1e4``)."""
    with np.errstate(divide="ignore"):
        cap = _LOG_TINY / np.log(xmin)
    return np.where(xmin > 1.0, np.minimum(cap, _A_MAX), _A_MAX)


def discrete_alpha_density(sumlog: np.ndarray, m: np.ndarray, xmin: np.ndarray, xmax: float | None) -> np.ndarray:
    """Exact discrete MLE of the density exponent for each candidate (vectorised bisection on the score).

    Parameters
    ----------
    sumlog : ndarray of shape (c,)
        ``sum(log x_i)`` over each candidate's tail.
    m : ndarray of shape (c,)
        Tail sizes.
    xmin : ndarray of shape (c,)
        Candidate ``xmin`` values (integers >= 1).
    xmax : float, optional
        Upper truncation (included).

    Returns
    -------
    ndarray of shape (c,)
        The root of the score; NaN where it lies outside ``[A_LOW, _a_cap(xmin)]`` (see the module notes).
    """
    qmax = None if xmax is None else float(xmax)
    target = sumlog / m - np.log(xmin)  # mean log(x / xmin) over the tail

    def score(a: np.ndarray) -> np.ndarray:  # E_a[log(X / xmin)] - target, decreasing in a
        return zeta_log_moments(a, xmin, qmax)[0] - target

    cap = _a_cap(xmin)
    lo = np.full(xmin.shape, A_LOW)
    hi = np.minimum(np.full(xmin.shape, _A_HIGH), cap)
    above = score(hi) > 0
    while np.any(above & (hi < cap)):  # widen the bracket where the root lies above it
        grow = above & (hi < cap)
        lo = np.where(grow, hi, lo)
        hi = np.where(grow, np.minimum(2.0 * hi, cap), hi)
        above = score(hi) > 0
    outside = above | (score(lo) < 0)
    for _ in range(64):
        mid = 0.5 * (lo + hi)
        pos = score(mid) > 0
        lo = np.where(pos, mid, lo)
        hi = np.where(pos, hi, mid)
    return np.where(outside, np.nan, 0.5 * (lo + hi))


def _ks(a: float, q: float, u: np.ndarray, emp: np.ndarray, zx: float | None) -> float:
    """KS distance of the discrete power law (density exponent ``a`` on ``q, q + 1, ...``) at the points ``u``."""
    z0 = special.zeta(a, q)
    norm = z0 if zx is None else z0 - special.zeta(a, zx)
    F = (z0 - special.zeta(a, u)) / norm
    return float(np.max(np.abs(F - emp)))


def _warn_outside(n_out: int, n_cand: int, xmax: float | None) -> None:
    where = f"below {A_LOW!r} or above the cap" if xmax is not None else "above the cap"
    warnings.warn(
        f"discrete CSN: for {n_out} of {n_cand} candidate xmin the MLE of alpha_density lies {where} (min(1e4, "
        "700 / log(xmin)), where zeta(alpha_density, xmin) underflows): the tail is concentrated at xmin; "
        "these candidates are left out of the scan",
        UserWarning,
        stacklevel=5,
    )


def discrete_fit(x: np.ndarray, *, xmax: float | None, min_tail: int, scan: str) -> CsnResult:
    """Discrete CSN fit with ``xmin`` chosen by the exact KS scan (``x`` ascending positive integers)."""
    n = x.shape[0]
    first = first_index(x)
    cand = candidates(x, first, min_tail)
    if cand.size == 0:
        raise ValueError(f"min_tail={min_tail} leaves no candidate xmin among {n} values")
    n_cand = int(cand.size)
    starts = np.flatnonzero(first == np.arange(n))
    u = x[starts]
    L = np.log(x)
    suffix = np.cumsum(L[::-1])[::-1]
    m = (n - cand).astype(np.float64)
    ad = discrete_alpha_density(suffix[cand], m, x[cand], xmax)
    ok = np.isfinite(ad)
    if not ok.all():
        _warn_outside(int(np.count_nonzero(~ok)), n_cand, xmax)
        if not ok.any():
            raise ValueError("discrete CSN: no candidate xmin has an MLE of alpha_density inside the bracket")
        cand, m, ad = cand[ok], m[ok], ad[ok]
    zx = None if xmax is None else float(xmax) + 1.0
    pos_of = np.searchsorted(starts, cand)  # position of each candidate among the distinct values
    n_u = starts.size

    def run(idx: np.ndarray, k: int) -> np.ndarray:
        out = np.empty(idx.size)
        for r, c in enumerate(idx):
            p0 = int(pos_of[c])
            if k == 0 or k >= n_u - p0 - 1:
                pts = np.arange(p0, n_u)
            else:
                pts = p0 + ((np.arange(1, k + 1) * (n_u - p0 - 1)) // k)
            out[r] = _ks(ad[c], u[p0], u[pts], (starts[pts] - starts[p0]) / m[c], zx)
        return out

    tail_u = (n_u - pos_of).astype(np.int64)
    if scan == "naive":
        d = run(np.arange(cand.size), 0)
        n_exact = cand.size
    else:
        d, n_exact = prune(cand.size, tail_u, lambda idx, k: (run(idx, k), None))
    best = int(np.nanargmin(d))
    i = int(cand[best])
    return CsnResult(float(ad[best]) - 1.0, float(x[i]), n - i, float(d[best]), n_cand, int(n_exact))


def discrete_fixed_xmin(tail: np.ndarray, xmin: float, xmax: float | None) -> CsnResult:
    """Discrete MLE and KS distance on a given tail (``tail`` ascending, every value >= ``xmin``)."""
    m = tail.size
    starts = np.flatnonzero(first_index(tail) == np.arange(m))
    sumlog = np.array([np.sum(np.log(tail))])
    ad = float(discrete_alpha_density(sumlog, np.array([float(m)]), np.array([xmin]), xmax)[0])
    if math.isnan(ad):
        raise ValueError(
            f"discrete CSN: the MLE of alpha_density for xmin={xmin!r} lies outside [{A_LOW!r}, "
            f"{float(_a_cap(np.array([xmin]))[0]):.6g}] (the tail is concentrated at xmin)"
        )
    d = _ks(ad, xmin, tail[starts], starts / m, None if xmax is None else xmax + 1.0)
    return CsnResult(ad - 1.0, xmin, m, d, 1, 1)


def discrete_se(ad: float, xmin: float, m: int, xmax: float | None) -> float:
    """``1 / sqrt(m I(a))``, ``I(a) = d^2/da^2 log Z(a) = Var(log X)`` under the fit (analytic)."""
    _, var = zeta_log_moments(np.array(ad), np.array(xmin), xmax)
    info = float(var)
    return 1.0 / math.sqrt(m * info) if info > 0 else math.nan
