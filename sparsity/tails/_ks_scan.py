"""KS-distance scan over candidate ``xmin`` values: the NumPy kernel.

It is the reference, and the twin of the CuPy raw kernel in :mod:`sparsity.tails._ks_scan_cupy`. Both kernels
compute, for every candidate ``c`` (a first-occurrence index ``i_c`` into the ascending sorted sample ``x``,
with tail size ``m_c = n - i_c``, fitted survival index ``alpha_c`` and truncation normaliser ``cn_c``), the
largest KS deviation over a set of evaluation points ``j`` of its tail::

    G_c(j) = (1 - exp(-alpha_c * (L[j'] - L[i_c]))) * cn_c - (j' - i_c) / m_c,   j' = first[j]

where ``L = log(x)`` and ``first[j]`` is the first index holding the value ``x[j]`` (so ``j' - i_c``
is the number of tail values strictly below ``x[j]``: the left-continuous empirical
CDF that Clauset's ``plfit`` and ``powerlaw`` use). The evaluation points are

- ``k == 0``: every index of the tail (the exact KS distance of the candidate);
- ``k > 0``: the candidate-relative grid ``j = i_c + ((t + 1) * (m_c - 1)) // k`` for ``t = 0..k-1``,
  which is a lower bound of the exact distance, and equal to it when ``k >= m_c - 1``.

The integer grid formula is the same in every kernel, so the twins evaluate the same points. The kernel of an
array namespace is chosen in :mod:`sparsity.tails._ks_backends`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ks_scan_numpy", "ks_window_numpy"]

# points per NumPy array: 2 MB temporaries stay in cache and in the allocator (measured 1.2-1.8x faster than 16 MB)
_CHUNK_ELEMENTS = 1 << 18
# |G| <= 1; the block bounds are exact up to a few ulp of rounding, so 1e-12 keeps every block that matters
_BLOCK_MARGIN = 1e-12
# tails shorter than this take the plain exact scan (every point), vectorised over candidates
_SHORT_TAIL = 1024
_BLOCKS_PER_ROOT = 2.0
_SUBBLOCKS = 8


def _g_abs(
    L: np.ndarray,
    first: np.ndarray | None,
    j: np.ndarray,
    i: np.ndarray,
    alpha: np.ndarray | float,
    cn: np.ndarray | float,
    m: np.ndarray,
) -> np.ndarray:
    """|G| at indices ``j``; ``first=None`` means no ties (``first[j] == j``), which skips a gather."""
    jj = j if first is None else first[j]
    # |(1 - exp(-alpha (L[jj] - L[i]))) cn - (jj - i) / m|, the same operations in place (fewer temporaries)
    g = L[jj]
    g -= L[i]
    np.multiply(-alpha, g, out=g)
    np.exp(g, out=g)
    np.subtract(1.0, g, out=g)
    g *= cn
    g -= (jj - i) / m
    return np.abs(g, out=g)


def _exact_plain(L: np.ndarray, first: np.ndarray, i: int, alpha: float, cn: float, m: int) -> tuple[float, int]:
    j = np.arange(i, i + m)
    g = _g_abs(L, first, j, np.int64(i), alpha, cn, np.float64(m))
    a = int(np.argmax(g))
    return float(g[a]), int(first[j[a]])


def _subgrid(
    L: np.ndarray,
    first: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    nsub: np.ndarray,
    owner: np.ndarray,
    tails: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Grid points ``lo + (t (hi - lo)) // nsub``, ``t = 0..nsub``, of blocks ``[lo, hi]`` of candidates ``owner``.

    ``tails = (cand, alpha, cn, m)`` (``m`` float64). Returns the points, their ``first`` index, their candidate,
    ``|G|`` (the operations of :func:`_g_abs`, so the same values) and the bound of ``|G|`` on each stretch
    between consecutive points (``-inf`` across blocks): ``F`` and ``e`` both increase on a stretch ``[a, b]``,
    so ``|G| <= max(F(b) - e(a), e(b) - F(a))`` there.
    """
    cand, alpha, cn, m = tails
    cnt = nsub + 1
    start = np.cumsum(cnt) - cnt
    blk = np.repeat(np.arange(lo.shape[0]), cnt)
    t = np.arange(int(cnt.sum()), dtype=np.int64) - start[blk]
    j = lo[blk] + (t * (hi - lo)[blk]) // nsub[blk]
    jj = first[j]
    o = owner[blk]
    i = cand[o]
    F = (1.0 - np.exp(-alpha[o] * (L[jj] - L[i]))) * cn[o]
    e = (jj - i) / m[o]
    ub = np.maximum(F[1:] - e[:-1], e[1:] - F[:-1])
    ub[blk[1:] != blk[:-1]] = -np.inf
    return j, jj, o, np.abs(F - e), ub


