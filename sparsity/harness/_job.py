"""A resumable job: its resume file, and the execution of its tasks on an executor until done or stopped.

Shared by the suite runner and the checkpoint analysis job. In the output folder:

- ``partial.jsonl``: one JSON record per line, appended and fsynced by the main process as each task finishes:
  the task's records tagged with its ``task_id``, then ``{"kind": "task_done", "task_id": ..., "t": ...}``;
  each session (a start or a resume) first appends ``{"kind": "session", "started": ...}``. A torn last line
  (a killed run) is ignored; a resume skips the tasks already done, on any executor.
- ``run.json``: what the job is (a resume of another job in the same folder is refused).
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from sparsity.harness._io import atomic_write_text
from sparsity.harness._manifest import session_record
from sparsity.harness._signals import Stopped, stop_on_signals
from sparsity.harness.executors import ExecutorLost, make_executor

__all__ = ["PARTIAL", "RUN_INFO", "Records", "RunInterrupted", "execute", "jsonl", "read_partial", "resume"]

PARTIAL = "partial.jsonl"
RUN_INFO = "run.json"

Records = list[dict[str, Any]]


class RunInterrupted(RuntimeError):
    """Raised after a stop signal or a lost executor: finished tasks are saved and ``--resume`` continues.

    Parameters
    ----------
    message : str
        What happened, what is saved and how to continue.
    signum : int, optional
        The signal that stopped the run (``signal.SIGINT`` for Ctrl-C); None when the executor lost its
        workers or its scheduler.
    """

    def __init__(self, message: str, signum: int | None = None) -> None:
        self.signum = signum
        super().__init__(message)


def read_partial(path: Path) -> Records:
    """The records of a resume file, up to its first torn or unreadable line."""
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


def jsonl(records: Iterable[dict[str, Any]]) -> str:
    """Records as JSON lines (NaN and infinity as JSON5 literals, which :func:`json.loads` reads back)."""
    return "".join(json.dumps(r, allow_nan=True) + "\n" for r in records)


def resume(out: Path, info: dict[str, Any], *, resume: bool, fresh: bool, error: type[Exception]) -> Records:
    """The resume step: refuse, discard or continue an unfinished job in ``out``.

    Returns the records of the tasks that finished before (none for a new job) and the earlier sessions, and
    leaves ``partial.jsonl`` holding exactly them, with ``run.json`` holding ``info``. Raises ``error`` for an
    unfinished job without ``resume``/``fresh``, or one whose ``run.json`` differs from ``info``.
    """
    partial, run_info = out / PARTIAL, out / RUN_INFO
    if partial.exists() and not (resume or fresh):
        raise error(f"{out} holds an unfinished run ({PARTIAL}); continue it with --resume or discard it with --fresh")
    if partial.exists() and resume:
        old = json.loads(run_info.read_text()) if run_info.exists() else {}
        if old and old != info:
            raise error(f"cannot resume in {out}: the unfinished run used {old}, this one {info}")
    else:
        partial.unlink(missing_ok=True)
    atomic_write_text(run_info, json.dumps(info))
    records = read_partial(partial)
    done = {r["task_id"] for r in records if r.get("kind") == "task_done"}
    records = [r for r in records if r.get("task_id") in done or r.get("kind") == "session"]
    # Rewrite the kept records so a torn tail from the interrupted run is dropped before appending.
    atomic_write_text(partial, jsonl(records))
    return records


def _stop_message(partial: Path, what: str) -> str:
    n_done = sum(1 for r in read_partial(partial) if r.get("kind") == "task_done")  # the file, not memory
    return f"{what}: {n_done} finished tasks are saved in {partial}; rerun with --resume to continue"


def execute(
    partial: Path | None,
    records: Records,
    tasks: Sequence[Any],
    fn: Callable[..., list[dict[str, Any]]],
    args: tuple[Any, ...],
    *,
    task_id: Callable[[Any], str],
    workers: int,
    scheduler: str | None,
    on_done: Callable[[Any, Records], None] | None = None,
) -> dict[str, Any]:
    """Run ``fn(task, *args)`` for every task on the executor of ``workers``/``scheduler``; save as they finish.

    ``task_id(task)`` names a task (unique, stable across runs: the resume key). Each finished task's records
    are tagged with its id, closed by a ``task_done`` record, appended (fsynced)
    to ``partial`` (None: kept in memory only) and to ``records``; then ``on_done(task, tagged)`` is called (for
    progress). The executor is made inside SIGINT/SIGTERM handlers, so a signal at any point stops its workers.

    Returns
    -------
    dict
        The executor's description (for the manifest).

    Raises
    ------
    RunInterrupted
        On SIGINT/SIGTERM (or Ctrl-C; ``signum`` says which) or a lost executor, after the workers stopped.
    """
    with open(partial, "a", encoding="utf-8") if partial is not None else open(os.devnull, "w") as fh:

        def save(recs: Records) -> None:
            fh.write(jsonl(recs))
            fh.flush()
            if partial is not None:
                os.fsync(fh.fileno())
            records.extend(recs)

        save([session_record()])
        try:
            with stop_on_signals(), make_executor(workers, scheduler) as executor:
                for task, recs in executor.map(fn, tasks, *args, keys=[task_id(t) for t in tasks]):
                    tid = task_id(task)
                    tagged = [{**r, "task_id": tid} for r in recs]
                    tagged.append({"kind": "task_done", "task_id": tid, "t": time.time()})
                    save(tagged)
                    if on_done is not None:
                        on_done(task, tagged)
        except Stopped as stop:
            raise RunInterrupted(_message(partial, str(stop)), stop.signum) from None
        except KeyboardInterrupt:
            raise RunInterrupted(_message(partial, "interrupted"), signal.SIGINT) from None
        except ExecutorLost as exc:
            raise RunInterrupted(_message(partial, str(exc))) from None
    return executor.describe()


def _message(partial: Path | None, what: str) -> str:
    if partial is None:
        return f"{what}; nothing was saved (give --out DIR to make the analysis resumable)"
    return _stop_message(partial, what)
