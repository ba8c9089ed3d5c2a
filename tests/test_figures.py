"""Tests for the report's figures (sparsity.harness._figures, _layer_figures): each kind renders from a small
results table to a valid PDF and PNG of the stated size, with fonts of at least 7 pt, and the layer-name parser."""

from __future__ import annotations

import math
import re
import struct

import matplotlib
import numpy as np
import pandas as pd
import pytest

from sparsity.harness._figures import (
    ONE_COLUMN,
    TWO_COLUMNS,
    FigureOptions,
    curves_figures,
    decay_figure,
    decay_points,
    figure_rc,
    parse_formats,
    save_figure,
)
from sparsity.harness._layer_figures import EsdPanel, esd_grid_figure, layer_figure, layer_kind, representative
from sparsity.harness.cases import COLUMNS

DPI = 60  # small rasters keep the test fast; the size check is exact at any dpi


def _row(**kw):
    base = {
        "group": "g", "source": "synthetic", "family": "pareto", "params": '{"alpha": 1.5}', "tensor": "",
        "shape": "1000", "n": 1000, "basis": "entries", "estimator": "csn", "true_alpha": 1.5, "alpha_hat": 1.5,
        "alpha_ww": math.nan, "xmin": 1.0, "predicted_decay_true": 1 / 1.5 - 0.5, "measured_decay": 0.2,
        "decay_k_min": 10, "decay_k_max": 100, "status": "ok", "error": "",
    }  # fmt: skip
    return {**dict.fromkeys(COLUMNS), **base, **kw}


def _results(replicates: int = 1, extra: dict | None = None) -> pd.DataFrame:
    """Synthetic entries over alpha (with outliers beyond the axes), spectra, and a small real model."""
    rows = []
    for alpha in (0.5, 1.0, 1.5, 2.5, 3.0, 9.0):
        for r in range(replicates):
            measured = max(0.0, 1 / alpha - 0.5) + 0.01 * r
            cid = f"g/pareto/a={alpha}/1000/r{r}/entries"
            params = f'{{"alpha": {alpha}}}'
            fitted = alpha * (1 + 0.01 * r)
            rows += [_row(case_id=f"{cid}/{e}", true_alpha=alpha, params=params, alpha_hat=fitted, estimator=e,
                          measured_decay=measured, predicted_decay_true=max(0.0, 1 / alpha - 0.5), **(extra or {}))
                     for e in ("csn", "hill")]  # fmt: skip
    for a in (0.8, 1.6, 3.0):
        rows.append(_row(case_id=f"m/pls/a={a}/64x32/r0/spectrum/csn", family="power_law_spectrum",
                         basis="spectrum", alpha_hat=a, alpha_ww=1 + a / 2, n=32, true_alpha=a))  # fmt: skip
    for i, name in enumerate(_bert_names(2)):
        for basis, alpha in (("spectrum", 3.0 + i % 3), ("entries", 5.0 + i % 4)):
            rows.append(_row(case_id=f"real/{name}/{basis}/csn", source="catalog", family="tiny-bert", tensor=name,
                             basis=basis, alpha_hat=alpha, alpha_ww=1 + alpha / 2 if basis == "spectrum" else math.nan,
                             true_alpha=math.nan, params=""))  # fmt: skip
    return pd.DataFrame(rows, columns=list(dict.fromkeys([*COLUMNS, *(extra or {})])))


def _bert_names(blocks: int) -> list[str]:
    kinds = ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
             "intermediate.dense", "output.dense")  # fmt: skip
    names = ["embeddings.word_embeddings.weight"]
    names += [f"encoder.layer.{b}.{k}.weight" for b in range(blocks) for k in kinds]
    return [*names, "pooler.dense.weight"]


