"""The training study's configuration: defaults, checks, and the expansion into seeded cases (private).

Re-exported by :mod:`sparsity.harness.training`, whose docstring describes the seeding.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import numpy as np

from sparsity._checks import check_bool, check_choice, check_int, check_real

__all__ = ["DEFAULT_CONFIG", "TASKS", "training_cases", "validate_training_config"]

TASKS = ("digits", "teacher")
"""Task names, in the order that numbers their seeds."""

DEFAULT_CONFIG: dict[str, Any] = {
    "seed": 0,
    "tasks": ["digits", "teacher"],
    "batch_sizes": [16, 64, 256],
    "lrs": [0.02, 0.1],
    "replicates": 3,
    "epochs": 20,
    "momentum": 0.0,
    "weight_decay": 0.0,
    "paired": True,
    "level": 0.95,
    "interval_replicates": 100,
    "interval_every": 10,
    "digits": {"width": 256, "depth": 2, "test_fraction": 0.25},
    "teacher": {
        "width": 200, "depth": 1, "d": 100, "n_out": 20, "teacher_sv": [4.0, 3.0, 2.0, 1.5],
        "n_train": 2000, "n_test": 1000, "noise": 0.1,
    },
}  # fmt: skip
"""The default grid (3 batch sizes x 2 learning rates x 3 replicates x 2 tasks) and task options."""

_TASK_INTS = {"digits": ("width", "depth"), "teacher": ("width", "depth", "d", "n_out", "n_train", "n_test")}


def validate_training_config(config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The config merged over :data:`DEFAULT_CONFIG` and checked (names the key, the rule and the value).

    Parameters
    ----------
    config : mapping, optional
        Keys of :data:`DEFAULT_CONFIG`; ``"digits"`` and ``"teacher"`` are merged key by key.

    Returns
    -------
    dict
        A new, complete config.
    """
    cfg = copy.deepcopy(DEFAULT_CONFIG)
    for key, value in (config or {}).items():
        if key not in cfg:
            raise ValueError(f"training config: unknown key {key!r}; expected one of {sorted(cfg)}")
        if key in TASKS:
            if not isinstance(value, Mapping):
                raise TypeError(f"training config: {key} must be a table; got {value!r}")
            unknown = set(value) - set(cfg[key])
            if unknown:
                raise ValueError(
                    f"training config: unknown key(s) {sorted(unknown)} in {key}; expected {sorted(cfg[key])}"
                )
            cfg[key].update(value)
        else:
            cfg[key] = value
    check_int(cfg["seed"], "seed", low=0)
    cfg["tasks"] = [check_choice(t, "tasks", TASKS) for t in _as_list(cfg["tasks"], "tasks")]
    cfg["batch_sizes"] = [check_int(b, "batch_sizes", low=1) for b in _as_list(cfg["batch_sizes"], "batch_sizes")]
    cfg["lrs"] = [check_real(v, "lrs", low=0.0, closed="neither") for v in _as_list(cfg["lrs"], "lrs")]
    check_int(cfg["replicates"], "replicates", low=1)
    check_int(cfg["epochs"], "epochs", low=1)
    check_real(cfg["momentum"], "momentum", low=0.0, high=1.0, closed="left")
    check_real(cfg["weight_decay"], "weight_decay", low=0.0)
    check_bool(cfg["paired"], "paired")
    check_real(cfg["level"], "level", low=0.0, high=1.0, closed="neither")
    check_int(cfg["interval_replicates"], "interval_replicates", low=0)
    check_int(cfg["interval_every"], "interval_every", low=1)
    if cfg["interval_replicates"] == 1:
        raise ValueError("interval_replicates must be 0 (no intervals) or >= 2; got 1")
    for task, keys in _TASK_INTS.items():
        for key in keys:
            check_int(cfg[task][key], f"{task}.{key}", low=1)
    check_real(cfg["digits"]["test_fraction"], "digits.test_fraction", low=0.0, high=1.0, closed="neither")
    check_real(cfg["teacher"]["noise"], "teacher.noise", low=0.0)
    sv = [
        check_real(s, "teacher.teacher_sv", low=0.0, closed="neither")
        for s in _as_list(cfg["teacher"]["teacher_sv"], "teacher.teacher_sv")
    ]
    if len(sv) > min(cfg["teacher"]["d"], cfg["teacher"]["n_out"]):
        raise ValueError(f"teacher.teacher_sv: the rank {len(sv)} exceeds min(d, n_out); got {sv}")
    cfg["teacher"]["teacher_sv"] = sv
    return cfg


def _as_list(value: Any, name: str) -> list[Any]:
    if isinstance(value, (list, tuple)) and len(value) > 0:
        return list(value)
    raise TypeError(f"training config: {name} must be a non-empty list; got {value!r}")


def _seed_int(root: int, key: tuple[int, ...]) -> int:
    return int(np.random.SeedSequence(root, spawn_key=key).generate_state(1, np.uint64)[0] >> np.uint64(1))


def training_cases(config: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Expand a config into one JSON-serialisable case per (task, batch size, learning rate, replicate).

    Parameters
    ----------
    config : mapping, optional
        See :data:`DEFAULT_CONFIG` (validated with :func:`validate_training_config`).

    Returns
    -------
    list of dict
        In task, batch size, learning rate, replicate order. Keys: ``case_id``, ``task``, ``batch_size``,
        ``lr``, ``replicate``, ``grid_point``, ``seed`` (the run's), ``data_seed`` (the task data's), ``epochs``,
        ``momentum``, ``weight_decay``, ``level``, ``interval_replicates`` and ``task_options``.

    Examples
    --------
    >>> cases = training_cases({"tasks": ["teacher"], "batch_sizes": [8], "lrs": [0.1], "replicates": 2})
    >>> [c["case_id"] for c in cases]
    ['teacher-bs8-lr0.1-r0', 'teacher-bs8-lr0.1-r1']
    >>> cases[0]["seed"] != cases[1]["seed"]
    True
    """
    cfg = validate_training_config(config)
    root = int(cfg["seed"])
    cases = []
    for task in cfg["tasks"]:
        t = TASKS.index(task)
        grid = [(b, lr) for b in cfg["batch_sizes"] for lr in cfg["lrs"]]
        for g, (bs, lr) in enumerate(grid):
            for r in range(int(cfg["replicates"])):
                key = (1, t, r) if cfg["paired"] else (2, t, g, r)
                cases.append(
                    {
                        "case_id": f"{task}-bs{bs}-lr{lr:g}-r{r}", "task": task, "batch_size": int(bs),
                        "lr": float(lr), "replicate": r, "grid_point": g, "seed": _seed_int(root, key),
                        "data_seed": _seed_int(root, (0, t)), "epochs": int(cfg["epochs"]),
                        "momentum": float(cfg["momentum"]), "weight_decay": float(cfg["weight_decay"]),
                        "level": float(cfg["level"]), "interval_replicates": int(cfg["interval_replicates"]),
                        "interval_every": int(cfg["interval_every"]), "task_options": copy.deepcopy(cfg[task]),
                    }
                )  # fmt: skip
    return cases
