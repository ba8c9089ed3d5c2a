"""Study suites (training, quantization) through the suite machinery: loading, running, resuming, skipping."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from sparsity.cli import main
from sparsity.harness import quantization, training
from sparsity.harness._job import PARTIAL, RUN_INFO, jsonl
from sparsity.harness._manifest import session_record
from sparsity.harness.runner import run_suite
from sparsity.harness.studies import run_study_task
from sparsity.harness.suite import SuiteError, load_suite

pytest.importorskip("torch")

TINY = """
name = "tiny-training"
seed = 5
[[groups]]
name = "t"
source = "training"
task = "teacher"
batch_sizes = [32, 128]
lrs = [0.1]
replicates = 2
epochs = 2
interval_replicates = 0
options = { width = 24, depth = 1, d = 16, n_out = 8, teacher_sv = [4.0, 3.0], n_train = 200, n_test = 100 }
optional = true
"""
TIMINGS = ["t_train", "t_analyze"]


def _suite_file(tmp_path: Path, text: str = TINY) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(text)
    return path


def _tables(out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    runs = pd.read_csv(out / "training_runs.csv").drop(columns=TIMINGS)
    return pd.read_csv(out / "training_layers.csv"), runs


@pytest.mark.parametrize("name", ["training", "quantization"])
def test_shipped_study_suites_load(name):
    suite = load_suite(name)
    assert suite.study == name
    assert len(suite.tasks) + len(suite.skipped_groups) > 0
    assert len({t.task_id for t in suite.tasks}) == len(suite.tasks)


def test_training_suite_expands_to_the_grid_with_the_suite_seed():
    suite = load_suite("training")
    if suite.skipped_groups:
        pytest.skip(f"skipped: {suite.skipped_groups}")
    assert len(suite.tasks) == 2 * 3 * 2 * 3  # tasks x batch sizes x learning rates x replicates
    config = suite.tasks[0].params["config"]
    assert config["seed"] == suite.seed and config["epochs"] == 20


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("bogus = 1", r"group 't'.*unknown key 'bogus'"),
        ("batch_sizes = [0]", r"group 't'.*batch_sizes"),
        ('task = "mnist"', r"group 't'.*task must be one of digits, teacher; got 'mnist'"),
    ],
)
def test_bad_study_groups_name_file_group_and_key(tmp_path, line, match):
    key = line.split(" = ")[0]
    text = "\n".join(row for row in TINY.splitlines() if not row.startswith(f"{key} ="))
    path = _suite_file(tmp_path, text.replace('source = "training"', f'source = "training"\n{line}'))
    with pytest.raises(SuiteError, match=match) as info:
        load_suite(path)
    assert str(path) in str(info.value)


def test_study_and_case_groups_cannot_be_mixed(tmp_path):
    mixed = (
        TINY
        + '[[groups]]\nname = "p"\nsource = "synthetic"\ngenerator = "pareto"\n'
        + "params = { alpha = 1.0 }\nsizes = [100]\n"
    )
    with pytest.raises(SuiteError, match=r"group 'p'.*cannot be mixed"):
        load_suite(_suite_file(tmp_path, mixed))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The tiny suite run in this process (workers=1): the reference the other runs must equal."""
    tmp = tmp_path_factory.mktemp("reference")
    run_suite(load_suite(_suite_file(tmp)), tmp / "w1", workers=1, progress=False)
    return tmp / "w1"


def test_rows_do_not_depend_on_workers_and_cli_runs(tmp_path, reference):
    path = _suite_file(tmp_path)
    assert main(["run", "--suite", str(path), "--out", str(tmp_path / "w2"), "--workers", "2", "--no-progress"]) == 0
    (l1, r1), (l2, r2) = _tables(reference), _tables(tmp_path / "w2")
    assert len(r1) == 4 and len(l1) == 4 * 3 * 2  # runs x epochs (0..2) x layers
    pd.testing.assert_frame_equal(l1.drop(columns=TIMINGS, errors="ignore"), l2.drop(columns=TIMINGS, errors="ignore"))
    pd.testing.assert_frame_equal(r1, r2)
    m1, m2 = (json.loads((d / "manifest.json").read_text()) for d in (reference, tmp_path / "w2"))
    assert m1["results_sha256"] == m2["results_sha256"] and m2["workers"] == 2
    for name in ("summary.md", "figures/alpha_vs_score.png"):
        assert (tmp_path / "w2" / name).is_file()
    assert not (tmp_path / "w2" / PARTIAL).exists() and not (tmp_path / "w2" / RUN_INFO).exists()


def test_resume_after_a_partial_file_equals_an_uninterrupted_run(tmp_path, reference):
    suite = load_suite(_suite_file(tmp_path))
    # An interrupted run: one task finished and saved, then a torn line.
    out = tmp_path / "resumed"
    out.mkdir()
    first = suite.tasks[0]
    recs = [{**r, "task_id": first.task_id} for r in run_study_task(first, suite.seed)]
    text = jsonl([session_record(), *recs, {"kind": "task_done", "task_id": first.task_id, "t": 0.0}])
    (out / PARTIAL).write_text(text + '{"kind": "lay')
    (out / RUN_INFO).write_text(json.dumps({"suite_sha256": suite.sha256, "seed": suite.seed, "study": "training"}))
    with pytest.raises(SuiteError, match="--resume"):
        run_suite(suite, out, workers=1, progress=False)
    run_suite(suite, out, workers=1, progress=False, resume=True)
    for a, b in zip(_tables(reference), _tables(out), strict=True):
        pd.testing.assert_frame_equal(
            a.drop(columns=TIMINGS, errors="ignore"), b.drop(columns=TIMINGS, errors="ignore")
        )
    assert json.loads((out / "manifest.json").read_text())["resumed"] is True


def test_missing_torch_skips_an_optional_group_with_a_note(tmp_path, monkeypatch):
    reason = "training task 'teacher' needs torch: pip install 'sparsity[torch]'"
    monkeypatch.setattr(training, "training_skip_reason", lambda task="digits": reason)
    path = _suite_file(tmp_path)
    suite = load_suite(path)
    assert suite.tasks == [] and suite.skipped_groups == [f"t: {reason}"]
    run_suite(suite, tmp_path / "out", progress=False)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["skipped_groups"] == [f"t: {reason}"]
    assert reason in (tmp_path / "out" / "summary.md").read_text()
    path.write_text(TINY.replace("optional = true", "optional = false"))
    with pytest.raises(SuiteError, match=r"group 't'.*needs torch.*optional = true"):
        load_suite(path)


def test_missing_quantization_dependency_skips_an_optional_group(tmp_path, monkeypatch):
    reason = "all-MiniLM-L6-v2: missing (sparsity-bench datasets --install all-MiniLM-L6-v2)"
    monkeypatch.setattr(quantization, "case_skip_reason", lambda case: reason)
    text = 'name = "q"\n[[groups]]\nname = "m"\nsource = "quantization"\nentry = "all-MiniLM-L6-v2"\noptional = true\n'
    suite = load_suite(_suite_file(tmp_path, text))
    assert suite.study == "quantization" and suite.tasks == [] and suite.skipped_groups == [f"m: {reason}"]
    with pytest.raises(SuiteError, match=r"group 'm'.*formats"):
        load_suite(_suite_file(tmp_path, text + 'formats = ["fp4"]\n'))
