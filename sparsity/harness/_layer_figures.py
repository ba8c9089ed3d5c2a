"""Per-layer figures: alpha_ww and entry tail index by block and matrix kind, and a grid of ESDs.

Layer names are read as ``<block prefix>.<index>.<rest>`` (``encoder.layer.3.attention.self.query.weight`` is
block 3, kind ``q``); :func:`layer_kind` maps the usual projection names of transformer checkpoints to ``q``,
``k``, ``v``, ``o``, ``qkv``, ``gate``, ``up``, ``down``, and keeps any other name. The per-layer figure puts the
block index on the x axis and one marker and colour per kind (dodged within a block), so 40 to 300 layers stay
readable; layers outside the numbered blocks (embeddings, heads) get labelled positions at the right. Lines join
only the same kind in consecutive blocks.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sparsity.harness._figures import THRESHOLD, TWO_COLUMNS, new_figure, style_of

__all__ = ["EsdPanel", "esd_grid_figure", "layer_figure", "layer_kind", "representative"]

_BLOCK = re.compile(r"^(.*?)(?:^|[._])(\d+)(?:[._]|$)(.*)$")
_KINDS: tuple[tuple[str, str], ...] = (
    (r"(^|[._])(q_proj|query|q|wq|q_lin)$", "q"),
    (r"(^|[._])(k_proj|key|k|wk|k_lin)$", "k"),
    (r"(^|[._])(v_proj|value|v|wv|v_lin)$", "v"),
    (r"(^|[._])(c_attn|qkv|qkv_proj|query_key_value|wqkv)$", "qkv"),
    (r"(attention[._]output[._]dense|attn[._]c_proj|o_proj|out_proj|wo|out_lin|attn[._]dense)$", "o"),
    (r"(^|[._])(gate_proj|w1|gate)$", "gate"),
    (r"(intermediate[._]dense|up_proj|w3|fc1|c_fc|dense_h_to_4h|lin1)$", "up"),
    (r"(^output[._]dense|mlp[._]c_proj|down_proj|w2|fc2|dense_4h_to_h|lin2)$", "down"),
)
_ORDER = ("q", "k", "v", "qkv", "o", "gate", "up", "down")
_DASHED: dict[str, Any] = {"color": "0.25", "ls": "--", "lw": 0.8}
_SUFFIX = re.compile(r"[._](weight|bias|kernel)$")
_CLIP = 10.0
"""Exponents above this are drawn at the top edge with open markers."""


def layer_kind(name: str) -> tuple[str | None, int | None, str]:
    """``(block prefix, block index, kind)`` of a tensor name; prefix and index are None outside numbered blocks."""
    stem = _SUFFIX.sub("", str(name))
    m = _BLOCK.match(stem)
    if m is None:
        return None, None, stem
    prefix, index, rest = m.group(1), int(m.group(2)), m.group(3)
    for pattern, kind in _KINDS:
        if re.search(pattern, rest):
            return prefix, index, kind
    return prefix, index, rest or "block"


def _sorted_kinds(kinds: Any) -> list[str]:
    """Distinct kinds, the known projections in :data:`_ORDER` first, the others in order of appearance."""
    seen = list(dict.fromkeys(kinds))
    return sorted(seen, key=lambda k: (_ORDER.index(k) if k in _ORDER else len(_ORDER), seen.index(k)))


def _positions(names: Sequence[str]) -> tuple[np.ndarray, list[str], list[float], list[str]]:
    """X position and kind of each name, with the tick positions and labels of the x axis."""
    parsed = [layer_kind(n) for n in names]
    blocks = list(dict.fromkeys((p, i) for p, i, _ in parsed if i is not None))
    prefixes = {p for p, _ in blocks}
    kinds = _sorted_kinds(k for p, i, k in parsed if i is not None)
    width = 0.8 / max(len(kinds), 1)
    x = np.empty(len(names))
    others: list[str] = []
    for j, (p, i, k) in enumerate(parsed):
        if i is None:
            others.append(k)
            x[j] = len(blocks) + len(others)
        else:
            x[j] = blocks.index((p, i)) + (kinds.index(k) - (len(kinds) - 1) / 2) * width
    step = max(1, math.ceil(len(blocks) / 16))
    ticks: list[float] = list(range(0, len(blocks), step))
    labels = [
        str(blocks[t][1]) if len(prefixes) == 1 else f"{blocks[t][0]}.{blocks[t][1]}"
        for t in range(0, len(blocks), step)
    ]
    for j, name in enumerate(others):
        ticks.append(len(blocks) + j + 1)
        labels.append(_short(name))
    kind_of = [k if i is not None else "other" for _, i, k in parsed]
    return x, kind_of, ticks, labels


def _short(name: str) -> str:
    """A short tick label for a layer outside the numbered blocks (``embeddings.word_embeddings`` -> ``word_emb``)."""
    parts = [p for p in name.replace("embeddings", "emb").split(".") if p not in ("emb", "model", "transformer")]
    text = ".".join(parts[-2:]) or name
    return text if len(text) <= 16 else text[:15] + "~"


def _layer_panel(ax: Any, part: Any, column: str, looks: dict[str, tuple[str, str]]) -> None:
    x, kinds, ticks, labels = _positions(list(part["name"]))
    y = part[column].to_numpy(float)
    kinds_arr = np.array(kinds)
    for kind in dict.fromkeys(kinds):
        color, marker = looks.get(kind, ("0.4", "o"))
        sel = kinds_arr == kind
        xs, ys = x[sel], y[sel]
        if kind != "other":
            ax.plot(xs, np.minimum(ys, _CLIP), color=color, lw=0.4, alpha=0.5)
        inside = ys <= _CLIP
        ax.plot(xs[inside], ys[inside], ls="none", marker=marker, color=color, ms=3.2, label=kind)
        ax.plot(xs[~inside], np.full((~inside).sum(), _CLIP), ls="none", marker=marker, mfc="none", color=color)
    ax.axhline(THRESHOLD, **_DASHED)
    ax.set_xticks(ticks, labels)
    n_blocks = len(ticks) - kinds.count("other")
    for j, text in enumerate(ax.get_xticklabels()):
        if j >= n_blocks:  # the named layers: slanted so that their labels do not overlap
            text.set(rotation=40, ha="right", rotation_mode="anchor")
    top = min(_CLIP, max(THRESHOLD + 1, float(np.nanmax(y)) if np.isfinite(y).any() else 4.0)) * 1.06
    ax.set_ylim(0, top)


def layer_figure(layers: Any) -> Any:
    """alpha_ww (top) and the entry tail index (bottom) of every layer, one column per checkpoint.

    ``layers`` has columns ``checkpoint``, ``name``, ``alpha_ww`` and ``entry_alpha``. Both panels carry their
    threshold (dashed, 2: ``alpha_ww < 2`` means ``sv_tail_index < 2``). Returns None without rows.
    """
    if not len(layers):
        return None
    checkpoints = list(dict.fromkeys(layers["checkpoint"]))
    all_kinds = [layer_kind(n)[2] if layer_kind(n)[1] is not None else "other" for n in layers["name"]]
    kinds = _sorted_kinds(k for k in all_kinds if k != "other")
    looks = style_of([*kinds, "other"] if "other" in all_kinds else kinds)
    fig = new_figure(TWO_COLUMNS, 4.6)
    axes = fig.subplots(2, len(checkpoints), sharey="row", sharex="col", squeeze=False)
    rows = (("alpha_ww", r"$\alpha_{ww}$ (ESD of $W^\top W$)"), ("entry_alpha", r"entry tail index $\hat\alpha$"))
    for j, ck in enumerate(checkpoints):
        part = layers[layers["checkpoint"] == ck]
        for i, (column, label) in enumerate(rows):
            ax = axes[i, j]
            _layer_panel(ax, part, column, looks)
            if j == 0:
                ax.set_ylabel(label)
            if i == 0:
                ax.set_title(f"{ck} ({len(part)} layers)")
                ax.tick_params(labelbottom=False)
            else:
                ax.set_xlabel("block")
    _kind_legend(fig, looks)
    return fig


def _kind_legend(fig: Any, looks: dict[str, tuple[str, str]]) -> None:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=c, marker=m, ls="none", ms=3.5) for c, m in looks.values()]
    labels = list(looks)
    handles += [Line2D([], [], color="0.3", marker="o", mfc="none", ls="none"), Line2D([], [], **_DASHED)]
    labels += [f"above {_CLIP:g} (clipped)", "threshold 2"]
    fig.legend(handles, labels, loc="outside right center", title="matrix")


@dataclass(frozen=True)
class EsdPanel:
    """One ESD to draw: its title, the eigenvalues of W^T W, the fitted ``alpha_ww`` and the tail's start."""

    title: str
    eigenvalues: np.ndarray
    alpha_ww: float
    xmin: float
    why: str = ""


