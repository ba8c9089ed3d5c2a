"""The one result type of the tail-estimator bodies (CSN, Hill, moments, Pickands, kernel, rank-size, stable)."""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = ["TailEstimate"]


class TailEstimate(NamedTuple):
    """What a method body of :func:`sparsity.fit_tail` returns; ``fit_tail`` adds the interval and the counts.

    Attributes
    ----------
    alpha : float
        Survival tail index, P(X > t) ~ t**(-alpha) (NaN where the estimator finds no heavy tail).
    xmin : float
        Start of the fitted tail (NaN for ``"stable"``, which uses the whole sample).
    n_tail : int
        Number of magnitudes in the fitted tail.
    ks_distance : float
        KS distance between the tail and the fitted power law (NaN where it does not apply).
    alpha_se : float
        Asymptotic standard error of ``alpha`` (NaN where undefined).
    details : dict
        Method-specific extras, copied into :attr:`sparsity.TailFit.details` (e.g. ``n_candidates`` for CSN,
        ``k``, ``k_rule`` and ``gamma`` for the order-statistic estimators, ``nu`` for ``"stable"``).
    """

    alpha: float
    xmin: float
    n_tail: int
    ks_distance: float
    alpha_se: float
    details: dict[str, Any]
