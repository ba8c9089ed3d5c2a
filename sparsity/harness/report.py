"""Publishable outputs of a suite run: summary.md, LaTeX tables (booktabs) and seaborn figures.

Everything is rendered from the files the runner wrote (``results.csv``, ``curves.csv``, ``spectra.csv``,
``manifest.json``), so ``sparsity-bench report DIR`` can re-render a finished run at any time.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from sparsity.harness._io import atomic_write_text, format_cell, markdown_table

__all__ = ["latex_table", "markdown_table", "summary_tables", "write_report"]

_THRESHOLD = 2.0


_LATEX_SPECIAL = {
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "\\": r"\textbackslash{}",
}


def _tex_escape(s: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in s)


def latex_table(df: Any, caption: str, label: str) -> str:
    """A DataFrame as a booktabs ``table`` environment (needs ``\\usepackage{booktabs}``)."""
    cols = [_tex_escape(str(c)) for c in df.columns]
    lines = [
        r"\begin{table}[ht]",
        r"\centering",
        rf"\caption{{{_tex_escape(caption)}}}",
        rf"\label{{{label}}}",
        r"\begin{tabular}{" + "l" * 1 + "r" * (len(cols) - 1) + "}",
        r"\toprule",
        " & ".join(cols) + r" \\",
        r"\midrule",
    ]
    for row in df.itertuples(index=False):
        lines.append(" & ".join(_tex_escape(format_cell(v)) for v in row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def _agree_rate(s: Any) -> float:
    vals = s.dropna()
    return float(vals.astype(bool).mean()) if len(vals) else math.nan


def summary_tables(df: Any) -> dict[str, Any]:
    """The summary tables of a results DataFrame: ``synthetic`` (one row per family, true alpha, size, basis,
    estimator; means over replicates), ``real`` (one row per model, basis, estimator) and ``errors``."""
    import pandas as pd

    ok = df[df["status"] == "ok"]
    tables: dict[str, Any] = {}
    syn = ok[ok["source"] == "synthetic"]
    if len(syn):
        g = syn.groupby(["family", "params", "true_alpha", "n", "basis", "estimator"], sort=False, dropna=False)
        tables["synthetic"] = g.agg(
            cases=("case_id", "size"),
            alpha_hat=("alpha_hat", "mean"),
            predicted=("predicted_decay_true", "first"),
            measured=("measured_decay", "mean"),
            agree=("agrees", _agree_rate),
            compressible=("compressible", "mean"),
            eff_frac=("effective_sparsity_frac", "mean"),
        ).reset_index()
    real = ok[ok["source"] != "synthetic"]
    if len(real):
        g = real.groupby(["family", "basis", "estimator"], sort=False)
        tables["real"] = g.agg(
            tensors=("case_id", "size"),
            median_alpha=("alpha_hat", "median"),
            median_alpha_ww=("alpha_ww", "median"),
            compressible=("compressible", "mean"),
            median_measured=("measured_decay", "median"),
            agree=("agrees", _agree_rate),
            eff_frac=("effective_sparsity_frac", "median"),
        ).reset_index()
    err = df[df["status"] != "ok"]
    cols = ["case_id", "status", "error"]
    tables["errors"] = err[cols] if len(err) else pd.DataFrame(columns=cols)
    return tables


def _figure_curves(curves: Any, figdir: Path, written: list[Path]) -> None:
    import matplotlib.pyplot as plt
    import seaborn as sns

    def label(a: float) -> str:
        return "unknown" if np.isnan(a) else "light" if np.isinf(a) else format_cell(a)

    for basis, part in curves.groupby("basis"):
        part = part.copy()
        part["tail index"] = part["true_alpha"].map(label)
        known = sorted(a for a in part["true_alpha"].unique() if np.isfinite(a))
        order = [label(a) for a in known] + [t for t in ("light", "unknown") if t in set(part["tail index"])]
        g = sns.relplot(data=part, x="k", y="rel_error", hue="tail index", hue_order=order, units="case_id",
                        estimator=None, col="family", col_wrap=min(4, part["family"].nunique()), kind="line",
                        height=2.6, facet_kws={"sharey": False}, linewidth=0.8, palette="viridis")  # fmt: skip
        g.set(xscale="log", yscale="log")
        g.set_axis_labels("k", "relative best-k error")
        g.figure.suptitle(f"Best-k error curves ({basis})", y=1.02)
        path = figdir / f"curves_{basis}.png"
        g.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(g.figure)
        written.append(path)


def _figure_decay(df: Any, figdir: Path, written: list[Path]) -> None:
    import matplotlib.pyplot as plt
    import seaborn as sns

    ok = df[(df["status"] == "ok") & np.isfinite(df["alpha_hat"]) & np.isfinite(df["measured_decay"])]
    if not len(ok):
        return
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    sns.scatterplot(data=ok, x="alpha_hat", y="measured_decay", hue="family", style="basis", ax=ax, s=28)
    hi = max(4.0, float(np.nanpercentile(ok["alpha_hat"], 98)) * 1.05)
    a = np.linspace(0.2, hi, 400)
    ax.plot(a, np.maximum(0.0, 1 / a - 0.5), color="black", lw=1.2, label="theory max(0, 1/alpha - 1/2)")
    ax.axvline(_THRESHOLD, color="crimson", ls="--", lw=1, label="alpha = 2")
    ax.set_xlim(0, hi)
    ax.set_ylim(-0.1, min(2.5, max(1.0, float(np.nanmax(ok["measured_decay"])) * 1.1)))
    ax.set_xlabel("fitted tail index alpha (survival)")
    ax.set_ylabel("measured decay exponent s")
    ax.legend(fontsize=7, loc="upper right")
    path = figdir / "decay_vs_alpha.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    written.append(path)


def _figure_layers(df: Any, figdir: Path, written: list[Path]) -> None:
    import matplotlib.pyplot as plt

    real = df[(df["source"] != "synthetic") & (df["status"] == "ok")]
    if not len(real):
        return
    for family, part in real.groupby("family"):
        by_basis = {b: g[g["estimator"] == g["estimator"].iloc[0]] for b, g in part.groupby("basis")}
        spec_rows, ent_rows = by_basis.get("spectrum", part.iloc[:0]), by_basis.get("entries", part.iloc[:0])
        spec = spec_rows.set_index("tensor")["alpha_ww"]
        ent = ent_rows.set_index("tensor")["alpha_hat"]
        est = ", ".join(f"{b}: {g['estimator'].iloc[0]}" for b, g in by_basis.items())
        tensors = list(dict.fromkeys(list(spec.index) + list(ent.index)))
        fig, ax = plt.subplots(figsize=(max(6.0, 0.18 * len(tensors)), 4.0))
        x = np.arange(len(tensors))
        ax.plot(x, [spec.get(t, np.nan) for t in tensors], "o-", ms=3, label="alpha_ww (ESD of W^T W)")
        ax.plot(x, [ent.get(t, np.nan) for t in tensors], "s-", ms=3, label="tail index of |entries|")
        ax.axhline(_THRESHOLD, color="crimson", ls="--", lw=1, label="2: l2 threshold")
        ax.set_xticks(x, tensors, rotation=90, fontsize=5)
        ax.set_ylabel("exponent")
        ax.set_title(f"{family}: per-layer alpha_ww and entry tail index ({est})")
        ax.legend(fontsize=7)
        path = figdir / f"layers_{_slug(str(family))}.png"
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        written.append(path)


def _slug(s: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in s)


def _figure_esd(df: Any, spectra: Any, figdir: Path, written: list[Path]) -> None:
    import matplotlib.pyplot as plt

    rows = df[(df["basis"] == "spectrum") & (df["status"] == "ok") & (df["estimator"] == "csn")]
    if not len(rows) or not len(spectra):
        return
    # Prefer a real-weight layer, else the largest synthetic spectrum.
    rows = rows.assign(real=rows["source"] != "synthetic").sort_values(["real", "n"], ascending=False)
    row = rows.iloc[0]
    case = row["case_id"].rsplit("/", 1)[0]
    s = spectra.loc[spectra["case_id"] == case, "singular_value"].to_numpy()
    lam = np.sort(s[s > 0] ** 2)
    if lam.size < 10:
        return
    fig, ax = plt.subplots(figsize=(6.0, 4.2))
    bins = np.geomspace(lam[0], lam[-1], 60)
    dens, edges = np.histogram(lam, bins=bins, density=True)
    centers = np.sqrt(edges[:-1] * edges[1:])
    ax.loglog(centers[dens > 0], dens[dens > 0], "o", ms=3, label="ESD of W^T W")
    xmin_l = float(row["xmin"]) ** 2
    alpha_ww = float(row["alpha_ww"])
    tail = lam[lam >= xmin_l]
    if tail.size and np.isfinite(alpha_ww):
        # p(lambda) = (alpha_ww - 1) / xmin * (lambda / xmin)^(-alpha_ww) on the tail, times its share of points.
        grid = np.geomspace(xmin_l, lam[-1], 50)
        share = tail.size / lam.size
        ax.loglog(
            grid,
            share * (alpha_ww - 1) / xmin_l * (grid / xmin_l) ** (-alpha_ww),
            "-",
            color="crimson",
            label=f"power-law fit alpha_ww = {alpha_ww:.2f}",
        )
        ax.axvline(xmin_l, color="gray", ls=":", lw=1, label="lambda_min of the fit")
    ax.set_xlabel("eigenvalue lambda = s^2")
    ax.set_ylabel("density")
    ax.set_title(f"ESD: {case}", fontsize=8)
    ax.legend(fontsize=7)
    path = figdir / "esd.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    written.append(path)


def write_report(out_dir: str | Path) -> list[Path]:
    """Render ``summary.md``, ``tables/*.tex`` and ``figures/*.png`` from the run files in ``out_dir``.

    Returns the paths written. Raises ``FileNotFoundError`` naming ``results.csv`` when it is missing.
    """
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    out = Path(out_dir)
    results = out / "results.csv"
    if not results.is_file():
        raise FileNotFoundError(f"{results} does not exist: nothing to report (run `sparsity-bench run` first)")
    df = pd.read_csv(results, keep_default_na=True)
    for col in ("agrees", "compressible"):
        df[col] = df[col].map({True: True, False: False, "True": True, "False": False})
    manifest = json.loads((out / "manifest.json").read_text()) if (out / "manifest.json").exists() else {}
    tables = summary_tables(df)
    written: list[Path] = []
    (out / "tables").mkdir(exist_ok=True)
    captions = {
        "synthetic": "Synthetic data: fitted tail index and best-k decay against theory",
        "real": "Real weights: per-model medians over tensors",
    }
    md = [
        f"# Suite `{manifest.get('suite', out.name)}`\n",
        f"{len(df)} result rows: "
        + ", ".join(f"{int((df['status'] == k).sum())} {k}" for k in ("ok", "skipped", "error"))
        + ". "
        f"Seed {manifest.get('seed', '?')}, commit `{manifest.get('git_commit', '')[:10]}`, "
        f"{manifest.get('elapsed_s', '?')} s.\n",
        "Columns: alpha = survival tail index; predicted = max(0, 1/alpha - 1/2) from the true alpha; measured = "
        "fitted decay exponent of the best-k l2 error; agree = share of cases whose measurement lies in the "
        "band predicted from alpha's confidence interval (+-0.05); compressible = share with fitted alpha < 2; "
        "eff_frac = effective sparsity (relative error 0.1) over n.\n",
    ]
    for key in ("synthetic", "real"):
        if key in tables:
            md += [f"## {captions[key]}\n", markdown_table(tables[key])]
            path = out / "tables" / f"{key}.tex"
            atomic_write_text(path, latex_table(tables[key], captions[key], f"tab:{key}"))
            written.append(path)
    if len(tables["errors"]):
        md += ["## Errors and skipped cases\n", markdown_table(tables["errors"])]
    if manifest.get("skipped_groups"):
        md += ["## Skipped groups\n"] + [f"- {s}\n" for s in manifest["skipped_groups"]]
    figdir = out / "figures"
    figdir.mkdir(exist_ok=True)
    if (out / "curves.csv").exists():
        curves = pd.read_csv(out / "curves.csv")
        if len(curves):
            _figure_curves(curves, figdir, written)
    _figure_decay(df, figdir, written)
    _figure_layers(df, figdir, written)
    spectra = pd.read_csv(out / "spectra.csv") if (out / "spectra.csv").exists() else pd.DataFrame()
    _figure_esd(df, spectra, figdir, written)
    md += ["## Figures\n"] + [f"![{p.stem}](figures/{p.name})\n" for p in written if p.suffix == ".png"]
    atomic_write_text(out / "summary.md", "\n".join(md))
    written.append(out / "summary.md")
    return written
