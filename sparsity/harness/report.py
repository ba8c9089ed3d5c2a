"""Publishable outputs of a suite run: summary.md, LaTeX tables (booktabs) and seaborn figures.

Everything is rendered from the files the runner wrote (``results.csv``, ``curves.csv``, ``spectra.csv``,
``manifest.json``), so ``sparsity-bench report DIR`` can re-render a finished run at any time.

Figures are :class:`matplotlib.figure.Figure` objects drawn inside :func:`matplotlib.rc_context` with the
defaults of :func:`_figure_rc`: no pyplot state, and the caller's backend and rcParams are left as they were.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from sparsity.harness._io import atomic_write_text, format_cell, markdown_table
from sparsity.harness._summary import failed_fits, summary_tables

__all__ = ["failed_fits", "latex_table", "markdown_table", "summary_tables", "write_report"]

_THRESHOLD = 2.0
_DPI = 110


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


# ----------------------------------------------------------------------------------------------- figures
def _figure_rc() -> dict[Any, Any]:
    """The per-figure defaults, applied inside :func:`matplotlib.rc_context` only."""
    return {"pdf.fonttype": 42, "ps.fonttype": 42, "savefig.dpi": _DPI, "savefig.bbox": "tight"}


def _save(fig: Any, path: Path, written: list[Path]) -> None:
    fig.savefig(path)
    written.append(path)


def _tail_label(a: float) -> str:
    return "unknown" if np.isnan(a) else "light" if np.isinf(a) else format_cell(a)


def _figure_curves(curves: Any, figdir: Path, written: list[Path]) -> None:
    """One figure per basis: a panel per family, a line per case, coloured by the true tail index."""
    import seaborn as sns
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    for basis, part in curves.groupby("basis"):
        part = part.assign(**{"tail index": part["true_alpha"].map(_tail_label)})
        known = sorted(a for a in part["true_alpha"].unique() if np.isfinite(a))
        order = [_tail_label(a) for a in known] + [t for t in ("light", "unknown") if t in set(part["tail index"])]
        palette = dict(zip(order, sns.color_palette("viridis", len(order)), strict=True))
        families = list(dict.fromkeys(part["family"]))
        ncols = min(4, len(families))
        nrows = -(-len(families) // ncols)
        fig = Figure(figsize=(2.6 * ncols, 2.6 * nrows), layout="constrained")
        axes = fig.subplots(nrows, ncols, sharex=True, squeeze=False).ravel()
        for i, (ax, family) in enumerate(zip(axes, families, strict=False)):
            sns.lineplot(data=part[part["family"] == family], x="k", y="rel_error", hue="tail index",
                         hue_order=order, palette=palette, units="case_id", estimator=None, linewidth=0.8,
                         legend=False, ax=ax)  # fmt: skip
            ax.set(xscale="log", yscale="log")
            ax.set_title(f"family = {family}", fontsize="medium")
            bottom = i >= len(families) - ncols  # the lowest panel of its column
            ax.xaxis.set_tick_params(labelbottom=bottom)
            ax.set_xlabel("k" if bottom else "", visible=bottom)
            ax.set_ylabel("relative best-k error" if i % ncols == 0 else "")
            sns.despine(ax=ax)
        for ax in axes[len(families) :]:
            ax.remove()
        handles = [Line2D([], [], color=palette[t], linewidth=0.8) for t in order]
        fig.legend(handles, order, title="tail index", loc="outside right center")
        fig.suptitle(f"Best-k error curves ({basis})")
        _save(fig, figdir / f"curves_{basis}.png", written)


def _figure_decay(df: Any, figdir: Path, written: list[Path]) -> None:
    import seaborn as sns
    from matplotlib.figure import Figure

    ok = df[(df["status"] == "ok") & np.isfinite(df["alpha_hat"]) & np.isfinite(df["measured_decay"])]
    if not len(ok):
        return
    fig = Figure(figsize=(6.4, 4.4))
    ax = fig.subplots()
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
    _save(fig, figdir / "decay_vs_alpha.png", written)


def _figure_layers(df: Any, figdir: Path, written: list[Path]) -> None:
    from matplotlib.figure import Figure

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
        fig = Figure(figsize=(max(6.0, 0.18 * len(tensors)), 4.0))
        ax = fig.subplots()
        x = np.arange(len(tensors))
        ax.plot(x, [spec.get(t, np.nan) for t in tensors], "o-", ms=3, label="alpha_ww (ESD of W^T W)")
        ax.plot(x, [ent.get(t, np.nan) for t in tensors], "s-", ms=3, label="tail index of |entries|")
        ax.axhline(_THRESHOLD, color="crimson", ls="--", lw=1, label="2: l2 threshold")
        ax.set_xticks(x, tensors, rotation=90, fontsize=5)
        ax.set_ylabel("exponent")
        ax.set_title(f"{family}: per-layer alpha_ww and entry tail index ({est})")
        ax.legend(fontsize=7)
        _save(fig, figdir / f"layers_{_slug(str(family))}.png", written)


def _slug(s: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in s)


def _figure_esd(df: Any, spectra: Any, figdir: Path, written: list[Path]) -> None:
    from matplotlib.figure import Figure

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
    fig = Figure(figsize=(6.0, 4.2))
    ax = fig.subplots()
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
    _save(fig, figdir / "esd.png", written)


def _write_figures(out: Path, df: Any) -> list[Path]:
    """Render every figure into ``out/figures`` (inside an rc_context: the caller's settings stay untouched)."""
    import matplotlib
    import pandas as pd

    written: list[Path] = []
    figdir = out / "figures"
    figdir.mkdir(exist_ok=True)
    with matplotlib.rc_context(_figure_rc()):
        if (out / "curves.csv").exists():
            curves = pd.read_csv(out / "curves.csv")
            if len(curves):
                _figure_curves(curves, figdir, written)
        _figure_decay(df, figdir, written)
        _figure_layers(df, figdir, written)
        spectra = pd.read_csv(out / "spectra.csv") if (out / "spectra.csv").exists() else pd.DataFrame()
        _figure_esd(df, spectra, figdir, written)
    return written


# ------------------------------------------------------------------------------------------------ report
_CAPTIONS = {
    "synthetic": "Synthetic data: fitted tail index and best-k decay against theory",
    "real": "Real weights: per-model medians over tensors",
}


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
    md.append(
        "Columns: alpha = survival tail index; predicted = max(0, 1/alpha - 1/2) from the true alpha; measured = "
        "fitted decay exponent of the best-k l2 error; agree = share of cases whose measurement lies in the "
        "band predicted from alpha's confidence interval (+-0.05); compressible = share with fitted alpha < 2 "
        "among the cases with a fitted alpha; eff_frac = effective sparsity (relative error 0.1) over n.\n"
    )
    return md


def write_report(out_dir: str | Path) -> list[Path]:
    """Render ``summary.md``, ``tables/*.tex`` and ``figures/*.png`` from the run files in ``out_dir``.

    Figures are drawn without pyplot, inside :func:`matplotlib.rc_context`: the caller's backend, open figures
    and rcParams are left as they were.

    Parameters
    ----------
    out_dir : str or pathlib.Path
        A run folder holding ``results.csv`` (and, when present, ``manifest.json``, ``curves.csv``,
        ``spectra.csv``).

    Returns
    -------
    list of pathlib.Path
        The files written.

    Raises
    ------
    FileNotFoundError
        Naming ``results.csv`` when it is missing.
    """
    out = Path(out_dir)
    results = out / "results.csv"
    if not results.is_file():
        raise FileNotFoundError(f"{results} does not exist: nothing to report (run `sparsity-bench run` first)")
    df = _read_results(results)
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
    figures = _write_figures(out, df)
    written += figures
    md += ["## Figures\n"] + [f"![{p.stem}](figures/{p.name})\n" for p in figures]
    atomic_write_text(out / "summary.md", "\n".join(md))
    written.append(out / "summary.md")
    return written
