"""Calibrated agreement of a result row: its finite-n prediction, predictive interval and verdict.

A case *agrees* when its measured decay exponent lies in the central :data:`DECAY_LEVEL` (95 %) predictive
interval of the exponent that the same measurement gives on samples of the same size drawn from the fitted model,
alpha's uncertainty included. For a tail estimator (Hill, CSN, moments, ...) that model is the fitted tail
(:mod:`sparsity.harness._tail_bootstrap`: semi-parametric, a Pareto tail above ``xmin``); for the ``stable``
estimator it is the law that estimator fits, the symmetric alpha-stable law, simulated in full
(:func:`sparsity.expected.decay_prediction_interval`): near alpha = 2 the largest of n stable values are not yet
Pareto-like, so a Pareto tail with the stable index would predict a decay the stable sample does not have. The
interval is calibrated, not assumed: ``tests/test_coverage.py`` and ``bench/suites/coverage.toml`` measure its
coverage.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special

from sparsity.expected import decay_prediction_interval, finite_n_decay_exponent, model_sampler
from sparsity.harness._tail_bootstrap import BOOT_REPLICATES, DECAY_LEVEL, bootstrap_decay, tail_model

__all__ = ["DECAY_LEVEL", "agreement_columns"]

_GAMMA = ("csn", "hill")
"""Estimators whose alpha is an MLE on n_tail values (sampling law ``alpha Gamma(n_tail) / n_tail``)."""
_COLUMNS = ("predicted_decay_finite_n", "decay_pi_low", "decay_pi_high", "decay_pi_level")
_STABLE_VALUES = 40_000_000
"""Values the ``stable`` estimator's full simulation may draw per interval: ``BOOT_REPLICATES`` replicates up to
n = 10^5, fewer (at least ``_STABLE_MIN_REPLICATES``) above (about 6 s at n = 10^6 on one core)."""
_STABLE_MIN_REPLICATES = 100


def _stable_interval(n: int, alpha: float, se: float, lo: int, hi: int, seed: Any) -> tuple[float, float, float]:
    """Mean and central :data:`DECAY_LEVEL` interval of the decay exponent of n symmetric alpha-stable values.

    Each replicate draws its alpha from ``N(alpha, se^2)`` truncated to (0, 2] (the estimator's sampling law);
    the exponent is scale invariant, so the fitted scale is not needed.
    """
    reps = max(_STABLE_MIN_REPLICATES, min(BOOT_REPLICATES, _STABLE_VALUES // n))
    sampler = model_sampler("stable", alpha, alpha_se=se if _finite(se) and se > 0 else None)
    iv = decay_prediction_interval(sampler, n, level=DECAY_LEVEL, replicates=reps, rng=seed, k_min=lo, k_max=hi)
    return iv.mean, iv.lo, iv.hi


def _finite(*values: Any) -> bool:
    return all(v is not None and math.isfinite(float(v)) for v in values)


def agreement_columns(
    magnitudes: Any, tail: dict[str, Any], measured: dict[str, Any], estimator: str, family: str, seed: Any
) -> dict[str, Any]:
    """The finite-n prediction, the predictive interval and the verdict of one result row.

    Parameters
    ----------
    magnitudes : ndarray
        The basis values (entries or singular values; any shape, magnitudes are taken).
    tail : dict
        The fit: ``alpha``, ``lo``, ``hi`` (its CI), ``xmin``, ``n_tail``, ``se`` (NaN when unknown).
    measured : dict
        ``measured_decay``, ``decay_k_min``, ``decay_k_max`` of the row.
    estimator : str
        The tail method; ``csn`` and ``hill`` draw alpha from ``alpha Gamma(n_tail) / n_tail``, the others from
        a normal law with their standard error (from the CI when ``se`` is NaN). ``stable`` (alpha <= 2)
        simulates the symmetric alpha-stable law instead of the fitted tail.
    family : str
        ``"pareto"`` for the synthetic Pareto law: the finite-n prediction is then the exact expected curve's fit
        (:func:`sparsity.expected.finite_n_decay_exponent` at ``alpha_hat``); otherwise the bootstrap mean.
    seed : numpy.random.SeedSequence or int
        Root of the bootstrap.

    Returns
    -------
    columns : dict
        ``predicted_decay_finite_n``, ``decay_pi_low``, ``decay_pi_high``, ``decay_pi_level`` (NaN without an
        interval), ``agrees`` (``decay_pi_low <= measured_decay <= decay_pi_high``; None without an interval).
    """
    out: dict[str, Any] = dict.fromkeys(_COLUMNS, math.nan)
    out["agrees"] = None
    s, lo, hi, alpha = (
        measured["measured_decay"],
        measured["decay_k_min"],
        measured["decay_k_max"],
        tail["alpha"],
    )
    if not _finite(s, lo, hi, alpha) or alpha <= 0:
        return out
    lo, hi = int(lo), int(hi)
    se = tail.get("se", math.nan)
    if not _finite(se) and _finite(tail["lo"], tail["hi"]):
        se = (tail["hi"] - tail["lo"]) / (2.0 * float(special.ndtri(0.5 + DECAY_LEVEL / 2.0)))
    n = int(np.size(magnitudes))
    if estimator == "stable" and alpha <= 2.0:
        finite_n, pi_lo, pi_hi = _stable_interval(n, float(alpha), float(se), lo, hi, seed)
    else:
        model = tail_model(
            magnitudes, alpha, tail["xmin"], tail["n_tail"], k_max=hi, alpha_se=se, gamma_draw=estimator in _GAMMA
        )
        boot = bootstrap_decay(model, lo, hi, seed=seed)
        finite_n, pi_lo, pi_hi = boot.mean, boot.lo, boot.hi
    if family == "pareto":
        try:
            finite_n = finite_n_decay_exponent(n, alpha, k_min=lo, k_max=hi).exponent
        except ValueError:  # the expected error is infinite over the window: keep the simulated mean
            pass
    out.update(predicted_decay_finite_n=finite_n, decay_pi_low=pi_lo, decay_pi_high=pi_hi)
    if _finite(pi_lo, pi_hi):
        out["decay_pi_level"] = DECAY_LEVEL
        out["agrees"] = bool(pi_lo <= s <= pi_hi)
    return out
