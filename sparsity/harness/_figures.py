"""Figures a journal accepts: the per-figure style, saving to PDF/PNG, decay against tail index, best-k curves.

Every figure is a :class:`matplotlib.figure.Figure` (no pyplot), drawn and saved inside
:func:`matplotlib.rc_context` with :func:`figure_rc` (so the caller's backend and rcParams are untouched), sized
for one journal column (:data:`ONE_COLUMN`, 3.5 in) or two (:data:`TWO_COLUMNS`, 7.2 in) with constrained layout
and saved at exactly that size (no tight bounding box), fonts of 7 pt or more, editable Type 42 text in PDFs, and
seaborn's colour-blind palette with one marker per family.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sparsity._checks import check_int

__all__ = [
    "DEFAULT_DPI",
    "DEFAULT_FORMATS",
    "FIGURE_FORMATS",
    "MARKERS",
    "ONE_COLUMN",
    "PALETTE",
    "TWO_COLUMNS",
    "FigureOptions",
    "curves_figures",
    "decay_figure",
    "figure_rc",
    "new_figure",
    "parse_formats",
    "save_figure",
    "style_of",
]

ONE_COLUMN = 3.5
"""Width in inches of a one-column figure."""
TWO_COLUMNS = 7.2
"""Width in inches of a figure across two columns."""
DEFAULT_DPI = 300
DEFAULT_FORMATS: tuple[str, ...] = ("pdf", "png")
FIGURE_FORMATS: tuple[str, ...] = ("pdf", "png", "svg")
PALETTE: tuple[str, ...] = ("#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc", "#ca9161", "#56b4e9", "#949494")
"""seaborn's ``colorblind`` palette (Okabe-Ito based) without its two palest colours, written out so that no
figure needs seaborn's import; with the 12 :data:`MARKERS`, 24 keys get distinct (colour, marker) pairs."""
MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h", "*", "p")
THRESHOLD = 2.0
"""alpha = 2: the l2 compressibility threshold (DESIGN.md)."""
_THRESHOLD_STYLE = {"color": "0.25", "ls": "--", "lw": 0.8}
_CLIP_X = 4.5
"""Tail indices above this are drawn at the right edge (open markers): the range 0 to 4 stays readable."""
_CLIP_Y = 2.0


@dataclass(frozen=True)
class FigureOptions:
    """How figures are saved: file formats (``pdf``, ``png``, ``svg``) and the raster resolution."""

    formats: tuple[str, ...] = DEFAULT_FORMATS
    dpi: int = DEFAULT_DPI

    def __post_init__(self) -> None:
        formats = parse_formats(self.formats)
        object.__setattr__(self, "formats", formats)
        object.__setattr__(self, "dpi", check_int(self.dpi, "dpi", low=50, high=2400))


def parse_formats(formats: str | Iterable[str]) -> tuple[str, ...]:
    """``"pdf,png"`` or ``("pdf", "png")`` -> ``("pdf", "png")``; an unknown format raises ValueError naming it."""
    items = formats.split(",") if isinstance(formats, str) else list(formats)
    out = tuple(dict.fromkeys(str(f).strip().lower().lstrip(".") for f in items if str(f).strip()))
    bad = [f for f in out if f not in FIGURE_FORMATS]
    if bad or not out:
        raise ValueError(f"formats must be a comma list of {', '.join(FIGURE_FORMATS)}; got {formats!r}")
    return out


def figure_rc() -> dict[str, Any]:
    """The per-figure defaults, applied inside :func:`matplotlib.rc_context` only (never globally)."""
    from cycler import cycler

    return {
        "pdf.fonttype": 42, "ps.fonttype": 42, "svg.fonttype": "none",
        "font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8, "figure.titlesize": 9,
        "legend.fontsize": 7, "legend.title_fontsize": 7, "xtick.labelsize": 7, "ytick.labelsize": 7,
        "axes.linewidth": 0.6, "xtick.major.width": 0.6, "ytick.major.width": 0.6, "lines.linewidth": 1.0,
        "lines.markersize": 4, "legend.frameon": False, "axes.spines.top": False, "axes.spines.right": False,
        "axes.prop_cycle": cycler(color=list(PALETTE)), "savefig.bbox": "standard", "image.cmap": "viridis",
    }  # fmt: skip


