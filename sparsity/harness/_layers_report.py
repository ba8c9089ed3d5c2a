"""The report of a per-layer results folder (``sparsity-bench analyze --out``): one or several checkpoints.

Writes ``summary.md`` (a per-checkpoint summary, then one section per checkpoint with its per-layer table),
``tables/checkpoints.tex`` and ``tables/layers_<checkpoint>.tex`` (booktabs; long tables break across pages),
``figures/layers.*`` (checkpoints side by side) and, when ``spectra.csv`` holds the eigenvalues (``eigenvalue``)
or singular values (``singular_value``) per ``name`` (and ``checkpoint``), ``figures/esd_<checkpoint>.*``: the
ESDs of the layers with the lowest, median and highest ``alpha_ww`` among those ``spectra.csv`` holds (an
``analyze --out`` folder holds exactly those three per checkpoint, :mod:`sparsity.harness._analysis_spectra`),
each panel titled by the layer's name.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from sparsity.harness._figures import FigureOptions, figure_rc, save_figure
from sparsity.harness._io import atomic_write_text, markdown_table
from sparsity.harness._layer_figures import EsdPanel, esd_grid_figure, layer_figure, representative
from sparsity.harness._tables import latex_table

__all__ = ["LAYER_TABLE_COLUMNS", "checkpoint_summary", "layers_report", "read_layers"]

LAYER_TABLE_COLUMNS = (
    "name",
    "alpha_ww",
    "sv_tail_index",
    "entry_alpha",
    "measured_rank_decay",
    "entry_measured_decay",
    "compressible",
    "entry_compressible",
)
"""The per-layer columns of the report's tables (every column stays in ``results.csv``)."""
_HEADERS = {
    "measured_rank_decay": r"$\hat s_{\mathrm{rank}}$",
    "entry_measured_decay": r"$\hat s_{\mathrm{entry}}$",
    "compressible": r"Compr.\ (rank)",
    "entry_compressible": r"Compr.\ (entries)",
}
_FLAGS = {True: True, False: False, "True": True, "False": False, "true": True, "false": False}


def read_layers(path: Path) -> Any:
    """A per-layer ``results.csv`` with a ``checkpoint`` column (from ``model``, else the folder's name)."""
    import pandas as pd

    df = pd.read_csv(path, keep_default_na=True)
    for col in ("compressible", "entry_compressible"):
        if col in df:
            df[col] = df[col].map(_FLAGS)
    if "checkpoint" not in df:
        df.insert(0, "checkpoint", df["model"] if "model" in df else path.parent.name)
    df["checkpoint"] = df["checkpoint"].fillna("").astype(str)
    if "status" not in df:
        df["status"] = "ok"
    return df


def _share(s: Any) -> float:
    vals = s.dropna()
    return float(vals.astype(bool).mean()) if len(vals) else math.nan


def checkpoint_summary(df: Any) -> Any:
    """One row per checkpoint: layers, analysed layers, medians of the exponents, compressible shares."""
    g = df.groupby("checkpoint", sort=False)
    table = g.agg(
        layers=("name", "size"),
        median_alpha_ww=("alpha_ww", "median"),
        median_sv_tail_index=("sv_tail_index", "median"),
        compressible=("compressible", _share),
        median_entry_alpha=("entry_alpha", "median"),
        entry_compressible=("entry_compressible", _share),
        median_rank_decay=("measured_rank_decay", "median"),
        median_entry_decay=("entry_measured_decay", "median"),
    ).reset_index()
    table.insert(2, "ok", g["status"].agg(lambda s: int((s == "ok").sum())).to_numpy())
    return table


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", s).strip("_") or "checkpoint"


def _layer_rows(part: Any) -> Any:
    cols = [c for c in LAYER_TABLE_COLUMNS if c in part]
    rows = part[cols].copy()
    rows["name"] = rows["name"].astype(str).str.replace(r"\.weight$", "", regex=True)
    return rows


