"""Tests for sparsity.tails._fit: the CSN fit (exact scan, pruning, peers) and input validation."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from sparsity.tails._csn import csn_fit
from sparsity.tails._fit import MIN_NONZERO, TailFit, fit_tail


def pareto(n: int, alpha: float, rng: np.random.Generator, xmin: float = 1.0) -> np.ndarray:
    """Pareto sample with survival tail index alpha: xmin * U**(-1/alpha)."""
    return xmin * rng.random(n) ** (-1.0 / alpha)


def body_and_tail(n: int, alpha: float, seed: int) -> np.ndarray:
    """Lognormal body plus a Pareto tail: an xmin well inside the sample."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.lognormal(0.0, 0.7, n // 2), pareto(n - n // 2, alpha, rng, 2.0)])


# ------------------------------------------------------------------------------- exact scan vs pruned scan


@pytest.mark.parametrize("seed", range(12))
def test_pruned_scan_equals_naive_scan(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(30, 1500))
    alpha = float(rng.uniform(0.5, 3.0))
    x = body_and_tail(n, alpha, seed) if seed % 2 else pareto(n, alpha, rng)
    x = np.sort(x)
    a = csn_fit(x, scan="naive")
    b = csn_fit(x, scan="pruned")
    assert b.xmin == a.xmin
    assert b.n_tail == a.n_tail
    assert b.ks_distance == a.ks_distance
    assert b.alpha == a.alpha


@pytest.mark.parametrize("seed", range(6))
def test_pruned_scan_equals_naive_scan_with_ties(seed):
    rng = np.random.default_rng(100 + seed)
    # rounding to 2 significant digits creates many ties, including in the tail
    x = np.sort(np.round(pareto(800, 1.2 + 0.2 * seed, rng), 1))
    a = csn_fit(x, scan="naive")
    b = csn_fit(x, scan="pruned")
    assert (b.xmin, b.n_tail, b.ks_distance, b.alpha) == (a.xmin, a.n_tail, a.ks_distance, a.alpha)


def test_naive_scan_matches_brute_force_definition():
    """The KS statistic and candidate set, written out literally, give the same minimiser."""
    x = np.sort(np.round(body_and_tail(300, 1.5, 7), 2))
    u = np.unique(x)
    best = (np.inf, None)
    for xm in u[:-2]:
        tail = x[x >= xm]
        m = tail.size
        a = m / np.sum(np.log(tail / xm))
        tu = np.unique(tail)
        emp = np.array([np.sum(tail < v) for v in tu]) / m
        d = np.max(np.abs(1 - (tu / xm) ** (-a) - emp))
        if d < best[0]:
            best = (d, xm)
    r = csn_fit(x, scan="pruned")
    assert r.xmin == best[1]
    # D from two formulas (exp of a log difference vs a power): a few ulp of a number <= 1
    assert r.ks_distance == pytest.approx(best[0], abs=1e-13)


# ------------------------------------------------------------------------------------------------ peers


def _powerlaw_fit(x, **kw):
    powerlaw = pytest.importorskip("powerlaw")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return powerlaw.Fit(x, verbose=0, **kw)


@pytest.mark.parametrize("seed", range(4))
def test_csn_matches_powerlaw_continuous(seed):
    # survival alpha 1.5 -> density 2.5, inside (1.5, 3) where powerlaw uses the closed-form MLE (not
    # Nelder-Mead), so agreement is to rounding: 1e-9 relative is far above the ~1e-13 summation error.
    x = body_and_tail(2000, 1.5, seed)
    ours = fit_tail(x, "csn")
    peer = _powerlaw_fit(x)
    assert ours.xmin == peer.xmin
    assert ours.alpha_density == pytest.approx(peer.alpha, rel=1e-9)
    assert ours.alpha == pytest.approx(peer.alpha - 1.0, rel=1e-9)
    assert ours.ks_distance == pytest.approx(peer.D, abs=1e-12)
    assert ours.n_tail == peer.n_tail


def test_csn_matches_weightwatcher_fit():
    ww = pytest.importorskip("weightwatcher.WW_powerlaw")
    x = body_and_tail(1500, 1.2, 3)
    ours = fit_tail(x, "csn")
    peer = ww.WWFit(x)
    assert ours.xmin == peer.xmin
    # WeightWatcher's alpha is the density exponent: alpha_ww = alpha + 1
    assert ours.alpha_density == pytest.approx(peer.alpha, rel=1e-9)
    assert ours.ks_distance == pytest.approx(peer.D, abs=1e-12)


