"""Tests for sparsity.harness.training: seeds, config checks, the skip path, and short seeded training runs.

The runs are tiny (a few epochs, narrow layers) so that the whole file takes a few seconds after torch's import.
"""

from __future__ import annotations

import importlib.util
import math
import sys

import numpy as np
import pytest

from sparsity import analyze_matrix
from sparsity.harness import training
from sparsity.harness._train_nets import teacher_data, train_snapshots
from sparsity.harness.training import (
    make_task_data,
    run_training_case,
    train_run,
    training_cases,
    training_skip_reason,
    validate_training_config,
    write_training_figures,
)

HAS_TORCH = importlib.util.find_spec("torch") is not None
HAS_SKLEARN = importlib.util.find_spec("sklearn") is not None
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="training needs torch: pip install 'sparsity[torch]'")

TINY = {
    "tasks": ["teacher"], "batch_sizes": [16], "lrs": [0.1], "replicates": 1, "epochs": 8,
    "interval_replicates": 20, "interval_every": 8,
    "teacher": {"width": 120, "d": 60, "n_out": 12, "teacher_sv": [4.0, 3.0, 2.5], "n_train": 600, "n_test": 200},
}  # fmt: skip


def test_cases_are_deterministic_and_paired_by_replicate():
    cfg = {"tasks": ["digits", "teacher"], "batch_sizes": [8, 32], "lrs": [0.1, 0.2], "replicates": 2}
    cases = training_cases(cfg)
    assert cases == training_cases(cfg)
    assert len(cases) == 2 * 2 * 2 * 2 and len({c["case_id"] for c in cases}) == len(cases)
    # paired (default): one seed per (task, replicate), shared by every grid point: common random numbers
    seeds = {(c["task"], c["replicate"]): set() for c in cases}
    for c in cases:
        seeds[(c["task"], c["replicate"])].add(c["seed"])
    assert all(len(s) == 1 for s in seeds.values())
    assert len({next(iter(s)) for s in seeds.values()}) == len(seeds)
    unpaired = training_cases({**cfg, "paired": False})
    assert len({c["seed"] for c in unpaired}) == len(unpaired)
    # the root seed changes every run seed and the data seed
    other = training_cases({**cfg, "seed": 1})
    assert all(a["seed"] != b["seed"] and a["data_seed"] != b["data_seed"] for a, b in zip(cases, other, strict=True))


@pytest.mark.parametrize(
    ("config", "error", "match"),
    [
        ({"batch_size": [8]}, ValueError, "unknown key 'batch_size'"),
        ({"batch_sizes": [0]}, ValueError, "batch_sizes must be an integer >= 1; got 0"),
        ({"lrs": []}, TypeError, "lrs must be a non-empty list"),
        ({"tasks": ["mnist"]}, ValueError, "tasks must be one of"),
        ({"teacher": {"rank": 3}}, ValueError, "unknown key"),
        ({"teacher": {"teacher_sv": [1.0] * 30, "n_out": 20}}, ValueError, "exceeds min"),
        ({"interval_replicates": 1}, ValueError, "interval_replicates"),
    ],
)
def test_config_errors_name_the_key(config, error, match):
    with pytest.raises(error, match=match):
        validate_training_config(config)