def _esd_panels(spectra: Any, part: Any, checkpoint: str) -> list[EsdPanel]:
    if not len(spectra) or "name" not in spectra:
        return []
    if "checkpoint" in spectra:
        spectra = spectra[spectra["checkpoint"].astype(str) == checkpoint]
    value = "eigenvalue" if "eigenvalue" in spectra else "singular_value" if "singular_value" in spectra else None
    if value is None:
        return []
    names = spectra["name"].astype(str)
    rows = part[part["name"].astype(str).isin(set(names)) & np.isfinite(part["alpha_ww"])]
    panels = []
    for i, why in representative(list(rows["alpha_ww"])):
        row = rows.iloc[i]
        v = spectra.loc[names == str(row["name"]), value].to_numpy(float)
        lam = v if value == "eigenvalue" else v**2
        panels.append(EsdPanel(str(row["name"]), lam, float(row["alpha_ww"]), float(row["xmin"]), f"{why} alpha_ww"))
    return panels


def _figures(out: Path, df: Any, options: FigureOptions) -> list[Path]:
    import matplotlib
    import pandas as pd

    figdir = out / "figures"
    figdir.mkdir(exist_ok=True)
    path = out / "spectra.csv"
    spectra = pd.read_csv(path, dtype={"checkpoint": str, "name": str}) if path.exists() else pd.DataFrame()
    written: list[Path] = []
    with matplotlib.rc_context(figure_rc()):  # type: ignore[arg-type]
        ok = df[df["status"] == "ok"]
        checkpoints = list(dict.fromkeys(ok["checkpoint"]))
        groups = [checkpoints] if len(checkpoints) <= 3 else [[c] for c in checkpoints]
        for group in groups:
            fig = layer_figure(ok[ok["checkpoint"].isin(group)])
            stem = "layers" if len(groups) == 1 else f"layers_{_slug(group[0])}"
            if fig is not None:
                written += save_figure(fig, figdir / stem, options)
        for ck in checkpoints:
            panels = _esd_panels(spectra, ok[ok["checkpoint"] == ck], ck)
            fig = esd_grid_figure(panels, f"{ck}: ESDs of the layers with the lowest, median and highest alpha_ww")
            if fig is not None:
                written += save_figure(fig, figdir / f"esd_{_slug(ck)}", options)
    return written


def layers_report(out: Path, options: FigureOptions) -> list[Path]:
    """Render the report of the per-layer ``results.csv`` in ``out``; returns the files written."""
    df = read_layers(out / "results.csv")
    manifest = json.loads((out / "manifest.json").read_text()) if (out / "manifest.json").exists() else {}
    (out / "tables").mkdir(exist_ok=True)
    summary = checkpoint_summary(df)
    counts = ", ".join(f"{int((df['status'] == k).sum())} {k}" for k in ("ok", "skipped", "failed"))
    md = [
        "# Per-layer analysis\n",
        f"{len(df)} tensors of {len(summary)} checkpoint(s): {counts}."
        + (f" Commit `{str(manifest['git_commit'])[:10]}`." if manifest.get("git_commit") else "")
        + "\n",
        "alpha_ww: ESD exponent of W^T W (compressible in rank below 2); sv_tail_index = 2 (alpha_ww - 1); "
        "entry_alpha: tail index of |W_ij| (compressible below 2); decays: fitted exponents of the rank-k and "
        "best-k l2 errors. Shares count only the layers with a fit. Every column: docs/columns.md.\n",
        "## Checkpoints\n",
        markdown_table(summary),
    ]
    written = [out / "tables" / "checkpoints.tex"]
    caption = "Per-checkpoint medians over layers and shares of compressible layers"
    atomic_write_text(written[0], latex_table(summary, caption, "tab:checkpoints", headers=_HEADERS))
    for ck, part in df.groupby("checkpoint", sort=False):
        rows = _layer_rows(part)
        md += [f"## {ck}\n", markdown_table(rows)]
        bad = part[part["status"] != "ok"]
        if len(bad) and "reason" in bad:
            md += ["Not analysed:\n"] + [f"- {n}: {r}\n" for n, r in zip(bad["name"], bad["reason"], strict=True)]
        path = out / "tables" / f"layers_{_slug(str(ck))}.tex"
        atomic_write_text(path, latex_table(rows, f"{ck}: per-layer exponents", f"tab:layers-{_slug(str(ck))}",
                                            headers=_HEADERS))  # fmt: skip
        written.append(path)
    figures = _figures(out, df, options)
    written += figures
    md += ["## Figures\n"] + [f"![{p.stem}](figures/{p.name})\n" for p in figures if p.suffix == ".png"]
    atomic_write_text(out / "summary.md", "\n".join(md))
    written.append(out / "summary.md")
    return written
