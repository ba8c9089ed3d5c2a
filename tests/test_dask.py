"""The Dask executor against a real scheduler and two worker processes on 127.0.0.1 (started and torn down here).

Cluster results equal local ones except timings; a resume crosses executors; a worker killed mid-run loses
nothing; a scheduler that goes away ends the run with a message and a resumable state. The tests share one
cluster and run in file order: the last two kill a worker, then the scheduler.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest
from slow_suite import SLOW

distributed = pytest.importorskip("distributed")

from sparsity.harness._code import IMPORTED_CODE, code_fingerprint  # noqa: E402
from sparsity.harness.analysis import TIMING_COLUMNS as ANALYZE_TIMING  # noqa: E402
from sparsity.harness.analysis import analyze_checkpoints  # noqa: E402
from sparsity.harness.cases import TIMING_COLUMNS, run_task  # noqa: E402
from sparsity.harness.executors import DaskExecutor, ExecutorLost  # noqa: E402
from sparsity.harness.runner import run_suite  # noqa: E402
from sparsity.harness.suite import load_suite  # noqa: E402

TINY = """
name = "tiny"
seed = 11
[[groups]]
name = "heavy"
source = "synthetic"
generator = "pareto"
params = { alpha = [0.8, 2.5] }
sizes = [3000]
replicates = 2
estimators = ["csn", "hill"]
[[groups]]
name = "m"
source = "synthetic"
generator = "levy_matrix"
params = { alpha = 1.5 }
shapes = [[120, 80]]
basis = ["spectrum", "entries"]
"""


def _spawn(*args):
    return subprocess.Popen(
        [sys.executable, "-m", "dask", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own group: torn down with killpg whatever it started
    )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and two single-threaded worker processes (no nanny: killing one is killing the worker)."""
    sched_file = tmp_path_factory.mktemp("dask") / "scheduler.json"
    procs = [_spawn("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                    "--scheduler-file", str(sched_file))]  # fmt: skip
    try:
        for _ in range(2):
            procs.append(_spawn("worker", "--scheduler-file", str(sched_file), "--nthreads", "1", "--no-nanny",
                                "--no-dashboard", "--host", "127.0.0.1"))  # fmt: skip
        deadline = time.monotonic() + 60
        while not sched_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        with distributed.Client(scheduler_file=str(sched_file), timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
            # the workers' sparsity source, imported now (a lambda travels by value; this module does not)
            theirs = set(
                client.run(lambda: __import__("sparsity.harness._code", fromlist=["_"]).IMPORTED_CODE).values()
            )
        _skip_if_source_changed(theirs)  # the executor would refuse such workers (a test below checks it)
        yield {"file": str(sched_file), "procs": procs}
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def _skip_if_source_changed(workers_code):
    """Skip when the sparsity source differs from what pytest imported: its workers would run other code.

    Dask workers import the source when they start; this process imported it at collection. In a working tree
    being edited meanwhile, the comparisons below would be between two versions of the code.
    """
    if set(workers_code) != {IMPORTED_CODE}:
        pytest.skip(f"the sparsity source changed since pytest imported it ({IMPORTED_CODE} -> "
                    f"{sorted(set(workers_code))}): Dask workers would run other code")  # fmt: skip


def _suite(tmp_path, body):
    path = tmp_path / "suite.toml"
    path.write_text(textwrap.dedent(body))
    return load_suite(path)


def _numbers(path):
    return pd.read_csv(path).drop(columns=list(TIMING_COLUMNS))


def test_cluster_results_equal_local_results(tmp_path, cluster):
    suite = _suite(tmp_path, TINY)
    run_suite(suite, tmp_path / "local", workers=1, progress=False, report=False)
    run_suite(suite, tmp_path / "dask", scheduler=cluster["file"], progress=False, report=False)
    pd.testing.assert_frame_equal(_numbers(tmp_path / "dask/results.csv"), _numbers(tmp_path / "local/results.csv"))
    local, dask = (json.loads((tmp_path / d / "manifest.json").read_text()) for d in ("local", "dask"))
    assert dask["executor"]["kind"] == "dask" and dask["executor"]["workers"] == 2
    assert local["executor"] == {"kind": "inline", "workers": 1}
    # The hash leaves the timing columns out: equal results, equal hashes.
    assert dask["results_sha256"] == local["results_sha256"]


def test_workers_with_other_code_are_refused(cluster):
    # Workers import sparsity when their first task arrives (a LocalCluster spawns them, so they read the files
    # as they are then); one that runs other code than the client must stop the run, not give other rows.
    with DaskExecutor(cluster["file"]) as ex:
        assert ex.describe()["code"] == IMPORTED_CODE
        assert sorted(r for _, r in ex.map(abs, [-2, 1], keys=["a", "b"])) == [1, 2]
        ex.code = "0" * 16  # as if this process had imported other source than the workers
        with pytest.raises(ExecutorLost, match="other sparsity code"):
            list(ex.map(abs, [-2, 1], keys=["a", "b"]))


@pytest.mark.slow
def test_local_cluster_equals_the_pool(tmp_path):
    # --scheduler local: processes (not this one), one thread each, no memory limit; the same rows as the pool.
    _skip_if_source_changed({code_fingerprint()})  # what the workers, spawned below, will import
    suite = _suite(tmp_path, TINY)
    run_suite(suite, tmp_path / "pool", workers=2, progress=False, report=False)
    with DaskExecutor("local", 2) as ex:
        info = ex._client.scheduler_info()["workers"].values()
        assert [w["nthreads"] for w in info] == [1, 1] and all(not w["memory_limit"] for w in info)
        assert os.getpid() not in ex._local_pids and len(set(ex._local_pids)) == 2
        assert ex.describe()["start_s"] > 0 and ex.describe()["close_s"] is None
    assert ex.describe()["close_s"] >= 0
    run_suite(suite, tmp_path / "dask", workers=2, scheduler="local", progress=False, report=False)
    pd.testing.assert_frame_equal(_numbers(tmp_path / "dask/results.csv"), _numbers(tmp_path / "pool/results.csv"))
    executor = json.loads((tmp_path / "dask" / "manifest.json").read_text())["executor"]
    assert executor["scheduler"] == "local" and executor["workers"] == 2 and executor["close_s"] is not None


def test_resume_across_executors(tmp_path, cluster):
    suite = _suite(tmp_path, TINY)
    want = run_suite(suite, tmp_path / "want", progress=False, report=False)
    out = tmp_path / "o"
    out.mkdir()
    # A local run that finished 3 tasks and was killed (its session record, rows and a torn last line).
    lines = [json.dumps({"kind": "session", "started": time.time() - 5})]
    for task in suite.tasks[:3]:
        lines += [json.dumps({**r, "task_id": task.task_id}) for r in run_task(task, suite.seed)]
        lines.append(json.dumps({"kind": "task_done", "task_id": task.task_id, "t": time.time() - 4}))
    (out / "partial.jsonl").write_text("\n".join(lines) + '\n{"kind": "row", "ca')
    (out / "run.json").write_text(json.dumps({"suite_sha256": suite.sha256, "seed": suite.seed, "device": "cpu"}))
    got = run_suite(suite, out, scheduler=cluster["file"], resume=True, progress=False, report=False)
    assert len(got) == len(want)
    pd.testing.assert_frame_equal(_numbers(out / "results.csv"), _numbers(tmp_path / "want/results.csv"))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["resumed"] is True and len(manifest["sessions"]) == 2 and manifest["elapsed_total_s"] >= 1


def test_analyze_on_the_cluster_equals_local(tmp_path, cluster):
    rng = np.random.default_rng(4)
    paths = []
    for name, df in (("ckA", 2.0), ("ckB", 6.0)):
        (tmp_path / name).mkdir()
        path = tmp_path / name / "model.npz"
        np.savez(path, **{f"w{i}": rng.standard_t(df, (90, 60)) for i in range(3)}, bias=np.zeros(60))
        paths.append(str(path))
    local = analyze_checkpoints(paths, tmp_path / "local", progress=False)
    dask = analyze_checkpoints(paths, tmp_path / "dask", scheduler=cluster["file"], progress=False)
    assert list(local["checkpoint"]) == ["ckA"] * 3 + ["ckB"] * 3  # named by folder, never merged by file name
    cols = [c for c in local.columns if c not in ANALYZE_TIMING]
    pd.testing.assert_frame_equal(dask[cols], local[cols])
    hashes = [json.loads((tmp_path / d / "manifest.json").read_text())["results_sha256"] for d in ("local", "dask")]
    assert hashes[0] == hashes[1]


def _cli_run(suite_path, out, *extra):
    cmd = [sys.executable, "-m", "sparsity.cli", "run", "--suite", str(suite_path), "--out", str(out)]
    return subprocess.Popen([*cmd, "--no-progress", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)  # fmt: skip


def _wait_saved(partial, proc, n=1, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if partial.exists() and partial.read_text().count('"task_done"') >= n:
            return
        assert proc.poll() is None, proc.communicate()[1]
        time.sleep(0.05)
    pytest.fail("no task finished in time")


def test_worker_killed_mid_run_loses_nothing(tmp_path, cluster):
    (tmp_path / "slow.toml").write_text(textwrap.dedent(SLOW))
    out = tmp_path / "out"
    proc = _cli_run(tmp_path / "slow.toml", out, "--scheduler", cluster["file"])
    try:
        _wait_saved(out / "partial.jsonl", proc)
        with distributed.Client(scheduler_file=cluster["file"], timeout=30) as client:
            pids = client.run(os.getpid)
            busy = [addr for addr, keys in client.processing().items() if keys]
        assert busy, "no worker was running a task"
        victim = pids[busy[0]]
        assert victim in [p.pid for p in cluster["procs"]]  # one of the workers this module started
        os.kill(victim, signal.SIGKILL)
        _, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, err
    df = pd.read_csv(out / "results.csv")
    assert len(df) == 8 and (df["status"] == "ok").all()  # the killed worker's task ran again elsewhere


def test_scheduler_lost_ends_the_run_resumably(tmp_path, cluster):
    (tmp_path / "slow.toml").write_text(textwrap.dedent(SLOW))
    out = tmp_path / "out"
    proc = _cli_run(tmp_path / "slow.toml", out, "--scheduler", cluster["file"])
    try:
        _wait_saved(out / "partial.jsonl", proc)
        os.killpg(cluster["procs"][0].pid, signal.SIGKILL)  # the scheduler
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 1, err
    assert "lost the connection to the Dask scheduler" in err and "--resume" in err
    # Finish on the local pool: a resume crosses executors.
    resumed = subprocess.run(
        [sys.executable, "-m", "sparsity.cli", "run", "--suite", str(tmp_path / "slow.toml"), "--out", str(out),
         "--resume", "--workers", "2", "--no-progress"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert len(pd.read_csv(out / "results.csv")) == 8
