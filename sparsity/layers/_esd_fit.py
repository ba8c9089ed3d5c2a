"""Power-law fit of the ESD tail through :func:`sparsity.fit_tail` (private body of :func:`sparsity.fit_esd`).

Also its interval with the ``xmin`` uncertainty (:func:`esd_interval`) and the refit of the float16- or
bfloat16-rounded matrices (:func:`esd_refit`), as described in :mod:`sparsity.layers._stability`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from sparsity._array_api import to_numpy
from sparsity.layers._stability import CI_LEVEL, round_bfloat16, round_half, xmin_interval
from sparsity.linalg._svd import eigenvalues_gram, host_float64
from sparsity.tails._fit import fit_tail

__all__ = ["EsdFit", "esd_fit_body", "esd_interval", "esd_refits", "numerical_zero_tolerance"]

_EPS64 = float(np.finfo(np.float64).eps)
_FLAT_RTOL = 1e-8
"""An ESD whose nonzero eigenvalues agree to this relative spread is flat: rounding, not a tail."""


@dataclass(frozen=True)
class EsdFit:
    """Power-law fit of the ESD tail (:func:`sparsity.fit_esd`), WeightWatcher's names where they coincide.

    Attributes
    ----------
    alpha_ww : float
        Density exponent of the eigenvalue tail, :math:`\\rho(\\lambda) \\sim \\lambda^{-\\alpha_{ww}}`.
    sv_tail_index : float
        ``2 (alpha_ww - 1)``, survival tail index of the singular values.
    xmin, xmax : float
        Start of the fitted tail and the largest eigenvalue.
    D : float
        KS distance of the fit.
    num_pl_spikes : int
        Eigenvalues ``>= xmin`` (the tail size).
    sigma : float
        Standard error of ``alpha_ww``, ``(alpha_ww - 1) / sqrt(num_pl_spikes)`` (WeightWatcher's ``sigma``).
    num_evals : int
        Eigenvalues fitted (numerically zero ones excluded).
    tail : TailFit
        The underlying :func:`sparsity.fit_tail` result (survival ``alpha = alpha_ww - 1``).
    """

    alpha_ww: float
    sv_tail_index: float
    xmin: float
    xmax: float
    D: float
    num_pl_spikes: int
    sigma: float
    num_evals: int
    tail: Any


def numerical_zero_tolerance(lam_max: float, big: int) -> float:
    """Eigenvalues at or below ``lambda_max * N * u_64`` are numerically zero (rank-deficient directions)."""
    return lam_max * big * _EPS64


def esd_fit_body(lam: np.ndarray, big: int, *, xmin: float | None = None) -> EsdFit:
    """Fit host float64 eigenvalues ``lam`` (any order) of matrices whose larger side is ``big``."""
    lam_max = float(np.max(lam))
    x = lam[lam > numerical_zero_tolerance(lam_max, big)]
    if x.size and float(np.min(x)) >= lam_max * (1.0 - _FLAT_RTOL):
        raise ValueError(
            f"the {x.size} nonzero eigenvalues are equal to within {_FLAT_RTOL:g} (relative): a flat ESD "
            "(e.g. an orthogonal matrix) has no power-law tail"
        )
    tf = fit_tail(x, "csn", xmin=xmin)
    alpha_ww = tf.alpha_density
    n_tail = int(tf.n_tail)
    return EsdFit(
        alpha_ww=alpha_ww,
        sv_tail_index=2.0 * tf.alpha,
        xmin=float(tf.xmin),
        xmax=lam_max,
        D=float(tf.ks_distance),
        num_pl_spikes=n_tail,
        sigma=(alpha_ww - 1.0) / math.sqrt(n_tail),
        num_evals=int(x.size),
        tail=tf,
    )


def esd_interval(lam: np.ndarray, big: int, fit: EsdFit, level: float = CI_LEVEL) -> tuple[float, float]:
    """Interval of ``alpha_ww`` at ``level``, the uncertainty of ``xmin`` included (:func:`xmin_interval`)."""
    x = np.sort(lam[lam > numerical_zero_tolerance(float(np.max(lam)), big)])
    lo, hi = xmin_interval(x, fit.tail.alpha, fit.num_pl_spikes, fit.D, level)
    return 1.0 + lo, 1.0 + hi


def esd_refits(mats: Any, big: int, fit: EsdFit, precision: str = "auto") -> tuple[dict[str, float], list[str]]:
    """``alpha_ww`` of the matrices ``mats`` (one, or a stack of conv slices) rounded to float16 and bfloat16.

    Returns ``{"float16": a16, "bfloat16": abf}`` and the reasons for missing ones. Values already of a
    precision round to themselves: that refit is ``fit`` (no eigenvalues are computed). The two rounded
    copies that differ from ``mats`` go through one call of the Gram route (batched on threads). NaN with a
    reason when there is no refit (float16 overflow) or it fails. ``precision="mixed"`` (what
    :func:`sparsity.analyze_matrix` uses for ``spectra_precision="auto"``) forms the Gram matrices in float32,
    where products of float16/bfloat16 values are exact: on MiniLM the refits then differ from float64 ones
    by < 2e-5 in ``alpha_ww``, far inside any interval, at half the cost.
    """
    host = to_numpy(mats)
    host = host if host.dtype in (np.float32, np.float64) else host.astype(np.float64)
    out: dict[str, float] = {}
    reasons: list[str] = []
    todo: dict[str, np.ndarray] = {}
    for label, rounder in (("float16", round_half), ("bfloat16", round_bfloat16)):
        r = rounder(host)
        if r is None:
            out[label] = math.nan
            reasons.append(f"ESD: entries above the float16 range, no {label} refit")
        elif np.array_equal(r, host):
            out[label] = fit.alpha_ww
        else:
            todo[label] = r
    if todo:
        stack = np.stack(list(todo.values())) if host.ndim == 2 else np.concatenate(list(todo.values()))
        lam_all = host_float64(eigenvalues_gram(stack, xp=np, precision=precision))
        for label, lam in zip(todo, np.split(lam_all.reshape(len(todo), -1), len(todo)), strict=True):
            try:
                out[label] = esd_fit_body(np.sort(lam.ravel())[::-1], big).alpha_ww
            except ValueError as exc:
                out[label] = math.nan
                reasons.append(f"ESD: the {label} refit failed ({exc})")
    return out, reasons
