"""Tests for sparsity.tails: the CSN fit (exact scan, pruning, peers) and input validation."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from sparsity._csn import csn_fit
from sparsity.tails import MIN_NONZERO, TailFit, fit_tail


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
