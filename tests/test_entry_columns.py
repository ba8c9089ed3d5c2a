"""Entry-tail default, intervals with the xmin uncertainty and the float16/bfloat16 stability columns (layers)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import sparsity as sp
from sparsity.layers import _stability as st
from sparsity.tails._csn import _continuous_alphas
from sparsity.tails._csn_scan import candidates, first_index
from sparsity.tails._ks_scan import ks_scan_numpy

Z95 = 1.959963984540054


def test_ks_se_is_the_spread_of_the_csn_statistic():
    # sqrt(m) D for exact Pareto tails (exponential log-excesses, rate by MLE), 600 seeded draws of m = 500.
    # The standard error of a standard deviation estimated from r draws is ~ sd / sqrt(2 r) = 0.0055; 4 of them.
    rng = np.random.default_rng(0)
    m, r = 500, 600
    t = np.sort(rng.exponential(size=(r, m)), axis=1)
    a = m / t.sum(axis=1, keepdims=True)
    d = np.max(np.abs(-np.expm1(-a * t) - np.arange(m) / m), axis=1) * math.sqrt(m)
    assert float(np.std(d)) == pytest.approx(st.KS_SE, abs=4 * st.KS_SE / math.sqrt(2 * r))


def test_rounding_matches_numpy_and_ml_dtypes():
    x = np.random.default_rng(1).standard_normal(20_000).astype(np.float32) * 10.0 ** np.arange(-4, 4).repeat(2500)
    np.testing.assert_array_equal(st.round_half(x), x.astype(np.float16).astype(np.float32))
    assert st.round_half(np.array([7e4], dtype=np.float32)) is None  # above the float16 range
    x64 = x.astype(np.float64)
    assert st.round_bfloat16(x64).dtype == np.float64
    ml_dtypes = pytest.importorskip("ml_dtypes")
    np.testing.assert_array_equal(st.round_bfloat16(x), x.astype(ml_dtypes.bfloat16).astype(np.float32))


def _brute_interval(x: np.ndarray, alpha: float, n_tail: int, d_min: float) -> tuple[float, float]:
    """The interval of xmin_interval from the exact D of every candidate (no bounds, no pruning)."""
    L, first = np.log(x), first_index(x)
    cand = candidates(x, first, st.MIN_CI_TAIL)
    a, cn = _continuous_alphas(L, cand, x.size, None)
    d = ks_scan_numpy(L, first, cand, a, cn, 0, blocks=False)[0]
    root_m = np.sqrt(x.size - cand)
    keep = d <= d_min + st.KS_SE / math.sqrt(n_tail) + 1e-12
    lo = min(alpha * (1 - Z95 / math.sqrt(n_tail)), *(a * (1 - Z95 / root_m))[keep])
    hi = max(alpha * (1 + Z95 / math.sqrt(n_tail)), *(a * (1 + Z95 / root_m))[keep])
    return lo, hi


@pytest.mark.parametrize("seed", range(4))
def test_xmin_interval_equals_the_brute_force_union(seed):
    rng = np.random.default_rng(seed)
    v = np.abs(rng.standard_t(3 + seed, 1500)) if seed % 2 else rng.random(1500) ** (-1 / 2.5) + rng.random(1500)
    x = np.sort(v)
    fit = sp.fit_tail(x)
    got = st.xmin_interval(x, fit.alpha, fit.n_tail, fit.ks_distance)
    want = _brute_interval(x, fit.alpha, fit.n_tail, fit.ks_distance)
    assert got == pytest.approx(want, rel=1e-12)  # the same candidates and formulas: equal to rounding
    assert got[0] <= fit.alpha_ci[0] + 1e-12 and got[1] >= fit.alpha_ci[1] - 1e-12  # contains the normal CI


def test_entry_interval_covers_the_true_alpha():
    # 60 seeded matrices with Pareto(alpha = 3) entries (random signs): at nominal 95 % coverage the chance of
    # 53 or fewer hits is 1.5 %; the interval is wider than the normal one, so coverage is if anything higher.
    hits = 0
    for seed in range(60):
        rng = np.random.default_rng([7, seed])
        W = (rng.random((60, 50)) ** (-1 / 3.0)) * rng.choice([-1.0, 1.0], (60, 50))
        row = sp.analyze_matrix(W, stability=False)
        hits += row["entry_alpha_ci_low"] <= 3.0 <= row["entry_alpha_ci_high"]
    assert hits >= 54


def test_flags_are_the_refits_against_the_interval():
    rng = np.random.default_rng(3)
    tensors = {f"t{i}": (0.05 * rng.standard_t(4 + i, (120, 80))).astype(np.float32) for i in range(4)}
    df = sp.analyze_weights(tensors, stability=True)
    for _, r in df.iterrows():
        for alpha, lo, hi, unstable, fp16, bf16 in (
            ("alpha_ww", "alpha_ww_ci_low", "alpha_ww_ci_high", "alpha_ww_unstable", "alpha_ww_fp16", "alpha_ww_bf16"),
            (
                "entry_alpha",
                "entry_alpha_ci_low",
                "entry_alpha_ci_high",
                "entry_alpha_unstable",
                "entry_alpha_fp16",
                "entry_alpha_bf16",
            ),
        ):
            assert r[lo] <= r[alpha] <= r[hi]
            outside = not (r[lo] <= r[fp16] <= r[hi]) or not (r[lo] <= r[bf16] <= r[hi])
            assert bool(r[unstable]) == outside


def test_weights_stored_in_half_precision_refit_to_themselves():
    W = np.random.default_rng(4).standard_t(3, (90, 70)).astype(np.float16)
    row = sp.analyze_matrix(W, stability=True)
    assert row["entry_alpha_fp16"] == row["entry_alpha"] and row["alpha_ww_fp16"] == row["alpha_ww"]  # identity
    assert row["entry_alpha_unstable"] is not None and row["alpha_ww_unstable"] is not None
    off = sp.analyze_matrix(W, stability=False)
    assert math.isnan(off["entry_alpha_fp16"]) and off["alpha_ww_unstable"] is None
    assert off["entry_alpha"] == row["entry_alpha"] and off["alpha_ww"] == row["alpha_ww"]


def test_entry_method_is_selectable_and_seed_free():
    W = np.random.default_rng(5).standard_t(3, (200, 100))
    a = sp.analyze_matrix(W, entry_method="hill", stability=False)
    b = sp.analyze_matrix(W, entry_method="hill", stability=False)
    assert a["entry_alpha"] == b["entry_alpha"]  # bootstraps seeded from the data
    ref = sp.fit_tail(np.sort(np.abs(W).ravel())[::-1][:20_000], "hill", rng="data")
    assert a["entry_alpha"] == ref.alpha and a["entry_n_tail"] == ref.n_tail
    assert (a["entry_alpha_ci_low"], a["entry_alpha_ci_high"]) == ref.alpha_ci
    with pytest.raises(ValueError, match=r"entry_method must be one of .*got 'stable'"):
        sp.analyze_matrix(W, entry_method="stable")
    with pytest.raises(TypeError, match="stability"):
        sp.analyze_matrix(W, stability="yes")


def test_spectral_refits_only_with_stability_true():
    # stability="auto" (default): the entry fp16/bf16 refits run, the spectral ones (two more Gram spectra per
    # tensor) do not; True runs both at any size, False neither.
    rng = np.random.default_rng(0)
    W = rng.standard_normal((300, 200)).astype(np.float32)
    auto = sp.analyze_matrix(W)
    assert np.isnan(auto["alpha_ww_fp16"]) and auto["alpha_ww_unstable"] is None
    assert np.isfinite(auto["entry_alpha_fp16"]) and auto["entry_alpha_unstable"] is not None
    both = sp.analyze_matrix(W, stability=True)
    assert np.isfinite(both["alpha_ww_fp16"]) and np.isfinite(both["alpha_ww_bf16"])
    assert both["alpha_ww_unstable"] is not None
    assert both["alpha_ww"] == auto["alpha_ww"] and both["entry_alpha_fp16"] == auto["entry_alpha_fp16"]
    with pytest.raises(TypeError, match="stability"):
        sp.analyze_matrix(rng.standard_normal((30, 20)), stability="yes")