def new_figure(width: float, height: float) -> Any:
    """A constrained-layout Figure of ``width x height`` inches (no pyplot)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def save_figure(fig: Any, stem: Path, options: FigureOptions) -> list[Path]:
    """Save ``fig`` as ``stem.<format>`` for each format, at exactly its size; returns the paths written."""
    import matplotlib

    out = []
    with matplotlib.rc_context(figure_rc()):  # type: ignore[arg-type]
        for ext in options.formats:
            path = stem.with_name(f"{stem.name}.{ext}")
            fig.savefig(path, dpi=options.dpi, format=ext)
            out.append(path)
    return out


def style_of(keys: Sequence[str]) -> dict[str, tuple[str, str]]:
    """One (colour, marker) per key, in order: the same family gets the same look in every figure."""
    return {k: (PALETTE[i % len(PALETTE)], MARKERS[i % len(MARKERS)]) for i, k in enumerate(keys)}


# -------------------------------------------------------------------------------------- decay vs alpha
def _preferred_estimator(df: Any) -> Any:
    """One row per measured data set and basis: the ``csn`` row when there is one, else the first estimator."""
    key = df["case_id"].str.rsplit("/", n=1).str[0]
    rank = (df["estimator"] != "csn").astype(int)
    return df.assign(_key=key, _rank=rank).sort_values(["_key", "_rank"], kind="stable").drop_duplicates("_key")


def decay_points(df: Any) -> Any:
    """The points of :func:`decay_figure`: means over replicates, with standard deviations where replicates exist.

    Columns: ``source``, ``family``, ``basis``, ``alpha``, ``decay``, ``alpha_sd``, ``decay_sd`` and
    ``finite_n`` (the column ``predicted_decay_finite_n`` when the results have it, else NaN).
    """
    import pandas as pd

    ok = df[(df["status"] == "ok") & np.isfinite(df["alpha_hat"]) & np.isfinite(df["measured_decay"])]
    if not len(ok):
        return pd.DataFrame(columns=["source", "family", "basis", "alpha", "decay", "alpha_sd", "decay_sd"])
    ok = _preferred_estimator(ok)
    finite = ok["predicted_decay_finite_n"] if "predicted_decay_finite_n" in ok else np.nan
    ok = ok.assign(_finite=finite, tensor=ok["tensor"].astype(object).fillna(""),
                   params=ok["params"].astype(object).fillna(""))  # fmt: skip
    keys = ["group", "source", "family", "params", "true_alpha", "n", "tensor", "basis"]
    g = ok.groupby(keys, sort=False, dropna=False)
    pts = g.agg(
        alpha=("alpha_hat", "mean"), decay=("measured_decay", "mean"), alpha_sd=("alpha_hat", "std"),
        decay_sd=("measured_decay", "std"), finite_n=("_finite", "mean"),
    ).reset_index()  # fmt: skip
    for col in ("alpha_hat_std", "measured_decay_std"):  # replicate spreads the runner may already provide
        if col in ok:
            target = "alpha_sd" if col.startswith("alpha") else "decay_sd"
            given = g[col].mean().reset_index(drop=True)
            pts[target] = pts[target].fillna(given)
    return pts


def _theory(ax: Any) -> None:
    a = np.linspace(0.05, _CLIP_X, 600)
    ax.plot(a, np.maximum(0.0, 1 / a - 0.5), color="black", lw=1.0, label=r"theory $\max(0, 1/\alpha - 1/2)$")
    ax.axvline(THRESHOLD, **_THRESHOLD_STYLE, label=r"$\alpha = 2$")


def _decay_panel(ax: Any, pts: Any, looks: dict[str, tuple[str, str]]) -> None:
    _theory(ax)
    for family, part in pts.groupby("family", sort=False):
        color, marker = looks[str(family)]
        real = bool((part["source"] != "synthetic").any())
        x, y = part["alpha"].to_numpy(float), part["decay"].to_numpy(float)
        inside = (x <= _CLIP_X) & (y <= _CLIP_Y)
        kw = {"color": color, "marker": marker, "ls": "none", "ms": 3 if real else 4, "alpha": 0.7 if real else 1}
        xerr = part["alpha_sd"].to_numpy(float)
        yerr = part["decay_sd"].to_numpy(float)
        has_err = np.isfinite(xerr) | np.isfinite(yerr)
        if has_err.any():
            ax.errorbar(x[inside & has_err], y[inside & has_err], xerr=np.nan_to_num(xerr[inside & has_err]),
                        yerr=np.nan_to_num(yerr[inside & has_err]), elinewidth=0.6, capsize=1.5, **kw)  # fmt: skip
        ax.plot(x[inside & ~has_err], y[inside & ~has_err], label=str(family), **kw)
        out = ~inside
        if out.any():  # outliers: drawn on the edge, open markers
            ax.plot(np.minimum(x[out], _CLIP_X), np.minimum(y[out], _CLIP_Y), mfc="none", **{**kw, "alpha": 1})
        fin = part["finite_n"].to_numpy(float)
        if np.isfinite(fin).any():
            ax.plot(np.minimum(x, _CLIP_X), fin, marker="_", ms=6, ls="none", color="0.3")
    ax.set_xlim(0, _CLIP_X * 1.02)
    ax.set_ylim(-0.05, _CLIP_Y * 1.03)
    ax.set_xlabel(r"fitted tail index $\hat\alpha$")


def decay_figure(df: Any) -> Any:
    """Measured decay exponent against the fitted tail index, one panel per basis (entries, singular values).

    The theory curve ``max(0, 1/alpha - 1/2)``, ``alpha = 2`` dashed, the finite-n prediction (short grey bars)
    when the results have ``predicted_decay_finite_n``, error bars (one standard deviation) where replicates
    exist; tail indices above 4.5 and exponents above 2 are drawn on the edge with open markers. One point per
    data set and basis: the CSN fit when the case has one, else its first estimator. Returns None without points.
    """
    pts = decay_points(df)
    if not len(pts):
        return None
    bases = [b for b in ("entries", "spectrum") if b in set(pts["basis"])]
    looks = style_of(list(dict.fromkeys(pts.sort_values("source", key=lambda s: s != "synthetic")["family"])))
    fig = new_figure(TWO_COLUMNS if len(bases) > 1 else ONE_COLUMN, 3.6 if len(bases) > 1 else 4.2)
    axes = fig.subplots(1, len(bases), sharey=True, squeeze=False)[0]
    titles = {"entries": r"entries $|x_i|$", "spectrum": r"singular values ($\hat\alpha = 2(\alpha_{ww} - 1)$)"}
    for ax, basis in zip(axes, bases, strict=True):
        _decay_panel(ax, pts[pts["basis"] == basis], looks)
        ax.set_title(titles[basis])
        if basis == "spectrum":
            top = ax.secondary_xaxis("top", functions=(lambda a: 1 + a / 2, lambda w: 2 * (w - 1)))
            top.set_xlabel(r"$\alpha_{ww}$")
    axes[0].set_ylabel(r"measured decay exponent $\hat s$")
    handles, labels = _legend_entries(axes, pts)
    fig.legend(handles, labels, loc="outside lower center", ncol=min(4, len(labels)))
    return fig


def _legend_entries(axes: Any, pts: Any) -> tuple[list[Any], list[str]]:
    from matplotlib.lines import Line2D

    seen: dict[str, Any] = {}
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            seen.setdefault(lab, h)
    if pts["finite_n"].notna().any():
        seen["finite-n prediction"] = Line2D([], [], marker="_", ms=6, ls="none", color="0.3")
    seen["beyond the axes (drawn on the edge)"] = Line2D([], [], marker="o", mfc="none", ls="none", color="0.3", ms=4)
    return list(seen.values()), list(seen)


# -------------------------------------------------------------------------------------------- best-k curves
_LINESTYLES = ("-", "--", ":", "-.")


def _curve_meta(df: Any) -> Any:
    """Per curve (``case_id`` without the estimator): n, fit window and predicted decay of its preferred row."""
    rows = _preferred_estimator(df[df["status"] == "ok"])
    cols = ["_key", "n", "decay_k_min", "decay_k_max", "predicted_decay_true", "source"]
    return rows[cols].rename(columns={"_key": "case_id"}).set_index("case_id")


def _alpha_colors(alphas: Sequence[float]) -> dict[float, Any]:
    import matplotlib

    cmap = matplotlib.colormaps["viridis"]
    finite = sorted(a for a in alphas if np.isfinite(a))
    out: dict[float, Any] = {a: cmap(0.9 * i / max(len(finite) - 1, 1)) for i, a in enumerate(finite)}
    return out


def _curve_panel(ax: Any, part: Any, meta: Any, colors: dict[float, Any]) -> None:
    sizes = sorted({int(meta.at[c, "n"]) for c in part["case_id"].unique() if c in meta.index}, reverse=True)
    style = {n: _LINESTYLES[i % len(_LINESTYLES)] for i, n in enumerate(sizes)}
    for case, c in part.groupby("case_id", sort=False):
        if case not in meta.index:
            continue
        info = meta.loc[case]
        n = int(info["n"])
        c = c[(c["k"] >= 1) & (c["k"] <= n / 2) & (c["rel_error"] > 0)]  # clip the k -> n drop
        a = float(c["true_alpha"].iloc[0]) if len(c) else math.nan
        color = colors.get(a, "0.55") if np.isfinite(a) else "0.55"
        lw = 0.5 if info["source"] != "synthetic" else 0.8
        ax.plot(c["k"], c["rel_error"], color=color, ls=style[n], lw=lw)
        k0, k1, s = float(info["decay_k_min"]), float(info["decay_k_max"]), float(info["predicted_decay_true"])
        if np.isfinite(k0) and np.isfinite(k1):
            win = c[(c["k"] >= k0) & (c["k"] <= k1)]
            ax.plot(win["k"], win["rel_error"], color=color, ls=style[n], lw=2.0, solid_capstyle="butt")
            if np.isfinite(s) and s > 0 and n == sizes[0] and len(win):
                e0 = float(win["rel_error"].iloc[0])
                kk = np.array([k0, k1])
                ax.plot(kk, 0.5 * e0 * (kk / k0) ** (-s), color="black", lw=0.7, ls=(0, (2, 1)))
    _log_axes(ax)
    # at least one decade (readable ticks for light tails), at most four below the norm
    ax.set_ylim(bottom=min(0.08, max(ax.get_ylim()[0], 1e-4)), top=1.2)
    for n, ls in style.items():
        ax.plot([], [], color="0.3", ls=ls, label=f"n = {n:,}")


def _log_axes(ax: Any) -> None:
    """Log-log axes with decade ticks only (minor ticks cost most of the drawing time and add no information)."""
    from matplotlib.ticker import LogLocator, NullLocator

    ax.set(xscale="log", yscale="log")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(LogLocator(base=10, numticks=8))
        axis.set_minor_locator(NullLocator())


def curves_figures(curves: Any, df: Any) -> dict[str, Any]:
    """Best-k error curves, one figure per basis (``curves_<basis>``): a panel per family, a line per case.

    Colour: the true tail index (viridis; grey: unknown or light tail); line style: the size n. The fit window
    of the decay exponent is drawn thick; the dashed black segment below it has the predicted slope
    ``-max(0, 1/alpha - 1/2)`` (largest n of each family); curves stop at k = n/2 so that the drop to zero at
    k = n does not dominate.
    """
    meta = _curve_meta(df)
    out: dict[str, Any] = {}
    for basis, part in curves.groupby("basis", sort=False):
        families = list(dict.fromkeys(part["family"]))
        colors = _alpha_colors(list(part["true_alpha"].unique()))
        ncols = min(3, len(families))
        nrows = -(-len(families) // ncols)
        fig = new_figure(TWO_COLUMNS if ncols > 1 else ONE_COLUMN, 1.9 * nrows + 0.7)
        axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
        for i, (ax, family) in enumerate(zip(axes, families, strict=False)):
            _curve_panel(ax, part[part["family"] == family], meta, colors)
            ax.set_title(str(family))
            ax.legend(loc="lower left", handlelength=2.2, frameon=True, framealpha=0.85, edgecolor="none")
            if i % ncols == 0:
                ax.set_ylabel(r"relative error $\sigma_k/\|x\|_2$")
            if i >= len(families) - ncols:
                ax.set_xlabel("k")
        for ax in axes[len(families) :]:
            ax.remove()
        _alpha_legend(fig, colors)
        out[f"curves_{basis}"] = fig
    return out


def _alpha_legend(fig: Any, colors: dict[float, Any]) -> None:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=c, lw=1.5) for c in colors.values()]
    labels = [f"{a:g}" for a in colors]
    handles += [Line2D([], [], color="0.55", lw=1.5), Line2D([], [], color="black", lw=0.7, ls=(0, (2, 1)))]
    labels += ["unknown / light", "predicted slope"]
    fig.legend(handles, labels, title=r"true $\alpha$", loc="outside lower center", ncol=min(len(labels), 8))
