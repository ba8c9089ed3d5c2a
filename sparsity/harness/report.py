"""Publishable outputs of a results folder: summary.md, LaTeX tables (booktabs) and figures (PDF and PNG).

Everything is rendered from the files a run wrote, so ``sparsity-bench report DIR`` re-renders a finished run
at any time. Two kinds of folders are recognised from the columns of ``results.csv``
(:func:`results_kind`):

- ``suite`` (``sparsity-bench run``: :data:`sparsity.harness.cases.COLUMNS`): the summary tables, decay against
  tail index, best-k curves, per-layer figures of the real weights and a grid of ESDs;
- ``layers`` (``sparsity-bench analyze --out``: the per-layer columns of :mod:`sparsity.layers`, with a
  ``checkpoint`` or ``model`` column when several checkpoints were analysed): a per-checkpoint summary, one
  per-layer table per checkpoint, the per-layer figure (checkpoints side by side) and, when ``spectra.csv``
  holds eigenvalues or singular values, a grid of ESDs.

The figures live in :mod:`sparsity.harness._figures` and :mod:`sparsity.harness._layer_figures`, the LaTeX
tables in :mod:`sparsity.harness._tables`; this module only chooses what to draw and writes the files.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import numpy as np

from sparsity.harness._figures import (
    DEFAULT_DPI,
    DEFAULT_FORMATS,
    FigureOptions,
    curves_figures,
    decay_figure,
    figure_rc,
    parse_formats,
    save_figure,
)
from sparsity.harness._io import atomic_write_text, markdown_table
from sparsity.harness._layer_figures import EsdPanel, esd_grid_figure, layer_figure, representative
from sparsity.harness._layers_report import layers_report
from sparsity.harness._summary import COLUMNS_NOTE, failed_fits, summary_tables
from sparsity.harness._tables import latex_table

__all__ = [
    "failed_fits",
    "latex_table",
    "markdown_table",
    "results_kind",
    "summary_tables",
    "write_report",
]

_CAPTIONS = {
    "synthetic": "Synthetic data: fitted tail index and best-k decay against theory",
    "real": "Real weights: per-model medians over tensors",
}


def results_kind(columns: Iterable[str]) -> Literal["suite", "layers"]:
    """``suite`` for a suite's ``results.csv``, ``layers`` for a per-layer table; ValueError for neither."""
    cols = set(columns)
    if {"case_id", "basis", "alpha_hat", "status"} <= cols:
        return "suite"
    if {"name", "alpha_ww", "entry_alpha"} <= cols:
        return "layers"
    raise ValueError(
        "results.csv is neither a suite's results (needs case_id, basis, alpha_hat, status) nor a per-layer "
        f"table (needs name, alpha_ww, entry_alpha); its columns: {sorted(cols)[:12]}"
    )


def _read_results(path: Path) -> Any:
    """``results.csv`` with ``agrees``/``compressible`` as True, False or missing (missing too without alpha)."""
    import pandas as pd

    df = pd.read_csv(path, keep_default_na=True)
    for col in ("agrees", "compressible"):
        df[col] = df[col].map({True: True, False: False, "True": True, "False": False})
    # Runs written before compressible became three-valued stored False for a failed fit.
    df["compressible"] = df["compressible"].where(df["alpha_hat"].notna())
    return df


def _summary_head(df: Any, manifest: dict[str, Any], out: Path) -> list[str]:
    counts = ", ".join(f"{int((df['status'] == k).sum())} {k}" for k in ("ok", "skipped", "error"))
    md = [
        f"# Suite `{manifest.get('suite', out.name)}`\n",
        f"{len(df)} result rows: {counts}. Seed {manifest.get('seed', '?')}, commit "
        f"`{manifest.get('git_commit', '')[:10]}`, {manifest.get('elapsed_s', '?')} s.\n",
        f"Failed tail fits (status ok, no alpha; counted in neither the compressible nor the agree share): "
        f"{failed_fits(df)}.\n",
    ]
    if manifest.get("failed_cases"):
        md.append(
            f"**{manifest['failed_cases']} case(s) failed with unexpected errors**; their tracebacks are in "
            f"[{manifest.get('errors_log') or 'errors.log'}]({manifest.get('errors_log') or 'errors.log'}).\n"
        )
    md.append(COLUMNS_NOTE)
    return md


# ------------------------------------------------------------------------------------------- suite figures
def _suite_layers(df: Any) -> Any:
    """The real-weight rows as a per-layer table: checkpoint (the family), name, alpha_ww, entry_alpha."""
    import pandas as pd

    real = df[(df["source"] != "synthetic") & (df["status"] == "ok")]
    if not len(real):
        return pd.DataFrame(columns=["checkpoint", "name", "alpha_ww", "entry_alpha"])
    real = real.assign(_rank=(real["estimator"] != "csn").astype(int)).sort_values("_rank", kind="stable")
    spec = real[real["basis"] == "spectrum"].drop_duplicates(["family", "tensor"])
    ent = real[real["basis"] == "entries"].drop_duplicates(["family", "tensor"])
    spec = spec[["family", "tensor", "alpha_ww"]]
    ent = ent[["family", "tensor", "alpha_hat"]].rename(columns={"alpha_hat": "entry_alpha"})
    merged = spec.merge(ent, on=["family", "tensor"], how="outer", sort=False)
    order = {t: i for i, t in enumerate(dict.fromkeys(real["tensor"]))}
    merged = merged.sort_values("tensor", key=lambda s: s.map(order), kind="stable")
    return merged.rename(columns={"family": "checkpoint", "tensor": "name"}).reset_index(drop=True)


