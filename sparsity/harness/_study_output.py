"""Figures and tables of the training and quantization studies: per-figure defaults, saving, booktabs (private).

Figures are :class:`matplotlib.figure.Figure` objects (no pyplot, no ``matplotlib.use``), drawn and saved inside
:func:`matplotlib.rc_context` with :func:`figure_rc`, so the caller's settings are untouched; each is saved as PDF
(editable Type 42 text) and PNG at 300 dpi.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sparsity.harness._io import format_cell

__all__ = ["DPI", "figure_rc", "latex_booktabs", "new_figure", "save_figure", "style"]

DPI = 300
_LATEX_SPECIAL = {c: "\\" + c for c in "&%$#_{}"} | {
    "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}",
}  # fmt: skip


def figure_rc() -> dict[str, Any]:
    """The per-figure defaults: editable PDF text, 300 dpi, tight bounding box, small paper fonts."""
    return {
        "pdf.fonttype": 42, "ps.fonttype": 42, "savefig.dpi": DPI, "savefig.bbox": "tight", "font.size": 8,
        "axes.titlesize": 8, "axes.labelsize": 8, "legend.fontsize": 7, "xtick.labelsize": 7, "ytick.labelsize": 7,
    }  # fmt: skip


@contextlib.contextmanager
def style() -> Iterator[None]:
    """Draw (and save) inside this context: :func:`figure_rc` applied, the caller's rcParams restored after."""
    import matplotlib

    with matplotlib.rc_context(figure_rc()):  # type: ignore[arg-type]
        yield


def new_figure(nrows: int, ncols: int, *, panel: tuple[float, float] = (2.4, 2.0), **kw: Any) -> tuple[Any, Any]:
    """A constrained-layout Figure with an ``(nrows, ncols)`` array of axes (always 2-D), panels of size ``panel``."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(panel[0] * ncols, panel[1] * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def save_figure(fig: Any, stem: str | Path) -> list[Path]:
    """Save ``fig`` as ``stem.pdf`` and ``stem.png`` (300 dpi); returns the two paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    out = []
    with style():
        for ext in ("pdf", "png"):
            path = stem.with_suffix(f".{ext}")
            fig.savefig(path, dpi=DPI)
            out.append(path)
    return out


def _tex(s: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in s)


def latex_booktabs(df: Any, caption: str, label: str, digits: int = 3) -> str:
    """A DataFrame as a booktabs ``table`` (needs ``\\usepackage{booktabs}``): first column left, others right."""
    cols = [_tex(str(c)) for c in df.columns]
    lines = [
        r"\begin{table}[ht]", r"\centering", rf"\caption{{{_tex(caption)}}}", rf"\label{{{label}}}",
        r"\begin{tabular}{l" + "r" * (len(cols) - 1) + "}", r"\toprule", " & ".join(cols) + r" \\", r"\midrule",
    ]  # fmt: skip
    for row in df.itertuples(index=False):
        lines.append(" & ".join(_tex(format_cell(v, digits)) for v in row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"
