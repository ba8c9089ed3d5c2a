"""One row per layer and snapshot of the training study (private).

The row holds analyze_matrix's columns, the finite-n agreement of the measured decays, and the Marchenko-Pastur
verdict.

Agreement columns (:func:`layer_row`): the measured decay exponent of the singular values (rank-k Frobenius error,
``measured_rank_decay``) and of the entry magnitudes (best-k error, ``entry_measured_decay``) are compared with the
central ``level`` prediction interval of :func:`sparsity.expected.decay_prediction_interval` under the
semi-parametric model of the fitted tail (:func:`sparsity.expected.model_sampler`: the empirical body below
``xmin``, a Pareto tail above it whose index is drawn per replicate from its sampling distribution on ``n_tail``
values). ``*_agrees`` is True when the measured exponent lies in ``[*_lo, *_hi]``; NaN where the fit it needs is
missing. This is the finite-n prediction: the asymptotic ``predicted_*`` columns ignore the finite window.

``mp_like`` is True when the layer shows no sign of anything but a random matrix: no eigenvalue above the
Tracy-Widom 99% threshold of the fitted MP bulk (``num_spikes == 0``) and either ``alpha_ww > 4`` or no power
law beyond the bulk (no fit, or a fitted tail that starts inside the MP bulk, ``xmin < bulk_max``: the
Clauset-Shalizi-Newman fit then describes the bulk's soft upper edge, which for an iid matrix with a few hundred
eigenvalues gives ``alpha_ww`` between about 3 and 30).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sparsity.expected import decay_prediction_interval, model_sampler
from sparsity.layers import analyze_matrix
from sparsity.linalg import singular_values

__all__ = ["INTERVAL_KEYS", "layer_row", "mp_like"]

INTERVAL_KEYS = (
    "rank_decay_lo", "rank_decay_hi", "rank_decay_agrees", "entry_decay_lo", "entry_decay_hi", "entry_decay_agrees",
)  # fmt: skip
_MP_ALPHA = 4.0
"""alpha_ww above this is read as "no heavy tail" (WeightWatcher's boundary of the heavy-tailed phases)."""


def _finite(*values: Any) -> bool:
    return all(isinstance(v, (int, float, np.floating, np.integer)) and math.isfinite(float(v)) for v in values)


def mp_like(row: dict[str, Any]) -> bool:
    """The layer looks like a random (Marchenko-Pastur) matrix: see the module docstring."""
    if not _finite(row.get("num_spikes")) or int(row["num_spikes"]) > 0:
        return False
    a, xmin, edge = row.get("alpha_ww", math.nan), row.get("xmin", math.nan), row.get("bulk_max", math.nan)
    if not _finite(a):
        return True  # no power-law fit at all
    return float(a) > _MP_ALPHA or (_finite(xmin, edge) and float(xmin) < float(edge))


def _interval(
    data: np.ndarray, alpha: Any, xmin: Any, n_tail: Any, measured: Any, *, level: float, replicates: int, seed: Any
) -> tuple[float, float, Any]:
    """(lo, hi, agrees) of the measured decay against the semi-parametric model of the fitted tail."""
    if not _finite(alpha, xmin, n_tail, measured) or float(alpha) <= 0 or float(xmin) <= 0 or data.size < 4:
        return math.nan, math.nan, math.nan
    sampler = model_sampler("semiparametric", float(alpha), xmin=float(xmin), data=data, n_tail=int(n_tail))
    try:
        iv = decay_prediction_interval(sampler, data.size, level=level, replicates=replicates, rng=seed)
    except ValueError:
        return math.nan, math.nan, math.nan
    return iv.lo, iv.hi, bool(iv.lo <= float(measured) <= iv.hi)


def layer_row(W: np.ndarray, *, level: float, replicates: int, seed: np.random.SeedSequence) -> dict[str, Any]:
    """analyze_matrix's columns for one weight matrix, plus :data:`INTERVAL_KEYS` and ``mp_like``.

    Parameters
    ----------
    W : ndarray of shape (out, in)
    level : float
        Coverage of the prediction intervals.
    replicates : int
        Simulated replicates per interval (0: no intervals, the columns are NaN).
    seed : numpy.random.SeedSequence
        Root of this layer's interval simulations (two children: spectrum, entries).
    """
    row = dict(analyze_matrix(W))
    row.update(dict.fromkeys(INTERVAL_KEYS, math.nan))
    if replicates > 0:
        spec_seed, entry_seed = seed.spawn(2)
        s = np.asarray(singular_values(np.asarray(W, dtype=np.float64)), dtype=np.float64)
        s_xmin = math.sqrt(row["xmin"]) if _finite(row.get("xmin")) and row["xmin"] > 0 else math.nan
        row["rank_decay_lo"], row["rank_decay_hi"], row["rank_decay_agrees"] = _interval(
            s, row.get("sv_tail_index"), s_xmin, row.get("num_pl_spikes"), row.get("measured_rank_decay"),
            level=level, replicates=replicates, seed=spec_seed,
        )  # fmt: skip
        row["entry_decay_lo"], row["entry_decay_hi"], row["entry_decay_agrees"] = _interval(
            np.abs(W).ravel(), row.get("entry_alpha"), row.get("entry_xmin"), row.get("entry_n_tail"),
            row.get("entry_measured_decay"), level=level, replicates=replicates, seed=entry_seed,
        )  # fmt: skip
    row["mp_like"] = mp_like(row)
    return row
