"""Power-law fit of the ESD tail through :func:`sparsity.fit_tail` (private body of :func:`sparsity.fit_esd`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from sparsity.tails._fit import fit_tail

__all__ = ["EsdFit", "esd_fit_body", "numerical_zero_tolerance"]

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