def _owner_max(v: np.ndarray, o: np.ndarray, nc: int, best: np.ndarray | None) -> np.ndarray:
    """Per candidate: the largest ``v`` over its entries (``o`` sorted), and ``best`` (None: every one has some)."""
    count = np.bincount(o, minlength=nc)
    has = np.flatnonzero(count)
    out = np.full(nc, -np.inf) if best is None else best.copy()
    if has.size:
        out[has] = np.maximum(out[has], np.maximum.reduceat(v, (np.cumsum(count) - count)[has]))
    return out


def _exact_blocks_many(
    L: np.ndarray, first: np.ndarray, cand: np.ndarray, alpha: np.ndarray, cn: np.ndarray, m: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Exact max |G| over the long tails (``m >= _SHORT_TAIL``) of many candidates, skipping hopeless blocks.

    A block is hopeless when it cannot hold the maximum. Each tail is cut at ``nb + 1`` grid indices into
    blocks; on a block between grid indices ``a < b`` the fitted CDF ``F`` and the empirical CDF ``e`` both
    increase, so every point has ``|G| <= max(F(b) - e(a), e(b) - F(a))``. Blocks whose bound is below their
    candidate's largest grid value (less a rounding margin) cannot contain the maximum or its first
    occurrence. The others are cut again into ``_SUBBLOCKS`` sub-blocks, with the same test against the
    largest value on both grids, and the open sub-blocks are evaluated point by point. Every value enters with
    the formula of :func:`_g_abs`, so the result is the plain scan's. All candidates share flat arrays of
    points (segments per candidate): a constant number of NumPy calls per batch.
    """
    nc = cand.shape[0]
    mf = m.astype(np.float64)
    tails = (cand, alpha, cn, mf)
    # block bound slack ~ 1/nb must be well below D ~ 1/sqrt(m); a second, finer level then opens few points
    nb = np.minimum(m // 4, (_BLOCKS_PER_ROOT * np.sqrt(m)).astype(np.int64))
    j1, jj1, o1, g1, ub1 = _subgrid(L, first, cand, cand + m - 1, nb, np.arange(nc), tails)
    best = _owner_max(g1, o1, nc, None)
    ob = np.flatnonzero(ub1 + _BLOCK_MARGIN >= best[o1[:-1]])
    lo, hi, ow = j1[ob], j1[ob + 1], o1[ob]
    j2, jj2, o2, g2, ub2 = _subgrid(L, first, lo, hi, np.maximum(np.minimum(_SUBBLOCKS, hi - lo), 1), ow, tails)
    best = _owner_max(g2, o2, nc, best)
    ob = np.flatnonzero(ub2 + _BLOCK_MARGIN >= best[o2[:-1]])
    lo, hi = j2[ob], j2[ob + 1]
    lens = hi - lo + 1
    j = np.repeat(lo - np.cumsum(lens) + lens, lens) + np.arange(int(lens.sum()), dtype=np.int64)
    pseg = np.repeat(o2[ob], lens)
    g = _g_abs(L, first, j, cand[pseg], alpha[pseg], cn[pseg], mf[pseg])
    dmax = _owner_max(g, pseg, nc, best)
    # first occurrence of the maximum: first[] is nondecreasing along each segment, so the smallest index hit
    never = np.iinfo(np.int64).max
    jmax = np.full(nc, never)
    for jj, o, v in ((jj1, o1, g1), (jj2, o2, g2), (first[j], pseg, g)):
        hit = np.flatnonzero(v == dmax[o])
        np.minimum.at(jmax, o[hit], jj[hit])
    bad = np.flatnonzero(~np.isfinite(dmax))
    for c in bad:  # NaN alpha (an invalid candidate): the plain scan defines the result
        dmax[c], jmax[c] = _exact_plain(L, first, int(cand[c]), alpha[c], cn[c], int(m[c]))
    return dmax, jmax


def _row_max(g: np.ndarray, j: np.ndarray, first: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row (candidate) of ``g = |G|`` at indices ``j``: the largest value and ``first[j]`` where it first occurs."""
    a = np.argmax(g, axis=1)
    r = np.arange(g.shape[0])
    return g[r, a], first[j[r, a]]


def _exact_plain_many(
    L: np.ndarray, first: np.ndarray, cand: np.ndarray, alpha: np.ndarray, cn: np.ndarray, m: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_exact_plain` for many short tails at once: one ``(candidates, max tail)`` array per chunk.

    The same points and the same elementwise formula, so the same result; points past a tail's end are
    evaluated at a clipped index and then ignored (set to -1 before the row maximum).
    """
    n = L.shape[0]
    dmax = np.empty(cand.shape[0])
    jmax = np.empty(cand.shape[0], dtype=np.int64)
    rows = max(1, _CHUNK_ELEMENTS // max(int(m.max()), 1))
    for s in range(0, cand.shape[0], rows):
        i, mm = cand[s : s + rows, None], m[s : s + rows, None]
        t = np.arange(int(mm.max()))[None, :]
        j = np.minimum(i + t, n - 1)
        g = _g_abs(L, first, j, i, alpha[s : s + rows, None], cn[s : s + rows, None], mm.astype(np.float64))
        g[t >= mm] = -1.0
        dmax[s : s + rows], jmax[s : s + rows] = _row_max(g, j, first)
    return dmax, jmax


def ks_scan_numpy(
    L: np.ndarray,
    first: np.ndarray,
    cand: np.ndarray,
    alpha: np.ndarray,
    cn: np.ndarray,
    k: int = 0,
    *,
    blocks: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """KS deviation of each candidate over its tail (``k == 0``) or over a ``k``-point grid (NumPy).

    Parameters
    ----------
    L : ndarray of shape (n,)
        Logarithms of the ascending sorted sample.
    first : ndarray of shape (n,), int64
        ``first[j]`` is the smallest index with ``x[first[j]] == x[j]``.
    cand : ndarray of shape (c,), int64
        Candidate start indices (first occurrences).
    alpha, cn : ndarray of shape (c,)
        Survival tail index and CDF normaliser (1 without truncation) of each candidate.
    k : int
        0 for the exact scan, otherwise the number of grid points per candidate.
    blocks : bool
        ``k == 0`` only: skip blocks of the tail whose upper bound is below the running maximum (same result,
        fewer evaluations); ``False`` evaluates every point (the plain O(m) reference).

    Returns
    -------
    dmax : ndarray of shape (c,)
        Largest ``|G|`` over the evaluated points.
    jmax : ndarray of shape (c,), int64
        Index ``first[j]`` where it is attained (first such point).
    """
    cand = np.asarray(cand, dtype=np.int64)
    L = np.asarray(L, dtype=np.float64)  # the evaluation works in place in float64 (no copy for float64 L)
    n = L.shape[0]
    nc = cand.shape[0]
    dmax = np.zeros(nc)
    jmax = cand.copy()
    if nc == 0:
        return dmax, jmax
    m_all = n - cand
    if k == 0:
        # short tails (where the block path would evaluate every point anyway) all at once, long ones in batches
        short = np.flatnonzero(m_all < _SHORT_TAIL) if blocks else np.zeros(0, dtype=np.int64)
        if short.size:
            dmax[short], jmax[short] = _exact_plain_many(L, first, cand[short], alpha[short], cn[short], m_all[short])
        long = np.setdiff1d(np.arange(nc), short, assume_unique=True)
        if not blocks:
            for c in long:
                dmax[c], jmax[c] = _exact_plain(L, first, int(cand[c]), alpha[c], cn[c], int(m_all[c]))
            return dmax, jmax
        # batches of candidates whose tails start within the same _CHUNK_ELEMENTS points of their running total
        # (the block points of a batch are ~1/8 of its tail points, see _exact_blocks_many)
        ml = m_all[long]
        batch = (np.cumsum(ml) - ml) // _CHUNK_ELEMENTS
        for b in np.split(long, np.flatnonzero(np.diff(batch)) + 1) if long.size else []:
            dmax[b], jmax[b] = _exact_blocks_many(L, first, cand[b], alpha[b], cn[b], m_all[b])
        return dmax, jmax
    t1 = np.arange(1, k + 1, dtype=np.int64)
    rows = max(1, _CHUNK_ELEMENTS // k)
    gather = None if first[-1] == n - 1 and np.array_equal(first, np.arange(n)) else first
    for s in range(0, nc, rows):
        i = cand[s : s + rows, None]
        m = m_all[s : s + rows, None]
        j = i + (t1[None, :] * (m - 1)) // k
        g = _g_abs(L, gather, j, i, alpha[s : s + rows, None], cn[s : s + rows, None], m.astype(np.float64))
        dmax[s : s + rows], jmax[s : s + rows] = _row_max(g, j, first)
    return dmax, jmax


def ks_window_numpy(
    L: np.ndarray,
    first: np.ndarray,
    cand: np.ndarray,
    alpha: np.ndarray,
    cn: np.ndarray,
    centers: np.ndarray,
    k: int,
    *,
    width: int = 65,
    span: float = 8.0,
) -> np.ndarray:
    """Largest ``|G|`` on ``width`` points around ``centers`` (``width`` odd: the centre is one of them).

    A cheap lower bound of the KS distance that sharpens the ``k``-point grid bound where it matters: the
    maximum of ``|G|`` usually lies within a few grid steps ``(m - 1) // k`` of the grid's own maximiser.
    Points are clipped to the tail ``[i, n - 1]``.
    """
    L = np.asarray(L, dtype=np.float64)
    n = L.shape[0]
    nc = cand.shape[0]
    out = np.zeros(nc)
    off = np.linspace(-span, span, width)[None, :]
    rows = max(1, _CHUNK_ELEMENTS // width)
    for s in range(0, nc, rows):
        i = cand[s : s + rows, None].astype(np.int64)
        m = n - i
        step = np.maximum((m - 1) // max(k, 1), 1)
        p = np.clip(centers[s : s + rows, None] + np.round(off * step).astype(np.int64), i, n - 1)
        g = _g_abs(L, first, p, i, alpha[s : s + rows, None], cn[s : s + rows, None], m.astype(np.float64))
        out[s : s + rows] = g.max(axis=1)
    return out