def test_skip_reason_names_the_missing_package(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    reason = training_skip_reason("teacher")
    assert reason is not None and "torch" in reason and "sparsity[torch]" in reason
    case = training_cases(TINY)[0]
    with pytest.raises(RuntimeError, match="needs torch"):
        run_training_case(case)
    result = training.run_training_grid(TINY)
    assert result.skipped == {"teacher": reason} and len(result.runs) == 0


def test_teacher_has_the_planted_rank_and_spectrum():
    data = teacher_data(np.random.default_rng(0), d=30, n_out=8, teacher_sv=[3.0, 1.0], n_train=50, n_test=10, noise=0)
    # noise-free targets: y = A x exactly, so the least-squares A has the planted singular values (to float32)
    a, *_ = np.linalg.lstsq(data.x_train.astype(np.float64), data.y_train.astype(np.float64), rcond=None)
    s = np.linalg.svd(a, compute_uv=False)
    np.testing.assert_allclose(s[:2], [3.0, 1.0], rtol=1e-5)
    assert s[2] < 1e-5 * s[0]
    np.testing.assert_allclose(data.teacher_right.T @ data.teacher_right, np.eye(2), atol=1e-12)


@pytest.fixture(scope="module")
def teacher_run():
    if not HAS_TORCH:
        pytest.skip("training needs torch")
    import torch

    threads, det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    case = training_cases(TINY)[0]
    layers, run = run_training_case(case)
    assert (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()) == (threads, det)
    return case, layers, run


@needs_torch
def test_initialization_is_mp_like(teacher_run):
    # At epoch 0 every layer is an iid uniform matrix: the Tracy-Widom 99% threshold gives a false spike with
    # probability ~1% per layer, and the CSN fit of an iid ESD either exceeds alpha_ww = 4 or starts inside the
    # MP bulk (its soft upper edge; 100/100 iid matrices of these shapes in a seeded simulation).
    _, layers, _ = teacher_run
    init = [r for r in layers if r["epoch"] == 0]
    assert len(init) == 2
    for row in init:
        assert row["num_spikes"] == 0, row["name"]
        assert row["mp_like"], (row["name"], row["alpha_ww"], row["xmin"], row["bulk_max"])


@needs_torch
def test_trained_first_layer_has_one_spike_per_teacher_direction(teacher_run):
    # Derivation (module docstring of sparsity.harness.training): training adds to W1 a rank-r update in the
    # teacher's row space V, plus minibatch noise that widens the bulk. A rank-r perturbation of an N x M bulk of
    # entry scale sigma leaves the bulk (BBP) iff its singular value exceeds sigma (N M)^(1/4). We check the
    # premises on the weights -- the r singular values of the update inside span(V) are >= 1.5x that threshold,
    # the part outside span(V) stays below it -- and then the count: exactly r eigenvalues above the TW 99% edge
    # (a further one would be a noise excursion, probability ~1%).
    case, layers, run = teacher_run
    data = make_task_data("teacher", case["data_seed"], case["task_options"])
    snaps, note = train_snapshots(
        data, hidden=[120], batch_size=16, lr=0.1, epochs=8, momentum=0.0, weight_decay=0.0,
        rng=np.random.default_rng(np.random.SeedSequence(case["seed"], spawn_key=(0,))),
    )  # fmt: skip
    assert note == ""
    r = len(data.teacher_sv)
    w0, w1 = (s.weights[0].astype(np.float64) for s in (snaps[0], snaps[-1]))
    final = next(row for row in layers if row["epoch"] == case["epochs"] and row["layer"] == 0)
    assert analyze_matrix(snaps[-1].weights[0])["lambda_max"] == final["lambda_max"]  # the run's very weights
    n_big, m_small = max(w1.shape), min(w1.shape)
    bbp = final["sigma_mp"] * (n_big * m_small) ** 0.25
    proj = data.teacher_right @ data.teacher_right.T
    inside = np.linalg.svd((w1 - w0) @ proj, compute_uv=False)
    outside = np.linalg.svd((w1 - w0) @ (np.eye(proj.shape[0]) - proj), compute_uv=False)
    assert inside[r - 1] > 1.5 * bbp, (inside[:r], bbp)
    assert outside[0] < bbp, (outside[0], bbp)
    assert final["num_spikes"] == r == run["teacher_rank"] == run["first_layer_spikes"]
    assert not final["mp_like"]
    # the top-r right singular vectors span the teacher's row space (mean squared cosine 1; r/d = 0.05 at random)
    assert run["teacher_alignment"] > 0.9
    assert run["status"] == "ok" and run["test_score"] > 0.8  # R^2; the noise floor is 1 - 0.01 / E|Ax|^2 ~ 1


@needs_torch
def test_rows_are_bitwise_reproducible_and_complete(teacher_run):
    case, layers, run = teacher_run
    again_layers, again_run = run_training_case(case)
    assert _same(layers, again_layers) and _same([run], [again_run], skip=("t_train", "t_analyze"))
    epochs = sorted({r["epoch"] for r in layers})
    assert epochs == list(range(case["epochs"] + 1))
    # intervals only at the epochs asked for (0 and the last here); agreement is a bool there, NaN elsewhere
    with_iv = sorted({r["epoch"] for r in layers if not math.isnan(r["rank_decay_lo"])})
    assert with_iv == [0, case["epochs"]]
    for row in layers:
        for key in ("alpha_ww", "sv_tail_index", "entry_alpha", "stable_rank", "bulk_max", "num_spikes"):
            assert key in row
        if not math.isnan(row["rank_decay_lo"]):
            assert row["rank_decay_lo"] <= row["rank_decay_hi"]
            assert row["rank_decay_agrees"] in (True, False)


def _same(a, b, skip=()):
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        for k in x:
            if k in skip:
                continue
            u, v = x[k], y[k]
            if isinstance(u, float) and isinstance(v, float) and math.isnan(u) and math.isnan(v):
                continue
            if u != v:
                return False
    return True


@needs_torch
@pytest.mark.skipif(not HAS_SKLEARN, reason="digits needs scikit-learn")
def test_digits_run_learns_and_reports_accuracy():
    cfg = {"tasks": ["digits"], "batch_sizes": [32], "lrs": [0.1], "replicates": 1, "epochs": 2,
           "interval_replicates": 0, "digits": {"width": 48}}  # fmt: skip
    layers, run = run_training_case(training_cases(cfg)[0])
    assert run["score"] == "accuracy" and run["status"] == "ok"
    # ten classes: chance is 0.1 (a network that learned nothing scores ~0.1 +- 0.03 on 450 test images); a
    # linear classifier reaches ~0.95, so after two epochs anything that learns is far above 5x chance
    assert run["test_score"] > 0.5
    assert sorted({r["name"] for r in layers}) == ["fc1", "fc2", "fc3"]
    assert all(math.isnan(r["entry_decay_lo"]) for r in layers)


@needs_torch
def test_divergence_stops_with_a_note():
    data = teacher_data(np.random.default_rng(1), d=20, n_out=4, teacher_sv=[2.0], n_train=64, n_test=16, noise=0.1)
    layers, run = train_run(data, batch_size=8, lr=1e6, epochs=3, seed=0, width=16, interval_replicates=0)
    assert run["status"] == "diverged" and "diverged in epoch 1" in run["reason"]
    assert run["epochs_done"] == 0 and {r["epoch"] for r in layers} == {0}


@needs_torch
def test_figures_are_written_without_touching_global_state(teacher_run, tmp_path):
    import matplotlib
    import pandas as pd

    _, layers, run = teacher_run
    before = dict(matplotlib.rcParams)
    had_pyplot = "matplotlib.pyplot" in sys.modules
    paths = write_training_figures(pd.DataFrame(layers), pd.DataFrame([run]), tmp_path)
    names = sorted(p.name for p in paths)
    assert names == sorted(f"{s}.{e}" for s in ("alpha_epochs_teacher", "alpha_vs_score", "tails_epochs")
                           for e in ("pdf", "png"))  # fmt: skip
    assert all(p.stat().st_size > 0 for p in paths)
    assert dict(matplotlib.rcParams) == before
    assert ("matplotlib.pyplot" in sys.modules) == had_pyplot


@needs_torch
@pytest.mark.slow
def test_grid_rows_do_not_depend_on_workers():
    cfg = {**TINY, "batch_sizes": [16, 64], "epochs": 2}
    one = training.run_training_grid(cfg, workers=1)
    two = training.run_training_grid(cfg, workers=2)
    cols = [c for c in one.layers.columns if not c.startswith("t_")]
    assert one.layers[cols].equals(two.layers[cols])
    run_cols = [c for c in one.runs.columns if not c.startswith("t_")]
    assert one.runs[run_cols].equals(two.runs[run_cols])
