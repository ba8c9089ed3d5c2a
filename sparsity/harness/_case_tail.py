"""The tail fit of one suite row, and for real weights in the entries basis the engine of ``analyze``.

:func:`case_tail` picks the fit of a row: the WeightWatcher-compatible ESD fit for ``spectrum``/``csn``, the entry
engine of ``analyze`` for real weights in ``entries``/``csn``, :func:`sparsity.fit_tail` otherwise.

``sparsity-bench analyze`` (:func:`sparsity.analyze_matrix`) fits the tail of a tensor's entry magnitudes with
:func:`sparsity.layers._entry.entry_columns` (CSN with ``xmin`` scanned over the ``entry_top`` largest
magnitudes, widened once). A suite row of real weights in the ``entries`` basis with the estimator
:data:`ENTRY_ENGINE_METHOD` (and no estimator options) calls the same two functions with the same default
``entry_top``, so which method and window decide the entry tail index is settled in one place (the layers
package); other estimators stay selectable in the suite file and go through :func:`sparsity.fit_tail`, seeded
from the data. Nothing here depends on the suite seed: :func:`data_entropy` hashes the tensor itself.
"""

from __future__ import annotations

import hashlib
import inspect
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import special

from sparsity._array_api import array_namespace, to_numpy
from sparsity.layers import analyze_matrix
from sparsity.layers._entry import entry_columns, entry_magnitudes
from sparsity.layers._esd_fit import esd_fit_body
from sparsity.tails._fit import fit_tail

__all__ = ["ENTRY_CI_LEVEL", "ENTRY_ENGINE_METHOD", "ENTRY_TOP", "case_tail", "data_entropy", "engine_entry_tail"]

ENTRY_ENGINE_METHOD = "csn"
"""The estimator name under which suite rows of real weights use the entry engine of ``analyze``."""
ENTRY_TOP: int | None = inspect.signature(analyze_matrix).parameters["entry_top"].default
"""``analyze_matrix``'s default ``entry_top`` (read from its signature: one source of truth)."""
ENTRY_CI_LEVEL = 0.95
"""Level of the entry alpha's confidence interval (normal, ``alpha +- z alpha / sqrt(n_tail)``, as ``fit_tail``)."""


def data_entropy(arr: Any) -> int:
    """A 64-bit hash of a tensor's values, shape and dtype (BLAKE2b): the root of its seeds in a suite.

    Examples
    --------
    >>> a = np.arange(6.0).reshape(2, 3)
    >>> data_entropy(a) == data_entropy(a.copy()) != data_entropy(a.T)
    True
    """
    a = np.ascontiguousarray(to_numpy(arr))
    h = hashlib.blake2b(digest_size=8, person=b"sparsity-suite")
    h.update(f"{a.dtype.str}{a.shape}".encode())
    h.update(a.data)
    return int.from_bytes(h.digest(), "little")


def engine_entry_tail(arr: Any) -> dict[str, Any]:
    """The entry tail of ``arr`` by the engine of :func:`sparsity.analyze_matrix` (its default ``entry_top``).

    Returns
    -------
    tail : dict
        ``alpha``, ``lo``, ``hi`` (95 % normal CI of the continuous MLE, standard error ``alpha / sqrt(n_tail)``),
        ``xmin``, ``n_tail``, ``ks``, ``se``.

    Raises
    ------
    ValueError
        When the engine could not fit (the message carries its reasons).
    """
    size = math.prod(int(d) for d in arr.shape)
    cols, reasons = entry_columns(entry_magnitudes(arr, ENTRY_TOP, xp=array_namespace(arr)), size)
    alpha = float(cols.entry_alpha)
    if not math.isfinite(alpha) or cols.entry_n_tail is None:
        raise ValueError("; ".join(reasons) or "entry tail fit failed")
    n_tail = int(cols.entry_n_tail)
    se = alpha / math.sqrt(n_tail)
    z = float(special.ndtri(0.5 + ENTRY_CI_LEVEL / 2.0))
    return {
        "alpha": alpha,
        "lo": alpha - z * se,
        "hi": alpha + z * se,
        "xmin": float(cols.entry_xmin),
        "n_tail": n_tail,
        "ks": float(cols.entry_D),
        "se": se,
    }


def case_tail(
    values: Any,
    basis: str,
    estimator: str,
    options: dict[str, Any],
    rng: Any,
    big: int,
    fit: Callable[..., Any] = fit_tail,
) -> dict[str, Any]:
    """Survival tail index of the basis values with its CI, xmin, tail size and KS distance.

    Spectrum rows with the ``csn`` estimator use the WeightWatcher-compatible ESD fit of
    :func:`sparsity.fit_esd` on the eigenvalues ``s**2`` (so ``alpha_ww`` here equals the one of
    :func:`sparsity.analyze_matrix`); the singular values' tail index is ``2 (alpha_ww - 1)``, and the MLE and
    the KS distance are invariant under ``s -> s**2``, so ``xmin`` is reported in singular-value units.
    Real weights are marked by ``rng="data"`` (their fits are seeded from the data, not from the suite seed);
    for them, basis ``entries`` with estimator ``csn`` uses the entry engine of ``analyze_matrix``. ``fit`` is
    :func:`sparsity.fit_tail` (the caller may pass its own reference to it).
    """
    if basis == "spectrum" and estimator == "csn" and not options:
        lam = to_numpy(values).astype(np.float64) ** 2
        esd = esd_fit_body(lam, big)
        ci = esd.tail.alpha_ci
        return {
            "alpha": esd.sv_tail_index,
            "lo": 2.0 * ci[0],
            "hi": 2.0 * ci[1],
            "xmin": math.sqrt(esd.xmin),
            "n_tail": esd.num_pl_spikes,
            "ks": esd.D,
            "se": math.nan,
        }
    real = isinstance(rng, str) and rng == "data"
    if real and basis == "entries" and estimator == ENTRY_ENGINE_METHOD and not options:
        return engine_entry_tail(values)

    tf = fit(values, method=estimator, **{"rng": rng, **options})
    lo, hi = (float(v) for v in tf.alpha_ci) if tf.alpha_ci is not None else (math.nan, math.nan)
    return {
        "alpha": float(tf.alpha),
        "lo": lo,
        "hi": hi,
        "xmin": _nan_if_none(tf.xmin),
        "n_tail": int(tf.n_tail),
        "ks": _nan_if_none(tf.ks_distance),
        "se": _nan_if_none(tf.alpha_se),
    }


def _nan_if_none(v: Any) -> float:
    return math.nan if v is None else float(v)
