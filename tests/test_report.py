"""Tests for sparsity.harness.report: shares over rows with a value, failed-fit counts, and the caller's matplotlib
state left untouched by write_report."""

from __future__ import annotations

import math

import matplotlib
import matplotlib.pyplot as plt
import pandas as pd
import pytest

from sparsity import layers
from sparsity.harness.cases import COLUMNS
from sparsity.harness.report import failed_fits, results_kind, summary_tables, write_report


def _results(rows: list[dict]) -> pd.DataFrame:
    """A results table in the runner's columns: four pareto cases of one grid point, then ``rows``' overrides."""
    base = {
        "group": "p",
        "source": "synthetic",
        "family": "pareto",
        "params": '{"alpha": 1.5}',
        "tensor": "",
        "shape": "1000",
        "n": 1000,
        "basis": "entries",
        "estimator": "hill",
        "true_alpha": 1.5,
        "predicted_decay_true": 1 / 1.5 - 0.5,
        "measured_decay": 0.2,
        "effective_sparsity_frac": 0.5,
        "status": "ok",
        "error": "",
    }
    return pd.DataFrame(
        [{**dict.fromkeys(COLUMNS), **base, "case_id": f"p/{i}", **row} for i, row in enumerate(rows)],
        columns=COLUMNS,
    )


# Three fits with an alpha (two below 2) and one failed fit (no alpha).
ROWS = [
    {"alpha_hat": 1.4, "compressible": True, "agrees": True},
    {"alpha_hat": 1.6, "compressible": True, "agrees": False},
    {"alpha_hat": 2.4, "compressible": False, "agrees": True},
    {"alpha_hat": math.nan, "compressible": None, "agrees": None},
]


def test_shares_count_only_rows_with_a_value():
    table = summary_tables(_results(ROWS))["synthetic"]
    assert len(table) == 1 and table["cases"].iloc[0] == 4
    # 2 of the 3 fits with an alpha are compressible (2/4 if the failed fit counted as False).
    assert table["compressible"].iloc[0] == pytest.approx(2 / 3, abs=1e-15)
    assert table["agree"].iloc[0] == pytest.approx(2 / 3, abs=1e-15)
    assert failed_fits(_results(ROWS)) == 1


def test_report_counts_failed_fits_also_in_runs_written_before_the_fix(tmp_path):
    # Older runs wrote compressible = False for a failed fit: the report treats it as missing too.
    old = [*ROWS[:3], {"alpha_hat": math.nan, "compressible": False, "agrees": None}]
    _results(old).to_csv(tmp_path / "results.csv", index=False)
    write_report(tmp_path)
    summary = (tmp_path / "summary.md").read_text()
    assert "counted in neither the compressible nor the agree share): 1." in summary
    row = next(line for line in summary.splitlines() if line.startswith("| pareto"))
    assert "| 0.667 | 0.667 |" in row  # agree, compressible: 2 of 3 each


def test_write_report_leaves_the_callers_matplotlib_state(tmp_path):
    _results(ROWS).to_csv(tmp_path / "results.csv", index=False)
    original = matplotlib.get_backend()
    matplotlib.use("svg")  # a backend the report does not use
    try:
        rc_before = dict(matplotlib.rcParams)
        written = write_report(tmp_path)
        assert {tmp_path / "figures" / f"decay_vs_alpha.{ext}" for ext in ("png", "pdf")} <= set(written)
        assert matplotlib.get_backend() == "svg"
        assert dict(matplotlib.rcParams) == rc_before
        assert plt.get_fignums() == []  # no pyplot figures were created (or left open)
    finally:
        matplotlib.use(original)


def test_formats_and_dpi_choose_the_figure_files(tmp_path):
    _results(ROWS).to_csv(tmp_path / "results.csv", index=False)
    written = write_report(tmp_path, formats="png", dpi=50)
    figures = [p for p in written if p.parent.name == "figures"]
    assert figures and all(p.suffix == ".png" for p in figures)
    with pytest.raises(ValueError, match="formats"):
        write_report(tmp_path, formats="bmp")


def _layer_results(checkpoints: tuple[str, ...]) -> pd.DataFrame:
    """An ``analyze --out`` results table: the per-layer columns, a checkpoint column, one failed tensor."""
    frames = []
    for j, ck in enumerate(checkpoints):
        names = [f"encoder.layer.{b}.attention.self.{k}.weight" for b in range(3) for k in ("query", "key")]
        df = pd.DataFrame({c: math.nan for c in layers.COLUMNS}, index=range(len(names)))
        alpha_ww = [1.8 + 0.5 * i + j for i in range(6)]
        df = df.assign(layer_id=range(len(names)), name=names, shape="(8, 8)", alpha_ww=alpha_ww, sv_tail_index=1.0,
                       entry_alpha=3.0, xmin=0.5, compressible=[True] + [False] * 5, entry_compressible=False,
                       status=["ok"] * 5 + ["failed"], reason=[""] * 5 + ["too small"])  # fmt: skip
        frames.append(df.assign(checkpoint=ck)[["checkpoint", *layers.COLUMNS]])
    return pd.concat(frames, ignore_index=True)


def test_report_of_an_analyze_folder_compares_checkpoints(tmp_path):
    _layer_results(("ckA", "ckB")).to_csv(tmp_path / "results.csv", index=False)
    written = write_report(tmp_path, formats="png", dpi=50)
    names = {p.relative_to(tmp_path).as_posix() for p in written}
    assert {"summary.md", "tables/checkpoints.tex", "tables/layers_ckA.tex", "tables/layers_ckB.tex",
            "figures/layers.png"} <= names  # fmt: skip
    summary = (tmp_path / "summary.md").read_text()
    assert (
        "## ckA" in summary
        and "## ckB" in summary
        and "- encoder.layer.2.attention.self.key.weight: too small" in summary
    )
    row = next(line for line in summary.splitlines() if line.startswith("| ckB"))
    assert row.split("|")[2].strip() == "6" and row.split("|")[3].strip() == "5"  # layers, analysed


def test_results_kind():
    assert results_kind(COLUMNS) == "suite"
    assert results_kind(["checkpoint", *layers.COLUMNS]) == "layers"
    with pytest.raises(ValueError, match="neither"):
        results_kind(["a", "b"])
