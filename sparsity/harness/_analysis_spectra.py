"""The eigenvalues behind the ESD figure of an ``analyze --out`` folder: ``spectra.csv``, resumable.

The report of a per-layer folder (:mod:`sparsity.harness._layers_report`) draws, per checkpoint, the ESDs of the
layers with the lowest, median and highest ``alpha_ww`` (:func:`~sparsity.harness._layer_figures.representative`
over the analysed rows, in table order). ``spectra.csv`` holds exactly their eigenvalues: columns
``checkpoint``, ``name``, ``eigenvalue`` (descending, float64, the ``K min(out, in)`` eigenvalues of ``W^T W``
pooled over a conv kernel's positions as :func:`sparsity.analyze_weights` fits them).

Why only those layers, computed after the tensor tasks: the rows of :func:`sparsity.analyze_weights` do not carry
the eigenvalues, and the eigensolve is the dominant cost of an analysis (226 order-4096 eigensolves of ~6 s
each for a 7B model), so keeping every tensor's spectrum would double an LLM analysis; the figure's layers cost
at most 3 eigensolves per checkpoint, and the folder stays small (3 x 4096 values, not 226 x 4096).

Where they are kept: the client computes them once every tensor task has finished (it reads the headers of the
same files to plan the tasks, so it can read these tensors whatever executor ran the others, Dask included),
one tensor at a time, and appends each to ``partial.jsonl`` as a ``spectrum`` record (``task_id``
``<checkpoint>/<index>/esd``, eigenvalues as exact JSON numbers) closed by its ``task_done`` record, exactly as
the executor saves a tensor task. A resumed analysis therefore keeps them and recomputes none; one killed in
this phase resumes with the spectra it has not finished.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sparsity._array_api import to_numpy
from sparsity._input import as_array
from sparsity.harness._job import Records, RunInterrupted, jsonl, read_partial
from sparsity.harness._layer_figures import representative
from sparsity.harness._signals import Stopped, stop_on_signals
from sparsity.layers import ConvConvention
from sparsity.linalg import esd
from sparsity.weights import WeightsError, load_weights

__all__ = [
    "SPECTRA_COLUMNS",
    "figure_picks",
    "figure_spectra",
    "read_tensor",
    "spectrum_id",
    "spectrum_record",
    "tensor_eigenvalues",
]

SPECTRA_COLUMNS = ["checkpoint", "name", "eigenvalue"]
"""Columns of an analysis folder's ``spectra.csv``: one line per eigenvalue of each drawn layer."""
_CAUGHT = (ValueError, TypeError, np.linalg.LinAlgError)


def read_tensor(task: Any) -> Any:
    """The array of a tensor task (``file``, ``inner``, ``engine``; see :class:`~sparsity.harness.analysis.TensorTask`).

    Raises
    ------
    sparsity.weights.WeightsError
        The file cannot be read, or no longer holds the tensor.
    """
    reader = load_weights(task.file, select=lambda name, *_: name == task.inner, engine=task.engine)
    arr = next(reader, (None, None))[1]
    if arr is None:
        raise WeightsError(task.file, "tensor not found (the file changed since it was listed)", task.inner)
    return arr


def tensor_eigenvalues(arr: Any, options: dict[str, Any]) -> np.ndarray:
    """The eigenvalues that :func:`sparsity.analyze_weights` fits for ``arr`` with ``options``: descending float64.

    The same route: the matrices of the ``conv`` convention, then :func:`sparsity.esd` (the Gram route) in the
    ``spectra_precision`` working precision, pooled and sorted.

    Parameters
    ----------
    arr : array of shape (m, n) or (out, in, *kernel)
    options : dict
        Options of :func:`sparsity.analyze_weights` (only ``conv`` and ``spectra_precision`` matter).

    Returns
    -------
    ndarray of shape (K * min(m, n),)

    Examples
    --------
    >>> tensor_eigenvalues(np.array([[3.0, 0.0], [0.0, 1.0], [0.0, 0.0]]), {})
    array([9., 1.])
    """
    W, xp = as_array(arr, "tensor", min_ndim=2)
    mats, _ = ConvConvention.of(options.get("conv", "slices")).matrices(W, xp=xp)
    lam = np.asarray(to_numpy(esd(mats, precision=options.get("spectra_precision", "auto"))), dtype=np.float64)
    return np.sort(lam.ravel())[::-1]


