"""Uncertainty of a power-law tail fit and its stability under rounding to float16 and bfloat16 (private).

Two things make a CSN tail index uncertain: the sampling error of the MLE for a given ``xmin``
(``alpha / sqrt(n_tail)``) and the choice of ``xmin`` itself. On real weights the KS distance is often nearly
flat over a range of ``xmin`` in which ``alpha`` drifts (the body is not a power law), so a perturbation as
small as rounding to float16 (relative change ~5e-4) can move ``xmin`` to another, almost equally good,
candidate: on all-MiniLM-L6-v2's ``encoder.layer.2.intermediate.dense`` the entry fit goes from 6.99 (2111 tail
values) to 9.22 (424) in float16, far outside the normal interval [6.69, 7.29].

:func:`xmin_interval` therefore widens the interval by the ``xmin`` uncertainty: it is the union of the normal
intervals ``alpha_c (1 +- z / sqrt(m_c))`` of every candidate ``c`` (tail size ``m_c >= 10``) whose KS distance
is within one standard error of the minimum, ``D_c <= D_min + KS_SE / sqrt(n_tail)`` (the one-standard-error
rule of model selection; :data:`KS_SE` is the standard deviation of ``sqrt(m) D`` for an exact Pareto tail of
``m`` values with fitted ``alpha``). It is computed exactly (candidates are taken most extreme end first, grid
lower bounds of ``D`` discard most of them, the rest is evaluated exactly until one qualifies).

Rounding: :func:`round_half` and :func:`round_bfloat16` round to the nearest float16 / bfloat16 (ties to even),
as ``tensor.half()`` / ``tensor.bfloat16()`` do; a refit of the rounded values that falls outside the interval
flags the fit as unstable (:mod:`sparsity.layers._entry`, :mod:`sparsity.layers._analyze`). Rounding is
monotone, so the largest ``K`` rounded magnitudes are the rounded largest ``K``: the refit of the entries reuses
the float32 window. Values that already are float16 (bfloat16) round to themselves: the refit is the fit.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special

from sparsity.tails._csn import _continuous_alphas
from sparsity.tails._csn_scan import ScanMemo, candidates, first_index
from sparsity.tails._ks_scan import ks_scan_numpy

__all__ = [
    "CI_LEVEL",
    "KS_SE",
    "MIN_CI_TAIL",
    "outside",
    "round_bfloat16",
    "round_half",
    "xmin_interval",
]

CI_LEVEL = 0.95
"""Level of the ``*_ci_low`` / ``*_ci_high`` columns."""

KS_SE = 0.19
"""Standard deviation of ``sqrt(m) D`` (KS distance of an exact Pareto tail of ``m`` values against the power law
with its fitted ``alpha``, the CSN statistic): 0.194, 0.188, 0.191 at m = 200, 1000, 5000 over 2000 seeded
simulations each (exponential log-excesses, rate by MLE); ``tests/test_entry_columns.py`` re-derives it."""

MIN_CI_TAIL = 10
"""Smallest tail of a candidate ``xmin`` that may widen the interval (the chosen fit always counts)."""

_EXACT_BATCH = 32
_GRIDS = (4, 16, 128)
_CHUNK = 2048
_HALF_MAX = float(np.finfo(np.float16).max)


def round_half(x: np.ndarray) -> np.ndarray | None:
    """``x`` rounded to the nearest float16, in ``x``'s dtype; None if a value overflows float16 (> 65504)."""
    with np.errstate(over="ignore"):
        r = x.astype(np.float16)
    if not np.all(np.isfinite(r)):
        return None
    return r.astype(x.dtype)


def round_bfloat16(x: np.ndarray) -> np.ndarray:
    """``x`` rounded to the nearest bfloat16 (ties to even; float64 goes through float32), in ``x``'s dtype.

    Examples
    --------
    >>> round_bfloat16(np.array([1.0 + 2.0**-8, 1.0 + 3 * 2.0**-8, 3.0], dtype=np.float32)).tolist()
    [1.0, 1.015625, 3.0]
    """
    b = np.array(x, dtype=np.float32).view(np.uint32)  # a copy, rounded in place (no uint32 overflow when finite)
    lsb = b >> 16
    lsb &= 1
    b += 0x7FFF
    b += lsb
    b &= 0xFFFF0000
    return b.view(np.float32).astype(x.dtype, copy=False)


def outside(value: float, interval: tuple[float, float]) -> bool:
    """Whether a refitted ``value`` lies outside ``interval`` (a failed refit, NaN, counts as outside)."""
    return not (interval[0] <= value <= interval[1])


def _z(level: float) -> float:
    return float(special.ndtri(0.5 + level / 2.0))


