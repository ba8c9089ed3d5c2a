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
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy import special

from sparsity.tails._ks_scan import ks_scan, ks_window_numpy

__all__ = ["CsnResult", "csn_fit", "csn_method"]

# Pruning margin: a candidate is discarded only when its lower bound exceeds the best exact D by more than
# this, which covers any ulp-level difference between the grid and the exact evaluation of the same point.
_PRUNE_MARGIN = 1e-12


@dataclass(frozen=True)
class CsnResult:
    """Raw result of the CSN scan (private)."""

    alpha: float
    xmin: float
    n_tail: int
    ks_distance: float
    n_candidates: int
    n_exact: int


def _first_index(x: np.ndarray) -> np.ndarray:
    """``first[j]``: smallest index holding the value ``x[j]`` (x ascending)."""
    n = x.shape[0]
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(x[1:], x[:-1], out=new[1:])
    idx = np.where(new, np.arange(n, dtype=np.int64), 0)
    return np.maximum.accumulate(idx)


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


def _prune(
    n_cand: int,
    tail_size: np.ndarray,
    scan: Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray | None]],
    *,
    local: Callable[[np.ndarray, np.ndarray, int], np.ndarray] | None = None,
    k0: int = 16,
    growth: int = 4,
    n_seed: int | None = None,
    n_near: int = 8,
    n_spread: int | None = None,
    exact_gain: float = 16.0,
    ustar0: float = math.inf,
) -> tuple[np.ndarray, int]:
    """Exact minimiser of D by grid lower bounds and exact upper bounds.

    ``scan(idx, k)`` returns the deviation of candidates ``idx`` on a ``k``-point grid (``k == 0``: exact)
    and where it is attained (or None). A grid with ``k >= tail_size - 1`` is exact. ``local(idx, centers,
    k)``, if given, returns the deviation on a window around ``centers`` (a sharper lower bound). ``ustar0``
    is a known upper bound of the minimum (the exact D of a candidate outside this set). Returns the exact D
    of every candidate that could be the minimiser (NaN for pruned ones) and the number of exact
    evaluations.
    """
    # exact scans seeding the upper bound: a few dozen for large problems, fewer for small ones
    auto = int(min(64, max(8, n_cand // 200)))
    n_seed = auto if n_seed is None else n_seed
    n_spread = auto if n_spread is None else n_spread
    lb = np.zeros(n_cand)
    exact = np.full(n_cand, np.nan)
    alive = np.arange(n_cand)
    k = k0
    # initial upper bound: exact D of candidates spread evenly over the range
    spread = np.unique(np.linspace(0, n_cand - 1, min(n_cand, n_spread)).astype(np.int64))
    exact[spread] = scan(spread, 0)[0]
    n_exact = spread.size
    ustar = min(ustar0, float(np.min(exact[spread])))
    while alive.size:
        d, where = scan(alive, k)
        lb[alive] = np.maximum(lb[alive], d)
        full = tail_size[alive] <= k + 1
        exact[alive[full]] = d[full]
        if local is not None and where is not None:
            # sharpen the bound of the undecided candidates around their grid maximiser
            sel = ~full & (lb[alive] <= ustar + _PRUNE_MARGIN)
            if sel.any():
                idx = alive[sel]
                lb[idx] = np.maximum(lb[idx], local(idx, where[sel], k))
        pending = alive[~full & np.isnan(exact[alive])]
        # exact D of the most promising candidates and of the neighbours of the best so far (D varies
        # slowly with the candidate): valid upper bounds of the minimum
        if pending.size:
            best = int(np.nanargmin(exact))
            near = np.arange(max(best - n_near, 0), min(best + n_near + 1, n_cand))
            seed = np.union1d(pending[np.argsort(lb[pending], kind="stable")[:n_seed]], near)
            seed = seed[np.isnan(exact[seed])]
            if seed.size:
                exact[seed] = scan(seed, 0)[0]
                n_exact += seed.size
        done = exact[alive]
        known = ~np.isnan(done)
        if known.any():
            ustar = min(ustar, float(np.min(done[known])))
            lb[alive[known]] = done[known]  # an exact D is its own best lower bound
        alive = alive[lb[alive] <= ustar + _PRUNE_MARGIN]
        todo = alive[np.isnan(exact[alive])]
        if todo.size == 0:
            break
        k_next = k * growth
        sizes = tail_size[todo]
        # a finer grid costs todo * k_next; the exact (block-pruned) scan about sum(sizes) / exact_gain
        if todo.size <= n_seed or k_next >= int(sizes.max()) or exact_gain * todo.size * k_next >= int(sizes.sum()):
            # exact scans in order of increasing lower bound, pruning as the best D falls
            order = todo[np.argsort(lb[todo], kind="stable")]
            for s in range(0, order.size, n_seed):
                batch = order[s : s + n_seed]
                batch = batch[lb[batch] <= ustar + _PRUNE_MARGIN]
                if batch.size == 0:
                    break  # sorted by lower bound: every later one is pruned too
                exact[batch] = scan(batch, 0)[0]
                n_exact += batch.size
                ustar = min(ustar, float(np.min(exact[batch])))
            alive = alive[lb[alive] <= ustar + _PRUNE_MARGIN]
            alive = alive[~np.isnan(exact[alive])]
            break
        k = k_next
    keep = np.full(n_cand, np.nan)
    keep[alive] = exact[alive]
    return keep, n_exact


def _candidates(x: np.ndarray, first: np.ndarray, min_tail: int) -> np.ndarray:
    """First indices of every distinct value except the two largest, with a tail of at least ``min_tail``."""
    n = x.shape[0]
    starts = np.flatnonzero(first == np.arange(n))
    cand = starts[:-2]
    return cand[(n - cand) >= min_tail]


def _continuous(
    x: np.ndarray,
    *,
    xmax: float | None,
    min_tail: int,
    scan: str,
    backend: str,
    known: tuple[int, CsnResult] | None = None,
) -> CsnResult:
    n = x.shape[0]
    L = np.log(x)
    first = _first_index(x)
    cand = _candidates(x, first, min_tail)
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
                return replace(prev, n_candidates=n_cand)
    Ld, firstd = L, first
    if backend == "cupy":  # move the O(n) arrays to the device once; each scan then sends only candidates
        import cupy as cp

        Ld, firstd = cp.asarray(L), cp.asarray(first)

    def run(idx: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return ks_scan(Ld, firstd, c[idx], a[idx], cnv[idx], k, backend=backend)

    def window(idx: np.ndarray, centers: np.ndarray, k: int) -> np.ndarray:
        return ks_window_numpy(L, first, c[idx], a[idx], cnv[idx], centers, k)

    if scan == "naive":
        # the O(n^2) reference: every point of every candidate, no pruning of any kind
        d = ks_scan(Ld, firstd, c, a, cnv, 0, backend=backend, blocks=False)[0]
        n_exact = c.size
    else:
        # windows sharpen the NumPy bounds; on the GPU the finer grids are cheap enough without them
        local = window if backend == "numpy" else None
        d, n_exact = _prune(c.size, (n - c).astype(np.int64), run, local=local, ustar0=ustar0)
    if prev is not None and not np.nanmin(d, initial=math.inf) <= prev.ks_distance:
        return replace(prev, n_candidates=n_cand, n_exact=prev.n_exact + int(n_exact))  # ties go to the lower xmin
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
    return CsnResult(alpha_best, xmin, int(tail.size), float(d[best]), n_cand, n_exact)


# ---------------------------------------------------------------------------------------------- discrete


def _hurwitz(s: np.ndarray, q: np.ndarray, qmax: np.ndarray | None) -> np.ndarray:
    z = special.zeta(s, q)
    if qmax is not None:
        z = z - special.zeta(s, qmax + 1.0)
    return z


def _discrete_alpha_density(sumlog: np.ndarray, m: np.ndarray, xmin: np.ndarray, xmax: float | None) -> np.ndarray:
    """Exact discrete MLE of the density exponent for each candidate (vectorised bisection on the score).

    Score: ``-sumlog / m - d/da log Z(a)``, with ``Z`` the (truncated) Hurwitz zeta normaliser; it decreases
    in ``a`` (log Z is convex). ``d/da log Z`` by a 4th-order central difference (relative error ~1e-12).
    """
    qmax = None if xmax is None else np.full(xmin.shape, float(xmax))
    target = sumlog / m
    h = 1e-3

    def dlogz(a: np.ndarray) -> np.ndarray:
        f = [np.log(_hurwitz(a + t * h, xmin, qmax)) for t in (-2, -1, 1, 2)]
        return (f[0] - 8 * f[1] + 8 * f[2] - f[3]) / (12 * h)

    lo = np.full(xmin.shape, 1.0 + 1e-6 if xmax is None else -20.0)
    hi = np.full(xmin.shape, 50.0)
    for _ in range(64):
        mid = 0.5 * (lo + hi)
        pos = (-target - dlogz(mid)) > 0
        lo = np.where(pos, mid, lo)
        hi = np.where(pos, hi, mid)
    return 0.5 * (lo + hi)


def _discrete(x: np.ndarray, *, xmax: float | None, min_tail: int, scan: str) -> CsnResult:
    n = x.shape[0]
    first = _first_index(x)
    cand = _candidates(x, first, min_tail)
    if cand.size == 0:
        raise ValueError(f"min_tail={min_tail} leaves no candidate xmin among {n} values")
    starts = np.flatnonzero(first == np.arange(n))
    u = x[starts]
    L = np.log(x)
    suffix = np.cumsum(L[::-1])[::-1]
    m = (n - cand).astype(np.float64)
    ad = _discrete_alpha_density(suffix[cand], m, x[cand], xmax)
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
            a = ad[c]
            z0 = special.zeta(a, u[p0])
            norm = z0 if zx is None else z0 - special.zeta(a, zx)
            F = (z0 - special.zeta(a, u[pts])) / norm
            emp = (starts[pts] - starts[p0]) / m[c]
            out[r] = np.max(np.abs(F - emp))
        return out

    tail_u = (n_u - pos_of).astype(np.int64)
    if scan == "naive":
        d = run(np.arange(cand.size), 0)
        n_exact = cand.size
    else:
        d, n_exact = _prune(cand.size, tail_u, lambda idx, k: (run(idx, k), None))
    best = int(np.nanargmin(d))
    i = int(cand[best])
    return CsnResult(float(ad[best]) - 1.0, float(x[i]), n - i, float(d[best]), int(cand.size), int(n_exact))


def csn_fit(
    x_sorted: np.ndarray,
    *,
    discrete: bool = False,
    xmin: float | None = None,
    xmax: float | None = None,
    min_tail: int = 3,
    scan: str = "pruned",
    backend: str = "numpy",
    known: tuple[int, CsnResult] | None = None,
) -> CsnResult:
    """Body of the CSN fit on validated, ascending, positive, finite float64 data (cut at ``xmax``).

    ``known = (m, fit)``: ``fit`` is this function's result on the ``m`` largest values of ``x_sorted`` (same
    options). The continuous pruned scan then evaluates only the candidates below them and returns the same
    result as without ``known`` (widening an ``xmin`` window costs only the new candidates).
    """
    if xmin is not None:
        i = int(np.searchsorted(x_sorted, xmin, side="left"))
        tail = x_sorted[i:]
        return _fixed_xmin(tail, float(xmin), discrete=discrete, xmax=xmax)
    if discrete:
        return _discrete(x_sorted, xmax=xmax, min_tail=min_tail, scan=scan)
    return _continuous(x_sorted, xmax=xmax, min_tail=min_tail, scan=scan, backend=backend, known=known)


def _fixed_xmin(tail: np.ndarray, xmin: float, *, discrete: bool, xmax: float | None) -> CsnResult:
    m = tail.size
    first = _first_index(tail)
    starts = np.flatnonzero(first == np.arange(m))
    if discrete:
        ad = float(
            _discrete_alpha_density(np.array([np.sum(np.log(tail))]), np.array([float(m)]), np.array([xmin]), xmax)[0]
        )
        z0 = special.zeta(ad, xmin)
        norm = z0 if xmax is None else z0 - special.zeta(ad, xmax + 1.0)
        F = (z0 - special.zeta(ad, tail[starts])) / norm
        d = float(np.max(np.abs(F - starts / m)))
        return CsnResult(ad - 1.0, xmin, m, d, 1, 1)
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
    backend: str,
) -> dict[str, Any]:
    """CSN body for :func:`sparsity.tails._fit.fit_tail`: option checks that need the data, fit, standard error."""
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
    r = csn_fit(data, discrete=discrete, xmin=xmin, xmax=xmax, min_tail=min_tail, scan=scan, backend=backend)
    if discrete:
        se = _discrete_se(r.alpha + 1.0, r.xmin, r.n_tail, xmax)
    elif xmax is None:
        se = r.alpha / math.sqrt(r.n_tail)
    else:
        se = _truncated_se(r.alpha, r.xmin, xmax, r.n_tail)
    return {
        "alpha": r.alpha,
        "xmin": r.xmin,
        "n_tail": r.n_tail,
        "ks_distance": r.ks_distance,
        "alpha_se": se,
        "details": {"n_candidates": r.n_candidates, "n_exact_scans": r.n_exact, "xmin_fixed": xmin is not None},
    }


def _discrete_se(ad: float, xmin: float, m: int, xmax: float | None) -> float:
    """1 / sqrt(m * I(a)), I(a) = d^2/da^2 log Z(a) = Var(log X) under the fit (central differences)."""
    h = 1e-4

    def logz(a: float) -> float:
        z = special.zeta(a, xmin)
        if xmax is not None:
            z -= special.zeta(a, xmax + 1.0)
        return math.log(z)

    info = (logz(ad + h) - 2 * logz(ad) + logz(ad - h)) / h**2
    return 1.0 / math.sqrt(m * info) if info > 0 else math.nan


def _truncated_se(alpha: float, xmin: float, xmax: float, m: int) -> float:
    """Fisher information of the truncated Pareto: 1/a^2 - r^a log(r)^2 / (r^a - 1)^2, r = xmax/xmin."""
    lr = math.log(xmax / xmin)
    e = math.expm1(alpha * lr)
    info = 1.0 / alpha**2 - (e + 1.0) * lr**2 / e**2
    return 1.0 / math.sqrt(m * info) if info > 0 else math.nan
