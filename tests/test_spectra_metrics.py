"""Tests for sparsity.analyze_matrix / analyze_weights: random-matrix formulas, decay laws, WeightWatcher."""

from __future__ import annotations

import csv
import io
import logging
import math

import numpy as np
import pandas as pd
import pytest

import sparsity as sp
from sparsity import synthetic
from sparsity._array_api import to_numpy
from sparsity.layers import ConvConvention
from sparsity.layers._mp import mp_edges, mp_median
from sparsity.layers._rows import COLUMNS, ROW_KEYS

# ------------------------------------------------------------------------------------- Marchenko-Pastur


def test_mp_median_known_values():
    # reference: the MP density integrated directly in x (quad copes with the sqrt endpoints) and inverted.
    from scipy import integrate, optimize

    def mp_cdf(x: float, q: float) -> float:
        a, b = (1 - math.sqrt(q)) ** 2, (1 + math.sqrt(q)) ** 2
        f = lambda t: math.sqrt(max((b - t) * (t - a), 0.0)) / (2 * math.pi * q * t)  # noqa: E731
        return integrate.quad(f, a, x, limit=200)[0]

    for q in (0.05, 0.3, 1.0):
        ref = optimize.brentq(
            lambda x, q=q: mp_cdf(x, q) - 0.5, (1 - math.sqrt(q)) ** 2 + 1e-12, (1 + math.sqrt(q)) ** 2
        )
        assert mp_median(q) == pytest.approx(ref, abs=1e-7)  # quad with a sqrt endpoint: ~1e-8 accurate


def test_mp_bulk_and_no_spikes_on_gaussian_noise():
    n, m = 900, 300
    W = synthetic.gaussian_matrix(n, m, rng=20)  # entries N(0, 1/m)
    row = sp.analyze_matrix(W, entries=False)
    sigma2 = 1.0 / m
    lo, hi = mp_edges(n, m, sigma2)
    # sigma^2 from the ESD median: eigenvalue rigidity puts the empirical median within O(log M / M) of the
    # MP median (relative); 10 / M = 3.3% covers it with a wide margin.
    assert row["sigma_mp"] ** 2 == pytest.approx(sigma2, rel=10 / m)
    assert row["bulk_max"] == pytest.approx(hi, rel=10 / m)
    assert row["bulk_min"] == pytest.approx(lo, rel=10 / m)
    ref_lo, ref_hi = synthetic.marchenko_pastur_edges(n, m)
    assert hi == pytest.approx(ref_hi**2) and lo == pytest.approx(ref_lo**2)  # same convention as synthetic
    assert row["num_spikes"] == 0  # the TW 99% threshold: a false spike has probability ~1%
    assert row["status"] == "ok" and row["compressible"] is False


@pytest.mark.parametrize(("thetas", "expected"), [((3.0,), 1), ((2.5, 4.0), 2), ((0.8,), 0)])
def test_bbp_outliers_are_the_spikes(thetas, expected):
    n, m = 1000, 500  # gamma = 2, BBP threshold gamma^(1/4) = 1.19
    W = synthetic.spiked_matrix(n, m, list(thetas), rank=len(thetas), rng=21)
    row = sp.analyze_matrix(W, entries=False)
    assert row["num_spikes"] == expected
    s = np.sqrt(to_numpy(sp.esd(W)))
    pred = np.sort(np.atleast_1d(synthetic.bbp_outlier(np.array(thetas), n, m)))[::-1]
    # outliers fluctuate by O(m^(-1/2)) (Gaussian fluctuations, Benaych-Georges & Nadakuditi 2012);
    # sub-threshold spikes leave the top value at the edge up to the TW scale m^(-2/3). 4 / sqrt(m) covers both.
    np.testing.assert_allclose(s[: len(thetas)][: max(expected, 1)], pred[: max(expected, 1)], atol=4 / math.sqrt(m))


# ------------------------------------------------------------------------------- rank-k decay vs alpha_ww


