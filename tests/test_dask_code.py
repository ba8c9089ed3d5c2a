"""The source fingerprint that holds Dask workers to the client's code, and the worker-side check (no cluster).

A LocalCluster spawns its workers, which import sparsity from the files as they are when their first task
arrives; a process pool forks and keeps the parent's modules. A source file edited in between made the Dask side
of bench/dask_vs_pool.py run other code than the pool (a case error on one side only, not reproducible).
"""

from __future__ import annotations

import shutil
from types import SimpleNamespace

import pytest

from sparsity.harness import _dask
from sparsity.harness._code import IMPORTED_CODE, code_fingerprint
from sparsity.harness._executor import ExecutorLost


def _tree(root):
    (root / "sub").mkdir(parents=True)
    (root / "__init__.py").write_text("x = 1\n")
    (root / "sub" / "mod.py").write_text("def f():\n    return 2\n")
    (root / "data.toml").write_text("a = 1\n")  # not source: ignored
    return root


def test_fingerprint_follows_the_source_not_the_place(tmp_path):
    a = _tree(tmp_path / "a")
    fp = code_fingerprint(a)
    assert len(fp) == 16 and fp == code_fingerprint(a)
    shutil.copytree(a, tmp_path / "b")
    assert code_fingerprint(tmp_path / "b") == fp  # another installation of the same source
    (a / "data.toml").write_text("a = 2\n")
    assert code_fingerprint(a) == fp
    (a / "sub" / "mod.py").write_text("def f():\n    return 3\n")  # one byte of one module
    assert code_fingerprint(a) != fp
    (a / "sub" / "mod.py").write_text("def f():\n    return 2\n")
    (a / "sub" / "new.py").write_text("")  # a new, empty module
    assert code_fingerprint(a) != fp


def test_worker_check_runs_the_task_only_on_the_clients_code(monkeypatch):
    mine = IMPORTED_CODE  # the source as this process imported it (the disk may have changed since)
    assert _dask._checked(divmod, mine, 7, 2) == (3, 1)
    with pytest.raises(_dask.CodeMismatch, match="fingerprint"):
        _dask._checked(divmod, "0" * 16, 7, 2)
    # a worker that imported other source (spawned after an edit, or a stale install)
    monkeypatch.setattr(_dask, "_worker_code", lambda: "f" * 16)
    with pytest.raises(_dask.CodeMismatch):
        _dask._checked(divmod, mine, 7, 2)


def test_failed_tasks_become_a_clear_lost_executor():
    distributed = pytest.importorskip("distributed")
    ex = _dask.DaskExecutor.__new__(_dask.DaskExecutor)  # only what _raise_failed reads
    ex._dist = distributed
    with pytest.raises(ExecutorLost, match=r"other sparsity code.*task quick/a.*finished are saved"):
        ex._raise_failed("quick/a", _dask.CodeMismatch("the worker's ..."))
    worker = SimpleNamespace(address="tcp://127.0.0.1:1")  # the scheduler's WorkerState, as far as read
    with pytest.raises(ExecutorLost, match=r"task quick/b .*out of memory"):
        ex._raise_failed("quick/b", distributed.KilledWorker("run_task-quick/b", worker, 3))
    with pytest.raises(KeyError):  # anything else is the task's own exception, as on the pool
        ex._raise_failed("quick/c", KeyError("alpha"))
