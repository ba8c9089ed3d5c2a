"""Entry columns of the layer metrics: tail index and best-k decay of a tensor's entry magnitudes (private).

:func:`entry_magnitudes` is the only part that touches the tensor (any backend, on its device): a partial sort
that keeps host copies of the largest magnitudes and a few sums; :func:`entry_columns` computes the typed
:class:`~sparsity.layers._rows.EntryColumns` from those alone (host NumPy). Column meanings:
:mod:`sparsity.layers._analyze`.

The default entry-tail method (``entry_method="csn"``, ``entry_top=20_000``) is exact CSN on the 20,000
largest magnitudes (widened once to 80,000 when the tail fills half the window): deterministic, no seed, and
the one method of both ``sparsity-bench analyze`` and suite rows on real weights
(:mod:`sparsity.harness._case_tail`); ``bench/entry_tail_study.py`` compares it with the others. Its
interval includes the ``xmin`` uncertainty (the scan's memo decides most of its candidates) and the
float16/bfloat16 refits (``stability=True``) reuse the float32 window (:mod:`sparsity.layers._stability`).

Coarse grids. When the window's magnitudes lie on a coarse floating-point grid (bf16, float16 or fp8 storage,
3 to 11 significand bits; :mod:`sparsity.tails._grid`), every method fits the dequantised window instead: each
tie group spread evenly over its rounding cell, deterministically. Ties bias every estimator that takes logs of
order statistics (a value rounded up to ``xmin`` adds ``log(x / xmin) = 0``: CSN's MLE moves up by about
``alpha**2 eps / 2``, eps the relative grid step, and Hill, moments, Pickands and the kernel estimator see the
same zero spacings), so all methods get the same continuous window. ``entry_xmin`` is then a dequantised value:
it lies in the rounding cell of a stored magnitude, within half a grid step of it, and the tail is the
dequantised values at or above it. The float16/bfloat16 refits take the same path (rounded, detected as gridded,
dequantised), so ``entry_alpha_unstable`` measures the estimator's sensitivity to rounding, not the ties that
rounding creates. A float32 or float64 window is never gridded (the chance that a float32 sample of 10 values
is, is ``2**-130``) and is fitted exactly as it is.
"""

from __future__ import annotations

import math
from typing import Any, Literal, NamedTuple, cast

import numpy as np

from sparsity.curves import decay_grid, default_decay_window, loglog_fit, power_sum, predicted_decay_exponent, split_top
from sparsity.layers._rows import ENTRY_KEYS, EntryColumns, is_compressible
from sparsity.layers._stability import CI_LEVEL, outside, round_bfloat16, round_half, xmin_interval
from sparsity.linalg._svd import host_float64
from sparsity.tails._csn import csn_fit
from sparsity.tails._fit import MIN_NONZERO, fit_tail
from sparsity.tails._grid import continuous_sample

__all__ = ["ENTRY_KEYS", "ENTRY_METHODS", "EntryMethod", "entry_columns", "entry_magnitudes"]


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

EntryMethod = Literal["csn", "hill", "moments", "pickands", "kernel", "ranksize"]
ENTRY_METHODS: tuple[EntryMethod, ...] = ("csn", "hill", "moments", "pickands", "kernel", "ranksize")
"""Entry-tail estimators of :func:`sparsity.analyze_matrix` (``entry_method``): the :func:`sparsity.fit_tail`
methods that fit the largest magnitudes (``"stable"`` needs the whole sample and is not offered)."""


def _ascending(top: np.ndarray) -> np.ndarray:
    """The positive values of a descending window, ascending and contiguous: what the CSN scan takes."""
    return np.ascontiguousarray(top[top > 0][::-1])


def _entry_tail_fit(top: np.ndarray, K: int) -> tuple[Any, int]:
    """CSN fit of the entry magnitudes with ``xmin`` scanned over the ``K`` largest, widened once if needed.

    ``top``: host float64 magnitudes, descending. The window widens to ``top.size`` if the chosen tail holds
    more than half of it. Returns the fit (``alpha``, ``xmin``, ``n_tail``, ``ks_distance``; equal to
    :func:`sparsity.fit_tail` on the window, which is already sorted, so it is not sorted again) and the final
    window. The widened fit reuses the first (whose candidates keep their tails, alphas and KS distances) and
    scans only the new candidates.
    """
    window = _ascending(top[:K])
    if window.size < MIN_NONZERO:
        raise ValueError(f"at least {MIN_NONZERO} nonzero magnitudes are needed; got {window.size}")
    if window[-1] == window[0] or np.unique(window).size < 3:
        raise ValueError(f"x needs at least 3 distinct magnitudes to choose xmin; got {np.unique(window).size}")
    first = csn_fit(window)
    if first.n_tail <= K // 2 or K >= top.size:
        return first, K
    return csn_fit(_ascending(top), known=(window.size, first)), top.size


class _Fit(NamedTuple):
    alpha: float
    xmin: float
    n_tail: int
    ks_distance: float
    window: int
    ci: tuple[float, float]