def _local_exponents(beta: float, k: int, ks: np.ndarray) -> np.ndarray:
    """Exact local decay exponent of sigma_j^2 = int_j^k x^-beta dx: ((beta - 1)/2) / (1 - (j/k)^(beta - 1))."""
    j = ks.astype(float)
    if abs(beta - 1.0) < 1e-12:
        return 1.0 / (2.0 * np.log(k / j))
    return ((beta - 1.0) / 2.0) / (1.0 - (j / k) ** (beta - 1.0))


@pytest.mark.parametrize("alpha_ww", [1.5, 1.8, 2.5])
def test_measured_rank_decay_matches_alpha_ww_prediction(alpha_ww):
    k = 500
    s = synthetic.power_law_spectrum(k, alpha_ww=alpha_ww)  # s_i ~ ((i - 1/2)/k)^(-1/a), a = 2(alpha_ww - 1)
    W = synthetic.spectrum_matrix(s, k, k, rng=22)
    row = sp.analyze_matrix(W, entries=False)
    a = 2 * (alpha_ww - 1)
    predicted = max(0.0, (2 - alpha_ww) / (2 * (alpha_ww - 1)))
    assert row["predicted_rank_decay"] == pytest.approx(sp.predicted_decay_exponent(row["sv_tail_index"], 2.0))
    # sigma_j^2 = sum_{i>j} s_i^2 ~ sum (i - 1/2)^-beta, beta = 2/a: the midpoint rule equals int_j^k x^-beta dx up
    # to a relative error beta (beta + 1) / (24 j^2), i.e. a slope error <= beta (beta + 1) / (12 j^2). The least-
    # squares exponent over the window lies between the extreme local exponents of the integral, which tend to
    # the prediction as k grows (the finite-k gap is what `spread` measures).
    lo, hi = sp.default_decay_window(k)
    ks = np.arange(lo, hi + 1)
    beta = 2.0 / a
    local = _local_exponents(beta, k, ks)
    mid = beta * (beta + 1) / (12 * lo**2)
    measured = row["measured_rank_decay"]
    assert local.min() - mid <= measured <= local.max() + mid
    spread = float(np.max(np.abs(local - predicted)))
    assert abs(measured - predicted) <= spread + mid
    if alpha_ww < 2:
        assert measured > 0.8 * predicted and row["compressible"] is True
    else:
        assert measured < 0.1 and row["compressible"] is False


# ---------------------------------------------------------------------------------- WeightWatcher (peer)


@pytest.mark.peers
@pytest.mark.filterwarnings("ignore:Passing a dict to DataFrame.from_records")
def test_alpha_matches_weightwatcher():
    torch = pytest.importorskip("torch")
    ww = pytest.importorskip("weightwatcher")
    logging.getLogger("weightwatcher").setLevel(logging.ERROR)
    rng = np.random.default_rng(23)
    mats = {
        "gauss": synthetic.gaussian_matrix(300, 100, rng=rng),
        "powerlaw": synthetic.spectrum_matrix(synthetic.power_law_spectrum(200, alpha_ww=1.8), 400, 200, rng=rng),
        "student": rng.standard_t(3, (128, 256)),
        "heavy": synthetic.levy_matrix(1.5, 200, 150, rng=rng),
    }
    mats = {k: np.asarray(to_numpy(v), dtype=np.float32) for k, v in mats.items()}
    conv = rng.standard_normal((24, 16, 3, 3)).astype(np.float32)
    model = torch.nn.Sequential()
    for W in mats.values():
        lin = torch.nn.Linear(W.shape[1], W.shape[0], bias=False)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W))
        model.append(lin)
    c = torch.nn.Conv2d(16, 24, 3, bias=False)
    with torch.no_grad():
        c.weight.copy_(torch.from_numpy(conv))
    model.append(c)
    theirs = ww.WeightWatcher(model=model).analyze()
    ours = sp.analyze_weights({**mats, "conv": conv}, entries=False)
    assert len(theirs) == len(ours) == len(mats) + 1
    # same eigenvalues (float64 Gram vs float64 SVD, ~1e-13 relative) and the same CSN fit: the alphas agree to
    # rounding unless two KS minima tie within it; the tolerance is 0.01.
    np.testing.assert_allclose(ours["alpha_ww"], theirs["alpha"], atol=0.01)
    np.testing.assert_allclose(ours["num_pl_spikes"], theirs["num_pl_spikes"], atol=0)
    np.testing.assert_allclose(ours["D"], theirs["D"], atol=1e-6)
    lin = slice(0, len(mats))  # WeightWatcher scales Conv2d slices by 1/sqrt(2): its norms are halved there
    for col in ("log_norm", "log_spectral_norm", "stable_rank", "alpha_weighted", "xmin"):
        np.testing.assert_allclose(ours[col][lin], theirs[col][lin], rtol=1e-9)
    assert ours["log_norm"].iloc[-1] == pytest.approx(theirs["log_norm"].iloc[-1] + math.log10(2), rel=1e-9)


