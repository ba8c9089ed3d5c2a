"""Failing cases: expected data errors are rows and the run succeeds; unexpected errors are rows too, but their
tracebacks go to OUT/errors.log and the run fails (RunFailed, CLI exit 1). NaN fits leave compressible missing."""

from __future__ import annotations

import json
import math
import textwrap

import numpy as np
import pandas as pd
import pytest

from sparsity.cli import main
from sparsity.harness import cases
from sparsity.harness.cases import is_expected_error, run_task
from sparsity.harness.runner import ERRORS_LOG, RunFailed, run_suite
from sparsity.harness.suite import load_suite
from sparsity.weights import CorruptWeightsError, MissingDependencyError, WeightsWarning

MINI = """
name = "mini"
seed = 7
[[groups]]
name = "p"
source = "synthetic"
generator = "pareto"
params = { alpha = [0.8, 2.5] }
sizes = [2000]
estimators = ["csn", "hill"]
"""


class TwoArgError(Exception):
    """An exception whose constructor takes two arguments (``type(exc)(message)`` would break on it)."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path, self.problem = path, problem


def _suite(tmp_path):
    path = tmp_path / "mini.toml"
    path.write_text(textwrap.dedent(MINI))
    return load_suite(path)


def _fail_hill(monkeypatch, exc: Exception) -> None:
    """Make every ``hill`` fit raise ``exc``; the ``csn`` fits run as usual."""
    real = cases.fit_tail

    def fit_tail(values, method="csn", **options):
        if method == "hill":
            raise exc
        return real(values, method=method, **options)

    monkeypatch.setattr(cases, "fit_tail", fit_tail)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ValueError("too few values"), True),
        (np.linalg.LinAlgError("SVD did not converge"), True),
        (FloatingPointError("overflow"), True),
        (CorruptWeightsError("w.safetensors", "truncated header"), True),
        (MissingDependencyError("w.onnx", "reading ONNX needs onnx"), True),
        (ModuleNotFoundError("No module named 'cupy'", name="cupy"), True),
        (ModuleNotFoundError("No module named 'sparsity.gone'", name="sparsity.gone"), False),
        (TypeError("unexpected keyword"), False),
        (KeyError("alpha"), False),
        (AttributeError("no attribute 'problem'"), False),
        (TwoArgError("w.bin", "bad"), False),
    ],
)
def test_expected_error_rule(exc, expected):
    assert is_expected_error(exc) is expected


def test_unexpected_error_keeps_rows_writes_tracebacks_and_fails(tmp_path, monkeypatch, capsys):
    suite = _suite(tmp_path)
    _fail_hill(monkeypatch, TwoArgError("layer.bin", "an exception with a two-argument constructor"))
    out = tmp_path / "o"
    with pytest.raises(RunFailed, match=r"2 case\(s\) failed with unexpected errors") as info:
        run_suite(suite, out, progress=False)
    hill = [f"{t.task_id}/entries/hill" for t in suite.tasks]
    assert info.value.failed == hill and info.value.log == out / ERRORS_LOG
    # Nothing is lost: every row is written, the failed ones with status error and the exception's message.
    df = pd.read_csv(out / "results.csv")
    assert len(df) == len(info.value.results) == 4
    failed = df[df["estimator"] == "hill"]
    assert (failed["status"] == "error").all()
    assert (failed["error"] == "TwoArgError: layer.bin: an exception with a two-argument constructor").all()
    assert (df.loc[df["estimator"] == "csn", "status"] == "ok").all()
    log = (out / ERRORS_LOG).read_text()
    assert all(f"== {case_id}\n" in log for case_id in hill)
    assert log.count("Traceback (most recent call last)") == 2 and "in fit_tail" in log
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["failed_cases"] == 2 and manifest["errors_log"] == ERRORS_LOG
    assert "2 case(s) failed with unexpected errors" in (out / "summary.md").read_text()
    assert not (out / "partial.jsonl").exists()
    # The command line says how many failed and where the tracebacks are, and exits 1.
    capsys.readouterr()
    assert main(["run", "--suite", str(suite.path), "--out", str(tmp_path / "cli"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "2 case(s) failed with unexpected errors" in err and str(tmp_path / "cli" / ERRORS_LOG) in err
    # A clean rerun in the same folder removes the stale log.
    monkeypatch.undo()
    run_suite(suite, out, progress=False, report=False)
    assert not (out / ERRORS_LOG).exists()
    assert json.loads((out / "manifest.json").read_text())["failed_cases"] == 0


def test_expected_data_error_is_a_row_and_the_run_succeeds(tmp_path, monkeypatch, capsys):
    suite = _suite(tmp_path)
    _fail_hill(monkeypatch, ValueError("hill needs at least 10 tail values"))
    out = tmp_path / "o"
    df = run_suite(suite, out, progress=False, report=False)
    failed = df[df["estimator"] == "hill"]
    assert (failed["status"] == "error").all()
    assert (failed["error"] == "ValueError: hill needs at least 10 tail values").all()
    assert not (out / ERRORS_LOG).exists()
    assert json.loads((out / "manifest.json").read_text())["failed_cases"] == 0
    assert main(["run", "--suite", str(suite.path), "--out", str(tmp_path / "cli"), "--no-progress"]) == 0
    assert "failed with unexpected errors" not in capsys.readouterr().err


def test_tracebacks_survive_a_resume(tmp_path, monkeypatch):
    suite = _suite(tmp_path)
    out = tmp_path / "o"
    out.mkdir()
    # The first task finished (with an unexpected failure) before the run was killed.
    _fail_hill(monkeypatch, KeyError("alpha"))
    first = suite.tasks[0]
    recs = [{**r, "task_id": first.task_id} for r in run_task(first, suite.seed)]
    recs.append({"kind": "task_done", "task_id": first.task_id})
    (out / "partial.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    (out / "run.json").write_text(json.dumps({"suite_sha256": suite.sha256, "seed": suite.seed, "device": "cpu"}))
    monkeypatch.undo()
    with pytest.raises(RunFailed) as info:
        run_suite(suite, out, resume=True, progress=False, report=False)
    assert info.value.failed == [f"{first.task_id}/entries/hill"]
    assert "KeyError: 'alpha'" in (out / ERRORS_LOG).read_text()


def test_nan_alpha_leaves_compressible_and_agreement_missing(tmp_path, monkeypatch):
    suite = _suite(tmp_path)
    real = cases._tail

    def nan_for_hill(values, basis, estimator, options, rng, big):
        tail = real(values, basis, estimator, options, rng, big)
        return {**tail, "alpha": math.nan, "lo": math.nan, "hi": math.nan} if estimator == "hill" else tail

    monkeypatch.setattr(cases, "_tail", nan_for_hill)
    out = tmp_path / "o"
    df = run_suite(suite, out, progress=False)
    hill, csn = df[df["estimator"] == "hill"], df[df["estimator"] == "csn"]
    assert (hill["status"] == "ok").all() and hill["compressible"].isna().all() and hill["agrees"].isna().all()
    assert set(csn["compressible"]) == {True, False}  # alpha 0.8 is compressible, 2.5 is not
    written = pd.read_csv(out / "results.csv")
    assert written.loc[written["estimator"] == "hill", "compressible"].isna().all()
    summary = (out / "summary.md").read_text()
    assert "no alpha; counted in neither the compressible nor the agree share): 2." in summary


def test_unreadable_file_in_a_weight_directory_is_an_error_row(tmp_path):
    weights = tmp_path / "w"
    weights.mkdir()
    np.save(weights / "a.npy", np.random.default_rng(0).standard_t(3.0, (60, 40)))
    (weights / "b.npy").write_bytes(b"\x93NUMPY\x01\x00 truncated")
    body = f"""
    name = "dir"
    [[groups]]
    name = "d"
    source = "path"
    path = "{weights}"
    """
    path = tmp_path / "dir.toml"
    path.write_text(textwrap.dedent(body))
    with pytest.warns(WeightsWarning, match="b.npy"):
        df = run_suite(load_suite(path), tmp_path / "o", progress=False, report=False)
    assert list(df["status"]) == ["ok", "error"]
    bad = df.iloc[1]
    assert bad["tensor"] == "b.npy" and bad["error"].startswith("unreadable tensor (file): ")
    assert not (tmp_path / "o" / ERRORS_LOG).exists()
