"""Tests for the goodness-of-fit tools of sparsity.tails._fit: CSN bootstrap p-value, Vuong likelihood ratios."""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pytest
from scipy import special

from sparsity.tails import _gof as gof
from sparsity.tails import fit_tail, likelihood_ratio_test, power_law_pvalue


def body_and_tail(n: int, alpha: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.lognormal(0.0, 0.7, n // 2), 2.0 * rng.random(n - n // 2) ** (-1.0 / alpha)])


def _powerlaw_fit(x, **kw):
    powerlaw = pytest.importorskip("powerlaw")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return powerlaw.Fit(x, verbose=0, **kw)


# ------------------------------------------------------------------------------------------------- p-value


def test_pvalue_calibrated_under_the_null():
    # Under H0 the p-value is ~uniform: P(p < 0.1) = 0.1, so among 10 Pareto samples the number below 0.1 is
    # ~Binomial(10, 0.1) (plus Monte-Carlo noise of n_boot = 40): P(count > 4) < 0.002.
    low = 0
    for seed in range(10):
        x = np.random.default_rng(seed).random(400) ** (-1 / 1.5)
        low += power_law_pvalue(x, n_boot=40, rng=seed).p_value < 0.1
    assert low <= 4


def test_pvalue_rejects_uniform_data():
    # a uniform law on [1, 2] is no power law: with 3000 points the CSN test rejects it in most samples
    ps = [power_law_pvalue(np.random.default_rng(s).uniform(1, 2, 3000), n_boot=40, rng=s).p_value for s in range(5)]
    assert sum(p < 0.1 for p in ps) >= 3


def test_pvalue_deterministic_and_consistent_with_fit():
    x = body_and_tail(600, 1.5, 1)
    a = power_law_pvalue(x, n_boot=30, rng=3)
    b = power_law_pvalue(x, n_boot=30, rng=3)
    assert a.p_value == b.p_value
    np.testing.assert_array_equal(a.ks_boot, b.ks_boot)
    assert a.ks_distance == fit_tail(x).ks_distance
    assert a.p_value == np.mean(a.ks_boot >= a.ks_distance)


def test_discrete_sampler_matches_zeta_pmf():
    rng = np.random.default_rng(0)
    a, xmin, n = 2.5, 2.0, 50_000
    draws = gof._sample_discrete(a, xmin, None, n, rng)
    assert draws.min() >= xmin and np.all(draws == np.floor(draws))
    for v in (2.0, 3.0, 5.0):
        p = v**-a / special.zeta(a, xmin)
        # frequency is Binomial(n, p)/n: within 5 standard errors
        assert abs(np.mean(draws == v) - p) < 5 * math.sqrt(p * (1 - p) / n)
    capped = gof._sample_discrete(a, xmin, 10.0, 10_000, rng)
    assert capped.max() <= 10.0


def test_discrete_pvalue_runs_on_zipf():
    x = np.random.default_rng(2).zipf(2.5, 800)
    res = power_law_pvalue(x, discrete=True, n_boot=20, rng=0)
    assert res.fit.discrete and 0 <= res.p_value <= 1


# ------------------------------------------------------------------------------------------ Vuong tests


def test_vuong_exponential_matches_powerlaw():
    x = body_and_tail(2000, 1.5, 0)
    ours = likelihood_ratio_test(x, "exponential")
    fit = _powerlaw_fit(x)
    R_peer, p_peer = fit.distribution_compare("power_law", "exponential")
    # Same power law (alpha to 1e-9); the exponential MLE is closed-form for us and Nelder-Mead (tol 1e-4) for
    # powerlaw, so R differs by exactly ll_exp(our lambda) - ll_exp(their lambda), evaluated here.
    t = x[x >= ours.fit.xmin]
    lam_p = float(fit.exponential.Lambda)
    lam_o = ours.alternative_params["lambda"]
    ll = lambda lam: np.sum(np.log(lam) - lam * (t - ours.fit.xmin))  # noqa: E731
    assert ll(lam_o) >= ll(lam_p)
    assert R_peer - ours.R == pytest.approx(ll(lam_o) - ll(lam_p), abs=1e-9 * abs(ours.R))
    assert ours.R > 0 and ours.p_value < 1e-3 and p_peer < 1e-3


def test_vuong_lognormal_is_the_exact_mle():
    x = np.random.default_rng(4).lognormal(1.0, 0.8, 3000)
    ours = likelihood_ratio_test(x, "lognormal")
    # same tail for both (powerlaw's own xmin scan excludes candidates whose alpha_density is outside (1, 3))
    fit = _powerlaw_fit(x, xmin=ours.fit.xmin)
    t = x[x >= ours.fit.xmin]
    lt, l0 = np.log(t), np.log(ours.fit.xmin)

    def ll(mu, sig):
        z0 = (l0 - mu) / sig
        return np.sum(-lt - np.log(sig) - 0.5 * np.log(2 * np.pi) - 0.5 * ((lt - mu) / sig) ** 2) - t.size * float(
            special.log_ndtr(-z0)
        )

    ll_ours = ll(ours.alternative_params["mu"], ours.alternative_params["sigma"])
    assert ll_ours >= ll(float(fit.lognormal.mu), float(fit.lognormal.sigma)) - 1e-9 * abs(ll_ours)
    # our log-likelihood formula agrees with powerlaw's at powerlaw's parameters
    peer_ll = np.sum(fit.lognormal.loglikelihoods(t))
    assert ll(float(fit.lognormal.mu), float(fit.lognormal.sigma)) == pytest.approx(peer_ll, rel=1e-9)
    assert ours.R < 0  # lognormal data: the sign favours the lognormal


def test_vuong_formula_and_bad_input():
    x = body_and_tail(500, 1.5, 2)
    r = likelihood_ratio_test(x, "exponential")
    assert r.normalized_R == pytest.approx(r.R / math.sqrt(r.n_tail) / (r.R / r.normalized_R / math.sqrt(r.n_tail)))
    assert r.p_value == pytest.approx(float(special.erfc(abs(r.normalized_R) / math.sqrt(2))), rel=1e-12)
    with pytest.raises(ValueError, match="alternative must be"):
        likelihood_ratio_test(x, "weibull")
    with pytest.raises(ValueError, match="continuous only"):
        likelihood_ratio_test(np.arange(1, 100), "lognormal", discrete=True)
    with pytest.raises(ValueError, match="n_boot must be an integer"):
        power_law_pvalue(x, n_boot=0)


def test_discrete_sampler_counts_draws_beyond_its_largest_value():
    # density exponent 1.002: P(X > 1e300) = zeta(a, 1e300 + 1) / zeta(a, 1) ~ 0.25, so ~250 of 1000 draws lie
    # beyond what float64 holds as a sample; they are set to 1e300 and counted in a warning (they were capped
    # silently). The count is Binomial(1000, p): within 6 standard deviations of 1000 p
    a = 1.002
    p = special.zeta(a, 1e300 + 1.0) / special.zeta(a, 1.0)
    with pytest.warns(UserWarning, match=r"(\d+) of 1000 draws exceed 1e\+300") as rec:
        draws = gof._sample_discrete(a, 1.0, None, 1000, np.random.default_rng(2))
    count = int(re.search(r"(\d+) of 1000", str(rec[0].message)).group(1))
    assert abs(count - 1000 * p) < 6 * np.sqrt(1000 * p * (1 - p))
    assert count == int(np.sum(draws == 1e300)) and draws.max() == 1e300
    small = draws[draws < 1e300]
    assert np.all(small == np.floor(small)) and small.min() >= 1.0


def test_gof_checks_use_the_shared_vocabulary():
    x = np.random.default_rng(0).random(300) ** (-1 / 1.5)
    with pytest.raises(TypeError, match="rng must be None, an integer seed"):
        power_law_pvalue(x, n_boot=2, rng="seed")
    with pytest.raises(ValueError, match=r"xmin must be None or a finite real number > 0; got -1.0"):
        power_law_pvalue(x, xmin=-1.0, n_boot=2)
    with pytest.raises(TypeError, match="discrete must be True or False"):
        likelihood_ratio_test(x, "exponential", discrete="yes")