# ------------------------------------------------------------------------------------- entries and conv


def test_entry_columns_equal_public_functions():
    rng = np.random.default_rng(24)
    W = rng.standard_t(2.5, (120, 90))
    full = sp.analyze_matrix(W, entry_top=None)
    d = sp.decay_exponent(W)
    tf = sp.fit_tail(W)
    assert full["entry_measured_decay"] == pytest.approx(d.exponent, rel=1e-10)
    assert full["entry_decay_r2"] == pytest.approx(d.r2, rel=1e-10)
    assert full["entry_alpha"] == pytest.approx(tf.alpha, rel=1e-12)
    assert full["entry_predicted_decay"] == pytest.approx(sp.predicted_decay_exponent(tf.alpha))
    part = sp.analyze_matrix(W, entry_top=500)  # xmin candidates: the top 500 magnitudes, or 2000 if the tail
    mags = np.sort(np.abs(W).ravel())  # chosen among 500 holds more than half of them
    first = sp.fit_tail(mags[-500:])
    expected = first if first.n_tail <= 250 else sp.fit_tail(mags[-2000:])
    assert part["entry_alpha"] == pytest.approx(expected.alpha, rel=1e-12)
    assert part["entry_n_tail"] == expected.n_tail
    assert part["entry_measured_decay"] == pytest.approx(d.exponent, rel=1e-10)


def test_conv_conventions():
    rng = np.random.default_rng(25)
    T = rng.standard_normal((32, 12, 3, 3))
    sl = sp.analyze_matrix(T, entries=False)
    assert (sl["N"], sl["M"], sl["rf"], sl["num_evals"]) == (32, 12, 9, 108)
    pooled = np.sort(
        np.concatenate([np.linalg.svd(T[:, :, i, j], compute_uv=False) ** 2 for i in range(3) for j in range(3)])
    )
    assert sl["lambda_max"] == pytest.approx(pooled[-1], rel=1e-12)
    assert sl["norm"] == pytest.approx(float(np.sum(T**2)), rel=1e-12)
    fl = sp.analyze_matrix(T, conv="flatten", entries=False)
    assert (fl["N"], fl["M"], fl["rf"], fl["num_evals"]) == (108, 32, 9, 32)
    assert fl["lambda_max"] == pytest.approx(np.linalg.norm(T.reshape(32, -1), 2) ** 2, rel=1e-12)
    c1 = sp.analyze_matrix(rng.standard_normal((20, 10, 5)), entries=False)
    assert (c1["rf"], c1["num_evals"]) == (5, 50)
    with pytest.raises(ValueError, match=r"conv must be one of \['slices', 'flatten'\]; got 'fft'"):
        sp.analyze_matrix(T, conv="fft")
    # the convention object is the same thing as its mode string
    assert sp.analyze_matrix(T, conv=ConvConvention("flatten"), entries=False)["alpha_ww"] == fl["alpha_ww"]


def test_the_suite_and_analyze_share_one_conv_convention():
    # The suite analyses a conv kernel as its (out, in * K) matrix (SUITE_CONV, "flatten"); analyze_* default to
    # the slices. With the suite's convention analyze_matrix sees exactly the suite's matrix (bitwise alpha_ww).
    from sparsity.harness.cases import SUITE_CONV, _as_matrix

    T = np.random.default_rng(31).standard_t(3.0, (24, 8, 3, 3))
    assert SUITE_CONV == ConvConvention("flatten")
    suite_matrix = _as_matrix(T, None)
    np.testing.assert_array_equal(suite_matrix, T.reshape(24, 72))
    assert sp.analyze_matrix(T, conv=SUITE_CONV)["alpha_ww"] == sp.analyze_matrix(suite_matrix)["alpha_ww"]
    assert sp.analyze_matrix(T)["rf"] == 9 and sp.analyze_matrix(T)["num_evals"] == 9 * 8  # slices by default
    with pytest.raises(ValueError, match="conv must be one of"):
        ConvConvention("im2col")


