"""Run a suite: a process pool over its tasks, every finished task persisted at once, resumable.

Files in the output directory:

- ``partial.jsonl``: one JSON record per line, appended (and fsynced) by the parent process as each task
  finishes. A run that is interrupted (Ctrl-C, kill, a crash) leaves it behind; ``--resume`` skips the tasks
  it already holds, so the combined result equals that of an uninterrupted run. A torn last line is ignored.
- ``run.json``: the suite hash and seed of the partial run (a resume with another suite or seed is refused).
- ``results.csv``, ``curves.csv`` (relative best-k curves at log-spaced k), ``spectra.csv`` (singular values
  of the spectrum cases), ``manifest.json``: written atomically (temporary file + rename) when all
  tasks have finished, in the suite's task order whatever the number of workers; then ``partial.jsonl``
  and ``run.json`` are removed and :func:`sparsity.harness.report.write_report` renders summary, tables and figures.
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
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sparsity._version import __version__
from sparsity.harness._io import atomic_write_text
from sparsity.harness.cases import COLUMNS, run_task
from sparsity.harness.report import write_report
from sparsity.harness.suite import Suite, SuiteError, Task

__all__ = ["RunInterrupted", "run_suite"]

PARTIAL = "partial.jsonl"
RUN_INFO = "run.json"


class RunInterrupted(RuntimeError):
    """Raised after Ctrl-C: finished tasks are saved and ``--resume`` continues the run."""


def _read_partial(path: Path) -> list[dict[str, Any]]:
    records = []
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


def _append(fh: Any, records: Iterable[dict[str, Any]]) -> None:
    fh.write("".join(json.dumps(r, allow_nan=True) + "\n" for r in records))
    fh.flush()
    os.fsync(fh.fileno())


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


def _manifest(suite: Suite, seed: int, workers: int, device: str, n_tasks: int, elapsed: float) -> dict[str, Any]:
    import numpy
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
        "tasks": n_tasks,
        "skipped_groups": suite.skipped_groups,
        "elapsed_s": round(elapsed, 3),
        "versions": {
            "sparsity": __version__,
            "python": platform.python_version(),
            "numpy": numpy.__version__,
            "scipy": scipy.__version__,
            "pandas": pandas.__version__,
        },
        "git_commit": _git_commit(),
        "machine": {"platform": platform.platform(), "processor": platform.machine(), "cpus": os.cpu_count()},
        "threads": threads,
    }


def _check_device(device: str) -> None:
    if device not in ("cpu", "gpu"):
        raise SuiteError(f"--device must be 'cpu' or 'gpu'; got {device!r}")
    if device == "gpu":
        try:
            import cupy

            if cupy.cuda.runtime.getDeviceCount() < 1:
                raise SuiteError("--device gpu needs a CUDA device; CuPy sees none")
        except ImportError:
            raise SuiteError("--device gpu needs CuPy (pip install 'sparsity-bench[gpu]')") from None
        except cupy.cuda.runtime.CUDARuntimeError as exc:  # type: ignore[union-attr]
            raise SuiteError(f"--device gpu needs a CUDA device; CuPy says: {exc}") from None


def _run_pool(tasks: list[Task], seed: int, device: str, workers: int, sink: Any, bar: Any) -> None:
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
    """
    import pandas as pd
    from tqdm import tqdm

    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise SuiteError(f"--workers must be a positive integer; got {workers!r}")
    _check_device(device)
    root_seed = suite.seed if seed is None else int(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    partial, run_info = out / PARTIAL, out / RUN_INFO
    info = {"suite_sha256": suite.sha256, "seed": root_seed, "device": device}
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
    todo = [t for t in suite.tasks if t.task_id not in done]
    t0 = time.perf_counter()
    # Rewrite the kept records so a torn tail from the interrupted run is dropped before appending.
    atomic_write_text(partial, "".join(json.dumps(r) + "\n" for r in records))
    with partial.open("a", encoding="utf-8") as fh:

        def sink(task: Task, recs: list[dict[str, Any]]) -> None:
            tagged = [{**r, "task_id": task.task_id} for r in recs]
            tagged.append({"kind": "task_done", "task_id": task.task_id})
            _append(fh, tagged)
            records.extend(tagged)

        bar = tqdm(
            total=len(suite.tasks),
            initial=len(suite.tasks) - len(todo),
            unit="case",
            desc=suite.name,
            disable=not progress,
            file=sys.stderr,
            dynamic_ncols=True,
        )
        try:
            _run_pool(todo, root_seed, device, workers, sink, bar)
        except KeyboardInterrupt:
            bar.close()
            n_done = sum(1 for r in records if r.get("kind") == "task_done")
            raise RunInterrupted(
                f"interrupted: {n_done} finished tasks are saved in {partial}; rerun with --resume to continue"
            ) from None
        bar.close()
    order = {t.task_id: i for i, t in enumerate(suite.tasks)}
    rows = [r for r in records if r.get("kind") == "row"]
    rows.sort(key=lambda r: (order.get(r["task_id"], len(order)), r["case_id"]))
    df = pd.DataFrame([{c: r.get(c) for c in COLUMNS} for r in rows], columns=COLUMNS)
    curves = [r for r in records if r.get("kind") == "curve"]
    curves.sort(key=lambda r: (order.get(r["task_id"], len(order)), r["case_id"]))
    curve_df = pd.DataFrame(
        [
            {
                "case_id": c["case_id"],
                "group": c["group"],
                "family": c["family"],
                "basis": c["basis"],
                "true_alpha": c["true_alpha"],
                "k": k,
                "rel_error": e,
            }
            for c in curves
            for k, e in zip(c["k"], c["rel_error"], strict=True)
        ],
        columns=["case_id", "group", "family", "basis", "true_alpha", "k", "rel_error"],
    )
    atomic_write_text(out / "results.csv", df.to_csv(index=False, float_format="%.10g"))
    atomic_write_text(out / "curves.csv", curve_df.to_csv(index=False, float_format="%.10g"))
    sv_df = pd.DataFrame(
        [{"case_id": c["case_id"], "singular_value": v} for c in curves for v in c.get("singular_values", [])],
        columns=["case_id", "singular_value"],
    )
    atomic_write_text(out / "spectra.csv", sv_df.to_csv(index=False, float_format="%.10g"))
    manifest = _manifest(suite, root_seed, workers, device, len(suite.tasks), time.perf_counter() - t0)
    manifest["results_sha256"] = hashlib.sha256((out / "results.csv").read_bytes()).hexdigest()
    atomic_write_text(out / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    partial.unlink(missing_ok=True)
    run_info.unlink(missing_ok=True)
    if report:
        write_report(out)
    return df