# ---------------------------------------------------------------------------------------------- recovery


def test_csn_recovers_pareto_alpha_within_ci():
    # Fixed xmin on a pure Pareto: alpha_hat ~ N(alpha, alpha^2/n); with 20 seeds at 95% coverage the
    # number of misses is Binomial(20, 0.05): P(misses > 4) < 0.003.
    misses = 0
    for seed in range(20):
        x = pareto(2000, 1.3, np.random.default_rng(seed))
        f = fit_tail(x, "csn", xmin=1.0)
        misses += not (f.alpha_ci[0] <= 1.3 <= f.alpha_ci[1])
    assert misses <= 4


# ------------------------------------------------------------------------------------------- bad input


def test_result_fields_and_convention():
    f = fit_tail(body_and_tail(500, 1.5, 0))
    assert isinstance(f, TailFit)
    assert f.alpha_density == f.alpha + 1.0
    assert f.n == 500 and f.n_zero == 0
    assert f.alpha_ci[0] < f.alpha < f.alpha_ci[1]
    assert f.alpha_se == pytest.approx(f.alpha / np.sqrt(f.n_tail))


def test_zeros_excluded_and_counted_negatives_by_magnitude():
    x = body_and_tail(400, 1.5, 1)
    signs = np.where(np.arange(400) % 2, -1.0, 1.0)
    f1 = fit_tail(x)
    f2 = fit_tail(np.concatenate([x * signs, np.zeros(17)]))
    assert (f2.alpha, f2.xmin, f2.n) == (f1.alpha, f1.xmin, f1.n)
    assert f2.n_zero == 17


@pytest.mark.parametrize(
    ("x", "exc", "match"),
    [
        (np.ones(50), ValueError, "all equal"),
        (np.r_[np.arange(1.0, 20.0), np.nan], ValueError, "finite"),
        (np.r_[np.arange(1.0, 20.0), np.inf], ValueError, "finite"),
        (np.r_[np.arange(1.0, MIN_NONZERO), np.zeros(30)], ValueError, "at least 10 nonzero"),
        (np.array(["a", "b"]), TypeError, "real numeric"),
        (np.array([], dtype=float), ValueError, "empty"),
    ],
)
def test_bad_input(x, exc, match):
    with pytest.raises(exc, match=match):
        fit_tail(x)


def test_bad_options():
    x = body_and_tail(200, 1.5, 0)
    with pytest.raises(ValueError, match="method"):
        fit_tail(x, "nope")
    with pytest.raises(ValueError, match="xmin"):
        fit_tail(x, xmin=-1.0)
    with pytest.raises(TypeError, match="min_tail"):
        fit_tail(x, min_tail=2.5)
    with pytest.raises(ValueError, match="discrete=True needs integer"):
        fit_tail(x, discrete=True)
    with pytest.raises(ValueError, match="ci_level"):
        fit_tail(x, ci_level=1.5)


# ------------------------------------------------------------------------------------------- invariances


@pytest.mark.parametrize("c", [0.5, 2.0, 3.0])
def test_power_transform_invariance(c):
    """x -> x**c divides alpha by c and keeps the KS distance and the chosen point (CSN is invariant)."""
    x = body_and_tail(1000, 1.5, 11)
    f1 = fit_tail(x)
    f2 = fit_tail(x**c)
    assert f2.n_tail == f1.n_tail
    assert f2.xmin == pytest.approx(f1.xmin**c, rel=1e-12)
    assert f2.alpha == pytest.approx(f1.alpha / c, rel=1e-9)
    assert f2.ks_distance == pytest.approx(f1.ks_distance, abs=1e-12)


def test_scale_and_permutation_invariance():
    x = body_and_tail(800, 1.2, 5)
    f1 = fit_tail(x)
    f2 = fit_tail(np.random.default_rng(0).permutation(x) * 1e-3)
    assert (f2.alpha, f2.n_tail) == pytest.approx((f1.alpha, f1.n_tail), rel=1e-9)


def test_backends_agree(xp):
    x = body_and_tail(600, 1.5, 2)
    f_np = fit_tail(x)
    f_xp = fit_tail(xp.asarray(x))
    assert (f_xp.alpha, f_xp.xmin, f_xp.n_tail) == (f_np.alpha, f_np.xmin, f_np.n_tail)


