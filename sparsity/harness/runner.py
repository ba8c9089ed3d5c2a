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

Tasks run on an executor (:mod:`sparsity.harness.executors`): in this process, a local process pool or a Dask
cluster; the results, the resume file and the outputs are the same for each, and a run started on one can be
resumed on another. SIGINT and SIGTERM stop the workers, keep every finished task and raise
:class:`RunInterrupted` (:mod:`sparsity.harness._signals`); so does an executor that loses its workers or its
scheduler (:class:`~sparsity.harness.executors.ExecutorLost`).

A case that fails with an expected data error (see :func:`sparsity.harness.cases.is_expected_error`) is a row
with ``status = "error"`` and the run succeeds. A case that fails with any other exception is such a row too, but
its traceback goes to ``errors.log`` and :func:`run_suite` raises :class:`RunFailed` after writing everything.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sparsity._checks import check_choice, check_int
from sparsity.harness._io import atomic_write_text
from sparsity.harness._job import PARTIAL, RUN_INFO, Records, RunInterrupted, execute
from sparsity.harness._job import resume as resume_job
from sparsity.harness._manifest import environment, relative_path, results_sha256, sessions
from sparsity.harness._progress import CaseProgress
from sparsity.harness.cases import COLUMNS, TIMING_COLUMNS, run_task
from sparsity.harness.report import write_report
from sparsity.harness.studies import run_study
from sparsity.harness.suite import Suite, SuiteError

__all__ = ["CURVE_COLUMNS", "ERRORS_LOG", "RunFailed", "RunInterrupted", "run_suite"]

ERRORS_LOG = "errors.log"
"""File of the run folder that holds the tracebacks of the cases that failed unexpectedly."""
CURVE_COLUMNS = ["case_id", "group", "family", "basis", "true_alpha", "k", "rel_error"]
"""Columns of ``curves.csv``: one line per kept point of each relative best-k curve."""
_FLOAT_FORMAT = "%.10g"


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


def _execute(
    suite: Suite, records: Records, out: Path, run: dict[str, Any], *, seed: int, device: str, progress: bool
) -> dict[str, Any]:
    """The execute step: run the tasks not in ``records`` (see :func:`sparsity.harness._job.execute`).

    Returns the executor's description; raises :class:`RunInterrupted` on a stop signal or a lost executor.
    """
    done = {r["task_id"] for r in records if r.get("kind") == "task_done"}
    todo = [t for t in suite.tasks if t.task_id not in done]
    bar = CaseProgress(len(suite.tasks), len(suite.tasks) - len(todo), suite.name, progress)
    with bar:
        return execute(
            out / PARTIAL,
            records,
            todo,
            run_task,
            (seed, device),
            task_id=lambda t: t.task_id,
            workers=run["workers"],
            scheduler=run["scheduler"],
            on_done=lambda t, r: bar.update(t.task_id),
        )


# ------------------------------------------------------------------------------------------------- write
def _manifest(suite: Suite, seed: int, executor: dict[str, Any], device: str, records: Records) -> dict[str, Any]:
    timing = sessions(records)
    return {
        "suite": suite.name,
        "suite_file": relative_path(suite.path),
        "suite_sha256": suite.sha256,
        "seed": seed,
        "workers": executor["workers"],
        "executor": executor,
        "device": device,
        "tasks": len(suite.tasks),
        "skipped_groups": suite.skipped_groups,
        "elapsed_s": timing["elapsed_total_s"],
        **timing,
        **environment(),
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
        "results_sha256": results_sha256(results, TIMING_COLUMNS, _FLOAT_FORMAT),
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
    scheduler: str | None = None,
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
        Worker processes (1 runs in this process); with ``scheduler="local"`` the workers of the local Dask
        cluster. Results do not depend on it.
    scheduler : str, optional
        Run the tasks on Dask: ``"local"`` starts a ``LocalCluster``, an address (``tcp://host:8786``) or a
        scheduler file connects to a running one (see :func:`sparsity.harness.executors.make_executor`).
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
        On SIGINT/SIGTERM (``signum`` says which; the workers are stopped) or when the executor loses its
        workers or scheduler; finished tasks are kept for ``resume=True``, on any executor.
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
    if suite.study is not None:  # training / quantization: their own outputs (sparsity.harness.studies)
        study = run_study(suite, out, workers=workers, scheduler=scheduler, seed=root_seed, resume=resume,
                          fresh=fresh, progress=progress)  # fmt: skip
        if study.failed:
            raise RunFailed(study.table, study.failed, study.log)
        return study.table
    info = {"suite_sha256": suite.sha256, "seed": root_seed, "device": device}
    records = resume_job(out, info, resume=resume, fresh=fresh, error=SuiteError)
    run = {"workers": workers, "scheduler": scheduler}
    executor = _execute(suite, records, out, run, seed=root_seed, device=device, progress=progress)
    manifest = _manifest(suite, root_seed, executor, device, records)
    results, failed = _write_outputs(out, suite, records, manifest)
    if report:
        write_report(out)
    if failed:
        raise RunFailed(results, failed, out / ERRORS_LOG)
    return results