def _continuous_window(top: np.ndarray, K: int, n: int) -> tuple[np.ndarray, int]:
    """The descending magnitudes ``top`` (the largest of ``n``) and ``K`` as a continuous sample.

    ``top`` itself when it is not on a coarse grid (bitwise the same fit); else its positive values dequantised
    (:func:`sparsity.tails._grid.continuous_sample`, descending), the lowest tie group dropped when it may be
    cut (``top`` is not all of the ``n`` magnitudes and holds no zero), and ``K`` capped at what is left.
    The whole ``top`` is dequantised before any window is cut from it, so a tie group that straddles
    ``K`` keeps its members' places in the cell, and the ``K``-window is the top of the widened one.
    """
    pos = top[top > 0]
    if pos.size == 0:
        return top, K
    x, grid = continuous_sample(np.ascontiguousarray(pos[::-1]), lowest_complete=top.size == n or pos.size < top.size)
    if grid is None:
        return top, K
    return x[::-1], min(K, x.size)


def _fit(top: np.ndarray, K: int, method: str, *, n: int, interval: bool) -> _Fit:
    """The entry tail fit of a descending window by ``method`` (and its interval when asked).

    ``top``: the largest of ``n`` magnitudes; fitted as a continuous sample (:func:`_continuous_window`).
    """
    top, K = _continuous_window(top, K, n)
    if method == "csn":
        r, window = _entry_tail_fit(top, K)
        ci = (math.nan, math.nan)
        if interval:
            # the scan's memo decides most candidates of the interval without another scan (the same interval)
            ci = xmin_interval(_ascending(top[:window]), r.alpha, r.n_tail, r.ks_distance, CI_LEVEL, memo=r.memo)
        return _Fit(r.alpha, r.xmin, r.n_tail, r.ks_distance, window, ci)
    # bootstraps seeded from the data: no seed to pass, the same answer every time
    tf = fit_tail(top[:K], cast("EntryMethod", method), rng="data", ci_level=CI_LEVEL)
    return _Fit(tf.alpha, tf.xmin, tf.n_tail, tf.ks_distance, K, tf.alpha_ci)


def _refit(top: np.ndarray, K: int, n: int, method: str, fit: _Fit, label: str) -> tuple[float, str]:
    """``alpha`` of the window rounded to ``label`` (float16, bfloat16), and a reason when there is none.

    The rounded window is on a coarse grid, so :func:`_fit` dequantises it like stored half-precision weights.
    """
    rounded = round_half(top) if label == "float16" else round_bfloat16(top)
    if rounded is None:
        return math.nan, f"entry tail: magnitudes above the float16 range, no {label} refit"
    if np.array_equal(rounded, top):
        return fit.alpha, ""  # the values are already of that precision: the refit is the fit
    try:
        return _fit(rounded, K, method, n=n, interval=False).alpha, ""
    except ValueError as exc:
        return math.nan, f"entry tail: the {label} refit failed ({exc})"


def _tail_columns(top: np.ndarray, n: int, K: int, method: str, stability: bool) -> tuple[dict[str, Any], list[str]]:
    """The ``entry_*`` tail columns of the descending window ``top`` of ``n`` magnitudes (ValueError: no fit)."""
    fit = _fit(top, K, method, n=n, interval=True)
    row: dict[str, Any] = {
        "entry_alpha": fit.alpha,
        "entry_xmin": fit.xmin,
        "entry_n_tail": fit.n_tail,
        "entry_D": fit.ks_distance,
        "entry_predicted_decay": predicted_decay_exponent(fit.alpha, 2.0),
        "entry_compressible": is_compressible(fit.alpha),
        "entry_alpha_ci_low": fit.ci[0],
        "entry_alpha_ci_high": fit.ci[1],
    }
    reasons: list[str] = []
    if method == "csn" and fit.window < n and fit.n_tail > fit.window // 2:
        reasons.append(
            f"entry tail: the fitted tail ({fit.n_tail}) fills the scanned xmin window ({fit.window} largest of "
            f"{n}); a larger entry_top may choose a lower xmin"
        )
    if stability:
        a16, why16 = _refit(top, K, n, method, fit, "float16")
        abf, whybf = _refit(top, K, n, method, fit, "bfloat16")
        reasons += [w for w in (why16, whybf) if w]
        checked = [a for a, why in ((a16, why16), (abf, whybf)) if not why.startswith("entry tail: magnitudes")]
        row.update(
            entry_alpha_fp16=a16,
            entry_alpha_bf16=abf,
            entry_alpha_unstable=any(outside(a, fit.ci) for a in checked),
        )
    return row, reasons


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


def entry_columns(
    mags: tuple[Any, ...] | None, size: int, *, method: str = "csn", stability: bool = False
) -> tuple[EntryColumns, list[str]]:
    """Entry columns from :func:`entry_magnitudes` (host NumPy only), and the reasons for missing ones.

    ``method``: one of :data:`ENTRY_METHODS` (validated by the caller). ``stability``: refit the float16- and
    bfloat16-rounded window (``entry_alpha_fp16``, ``entry_alpha_bf16``, ``entry_alpha_unstable``).
    """
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
        tail, tail_reasons = _tail_columns(top, n, K, method, stability)
    except ValueError as exc:
        reasons.append(f"entry tail fit failed: {exc}")
    else:
        row.update(tail)
        reasons += tail_reasons
    return EntryColumns(**row), reasons