def test_dtypes_float32_int_and_huge_values():
    x = body_and_tail(500, 1.5, 4)
    assert fit_tail(x.astype(np.float32)).alpha == pytest.approx(fit_tail(x.astype(np.float32).astype(float)).alpha)
    xi = np.random.default_rng(0).zipf(2.5, 500)
    assert fit_tail(xi, discrete=True).discrete
    huge = fit_tail(x * 1e300)  # logs stay finite: no overflow
    assert huge.alpha == pytest.approx(fit_tail(x).alpha, rel=1e-9)


# -------------------------------------------------------------------------------------------- fixed xmin


def test_fixed_xmin_matches_powerlaw():
    x = body_and_tail(1500, 1.5, 8)
    ours = fit_tail(x, xmin=3.0)
    peer = _powerlaw_fit(x, xmin=3.0)
    assert ours.n_tail == int(np.sum(x >= 3.0))
    assert ours.alpha_density == pytest.approx(peer.power_law.alpha, rel=1e-9)
    assert ours.ks_distance == pytest.approx(peer.power_law.D, abs=1e-12)
    assert ours.details["xmin_fixed"]


# -------------------------------------------------------------------------------------------------- xmax


def test_truncated_mle_solves_score_equation_and_scan_is_exact():
    rng = np.random.default_rng(3)
    # truncated Pareto on [1, 50] with alpha = 0.8 by inversion
    a, r = 0.8, 50.0
    u = rng.random(3000)
    x = (1 - u * (1 - r**-a)) ** (-1 / a)
    f = fit_tail(x, xmax=r)
    tail = x[(x >= f.xmin) & (x <= r)]
    lr = np.log(r / f.xmin)
    score = 1 / f.alpha - np.mean(np.log(tail / f.xmin)) - lr / np.expm1(f.alpha * lr)
    # bisection stops at 1e-15 relative in log(alpha): the score then vanishes to ~1e-12 of its terms
    assert abs(score) < 1e-9
    a1 = csn_fit(np.sort(x), xmax=r, scan="naive")
    a2 = csn_fit(np.sort(x), xmax=r, scan="pruned")
    assert (a1.xmin, a1.ks_distance) == (a2.xmin, a2.ks_distance)
    # recovery: |alpha_hat - a| within 4 standard errors (Fisher information of the truncated model)
    g = fit_tail(x, xmin=1.0, xmax=r)
    assert abs(g.alpha - a) < 4 * g.alpha_se


# ---------------------------------------------------------------------------------------------- discrete


def _zeta_s_derivative(s: float, q: float, terms: int = 200_000) -> float:
    """d/ds zeta(s, q) = -sum log(k+q)/(k+q)^s by direct summation plus an Euler-Maclaurin tail."""
    k = np.arange(terms) + q
    head = -np.sum(np.log(k) * k**-s)
    big = terms + q
    tail_int = big ** (1 - s) * (np.log(big) / (s - 1) + 1 / (s - 1) ** 2)
    return float(head - tail_int + 0.5 * np.log(big) * big**-s)


def test_discrete_mle_solves_exact_score_equation():
    from scipy import special

    x = np.random.default_rng(1).zipf(2.3, 3000).astype(float)
    f = fit_tail(x, discrete=True, xmin=2.0)
    tail = x[x >= 2.0]
    a = f.alpha_density
    score = -np.mean(np.log(tail)) - _zeta_s_derivative(a, 2.0) / special.zeta(a, 2.0)
    # the score's slope is -Var(log X) ~ -0.5 here, so |score| < 1e-10 pins alpha to ~2e-10
    assert abs(score) < 1e-10


@pytest.mark.parametrize("seed", range(4))
def test_discrete_pruned_equals_naive(seed):
    rng = np.random.default_rng(seed)
    x = np.sort(np.floor(pareto(1500, 1.0 + 0.3 * seed, rng, 1.0)))
    a = csn_fit(x, discrete=True, scan="naive")
    b = csn_fit(x, discrete=True, scan="pruned")
    assert (a.xmin, a.ks_distance, a.alpha) == (b.xmin, b.ks_distance, b.alpha)


@pytest.mark.parametrize("seed", range(2))
def test_discrete_matches_powerlaw(seed):
    powerlaw = pytest.importorskip("powerlaw")
    x = np.random.default_rng(seed).zipf(2.5, 2000).astype(float)
    ours = fit_tail(x, discrete=True)
    peer = _powerlaw_fit(x, discrete=True, estimate_discrete=False)
    assert ours.xmin == peer.xmin
    # powerlaw maximises the same likelihood by Nelder-Mead with tol=1e-4 (its fit()), so it can only
    # agree to that tolerance; ours is the exact maximiser, so its log-likelihood is at least as large.
    assert abs(ours.alpha_density - peer.alpha) <= 1e-4
    tail = x[x >= ours.xmin]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mine = powerlaw.Power_Law(xmin=ours.xmin, parameters=[ours.alpha_density], discrete=True, verbose=0)
        ll_ours = np.sum(mine.loglikelihoods(tail))
    assert ll_ours >= peer.power_law.loglikelihood - 1e-9 * abs(ll_ours)


