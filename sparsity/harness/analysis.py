"""Checkpoint analysis as a job: the per-layer rows of one or more checkpoints, tensor by tensor, resumable.

Each input is a weight file, a folder (a sharded ``*.safetensors.index.json`` or a folder of weight files), a
catalog entry name, or ``LABEL=PATH``. A checkpoint is named by its label, else by its folder (a file is named
by the folder holding it, so ``ckA/model.safetensors`` and ``ckB/model.safetensors`` are ``ckA`` and ``ckB``);
two inputs whose folder names collide are named ``folder/file`` instead, and two inputs that still share a name
(or an explicit label) are an error (:func:`checkpoints`).

The client reads the headers only (:func:`sparsity.load_weights` is lazy) and plans one task per selected
tensor: the file to read (for a sharded checkpoint the tensor's shard, from the index, resolved once here) and
the tensor's name in it. A worker (:func:`analyze_tensor`) reads its one tensor from mmap and returns the row of
:func:`sparsity.layers.analyze_weights` as plain JSON values: no array crosses a process or a scheduler. The
rows are assembled here in tensor order, whatever executor ran them, so the table equals
``analyze_weights(load_weights(path))`` (plus a ``status="failed"`` row per tensor that could not be read).

With an output folder the job is resumable like a suite run (:mod:`sparsity.harness._job`): a killed analysis
continues where it stopped, and the outputs are ``results.csv``, ``results.json``, ``manifest.json`` and
``spectra.csv``: the eigenvalues of the layers the report's ESD figure draws (lowest, median and highest
``alpha_ww`` per checkpoint), computed on the client after the tensor tasks and saved to the resume file one
tensor at a time (:mod:`sparsity.harness._analysis_spectra`).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sparsity import layers
from sparsity.harness._analysis_spectra import figure_picks, figure_spectra, read_tensor
from sparsity.harness._checkpoints import Checkpoint, checkpoints, resolve_source
from sparsity.harness._io import atomic_write_text
from sparsity.harness._job import PARTIAL, RUN_INFO, Records, execute, resume
from sparsity.harness._manifest import environment, results_sha256, sessions
from sparsity.weights import WeightsError, WeightsWarning, load_weights

__all__ = [
    "PROGRESS_MIN_TENSORS",
    "TIMING_COLUMNS",
    "Checkpoint",
    "TensorTask",
    "analyze_checkpoints",
    "analyze_tensor",
    "checkpoints",
    "plan",
    "resolve_source",
]

TIMING_COLUMNS = ("t_load_s", "t_analyze_s")
"""Seconds to read and to analyse each tensor: the only columns that differ between equal runs."""
PROGRESS_MIN_TENSORS = 10
"""Progress is shown when a job has at least this many tensors."""
_FLOAT_FORMAT = "%.10g"
_INDEX_SUFFIX = ".safetensors.index.json"


@dataclass(frozen=True)
class TensorTask:
    """One tensor to analyse: where a worker reads it, and where its row goes.

    Attributes
    ----------
    checkpoint : str
        The checkpoint's label.
    index : int
        Position among the checkpoint's selected tensors (the row order).
    name : str
        The tensor's name as :func:`sparsity.load_weights` lists it for the checkpoint.
    file : str
        The file (or folder) the worker opens: the shard holding it, for a sharded checkpoint.
    inner : str
        The tensor's name in ``file``.
    shape : tuple of int
        Its shape, from the header.
    engine : str
        PyTorch checkpoints: the reader engine.
    """

    checkpoint: str
    index: int
    name: str
    file: str
    inner: str
    shape: tuple[int, ...]
    engine: str = "auto"

    @property
    def task_id(self) -> str:
        """``checkpoint/index``: the resume key."""
        return f"{self.checkpoint}/{self.index}"


def _shard_map(folder: Path) -> dict[str, str]:
    """Tensor name -> shard file of a sharded folder (every ``*.safetensors.index.json`` in it)."""
    shards: dict[str, str] = {}
    for index in sorted(folder.glob("*" + _INDEX_SUFFIX)):
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        except (OSError, ValueError, KeyError, TypeError):  # load_weights already read it; never reached
            continue
        shards.update({str(k): str(folder / v) for k, v in weight_map.items()})
    return shards


def plan(ckpt: Checkpoint, select: Any, engine: str = "auto") -> tuple[list[TensorTask], list[Any]]:
    """The tasks of a checkpoint (one per selected tensor, from the headers) and the tensors already skipped.

    Raises
    ------
    sparsity.weights.WeightsError
        The checkpoint cannot be opened.
    ValueError
        No tensor passes the filter.
    """
    reader = load_weights(ckpt.source, select=select, engine=engine, errors="skip")  # type: ignore[arg-type]
    if len(reader) == 0 and not reader.skipped:
        raise ValueError(f"{ckpt.source}: no tensor passes the filter (try --all-tensors); format {reader.format}")
    folder = Path(ckpt.source)
    shards = _shard_map(folder) if folder.is_dir() and reader.format == "safetensors-sharded" else {}
    tasks = []
    for i, name in enumerate(reader.names):
        file, inner = (shards[name], name) if name in shards else (ckpt.source, name)
        tasks.append(TensorTask(ckpt.label, i, name, file, inner, tuple(reader.shapes[name]), engine))
    return tasks, list(reader.skipped)


# ------------------------------------------------------------------------------------------------ worker
def _plain(value: Any) -> Any:
    """A row value as plain JSON: numpy scalars as Python numbers, missing as None, tuples as lists."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return float(value)
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def analyze_tensor(task: TensorTask, options: dict[str, Any]) -> list[dict[str, Any]]:
    """Read one tensor and analyse it (a worker's task); returns one record.

    The record has ``kind="tensor"``, the task's ``checkpoint``, ``index`` and ``name``, ``loaded`` (False
    when the tensor could not be read; ``reason`` says why), ``row`` (the tensor's row of
    :func:`sparsity.layers.analyze_weights` as plain values, or None for a tensor with fewer than 2
    dimensions), and the seconds ``t_load_s`` and ``t_analyze_s``.
    """
    rec: dict[str, Any] = {"kind": "tensor", "checkpoint": task.checkpoint, "index": task.index,
                           "name": task.name, "shape": list(task.shape), "loaded": False, "row": None,
                           "reason": "", "t_load_s": 0.0, "t_analyze_s": 0.0}  # fmt: skip
    t0 = time.perf_counter()
    try:
        arr = read_tensor(task)
    except WeightsError as exc:
        rec.update(reason=exc.problem, message=str(exc), t_load_s=time.perf_counter() - t0)
        return [rec]
    rec.update(loaded=True, t_load_s=time.perf_counter() - t0)
    t0 = time.perf_counter()
    df = layers.analyze_weights([(task.name, arr)], **options)  # no row for a tensor under 2 dimensions
    if len(df):
        rec["row"] = {k: _plain(v) for k, v in df.iloc[0].to_dict().items()}
    rec["t_analyze_s"] = time.perf_counter() - t0
    return [rec]