def _extreme(ends: np.ndarray, current: float, sign: float, lower_bound: Any, exact_d: Any, thr: float) -> float:
    """The most extreme of ``ends`` (``sign`` 1: largest, -1: smallest) with ``D <= thr``, else ``current``.

    Candidates are taken most extreme first, in chunks: grid lower bounds of ``D`` discard most of a chunk, the
    rest is evaluated exactly in order; the first candidate that qualifies is the answer. ``ends`` may hold
    NaN for candidates known not to qualify (never taken).
    """
    order = np.flatnonzero(sign * ends > sign * current)
    order = order[np.argsort(-sign * ends[order], kind="stable")]
    for s in range(0, order.size, _CHUNK):
        chunk = order[s : s + _CHUNK]
        for k in _GRIDS:  # a k-point grid's deviation is a lower bound of D
            chunk = chunk[lower_bound(chunk, k) <= thr] if chunk.size else chunk
        for b in range(0, chunk.size, _EXACT_BATCH):
            batch = chunk[b : b + _EXACT_BATCH]
            member = batch[exact_d(batch) <= thr]
            if member.size:
                return float(ends[member[0]])
    return current


def _known_extreme(ends: np.ndarray, current: float, sign: float, member: np.ndarray) -> float:
    """``current`` moved to the most extreme of ``ends[member]`` beyond it (``member``: known to qualify)."""
    e = ends[member & (sign * ends > sign * current)]
    return float(e[np.argmax(sign * e)]) if e.size else current


def xmin_interval(
    x: np.ndarray,
    alpha: float,
    n_tail: int,
    d_min: float,
    level: float = CI_LEVEL,
    *,
    memo: ScanMemo | None = None,
) -> tuple[float, float]:
    """Interval of a continuous CSN ``alpha`` that includes the uncertainty of ``xmin`` (module docstring).

    Parameters
    ----------
    x : ndarray of shape (n,)
        The fitted sample: ascending, positive, finite float64 (what :func:`sparsity.tails._csn.csn_fit` saw).
    alpha, n_tail, d_min : float, int, float
        The fit: survival tail index, tail size and KS distance (the minimum over the candidates).
    level : float
        Coverage of each normal interval in the union.
    memo : ScanMemo, optional
        The ``memo`` of the :func:`~sparsity.tails._csn.csn_fit` result on ``x``: its lower bounds and exact
        KS distances decide most candidates without a scan (the same interval, faster).

    Returns
    -------
    (low, high) : tuple of float
        The union of ``alpha_c (1 +- z / sqrt(m_c))`` over the candidates with ``m_c >= MIN_CI_TAIL`` and
        ``D_c <= d_min + KS_SE / sqrt(n_tail)``, and of the fit's own normal interval.
    """
    z = _z(level)
    lo, hi = alpha * (1.0 - z / math.sqrt(n_tail)), alpha * (1.0 + z / math.sqrt(n_tail))
    n = x.shape[0]
    if memo is not None and memo.n != n:
        raise ValueError(f"memo describes a sample of {memo.n} values; x has {n}: pass the memo of the fit of x")
    L = np.log(x)
    first = first_index(x)
    cand = candidates(x, first, MIN_CI_TAIL)
    if cand.size == 0:
        return lo, hi
    a, cn = _continuous_alphas(L, cand, n, None)
    ok = np.isfinite(a) & (a > 0)
    cand, a, cn = cand[ok], a[ok], cn[ok]
    root_m = np.sqrt((n - cand).astype(np.float64))
    thr = d_min + KS_SE / math.sqrt(n_tail) + 1e-12
    ends_hi, ends_lo = a * (1.0 + z / root_m), a * (1.0 - z / root_m)
    if memo is not None:
        # candidates known to qualify move the ends; those known not to are dropped; the rest is scanned
        lower, exact = memo.lookup(n - cand)
        hi = _known_extreme(ends_hi, hi, 1.0, exact <= thr)
        lo = _known_extreme(ends_lo, lo, -1.0, exact <= thr)
        open_ = np.isnan(exact) & ~(lower > thr)
        ends_hi, ends_lo = np.where(open_, ends_hi, np.nan), np.where(open_, ends_lo, np.nan)

    def lower_bound(idx: np.ndarray, k: int) -> np.ndarray:
        return ks_scan_numpy(L, first, cand[idx], a[idx], cn[idx], k)[0]

    def exact_d(idx: np.ndarray) -> np.ndarray:
        return ks_scan_numpy(L, first, cand[idx], a[idx], cn[idx], 0)[0]

    hi = _extreme(ends_hi, hi, 1.0, lower_bound, exact_d, thr)
    lo = _extreme(ends_lo, lo, -1.0, lower_bound, exact_d, thr)
    return lo, hi