def test_discrete_recovers_zipf_exponent():
    # zipf(a) is the discrete power law with density exponent a and xmin = 1; 20 seeds at 95% -> misses
    # ~ Binomial(20, 0.05), P(misses > 4) < 0.003
    misses = 0
    for seed in range(20):
        x = np.random.default_rng(seed).zipf(2.5, 1000)
        f = fit_tail(x, discrete=True, xmin=1.0)
        misses += not (f.alpha_ci[0] <= 1.5 <= f.alpha_ci[1])
    assert misses <= 4


@pytest.mark.parametrize(("seed", "decimals"), [(40, None), (41, 1)])
def test_pruned_equals_naive_on_larger_samples(seed, decimals):
    """n = 5000 runs several refinement levels of the pruned scan (pure Pareto: many near-ties in D)."""
    x = pareto(5000, 1.5, np.random.default_rng(seed))
    if decimals is not None:
        x = np.round(x, decimals)
    x = np.sort(x)
    a = csn_fit(x, scan="naive")
    b = csn_fit(x, scan="pruned")
    assert (b.xmin, b.n_tail, b.ks_distance, b.alpha) == (a.xmin, a.n_tail, a.ks_distance, a.alpha)


def test_smallest_inputs():
    x = np.arange(1.0, 11.0) ** 2  # exactly MIN_NONZERO values
    f = fit_tail(x)
    assert f.n == 10 and 3 <= f.n_tail <= 10
    with pytest.raises(ValueError, match="3 distinct"):
        fit_tail(np.r_[np.ones(8), 2.0, 2.0])
    with pytest.raises(ValueError, match="min_tail"):
        fit_tail(x, min_tail=11)


def test_csn_above_the_alpha_2_threshold_unlike_powerlaw():
    """Survival alpha = 3 (density 4): recovered within the 95% CI (misses ~ Binomial(20, 0.05), P(> 4) <
    0.003). powerlaw 2.0 bounds its density exponent to (0, 3), i.e. survival alpha < 2, so it cannot
    return this; WeightWatcher's own loop agrees with us."""
    misses = 0
    for seed in range(20):
        f = fit_tail(pareto(2000, 3.0, np.random.default_rng(seed)))
        misses += not (f.alpha_ci[0] <= 3.0 <= f.alpha_ci[1])
    assert misses <= 4


def _csn_key(r):
    return (r.alpha, r.xmin, r.n_tail, r.ks_distance)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_csn_fit_reusing_a_fit_of_the_top_values_is_the_full_fit(seed):
    # csn_fit(x, known=(m, fit of the m largest)) scans only the candidates below them, and must return
    # bitwise the full fit: with heavy ties (some across the boundary), with zeros removed, any m
    from sparsity.tails._csn import csn_fit

    rng = np.random.default_rng(seed)
    for trial in range(30):
        n = int(rng.choice([300, 1500, 6000]))
        samples = [np.abs(rng.standard_normal(n)), np.round(rng.lognormal(0, 1, n), 1), rng.random(n) ** (-1 / 1.3)]
        x = np.sort(samples[trial % 3].astype(np.float64))
        x = x[x > 0]  # csn_fit takes positive values (fit_tail drops zeros)
        n = x.size
        m = int(rng.integers(10, n))
        top = x[n - m :]
        if np.unique(top).size < 3:
            continue
        small = csn_fit(top)
        assert _csn_key(csn_fit(x, known=(m, small))) == _csn_key(csn_fit(x)), (trial, n, m)


def test_csn_fit_reuse_rescans_when_the_known_xmin_is_tied_across_the_boundary():
    from sparsity.tails._csn import csn_fit

    x = np.sort(np.r_[np.full(50, 2.0), np.random.default_rng(3).random(400) ** (-1 / 1.5) + 2.0, [1.0, 1.5]])
    m = x.size - np.searchsorted(x, 2.0) - 20  # the boundary splits the run of 2.0
    top = x[x.size - m :]
    small = csn_fit(top)
    assert top[0] == 2.0 and x[x.size - m - 1] == 2.0
    assert _csn_key(csn_fit(x, known=(m, small))) == _csn_key(csn_fit(x))
    assert csn_fit(x, known=(x.size, csn_fit(x))) == csn_fit(x)  # the same sample: the known fit itself


