"""SIGINT and SIGTERM stop a real ``sparsity-bench run --workers 2``: exit 128+signum, rows saved, no child left."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from slow_suite import SLOW

from sparsity.harness._signals import Stopped, exit_status, stop_on_signals

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc for the process tree")


def _group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(entry))
    return found


def _wait_for_saved_task(partial, proc, timeout=120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if partial.exists() and partial.read_text().count('"task_done"') >= 1:
            return
        if proc.poll() is not None:
            pytest.fail(f"the run ended before it could be stopped: {proc.communicate()[1]}")
        time.sleep(0.05)
    pytest.fail("no task finished in time")


@pytest.mark.parametrize(
    ("sig", "to_group"),
    [(signal.SIGINT, False), (signal.SIGTERM, False), (signal.SIGTERM, True)],
    ids=["SIGINT-main", "SIGTERM-main", "SIGTERM-group"],
)
def test_signal_stops_workers_saves_rows_and_exits(tmp_path, sig, to_group):
    suite = tmp_path / "slow.toml"
    suite.write_text(textwrap.dedent(SLOW))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "sparsity.cli", "run", "--suite", str(suite), "--out", str(out), "--workers", "2"]
    proc = subprocess.Popen(
        [*cmd, "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        _wait_for_saved_task(out / "partial.jsonl", proc)
        assert len(_group_members(proc.pid)) >= 3  # the main process and its two workers
        if to_group:  # what Slurm and a terminal do: the whole group gets it
            os.killpg(proc.pid, sig)
        else:  # what `kill PID` and Kubernetes do: only the main process gets it
            os.kill(proc.pid, sig)
        _, err = proc.communicate(timeout=30)  # promptly: the pool does not wait for running tasks
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == exit_status(sig) == 128 + sig
    assert "--resume" in err and signal.Signals(sig).name in err
    deadline = time.monotonic() + 10
    while _group_members(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _group_members(proc.pid) == []  # no orphaned worker
    records = [json.loads(line) for line in (out / "partial.jsonl").read_text().splitlines()]
    done = [r["task_id"] for r in records if r["kind"] == "task_done"]
    assert done and f"{len(done)} finished tasks are saved" in err
    assert all(any(r.get("task_id") == t and r["kind"] == "row" for r in records) for t in done)
    if not to_group:
        return
    resumed = subprocess.run([*cmd, "--resume", "--no-progress"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["resumed"] is True and len(manifest["sessions"]) == 2


def test_handlers_are_restored_and_raise_once():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Stopped) as info, stop_on_signals():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1)  # the handler runs at the next bytecode; never reached
    assert info.value.signum == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is before
