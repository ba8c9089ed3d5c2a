"""Training dynamics as a study: train small networks on CPU, snapshot every epoch, measure every layer.

Heavy-Tailed Self-Regularization (Martin & Mahoney) says that training turns the Marchenko-Pastur bulk of a
random layer into a spectrum with spikes and a power-law tail, that smaller batches give heavier tails (lower
``alpha_ww``), and that ``alpha_ww`` tracks generalization. This module measures that on a grid of batch sizes
and learning rates with several seeds per point, on two tasks whose data install offline:

- ``"digits"``: scikit-learn's 8x8 digits, a two-hidden-layer ReLU MLP, cross-entropy, score = accuracy;
- ``"teacher"``: a teacher-student regression ``y = A x + noise`` with a teacher of known rank ``r`` and known
  singular values (``teacher_sv``), a one-hidden-layer ReLU student, mean squared error, score = R^2. For a
  one-hidden-layer ReLU student and Gaussian inputs the expected gradient of the first layer's weights at
  initialization is ``-(W2^T A)/2`` plus a term along the student's own rows (``E[1(w.x > 0) x x^T] = I/2``),
  so training adds a rank-``r`` update in the teacher's row space: ``r`` spikes above the MP bulk.

Framework: torch (the ``torch`` extra), CPU, float32, one thread and deterministic algorithms inside the training
function (the caller's settings are restored); initial weights and minibatch order come from NumPy generators
(:mod:`sparsity.harness._train_nets`). torch rather than scikit-learn's ``MLPClassifier``: the loop is explicit
(plain minibatch SGD with a chosen momentum, no hidden L2 penalty, adaptive optimizer or early stopping, which
``MLPClassifier`` applies by default), a snapshot per epoch needs no refitting tricks, and the same code trains
regression and classification.

Seeds: one root seed; the task data come from ``SeedSequence(root, spawn_key=(0, task))``, and each run from
``SeedSequence(root, spawn_key=(1, task, replicate))`` (``paired=True``, the default: every grid point of a
replicate starts from the same initial weights and sees the same minibatch orders, common random numbers for the
comparison across the grid) or ``(2, task, grid point, replicate)`` (``paired=False``). ``task`` is the index
in :data:`TASKS`. A run depends on its case only, so results are the same for any number of workers.

Public API: :func:`validate_training_config`, :func:`training_skip_reason`, :func:`training_cases`,
:func:`run_training_case`, :func:`train_run`, :func:`run_training_grid`, and the figures
:func:`training_figures`, :func:`write_training_figures` (:mod:`sparsity.harness._train_figures`).
"""

from __future__ import annotations

import math
import multiprocessing
import time
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from typing import Any, NamedTuple

import numpy as np

from sparsity._checks import check_choice, check_int, check_real
from sparsity.harness._train_config import DEFAULT_CONFIG, TASKS, training_cases, validate_training_config
from sparsity.harness._train_figures import training_figures, write_training_figures
from sparsity.harness._train_nets import TaskData, digits_data, missing_packages, teacher_data, train_snapshots
from sparsity.harness._train_rows import layer_row

__all__ = [
    "DEFAULT_CONFIG",
    "TASKS",
    "TrainingResults",
    "make_task_data",
    "run_training_case",
    "run_training_grid",
    "train_run",
    "training_cases",
    "training_figures",
    "training_skip_reason",
    "validate_training_config",
    "write_training_figures",
]


class TrainingResults(NamedTuple):
    """Rows of a grid.

    ``layers``: one per run, layer and epoch; ``runs``: one per run; ``skipped``: ``{task: reason}``.
    """

    layers: Any
    runs: Any
    skipped: dict[str, str]


def training_skip_reason(task: str = "digits") -> str | None:
    """Why ``task`` cannot run here (a missing package, named with the extra that installs it), or None.

    Examples
    --------
    >>> training_skip_reason("teacher") is None or "torch" in training_skip_reason("teacher")
    True
    """
    check_choice(task, "task", TASKS)
    missing = missing_packages(task)
    if not missing:
        return None
    hint = {"torch": "pip install 'sparsity[torch]'", "sklearn": "pip install scikit-learn"}
    return f"training task {task!r} needs {', '.join(missing)}: " + "; ".join(hint[m] for m in missing)