# ---------------------------------------------------------------------------------------------- assemble
def _typed(rows: list[dict[str, Any]], template: Any) -> Any:
    """Rows as a frame with the columns and dtypes of ``analyze_weights`` (``template``: its empty frame)."""
    columns = list(template.columns) or list(dict.fromkeys(k for row in rows for k in row))
    df = pd.DataFrame(rows, columns=columns)
    if "shape" in df.columns:
        df["shape"] = df["shape"].map(lambda v: tuple(v) if isinstance(v, list) else v)
    return df.astype({c: t for c, t in template.dtypes.items() if c in df.columns}) if len(template.columns) else df


def _checkpoint_rows(recs: Records, skipped: list[Any], timing: bool) -> tuple[list[dict], list[dict]]:
    """Analysed rows (tensor order, ``layer_id`` counting the tensors read) and failed rows of one checkpoint."""
    rows, failed, n_read = [], [], 0
    for rec in sorted(recs, key=lambda r: r["index"]):
        if not rec["loaded"]:
            failed.append({"name": rec["name"], "shape": tuple(rec["shape"]), "status": "failed",
                           "reason": rec["reason"]})  # fmt: skip
            continue
        if rec["row"] is not None:
            times = {c: rec[c] for c in TIMING_COLUMNS} if timing else {}
            layer_id = {"layer_id": n_read} if "layer_id" in rec["row"] else {}  # counts the tensors read
            rows.append({**rec["row"], **layer_id, **times})
        n_read += 1
    pre = [{"name": s.name, "shape": s.shape, "status": "failed", "reason": s.reason} for s in skipped]
    return rows, pre + failed


