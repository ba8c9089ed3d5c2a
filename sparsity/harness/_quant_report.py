"""Summary, figure and tables of the quantization study (private; re-exported by :mod:`sparsity.harness.quantization`).

- ``quantization_<model>``: ``alpha_ww`` before against after rounding, one panel per format, with the identity
  line, the original's CI as horizontal error bars, the layers whose ``alpha_ww`` left it marked, and (open
  circles) the refit on the original tail size, which separates a changed tail from a jump of the KS-chosen xmin;
- the table of :func:`quantization_summary` per model and format (share of layers within their CI, median and
  largest move, Spearman correlation of the move with the tail index before rounding), as Markdown and as a
  booktabs LaTeX table.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from sparsity.harness._io import atomic_write_text, markdown_table
from sparsity.harness._quant_formats import FORMATS
from sparsity.harness._study_output import latex_booktabs, new_figure, save_figure, style

__all__ = ["quantization_figure", "quantization_summary", "quantization_tables", "write_quantization_outputs"]

_TABLE_COLUMNS = {
    "model": "model", "format": "format", "layers": "layers", "share_within_ci": "share within CI",
    "median_abs_delta": "median shift of alpha_ww", "max_abs_delta": "max shift",
    "median_abs_delta_same_tail": "median shift, same tail size", "median_rel_error": "median rel. error",
    "spearman_rho": "Spearman rho", "spearman_p": "p",
}  # fmt: skip


def quantization_summary(rows: Any) -> Any:
    """Per model and format: how many layers keep ``alpha_ww`` inside its CI; does the prior tail predict the move.

    ``spearman_rho``/``spearman_p``: Spearman rank correlation across layers between ``alpha_ww_before`` and
    ``|delta_alpha_ww|`` (positive: lighter-tailed layers move more); ``spearman_rho_entry`` the same for the
    entry tail index and ``|delta_entry_alpha|``. NaN with fewer than 3 layers or a constant column.

    Parameters
    ----------
    rows : list of dict or pandas.DataFrame
        From :func:`quantization_rows`.

    Returns
    -------
    pandas.DataFrame
        ``model``, ``format``, ``layers``, ``within_ci``, ``share_within_ci``, ``median_abs_delta``,
        ``max_abs_delta``, ``median_abs_delta_same_tail``, ``median_rel_error``, ``spearman_rho``,
        ``spearman_p``, ``spearman_rho_entry``.
    """
    import pandas as pd

    df = pd.DataFrame(rows)
    out = []
    order = {f: i for i, f in enumerate(FORMATS)}
    for (model, fmt), g in sorted(
        df.groupby(["model", "format"], sort=False), key=lambda kv: (kv[0][0], order[kv[0][1]])
    ):
        g = g[g["status"] == "ok"]
        ok = g["within_ci"].dropna().astype(bool)
        absd = g["delta_alpha_ww"].abs()
        rho, p = _spearman(g["alpha_ww_before"], absd)
        rho_e, _ = _spearman(g["entry_alpha_before"], g["delta_entry_alpha"].abs())
        out.append(
            {
                "model": model, "format": fmt, "layers": int(ok.size), "within_ci": int(ok.sum()),
                "share_within_ci": float(ok.mean()) if ok.size else math.nan,
                "median_abs_delta": float(absd.median()), "max_abs_delta": float(absd.max()),
                "median_abs_delta_same_tail": float((g["alpha_ww_same_tail"] - g["alpha_ww_before"]).abs().median()),
                "median_rel_error": float(g["rel_fro_error"].median()), "spearman_rho": rho, "spearman_p": p,
                "spearman_rho_entry": rho_e,
            }
        )  # fmt: skip
    return pd.DataFrame(out)


def _spearman(x: Any, y: Any) -> tuple[float, float]:
    from scipy.stats import spearmanr

    m = np.isfinite(np.asarray(x, dtype=float)) & np.isfinite(np.asarray(y, dtype=float))
    xs, ys = np.asarray(x, dtype=float)[m], np.asarray(y, dtype=float)[m]
    if xs.size < 3 or np.ptp(xs) == 0 or np.ptp(ys) == 0:
        return math.nan, math.nan
    res = spearmanr(xs, ys)
    return float(res.statistic), float(res.pvalue)


def quantization_figure(rows: Any, model: str) -> Any:
    """``alpha_ww`` before against after rounding for one model, one panel per format.

    Parameters
    ----------
    rows : pandas.DataFrame
        Rows of :func:`quantization_rows`.
    model : str
        The ``model`` to draw.

    Returns
    -------
    matplotlib.figure.Figure
    """
    df = rows[(rows["model"] == model) & (rows["status"] == "ok")]
    fmts = list(dict.fromkeys(df["format"]))
    ncols = min(4, max(1, len(fmts)))
    nrows = max(1, math.ceil(len(fmts) / ncols))
    with style():
        fig, axes = new_figure(nrows, ncols, panel=(2.2, 2.2))
        lo = float(min(df["alpha_ww_before"].min(), df["alpha_ww"].min())) if len(df) else 1.0
        hi = float(max(df["alpha_ww_before"].max(), df["alpha_ww"].max())) if len(df) else 2.0
        for ax, fmt in zip(axes.ravel(), fmts, strict=False):
            g = df[df["format"] == fmt]
            inside = g["within_ci"].fillna(False).astype(bool)
            for mask, color, label in ((inside, "tab:blue", "within CI"), (~inside, "tab:red", "moved")):
                h = g[mask]
                ax.errorbar(h["alpha_ww_before"], h["alpha_ww"], xerr=(h["ci_hi"] - h["ci_lo"]) / 2, fmt="o", ms=3,
                            color=color, elinewidth=0.6, label=label)  # fmt: skip
            ax.scatter(g["alpha_ww_before"], g["alpha_ww_same_tail"], s=14, facecolors="none", edgecolors="0.3",
                       lw=0.6, label="same tail size", zorder=3)  # fmt: skip
            ax.plot([lo, hi], [lo, hi], color="0.4", lw=0.7, ls="--")
            known = g["within_ci"].dropna().astype(bool)
            share = known.mean() if len(known) else math.nan
            ax.set_title(f"{fmt}: {share:.0%} within CI")
            ax.set_xlabel(r"$\alpha_{ww}$ (float32)")
            ax.set_ylabel(r"$\alpha_{ww}$ (rounded)")
        for ax in axes.ravel()[len(fmts) :]:
            ax.set_axis_off()
        if fmts:
            fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside right upper")
        fig.suptitle(model)
    return fig


def quantization_tables(summary: Any) -> tuple[str, str]:
    """The summary as (Markdown, booktabs LaTeX), with readable column names."""
    table = summary[[c for c in _TABLE_COLUMNS if c in summary.columns]].rename(columns=_TABLE_COLUMNS)
    caption = "Share of layers whose alpha_ww stays within its confidence interval after rounding, per format"
    return markdown_table(table), latex_booktabs(table, caption, "tab:quantization")


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", s)


def write_quantization_outputs(rows: Any, out_dir: str | Path) -> list[Path]:
    """Write the figure per model (PDF and PNG) and ``quantization.md`` / ``quantization.tex`` into ``out_dir``."""
    import pandas as pd

    df = pd.DataFrame(rows)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for model in dict.fromkeys(df["model"]):
        written += save_figure(quantization_figure(df, model), out / f"quantization_{_slug(str(model))}")
    md, tex = quantization_tables(quantization_summary(df))
    for name, text in (("quantization.md", md), ("quantization.tex", tex)):
        atomic_write_text(out / name, text)
        written.append(out / name)
    return written
