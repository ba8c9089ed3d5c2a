"""LaTeX tables a journal accepts: booktabs rules, human headers, parameters as text, long tables that break.

:func:`latex_table` turns a summary DataFrame into a ``table`` float (short tables) or a ``longtable`` that
breaks across pages with its header repeated (more than :data:`LONG_ROWS` rows). Columns holding one value in
every row are moved to the caption (``All rows: basis = entries.``); generator parameters stored as JSON
(``{"alpha": 0.5}``) are written as text (``$\\alpha = 0.5$``); infinities as ``$\\infty$``, missing values as
``--``, small and large numbers as ``$7.0\\times10^{-4}$``, a mean and its spread column (``alpha_hat``,
``alpha_sd``) as one ``mean +- sd`` cell; tables wider than :data:`MAX_COLUMNS` are split into parts that repeat
the key columns. The document needs
``\\usepackage{booktabs,longtable}``.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np

from sparsity.harness._io import format_cell

__all__ = ["HEADERS", "LONG_ROWS", "MAX_COLUMNS", "latex_table", "params_text", "tex_cell", "tex_escape"]

LONG_ROWS = 40
"""Tables with more rows than this become a ``longtable`` (breaks across pages, header repeated)."""

HEADERS: dict[str, str] = {
    "family": "Family",
    "checkpoint": "Checkpoint",
    "model": "Model",
    "params": "Parameters",
    "true_alpha": r"$\alpha$",
    "n": r"$n$",
    "basis": "Basis",
    "estimator": "Estimator",
    "cases": "Cases",
    "replicates": "Reps.",
    "tensors": "Tensors",
    "layers": "Layers",
    "alpha_hat": r"$\hat\alpha$",
    "alpha_sd": r"sd $\hat\alpha$",
    "predicted": r"$s_\infty$",
    "predicted_n": r"$s_n$",
    "measured": r"$\hat s$",
    "measured_sd": r"sd $\hat s$",
    "pi_low": r"$\hat s_{\mathrm{lo}}$",
    "pi_high": r"$\hat s_{\mathrm{hi}}$",
    "eff_frac_sd": r"sd $k_{0.1}/n$",
    "agree": "Agree",
    "compressible": "Compr.",
    "eff_frac": r"$k_{0.1}/n$",
    "median_alpha": r"med.\ $\hat\alpha$",
    "median_alpha_ww": r"med.\ $\alpha_{ww}$",
    "median_measured": r"med.\ $\hat s$",
    "alpha_ww": r"$\alpha_{ww}$",
    "sv_tail_index": r"$a_{\mathrm{sv}}$",
    "entry_alpha": r"$\hat\alpha_{\mathrm{entry}}$",
    "median_sv_tail_index": r"med.\ $a_{\mathrm{sv}}$",
    "median_entry_alpha": r"med.\ $\hat\alpha_{\mathrm{entry}}$",
    "median_rank_decay": r"med.\ $\hat s_{\mathrm{rank}}$",
    "median_entry_decay": r"med.\ $\hat s_{\mathrm{entry}}$",
    "entry_compressible": r"Compr.\ (entries)",
    "name": "Layer",
    "shape": "Shape",
}
"""Column name -> LaTeX header; a column not listed gets its name, escaped."""

_GREEK = {"alpha", "beta", "gamma", "delta", "sigma", "mu", "nu", "xi", "lambda", "kappa", "theta", "rho", "tau"}
_PARAM_SYMBOLS = {"sv_tail_index": r"$a_{\mathrm{sv}}$", "alpha_ww": r"$\alpha_{ww}$"}
MAX_COLUMNS = 14
TEXT_WIDTH_PT = 460.0
"""Tables whose estimated width passes this (6.4 in; a journal's text width is 6.5 to 7 in) or that have more
than :data:`MAX_COLUMNS` columns are split into parts that repeat the key columns (family, parameters, n, ...)."""
_CHAR_PT = 4.4
"""Width of a character of ``\\footnotesize`` (8 pt) text, with a margin; a column separation is 3 pt."""
_COLSEP_PT = 3.0
_KEYS = {"family", "checkpoint", "model", "params", "true_alpha", "n", "basis", "estimator", "name", "tensor"}
_SPREADS = {"alpha_hat": "alpha_sd", "measured": "measured_sd", "eff_frac": "eff_frac_sd"}
"""Mean column -> its spread column (``x_sd`` and ``x_std`` are recognised for any ``x``)."""
_LATEX_SPECIAL = {c: "\\" + c for c in "&%$#_{}"} | {
    "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}",
}  # fmt: skip
_EXP = re.compile(r"^(-?\d+(?:\.\d+)?)e([+-])0*(\d+)$")


def tex_escape(s: str) -> str:
    """Escape the characters that LaTeX treats specially."""
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in s)


def _number(v: float, digits: int) -> str:
    if math.isinf(v):
        return r"$\infty$" if v > 0 else r"$-\infty$"
    text = format_cell(v, digits)
    m = _EXP.match(text)
    if m:
        sign = "-" if m.group(2) == "-" else ""
        return rf"${m.group(1)}\times10^{{{sign}{m.group(3)}}}$"
    return f"${text}$" if text.startswith("-") else text


class _Tex(str):
    """A cell that is LaTeX already (not escaped again)."""

    __slots__ = ()


def tex_cell(value: Any, digits: int = 3) -> str:
    """One LaTeX cell: numbers to ``digits`` significant digits, inf as ``$\\infty$``, missing as ``--``."""
    if isinstance(value, _Tex):
        return str(value)
    if value is None or (isinstance(value, (float, np.floating)) and math.isnan(float(value))):
        return "--"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (float, np.floating)):
        return _number(float(value), digits)
    text = format_cell(value, digits)
    return "--" if text == "" and not isinstance(value, str) else tex_escape(text)


def _param_value(v: Any) -> str:
    if isinstance(v, float):
        return format_cell(v, 4)
    if isinstance(v, list):
        return "(" + ", ".join(_param_value(x) for x in v) + ")"
    return str(v)


def params_text(params: Any) -> str:
    """Generator parameters (a JSON object) as LaTeX text: ``{"alpha": 0.5, "df": 3}`` -> ``$\\alpha = 0.5$, df = 3``.

    A string that is not a JSON object is escaped and returned as it is; an empty object gives ``--``.
    """
    try:
        obj = json.loads(params) if isinstance(params, str) else params
    except json.JSONDecodeError:
        return tex_escape(str(params))
    if not isinstance(obj, dict):
        return tex_escape(str(params)) if params not in (None, "") else "--"
    if not obj:
        return "--"
    parts = []
    for key, val in obj.items():
        value = _param_value(val)
        if key in _GREEK:
            parts.append(rf"$\{key} = {value}$")
        elif key in _PARAM_SYMBOLS:
            parts.append(f"{_PARAM_SYMBOLS[key]} = {tex_escape(value)}")
        else:
            parts.append(f"{tex_escape(str(key))} = {tex_escape(value)}")
    return ", ".join(parts)


def _constant_columns(df: Any) -> tuple[list[str], list[str]]:
    """The columns holding one value in every row, and among them those that are empty in every row."""
    if len(df) < 2:
        return [], []
    constant = [c for c in df.columns if df[c].astype(str).nunique(dropna=False) == 1]
    return constant, [c for c in constant if df[c].isna().all()]


def _cells(df: Any, digits: int) -> list[list[str]]:
    rows = []
    for row in df.itertuples(index=False, name=None):
        rows.append(
            [params_text(v) if c == "params" else tex_cell(v, digits) for c, v in zip(df.columns, row, strict=True)]
        )
    return rows


def _is_numeric(series: Any) -> bool:
    return getattr(series.dtype, "kind", "O") in "iuf"


def _body(cells: list[list[str]], group: bool) -> list[str]:
    """Rows; with ``group``, the first column blank where it repeats the row above, space between its groups."""
    if not group:
        return [" & ".join(row) + r" \\" for row in cells]
    lines: list[str] = []
    previous = None
    for row in cells:
        first = row[0]
        if previous is not None and first != previous:
            lines.append(r"\addlinespace")
        shown = [first if first != previous else "", *row[1:]]
        lines.append(" & ".join(shown) + r" \\")
        previous = first
    return lines


def latex_table(
    df: Any,
    caption: str,
    label: str,
    *,
    headers: dict[str, str] | None = None,
    long_rows: int = LONG_ROWS,
    digits: int = 3,
) -> str:
    """A DataFrame as a booktabs table (``table`` float, or ``longtable`` above ``long_rows`` rows).

    Parameters
    ----------
    df : pandas.DataFrame
        The table; a column named ``params`` holds JSON generator parameters.
    caption : str
        Caption text (plain text, escaped); constant columns are appended as ``All rows: name = value.``
    label : str
        ``\\label`` key.
    headers : dict, optional
        Column name -> LaTeX header, overriding :data:`HEADERS`.
    long_rows : int
        Above this many rows the table is a ``longtable``.
    digits : int
        Significant digits of floating cells.

    Returns
    -------
    str
        LaTeX source (needs ``\\usepackage{booktabs,longtable}``).
    """
    names = {**HEADERS, **(headers or {})}
    constant, empty = _constant_columns(df)
    notes = []
    for c in (c for c in constant if c not in empty):  # an empty column is dropped without a note
        value = params_text(df[c].iloc[0]) if c == "params" else tex_cell(df[c].iloc[0], digits)
        notes.append(f"{names.get(c, tex_escape(str(c)))} = {value}")
    shown = df.drop(columns=constant)
    numeric = {c for c in shown.columns if _is_numeric(shown[c])}
    shown = _merge_spread(shown, digits)
    cap = tex_escape(caption) + (f". All rows: {', '.join(notes)}." if notes else "")
    keys = [c for c in shown.columns[: len(_KEYS)] if c in _KEYS] or list(shown.columns[:1])
    values = [c for c in shown.columns if c not in keys]
    parts = _split(shown, keys, values, names, digits)
    out = []
    for i, part in enumerate(parts):
        sub = shown[keys + part]
        suffix = "" if len(parts) == 1 else f" (part {i + 1} of {len(parts)})"
        lab = label if i == 0 else f"{label}-{i + 1}"
        out.append(_one_table(sub, cap + suffix, lab, names, numeric, long_rows, digits))
    return "% needs \\usepackage{booktabs,longtable}\n" + "\n".join(out)


def _visible(tex: str) -> int:
    """Approximate printed width of a LaTeX cell in characters (a command counts as one)."""
    return len(re.sub(r"[{}$^_\\\s]", "", re.sub(r"\\[a-zA-Z]+", "x", tex))) + tex.count(" ")


def _split(shown: Any, keys: list[Any], values: list[Any], names: dict[str, str], digits: int) -> list[list[Any]]:
    """Value columns in parts whose estimated width (with the key columns) fits :data:`TEXT_WIDTH_PT`."""
    cells = dict(zip(shown.columns, zip(*_cells(shown, digits), strict=True), strict=True)) if len(shown) else {}

    def width(c: Any) -> float:
        texts = [names.get(str(c), tex_escape(str(c))), *cells.get(c, ())]
        return max(_visible(t) for t in texts) * _CHAR_PT + 2 * _COLSEP_PT

    base = sum(width(c) for c in keys)
    parts: list[list[Any]] = [[]]
    used = base
    for c in values:
        w = width(c)
        if parts[-1] and (used + w > TEXT_WIDTH_PT or len(keys) + len(parts[-1]) >= MAX_COLUMNS):
            parts.append([])
            used = base
        parts[-1].append(c)
        used += w
    return parts


def _merge_spread(df: Any, digits: int) -> Any:
    """Each mean column with a spread column beside it (``x_sd``/``x_std``) becomes one ``mean +- sd`` cell."""
    df = df.copy()
    for mean, spread in _SPREADS.items():
        for sd in (spread, f"{mean}_sd", f"{mean}_std"):
            if mean in df.columns and sd in df.columns:
                cells = []
                for m, v in zip(df[mean], df[sd], strict=True):
                    base = tex_cell(m, digits)
                    ok = isinstance(v, (float, int, np.floating)) and math.isfinite(float(v)) and base != "--"
                    spread = _number(float(v), 2).strip("$")
                    cells.append(_Tex(rf"${base.strip('$')} \pm {spread}$" if ok else base))
                df[mean] = cells
                df = df.drop(columns=sd)
    return df


def _one_table(
    shown: Any, cap: str, label: str, names: dict[str, str], numeric: set[Any], long_rows: int, digits: int
) -> str:
    heads = " & ".join(names.get(str(c), tex_escape(str(c))) for c in shown.columns) + r" \\"
    spec = "".join("r" if c in numeric else "l" for c in shown.columns)
    size = r"\footnotesize"
    body = _body(_cells(shown, digits), group=len(shown.columns) > 1 and shown.columns[0] not in numeric)
    if len(shown) > long_rows:
        ncol = len(shown.columns)
        lines = [
            rf"\begingroup{size}\setlength{{\tabcolsep}}{{3pt}}",
            rf"\begin{{longtable}}{{{spec}}}",
            rf"\caption{{{cap}}}\label{{{label}}}\\",
            r"\toprule", heads, r"\midrule", r"\endfirsthead",
            rf"\multicolumn{{{ncol}}}{{l}}{{\itshape Table \thetable{{}} (continued)}}\\",
            r"\toprule", heads, r"\midrule", r"\endhead",
            r"\bottomrule", r"\endlastfoot",
            rf"\midrule\multicolumn{{{ncol}}}{{r}}{{\itshape continued on the next page}}\\", r"\endfoot",
            *body,
            r"\end{longtable}", r"\endgroup",
        ]  # fmt: skip
    else:
        lines = [
            r"\begin{table}[htbp]", r"\centering", size, r"\setlength{\tabcolsep}{3pt}",
            rf"\caption{{{cap}}}", rf"\label{{{label}}}",
            rf"\begin{{tabular}}{{{spec}}}", r"\toprule", heads, r"\midrule",
            *body,
            r"\bottomrule", r"\end{tabular}", r"\end{table}",
        ]  # fmt: skip
    return "\n".join(lines) + "\n"
