"""Entry-tail default, intervals with the xmin uncertainty and the float16/bfloat16 stability columns (layers)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binom

import sparsity as sp
from sparsity.layers import _entry
from sparsity.layers import _stability as st
from sparsity.tails._csn import _continuous_alphas
from sparsity.tails._csn_scan import candidates, first_index
from sparsity.tails._grid import Grid, continuous_sample
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


def test_refits_only_with_stability_true():
    # default (False): no float16/bfloat16 refits (the fits are built and measured stable under rounding; the
    # intervals are computed all the same); True: the entry and the spectral refits, at any size.
    rng = np.random.default_rng(0)
    W = rng.standard_normal((300, 200)).astype(np.float32)
    default = sp.analyze_matrix(W)
    assert np.isnan(default["alpha_ww_fp16"]) and default["alpha_ww_unstable"] is None
    assert np.isnan(default["entry_alpha_fp16"]) and default["entry_alpha_unstable"] is None
    assert np.isfinite(default["entry_alpha_ci_low"]) and np.isfinite(default["alpha_ww_ci_high"])
    both = sp.analyze_matrix(W, stability=True)
    assert np.isfinite(both["alpha_ww_fp16"]) and np.isfinite(both["alpha_ww_bf16"])
    assert np.isfinite(both["entry_alpha_fp16"]) and np.isfinite(both["entry_alpha_bf16"])
    assert both["alpha_ww_unstable"] is not None and both["entry_alpha_unstable"] is not None
    same = ("alpha_ww", "alpha_ww_ci_low", "alpha_ww_ci_high", "entry_alpha", "entry_alpha_ci_low", "entry_xmin")
    assert all(both[c] == default[c] for c in same)
    with pytest.raises(TypeError, match="stability"):
        sp.analyze_matrix(W, stability="auto")  # a bool, nothing else
    with pytest.raises(TypeError, match="stability"):
        sp.analyze_matrix(rng.standard_normal((30, 20)), stability="yes")


# ----------------------------------------------------------------------------- magnitudes on a coarse grid


def _top_pareto(seed: int, alpha: float, n: int, m: int) -> np.ndarray:
    """The ``m`` largest of ``n`` iid Pareto(alpha, xmin = 1) draws, descending, without drawing the others
    (Renyi: the ``m`` smallest of ``n`` uniforms are ``S_i / S_{n+1}``, S the partial sums of exponentials)."""
    rng = np.random.default_rng([11, seed, int(alpha * 10)])
    s = np.cumsum(rng.exponential(size=m))
    return (s / (s[-1] + rng.gamma(n + 1 - m))) ** (-1.0 / alpha)


N_2048 = 2048 * 2048  # a 2048 x 2048 matrix; the top window is entry_top = 20,000 of its magnitudes


def test_windows_off_a_coarse_grid_are_fitted_as_they_are():
    top = np.sort(np.abs(np.random.default_rng(6).standard_t(3, 5000)).astype(np.float32))[::-1].astype(np.float64)
    x, K = _entry._continuous_window(top, 1000, 10**6)
    assert x is top and K == 1000  # the very same array: float32 fits do not change by a bit


def test_every_entry_method_fits_the_dequantised_window():
    W = st.round_bfloat16(np.random.default_rng(7).standard_t(3, (200, 100)).astype(np.float32))
    window, grid = continuous_sample(np.sort(np.abs(W).ravel().astype(np.float64)))
    assert grid == Grid(8, 0.0)
    for method in ("csn", "hill"):
        row = sp.analyze_matrix(W, entry_method=method, stability=False)
        ref = sp.fit_tail(window[::-1], method, rng="data")
        assert row["entry_alpha"] == pytest.approx(ref.alpha, rel=1e-12) and row["entry_n_tail"] == ref.n_tail
        assert row["entry_xmin"] == ref.xmin and row["entry_xmin"] not in W  # a dequantised value


def test_half_precision_refits_are_dequantised():
    W = np.random.default_rng(8).standard_t(4, (300, 200)).astype(np.float32)
    row = sp.analyze_matrix(W, stability=True)
    top = np.sort(np.abs(W).ravel().astype(np.float64))[::-1]
    for col, rounded in (("entry_alpha_fp16", st.round_half(top)), ("entry_alpha_bf16", st.round_bfloat16(top))):
        assert rounded is not None
        window = continuous_sample(np.ascontiguousarray(rounded[::-1]))[0]
        assert row[col] == sp.fit_tail(window).alpha  # the rounded window, dequantised, then fitted


def _z_scores(fmt: str, alphas: tuple[float, ...], reps: int, *, dequantise: bool) -> np.ndarray:
    """(fit - alpha) / (fit / sqrt(n_tail)) of the entry CSN fit of the top 20,000 of N_2048 Pareto magnitudes."""
    rounding = st.round_bfloat16 if fmt == "bf16" else st.round_half
    z = []
    for alpha in alphas:
        for r in range(reps):
            top = rounding(_top_pareto(r, alpha, N_2048, 20_000))
            if dequantise:
                fit = _entry._fit(top, top.size, "csn", n=N_2048, interval=False)
                a, m = fit.alpha, fit.n_tail
            else:
                res = _entry._entry_tail_fit(top, top.size)[0]
                a, m = res.alpha, res.n_tail
            z.append((a - alpha) / (a / math.sqrt(m)))
    return np.array(z)


def test_bf16_ties_bias_the_entry_fit_and_dequantising_removes_it():
    # 16 bf16 windows (alpha 4 and 7). For a fit centred on the truth z has sd <= 1.5 (the xmin choice adds
    # spread to the MLE's 1; measured 0.8-1.5), so the mean of 16 has standard error <= 0.375 and |mean| <= 1.0
    # is a > 2.6-sigma band. The ties (values rounded up to xmin add log(x / xmin) = 0) give a bias of about
    # alpha eps sqrt(n_tail) / 2 standard errors (eps ~ 2^-7.5): ~2-2.5 here, so without dequantisation the mean
    # leaves the band (measured +2.2 over 40 windows).
    fixed = _z_scores("bf16", (4.0, 7.0), 8, dequantise=True)
    raw = _z_scores("bf16", (4.0, 7.0), 8, dequantise=False)
    assert abs(float(np.mean(fixed))) <= 1.0
    assert float(np.mean(raw)) > 1.0


def _coverage(fmt: str, alpha: float, reps: int, *, dequantise: bool) -> int:
    """How many of ``reps`` seeded windows (top 20,000 of N_2048 rounded to ``fmt``) have alpha in the entry CI."""
    rounding = st.round_bfloat16 if fmt == "bf16" else st.round_half
    hits = 0
    for r in range(reps):
        top = rounding(_top_pareto(100 + r, alpha, N_2048, 20_000))
        if dequantise:
            lo, hi = _entry._fit(top, top.size, "csn", n=N_2048, interval=True).ci
        else:
            res, w = _entry._entry_tail_fit(top, top.size)
            lo, hi = st.xmin_interval(_entry._ascending(top[:w]), res.alpha, res.n_tail, res.ks_distance)
        hits += lo <= alpha <= hi
    return hits


@pytest.mark.slow
def test_entry_interval_covers_the_planted_alpha_on_coarse_grids():
    # 30 windows per alpha in {2, 4, 7}: 90 per format. At the nominal 95 % (the interval, widened by the xmin
    # uncertainty, covers at least that) the hits fall below the 0.1 % binomial quantile (78 of 90) with
    # probability < 0.001. Without dequantisation, bf16 windows at alpha 4 and 7 cover ~72 % (measured 29/40):
    # 80 of them reach the 0.1 % quantile of 80 nominal draws (69) with probability 0.002, so the raw fit fails
    # where the dequantised one passes. float16's step is 8x finer and its tie bias (~0.3 standard errors at
    # this size) does not break coverage; the dequantised fit must cover there as well.
    for fmt in ("bf16", "fp16"):
        hits = sum(_coverage(fmt, a, 30, dequantise=True) for a in (2.0, 4.0, 7.0))
        assert hits >= binom.ppf(0.001, 90, 0.95), (fmt, hits)
    raw = sum(_coverage("bf16", a, 40, dequantise=False) for a in (4.0, 7.0))
    assert raw < binom.ppf(0.001, 80, 0.95), raw
