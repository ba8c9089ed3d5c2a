"""Tests for sparsity.cli._output: the format from the extension (refusing what it cannot write), 0644 files,
plain JSON numbers, the compact terminal table and --columns, and the figure flags."""

from __future__ import annotations

import json
import math
import os
import stat

import numpy as np
import pandas as pd
import pytest

from sparsity import layers
from sparsity.cli import main
from sparsity.cli._output import output_format, select_columns, write_table
from sparsity.harness.columns import ANALYZE_TERMINAL_COLUMNS


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.csv", "csv"),
        ("a.JSON", "json"),
        ("a.md", "markdown"),
        ("a.tex", "latex"),
        ("a.txt", "table"),
        ("a", "table"),
    ],
)
def test_format_from_extension(name, fmt):
    assert output_format(None, name) == fmt


def test_extension_that_is_no_table_format_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"cannot write a table as '\.png'"):
        write_table(pd.DataFrame({"x": [1]}), None, tmp_path / "a.png")
    assert not (tmp_path / "a.png").exists()
    with pytest.raises(ValueError, match="means csv, not --format json"):
        output_format("json", "a.csv")
    with pytest.raises(ValueError, match="format must be one of"):
        output_format("xml", None)


def test_files_get_the_permissions_of_a_plain_open(tmp_path):
    old = os.umask(0o022)
    try:
        write_table(pd.DataFrame({"x": [1]}), None, tmp_path / "a.csv")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.csv").stat().st_mode) == 0o644


def test_json_plain_numbers_unescaped_slashes_null_and_inf(tmp_path):
    value = 90.9  # pandas' to_json(double_precision=15) wrote 90.900000000000006
    df = pd.DataFrame({"case_id": ["a/b"], "x": [value], "y": [math.nan], "a": [math.inf],
                       "k": pd.array([None], dtype="Int64"), "shape": [(3, 4)]})  # fmt: skip
    text = write_table(df, None, tmp_path / "a.json")
    assert '"a/b"' in text and "\\/" not in text and '"x": 90.9,' in text
    (record,) = json.loads((tmp_path / "a.json").read_text())
    assert record == {"case_id": "a/b", "x": value, "y": None, "a": "inf", "k": None, "shape": [3, 4]}


def test_latex_output_is_booktabs(tmp_path):
    text = write_table(pd.DataFrame({"name": ["a", "b"], "alpha_ww": [2.5, 3.0]}), None, tmp_path / "t.tex")
    assert r"\toprule" in text and r"$\alpha_{ww}$" in text


def _layer_frame(rows: int = 40) -> pd.DataFrame:
    names = [f"encoder.layer.{i // 6}.attention.output.dense.weight" for i in range(rows)]
    df = pd.DataFrame({c: np.nan for c in layers.COLUMNS}, index=range(rows))
    return df.assign(name=names, shape=[(384, 1536)] * rows, layer_id=range(rows), alpha_ww=3.14159,
                     sv_tail_index=4.28, entry_alpha=7.5, measured_rank_decay=0.0467, entry_measured_decay=3.64e-4,
                     compressible=False, status="ok", reason="")  # fmt: skip


def test_terminal_table_is_compact_by_default_and_columns_choose(capsys):
    df = _layer_frame()
    text = write_table(df, default_columns=ANALYZE_TERMINAL_COLUMNS)
    lines = text.splitlines()
    assert lines[0].split() == ["name", "shape", "alpha_ww", "sv_tail", "entry_alpha", "rank_decay", "entry_decay",
                                "compr"]  # fmt: skip
    assert max(map(len, lines)) <= 45 + 70  # 45-character names: ~110 (the full table: over 600)
    assert lines[1].startswith("encoder.layer.0.attention.output.dense.weight 384x1536")
    assert len(write_table(df, columns="all").splitlines()[0].split()) == len(layers.COLUMNS)
    assert write_table(df, columns="name,alpha_ww").splitlines()[0].split() == ["name", "alpha_ww"]
    capsys.readouterr()
    with pytest.raises(ValueError, match=r"unknown column.*alpha_w\b.*available: layer_id"):
        select_columns(df, "name,alpha_w")


def test_files_get_every_column_unless_told(tmp_path):
    df = _layer_frame(3)
    write_table(df, None, tmp_path / "a.csv", default_columns=ANALYZE_TERMINAL_COLUMNS)
    assert list(pd.read_csv(tmp_path / "a.csv").columns) == list(layers.COLUMNS)


@pytest.fixture
def weights(tmp_path):
    path = tmp_path / "w.npz"
    rng = np.random.default_rng(0)
    np.savez(
        path, **{"layer.0.q.weight": rng.standard_normal((64, 48)), "layer.0.k.weight": rng.standard_normal((64, 48))}
    )
    return path


def test_cli_analyze_refuses_png_output_and_accepts_columns(weights, tmp_path, capsys):
    assert main(["analyze", str(weights), "--no-progress", "-o", str(tmp_path / "a.png")]) == 2
    assert "cannot write a table as '.png'" in capsys.readouterr().err
    assert not (tmp_path / "a.png").exists()
    assert main(["analyze", str(weights), "--no-progress", "--columns", "name,alpha_ww"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["name", "alpha_ww"] and len(out) == 3


def test_cli_figure_flags_are_checked():
    with pytest.raises(SystemExit) as exc:
        main(["report", "somewhere", "--formats", "pdf,gif"])
    assert exc.value.code == 2
