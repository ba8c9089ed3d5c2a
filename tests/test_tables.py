"""Tests for sparsity.harness._tables: booktabs tables a journal accepts (human headers, parameters as text,
infinity, no constant columns, long tables that break), compiled with pdflatex when it is installed."""

from __future__ import annotations

import itertools
import json
import math
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from sparsity.harness._summary import summary_tables
from sparsity.harness._tables import LONG_ROWS, latex_table, params_text, tex_cell
from sparsity.harness.cases import COLUMNS


def test_params_as_text():
    assert params_text('{"alpha": 0.5}') == r"$\alpha = 0.5$"
    assert params_text('{"df": 3.0, "scale": 2}') == "df = 3, scale = 2"
    assert params_text("{}") == "--"
    assert params_text("not json_x") == r"not json\_x"


def test_cells_infinity_missing_and_small_numbers():
    assert tex_cell(math.inf) == r"$\infty$"
    assert tex_cell(-math.inf) == r"$-\infty$"
    assert tex_cell(math.nan) == "--"
    assert tex_cell(pd.NA) == "--"
    assert tex_cell(7e-4) == r"$7.00\times10^{-4}$"
    assert tex_cell(-0.25) == "$-0.25$"
    assert tex_cell(True) == "yes"
    assert tex_cell("a_b") == r"a\_b"


def test_short_table_booktabs_headers_and_constant_columns_in_caption():
    df = pd.DataFrame({"family": ["pareto", "pareto", "stable"], "true_alpha": [1.5, math.inf, 1.0],
                       "basis": ["entries"] * 3, "alpha_hat": [1.49, 7.0, 1.1]})  # fmt: skip
    tex = latex_table(df, "Fits", "tab:fits")
    assert r"\begin{table}" in tex and r"\begin{tabular}{lrr}" in tex
    assert tex.count(r"\toprule") == tex.count(r"\midrule") == tex.count(r"\bottomrule") == 1
    assert r"Family & $\alpha$ & $\hat\alpha$ \\" in tex  # human headers
    assert " & $\\infty$ & 7 \\\\" in tex  # the family blanked where it repeats
    assert r"All rows: Basis = entries." in tex  # constant columns moved to the caption
    assert r"$\infty$" in tex and "inf" not in tex.replace(r"\infty", "")


def test_long_table_is_a_longtable_with_repeated_header():
    df = pd.DataFrame({"family": [f"f{i // 5}" for i in range(LONG_ROWS + 1)], "n": range(LONG_ROWS + 1)})
    tex = latex_table(df, "Long", "tab:long")
    assert r"\begin{longtable}{lr}" in tex and r"\endhead" in tex and r"\endfirsthead" in tex
    assert r"\begin{table}" not in tex  # no float: it breaks across pages
    assert latex_table(df.iloc[:LONG_ROWS], "Short", "tab:s").count(r"\begin{table}") == 1


def _suite_results(points: int = 13, replicates: int = 2) -> pd.DataFrame:
    """A results table shaped like the quick suite's widest: 4 families (one of matrices) x 13 alphas x 2 sizes x
    2 estimators, each with ``replicates`` draws (so the sd and interval columns are filled)."""
    rng = np.random.default_rng(0)
    rows = []
    families = (("pareto", "alpha", "entries"), ("stable", "alpha", "entries"), ("student_t", "df", "entries"),
                ("power_law_spectrum", "sv_tail_index", "spectrum"))  # fmt: skip
    for family, key, basis in families:
        for alpha in np.linspace(0.5, 3.5, points):
            for n, est, r in itertools.product((10_000, 100_000), ("csn", "hill"), range(replicates)):
                a = float(alpha)
                rows.append({**dict.fromkeys(COLUMNS), "case_id": f"{family}/{a}/{n}/r{r}/{basis}/{est}",
                             "source": "synthetic", "family": family, "params": json.dumps({key: a}), "replicate": r,
                             "n": n, "basis": basis, "estimator": est, "true_alpha": a,
                             "alpha_hat": a * (1 + 0.02 * rng.standard_normal()),
                             "predicted_decay_true": max(0, 1 / a - 0.5), "predicted_decay_finite_n": 0.1,
                             "measured_decay": 0.3 * rng.random(), "decay_pi_low": 0.01, "decay_pi_high": 0.5,
                             "agrees": True, "compressible": a < 2, "effective_sparsity_frac": 1e-4 * rng.random(),
                             "status": "ok", "error": ""})  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_tables_compile_and_fit_the_page_width(tmp_path):
    synthetic = summary_tables(_suite_results())["synthetic"]
    assert len(synthetic) > LONG_ROWS
    long_names = pd.DataFrame({"name": [f"model.encoder.layer.{i}.attention.output.dense" for i in range(60)],
                               "alpha_ww": np.linspace(1.5, 6, 60), "sv_tail_index": np.linspace(1, 10, 60),
                               "entry_alpha": np.linspace(2, 9, 60), "measured_rank_decay": 0.1,
                               "entry_measured_decay": np.linspace(0, 1e-3, 60), "compressible": False})  # fmt: skip
    body = latex_table(synthetic, "Synthetic", "tab:s") + latex_table(long_names, "Layers", "tab:l")
    (tmp_path / "doc.tex").write_text(
        "\\documentclass{article}\n\\usepackage{booktabs,longtable}\n"
        "\\setlength{\\textwidth}{6.5in}\\setlength{\\oddsidemargin}{0pt}\\setlength{\\evensidemargin}{0pt}\n"
        "\\begin{document}\n" + body + "\\end{document}\n"
    )
    for _ in range(2):  # longtable settles its column widths on the second pass
        proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
                              cwd=tmp_path, capture_output=True, text=True, timeout=120)  # fmt: skip
        assert proc.returncode == 0, proc.stdout[-3000:]
    log = (tmp_path / "doc.log").read_text(errors="replace")
    assert "Overfull \\hbox" not in log, log[log.find("Overfull") :][:500]
    pages = int(__import__("re").search(r"Output written on doc.pdf \((\d+) page", log).group(1))
    assert pages >= 3  # the long tables break across pages instead of overflowing one