def make_task_data(task: str, data_seed: int, options: Mapping[str, Any]) -> TaskData:
    """The task's data from its seed and options (the ``task_options`` of a case)."""
    rng = np.random.default_rng(np.random.SeedSequence(int(data_seed)))
    if task == "digits":
        return digits_data(rng, test_fraction=float(options["test_fraction"]))
    keys = ("d", "n_out", "n_train", "n_test")
    ints = {k: int(options[k]) for k in keys}
    return teacher_data(rng, teacher_sv=options["teacher_sv"], noise=float(options["noise"]), **ints)


def run_training_case(case: Mapping[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run one case of :func:`training_cases`: (layer rows, run row), both carrying the case's identity columns.

    Raises ``RuntimeError`` with :func:`training_skip_reason`'s text when the task's packages are missing.
    """
    reason = training_skip_reason(case["task"])
    if reason is not None:
        raise RuntimeError(reason)
    opts = case["task_options"]
    data = make_task_data(case["task"], case["data_seed"], opts)
    layers, run = train_run(
        data, batch_size=case["batch_size"], lr=case["lr"], epochs=case["epochs"], seed=case["seed"],
        width=int(opts["width"]), depth=int(opts["depth"]), momentum=case["momentum"],
        weight_decay=case["weight_decay"], level=case["level"], interval_replicates=case["interval_replicates"],
        interval_every=case["interval_every"],
    )  # fmt: skip
    ident = {"case_id": case["case_id"], "replicate": case["replicate"], "grid_point": case["grid_point"]}
    return [{**ident, **row} for row in layers], {**ident, **run}


def train_run(
    task: TaskData | str,
    *,
    batch_size: int,
    lr: float,
    epochs: int,
    seed: int,
    width: int,
    depth: int = 1,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    level: float = 0.95,
    interval_replicates: int = 100,
    interval_every: int = 10,
    data_seed: int = 0,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Train one network on ``task`` and measure every layer after every epoch (epoch 0 = initialization).

    Parameters
    ----------
    task : TaskData or {"digits", "teacher"}
        From :func:`make_task_data`, or a task name: its data are then made from ``data_seed`` and the options of
        :data:`DEFAULT_CONFIG`.
    batch_size, lr, epochs : int, float, int
        Minibatch SGD settings.
    seed : int
        The run's seed: initial weights and minibatch orders (``spawn_key=(0,)``), interval simulations of
        epoch ``e``, layer ``l`` (``spawn_key=(1, e, l)``).
    width, depth : int
        Hidden layers: ``depth`` ReLU layers of ``width`` units.
    momentum, weight_decay : float
        SGD options.
    level, interval_replicates : float, int
        Prediction intervals of the decays (see :mod:`sparsity.harness._train_rows`); 0 replicates: none.
    interval_every : int
        Intervals at epochs ``0, interval_every, 2 interval_every, ...`` and the last one (they cost ~20x the
        rest of a layer's row); NaN at the other epochs.
    data_seed : int
        Seed of the task's data when ``task`` is a name.

    Returns
    -------
    layer_rows : list of dict
        One per layer and epoch: ``task``, ``batch_size``, ``lr``, ``seed``, ``epoch``, ``layer``, ``name``,
        the epoch's ``train_loss``/``test_loss``/``train_score``/``test_score``, every column of
        :func:`sparsity.analyze_matrix`, the interval columns and ``mp_like``.
    run_row : dict
        Final losses and scores, ``score`` (``"accuracy"`` or ``"r2"``), ``status``/``reason``, ``epochs_done``,
        ``alpha_ww_final_mean`` (mean final alpha_ww over the layers with a fit, weighted by their numbers of
        eigenvalues ``M``), for the teacher task
        ``teacher_rank``, ``first_layer_spikes`` and ``teacher_alignment`` (mean squared cosine of the principal
        angles between the top-r right singular vectors of the first layer and the teacher's row space; 1 =
        aligned, about r/d at random), and the timings ``t_train``, ``t_analyze``.
    """
    batch_size = check_int(batch_size, "batch_size", low=1)
    lr = check_real(lr, "lr", low=0.0, closed="neither")
    epochs, seed = check_int(epochs, "epochs", low=1), check_int(seed, "seed", low=0)
    width, depth = check_int(width, "width", low=1), check_int(depth, "depth", low=1)
    interval_every = check_int(interval_every, "interval_every", low=1)
    if isinstance(task, str):
        task = make_task_data(check_choice(task, "task", TASKS), data_seed, DEFAULT_CONFIG[task])
    t0 = time.perf_counter()
    snaps, note = train_snapshots(
        task, hidden=[width] * depth, batch_size=batch_size, lr=lr, epochs=epochs, momentum=momentum,
        weight_decay=weight_decay, rng=np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0,))),
    )  # fmt: skip
    t1 = time.perf_counter()
    ident = {"task": task.name, "batch_size": batch_size, "lr": lr, "seed": seed}
    rows = []
    for snap in snaps:
        metrics = {k: getattr(snap, k) for k in ("train_loss", "test_loss", "train_score", "test_score")}
        for i, W in enumerate(snap.weights):
            ss = np.random.SeedSequence(seed, spawn_key=(1, snap.epoch, i))
            reps = interval_replicates if snap.epoch % interval_every == 0 or snap is snaps[-1] else 0
            row = layer_row(W, level=level, replicates=reps, seed=ss)
            rows.append({**ident, "epoch": snap.epoch, "layer": i, "name": f"fc{i + 1}", **metrics, **row})
    last = snaps[-1]
    final = [(r["alpha_ww"], r["M"]) for r in rows if r["epoch"] == last.epoch and np.isfinite(r["alpha_ww"])]
    run = {
        **ident, "width": width, "depth": depth, "epochs": epochs, "momentum": momentum,
        "weight_decay": weight_decay, "epochs_done": last.epoch, "status": "diverged" if note else "ok",
        "reason": note, "score": "accuracy" if task.kind == "classification" else "r2",
        "train_loss": last.train_loss, "test_loss": last.test_loss, "train_score": last.train_score,
        "test_score": last.test_score, "alpha_ww_final_mean": _weighted_mean(final),
        **_teacher_columns(task, last, rows), "t_train": t1 - t0, "t_analyze": time.perf_counter() - t1,
    }  # fmt: skip
    return rows, run


