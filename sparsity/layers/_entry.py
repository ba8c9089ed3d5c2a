"""Entry columns of the layer metrics: tail index and best-k decay of a tensor's entry magnitudes (private).

:func:`entry_magnitudes` is the only part that touches the tensor (any backend, on its device): a partial sort
that keeps host copies of the largest magnitudes and a few sums; :func:`entry_columns` computes the typed
:class:`~sparsity.layers._rows.EntryColumns` from those alone (host NumPy). Column meanings:
:mod:`sparsity.layers._analyze`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sparsity.curves import decay_grid, default_decay_window, loglog_fit, power_sum, predicted_decay_exponent, split_top
from sparsity.layers._rows import ENTRY_KEYS, EntryColumns, is_compressible
from sparsity.linalg._svd import host_float64
from sparsity.tails._csn import CsnResult, csn_fit
from sparsity.tails._fit import fit_tail

__all__ = ["ENTRY_KEYS", "entry_columns", "entry_magnitudes"]


def _decay_fit(curve_at: Any, lo: int, hi: int) -> tuple[float, float]:
    """:func:`sparsity.decay_exponent`'s grid and fit, from ``curve_at(ks)`` (the errors at those k)."""
    ks = decay_grid(lo, hi)
    e = curve_at(ks)
    pos = np.flatnonzero(e <= 0)
    if pos.size:
        ks, e = ks[: pos[0]], e[: pos[0]]
    if ks.size < 3:
        raise ValueError("too sparse for a decay fit: fewer than 3 nonzero best-k errors in the window")
    fit = loglog_fit(ks, e)
    return fit.exponent, fit.r2


def _top_magnitudes(W: Any, K: int, *, xp: Any) -> tuple[np.ndarray, float, int]:
    """The ``K`` largest ``|W_ij|`` (host float64, descending), the sum of squares of the others, and n.

    Squares are summed in float64 after dividing by the largest magnitude (no overflow, no cancellation:
    the rest is summed directly, not as total minus top).
    """
    if isinstance(W, np.ndarray):
        a = np.abs(W).ravel(order="K")  # our own copy (a view of it for any memory order)
        rest, top = split_top(a, K)
        top = top[::-1].astype(np.float64)
        scale = float(top[0]) if top[0] > 0 else 1.0
        return top, power_sum(rest, 2.0, 1.0 / scale) * scale * scale, a.size
    a = xp.sort(xp.reshape(xp.abs(W), (-1,)))
    n = int(a.shape[0])
    top = host_float64(a[n - K :])[::-1].copy()
    scale = float(top[0]) if top[0] > 0 else 1.0
    r = xp.astype(a[: n - K], xp.float64) / scale
    return top, float(xp.sum(r * r)) * scale * scale, n


_PARTITION_FACTOR = 4
"""The partial sort keeps ``4 * entry_top`` magnitudes: room for one 4x widening of the xmin window."""


def _entry_tail_fit(top: np.ndarray, K: int) -> tuple[Any, int]:
    """CSN fit of the entry magnitudes with ``xmin`` scanned over the ``K`` largest, widened once if needed.

    The window widens to ``top.size`` if the chosen tail holds more than half of it. Returns the fit
    (``alpha``, ``xmin``, ``n_tail``, ``ks_distance``) and the final window.

    The widened fit is :func:`sparsity.fit_tail` on the wider window; it reuses the first fit (whose
    candidates keep their tails, alphas and KS distances) and scans only the new candidates.
    """
    window = top[:K]
    tf = fit_tail(window[window > 0])
    if tf.n_tail <= K // 2 or K >= top.size:
        return tf, K
    first = CsnResult(tf.alpha, tf.xmin, tf.n_tail, tf.ks_distance, 0, 0)
    wide = np.ascontiguousarray(top[top > 0][::-1])  # ascending, float64, positive: what fit_tail would scan
    return csn_fit(wide, known=(tf.n, first)), top.size


def entry_magnitudes(W: Any, entry_top: int | None, *, xp: Any) -> tuple[Any, ...] | None:
    """The part of the entry columns that needs ``W``.

    Its largest magnitudes (a partial sort) and the sums that :func:`entry_columns` needs; None for fewer
    than 4 entries.
    """
    n = math.prod(int(d) for d in W.shape)
    if n < 4:
        return None
    lo, hi = default_decay_window(n)
    K = n if entry_top is None else min(n, max(entry_top, hi + 1))
    top, rest_ss, n = _top_magnitudes(W, min(n, _PARTITION_FACTOR * K), xp=xp)
    return top, rest_ss, n, K, lo, hi


def entry_columns(mags: tuple[Any, ...] | None, size: int) -> tuple[EntryColumns, list[str]]:
    """Entry columns from :func:`entry_magnitudes` (host NumPy only), and the reasons for missing ones."""
    row: dict[str, Any] = {}
    reasons: list[str] = []
    if mags is None:
        return EntryColumns(), [f"{size} entries: too few for entry metrics"]
    top, rest_ss, n, K, lo, hi = mags
    scale = float(top[0]) if top[0] > 0 else 1.0
    t2 = (top / scale) ** 2
    suffix = np.concatenate((np.cumsum(t2[::-1])[::-1], [0.0]))  # suffix[k] = sum_{j >= k} top_j^2

    def curve_at(ks: np.ndarray) -> np.ndarray:
        return np.sqrt(rest_ss / scale**2 + suffix[ks]) * scale

    try:
        exponent, r2 = _decay_fit(curve_at, lo, hi)
    except ValueError as exc:
        reasons.append(f"entry decay fit failed: {exc}")
    else:
        row.update(entry_measured_decay=exponent, entry_decay_r2=r2)
    try:
        tf, window = _entry_tail_fit(top, K)
    except ValueError as exc:
        reasons.append(f"entry tail fit failed: {exc}")
    else:
        if window < n and tf.n_tail > window // 2:
            reasons.append(
                f"entry tail: the fitted tail ({tf.n_tail}) fills the scanned xmin window ({window} largest of {n}); "
                "a larger entry_top may choose a lower xmin"
            )
        row.update(
            entry_alpha=tf.alpha,
            entry_xmin=tf.xmin,
            entry_n_tail=tf.n_tail,
            entry_D=tf.ks_distance,
            entry_predicted_decay=predicted_decay_exponent(tf.alpha, 2.0),
            entry_compressible=is_compressible(tf.alpha),
        )
    return EntryColumns(**row), reasons