def test_small_zero_and_degenerate_matrices_give_rows_with_reasons():
    small = sp.analyze_matrix(np.random.default_rng(26).standard_normal((5, 3)))
    assert small["status"] == "skipped" and "min_evals" in small["reason"]
    assert math.isnan(small["alpha_ww"]) and small["sv_max"] > 0
    zero = sp.analyze_matrix(np.zeros((40, 20)))
    assert zero["status"] == "skipped" and "all-zero" in zero["reason"] and math.isnan(zero["alpha_ww"])
    Q, _ = np.linalg.qr(np.random.default_rng(27).standard_normal((50, 20)))
    orth = sp.analyze_matrix(Q, entries=False)  # all singular values 1: no tail to fit
    assert orth["status"] == "failed" and "ESD fit failed" in orth["reason"]
    # no tail index, no verdict: compressible is missing (None), not False; counts of the failed fit too
    for row in (small, zero, orth):
        assert row["compressible"] is None and row["num_pl_spikes"] is None
    assert zero["entry_compressible"] is None and "entry tail fit failed" in zero["reason"]
    assert small["entry_compressible"] is False  # 15 entries still have a tail fit
    assert orth["num_evals"] == 20 and orth["matrix_rank"] == 20
    with pytest.raises(ValueError, match="min_evals must be an integer >= 10; got 3"):
        sp.analyze_matrix(Q, min_evals=3)
    with pytest.raises(ValueError, match=r"W must have (at least 2|2 to any) dimensions"):
        sp.analyze_matrix(np.ones(5))


def test_analyze_weights_sources_and_errors(tmp_path):
    rng = np.random.default_rng(28)
    tensors = {
        "fc.weight": rng.standard_normal((64, 32)).astype(np.float32),
        "fc.bias": np.zeros(32, dtype=np.float32),
        "conv.weight": rng.standard_normal((16, 8, 3, 3)).astype(np.float32),
    }
    df = sp.analyze_weights(tensors)
    assert list(df["name"]) == ["fc.weight", "conv.weight"]
    assert list(df["status"]) == ["ok", "ok"]
    assert {"alpha_ww", "sv_tail_index", "entry_alpha", "num_spikes", "compressible"} <= set(df.columns)
    again = sp.analyze_weights(list(tensors.items()))
    np.testing.assert_array_equal(again["alpha_ww"], df["alpha_ww"])
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    path = tmp_path / "m.safetensors"
    safetensors_numpy.save_file(tensors, str(path))
    from_file = sp.analyze_weights(path)
    assert sorted(from_file["name"]) == sorted(df["name"])
    bad = {"ok": tensors["fc.weight"], "nan": np.full((20, 20), np.nan)}
    rows = sp.analyze_weights(bad, entries=False)
    assert list(rows["status"]) == ["ok", "failed"] and "finite" in rows["reason"].iloc[1]
    with pytest.raises(ValueError, match=r"tensor 'nan' must .*finite"):
        sp.analyze_weights(bad, errors="raise")
    with pytest.raises(TypeError, match=r"source must be a path .* a mapping .* named_parameters"):
        sp.analyze_weights(3)


def test_analyze_matrix_backends(xp):
    rng = np.random.default_rng(29)
    W_np = rng.standard_t(3, (80, 40))
    a = sp.analyze_matrix(W_np)
    b = sp.analyze_matrix(xp.asarray(W_np))
    for key in ("alpha_ww", "xmin", "num_spikes", "measured_rank_decay", "entry_alpha", "entry_measured_decay"):
        assert b[key] == pytest.approx(a[key], rel=1e-9)


