"""Tests for sparsity.harness.suite: the shipped suites load, bad suite files give one clear error."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from sparsity.harness.suite import GENERATORS, SuiteError, load_suite, suite_names

GOOD_GROUP = """
[[groups]]
name = "p"
source = "synthetic"
generator = "pareto"
params = { alpha = [0.8, 1.5] }
sizes = [1000, 2000]
replicates = 2
estimators = ["csn", "hill"]
"""


def _write(tmp_path, body: str, name: str = "s.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


@pytest.mark.parametrize("name", ["quick", "full", "gpu", "coverage"])
def test_shipped_suites_load(name):
    assert name in suite_names()
    suite = load_suite(name)
    assert suite.name == name
    assert suite.tasks
    ids = [t.task_id for t in suite.tasks]
    assert len(ids) == len(set(ids))
    for task in suite.tasks:
        if task.generator:
            assert task.generator in GENERATORS


def test_quick_suite_covers_the_brief():
    suite = load_suite("quick")
    gens = {t.generator for t in suite.tasks}
    assert {"pareto", "stable", "student_t", "gaussian", "laplace"} <= gens
    assert {"gaussian_matrix", "levy_matrix", "spiked_matrix", "power_law_spectrum"} <= gens
    alphas = [t.params["alpha"] for t in suite.tasks if t.generator == "pareto"]
    assert min(alphas) == 0.5 and max(alphas) == 3.0
    sizes = {t.shape[0] for t in suite.tasks if t.generator == "pareto"}
    assert min(sizes) == 10**4 and max(sizes) == 10**6


def test_grid_expansion_and_seeds(tmp_path):
    suite = load_suite(_write(tmp_path, "seed = 5\n" + GOOD_GROUP))
    assert len(suite.tasks) == 2 * 2 * 2  # alpha x size x replicate
    assert suite.tasks[0].task_id == "p/pareto/alpha=0.8/1000/r0"
    seeds = {tuple(t.seed(suite.seed)) for t in suite.tasks}
    assert len(seeds) == len(suite.tasks)
    # The seed depends on the task id only, not on its position.
    again = load_suite(_write(tmp_path, "seed = 5\n" + GOOD_GROUP, "t.toml"))
    assert [t.seed(5) for t in again.tasks] == [t.seed(5) for t in suite.tasks]


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (GOOD_GROUP.replace('"pareto"', '"zipf"'), r"unknown generator 'zipf'; known generators are pareto"),
        (
            GOOD_GROUP.replace("alpha = [0.8, 1.5]", "alpha = [0.8, -1.0]"),
            r"parameter 'alpha' must be a finite real number > 0; got -1.0",
        ),
        (GOOD_GROUP.replace("alpha = [0.8, 1.5]", "beta = 0.5"), r"generator 'pareto' needs parameter 'alpha'"),
        (GOOD_GROUP.replace("alpha =", "gamma = 1, alpha ="), r"generator 'pareto' has no parameter 'gamma'"),
        (GOOD_GROUP.replace("replicates = 2", "replicate = 2"), r"unknown key 'replicate'; allowed keys are"),
        (GOOD_GROUP.replace('"hill"]', '"hil"]'), r"estimators must be one of \['csn', .*\]; got 'hil'"),
        (GOOD_GROUP.replace("sizes = [1000, 2000]", "sizes = [0]"), r"sizes must be an integer >= 1; got 0"),
        (GOOD_GROUP + 'basis = "spectrum"\n', r"takes sizes \(not shapes\) and basis 'entries' only"),
        ("seed = -1\n" + GOOD_GROUP, r"seed must be an integer >= 0; got -1"),
        ("seed = 1.5\n" + GOOD_GROUP, r"seed must be an integer >= 0; got 1.5"),
        (GOOD_GROUP.replace("sizes = [1000, 2000]", "sizes = [1000.0]"), r"sizes must be an integer >= 1; got 1000.0"),
        (GOOD_GROUP + 'basis = "weights"\n', r"basis must be one of \['entries', 'spectrum'\]; got 'weights'"),
        (
            GOOD_GROUP.replace('"pareto"', '"stable"').replace("alpha = [0.8, 1.5]", "alpha = 1.5, beta = 1.5"),
            r"parameter 'beta' must be a finite real number in \[-1, 1\]; got 1.5",
        ),
        ("colour = 1\n" + GOOD_GROUP, r"unknown key 'colour'"),
        ("name = 1\n[[groups]]\nname = 'a'\nsource = 'web'\n", r"source must be one of synthetic, catalog, path"),
        ("[[groups]]\nname = 'a'\nsource = 'path'\npath = '/nonexistent/w.safetensors'\n", r"does not exist"),
        ("this is not toml", r"not valid TOML"),
    ],
)
def test_bad_suite_files(tmp_path, body, match):
    path = _write(tmp_path, body)
    with pytest.raises(SuiteError, match=match) as info:
        load_suite(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_suite_name():
    with pytest.raises(SuiteError, match=r"suite 'nope' not found.*quick"):
        load_suite("nope")


def test_bad_suite_file_through_cli_is_one_line_exit_2(tmp_path):
    path = _write(tmp_path, GOOD_GROUP.replace('"pareto"', '"zipf"'))
    proc = subprocess.run(
        [sys.executable, "-m", "sparsity.cli", "run", "--suite", str(path), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "unknown generator 'zipf'" in lines[0]
    assert "Traceback" not in proc.stderr


def test_estimators_keyed_by_basis(tmp_path):
    body = """
    [[groups]]
    name = "m"
    source = "synthetic"
    generator = "levy_matrix"
    params = { alpha = 1.5 }
    shapes = [[64, 32]]
    basis = ["spectrum", "entries"]
    estimators = { spectrum = ["csn"], entries = ["hill", "moments"] }
    """
    suite = load_suite(_write(tmp_path, body))
    assert suite.tasks[0].estimators == {"spectrum": ("csn",), "entries": ("hill", "moments")}
    with pytest.raises(SuiteError, match="estimators has no list for basis 'entries'"):
        load_suite(_write(tmp_path, body.replace(', entries = ["hill", "moments"]', ""), "b.toml"))
    with pytest.raises(SuiteError, match=r"keyed by basis .* got key 'weights'"):
        load_suite(
            _write(
                tmp_path,
                body.replace("entries = [", "weights = [").replace('"spectrum", "entries"]', '"spectrum"]'),
                "c.toml",
            )
        )
