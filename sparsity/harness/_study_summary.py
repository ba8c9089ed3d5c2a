"""The training study's ``summary.md`` (private; used by :mod:`sparsity.harness.studies`).

Final alpha_ww per grid point, spikes against the teacher's rank, and the rank correlation of alpha_ww with the
test score.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["training_summary"]


def _fmt(x: Any, digits: int = 2) -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    return "nan" if not math.isfinite(v) else f"{v:.{digits}f}"


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(r) + " |" for r in rows]


def _final_alpha(layers: Any, runs: Any) -> list[str]:
    """Mean (sd) over replicates of each layer's final alpha_ww, with the mean test score, per grid point."""
    last = layers[layers["epoch"] == layers.groupby("case_id")["epoch"].transform("max")]
    names = list(dict.fromkeys(last["name"]))
    keys = ["task", "batch_size", "lr"]
    score = runs.groupby(keys)["test_score"].agg(["mean", "std"])
    rows = []
    for key, grp in last.groupby(keys, sort=False):
        cells = [str(key[0]), str(key[1]), f"{key[2]:g}"]
        for name in names:
            a = grp.loc[grp["name"] == name, "alpha_ww"]
            cells.append(f"{_fmt(a.mean())} ({_fmt(a.std())})" if len(a) else "")
        s = score.loc[key]
        cells.append(f"{_fmt(s['mean'], 3)} ({_fmt(s['std'], 3)})")
        rows.append(cells)
    header = ["task", "batch size", "lr"] + [f"alpha_ww {n}" for n in names] + ["test score"]
    return [
        "## Final alpha_ww per grid point",
        "",
        "Mean (sd) over replicates at the last epoch; test score = accuracy (digits) or R^2 (teacher).",
        "",
        *_md_table(header, rows),
        "",
    ]


def _spikes(runs: Any) -> list[str]:
    teacher = runs[runs["task"] == "teacher"] if "task" in runs else runs.iloc[:0]
    if not len(teacher) or "first_layer_spikes" not in teacher:
        return []
    rows = []
    for (bs, lr), grp in teacher.groupby(["batch_size", "lr"], sort=False):
        counts = grp["first_layer_spikes"].astype(float)
        rank = grp["teacher_rank"].astype(float)
        equal = f"{int((counts == rank).sum())}/{len(grp)}"
        spikes = " ".join(_fmt(c, 0) for c in counts)
        rows.append(
            [str(bs), f"{lr:g}", _fmt(rank.iloc[0], 0), spikes, equal, _fmt(grp["teacher_alignment"].mean(), 3)]
        )
    return [
        "## Spikes above the MP edge against the teacher's rank (teacher task, first layer, last epoch)",
        "",
        *_md_table(["batch size", "lr", "teacher rank", "spikes per replicate", "equal", "alignment"], rows),
        "",
    ]


def _correlation(runs: Any) -> list[str]:
    from scipy.stats import spearmanr

    rows = []
    for task, grp in runs.groupby("task", sort=False):
        ok = grp[["alpha_ww_final_mean", "test_score"]].astype(float).dropna()
        rho, p = spearmanr(ok["alpha_ww_final_mean"], ok["test_score"]) if len(ok) > 2 else (math.nan, math.nan)
        rows.append([str(task), str(len(ok)), _fmt(rho), _fmt(p, 3)])
    return [
        "## alpha_ww against generalization",
        "",
        "Spearman rank correlation across runs of the final alpha_ww (mean over layers weighted by their number "
        "of eigenvalues) with the test score.",
        "",
        *_md_table(["task", "runs", "Spearman rho", "p"], rows),
        "",
    ]


def training_summary(layers: Any, runs: Any, suite: str, skipped: list[str]) -> str:
    """The Markdown summary of a training study's rows (``training_layers.csv`` and ``training_runs.csv``)."""
    lines = [f"# Training study: {suite}", ""]
    lines += [f"Skipped group {s}." for s in skipped] + ([""] if skipped else [])
    if not len(runs):
        return "\n".join([*lines, "No runs.", ""])
    status = runs["status"].value_counts().to_dict()
    lines += [f"{len(runs)} runs: " + ", ".join(f"{n} {k}" for k, n in status.items()) + ".", ""]
    if len(layers):
        good = runs[runs["status"] != "failed"]
        lines += _final_alpha(layers, good) + _spikes(good) + _correlation(good)
    return "\n".join(lines)
