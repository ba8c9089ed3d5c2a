"""End-to-end tests of the harness: CLI run, resume after a kill, failing cases, determinism, outputs."""

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

from sparsity.harness.cases import TIMING_COLUMNS, run_task
from sparsity.harness.runner import run_suite
from sparsity.harness.suite import SuiteError, load_suite

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
name = "light"
source = "synthetic"
generator = "gaussian"
sizes = [3000]
[[groups]]
name = "too-small"
source = "synthetic"
generator = "pareto"
params = { alpha = 1.0 }
sizes = [5]
"""

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _suite(tmp_path, body=TINY):
    path = tmp_path / "suite.toml"
    path.write_text(textwrap.dedent(body))
    return path


def _numbers(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=list(TIMING_COLUMNS)).reset_index(drop=True)


def _cli(*args, **kw):
    return subprocess.run(
        [sys.executable, "-m", "sparsity.cli", *args], capture_output=True, text=True, timeout=600, **kw
    )


def test_cli_end_to_end(tmp_path):
    out = tmp_path / "out"
    proc = _cli("run", "--suite", str(_suite(tmp_path)), "--out", str(out), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    df = pd.read_csv(out / "results.csv")
    # 4 pareto draws x 2 estimators + 1 gaussian x 1 + 1 failing case.
    assert len(df) == 10
    assert set(df["status"]) == {"ok", "skipped"}
    bad = df[df["status"] == "skipped"]
    assert len(bad) == 1 and "too-small" in bad["case_id"].iloc[0]
    assert "only 5 values in basis 'entries'" in bad["error"].iloc[0]
    ok = df[df["status"] == "ok"]
    assert ok["alpha_hat"].notna().all() and ok["measured_decay"].notna().all()
    heavy = ok[(ok["true_alpha"] == 0.8)]
    assert heavy["compressible"].all()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 11 and manifest["suite_sha256"] and manifest["versions"]["numpy"]
    assert not (out / "partial.jsonl").exists()
    for name in ("summary.md", "tables/synthetic.tex", "figures/decay_vs_alpha.png", "figures/curves_entries.png"):
        assert (out / name).stat().st_size > 0, name
    for png in (out / "figures").glob("*.png"):
        assert png.read_bytes()[:8] == PNG_MAGIC
        assert png.stat().st_size > 5000
    tex = (out / "tables" / "synthetic.tex").read_text()
    _check_latex(tex)
    # report re-renders from results.csv alone
    (out / "summary.md").unlink()
    assert _cli("report", str(out)).returncode == 0
    assert "| family |" in (out / "summary.md").read_text()


def _check_latex(tex: str) -> None:
    # The table layout is tests/test_report.py's; here only that the runner's report produced a booktabs table.
    assert tex.count(r"\begin{tabular}") == tex.count(r"\end{tabular}") >= 1
    assert r"\toprule" in tex and r"\bottomrule" in tex


def test_workers_do_not_change_results(tmp_path):
    suite = load_suite(_suite(tmp_path))
    one = run_suite(suite, tmp_path / "w1", workers=1, progress=False, report=False)
    two = run_suite(suite, tmp_path / "w2", workers=2, progress=False, report=False)
    pd.testing.assert_frame_equal(_numbers(one), _numbers(two))
    a = pd.read_csv(tmp_path / "w1" / "results.csv").drop(columns=list(TIMING_COLUMNS))
    b = pd.read_csv(tmp_path / "w2" / "results.csv").drop(columns=list(TIMING_COLUMNS))
    pd.testing.assert_frame_equal(a, b)


SLOW = """
name = "slow"
seed = 3
[[groups]]
name = "p"
source = "synthetic"
generator = "pareto"
params = { alpha = [0.7, 1.2, 1.7, 2.2, 2.7, 3.2] }
sizes = [150000]
estimators = ["hill"]
"""


def test_resume_after_kill_matches_uninterrupted_run(tmp_path):
    path = _suite(tmp_path, SLOW)
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sparsity.cli", "run", "--suite", str(path), "--out", str(out), "--no-progress"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    partial = out / "partial.jsonl"
    deadline = time.time() + 300
    while time.time() < deadline:
        if partial.exists() and partial.read_text().count('"task_done"') >= 2:
            break
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    if proc.poll() is not None:
        pytest.fail("the run finished before it could be killed; make the SLOW suite slower")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = partial.read_text().count('"task_done"')
    assert 2 <= done_before < 6
    assert not (out / "results.csv").exists()
    # A plain rerun refuses to overwrite the unfinished work.
    refuse = _cli("run", "--suite", str(path), "--out", str(out), "--no-progress")
    assert refuse.returncode == 2 and "--resume" in refuse.stderr
    resumed = _cli("run", "--suite", str(path), "--out", str(out), "--resume", "--no-progress")
    assert resumed.returncode == 0, resumed.stderr
    full = run_suite(load_suite(path), tmp_path / "full", progress=False, report=False)
    got = pd.read_csv(out / "results.csv")
    want = pd.read_csv(tmp_path / "full" / "results.csv")
    assert len(full) == 6
    pd.testing.assert_frame_equal(got.drop(columns=list(TIMING_COLUMNS)), want.drop(columns=list(TIMING_COLUMNS)))


def test_torn_partial_line_is_ignored_and_resume_checks_seed(tmp_path):
    suite = load_suite(_suite(tmp_path))
    out = tmp_path / "o"
    run_suite(suite, out, progress=False, report=False)
    want = pd.read_csv(out / "results.csv")
    # Simulate a crash that left one finished task and a torn line.
    recs = run_task(suite.tasks[0], suite.seed)
    lines = [json.dumps({**r, "task_id": suite.tasks[0].task_id}) for r in recs]
    lines.append(json.dumps({"kind": "task_done", "task_id": suite.tasks[0].task_id}))
    (out / "results.csv").unlink()
    (out / "partial.jsonl").write_text("\n".join(lines) + "\n" + '{"kind": "row", "case_')
    (out / "run.json").write_text(json.dumps({"suite_sha256": suite.sha256, "seed": suite.seed, "device": "cpu"}))
    with pytest.raises(SuiteError, match="cannot resume"):
        run_suite(suite, out, seed=999, resume=True, progress=False, report=False)
    got = run_suite(suite, out, resume=True, progress=False, report=False)
    assert len(got) == len(want)
    pd.testing.assert_frame_equal(
        pd.read_csv(out / "results.csv").drop(columns=list(TIMING_COLUMNS)), want.drop(columns=list(TIMING_COLUMNS))
    )


def test_bad_arguments(tmp_path):
    suite = load_suite(_suite(tmp_path))
    with pytest.raises(ValueError, match="workers must be an integer >= 1; got 0"):
        run_suite(suite, tmp_path / "x", workers=0)
    with pytest.raises(TypeError, match=r"workers must be an integer >= 1; got 2\.0"):
        run_suite(suite, tmp_path / "x", workers=2.0)
    with pytest.raises(ValueError, match=r"device must be one of \['cpu', 'gpu'\]; got 'tpu'"):
        run_suite(suite, tmp_path / "x", device="tpu")
    with pytest.raises(ValueError, match="seed must be an integer >= 0; got -1"):
        run_suite(suite, tmp_path / "x", seed=-1)
    proc = _cli("report", str(tmp_path / "empty"))
    assert proc.returncode == 2 and "results.csv does not exist" in proc.stderr


def test_spectrum_and_weight_file_cases(tmp_path):
    pytest.importorskip("safetensors")
    from safetensors.numpy import save_file

    import sparsity as sp

    rng = np.random.default_rng(0)
    weights = tmp_path / "model.safetensors"
    w = rng.standard_t(2.0, (300, 200)).astype(np.float32)
    save_file({"layer.weight": w, "layer.bias": np.zeros(300, np.float32)}, str(weights))
    corrupt = tmp_path / "broken.safetensors"
    corrupt.write_bytes(weights.read_bytes()[:1000])
    body = f"""
    name = "w"
    seed = 1
    [[groups]]
    name = "good"
    source = "path"
    path = "{weights}"
    basis = ["spectrum", "entries"]
    [[groups]]
    name = "bad"
    source = "path"
    path = "{corrupt}"
    """
    df = run_suite(load_suite(_suite(tmp_path, body)), tmp_path / "o", progress=False)
    good = df[df["group"] == "good"]
    assert list(good["tensor"]) == ["layer.weight", "layer.weight"]  # bias skipped by the tensor filter
    spec = good[good["basis"] == "spectrum"].iloc[0]
    assert spec["n"] == 200 and spec["alpha_ww"] == pytest.approx(1 + spec["alpha_hat"] / 2)
    # The harness's spectrum fit is the one of analyze_matrix (WeightWatcher-compatible ESD fit).
    layer = sp.analyze_matrix(w)
    assert spec["alpha_ww"] == pytest.approx(layer["alpha_ww"], rel=1e-9)
    assert spec["n_tail"] == layer["num_pl_spikes"]
    bad = df[df["group"] == "bad"]
    assert (bad["status"] == "error").all() and bad["error"].str.contains("broken.safetensors").all()
    assert (tmp_path / "o" / "figures" / "esd.png").stat().st_size > 5000
    assert list((tmp_path / "o" / "figures").glob("layers*.png"))  # the per-layer figure (named by the report)


@pytest.mark.gpu
def test_gpu_device_matches_cpu(tmp_path):
    # Same seeds -> same host draws; the CuPy path may differ from NumPy only by rounding of sums.
    body = """
    name = "gpu-small"
    seed = 5
    [[groups]]
    name = "p"
    source = "synthetic"
    generator = "pareto"
    params = { alpha = [0.8, 2.5] }
    sizes = [20000]
    estimators = ["csn", "hill"]
    [[groups]]
    name = "m"
    source = "synthetic"
    generator = "levy_matrix"
    params = { alpha = 1.5 }
    shapes = [[400, 200]]
    basis = ["spectrum", "entries"]
    estimators = { spectrum = ["csn"], entries = ["hill"] }
    """
    suite = load_suite(_suite(tmp_path, body))
    cpu = run_suite(suite, tmp_path / "cpu", progress=False, report=False)
    gpu = run_suite(suite, tmp_path / "gpu", device="gpu", progress=False, report=False)
    assert (gpu["status"] == "ok").all() and set(gpu["device"]) == {"gpu"}
    for col in ("alpha_hat", "measured_decay", "effective_sparsity", "n_tail"):
        np.testing.assert_allclose(gpu[col].astype(float), cpu[col].astype(float), rtol=1e-6, err_msg=col)


def test_cases_on_real_weights_report_each_tensor(tmp_path):
    # issue 15: the long step inside a case is visible: one plain stderr line per tensor (name, shape, seconds)
    w = tmp_path / "w.npz"
    np.savez(w, a=np.random.default_rng(0).standard_normal((40, 30)), b=np.random.default_rng(1).random((30, 20)))
    suite = tmp_path / "s.toml"
    suite.write_text(
        textwrap.dedent(
            f"""
            name = "tiny"
            seed = 1
            [[groups]]
            name = "w"
            source = "path"
            path = "{w}"
            basis = ["spectrum"]
            estimators = ["csn"]
            """
        )
    )
    out = subprocess.run(
        [sys.executable, "-m", "sparsity", "run", "--suite", str(suite), "--out", str(tmp_path / "o")],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ": tensor " in ln]
    assert len(lines) == 2 and "tensor 1/2 a (40, 30)" in lines[0] and lines[1].rstrip().endswith(" s")
    # off a terminal the case progress is plain lines too (no carriage returns anywhere on stderr)
    assert "\r" not in out.stderr and "tiny: [1/1] " in out.stderr
