"""Clauset-Shalizi-Newman power-law fit: exact KS-chosen ``xmin``, continuous and discrete (private body).

Conventions. ``alpha`` is the survival tail index, P(X > t) ~ t**(-alpha); the density exponent that
Clauset et al. and ``powerlaw`` report is ``alpha_density = alpha + 1``.

For a candidate ``xmin`` (a distinct sample value) with tail ``x_i >= xmin`` of size ``m``:

- continuous MLE: ``alpha = m / sum(log(x_i / xmin))`` (with ``xmax``: the root of the truncated-Pareto score
  equation);
- discrete MLE: ``a = alpha_density`` maximises ``-a * sum(log x_i) - m * log zeta(a, xmin)``
  (Hurwitz zeta; with ``xmax`` the normaliser is ``zeta(a, xmin) - zeta(a, xmax + 1)``);
- KS distance: ``D = max_u |F(u) - #{x_i < u} / m|`` over the distinct tail values ``u``, ``F`` the fitted CDF
  (the left-continuous empirical CDF of Clauset's ``plfit`` and of ``powerlaw``).

``xmin`` minimises ``D`` over every distinct value except the two largest (``powerlaw``'s candidate set),
ties going to the smallest ``xmin``. The scan is exact. The pruned scan keeps, for every candidate, a lower
bound of its ``D`` (the largest deviation on a candidate-relative grid, sharpened on a window around the
grid's maximiser) and an upper bound of the minimum (the exact ``D`` of a few promising candidates: spread
over the range, lowest bounds, neighbours of the best). Candidates whose lower bound exceeds the upper bound
are discarded, the grid is refined (x4) and the process repeats; the few survivors are evaluated exactly
(the exact evaluation itself skips blocks of the tail whose monotone bound is below the running maximum).
It returns the same ``xmin`` and ``D`` as the naive O(n^2) scan (tested on many samples, with ties).

The scan's bookkeeping runs on the host; the KS distances are evaluated by the kernel of the input's array
namespace (:func:`sparsity.tails._ks_backends.ks_kernel_for`: the NumPy kernel, or the CUDA kernel for CuPy).
The discrete MLE (:mod:`sparsity.tails._csn_discrete`) uses the analytic Hurwitz-zeta derivatives.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from sparsity.tails._csn_discrete import discrete_fit, discrete_fixed_xmin, discrete_se
from sparsity.tails._csn_scan import CsnResult, ScanMemo, candidates, first_index, prune
from sparsity.tails._estimate import TailEstimate
from sparsity.tails._ks_backends import NUMPY_KERNEL, ks_kernel_for
from sparsity.tails._ks_scan import ks_window_numpy

__all__ = ["CsnResult", "csn_fit", "csn_method"]

# prune schedule of the continuous scan: a 4-point grid first (it discards most candidates at a quarter of the
# 16-point grid's cost), the window bound from the 16-point grid on, at most 32 exact seeds per round; measured
# on MiniLM's entry windows (20,000 values) ~25% faster than prune's defaults, the same result (any valid
# schedule gives the same minimiser and D)
_PRUNE = {"k0": 4, "local_from": 16}
_MAX_SEEDS = 32


def _continuous_alphas(
    L: np.ndarray, cand: np.ndarray, n: int, log_xmax: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """Survival alpha and CDF normaliser for every candidate (vectorised).

    Logs are taken relative to the largest value and summed from the top down, so a candidate's alpha depends
    only on the values at and above it (bitwise: the same in any sample sharing that top part).
    """
    Lr = L - L[-1]
    suffix = np.cumsum(Lr[::-1])[::-1]
    m = (n - cand).astype(np.float64)
    tbar = (suffix[cand] - m * Lr[cand]) / m  # mean log(x / xmin) over the tail
    if log_xmax is None:
        with np.errstate(divide="ignore"):
            alpha = 1.0 / tbar
        return alpha, np.ones_like(alpha)
    logr = log_xmax - L[cand]
    alpha = _truncated_alpha(tbar, logr)
    with np.errstate(over="ignore", invalid="ignore"):
        cn = 1.0 / -np.expm1(-alpha * logr)
    return alpha, cn


def _truncated_alpha(tbar: np.ndarray, logr: np.ndarray) -> np.ndarray:
    """Root of the truncated-Pareto score ``1/a - tbar - logr / expm1(a * logr) = 0`` (vectorised bisection).

    The left side decreases from ``logr / 2 - tbar`` (a -> 0) to ``-tbar``; without a positive root
    (a tail that is not decreasing on [xmin, xmax]) the result is NaN and the candidate is skipped.
    """
    out = np.full(tbar.shape, np.nan)
    ok = (tbar > 0) & (tbar < logr / 2.0)
    if not np.any(ok):
        return out
    t, r = tbar[ok], logr[ok]
    lo = np.full(t.shape, -40.0)  # log a
    hi = np.full(t.shape, 40.0)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        a = np.exp(mid)
        with np.errstate(over="ignore"):
            s = 1.0 / a - t - r / np.expm1(a * r)
        pos = s > 0
        lo = np.where(pos, mid, lo)
        hi = np.where(pos, hi, mid)
        if np.all(hi - lo < 1e-15):
            break
    out[ok] = np.exp(0.5 * (lo + hi))
    return out


def _continuous(
    x: np.ndarray,
    *,
    xmax: float | None,
    min_tail: int,
    scan: str,
    xp: Any,
    known: tuple[int, CsnResult] | None = None,
) -> CsnResult:
    n = x.shape[0]
    L = np.log(x)
    first = first_index(x)
    cand = candidates(x, first, min_tail)
    if cand.size == 0:
        raise ValueError(
            f"min_tail={min_tail} leaves no candidate xmin: the sample has {n} values and at most "
            f"{np.unique(x).size - 2} candidates (every distinct value except the two largest)"
        )
    log_xmax = None if xmax is None else float(np.log(xmax))
    alpha, cn = _continuous_alphas(L, cand, n, log_xmax)
    valid = np.isfinite(alpha) & (alpha > 0) & np.isfinite(cn)
    cidx = np.flatnonzero(valid)
    if cidx.size == 0:
        raise ValueError("no candidate xmin gives a decreasing power-law tail below xmax")
    c, a, cnv = cand[cidx], alpha[cidx], cn[cidx]
    n_cand = int(c.size)
    prev, ustar0 = None, math.inf
    if known is not None and xmax is None and scan == "pruned":
        # the candidates at or above s = n - prev_n have the same tail, alpha and D as in the sample of the
        # prev_n largest values (see _continuous_alphas); its best is one of them, unless its xmin is a value
        # tied across s (whose tail is longer here): then everything is scanned
        prev_n, prev = known
        s = n - prev_n
        if s == 0:
            return prev
        if x[s - 1] == x[s] and prev.xmin == x[s]:
            prev = None
        else:
            below = c < s
            c, a, cnv = c[below], a[below], cnv[below]
            ustar0 = prev.ks_distance
            if c.size == 0:
                memo = None if prev.memo is None else replace(prev.memo, n=n)
                return replace(prev, n_candidates=n_cand, memo=memo)
    kernel = ks_kernel_for(xp)
    memo = None
    # the O(n) arrays go to the kernel's device once; each scan then sends only candidates
    Ld, firstd = kernel.to_device(L), kernel.to_device(first)

    def run(idx: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return kernel.scan(Ld, firstd, c[idx], a[idx], cnv[idx], k)

    def window(idx: np.ndarray, centers: np.ndarray, k: int) -> np.ndarray:
        return ks_window_numpy(L, first, c[idx], a[idx], cnv[idx], centers, k)

    if scan == "naive":
        # the O(n^2) reference: every point of every candidate, no pruning of any kind
        d = kernel.scan(Ld, firstd, c, a, cnv, 0, blocks=False)[0]
        n_exact = c.size
    else:
        bounds: list[np.ndarray] = []
        d, n_exact = _prune(c, n, run, window if kernel.window_bounds else None, ustar0, bounds)
        if kernel is NUMPY_KERNEL and xmax is None:
            memo = _memo(n, c, bounds, prev)
    if prev is not None and not np.nanmin(d, initial=math.inf) <= prev.ks_distance:
        # ties go to the lower xmin
        return replace(prev, n_candidates=n_cand, n_exact=prev.n_exact + int(n_exact), memo=memo)
    best = int(np.nanargmin(d))
    i = int(c[best])
    tail = x[i:]
    xmin = float(x[i])
    if xmax is None:
        # recomputed directly (pairwise sum), as powerlaw does: agrees with the scan to rounding
        alpha_best = tail.size / float(np.sum(np.log(tail / xmin)))
    else:
        alpha_best = float(a[best])
    n_exact = int(n_exact) + (prev.n_exact if prev is not None else 0)
    return CsnResult(alpha_best, xmin, int(tail.size), float(d[best]), n_cand, n_exact, memo)


def _prune(
    c: np.ndarray, n: int, run: Any, local: Any, ustar0: float, bounds: list[np.ndarray]
) -> tuple[np.ndarray, int]:
    """:func:`prune` with the continuous scan's schedule (:data:`_PRUNE`, at most :data:`_MAX_SEEDS` seeds)."""
    seeds = int(min(_MAX_SEEDS, max(8, c.size // 200)))
    tail = (n - c).astype(np.int64)
    return prune(c.size, tail, run, local=local, ustar0=ustar0, bounds=bounds, n_seed=seeds, n_spread=seeds, **_PRUNE)


def _memo(n: int, c: np.ndarray, bounds: list[np.ndarray], prev: CsnResult | None) -> ScanMemo | None:
    """The scan's :class:`ScanMemo`: these candidates' bounds, then those of ``prev`` (the top part), if any."""
    lb, exact = bounds
    tail, lower = n - c, np.where(np.isnan(exact), lb, exact)  # an exact D is its own best lower bound
    if prev is not None:
        if prev.memo is None:
            return None
        tail = np.concatenate((tail, prev.memo.tail))
        lower = np.concatenate((lower, prev.memo.lower))
        exact = np.concatenate((exact, prev.memo.exact))
    return ScanMemo(n, tail.astype(np.int64), lower, exact)


def csn_fit(
    x_sorted: np.ndarray,
    *,
    discrete: bool = False,
    xmin: float | None = None,
    xmax: float | None = None,
    min_tail: int = 3,
    scan: str = "pruned",
    xp: Any = None,
    known: tuple[int, CsnResult] | None = None,
) -> CsnResult:
    """Body of the CSN fit on validated, ascending, positive, finite float64 data (cut at ``xmax``).

    ``xp``: the array namespace of the caller's input (None: NumPy); it selects the KS-scan kernel (the data
    themselves are host NumPy arrays). ``known = (m, fit)``: ``fit`` is this function's result on the ``m``
    largest values of ``x_sorted`` (same options). The continuous pruned scan then evaluates only the
    candidates below them and returns the same result as without ``known`` (widening an ``xmin`` window costs
    only the new candidates).
    """
    if xmin is not None:
        i = int(np.searchsorted(x_sorted, xmin, side="left"))
        tail = x_sorted[i:]
        return _fixed_xmin(tail, float(xmin), discrete=discrete, xmax=xmax)
    if discrete:
        return discrete_fit(x_sorted, xmax=xmax, min_tail=min_tail, scan=scan)
    return _continuous(x_sorted, xmax=xmax, min_tail=min_tail, scan=scan, xp=xp, known=known)


def _fixed_xmin(tail: np.ndarray, xmin: float, *, discrete: bool, xmax: float | None) -> CsnResult:
    if discrete:
        return discrete_fixed_xmin(tail, xmin, xmax)
    m = tail.size
    starts = np.flatnonzero(first_index(tail) == np.arange(m))
    t = np.log(tail / xmin)
    if xmax is None:
        alpha = m / float(np.sum(t))
        cn = 1.0
    else:
        logr = float(np.log(xmax / xmin))
        alpha = float(_truncated_alpha(np.array([float(np.mean(t))]), np.array([logr]))[0])
        cn = 1.0 / -np.expm1(-alpha * logr)
    F = -np.expm1(-alpha * t[starts]) * cn
    d = float(np.max(np.abs(F - starts / m)))
    return CsnResult(alpha, xmin, m, d, 1, 1)


# ----------------------------------------------------------------------------- validated entry for fit_tail


def csn_method(
    x: np.ndarray,
    *,
    discrete: bool,
    xmin: float | None,
    xmax: float | None,
    min_tail: int,
    scan: str,
    xp: Any = None,
) -> TailEstimate:
    """CSN body for :func:`sparsity.tails._fit.fit_tail`: option checks that need the data, fit, standard error.

    ``x``: validated, ascending, positive float64 magnitudes (host); ``xp`` selects the KS-scan kernel.
    """
    if discrete:
        nonint = x != np.round(x)
        if nonint.any():
            raise ValueError(
                f"discrete=True needs integer magnitudes; got {int(nonint.sum())} non-integer value(s), "
                f"e.g. {x[np.argmax(nonint)]!r}"
            )
    if xmin is not None and xmax is not None and xmax <= xmin:
        raise ValueError(f"xmax must be > xmin; got xmax={xmax!r}, xmin={xmin!r}")
    data = x if xmax is None else x[x <= xmax]
    if xmin is not None:
        tail_n = int(np.count_nonzero(data >= xmin))
        if tail_n < 2:
            raise ValueError(f"xmin={xmin!r} leaves {tail_n} value(s) in the tail; at least 2 are needed")
    elif np.unique(data).size < 3:
        raise ValueError(f"x needs at least 3 distinct magnitudes (<= xmax) to choose xmin; got {np.unique(data).size}")
    r = csn_fit(data, discrete=discrete, xmin=xmin, xmax=xmax, min_tail=min_tail, scan=scan, xp=xp)
    if discrete:
        se = discrete_se(r.alpha + 1.0, r.xmin, r.n_tail, xmax)
    elif xmax is None:
        se = r.alpha / math.sqrt(r.n_tail)
    else:
        se = _truncated_se(r.alpha, r.xmin, xmax, r.n_tail)
    details = {"n_candidates": r.n_candidates, "n_exact_scans": r.n_exact, "xmin_fixed": xmin is not None}
    return TailEstimate(r.alpha, r.xmin, r.n_tail, r.ks_distance, se, details)


def _truncated_se(alpha: float, xmin: float, xmax: float, m: int) -> float:
    """Fisher information of the truncated Pareto: 1/a^2 - r^a log(r)^2 / (r^a - 1)^2, r = xmax/xmin."""
    lr = math.log(xmax / xmin)
    e = math.expm1(alpha * lr)
    info = 1.0 / alpha**2 - (e + 1.0) * lr**2 / e**2
    return 1.0 / math.sqrt(m * info) if info > 0 else math.nan