def test_widened_entry_window_equals_fit_tail_on_it():
    from sparsity.layers._entry import _entry_tail_fit
    from sparsity.tails._fit import fit_tail

    rng = np.random.default_rng(4)
    widened = 0
    for trial in range(40):
        v = np.abs(rng.standard_normal(3000)) if trial % 2 else np.round(np.abs(rng.standard_t(4, 3000)), 2)
        top = np.sort(v)[::-1][:400]
        tf, window = _entry_tail_fit(top, 100)
        ref = fit_tail(top[:window][top[:window] > 0])
        assert _csn_key(tf) == (ref.alpha, ref.xmin, ref.n_tail, ref.ks_distance)
        widened += window > 100
    assert widened > 5


# ----------------------------------------------------------------------- discrete: pole, bracket, derivative


@pytest.mark.parametrize(("s", "q"), [(1.0005, 1.0), (1.003, 2.0), (2.5, 3.0), (7.0, 20.0)])
def test_zeta_log_moments_equal_direct_summation(s, q):
    # E[log X] = -d/ds log zeta(s, q): the analytic Euler-Maclaurin sums against 200k terms plus an integral
    # tail (its first neglected term is ~ log(N) N^(-s-1) / 12 ~ 1e-11 of the sums); also where the old
    # 4-point stencil (h = 1e-3) needed zeta(s - 2h < 1), which is NaN
    from scipy import special

    from sparsity.tails._zeta import zeta_log_moments

    mean, _ = zeta_log_moments(np.array(s), np.array(q))
    ref = -_zeta_s_derivative(s, q) / special.zeta(s, q) - np.log(q)
    assert float(mean) == pytest.approx(ref, rel=1e-9)


def test_discrete_mle_near_the_zeta_pole():
    # integers spread over 290 decades: mean log x ~ 334, so the density exponent is ~ 1 + 1/334, where the
    # old finite difference straddled the pole (it returned the bracket's end, 1 + 1e-6, with a NaN se)
    from scipy import special

    x = np.floor(10.0 ** np.linspace(0, 290, 200))
    f = fit_tail(x, discrete=True, xmin=1.0)
    a = f.alpha_density
    assert 1.002 < a < 1.004 and np.isfinite(f.alpha_se)
    score = -np.mean(np.log(x)) - _zeta_s_derivative(a, 1.0) / special.zeta(a, 1.0)
    # the score's slope is -Var(log X) ~ -1/(a-1)^2 ~ -1e5: |score| < 1e-4 pins a to ~1e-9 (the reference
    # derivative itself is good to ~1e-11 relative of ~334)
    assert abs(score) < 1e-4


def test_discrete_mle_above_the_initial_bracket_is_found_not_clipped():
    # a tail concentrated at xmin = 20: the MLE is ~61.5 (it was clipped to the bracket's end, 50, silently)
    x = np.r_[np.full(1000, 20.0), np.full(50, 21.0), np.full(3, 22.0)]
    f = fit_tail(x, discrete=True, xmin=20.0)
    a = f.alpha_density
    n = np.arange(20.0, 20.0 + 2000.0)  # the pmf falls below 1e-40 of its first term well before the end
    w = (n / 20.0) ** -a
    e_log = float(np.sum(np.log(n) * w) / np.sum(w))
    # score E_a[log X] - mean(log x) = 0; its slope is -Var(log X) ~ -4e-5, so 1e-12 pins a to ~3e-8
    assert a > 55 and abs(e_log - np.mean(np.log(x))) < 1e-12


def test_discrete_mle_beyond_the_representable_range_is_flagged():
    # at xmin = 1000 the MLE (~4e3) is above 700 / log(1000) ~ 101, where zeta(a, 1000) underflows: a fixed xmin
    # raises; in the scan the candidate is left out with a warning that counts it
    x = np.r_[np.full(990, 1000.0), np.full(8, 1001.0), np.full(2, 1002.0), [1003.0, 1005.0, 1010.0, 1100.0]]
    with pytest.raises(ValueError, match="lies outside"):
        fit_tail(x, discrete=True, xmin=1000.0)
    with pytest.warns(UserWarning, match="for 2 of 5 candidate xmin"):
        f = fit_tail(x, discrete=True)
    assert f.xmin == 1003.0


def test_import_loads_neither_scipy_stats_nor_cupy():
    import subprocess
    import sys

    code = "import sys, sparsity; print('scipy.stats' in sys.modules, 'cupy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]
