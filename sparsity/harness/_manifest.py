"""What a ``manifest.json`` records beyond the run's own fields: environment, sessions, a results hash.

Shared by the suite runner and the checkpoint analysis job. A run that was interrupted and resumed consists of
several sessions; each session appends a ``{"kind": "session", "started": t}`` record to the resume file and
each finished task a ``"t"`` (wall-clock time) in its ``task_done`` record, so the time a killed session spent
is known even when it could write nothing at its end.
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from sparsity._version import __version__

__all__ = ["environment", "git_commit", "relative_path", "results_sha256", "session_record", "sessions"]


def git_commit() -> str:
    """The commit of the source tree this package runs from, or ``""`` outside a git checkout."""
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


def environment() -> dict[str, Any]:
    """Versions, git commit, machine and BLAS threads (the manifest's environment fields)."""
    import pandas
    import scipy

    threads: Any
    try:
        from threadpoolctl import threadpool_info

        threads = [{k: d.get(k) for k in ("internal_api", "num_threads", "version")} for d in threadpool_info()]
    except ImportError:
        threads = None
    return {
        "versions": {
            "sparsity": __version__,
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "pandas": pandas.__version__,
        },
        "git_commit": git_commit(),
        "machine": {"platform": platform.platform(), "processor": platform.machine(), "cpus": os.cpu_count()},
        "threads": threads,
    }


def session_record() -> dict[str, Any]:
    """The record a session appends to the resume file when it starts."""
    return {"kind": "session", "started": time.time()}


def sessions(records: Iterable[dict[str, Any]], now: float | None = None) -> dict[str, Any]:
    """Sessions of a run from its records: how many, each one's seconds, and the total.

    A session lasts from its start to its last finished task (a killed session could write nothing at its
    end); the current (last) session ends ``now``.

    Parameters
    ----------
    records : iterable of dict
        The resume file's records, in the order written.
    now : float, optional
        End of the current session (``time.time()`` when None).

    Returns
    -------
    dict
        ``resumed`` (bool), ``sessions`` (list of seconds) and ``elapsed_total_s``.
    """
    spans: list[list[float]] = []
    for rec in records:
        if rec.get("kind") == "session":
            spans.append([float(rec["started"]), float(rec["started"])])
        elif rec.get("kind") == "task_done" and spans and "t" in rec:
            spans[-1][1] = max(spans[-1][1], float(rec["t"]))
    if spans:
        spans[-1][1] = time.time() if now is None else now
    seconds = [round(end - start, 3) for start, end in spans]
    return {"resumed": len(seconds) > 1, "sessions": seconds, "elapsed_total_s": round(sum(seconds), 3)}


def results_sha256(results: Any, timing_columns: Iterable[str], float_format: str) -> str:
    """SHA-256 of the results table as CSV without its timing columns: equal runs have equal hashes.

    Parameters
    ----------
    results : pandas.DataFrame
        The table written to ``results.csv``.
    timing_columns : iterable of str
        Columns that differ between otherwise identical runs (dropped when present).
    float_format : str
        The float format of ``results.csv``.
    """
    drop = [c for c in timing_columns if c in results.columns]
    text = results.drop(columns=drop).to_csv(index=False, float_format=float_format)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def relative_path(path: Any) -> str:
    """``path`` relative to the working directory when under it, else its name: no absolute paths in outputs."""
    if path is None:
        return ""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return Path(path).name
