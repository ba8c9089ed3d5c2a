"""Tests for sparsity.harness.quantization: rounding bounds per format, rows on a planted-spectrum model, the
summary, figure and tables, the skip path, and a real catalog model when it is installed."""

from __future__ import annotations

import importlib.util
import itertools
import math
import sys

import numpy as np
import pandas as pd
import pytest

from sparsity.harness import catalog
from sparsity.harness.quantization import (
    FORMATS,
    case_skip_reason,
    quantization_cases,
    quantization_rows,
    quantization_skip_reason,
    quantization_summary,
    quantize,
    run_quantization_case,
    write_quantization_outputs,
)

HAS_ALL = quantization_skip_reason() is None
needs_all = pytest.mark.skipif(not HAS_ALL, reason=str(quantization_skip_reason()))


def _blocks(W, size):
    return W.reshape(W.shape[0], -1, size)


def _bound(W, fmt):
    """Largest |rounded - W| each entry may have, from the format's definition (round to nearest)."""
    a = np.abs(W).astype(np.float64)
    amax = float(a.max())
    if fmt == "bf16":  # 8 significand bits: relative half-ulp 2^-8 (no subnormals at these magnitudes)
        return a * 2.0**-8
    if fmt == "fp16":  # 11 significand bits; below 2^-14 subnormal, spacing 2^-24
        return np.maximum(a * 2.0**-11, 2.0**-25)
    if fmt in ("fp8_e4m3", "fp8_e5m2"):  # after the per-tensor scale s = amax / max_finite
        mant, min_sub, top = (3, 2.0**-9, 448.0) if fmt == "fp8_e4m3" else (2, 2.0**-16, 57344.0)
        s = amax / top
        return np.maximum(a * 2.0 ** -(mant + 1), s * min_sub / 2) * (1 + 1e-6)
    if fmt == "int8":  # half a step of the row's scale max|row| / 127
        return np.broadcast_to(a.max(axis=1, keepdims=True) / 127 / 2, a.shape) * (1 + 1e-6)
    # GGUF blocks of 32 with an fp16 scale d (relative error 2^-11): q8_0 d = amax / 127, |q| <= 127, so
    # |error| <= d/2 + 127 d 2^-11; q4_0 d = amax / 8 with q in [-8, 7]: the block's extreme of the other sign
    # can clip by one full step, so |error| <= d + 8 d 2^-11
    blk = _blocks(a, 32).max(axis=2, keepdims=True)
    if fmt == "q8_0":
        d = blk / 127 * (0.5 + 127 * 2.0**-11)
    else:
        d = blk / 8 * (1 + 8 * 2.0**-11)
    return np.broadcast_to(d, _blocks(a, 32).shape).reshape(a.shape) * (1 + 1e-6)


@needs_all
@pytest.mark.parametrize("fmt", FORMATS)
def test_rounding_error_is_within_the_format_bound(fmt):
    rng = np.random.default_rng(3)
    W = (rng.standard_t(4, (48, 96)) * 0.05).astype(np.float32)
    Q = quantize(W, fmt)
    assert Q.dtype == np.float32 and Q.shape == W.shape
    err = np.abs(Q.astype(np.float64) - W)
    bound = _bound(W, fmt)
    assert np.all(err <= bound), float(np.max(err - bound))
    assert np.any(Q != W)  # it did round


def test_int8_example_and_zero_rows():
    W = np.array([[0.5, -0.25, 1.0, 0.1], [0.0, 0.0, 0.0, 0.0]], dtype=np.float32)
    Q = quantize(W, "int8")
    np.testing.assert_array_equal(Q[1], 0.0)
    assert Q[0, 3] == np.float32(13) * (np.float32(1) / np.float32(127))  # rint(0.1 * 127) = 13, float32 scale


@pytest.mark.parametrize(
    ("W", "fmt", "error", "match"),
    [
        (np.ones(4), "int8", ValueError, "2-D"),
        (np.ones((2, 2)), "int4", ValueError, "fmt must be one of"),
        (np.array([[1.0, np.nan]]), "fp16", ValueError, "finite"),
    ],
)
def test_bad_input(W, fmt, error, match):
    with pytest.raises(error, match=match):
        quantize(W, fmt)


def test_missing_package_is_a_clear_skip(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "gguf" else real(name, *a))
    reason = quantization_skip_reason(["q4_0", "int8"])
    assert reason is not None and "gguf" in reason and "sparsity[gguf]" in reason
    assert quantization_skip_reason(["int8", "fp16"]) is None
    with pytest.raises(ImportError, match="gguf"):
        quantize(np.ones((2, 32), np.float32), "q8_0")
    rows = quantization_rows({"w": np.eye(40, 32, dtype=np.float32)}, formats=["q4_0"])
    assert rows[0]["status"] == "skipped" and "gguf" in rows[0]["reason"]


def _planted(rng, n, m, alpha_ww):
    """An n x m matrix with Haar singular vectors and singular values k^(-1/a), a = 2 (alpha_ww - 1)."""
    a = 2.0 * (alpha_ww - 1.0)
    s = np.arange(1, m + 1) ** (-1.0 / a)
    u, _ = np.linalg.qr(rng.standard_normal((n, m)))
    v, _ = np.linalg.qr(rng.standard_normal((m, m)))
    return ((u * s) @ v.T).astype(np.float32)


