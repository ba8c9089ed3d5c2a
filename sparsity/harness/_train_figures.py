"""Figures of the training study (private; re-exported by :mod:`sparsity.harness.training`).

- ``alpha_epochs_<task>``: ``alpha_ww`` against epoch, one panel per grid point (rows: batch size, columns:
  learning rate), one colour per layer, one thin line per replicate; dashed line at ``alpha_ww = 2``, dotted at 4;
- ``alpha_vs_score``: final ``alpha_ww`` against the final test score across the grid (every run), one panel
  per (task, layer) (colour: batch size, marker: learning rate);
- ``tails_epochs``: the entry tail index and the singular-value tail index (``sv_tail_index``) against epoch,
  median over the runs of a task with the interquartile band, one panel per (task, layer), log scale, against
  ``alpha = 2``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sparsity.harness._study_output import new_figure, save_figure, style

__all__ = ["training_figures", "write_training_figures"]

_MARKERS = ("o", "s", "^", "D", "v", "P")


def _colors(n: int, cmap: str = "viridis") -> list[Any]:
    import matplotlib

    cm = matplotlib.colormaps[cmap]
    return [cm(x) for x in (np.linspace(0.0, 0.85, n) if n > 1 else [0.3])]


def _plain_log(ax: Any, axis: str = "y") -> None:
    """Log scale with plain tick labels (2, 3, 5, 10, 20, ...) instead of 2 x 10^0."""
    from matplotlib import ticker

    getattr(ax, f"set_{axis}scale")("log")
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 3.0, 5.0)))
    target.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    target.set_minor_formatter(ticker.NullFormatter())


def _task_layer_axes(keys: list[tuple[Any, ...]], **kw: Any) -> tuple[Any, dict[tuple[Any, ...], Any]]:
    """One row of panels per task, one column per layer; unused panels hidden."""
    tasks = list(dict.fromkeys(k[0] for k in keys))
    ncols = max([sum(1 for k in keys if k[0] == t) for t in tasks] or [1])
    fig, axes = new_figure(max(1, len(tasks)), ncols, **kw)
    out: dict[tuple[Any, ...], Any] = {}
    for i, t in enumerate(tasks):
        for j, key in enumerate(k for k in keys if k[0] == t):
            out[key] = axes[i, j]
    for ax in axes.ravel():
        if all(ax is not a for a in out.values()):
            ax.set_axis_off()
    return fig, out


def _alpha_epochs(layers: Any, task: str) -> Any:
    df = layers[layers["task"] == task]
    bss, lrs = sorted(df["batch_size"].unique()), sorted(df["lr"].unique())
    names = list(dict.fromkeys(df.sort_values("layer")["name"]))
    colors = dict(zip(names, _colors(len(names), "tab10" if len(names) > 1 else "viridis"), strict=True))
    fig, axes = new_figure(len(bss), len(lrs), sharex=True, sharey=True)
    for i, bs in enumerate(bss):
        for j, lr in enumerate(lrs):
            ax = axes[i, j]
            cell = df[(df["batch_size"] == bs) & (df["lr"] == lr)]
            for (name, _seed), g in cell.groupby(["name", "seed"], sort=False):
                ax.plot(g["epoch"], g["alpha_ww"], color=colors[name], lw=0.8, alpha=0.8)
            ax.axhline(2.0, color="0.3", ls="--", lw=0.7)
            ax.axhline(4.0, color="0.6", ls=":", lw=0.7)
            ax.set_title(f"{task}: batch {bs}, lr {lr:g}")
            _plain_log(ax)
            if i == len(bss) - 1:
                ax.set_xlabel("epoch")
            if j == 0:
                ax.set_ylabel(r"$\alpha_{ww}$")
    handles = [axes[0, 0].plot([], [], color=c, label=n)[0] for n, c in colors.items()]
    fig.legend(handles=handles, loc="outside right upper")
    return fig


def _alpha_vs_score(layers: Any, runs: Any) -> Any:
    ok = runs[runs["status"] == "ok"]
    last = layers.merge(
        ok[["seed", "task", "batch_size", "lr", "epochs_done"]], on=["seed", "task", "batch_size", "lr"]
    )
    last = last[last["epoch"] == last["epochs_done"]]
    keys = list(dict.fromkeys(zip(last["task"], last["layer"], last["name"], strict=True)))
    fig, panels = _task_layer_axes(keys)
    bss, lrs = sorted(last["batch_size"].unique()), sorted(last["lr"].unique())
    colors = dict(zip(bss, _colors(len(bss)), strict=True))
    for (task, layer, name), ax in panels.items():
        g = last[(last["task"] == task) & (last["layer"] == layer)]
        for bs in bss:
            for k, lr in enumerate(lrs):
                h = g[(g["batch_size"] == bs) & (g["lr"] == lr)]
                ax.scatter(h["alpha_ww"], h["test_score"], color=colors[bs], marker=_MARKERS[k % 6], s=18,
                           label=f"batch {bs}, lr {lr:g}")  # fmt: skip
        ax.axvline(2.0, color="0.3", ls="--", lw=0.7)
        score = ok.loc[ok["task"] == task, "score"]
        ax.set_xlabel(r"final $\alpha_{ww}$")
        ax.set_ylabel(f"test {'accuracy' if len(score) and score.iloc[0] == 'accuracy' else '$R^2$'}")
        _plain_log(ax, "x")
        ax.set_title(f"{task} {name}")
    if keys:
        fig.legend(*panels[keys[0]].get_legend_handles_labels(), loc="outside right upper")
    return fig


def _tails_epochs(layers: Any) -> Any:
    keys = list(dict.fromkeys(zip(layers["task"], layers["layer"], layers["name"], strict=True)))
    fig, panels = _task_layer_axes(keys, sharey=True)
    for (task, layer, name), ax in panels.items():
        g = layers[(layers["task"] == task) & (layers["layer"] == layer)]
        for col, label, ls in (("entry_alpha", "entries", "-"), ("sv_tail_index", "singular values", "--")):
            q = g.groupby("epoch")[col].quantile([0.25, 0.5, 0.75]).unstack()
            line = ax.plot(q.index, q[0.5], ls=ls, lw=1.0, label=label)[0]
            ax.fill_between(q.index, q[0.25], q[0.75], color=line.get_color(), alpha=0.2, lw=0)
        ax.axhline(2.0, color="k", lw=0.7, ls=":", label=r"$\alpha = 2$")
        ax.set_yscale("log")
        ax.set_title(f"{task} {name}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(r"tail index $\alpha$")
    if keys:
        fig.legend(*panels[keys[0]].get_legend_handles_labels(), loc="outside right upper")
        fig.suptitle("entry and singular-value tail indices: median and interquartile range over the runs")
    return fig


def training_figures(layers: Any, runs: Any) -> dict[str, Any]:
    """The training study's figures (module docstring) from the rows of :func:`run_training_grid`.

    Parameters
    ----------
    layers, runs : pandas.DataFrame
        ``TrainingResults.layers`` and ``.runs`` (or the rows of :func:`run_training_case`, concatenated).

    Returns
    -------
    dict of str to matplotlib.figure.Figure
        Keyed by file stem: ``alpha_epochs_<task>`` per task, ``alpha_vs_score``, ``tails_epochs``.
    """
    figs: dict[str, Any] = {}
    with style():
        for task in dict.fromkeys(layers["task"]):
            figs[f"alpha_epochs_{task}"] = _alpha_epochs(layers, task)
        figs["alpha_vs_score"] = _alpha_vs_score(layers, runs)
        figs["tails_epochs"] = _tails_epochs(layers)
    return figs


def write_training_figures(layers: Any, runs: Any, out_dir: str | Path) -> list[Path]:
    """Draw :func:`training_figures` and save each as ``out_dir/<stem>.pdf`` and ``.png`` (300 dpi)."""
    written: list[Path] = []
    for stem, fig in training_figures(layers, runs).items():
        written += save_figure(fig, Path(out_dir) / stem)
    return written
