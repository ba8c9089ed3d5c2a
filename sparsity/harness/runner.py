"""Run a suite in three steps: resume (what is already done), execute (a process pool) and write (the outputs).

Files in the output directory:

- ``partial.jsonl``: one JSON record per line, appended (and fsynced) by the parent process as each task
  finishes. A run that is interrupted (Ctrl-C, kill, a crash) leaves it behind; ``--resume`` skips the tasks
  it already holds, so the combined result equals that of an uninterrupted run. A torn last line is ignored.
- ``run.json``: the suite hash and seed of the partial run (a resume with another suite or seed is refused).
- ``results.csv``, ``curves.csv`` (relative best-k curves at log-spaced k), ``spectra.csv`` (singular values
  of the spectrum cases), ``errors.log`` (only when cases failed unexpectedly: their tracebacks) and
  ``manifest.json``: written atomically (temporary file + rename) by :func:`_write_outputs`, the one place that
  writes them, when all tasks have finished, in the suite's task order whatever the number of workers; then
  ``partial.jsonl`` and ``run.json`` are removed and :func:`sparsity.harness.report.write_report` renders
  summary, tables and figures.

A case that fails with an expected data error (see :func:`sparsity.harness.cases.is_expected_error`) is a row
with ``status = "error"`` and the run succeeds. A case that fails with any other exception is such a row too, but
its traceback goes to ``errors.log`` and :func:`run_suite` raises :class:`RunFailed` after writing everything.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from sparsity._checks import check_choice, check_int
from sparsity._version import __version__
from sparsity.harness._io import atomic_write_text
from sparsity.harness.cases import COLUMNS, run_task
from sparsity.harness.report import write_report
from sparsity.harness.suite import Suite, SuiteError, Task

__all__ = ["CURVE_COLUMNS", "ERRORS_LOG", "RunFailed", "RunInterrupted", "run_suite"]

PARTIAL = "partial.jsonl"
RUN_INFO = "run.json"
ERRORS_LOG = "errors.log"
"""File of the run folder that holds the tracebacks of the cases that failed unexpectedly."""
CURVE_COLUMNS = ["case_id", "group", "family", "basis", "true_alpha", "k", "rel_error"]
"""Columns of ``curves.csv``: one line per kept point of each relative best-k curve."""
_FLOAT_FORMAT = "%.10g"

Records = list[dict[str, Any]]


class RunInterrupted(RuntimeError):
    """Raised after Ctrl-C: finished tasks are saved and ``--resume`` continues the run."""


class RunFailed(RuntimeError):
    """Raised after a run whose outputs are all written, when some cases failed with unexpected errors.

    Parameters
    ----------
    results : pandas.DataFrame
        The results table (as written to ``results.csv``); the failed cases are rows with ``status = "error"``.
    failed : list of str
        Case ids of the rows that failed unexpectedly.
    log : pathlib.Path
        The ``errors.log`` that holds their tracebacks.
    """

    def __init__(self, results: Any, failed: list[str], log: Path) -> None:
        self.results, self.failed, self.log = results, failed, log
        super().__init__(
            f"{len(failed)} case(s) failed with unexpected errors (their rows are in results.csv with status "
            f"'error'); tracebacks in {log}"
        )


# ------------------------------------------------------------------------------------------------ resume
def _read_partial(path: Path) -> Records:
    records: Records = []
    if not path.exists():
        return records
    with path.open("r", encoding="utf-8") as fh:
        for line in fh:
            if not line.endswith("\n"):
                break  # torn last line of a killed run: its task is simply run again
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                break
    return records


def _jsonl(records: Iterable[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, allow_nan=True) + "\n" for r in records)


def _resume(out: Path, info: dict[str, Any], *, resume: bool, fresh: bool) -> Records:
    """The resume step: refuse, discard or continue an unfinished run in ``out``.

    Returns the records of the tasks that finished before (none for a new run) and leaves ``partial.jsonl``
    holding exactly them, with ``run.json`` describing this run.
    """
    partial, run_info = out / PARTIAL, out / RUN_INFO
    if partial.exists() and not (resume or fresh):
        raise SuiteError(
            f"{out} holds an unfinished run ({PARTIAL}); continue it with --resume or discard it with --fresh"
        )
    if partial.exists() and resume:
        old = json.loads(run_info.read_text()) if run_info.exists() else {}
        if old and old != info:
            raise SuiteError(f"cannot resume in {out}: the unfinished run used {old}, this one {info}")
    else:
        partial.unlink(missing_ok=True)
    atomic_write_text(run_info, json.dumps(info))
    records = _read_partial(partial)
    done = {r["task_id"] for r in records if r.get("kind") == "task_done"}
    records = [r for r in records if r.get("task_id") in done]
    # Rewrite the kept records so a torn tail from the interrupted run is dropped before appending.
    atomic_write_text(partial, _jsonl(records))
    return records


# ----------------------------------------------------------------------------------------------- execute
def _check_device(device: str) -> None:
    check_choice(device, "device", ("cpu", "gpu"))
    if device == "gpu":
        try:
            import cupy

            if cupy.cuda.runtime.getDeviceCount() < 1:
                raise SuiteError("--device gpu needs a CUDA device; CuPy sees none")
        except ImportError:
            raise SuiteError("--device gpu needs CuPy (pip install 'sparsity-bench[gpu]')") from None
        except cupy.cuda.runtime.CUDARuntimeError as exc:
            raise SuiteError(f"--device gpu needs a CUDA device; CuPy says: {exc}") from None


Sink = Callable[[Task, Records], None]


def _run_pool(tasks: list[Task], seed: int, device: str, workers: int, sink: Sink, bar: Any) -> None:
    if workers == 1:
        for task in tasks:
            sink(task, run_task(task, seed, device))
            bar.update(1)
        return
    with cf.ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(run_task, task, seed, device): task for task in tasks}
        try:
            for fut in cf.as_completed(futures):
                sink(futures[fut], fut.result())
                bar.update(1)
        except KeyboardInterrupt:
            for fut in futures:
                fut.cancel()
            raise


def _execute(
    suite: Suite, records: Records, out: Path, *, seed: int, device: str, workers: int, progress: bool
) -> None:
    """The execute step: run the tasks not in ``records``.

    Each finished task is appended (fsynced) to ``partial.jsonl`` and to ``records``, tagged with its ``task_id``
    and closed by a ``task_done`` record.
    """
    from tqdm import tqdm

    done = {r["task_id"] for r in records if r.get("kind") == "task_done"}
    todo = [t for t in suite.tasks if t.task_id not in done]
    partial = out / PARTIAL
    bar = tqdm(total=len(suite.tasks), initial=len(suite.tasks) - len(todo), unit="case", desc=suite.name,
               disable=not progress, file=sys.stderr, dynamic_ncols=True)  # fmt: skip
    with partial.open("a", encoding="utf-8") as fh, bar:

        def sink(task: Task, recs: Records) -> None:
            tagged = [{**r, "task_id": task.task_id} for r in recs]
            tagged.append({"kind": "task_done", "task_id": task.task_id})
            fh.write(_jsonl(tagged))
            fh.flush()
            os.fsync(fh.fileno())
            records.extend(tagged)

        try:
            _run_pool(todo, seed, device, workers, sink, bar)
        except KeyboardInterrupt:
            n_done = sum(1 for r in records if r.get("kind") == "task_done")
            raise RunInterrupted(
                f"interrupted: {n_done} finished tasks are saved in {partial}; rerun with --resume to continue"
            ) from None


# ------------------------------------------------------------------------------------------------- write
def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        return out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def _manifest(suite: Suite, seed: int, workers: int, device: str, elapsed: float) -> dict[str, Any]:
    import pandas
    import scipy

    threads: Any
    try:
        from threadpoolctl import threadpool_info

        threads = [{k: d.get(k) for k in ("internal_api", "num_threads", "version")} for d in threadpool_info()]
    except ImportError:
        threads = None
    return {
        "suite": suite.name,
        "suite_file": str(suite.path),
        "suite_sha256": suite.sha256,
        "seed": seed,
        "workers": workers,
        "device": device,
        "tasks": len(suite.tasks),
        "skipped_groups": suite.skipped_groups,
        "elapsed_s": round(elapsed, 3),
        "versions": {
            "sparsity": __version__,
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "pandas": pandas.__version__,
        },
        "git_commit": _git_commit(),
        "machine": {"platform": platform.platform(), "processor": platform.machine(), "cpus": os.cpu_count()},
        "threads": threads,
    }


def _in_task_order(records: Records, kind: str, suite: Suite) -> Records:
    order = {t.task_id: i for i, t in enumerate(suite.tasks)}
    chosen = [r for r in records if r.get("kind") == kind]
    chosen.sort(key=lambda r: (order.get(r["task_id"], len(order)), r["case_id"]))
    return chosen


def _frames(rows: Records, curves: Records) -> tuple[Any, Any, Any]:
    """``results``, ``curves`` and ``spectra`` tables of the records (already in task order)."""
    import pandas as pd

    results = pd.DataFrame([{c: r.get(c) for c in COLUMNS} for r in rows], columns=COLUMNS)
    points = [
        {**{c: curve[c] for c in CURVE_COLUMNS[:5]}, "k": k, "rel_error": e}
        for curve in curves
        for k, e in zip(curve["k"], curve["rel_error"], strict=True)
    ]
    spectra = pd.DataFrame(
        [{"case_id": c["case_id"], "singular_value": v} for c in curves for v in c.get("singular_values", [])],
        columns=["case_id", "singular_value"],
    )
    return results, pd.DataFrame(points, columns=CURVE_COLUMNS), spectra


def _errors_log(suite: Suite, failed_rows: Records) -> str:
    """The text of ``errors.log``: one section per distinct traceback, headed by the case ids it failed."""
    by_trace: dict[str, list[str]] = {}
    for row in failed_rows:
        by_trace.setdefault(row["traceback"], []).append(row["case_id"])
    parts = [
        f"# {len(failed_rows)} case(s) of suite {suite.name!r} failed with unexpected errors; their rows are in "
        "results.csv with status 'error'.\n"
    ]
    for trace, case_ids in by_trace.items():
        parts.append("\n" + "".join(f"== {case_id}\n" for case_id in case_ids) + trace)
    return "".join(parts)


def _write_outputs(out: Path, suite: Suite, records: Records, manifest: dict[str, Any]) -> tuple[Any, list[str]]:
    """The write step, the one place that writes the outputs of a run (each atomically).

    Writes ``results.csv``, ``curves.csv``, ``spectra.csv``, ``errors.log`` (removed when no case failed
    unexpectedly) and ``manifest.json``, then removes ``partial.jsonl`` and ``run.json``. Returns the results
    table and the ids of the cases that failed unexpectedly.
    """
    rows = _in_task_order(records, "row", suite)
    results, curves, spectra = _frames(rows, _in_task_order(records, "curve", suite))
    results_text = results.to_csv(index=False, float_format=_FLOAT_FORMAT)
    atomic_write_text(out / "results.csv", results_text)
    atomic_write_text(out / "curves.csv", curves.to_csv(index=False, float_format=_FLOAT_FORMAT))
    atomic_write_text(out / "spectra.csv", spectra.to_csv(index=False, float_format=_FLOAT_FORMAT))
    failed_rows = [r for r in rows if r.get("traceback")]
    if failed_rows:
        atomic_write_text(out / ERRORS_LOG, _errors_log(suite, failed_rows))
    else:
        (out / ERRORS_LOG).unlink(missing_ok=True)  # a stale log of an earlier run in this folder
    manifest = {
        **manifest,
        "results_sha256": hashlib.sha256(results_text.encode("utf-8")).hexdigest(),
        "failed_cases": len(failed_rows),
        "errors_log": ERRORS_LOG if failed_rows else None,
    }
    atomic_write_text(out / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    (out / PARTIAL).unlink(missing_ok=True)
    (out / RUN_INFO).unlink(missing_ok=True)
    return results, [r["case_id"] for r in failed_rows]


# --------------------------------------------------------------------------------------------------- run
def run_suite(
    suite: Suite,
    out_dir: str | os.PathLike[str],
    *,
    workers: int = 1,
    device: str = "cpu",
    seed: int | None = None,
    resume: bool = False,
    fresh: bool = False,
    progress: bool = True,
    report: bool = True,
) -> Any:
    """Run every task of ``suite`` and write the results to ``out_dir``; returns the results DataFrame.

    Parameters
    ----------
    suite : Suite
        From :func:`sparsity.harness.suite.load_suite`.
    out_dir : path
        Output directory (created).
    workers : int
        Worker processes (1 runs in this process). Results do not depend on it.
    device : {"cpu", "gpu"}
        ``gpu`` generates and measures with CuPy arrays.
    seed : int, optional
        Root seed; default the suite's ``seed``.
    resume : bool
        Continue an interrupted run in ``out_dir`` (its ``partial.jsonl``).
    fresh : bool
        Discard an interrupted run in ``out_dir`` instead of refusing to start.
    progress : bool
        Draw a progress bar (case counts and ETA) on stderr.
    report : bool
        Render summary, tables and figures at the end.

    Returns
    -------
    pandas.DataFrame
        The results table, one row per case (the columns of :data:`sparsity.harness.cases.COLUMNS`).

    Raises
    ------
    RunInterrupted
        On Ctrl-C; finished tasks are kept for ``resume=True``.
    RunFailed
        After writing every output, when cases failed with unexpected errors (tracebacks in ``errors.log``);
        its ``results`` attribute holds the table.
    SuiteError
        An unfinished run in ``out_dir`` without ``resume``/``fresh``, or one that cannot be resumed.
    """
    workers = check_int(workers, "workers", low=1)
    _check_device(device)
    root_seed = suite.seed if seed is None else check_int(seed, "seed", low=0)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    info = {"suite_sha256": suite.sha256, "seed": root_seed, "device": device}
    records = _resume(out, info, resume=resume, fresh=fresh)
    t0 = time.perf_counter()
    _execute(suite, records, out, seed=root_seed, device=device, workers=workers, progress=progress)
    manifest = _manifest(suite, root_seed, workers, device, time.perf_counter() - t0)
    results, failed = _write_outputs(out, suite, records, manifest)
    if report:
        write_report(out)
    if failed:
        raise RunFailed(results, failed, out / ERRORS_LOG)
    return results