def _weighted_mean(pairs: list[tuple[float, int]]) -> float:
    """Mean of the values weighted by their eigenvalue counts (a 10-eigenvalue fit counts little)."""
    if not pairs:
        return math.nan
    v, w = np.array(pairs, dtype=np.float64).T
    return float(np.sum(v * w) / np.sum(w))


def _teacher_columns(task: TaskData, last: Any, rows: list[dict[str, Any]]) -> dict[str, Any]:
    if task.teacher_right is None:
        return {"teacher_rank": math.nan, "first_layer_spikes": math.nan, "teacher_alignment": math.nan}
    r = len(task.teacher_sv)
    first = next(row for row in rows if row["epoch"] == last.epoch and row["layer"] == 0)
    _, _, vt = np.linalg.svd(np.asarray(last.weights[0], dtype=np.float64), full_matrices=False)
    cos = np.linalg.svd(vt[:r] @ task.teacher_right, compute_uv=False)
    return {"teacher_rank": r, "first_layer_spikes": first["num_spikes"], "teacher_alignment": float(np.mean(cos**2))}


def _run_case_safely(case: Mapping[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A case whose run raises becomes a run row with ``status="failed"`` and the error (no lost work)."""
    try:
        return run_training_case(case)
    except Exception as exc:  # one failing case must not lose the grid; the row says why
        ident = {k: case[k] for k in ("case_id", "replicate", "grid_point", "task", "batch_size", "lr", "seed")}
        return [], {**ident, "status": "failed", "reason": f"{type(exc).__name__}: {exc}"}


def run_training_grid(config: Mapping[str, Any] | None = None, *, workers: int = 1) -> TrainingResults:
    """Run every case of :func:`training_cases` (tasks whose packages are missing are skipped, with a reason).

    Parameters
    ----------
    config : mapping, optional
        See :data:`DEFAULT_CONFIG`.
    workers : int
        Processes (``spawn`` context); 1 runs in this process. The rows do not depend on it.

    Returns
    -------
    TrainingResults
        ``layers`` and ``runs`` as pandas DataFrames in case order, and ``skipped`` ``{task: reason}``.
    """
    import pandas as pd

    workers = check_int(workers, "workers", low=1)
    cases = training_cases(config)
    skipped = {t: r for t in dict.fromkeys(c["task"] for c in cases) if (r := training_skip_reason(t)) is not None}
    cases = [c for c in cases if c["task"] not in skipped]
    if workers == 1 or len(cases) <= 1:
        results = [_run_case_safely(c) for c in cases]
    else:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            results = list(pool.map(_run_case_safely, cases))
    layers = pd.DataFrame([row for rows, _ in results for row in rows])
    runs = pd.DataFrame([run for _, run in results])
    return TrainingResults(layers, runs, skipped)
