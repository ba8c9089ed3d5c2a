"""Tests for the moments (own double bootstrap), Pickands (own k rule) and kernel methods as wired into
sparsity.fit_tail: the TailFit they return, their intervals, their options and seeded known-alpha samples."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special

from sparsity import synthetic
from sparsity.tails import METHODS, TailFit, fit_tail
from sparsity.tails._kernel import kernel_curve, kernel_variance
from sparsity.tails._magnitudes import data_seed
from sparsity.tails._moments_dbs import pickands_se

NEW = ("moments", "pickands", "kernel")
RULES = {"moments": "moments_dbs", "pickands": "pickands_bootstrap", "kernel": "kernel_dbs"}


def _pareto(n: int, alpha: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random(n) ** (-1.0 / alpha)


def _gamma_se(method: str, gamma: float, k: int) -> float:
    """Asymptotic standard error of gamma_hat at the true gamma (the formulas of the method bodies)."""
    if method == "moments":
        return math.sqrt((1 + gamma**2) / k)
    if method == "pickands":
        return pickands_se(gamma, k)
    return math.sqrt(kernel_variance(gamma) / k)


def test_kernel_is_a_method():
    assert "kernel" in METHODS and len(set(METHODS)) == len(METHODS)


@pytest.mark.parametrize("method", NEW)
def test_own_k_rule_and_the_typed_fit(method):
    x = _pareto(3000, 1.5, 0)
    f = fit_tail(x, method, rng=1, n_boot=30)
    assert isinstance(f, TailFit) and f.method == method
    assert f.details["k_rule"] == RULES[method] and f.details["k_double_bootstrap"]
    k = f.details["k"]
    assert f.n_tail == k and f.xmin == np.sort(x)[::-1][k] and f.n == x.size
    assert f.alpha == pytest.approx(1 / f.details["gamma"], rel=1e-12) and f.alpha_density == f.alpha + 1.0
    # delta method: se(alpha) = se(gamma) / gamma^2; normal interval alpha +- z se
    assert f.alpha_se == pytest.approx(f.details["gamma_se"] / f.details["gamma"] ** 2, rel=1e-12)
    z = special.ndtri(0.975)
    assert f.alpha_ci == pytest.approx((f.alpha - z * f.alpha_se, f.alpha + z * f.alpha_se), rel=1e-12)
    assert 0 <= f.ks_distance <= 1
    # the same seed gives the same fit; the rule is the method's own, not Hill's double bootstrap
    assert fit_tail(x, method, rng=1, n_boot=30) == f
    if method != "kernel":
        assert k != fit_tail(x, "hill", rng=1, n_boot=30).details["k"]


def test_given_k_is_used_as_is():
    x = _pareto(2000, 1.2, 3)
    k = 150
    f = fit_tail(x, "kernel", k=k)
    assert f.details["k_rule"] == "given" and f.n_tail == k and f.details["h"] == k / x.size
    assert f.details["gamma"] == kernel_curve(np.sort(x), np.array([k / x.size]))[0]
    for method in ("moments", "pickands"):
        g = fit_tail(x, method, k=k)
        assert g.details["k_rule"] == "given" and g.n_tail == k


# ------------------------------------------------------------------------------------- known-alpha samples
# Tolerance: 4 asymptotic standard errors of gamma_hat at the true gamma and the chosen k, inflated for the
# bias at the MSE-optimal k of laws with a second-order term (bias^2 / variance = 1 / (2 |rho|); Student-t with
# df nu has rho = -2 / nu, Pareto has no bias): sqrt(1 + 1 / (2 |rho|)).
@pytest.mark.parametrize("method", NEW)
@pytest.mark.parametrize(("law", "alpha"), [("pareto", 1.5), ("pareto", 3.0), ("student_t", 3.0)])
def test_known_alpha_through_fit_tail(method, law, alpha):
    rng = np.random.default_rng(21)
    x = synthetic.pareto(alpha, 5000, rng=rng) if law == "pareto" else synthetic.student_t(alpha, 5000, rng=rng)
    f = fit_tail(x, method, rng=2, n_boot=30)
    inflation = 1.0 if law == "pareto" else math.sqrt(1 + alpha / 4)
    tol = 4 * inflation * _gamma_se(method, 1 / alpha, f.n_tail)
    assert abs(f.details["gamma"] - 1 / alpha) < tol, f


@pytest.mark.parametrize("method", NEW)
def test_normal_interval_coverage_on_pareto(method):
    # 20 seeds, 95 % intervals: misses ~ Binomial(20, 0.05) when the coverage is nominal; P(misses > 4) = 0.0026
    misses = 0
    for seed in range(20):
        f = fit_tail(_pareto(2000, 1.5, 100 + seed), method, rng=seed, n_boot=30)
        misses += not (f.alpha_ci[0] <= 1.5 <= f.alpha_ci[1])
    assert misses <= 4


def test_kernel_bootstrap_interval_keeps_the_bandwidth():
    x = _pareto(2000, 1.5, 7)
    f = fit_tail(x, "kernel", rng=3, n_boot=40, ci="bootstrap")
    g = fit_tail(x, "kernel", rng=3, n_boot=40, ci="bootstrap")
    assert f.alpha_ci == g.alpha_ci and f.details["n_boot_used"] == 40
    lo, hi = f.alpha_ci
    # a percentile interval of the same statistic at the same k: it brackets the estimate within a few se
    assert lo < hi and lo - 3 * f.alpha_se < f.alpha < hi + 3 * f.alpha_se


# --------------------------------------------------------------------------------------------- options


@pytest.mark.parametrize("method", NEW)
def test_options_are_validated(method):
    x = _pareto(200, 1.5, 0)
    with pytest.raises(TypeError, match="k must be None or an integer"):
        fit_tail(x, method, k=5.0)
    with pytest.raises(ValueError, match="k must be None or an integer >= 1; got 0"):
        fit_tail(x, method, k=0)
    kmax = 50 if method == "pickands" else 199
    with pytest.raises(ValueError, match=rf"k must be an integer in \[\d, {kmax}\]; got {kmax + 1}"):
        fit_tail(x, method, k=kmax + 1)
    with pytest.raises(ValueError, match="n_boot must be an integer >= 2; got 1"):
        fit_tail(x, method, n_boot=1)
    with pytest.raises(TypeError, match="n_boot must be an integer"):
        fit_tail(x, method, n_boot=10.0)
    with pytest.raises(TypeError, match="rng must be None, an integer seed"):
        fit_tail(x, method, rng="seed")
    with pytest.raises(ValueError, match="rng must be None, an integer seed >= 0"):
        fit_tail(x, method, rng=-1)
    with pytest.raises(ValueError, match="apply to method='csn' only"):
        fit_tail(x, method, xmin=1.0)


def test_kernel_needs_two_spacings():
    with pytest.raises(ValueError, match=r"k must be an integer in \[2, 199\]; got 1"):
        fit_tail(_pareto(200, 1.5, 0), "kernel", k=1)


@pytest.mark.parametrize("method", NEW)
@pytest.mark.parametrize("n", [10, 30, 120])
def test_small_samples_fall_back_without_error(method, n):
    # too small to resample: k = max(sqrt(n), 10) (capped at n - 1, Pickands n // 4), like Hill's double bootstrap
    f = fit_tail(_pareto(n, 1.5, n), method, rng=0, n_boot=20)
    assert 1 <= f.n_tail <= (n // 4 if method == "pickands" else n - 1)
    assert math.isnan(f.alpha) or f.alpha > 0


@pytest.mark.parametrize("method", ("hill", *NEW))
def test_data_seed_makes_the_fit_a_function_of_the_data(method):
    # rng="data": the bootstrap seed is a hash of the sorted magnitudes, so a permuted, reshaped, sign-flipped
    # copy gives the identical fit, and no caller seed enters
    x = synthetic.student_t(3.0, 3000, rng=5)
    a = fit_tail(x, method, rng="data", n_boot=20)
    b = fit_tail(-x[::-1].reshape(30, 100), method, rng="data", n_boot=20)
    assert a == b
    y = x.copy()
    y[np.argmax(np.abs(y))] *= 1.0001  # other data, other seed
    assert data_seed(np.sort(np.abs(y))).entropy != data_seed(np.sort(np.abs(x))).entropy
    with pytest.raises(TypeError, match="or 'data'; got 'date'"):
        fit_tail(x, method, rng="date")