def spectrum_id(task: Any) -> str:
    """Resume key of a tensor's spectrum: ``<checkpoint>/<index>/esd`` (never a tensor task's id)."""
    return f"{task.task_id}/esd"


def spectrum_record(task: Any, options: dict[str, Any]) -> dict[str, Any]:
    """Read one tensor and compute its eigenvalues: a ``spectrum`` record (``eigenvalues`` empty if that failed)."""
    rec: dict[str, Any] = {"kind": "spectrum", "checkpoint": task.checkpoint, "index": task.index,
                           "name": task.name, "eigenvalues": [], "reason": ""}  # fmt: skip
    try:
        rec["eigenvalues"] = tensor_eigenvalues(read_tensor(task), options).tolist()
    except (WeightsError, *_CAUGHT) as exc:  # the tensor was analysed: only a changed file gets here
        rec["reason"] = str(exc)
    return rec


def figure_picks(df: Any, tasks: Sequence[Any]) -> list[Any]:
    """The tasks of the layers the ESD figure draws: lowest, median and highest ``alpha_ww`` per checkpoint.

    ``df`` is the assembled table (``checkpoint``, ``name``, ``status``, ``alpha_ww``); only analysed rows with a
    finite ``alpha_ww`` count, in table order, as in the report.
    """
    if not len(df) or not {"checkpoint", "name", "status", "alpha_ww"} <= set(df.columns):
        return []
    by_name = {(t.checkpoint, t.name): t for t in tasks}
    picks = []
    for ck, part in df.groupby("checkpoint", sort=False):
        alpha = pd.to_numeric(part["alpha_ww"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        rows = part[(part["status"] == "ok").to_numpy(dtype=bool, na_value=False) & np.isfinite(alpha)]
        for i, _ in representative(list(pd.to_numeric(rows["alpha_ww"]).astype(float))):
            task = by_name.get((str(ck), str(rows["name"].iloc[i])))
            if task is not None:
                picks.append(task)
    return picks


def _append(fh: Any, recs: Records, records: Records) -> None:
    fh.write(jsonl(recs))
    fh.flush()
    os.fsync(fh.fileno())
    records.extend(recs)


def figure_spectra(partial: Path, records: Records, picks: Sequence[Any], options: dict[str, Any], *,
                   progress: bool = False) -> Any:  # fmt: skip
    """The ``spectra.csv`` table of ``picks``: computed here unless ``records`` holds them, each saved to ``partial``.

    Raises
    ------
    RunInterrupted
        On SIGINT/SIGTERM; the finished spectra are saved for ``--resume``.
    """
    saved = {r["task_id"]: r for r in records if r.get("kind") == "spectrum"}
    todo = [t for t in picks if spectrum_id(t) not in saved]
    if todo and progress:
        sys.stderr.write(f"computing the ESDs of {len(todo)} layer(s) for the figure\n")
    try:
        with stop_on_signals(), partial.open("a", encoding="utf-8") as fh:
            for task in todo:
                tid = spectrum_id(task)
                rec = {**spectrum_record(task, options), "task_id": tid}
                _append(fh, [rec, {"kind": "task_done", "task_id": tid, "t": time.time()}], records)
                saved[tid] = rec
    except (Stopped, KeyboardInterrupt) as stop:
        n_done = sum(1 for r in read_partial(partial) if r.get("kind") == "task_done")
        what = str(stop) if isinstance(stop, Stopped) else "interrupted"
        signum = stop.signum if isinstance(stop, Stopped) else int(signal.SIGINT)
        raise RunInterrupted(f"{what}: {n_done} finished tasks are saved in {partial}; rerun with --resume to "
                             "continue", signum) from None  # fmt: skip
    lines = [(t.checkpoint, t.name, v) for t in picks for v in saved[spectrum_id(t)]["eigenvalues"]]
    return pd.DataFrame(lines, columns=SPECTRA_COLUMNS)