def _suite_esd_panels(df: Any, spectra: Any) -> tuple[list[EsdPanel], str]:
    """ESD panels of the lowest, median and highest alpha_ww (real layers if any, else synthetic matrices)."""
    rows = df[(df["basis"] == "spectrum") & (df["status"] == "ok") & np.isfinite(df["alpha_ww"])]
    if not len(rows) or not len(spectra):
        return [], ""
    real = rows[rows["source"] != "synthetic"]
    rows = (real if len(real) else rows).assign(_key=lambda r: r["case_id"].str.rsplit("/", n=1).str[0])
    rows = rows[rows["_key"].isin(set(spectra["case_id"]))].drop_duplicates("_key")
    picks = representative(list(rows["alpha_ww"]))
    panels = []
    for i, why in picks:
        row = rows.iloc[i]
        s = spectra.loc[spectra["case_id"] == row["_key"], "singular_value"].to_numpy(float)
        title = str(row["tensor"]) if isinstance(row["tensor"], str) and row["tensor"] else str(row["_key"])
        panels.append(EsdPanel(title, s**2, float(row["alpha_ww"]), float(row["xmin"]) ** 2, f"{why} alpha_ww"))
    what = "real layers" if len(real) else "synthetic matrices"
    return panels, f"ESDs of the {what} with the lowest, median and highest alpha_ww of {len(rows)}"


def _suite_figures(out: Path, df: Any, options: FigureOptions) -> list[Path]:
    import matplotlib
    import pandas as pd

    figdir = out / "figures"
    figdir.mkdir(exist_ok=True)
    figures: dict[str, Any] = {}
    with matplotlib.rc_context(figure_rc()):  # type: ignore[arg-type]
        figures["decay_vs_alpha"] = decay_figure(df)
        if (out / "curves.csv").exists():
            curves = pd.read_csv(out / "curves.csv")
            if len(curves):
                figures.update(curves_figures(curves, df))
        figures["layers"] = layer_figure(_suite_layers(df))
        spectra = pd.read_csv(out / "spectra.csv") if (out / "spectra.csv").exists() else pd.DataFrame()
        panels, subtitle = _suite_esd_panels(df, spectra)
        figures["esd"] = esd_grid_figure(panels, subtitle)
        written: list[Path] = []
        for stem, fig in figures.items():
            if fig is not None:
                written += save_figure(fig, figdir / stem, options)
    return written


def _suite_report(out: Path, options: FigureOptions) -> list[Path]:
    df = _read_results(out / "results.csv")
    manifest = json.loads((out / "manifest.json").read_text()) if (out / "manifest.json").exists() else {}
    tables = summary_tables(df)
    written: list[Path] = []
    (out / "tables").mkdir(exist_ok=True)
    md = _summary_head(df, manifest, out)
    for key in ("synthetic", "real"):
        if key in tables:
            md += [f"## {_CAPTIONS[key]}\n", markdown_table(tables[key])]
            path = out / "tables" / f"{key}.tex"
            atomic_write_text(path, latex_table(tables[key], _CAPTIONS[key], f"tab:{key}"))
            written.append(path)
    if len(tables["errors"]):
        md += ["## Errors and skipped cases\n", markdown_table(tables["errors"])]
    if manifest.get("skipped_groups"):
        md += ["## Skipped groups\n"] + [f"- {s}\n" for s in manifest["skipped_groups"]]
    figures = _suite_figures(out, df, options)
    written += figures
    md += ["## Figures\n"] + [f"![{p.stem}](figures/{p.name})\n" for p in figures if p.suffix == ".png"]
    atomic_write_text(out / "summary.md", "\n".join(md))
    written.append(out / "summary.md")
    return written


def write_report(
    out_dir: str | Path, *, formats: str | Iterable[str] = DEFAULT_FORMATS, dpi: int = DEFAULT_DPI
) -> list[Path]:
    """Render ``summary.md``, ``tables/*.tex`` and ``figures/*`` from the results in ``out_dir``.

    The kind of folder (a suite run or an ``analyze --out`` per-layer table) is read from the columns of
    ``results.csv`` (:func:`results_kind`). Figures are drawn without pyplot, inside
    :func:`matplotlib.rc_context`: the caller's backend, open figures and rcParams are left as they were.

    Parameters
    ----------
    out_dir : str or pathlib.Path
        A results folder holding ``results.csv`` (and, when present, ``manifest.json``, ``curves.csv``,
        ``spectra.csv``).
    formats : str or iterable of str
        Figure formats, from ``pdf``, ``png``, ``svg`` (``"pdf,png"`` or a sequence).
    dpi : int
        Resolution of raster figures (PNG), in dots per inch.

    Returns
    -------
    list of pathlib.Path
        The files written.

    Raises
    ------
    FileNotFoundError
        Naming ``results.csv`` when it is missing.
    ValueError
        For an unknown figure format or a ``results.csv`` of neither kind.
    """
    out = Path(out_dir)
    options = FigureOptions(parse_formats(formats), dpi)
    results = out / "results.csv"
    if not results.is_file():
        raise FileNotFoundError(f"{results} does not exist: nothing to report (run `sparsity-bench run` first)")
    with results.open(encoding="utf-8") as fh:
        header = fh.readline().strip().split(",")
    if results_kind(header) == "layers":
        return layers_report(out, options)
    return _suite_report(out, options)
