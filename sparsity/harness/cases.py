"""One benchmark case: generate or load the data, then measure tail index and best-k decay, as result rows.

A task (see :mod:`sparsity.harness.suite`) yields one array (a synthetic draw) or several (the weight tensors of a
file). For each array, each basis (``entries``: all magnitudes; ``spectrum``: singular values) and each tail
estimator, one row is produced. Columns (the ``results.csv`` contract):

============================  ==========================================================================
case_id                       ``task_id[/tensor]/basis/estimator``
group, source, family         suite group, ``synthetic|catalog|path``, generator family or model name
params                        generator parameters (JSON)
replicate                     replicate index of the draw (0..R-1; ``replicates = R`` in the group; 0 for real weights)
tensor                        tensor name for real weights (empty for synthetic)
shape, n                      array shape; number of values in the basis (entries or singular values)
basis, estimator              ``entries|spectrum``; the :func:`sparsity.fit_tail` method
true_alpha                    known survival tail index of the basis (inf = light tail, empty = unknown)
alpha_hat, alpha_ci_low/high  fitted survival tail index and its confidence interval (95 %)
alpha_ww                      spectrum rows: WeightWatcher's exponent ``1 + alpha_hat / 2``
xmin, n_tail, ks_distance     start of the fitted tail, its size, KS distance (CSN)
predicted_decay               ``max(0, 1/alpha_hat - 1/2)``
predicted_decay_true          the same from ``true_alpha``
predicted_decay_finite_n      finite-n prediction at this n and window: exact expected curve's fit for the Pareto
                              family, otherwise the mean of the bootstrap below (simulation from the fitted model)
measured_decay                fitted exponent s of sigma_k ~ k^-s (:func:`sparsity.decay_exponent`)
decay_k_min, decay_k_max      its fit window; decay_r2: its r^2
agrees                        ``decay_pi_low <= measured_decay <= decay_pi_high`` (missing without an interval)
decay_pi_low/high, _level     predictive interval of the measured decay at this n and window, from a seeded
                              bootstrap of the fitted tail (the ``stable`` estimator: of the stable law),
                              alpha's uncertainty included (:mod:`._agreement`);
                              its nominal coverage (0.95)
compressible                  ``alpha_hat < 2`` (the l2 threshold); missing when the fit gave no alpha (NaN)
effective_sparsity(_frac)     smallest k with relative l2 error <= 0.1 (and k / n)
t_generate_s, t_fit_s,        seconds spent generating/loading, fitting the tail, computing the curve, and
t_curve_s, t_interval_s       the agreement interval (the only columns that differ between identical runs)
device, seed                  ``cpu|gpu``; the task's SeedSequence entropy (synthetic data; real weights: their
                              fits and intervals are seeded from a hash of the tensor, not from it)
status, error                 ``ok``, ``skipped`` (too few values) or ``error``, and the reason
============================  ==========================================================================

Real weights, basis ``entries``, estimator ``csn`` (without options): the tail comes from the engine of
:func:`sparsity.analyze_matrix` (:mod:`._case_tail`), so ``run`` and ``analyze`` report the same entry alpha.

Every failing step becomes an error row. One rule (:func:`is_expected_error`, in ``_failures``) tells a data
error (the run succeeds) from a failure such as a bug (the row keeps its traceback; the run fails).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
import zlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from sparsity import synthetic
from sparsity._array_api import to_numpy
from sparsity.curves import best_k_error, decay_exponent, predicted_decay_exponent
from sparsity.harness._agreement import DECAY_LEVEL, agreement_columns
from sparsity.harness._case_tail import case_tail, data_entropy
from sparsity.harness._failures import EXPECTED_ERRORS, error_record, is_expected_error
from sparsity.harness.suite import GENERATORS, Task, params_json
from sparsity.layers._conv import ConvConvention
from sparsity.linalg._api import singular_values
from sparsity.tails._fit import fit_tail
from sparsity.weights import load_weights

__all__ = [
    "COLUMNS",
    "COMPRESSIBLE_BELOW",
    "CURVE_POINTS",
    "DECAY_LEVEL",
    "EFFECTIVE_EPS",
    "EXPECTED_ERRORS",
    "is_expected_error",
    "run_task",
]

EFFECTIVE_EPS = 0.1
"""Relative l2 error that defines the effective sparsity."""
CURVE_POINTS = 48
"""Log-spaced k at which each relative best-k curve is kept for the figures."""
MIN_FIT_VALUES = 10
"""Fewest values (entries or singular values) a basis needs for a tail fit; smaller ones are skipped."""
COMPRESSIBLE_BELOW = 2.0
"""A basis is called compressible when its fitted survival tail index is below this (the l2 threshold)."""

COLUMNS = [
    "case_id",
    "group",
    "source",
    "family",
    "params",
    "replicate",
    "tensor",
    "shape",
    "n",
    "basis",
    "estimator",
    "true_alpha",
    "alpha_hat",
    "alpha_ci_low",
    "alpha_ci_high",
    "alpha_ww",
    "xmin",
    "n_tail",
    "ks_distance",
    "predicted_decay",
    "predicted_decay_true",
    "predicted_decay_finite_n",
    "measured_decay",
    "decay_k_min",
    "decay_k_max",
    "decay_r2",
    "agrees",
    "decay_pi_low",
    "decay_pi_high",
    "decay_pi_level",
    "compressible",
    "effective_sparsity",
    "effective_sparsity_frac",
    "t_generate_s",
    "t_fit_s",
    "t_curve_s",
    "t_interval_s",
    "device",
    "seed",
    "status",
    "error",
]
TIMING_COLUMNS = ("t_generate_s", "t_fit_s", "t_curve_s", "t_interval_s")


def _xp_for(device: str) -> Any:
    if device == "gpu":
        import cupy

        return cupy
    return None


def _synthetic_array(task: Task, rng: np.random.Generator, xp: Any) -> Any:

    params = dict(task.params)
    name = task.generator
    assert name is not None and task.shape is not None  # synthetic tasks have both (checked by load_suite)
    if GENERATORS[name].kind == "vector":
        return getattr(synthetic, name)(**params, size=task.shape[0], rng=rng, xp=xp)
    n, m = task.shape
    if name == "power_law_spectrum":
        k = min(n, m)
        s = synthetic.power_law_spectrum(k, sv_tail_index=params["sv_tail_index"], scale=params.get("scale", 1.0))
        return synthetic.spectrum_matrix(s, n, m, rng=rng, xp=xp)
    return getattr(synthetic, name)(n=n, m=m, **params, rng=rng, xp=xp)


def _arrays(task: Task, rng: np.random.Generator, xp: Any) -> Iterator[tuple[str, Any, float]]:
    """Yield ``(tensor name, array, seconds to produce it)`` for the task.

    An unreadable tensor of a weight file is yielded with an error message (a ``str``) in place of the array.
    """
    if task.source == "synthetic":
        t0 = time.perf_counter()
        arr = _synthetic_array(task, rng, xp)
        yield "", arr, time.perf_counter() - t0
        return

    count = 0
    t0 = time.perf_counter()
    assert task.location is not None  # weight tasks always have a location (checked by load_suite)
    reader = load_weights(task.location, errors="skip")
    total = len(reader) if task.max_tensors is None else min(len(reader), task.max_tensors)
    for name, arr in reader:
        t_read = time.perf_counter() - t0
        yield name, _as_matrix(arr, xp), t_read
        count += 1
        _tensor_progress(task, count, total, name, arr.shape, time.perf_counter() - t0)
        if task.max_tensors is not None and count >= task.max_tensors:
            break
        t0 = time.perf_counter()
    for skipped in reader.skipped:
        yield skipped.name, f"unreadable tensor ({skipped.dtype}): {skipped.reason}", 0.0


TENSOR_PROGRESS_ENV = "SPARSITY_TENSOR_PROGRESS"
"""When this environment variable is ``1`` (the CLI sets it when progress is shown), a case on real weights
prints one plain line per tensor to stderr: task, index, name, shape and seconds (read + measure). Worker
processes inherit it, so the long step inside a case is visible whatever the executor."""


def _tensor_progress(task: Task, i: int, total: int, name: str, shape: tuple[int, ...], seconds: float) -> None:
    if os.environ.get(TENSOR_PROGRESS_ENV) == "1":
        print(
            f"  {task.task_id}: tensor {i}/{total} {name} {tuple(shape)} {seconds:.2f} s", file=sys.stderr, flush=True
        )


SUITE_CONV = ConvConvention("flatten")
"""The suite's conv-kernel convention: a kernel ``(out, in, *kernel)`` is the one ``(out, in * prod(kernel))``
matrix (im2col; also how :class:`sparsity.weights.TensorFilter` measures its sides). :func:`sparsity.analyze_matrix`
defaults to ``"slices"`` (WeightWatcher's); its ``alpha_ww`` agrees with the suite's (to the rounding of the two
eigenvalue routes) for a conv kernel only with ``conv=SUITE_CONV`` (or ``conv="flatten"``)."""


def _as_matrix(arr: Any, xp: Any) -> Any:
    """A weight tensor as the matrix the suite analyses: 2-D as stored, conv kernels by :data:`SUITE_CONV`."""
    mat, _ = SUITE_CONV.matrices(arr, xp=np)
    return mat if xp is None else xp.asarray(mat)


def _basis_values(arr: Any, basis: str) -> Any:
    if basis == "entries":
        return arr

    if getattr(arr, "ndim", 0) != 2:
        raise ValueError(f"basis 'spectrum' needs a 2-D matrix; got shape {tuple(arr.shape)}")
    return singular_values(arr)


def _curve_points(rel: np.ndarray) -> dict[str, list[float]]:
    n = rel.shape[0] - 1
    ks = np.unique(np.round(np.geomspace(1, max(n - 1, 1), CURVE_POINTS)).astype(np.int64))
    return {"k": ks.tolist(), "rel_error": rel[ks].tolist()}


def _measure_basis(values: Any) -> tuple[dict[str, Any], dict[str, Any], float]:
    """Decay fit, effective sparsity and the kept curve for one basis (independent of the estimator)."""
    t0 = time.perf_counter()
    rel = to_numpy(best_k_error(values, relative=True))
    n = rel.shape[0] - 1
    out: dict[str, Any] = {"n": n}
    try:
        fit = decay_exponent(values)
        out.update(measured_decay=fit.exponent, decay_k_min=fit.k_min, decay_k_max=fit.k_max, decay_r2=fit.r2)
    except ValueError as exc:  # too short or exactly sparse: no power-law window
        out.update(measured_decay=math.nan, decay_k_min=math.nan, decay_k_max=math.nan, decay_r2=math.nan)
        out["decay_note"] = str(exc)
    # The rule of sparsity.effective_sparsity, applied to the curve already computed.
    k_eff = int(np.count_nonzero(rel > EFFECTIVE_EPS))
    out.update(effective_sparsity=k_eff, effective_sparsity_frac=k_eff / n if n else math.nan)
    return out, _curve_points(rel), time.perf_counter() - t0


def _tail(values: Any, basis: str, estimator: str, options: dict[str, Any], rng: Any, big: int) -> dict[str, Any]:
    """The row's tail fit (:func:`sparsity.harness._case_tail.case_tail`; ``rng="data"`` for real weights)."""
    return case_tail(values, basis, estimator, options, rng, big, fit=fit_tail)


def _fit_row(
    values: Any,
    basis: str,
    estimator: str,
    options: dict[str, Any],
    measured: dict[str, Any],
    rng: Any,
    big: int,
    context: dict[str, Any],
) -> dict:
    """The tail columns of one row and its agreement columns (``context``: ``real``, ``family``, ``seed``)."""
    t0 = time.perf_counter()
    tail = _tail(values, basis, estimator, options, "data" if context["real"] else rng, big)
    alpha = tail["alpha"]
    pred = predicted_decay_exponent(alpha) if alpha > 0 and math.isfinite(alpha) else math.nan
    row = {
        "alpha_hat": alpha,
        "alpha_ci_low": tail["lo"],
        "alpha_ci_high": tail["hi"],
        "alpha_ww": 1.0 + alpha / 2.0 if basis == "spectrum" else math.nan,
        "xmin": tail["xmin"],
        "n_tail": tail["n_tail"],
        "ks_distance": tail["ks"],
        "predicted_decay": pred,
        # Three-valued: a fit that gave no alpha (NaN) says nothing about compressibility.
        "compressible": None if math.isnan(alpha) else bool(alpha < COMPRESSIBLE_BELOW),
    }
    row["t_fit_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    row.update(agreement_columns(to_numpy(values), tail, measured, estimator, context["family"], context["seed"]))
    row["t_interval_s"] = time.perf_counter() - t0
    return row


def _base_row(
    task: Task, tensor: str, shape: tuple[int, ...], basis: str, estimator: str, device: str, seed: list[int]
) -> dict[str, Any]:
    family = GENERATORS[task.generator].family if task.generator else task.task_id.split("/", 1)[1]
    parts = [task.task_id] + ([tensor] if tensor else []) + [basis, estimator]
    true_alpha = GENERATORS[task.generator].true_alpha(task.params, basis) if task.generator else math.nan
    return {
        "case_id": "/".join(parts),
        "group": task.group,
        "source": task.source,
        "family": family,
        "params": params_json(task.params),
        "replicate": task.replicate,
        "tensor": tensor,
        "shape": "x".join(map(str, shape)),
        "basis": basis,
        "estimator": estimator,
        "true_alpha": true_alpha,
        "device": device,
        "seed": json.dumps(seed),
        "status": "ok",
        "error": "",
    }


def _basis_records(
    task: Task, tensor: str, arr: Any, basis: str, t_gen: float, device: str, seed: list[int], data_key: int
) -> list:
    """The curve record and one row per estimator for one array in one basis (``data_key``: hash of a tensor)."""
    shape = tuple(int(d) for d in arr.shape)
    estimators = task.estimators[basis]
    try:
        values = _basis_values(arr, basis)
        measured, curve, t_curve = _measure_basis(values)
    except Exception as exc:  # every estimator row of this basis records it (see is_expected_error)
        return [error_record(_base_row(task, tensor, shape, basis, est, device, seed), exc) for est in estimators]
    first = _base_row(task, tensor, shape, basis, estimators[0], device, seed)
    curve_rec = {
        "kind": "curve",
        "case_id": first["case_id"].rsplit("/", 1)[0],
        "family": first["family"],
        "group": task.group,
        "basis": basis,
        "true_alpha": first["true_alpha"],
        **curve,
    }
    if basis == "spectrum":
        curve_rec["singular_values"] = to_numpy(values).astype(float).tolist()
    records: list[dict[str, Any]] = [curve_rec]
    for est in estimators:
        row = _base_row(task, tensor, shape, basis, est, device, seed)
        ta = row["true_alpha"]
        row["predicted_decay_true"] = predicted_decay_exponent(ta) if ta > 0 and not math.isnan(ta) else math.nan
        row.update({k: v for k, v in measured.items() if k != "decay_note"})
        row.update(t_generate_s=t_gen, t_curve_s=t_curve)
        if measured["n"] < MIN_FIT_VALUES:
            records.append(
                {
                    "kind": "row",
                    **row,
                    "status": "skipped",
                    "error": f"only {measured['n']} values in basis {basis!r}; a tail fit needs at least "
                    f"{MIN_FIT_VALUES}",
                }
            )
            continue
        # Bootstrap estimators draw from a stream derived from the task seed and the case id; the agreement
        # interval from a child of it (synthetic) or from a hash of the tensor and the row's method (real weights).
        case_seq = np.random.SeedSequence([*seed, zlib.crc32(row["case_id"].encode())])
        fit_rng = np.random.default_rng(case_seq)
        real = task.source != "synthetic"
        pi_seed = (
            np.random.SeedSequence([data_key, zlib.crc32(f"{basis}/{est}".encode())]) if real else case_seq.spawn(1)[0]
        )
        context = {"real": real, "family": row["family"] if not real else "", "seed": pi_seed}
        try:
            options = task.estimator_options.get(est, {})
            row.update(_fit_row(values, basis, est, options, measured, fit_rng, max(shape), context))
        except Exception as exc:  # the row records it; the other estimators still run (see is_expected_error)
            records.append(error_record(row, exc))
            continue
        records.append({"kind": "row", **row})
    return records


def run_task(task: Task, root_seed: int, device: str = "cpu") -> list[dict[str, Any]]:
    """Run one task; returns result records (``kind`` = ``row`` or ``curve``).

    Never raises an ``Exception``: a failing step becomes a row with ``status = "error"`` and the message, and
    the other rows still run; an unexpected exception (a bug, see :func:`is_expected_error`) also leaves its
    traceback in the record's ``traceback``. An array with fewer than :data:`MIN_FIT_VALUES` values in a basis
    gives ``status = "skipped"`` with the reason.
    """
    seed = task.seed(root_seed)
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    records: list[dict[str, Any]] = []
    xp = _xp_for(device)
    first_basis = task.basis[0]
    try:
        for tensor, arr, t_gen in _arrays(task, rng, xp):
            if isinstance(arr, str):  # a tensor the loader could not read: recorded, the others go on
                row = _base_row(task, tensor, (), first_basis, task.estimators[first_basis][0], device, seed)
                records.append(error_record(row, arr))
                continue
            data_key = data_entropy(arr) if task.source != "synthetic" else 0
            for basis in task.basis:
                records.extend(_basis_records(task, tensor, arr, basis, t_gen, device, seed, data_key))
    except Exception as exc:  # a task that cannot even produce its data becomes one error row (and maybe a traceback)
        row = _base_row(task, "", task.shape or (), first_basis, task.estimators[first_basis][0], device, seed)
        records.append(error_record(row, exc))
    return records
