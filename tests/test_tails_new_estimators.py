"""Tests for the kernel-type estimator (sparsity.tails._kernel), the moments estimator with its own double
bootstrap and Pickands with its bootstrap k (sparsity.tails._moments_dbs): closed forms, definitions, the
variance formula, and seeded known-alpha samples with tolerances from the asymptotic standard errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sparsity import synthetic
from sparsity.tails._kernel import KERNELS, kernel_curve, kernel_estimator, kernel_variance
from sparsity.tails._moments_dbs import (
    moments_curves,
    moments_dbs,
    pickands_k,
    pickands_se,
    pickands_with_k,
)


def _quantiles(n: int, alpha: float) -> np.ndarray:
    """Exact Pareto quantiles (i / (n + 1))**(-1/alpha), ascending."""
    return np.sort((np.arange(1, n + 1) / (n + 1.0)) ** (-1.0 / alpha))


@pytest.mark.parametrize("alpha", [0.5, 1.3, 4.0])
def test_pickands_exact_on_pareto_quantiles(alpha):
    # (k^-g - (2k)^-g) / ((2k)^-g - (4k)^-g) = 2^g exactly: Pickands returns gamma at every k
    x = _quantiles(4000, alpha)
    for k in (1, 7, 100, 1000):
        assert pickands_with_k(x, k=k, rng=np.random.default_rng(0)).details["gamma"] == pytest.approx(
            1 / alpha, rel=1e-9
        )


def test_moments_curves_match_definition():
    x = np.sort(np.random.default_rng(0).random(300) ** (-1 / 1.4))
    ld = np.log(x[::-1])
    ld -= ld[0]
    m1, m2, m3 = moments_curves(ld, 3)
    for k in (1, 2, 17, 150, 299):
        t = ld[:k] - ld[k]
        assert (m1[k - 1], m2[k - 1], m3[k - 1]) == pytest.approx((t.mean(), (t**2).mean(), (t**3).mean()), rel=1e-9)
    g = moments_dbs(x, k=50, rng=np.random.default_rng(0))
    t = ld[:50] - ld[50]
    a, b = t.mean(), (t**2).mean()
    gamma = g.details["gamma"]
    assert gamma == pytest.approx(a + 1 - 0.5 / (1 - a * a / b), rel=1e-12)
    assert g.details["gamma_se"] == pytest.approx(math.sqrt((1 + gamma**2) / 50)) and g.alpha == pytest.approx(
        1 / gamma
    )
    assert g.alpha_se == pytest.approx(g.details["gamma_se"] / gamma**2) and g.details["k_rule"] == "given"


@pytest.mark.parametrize("kernel", ["biweight", "triweight"])
def test_kernel_curve_matches_definition(kernel):
    x = np.sort(np.random.default_rng(1).random(500) ** (-1 / 0.9))
    n, a = x.size, 0.6
    d = np.log(x[::-1][:-1]) - np.log(x[::-1][1:])
    u = np.arange(1, n) / n
    c = KERNELS[kernel]
    for h in (0.013, 0.2, 0.5, 1.0):
        t = u / h
        inside = t < 1
        kh = sum(cm * t ** (2 * m) for m, cm in enumerate(c)) / h * inside
        dk = sum(cm * 2 * m * t ** (2 * m - 1) for m, cm in enumerate(c) if m) / h**2 * inside  # K_h'
        gpos = np.sum(u * kh * d)
        q1 = np.sum(u**a * kh * d)
        q2 = np.sum(((1 + a) * u**a * kh + u ** (1 + a) * dk) * d)
        ref = gpos - 1 + q2 / q1
        assert kernel_curve(x, np.array([h]), a=a, kernel=kernel)[0] == pytest.approx(ref, rel=1e-10)


def test_kernel_on_pareto_quantiles_converges():
    # deterministic error of the Riemann sums: the q_1 integrand t^(a-1) K is singular at 0, so the error is
    # O(k^-a) (a = 0.6); it must fall by about 10^0.6 ~ 4 per decade of k (we ask for a factor 3)
    errs = []
    for n in (10**3, 10**4, 10**5):
        errs.append(abs(kernel_curve(_quantiles(n, 1.5), np.array([0.5]))[0] - 1 / 1.5))
    assert errs[0] < 0.1 and errs[1] < errs[0] / 3 and errs[2] < errs[1] / 3


def test_kernel_variance_formula_against_monte_carlo():
    # k Var(gamma_hat) = V(gamma) at a fixed bandwidth on exact Pareto samples; the sample variance of R
    # replicates has relative sd sqrt(2 / (R - 1)) = 0.07 at R = 400: 4 sigma plus O(1/sqrt(k)) terms -> 0.3
    n, h, alpha, reps = 2000, 0.5, 1.25, 400
    rng = np.random.default_rng(5)
    est = [kernel_curve(np.sort(rng.random(n) ** (-1 / alpha)), np.array([h]))[0] for _ in range(reps)]
    k = n * h
    assert np.var(est, ddof=1) * k == pytest.approx(kernel_variance(1 / alpha), rel=0.3)
    # Hill is the uniform kernel with no q-correction: V = gamma^2 is the floor the biweight estimator pays for
    assert kernel_variance(0.8) > 0.8**2


def test_pickands_se_continuous_at_zero():
    assert pickands_se(1e-9, 100) == pytest.approx(pickands_se(1e-4, 100), rel=1e-3)


# ----------------------------------------------------------------------------------- known-alpha samples


def _sample(law: str, alpha: float, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if law == "pareto":
        x = synthetic.pareto(alpha, n, rng=rng)
    elif law == "student_t":
        x = synthetic.student_t(alpha, n, rng=rng)
    else:
        x = synthetic.stable(alpha, n, rng=rng)
    return np.sort(np.abs(x))


# Second-order parameter rho of each law (survival 1 - F = c x^-alpha (1 + d x^-beta), rho = -beta / alpha):
# Pareto has no second-order term (no bias); Student-t: beta = 2, rho = -2 / alpha; stable: beta = alpha, rho = -1.
# At the MSE-optimal k, bias^2 / variance = 1 / (2 |rho|), so the root-MSE is se * sqrt(1 + 1 / (2 |rho|)).
def _inflation(law: str, alpha: float) -> float:
    if law == "pareto":
        return 1.0
    rho = -2.0 / alpha if law == "student_t" else -1.0
    return math.sqrt(1.0 + 1.0 / (2.0 * abs(rho)))


# Two fast representatives; the full sweep (12 cases per estimator, ~1 s each) is marked slow.
_FAST = {("pareto", 1.0), ("stable", 1.5)}
CASES = [
    pytest.param(law, a, marks=() if (law, a) in _FAST else pytest.mark.slow)
    for law in ("pareto", "student_t", "stable")
    for a in (0.5, 1.0, 1.5, 1.9)
]


@pytest.mark.parametrize(("law", "alpha"), CASES)
def test_moments_dbs_known_alpha(law, alpha):
    x = _sample(law, alpha, 10_000, 11)
    e = moments_dbs(x, rng=np.random.default_rng(0))
    se = math.sqrt((1 + alpha**-2) / e.n_tail)  # at the true gamma
    assert abs(e.details["gamma"] - 1 / alpha) < 4 * _inflation(law, alpha) * se, e


@pytest.mark.parametrize(("law", "alpha"), CASES)
def test_pickands_bootstrap_k_known_alpha(law, alpha):
    x = _sample(law, alpha, 10_000, 12)
    e = pickands_with_k(x, rng=np.random.default_rng(0))
    assert 1 <= e.n_tail <= x.size // 4
    assert abs(e.details["gamma"] - 1 / alpha) < 4 * _inflation(law, alpha) * pickands_se(1 / alpha, e.n_tail), e


@pytest.mark.parametrize(("law", "alpha"), CASES)
def test_kernel_dbs_known_alpha(law, alpha):
    x = _sample(law, alpha, 10_000, 13)
    e = kernel_estimator(x, rng=np.random.default_rng(0))
    se = math.sqrt(kernel_variance(1 / alpha) / e.n_tail)
    assert abs(e.details["gamma"] - 1 / alpha) < 4 * _inflation(law, alpha) * se, e


def test_bootstrap_k_is_seeded():
    x = _sample("student_t", 1.2, 3000, 0)
    assert pickands_k(x, rng=np.random.default_rng(4)) == pickands_k(x, rng=np.random.default_rng(4))
    a = kernel_estimator(x, rng=np.random.default_rng(4))
    assert a == kernel_estimator(x, rng=np.random.default_rng(4))
