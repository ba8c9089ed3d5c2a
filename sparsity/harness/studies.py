"""Run a study suite (training dynamics, quantization) on the suite job machinery and write its outputs.

A suite whose groups have ``source = "training"`` or ``"quantization"`` (:attr:`Suite.study`) runs here:
:func:`sparsity.harness.runner.run_suite` dispatches to :func:`run_study`. Each case of the study is one task,
run by :func:`run_study_task` on the same executors (in-process, ``--workers N`` process pool, Dask
``--scheduler``) through :func:`sparsity.harness._job.execute`, so the resume file ``partial.jsonl``,
``--resume``/``--fresh``, SIGINT/SIGTERM handling and the manifest's sessions are those of every suite run.
A case depends on its own seeds only, so the outputs are the same for any number of workers.

Outputs (written atomically when all tasks finished, in the suite's task order; then ``partial.jsonl`` and
``run.json`` are removed):

- training: ``training_layers.csv`` (one row per run, layer and epoch), ``training_runs.csv`` (one per run),
  ``figures/`` (:func:`sparsity.harness.training.write_training_figures`) and ``summary.md``
  (:mod:`sparsity.harness._study_summary`);
- quantization: ``quantization.csv`` (one row per tensor and format) and the figures and tables of
  :func:`sparsity.harness.quantization.write_quantization_outputs`;
- both: ``manifest.json`` (with ``results_sha256``, the hash of the main table without its timings) and
  ``errors.log`` when cases failed (their rows say ``status = "failed"``).
"""

from __future__ import annotations

import json
import math
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sparsity.harness import quantization, training
from sparsity.harness._io import atomic_write_text
from sparsity.harness._job import PARTIAL, RUN_INFO, Records, execute
from sparsity.harness._job import resume as resume_job
from sparsity.harness._manifest import environment, relative_path, results_sha256, sessions
from sparsity.harness._progress import CaseProgress
from sparsity.harness._study_summary import training_summary
from sparsity.harness.suite import Suite, SuiteError, Task

__all__ = ["STUDY_ERRORS_LOG", "StudyResult", "run_study", "run_study_task"]

STUDY_ERRORS_LOG = "errors.log"
"""File of the run folder with the tracebacks of the cases that failed."""
_FLOAT_FORMAT = "%.10g"
_TIMINGS = {"training": ("t_train", "t_analyze"), "quantization": ("t_quantize", "t_analyze")}
_MAIN_TABLE = {"training": "training_runs.csv", "quantization": "quantization.csv"}


@dataclass
class StudyResult:
    """What a study run wrote: its main table (runs or quantization rows) and the failed case ids."""

    table: Any
    failed: list[str]
    log: Path


def _plain(value: Any) -> Any:
    """A JSON-native copy of a row value (NumPy scalars to Python, tuples to lists), equal after a round trip."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _training_case(task: Task, root_seed: int) -> dict[str, Any]:
    case = task.params["case"]
    config = task.params["config"]
    if int(config["seed"]) == int(root_seed):
        return dict(case)
    recased = training.training_cases({**config, "seed": int(root_seed)})
    return next(c for c in recased if c["case_id"] == case["case_id"])


def run_study_task(task: Task, root_seed: int) -> list[dict[str, Any]]:
    """Run one study task (worker-safe, module-level): its records, ``kind`` ``"layer"``/``"run"``/``"row"``.

    A case that raises becomes a record with ``status = "failed"``, the error as ``reason`` and its
    ``traceback`` (no finished work is lost).
    """
    ident = {"group": task.group}
    try:
        if task.source == "training":
            layers, run = training.run_training_case(_training_case(task, root_seed))
            recs = [{"kind": "layer", **ident, **r} for r in layers] + [{"kind": "run", **ident, **run}]
        else:
            rows = quantization.run_quantization_case(task.params["case"])
            recs = [{"kind": "row", **ident, **r} for r in rows]
    except Exception as exc:  # one failing case must not lose the run; the record says why
        kind = "run" if task.source == "training" else "row"
        recs = [
            {"kind": kind, **ident, "case_id": task.params["case"]["case_id"], "status": "failed",
             "reason": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        ]  # fmt: skip
    return [_plain(r) for r in recs]


def _table(records: Records, kind: str, suite: Suite) -> Any:
    """The records of ``kind`` as a DataFrame in the suite's task order (columns in first-seen order)."""
    import pandas as pd

    order = {t.task_id: i for i, t in enumerate(suite.tasks)}
    chosen = sorted(
        (r for r in records if r.get("kind") == kind), key=lambda r: order.get(r["task_id"], len(order))
    )  # stable: a task's own rows keep their order
    rows = [{k: v for k, v in r.items() if k not in ("kind", "task_id", "traceback")} for r in chosen]
    return pd.DataFrame(rows)