def test_analyze_weights_backends(xp):
    # non-NumPy tensors take the namespace's own eigensolver
    rng = np.random.default_rng(30)
    tensors = {f"w{i}": rng.standard_t(3, (60 + 10 * i, 40)) for i in range(5)}
    a = sp.analyze_weights(tensors)
    b = sp.analyze_weights({k: xp.asarray(v) for k, v in tensors.items()})
    assert list(b["name"]) == list(a["name"]) and list(b["status"]) == ["ok"] * 5
    for key in ("alpha_ww", "xmin", "num_spikes", "measured_rank_decay", "entry_alpha", "entry_measured_decay"):
        np.testing.assert_allclose(b[key].to_numpy(float), a[key].to_numpy(float), rtol=1e-9)


# ------------------------------------------------------------------------------------------- typed rows


EXPECTED_COLUMNS = (
    "layer_id name shape N M rf num_evals alpha_ww xmin xmax D sigma num_pl_spikes alpha_weighted log_alpha_norm "
    "norm log_norm spectral_norm log_spectral_norm lambda_max sv_max sv_min stable_rank matrix_rank entropy sigma_mp "
    "bulk_min bulk_max num_spikes mp_softrank sv_tail_index predicted_rank_decay measured_rank_decay rank_decay_r2 "
    "compressible alpha_ww_ci_low alpha_ww_ci_high alpha_ww_fp16 alpha_ww_bf16 alpha_ww_unstable entry_alpha "
    "entry_xmin entry_n_tail entry_D entry_predicted_decay entry_measured_decay entry_decay_r2 entry_compressible "
    "entry_alpha_ci_low entry_alpha_ci_high entry_alpha_fp16 entry_alpha_bf16 entry_alpha_unstable status reason"
).split()
"""The published column order (the dataclass fields must produce exactly this)."""
INTEGER_COLUMNS = [
    "layer_id",
    "N",
    "M",
    "rf",
    "num_evals",
    "num_pl_spikes",
    "matrix_rank",
    "num_spikes",
    "entry_n_tail",
]


def test_rows_have_the_published_columns_in_order():
    assert list(COLUMNS) == EXPECTED_COLUMNS
    row = sp.analyze_matrix(np.random.default_rng(32).standard_normal((40, 20)))
    assert tuple(row) == ROW_KEYS == tuple(EXPECTED_COLUMNS[2:])


def test_counts_stay_integers_and_compressible_is_missing_without_a_fit(tmp_path):
    rng = np.random.default_rng(33)
    nan = rng.standard_normal((30, 20))
    nan[1, 1] = np.nan
    tensors = {
        "ok": rng.standard_t(1.5, (256, 64)),
        "nan": nan,  # failed before its matrices are known
        "small": rng.standard_normal((6, 3)),  # skipped: too few eigenvalues for a fit
        "flat": np.linalg.qr(rng.standard_normal((50, 20)))[0],  # failed ESD fit (a flat spectrum)
        "zero": np.zeros((20, 10)),  # skipped, and no entry tail either
    }
    df = sp.analyze_weights(tensors)
    assert list(df["status"]) == ["ok", "failed", "skipped", "failed", "skipped"]
    for col in INTEGER_COLUMNS:
        assert df[col].dtype == "Int64", col
    assert df["compressible"].dtype == "boolean" and df["entry_compressible"].dtype == "boolean"
    assert df.loc[0, "N"] == 256 and df.loc[0, "num_evals"] == 64 and df.loc[2, "num_evals"] == 3
    assert df.loc[1, "N"] is pd.NA and df.loc[2, "num_pl_spikes"] is pd.NA
    # three-valued: a heavy tail (Student t, 1.5 degrees of freedom) is compressible, no fit is no verdict
    assert bool(df.loc[0, "compressible"]) is True
    assert [df.loc[i, "compressible"] is pd.NA for i in range(5)] == [False, True, True, True, True]
    assert [df.loc[i, "entry_compressible"] is pd.NA for i in range(5)] == [False, True, False, False, True]
    assert int(df["compressible"].sum()) == 1 and int(df["compressible"].isna().sum()) == 4
    header, ok, failed = list(csv.reader(io.StringIO(df.to_csv(index=False))))[:3]
    assert header[3:6] == ["N", "M", "rf"]
    assert ok[3:6] == ["256", "64", "1"] and failed[3:6] == ["", "", ""]  # integers, not 256.0 / NaN