@pytest.fixture(scope="module")
def planted_rows():
    rng = np.random.default_rng(11)
    model = {
        "heavy": _planted(rng, 256, 128, 2.0),
        "medium": _planted(rng, 224, 128, 3.0),
        "light": _planted(rng, 192, 96, 4.5),
        "noise": (rng.standard_normal((192, 96)) / 16).astype(np.float32),
        "bias": np.zeros(128, np.float32),  # not 2-D: passed over
    }
    fmts = FORMATS if HAS_ALL else ("fp16", "int8")
    return pd.DataFrame(quantization_rows(model, formats=fmts, model="planted"))


def test_rows_cover_every_matrix_and_format(planted_rows):
    df = planted_rows
    assert sorted(df["tensor"].unique()) == ["heavy", "light", "medium", "noise"]
    assert len(df) == 4 * df["format"].nunique()
    assert (df["status"] == "ok").all(), df.loc[df["status"] != "ok", "reason"].tolist()
    # the before-columns are the same for every format of a tensor
    assert (df.groupby("tensor")["alpha_ww_before"].nunique() == 1).all()
    heavy = df[df["tensor"] == "heavy"].iloc[0]
    assert abs(heavy["alpha_ww_before"] - 2.0) < 3 * heavy["sigma_before"]  # the planted exponent, within 3 sigma


def test_fine_formats_stay_within_the_ci(planted_rows):
    # fp16 moves every entry by at most 2^-11 relative, so by Weyl every singular value by at most
    # ||E||_2 <= 2^-11 ||W||_F, a relative change of the tail eigenvalues far below their 1/sqrt(n_tail)
    # sampling spread (sigma = (alpha_ww - 1)/sqrt(n_tail)): the refit on the same number of tail eigenvalues
    # must stay inside alpha +- 1.96 sigma.
    df = planted_rows[planted_rows["format"] == "fp16"]
    moved = (df["alpha_ww_same_tail"] - df["alpha_ww_before"]).abs() / df["sigma_before"]
    assert (moved < 1.96).all(), moved.tolist()
    assert df["rel_fro_error"].max() <= 2.0**-11


@needs_all
def test_error_grows_with_coarser_formats(planted_rows):
    # median relative Frobenius errors follow the unit roundoffs (ratios of 2 or more between neighbours):
    # fp16 2^-11 < bf16 2^-8 < q8_0 (step amax_32/127) < fp8_e4m3 2^-4 < q4_0 (step amax_32/8), e4m3 < e5m2 2^-3
    err = planted_rows.groupby("format")["rel_fro_error"].median()
    chain = ["fp16", "bf16", "q8_0", "fp8_e4m3", "q4_0"]
    assert all(err[a] < err[b] for a, b in itertools.pairwise(chain)), err.to_dict()
    assert err["fp8_e4m3"] < err["fp8_e5m2"]


def test_summary_shares_and_correlation(planted_rows):
    summary = quantization_summary(planted_rows)
    assert list(summary["format"]) == [f for f in FORMATS if f in set(planted_rows["format"])]
    assert (summary["layers"] == 4).all()
    assert summary["share_within_ci"].between(0, 1).all()
    fp16 = summary[summary["format"] == "fp16"].iloc[0]
    assert fp16["within_ci"] == int(planted_rows.query("format == 'fp16'")["within_ci"].sum())
    rho = summary["spearman_rho"].dropna()
    assert rho.between(-1, 1).all()


def test_outputs_are_written(planted_rows, tmp_path):
    import matplotlib

    before = dict(matplotlib.rcParams)
    had_pyplot = "matplotlib.pyplot" in sys.modules
    paths = write_quantization_outputs(planted_rows, tmp_path)
    assert sorted(p.name for p in paths) == [
        "quantization.md", "quantization.tex", "quantization_planted.pdf", "quantization_planted.png",
    ]  # fmt: skip
    md = (tmp_path / "quantization.md").read_text()
    tex = (tmp_path / "quantization.tex").read_text()
    assert "share within CI" in md.splitlines()[0]
    assert r"\toprule" in tex and r"\bottomrule" in tex and "fp16" in tex
    assert dict(matplotlib.rcParams) == before
    assert ("matplotlib.pyplot" in sys.modules) == had_pyplot


def test_cases_validate_the_config():
    assert quantization_cases({"models": ["all-MiniLM-L6-v2"], "formats": ["q8_0"]})[0]["formats"] == ["q8_0"]
    with pytest.raises(ValueError, match="name must be a catalog entry"):
        quantization_cases({"models": ["no-such-model"]})
    with pytest.raises(ValueError, match="unknown key"):
        quantization_cases({"format": ["q8_0"]})
    with pytest.raises(ValueError, match="formats must be one of"):
        quantization_cases({"formats": ["q2_k"]})


@needs_all
def test_real_catalog_model():
    case = quantization_cases({"formats": ["q8_0", "q4_0"], "include": "encoder.layer.0.attention.self"})[0]
    reason = case_skip_reason(case)
    if reason is not None:
        pytest.skip(reason)
    df = pd.DataFrame(run_quantization_case(case))
    assert len(df) == 3 * 2 and (df["status"] == "ok").all()
    assert set(df["tensor"]) == {f"encoder.layer.0.attention.self.{k}.weight" for k in ("query", "key", "value")}
    by = df.pivot(index="tensor", columns="format", values="rel_fro_error")
    # q8_0's step is amax_32/127 and q4_0's amax_32/8: about 16x the error
    assert (by["q8_0"] < by["q4_0"] / 4).all()
    assert df["within_ci"].isin([True, False]).all()
    assert not math.isnan(df["alpha_ww_before"].iloc[0])
    entry = catalog.find_entry(case["model"])
    assert entry.format == "safetensors"