def _write_errors(out: Path, suite: Suite, records: Records) -> list[str]:
    failed = [r for r in records if r.get("traceback")]
    if not failed:
        (out / STUDY_ERRORS_LOG).unlink(missing_ok=True)
        return []
    text = f"# {len(failed)} case(s) of suite {suite.name!r} failed; their rows say status 'failed'.\n"
    text += "".join(f"\n== {r['case_id']}\n{r['traceback']}" for r in failed)
    atomic_write_text(out / STUDY_ERRORS_LOG, text)
    return [str(r["case_id"]) for r in failed]


def _write_training(out: Path, suite: Suite, records: Records) -> Any:
    layers, runs = _table(records, "layer", suite), _table(records, "run", suite)
    atomic_write_text(out / "training_layers.csv", layers.to_csv(index=False, float_format=_FLOAT_FORMAT))
    atomic_write_text(out / "training_runs.csv", runs.to_csv(index=False, float_format=_FLOAT_FORMAT))
    if len(layers):
        training.write_training_figures(layers, runs, out / "figures")
    atomic_write_text(out / "summary.md", training_summary(layers, runs, suite.name, suite.skipped_groups))
    return runs


def _write_quantization(out: Path, suite: Suite, records: Records) -> Any:
    rows = _table(records, "row", suite)
    atomic_write_text(out / "quantization.csv", rows.to_csv(index=False, float_format=_FLOAT_FORMAT))
    ok = rows[rows["status"] != "failed"] if "status" in rows else rows
    if "model" in ok and len(ok):
        quantization.write_quantization_outputs(ok.to_dict("records"), out)
    return rows


def _manifest(suite: Suite, seed: int, executor: dict[str, Any], records: Records, table: Any) -> dict[str, Any]:
    timing = sessions(records)
    return {
        "suite": suite.name,
        "study": suite.study,
        "suite_file": relative_path(suite.path),
        "suite_sha256": suite.sha256,
        "seed": seed,
        "workers": executor["workers"],
        "executor": executor,
        "tasks": len(suite.tasks),
        "skipped_groups": suite.skipped_groups,
        "elapsed_s": timing["elapsed_total_s"],
        **timing,
        **environment(),
        "results_file": _MAIN_TABLE[str(suite.study)],
        "results_sha256": results_sha256(table, _TIMINGS[str(suite.study)], _FLOAT_FORMAT),
    }


def run_study(
    suite: Suite,
    out: Path,
    *,
    workers: int,
    scheduler: str | None,
    seed: int,
    resume: bool,
    fresh: bool,
    progress: bool,
) -> StudyResult:
    """Run every task of a study suite and write its outputs to ``out`` (see the module docstring).

    Parameters
    ----------
    suite : Suite
        With ``suite.study`` set (from :func:`sparsity.harness.suite.load_suite`).
    out : pathlib.Path
        Output folder (created).
    workers, scheduler : int, str or None
        The executor (see :func:`sparsity.harness.executors.make_executor`); the outputs do not depend on it.
    seed : int
        Root seed (training cases are re-seeded from it when it differs from the suite's).
    resume, fresh, progress : bool
        Continue or discard an unfinished run in ``out``; draw a progress bar on stderr.

    Returns
    -------
    StudyResult
        The main table and the ids of the cases that failed.

    Raises
    ------
    RunInterrupted
        On SIGINT/SIGTERM or a lost executor; finished cases are kept for ``resume=True``.
    SuiteError
        Not a study suite, or an unfinished run in ``out`` without ``resume``/``fresh``.
    """
    if suite.study not in _MAIN_TABLE:
        raise SuiteError(f"suite {suite.name!r} is not a study suite (its groups are not training/quantization)")
    out.mkdir(parents=True, exist_ok=True)
    info = {"suite_sha256": suite.sha256, "seed": seed, "study": suite.study}
    records = resume_job(out, info, resume=resume, fresh=fresh, error=SuiteError)
    done = {r["task_id"] for r in records if r.get("kind") == "task_done"}
    todo = [t for t in suite.tasks if t.task_id not in done]
    bar = CaseProgress(len(suite.tasks), len(suite.tasks) - len(todo), suite.name, progress)
    with bar:
        executor = execute(
            out / PARTIAL, records, todo, run_study_task, (seed,), task_id=lambda t: t.task_id,
            workers=workers, scheduler=scheduler, on_done=lambda t, r: bar.update(t.task_id),
        )  # fmt: skip
    write = _write_training if suite.study == "training" else _write_quantization
    table = write(out, suite, records)
    failed = _write_errors(out, suite, records)
    manifest = {**_manifest(suite, seed, executor, records, table), "failed_cases": len(failed)}
    manifest["errors_log"] = STUDY_ERRORS_LOG if failed else None
    atomic_write_text(out / "manifest.json", json.dumps(manifest, indent=2, default=_json_default) + "\n")
    (out / PARTIAL).unlink(missing_ok=True)
    (out / RUN_INFO).unlink(missing_ok=True)
    return StudyResult(table, failed, out / STUDY_ERRORS_LOG)


def _json_default(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return str(value)