def _curves(df: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for key in dict.fromkeys(df["case_id"].str.rsplit("/", n=1).str[0]):
        row = df[df["case_id"].str.startswith(key + "/")].iloc[0]
        n, a = int(row["n"]), float(row["true_alpha"])
        for k in np.unique(np.geomspace(1, n, 30).astype(int)):
            rel = (k / n) ** 0.3 if not np.isfinite(a) else (k ** -max(1 / a - 0.5, 0.01)) * (1 - k / n)
            rows.append({"case_id": key, "group": row["group"], "family": row["family"], "basis": row["basis"],
                         "true_alpha": a, "k": k, "rel_error": rel})  # fmt: skip
    return pd.DataFrame(rows)


def _png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def _pdf_mediabox(path) -> list[float]:
    data = path.read_bytes()
    assert data[:5] == b"%PDF-" and data.rstrip().endswith(b"%%EOF")
    m = re.search(rb"/MediaBox\s*\[\s*([-\d.\s]+)\]", data)
    assert m is not None
    return [float(v) for v in m.group(1).split()]


def _check_saved(fig, tmp_path, name: str, width: float) -> None:
    """PNG of exactly (inches x dpi) pixels, PDF MediaBox of (inches x 72) points, every text >= 7 pt."""
    w, h = fig.get_size_inches()
    assert w == pytest.approx(width)
    paths = save_figure(fig, tmp_path / name, FigureOptions(("pdf", "png"), DPI))
    assert [p.suffix for p in paths] == [".pdf", ".png"]
    assert _png_size(paths[1]) == (round(w * DPI), round(h * DPI))
    assert _pdf_mediabox(paths[0]) == pytest.approx([0, 0, w * 72, h * 72], abs=0.01)
    with matplotlib.rc_context(figure_rc()):
        sizes = [t.get_fontsize() for t in fig.findobj(matplotlib.text.Text) if t.get_text().strip()]
    assert sizes and min(sizes) >= 7


def test_decay_figure_two_panels_with_theory_and_outliers(tmp_path):
    df = _results()
    with matplotlib.rc_context(figure_rc()):
        fig = decay_figure(df)
    assert [ax.get_title() for ax in fig.axes[:2]] == [
        r"entries $|x_i|$",
        r"singular values ($\hat\alpha = 2(\alpha_{ww} - 1)$)",
    ]
    entries = fig.axes[0]
    assert entries.get_xlim()[1] < 5  # alpha = 9 does not stretch the axis: it is drawn on the edge
    open_markers = [ln for ln in entries.lines if ln.get_markerfacecolor() == "none" and len(ln.get_xdata())]
    assert open_markers and max(open_markers[0].get_xdata()) <= entries.get_xlim()[1]
    assert any(ln.get_label().startswith("theory") for ln in entries.lines)
    _check_saved(fig, tmp_path, "decay", TWO_COLUMNS)


def test_decay_points_one_per_data_set_preferring_csn_and_replicate_spread():
    pts = decay_points(_results(replicates=3))
    syn = pts[(pts["source"] == "synthetic") & (pts["basis"] == "entries")]
    assert len(syn) == 6  # six alphas: replicates averaged, the hill rows of the same data dropped
    # three replicates 0, 0.01, 0.02 above the theory: sample sd 0.01
    assert syn["decay_sd"].to_numpy() == pytest.approx(np.full(6, 0.01), abs=1e-12)


def test_decay_figure_draws_finite_n_prediction_and_error_bars_when_present(tmp_path):
    df = _results(extra={"predicted_decay_finite_n": 0.1, "measured_decay_std": 0.03})
    with matplotlib.rc_context(figure_rc()):
        fig = decay_figure(df)
    ax = fig.axes[0]
    assert any(ln.get_marker() == "_" for ln in ax.lines)  # the finite-n prediction
    assert ax.containers  # error bars from measured_decay_std
    _check_saved(fig, tmp_path, "decay_extra", TWO_COLUMNS)


def test_curves_figures_one_per_basis_with_fit_window_and_reference_slope(tmp_path):
    df = _results()
    with matplotlib.rc_context(figure_rc()):
        figs = curves_figures(_curves(df), df)
    assert set(figs) == {"curves_entries", "curves_spectrum"}
    ax = figs["curves_entries"].axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert any(ln.get_linewidth() >= 2 for ln in ax.lines)  # the fit window, drawn thick
    n = 1000
    assert max(max(ln.get_xdata(), default=0) for ln in ax.lines) <= n / 2  # the k -> n drop is clipped
    for name, fig in figs.items():
        _check_saved(fig, tmp_path, name, TWO_COLUMNS)


@pytest.mark.parametrize("blocks", [6, 42])  # 40 and 300 layers
def test_layer_figure_readable_for_many_layers(tmp_path, blocks):
    names = [n for n in _bert_names(blocks) if "embeddings" not in n] + ["lm_head.weight"]
    names = names[: 40 if blocks == 6 else 300]
    rng = np.random.default_rng(0)
    layers = pd.DataFrame({"checkpoint": "m", "name": names, "alpha_ww": rng.uniform(1.5, 8, len(names)),
                           "entry_alpha": rng.uniform(1.5, 14, len(names))})  # fmt: skip
    with matplotlib.rc_context(figure_rc()):
        fig = layer_figure(layers)
    top = fig.axes[0]
    assert len(top.get_xticks()) <= 16 + 1  # block ticks thinned, plus the named layer
    assert top.get_ylim()[1] < 11  # entry alpha up to 14 clipped at 10
    _check_saved(fig, tmp_path, f"layers{blocks}", TWO_COLUMNS)


def test_layer_figure_puts_checkpoints_side_by_side(tmp_path):
    names = _bert_names(3)
    layers = pd.concat(
        [pd.DataFrame({"checkpoint": ck, "name": names, "alpha_ww": 3.0, "entry_alpha": 4.0}) for ck in ("A", "B")]
    )
    with matplotlib.rc_context(figure_rc()):
        fig = layer_figure(layers)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == [f"A ({len(names)} layers)", f"B ({len(names)} layers)"]
    _check_saved(fig, tmp_path, "layers_ab", TWO_COLUMNS)


def test_esd_grid_titles_are_layer_names(tmp_path):
    rng = np.random.default_rng(1)
    panels = [EsdPanel(f"layer.{i}.q.weight", rng.pareto(a, 400) + 1, 1 + a, 1.0, why)
              for i, (a, why) in enumerate([(1.0, "lowest"), (2.0, "median"), (3.0, "highest")])]  # fmt: skip
    with matplotlib.rc_context(figure_rc()):
        fig = esd_grid_figure(panels, "three layers")
    assert [ax.get_title().splitlines()[0] for ax in fig.axes] == [p.title for p in panels]
    _check_saved(fig, tmp_path, "esd", TWO_COLUMNS)
    assert esd_grid_figure([EsdPanel("tiny", np.ones(3), 2.0, 1.0)]) is None


def test_one_column_decay_figure_when_one_basis(tmp_path):
    df = _results()
    with matplotlib.rc_context(figure_rc()):
        fig = decay_figure(df[df["basis"] == "entries"])
    _check_saved(fig, tmp_path, "decay_one", ONE_COLUMN)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("encoder.layer.3.attention.self.query.weight", ("encoder.layer", 3, "q")),
        ("encoder.layer.3.attention.output.dense.weight", ("encoder.layer", 3, "o")),
        ("encoder.layer.3.intermediate.dense.weight", ("encoder.layer", 3, "up")),
        ("encoder.layer.3.output.dense.weight", ("encoder.layer", 3, "down")),
        ("model.layers.12.self_attn.k_proj.weight", ("model.layers", 12, "k")),
        ("model.layers.0.mlp.gate_proj.weight", ("model.layers", 0, "gate")),
        ("model.layers.0.mlp.down_proj.weight", ("model.layers", 0, "down")),
        ("h.5.attn.c_attn.weight", ("h", 5, "qkv")),
        ("h.5.attn.c_proj.weight", ("h", 5, "o")),
        ("h.5.mlp.c_proj.weight", ("h", 5, "down")),
        ("layer2.1.conv1.weight", ("layer2", 1, "conv1")),
        ("embeddings.word_embeddings.weight", (None, None, "embeddings.word_embeddings")),
    ],
)
def test_layer_kind(name, expected):
    assert layer_kind(name) == expected


def test_representative_lowest_median_highest():
    assert representative([3.0, math.nan, 1.0, 2.0, 9.0]) == [(2, "lowest"), (3, "median"), (4, "highest")]
    assert representative([5.0]) == [(0, "lowest")]
    assert representative([math.nan]) == []


def test_parse_formats():
    assert parse_formats("pdf, PNG") == ("pdf", "png")
    assert FigureOptions(("svg",), 72).formats == ("svg",)
    with pytest.raises(ValueError, match="gif"):
        parse_formats("png,gif")
    with pytest.raises(ValueError, match="dpi"):
        FigureOptions(("png",), 10)
