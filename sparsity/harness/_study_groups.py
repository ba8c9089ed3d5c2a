"""Suite groups that are studies (``source = "training"`` or ``"quantization"``): keys, checks, cases (private).

A study group maps one to one onto its study's configuration: a training group onto
:func:`sparsity.harness.training.validate_training_config` (one task per group, its ``options`` are the task's
options), a quantization group onto :func:`sparsity.harness.quantization.quantization_cases` (one catalog model per
group). :func:`study_group_cases` expands a group into the study's JSON-serialisable cases, or into a skip note when
its dependency (torch / scikit-learn, ml_dtypes / gguf, an installed catalog model) is missing here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sparsity.harness import quantization, training

__all__ = ["STUDY_GROUP_KEYS", "StudyGroupError", "study_group_cases", "training_config"]

_TRAINING_KEYS = {
    "name", "source", "task", "batch_sizes", "lrs", "replicates", "epochs", "momentum", "weight_decay", "paired",
    "level", "interval_replicates", "interval_every", "options", "optional",
}  # fmt: skip
_QUANTIZATION_KEYS = {"name", "source", "entry", "formats", "level", "include", "optional"}

STUDY_GROUP_KEYS: dict[str, set[str]] = {"training": _TRAINING_KEYS, "quantization": _QUANTIZATION_KEYS}
"""Allowed keys of a study group, by source."""


class StudyGroupError(ValueError):
    """A study group that cannot be expanded; the message names the key, the rule and the value."""


def training_config(group: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """The training configuration of a group (validated), with the suite's root ``seed``.

    Examples
    --------
    >>> cfg = training_config({"name": "g", "source": "training", "task": "teacher", "epochs": 2}, 7)
    >>> cfg["tasks"], cfg["epochs"], cfg["seed"]
    (['teacher'], 2, 7)
    """
    task = group.get("task")
    if task not in training.TASKS:
        raise StudyGroupError(f"task must be one of {', '.join(training.TASKS)}; got {task!r}")
    options = group.get("options", {})
    if not isinstance(options, Mapping):
        raise StudyGroupError(f"options must be a table of {task} options; got {options!r}")
    config = {k: v for k, v in group.items() if k not in {"name", "source", "task", "options", "optional"}}
    config.update(seed=int(seed), tasks=[task], **{task: dict(options)})
    try:
        return training.validate_training_config(config)
    except (TypeError, ValueError) as exc:
        raise StudyGroupError(str(exc).removeprefix("training config: ")) from None


def _quantization_config(group: Mapping[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {"models": [group.get("entry")]}
    config.update({k: group[k] for k in ("formats", "level", "include") if k in group})
    return config


def study_group_cases(group: Mapping[str, Any], seed: int) -> tuple[list[dict[str, Any]], str | None]:
    """The cases of a study group and, when its dependency is missing here, the reason (then no cases).

    Parameters
    ----------
    group : mapping
        The group's table (``source`` is ``"training"`` or ``"quantization"``; keys already checked).
    seed : int
        The suite's root seed (training only; quantization draws nothing).

    Returns
    -------
    cases : list of dict
        The study's cases (``case_id`` unique within the group).
    reason : str or None
        Why the group cannot run here (a missing package or catalog model), or None.

    Raises
    ------
    StudyGroupError
        A key with a bad value (the message names the key, the rule and the value).
    """
    if group["source"] == "training":
        config = training_config(group, seed)
        reason = training.training_skip_reason(config["tasks"][0])
        return ([] if reason else training.training_cases(config)), reason
    try:
        cases = quantization.quantization_cases(_quantization_config(group))
    except KeyError as exc:
        raise StudyGroupError(f"entry: unknown catalog entry {group.get('entry')!r} ({exc})") from None
    except (TypeError, ValueError) as exc:
        raise StudyGroupError(str(exc).removeprefix("quantization config: ")) from None
    reason = quantization.case_skip_reason(cases[0])
    return ([] if reason else cases), reason