def representative(values: Sequence[float]) -> list[tuple[int, str]]:
    """Indices of the smallest, median and largest finite value (deduplicated), each with its role."""
    arr = np.asarray(values, dtype=float)
    idx = np.flatnonzero(np.isfinite(arr))
    if not idx.size:
        return []
    order = idx[np.argsort(arr[idx], kind="stable")]
    picks = [(int(order[0]), "lowest"), (int(order[(len(order) - 1) // 2]), "median"), (int(order[-1]), "highest")]
    out: list[tuple[int, str]] = []
    for i, why in picks:
        if i not in [j for j, _ in out]:
            out.append((i, why))
    return out


def _esd_panel(ax: Any, panel: EsdPanel) -> None:
    lam = np.sort(panel.eigenvalues[panel.eigenvalues > 0])
    bins = np.geomspace(lam[0], lam[-1], min(60, max(10, lam.size // 8)))
    dens, edges = np.histogram(lam, bins=bins, density=True)
    centers = np.sqrt(edges[:-1] * edges[1:])
    ax.loglog(centers[dens > 0], dens[dens > 0], "o", ms=2.5, color="#0173b2", label="ESD")
    a, x0 = panel.alpha_ww, panel.xmin
    tail = lam[lam >= x0] if np.isfinite(x0) else lam[:0]
    if tail.size and np.isfinite(a) and a > 1:
        grid = np.geomspace(x0, lam[-1], 50)
        share = tail.size / lam.size
        ax.loglog(grid, share * (a - 1) / x0 * (grid / x0) ** (-a), color="#d55e00", lw=1.2,
                  label=rf"fit $\alpha_{{ww}} = {a:.2f}$")  # fmt: skip
        ax.axvline(x0, color="0.4", ls=":", lw=0.8, label=r"$\lambda_{\min}$ of the fit")
    title = panel.title if len(panel.title) <= 38 else "..." + panel.title[-35:]
    ax.set_title(f"{title}\n({panel.why})" if panel.why else title, fontsize=7)
    ax.set_xlabel(r"eigenvalue $\lambda = s^2$")
    ax.legend(loc="lower left")


def esd_grid_figure(panels: Sequence[EsdPanel], subtitle: str = "") -> Any:
    """The ESDs of ``panels`` side by side (log-log histogram, the power-law fit and its start); None if empty."""
    panels = [p for p in panels if np.count_nonzero(p.eigenvalues > 0) >= 10]
    if not panels:
        return None
    fig = new_figure(TWO_COLUMNS, 2.8)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, panel in zip(axes, panels, strict=True):
        _esd_panel(ax, panel)
    axes[0].set_ylabel("density")
    if subtitle:
        fig.suptitle(subtitle)
    return fig
