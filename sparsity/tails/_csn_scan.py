"""The exact minimisation of the KS distance over candidate ``xmin`` values (continuous and discrete CSN).

Candidates, first-occurrence indices and the pruned search; the method is described in :mod:`sparsity.tails._csn`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["CsnResult", "ScanMemo", "candidates", "first_index", "prune"]

# Pruning margin: a candidate is discarded only when its lower bound exceeds the best exact D by more than
# this, which covers any ulp-level difference between the grid and the exact evaluation of the same point.
_PRUNE_MARGIN = 1e-12


@dataclass(frozen=True)
class ScanMemo:
    """What a continuous pruned scan learned about the KS distance ``D`` of its candidates.

    A candidate is keyed by its tail size ``m`` (not its index): its tail, ``alpha`` and ``D`` depend only on
    the ``m`` largest values, so the memo stays valid when the sample is widened below (``csn_fit``'s ``known``).
    Both bounds come from the NumPy kernel, the same points and formula as the exact scan, so
    ``lower <= D`` holds bitwise and ``exact`` is the exact scan's value.

    Attributes
    ----------
    n : int
        Size of the sample the memo describes.
    tail : ndarray of shape (c,), int64
        Tail sizes of the scanned candidates, strictly decreasing.
    lower : ndarray of shape (c,)
        A lower bound of each candidate's ``D`` (its exact ``D`` where known).
    exact : ndarray of shape (c,)
        The exact ``D``, NaN where it was not computed.
    """

    n: int
    tail: np.ndarray
    lower: np.ndarray
    exact: np.ndarray

    def lookup(self, tail: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(lower, exact)`` of the candidates with tail sizes ``tail`` (0 and NaN for unknown ones)."""
        lower, exact = np.zeros(tail.shape), np.full(tail.shape, np.nan)
        if self.tail.size:
            pos = np.minimum(np.searchsorted(-self.tail, -tail), self.tail.size - 1)
            hit = self.tail[pos] == tail
            lower[hit], exact[hit] = self.lower[pos[hit]], self.exact[pos[hit]]
        return lower, exact


@dataclass(frozen=True)
class CsnResult:
    """Raw result of the CSN scan: survival ``alpha``, ``xmin``, tail size, KS distance, candidates, exact scans.

    ``memo``: the continuous pruned NumPy scan's :class:`ScanMemo` (None otherwise), which
    :func:`sparsity.layers._stability.xmin_interval` reuses; not part of the result's value (no comparison).
    """

    alpha: float
    xmin: float
    n_tail: int
    ks_distance: float
    n_candidates: int
    n_exact: int
    memo: ScanMemo | None = field(default=None, compare=False, repr=False)


def first_index(x: np.ndarray) -> np.ndarray:
    """``first[j]``: smallest index holding the value ``x[j]`` (x ascending)."""
    n = x.shape[0]
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(x[1:], x[:-1], out=new[1:])
    idx = np.where(new, np.arange(n, dtype=np.int64), 0)
    return np.maximum.accumulate(idx)


def candidates(x: np.ndarray, first: np.ndarray, min_tail: int) -> np.ndarray:
    """First indices of every distinct value except the two largest, with a tail of at least ``min_tail``."""
    n = x.shape[0]
    starts = np.flatnonzero(first == np.arange(n))
    cand = starts[:-2]
    return cand[(n - cand) >= min_tail]


def _exact_in_order(
    todo: np.ndarray, lb: np.ndarray, exact: np.ndarray, ustar: float, scan: Callable, batch_size: int
) -> tuple[float, int]:
    """Exact scans of ``todo`` in order of increasing lower bound (into ``exact``), pruning as the best D falls.

    Returns the new upper bound of the minimum and the number of exact scans.
    """
    order = todo[np.argsort(lb[todo], kind="stable")]
    n_exact = 0
    for s in range(0, order.size, batch_size):
        batch = order[s : s + batch_size]
        batch = batch[lb[batch] <= ustar + _PRUNE_MARGIN]
        if batch.size == 0:
            break  # sorted by lower bound: every later one is pruned too
        exact[batch] = scan(batch, 0)[0]
        n_exact += batch.size
        ustar = min(ustar, float(np.min(exact[batch])))
    return ustar, n_exact


def prune(
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
    local_from: int = 0,
    bounds: list[np.ndarray] | None = None,
) -> tuple[np.ndarray, int]:
    """Exact minimiser of D by grid lower bounds and exact upper bounds.

    ``scan(idx, k)`` returns the deviation of candidates ``idx`` on a ``k``-point grid (``k == 0``: exact)
    and where it is attained (or None). A grid with ``k >= tail_size - 1`` is exact. ``local(idx, centers,
    k)``, if given, returns the deviation on a window around ``centers`` (a sharper lower bound). ``ustar0``
    is a known upper bound of the minimum (the exact D of a candidate outside this set). Returns the exact D
    of every candidate that could be the minimiser (NaN for pruned ones) and the number of exact
    evaluations. ``bounds``, if a list, receives the lower bound and the exact D (NaN: not computed) of
    every candidate.
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
        if local is not None and where is not None and k >= local_from:
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
            ustar, n_more = _exact_in_order(todo, lb, exact, ustar, scan, n_seed)
            n_exact += n_more
            alive = alive[lb[alive] <= ustar + _PRUNE_MARGIN]
            alive = alive[~np.isnan(exact[alive])]
            break
        k = k_next
    if bounds is not None:
        bounds[:] = [lb, exact]
    keep = np.full(n_cand, np.nan)
    keep[alive] = exact[alive]
    return keep, n_exact