def _assemble(ckpts: list[Checkpoint], records: Records, skipped: dict[str, list[Any]], *, labelled: bool,
              timing: bool) -> Any:  # fmt: skip
    """The results table: each checkpoint's rows then its failed rows, checkpoints in input order."""
    template = layers.analyze_weights([])
    frames = []
    for ckpt in ckpts:
        recs = [r for r in records if r.get("kind") == "tensor" and r["checkpoint"] == ckpt.label]
        rows, failed = _checkpoint_rows(recs, skipped[ckpt.label], timing)
        df = _typed(rows, template)
        if failed and {"name", "status", "reason"} <= set(df.columns):  # a bad tensor is recorded
            extra = pd.DataFrame(failed, columns=df.columns).astype(df.dtypes.to_dict())  # counts stay Int64
            df = pd.concat([df, extra], ignore_index=True) if len(df) else extra
        if labelled:
            df.insert(0, "checkpoint", ckpt.label)
        frames.append(df)
    if timing:
        for df in frames:
            for col in TIMING_COLUMNS:
                if col not in df.columns:
                    df[col] = np.nan
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


# -------------------------------------------------------------------------------------------------- job
class _Progress:
    """Per-tensor progress on stderr: a bar on a terminal, plain lines (no carriage returns) otherwise."""

    def __init__(self, total: int, initial: int, enabled: bool) -> None:
        import sys

        self.stream, self.done, self.total, self.bar = sys.stderr, initial, total, None
        self.enabled = enabled and total >= PROGRESS_MIN_TENSORS
        if self.enabled and self.stream.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, unit="tensor", file=self.stream, dynamic_ncols=True)

    def __call__(self, task: TensorTask, recs: Records) -> None:
        self.done += 1
        if not self.enabled:
            return
        rec = recs[0]
        shape = "x".join(map(str, task.shape))
        what = f"{task.checkpoint} {task.name} {shape} {rec['t_load_s'] + rec['t_analyze_s']:.2f} s"
        if not rec["loaded"]:
            what += " (unreadable)"
        if self.bar is not None:
            self.bar.set_postfix_str(what, refresh=False)
            self.bar.update(1)
        else:
            self.stream.write(f"[{self.done}/{self.total}] {what}\n")
            self.stream.flush()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _write_outputs(out: Path, df: Any, spectra: Any, manifest: dict[str, Any]) -> None:
    """``results.csv``, ``results.json``, ``spectra.csv``, ``manifest.json`` (each atomically); resume files go."""
    flat = df.assign(shape=df["shape"].map(lambda s: "x".join(map(str, s)))) if "shape" in df.columns else df
    atomic_write_text(out / "results.csv", flat.to_csv(index=False, float_format=_FLOAT_FORMAT))
    atomic_write_text(out / "results.json", flat.to_json(orient="records", indent=1, double_precision=15) + "\n")
    atomic_write_text(out / "spectra.csv", spectra.to_csv(index=False, float_format=_FLOAT_FORMAT))
    manifest["results_sha256"] = results_sha256(flat, TIMING_COLUMNS, _FLOAT_FORMAT)
    atomic_write_text(out / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    (out / PARTIAL).unlink(missing_ok=True)
    (out / RUN_INFO).unlink(missing_ok=True)


def analyze_checkpoints(
    paths: Sequence[str],
    out: str | os.PathLike[str] | None = None,
    *,
    select: Any = "matrices",
    engine: str = "auto",
    workers: int = 1,
    scheduler: str | None = None,
    resume_run: bool = False,
    fresh: bool = False,
    progress: bool = True,
    report: Callable[[Path], Any] | None = None,
    options: dict[str, Any] | None = None,
) -> Any:
    """Analyse every selected tensor of each checkpoint, one task per tensor; returns the table.

    Parameters
    ----------
    paths : sequence of str
        Inputs: files, folders, catalog names or ``LABEL=PATH`` (named as in :func:`checkpoints`).
    out : path, optional
        Output folder: the job is resumable there and writes ``results.csv``, ``results.json``,
        ``spectra.csv`` (the eigenvalues of the ESD figure's layers) and ``manifest.json`` (then ``report(out)``
        when given). Without it nothing is written.
    select, engine
        As in :func:`sparsity.load_weights`.
    workers, scheduler
        The executor (:func:`sparsity.harness.executors.make_executor`).
    resume_run, fresh
        Continue, or discard, an unfinished analysis in ``out``.
    progress : bool
        Per-tensor progress on stderr (when there are at least :data:`PROGRESS_MIN_TENSORS` tensors).
    report : callable, optional
        Called with ``out`` after the outputs are written (the report renderer).
    options : dict, optional
        Options of :func:`sparsity.layers.analyze_weights`.

    Returns
    -------
    pandas.DataFrame
        The rows of :func:`sparsity.layers.analyze_weights` of every checkpoint in input order (with a first
        ``checkpoint`` column when there are several inputs or ``out`` is given, and the timing columns
        :data:`TIMING_COLUMNS` with ``out``); ``attrs["tensors"]`` is the number of tensors selected.

    Raises
    ------
    ValueError
        Bad or colliding inputs, no tensor selected, an unfinished analysis in ``out`` without ``resume_run`` or
        ``fresh``, or one that was another analysis.
    sparsity.harness._job.RunInterrupted
        SIGINT/SIGTERM or a lost executor; with ``out``, the finished tensors are kept for ``resume_run``.
    """
    ckpts = checkpoints(paths)
    tasks: list[TensorTask] = []
    skipped: dict[str, list[Any]] = {}
    for ckpt in ckpts:
        found, skipped[ckpt.label] = plan(ckpt, select, engine)
        tasks += found
    folder = Path(out) if out is not None else None
    records: Records = []
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        info = {"kind": "analyze", "inputs": [[c.label, c.source] for c in ckpts], "select": repr(select),
                "engine": engine, "options": repr(sorted((options or {}).items()))}  # fmt: skip
        records = resume(folder, info, resume=resume_run, fresh=fresh, error=ValueError)
    done = {r["task_id"] for r in records if r.get("kind") == "task_done"}
    todo = [t for t in tasks if t.task_id not in done]
    shown = _Progress(len(tasks), len(tasks) - len(todo), progress)
    try:
        executor = execute(folder / PARTIAL if folder is not None else None, records, todo, analyze_tensor,
                           (dict(options or {}),), task_id=lambda t: t.task_id, workers=workers,
                           scheduler=scheduler, on_done=_warn_unreadable(shown))  # fmt: skip
    finally:
        shown.close()
    df = _assemble(ckpts, records, skipped, labelled=len(ckpts) > 1 or folder is not None, timing=folder is not None)
    df.attrs["tensors"] = len(tasks)
    if folder is not None:
        spectra = figure_spectra(folder / PARTIAL, records, figure_picks(df, tasks), dict(options or {}),
                                 progress=shown.enabled)  # fmt: skip
        manifest = {"kind": "analyze", "inputs": {c.label: c.source for c in ckpts}, "tensors": len(tasks),
                    "rows": len(df), "executor": executor, "workers": executor["workers"], **sessions(records),
                    **environment()}  # fmt: skip
        manifest["elapsed_s"] = manifest["elapsed_total_s"]
        _write_outputs(folder, df, spectra, manifest)
        if report is not None:
            report(folder)
    return df


def _warn_unreadable(progress: _Progress) -> Callable[[TensorTask, Records], None]:
    """The per-tensor callback: progress, and the loader's warning for a tensor that could not be read."""
    import warnings

    def on_done(task: TensorTask, recs: Records) -> None:
        if not recs[0]["loaded"]:
            warnings.warn(f"skipped unreadable tensor: {recs[0].get('message', task.name)}", WeightsWarning,
                          stacklevel=2)  # fmt: skip
        progress(task, recs)

    return on_done
