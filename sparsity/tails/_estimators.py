"""Order-statistic tail estimators: Hill (with the double bootstrap), rank-size, stable; the shared result builder.

Private bodies of :func:`sparsity.tails._fit.fit_tail`. Inputs are validated, ascending, positive float64
magnitudes. Every estimate is of the extreme-value index ``gamma = 1 / alpha``; ``alpha`` is the survival
tail index, P(X > t) ~ t**(-alpha), and ``alpha_density = alpha + 1``.

Notation: ``X_(1) >= X_(2) >= ... >= X_(n)`` (descending order statistics),
``M_j(k) = (1/k) * sum_{i<=k} (log X_(i) - log X_(k+1))**j``.

- Hill (1975): ``gamma = M_1(k)``; ``se(alpha) = alpha / sqrt(k)``.
- Rank-size: least squares of ``log i`` on ``log X_(i)``, ``i <= k``; slope ``-alpha``. Biased in small samples
  (Gabaix & Ibragimov 2011); ``se = alpha * sqrt(2 / k)``. Kept for comparison only.
- Stable: McCulloch (1986) quantile ratio ``nu = (x_.95 - x_.05) / (x_.75 - x_.25)`` of a symmetric sample, here
  from the magnitudes, ``nu = q_.9(|X|) / q_.5(|X|)``, inverted through the symmetric-stable table.

``alpha`` is NaN when an estimated ``gamma`` is <= 0 (no heavy tail at that ``k``).

Default ``k``: the Danielsson, de Haan, Peng & de Vries (2001) double bootstrap, which minimises the bootstrap
estimate of the asymptotic MSE of Hill's estimator; rank-size uses the same ``k``. The moments and Pickands
estimators, with k rules of their own, are in :mod:`sparsity.tails._moments_dbs`; the kernel-type estimator in
:mod:`sparsity.tails._kernel`.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from sparsity._checks import check_int
from sparsity._threads import available_cpus
from sparsity.tails._estimate import TailEstimate

_K_FLOOR = 10
"""Smallest k the double bootstrap returns (below it every estimator is noise)."""

__all__ = ["double_bootstrap_k", "estimate_at_k", "hill", "ks_pareto", "ranksize", "stable"]


def _log_desc(x: np.ndarray) -> np.ndarray:
    """Log of the descending order statistics, shifted by the largest (values <= 0, small cancellation)."""
    lg = np.log(x[::-1])
    return lg - lg[0]


def _m1_m2(ld: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """M_1(k), M_2(k) for k = 1..n-1 from descending (shifted) logs ``ld`` (``k = arange(1, n)`` as float64).

    ``M_1 = s1 / k - nxt`` and ``M_2 = max(0, s2 / k - 2 nxt s1 / k + nxt^2)`` (``s1``, ``s2`` the running sums
    of ``ld`` and ``ld^2``, ``nxt`` the next value), evaluated in that order in place: 4 arrays, not 12.
    """
    head, nxt = ld[:-1], ld[1:]
    s1 = np.cumsum(head)
    m1 = s1 / k
    m1 -= nxt
    m2 = np.square(head)
    np.cumsum(m2, out=m2)
    m2 /= k
    tmp = np.multiply(nxt, 2.0)
    tmp *= s1
    tmp /= k
    m2 -= tmp
    np.multiply(nxt, nxt, out=tmp)
    m2 += tmp
    return m1, np.maximum(m2, 0.0, out=m2)


def ks_pareto(x: np.ndarray, xmin: float, alpha: float) -> float:
    """KS distance of the values above ``xmin`` to the Pareto(xmin, alpha) (left-continuous empirical CDF)."""
    tail = x[x > xmin]
    m = tail.size
    if m < 1 or not math.isfinite(alpha) or alpha <= 0:
        return math.nan
    new = np.r_[True, tail[1:] != tail[:-1]]
    starts = np.flatnonzero(new)
    F = -np.expm1(-alpha * np.log(tail[starts] / xmin))
    return float(np.max(np.abs(F - starts / m)))


def _aamse_curve(log_asc: np.ndarray, idx: np.ndarray, k: np.ndarray) -> np.ndarray:
    """(M_2(k) - 2 M_1(k)^2)^2 for k = 1..r-1 on the resample ``x[idx]``.

    ``log_asc = log(x)`` (x ascending), ``k = arange(1, r)`` as float64. The resample is put in descending
    order by sorting its indices (integers; the logarithms are taken once for the whole sample).
    """
    idx.sort()
    ld = log_asc[idx[::-1]]
    ld -= ld[0]
    m1, m2 = _m1_m2(ld, k)
    m1 *= m1
    m1 *= 2.0
    m2 -= m1
    return np.square(m2, out=m2)


_PARALLEL_BOOT_MIN = 1 << 14
"""Double-bootstrap resamples of at least this size are processed two at a time on threads."""


def double_bootstrap_k(x: np.ndarray, *, n_boot: int, rng: np.random.Generator, eps: float = 0.1) -> int:
    """Danielsson et al. (2001) double-bootstrap choice of the number of upper order statistics ``k``.

    With ``n1 = n**(1 - eps)`` and ``n2 = n1**2 / n``, ``k1`` and ``k2`` minimise the bootstrap mean of
    ``(M_2 - 2 M_1**2)**2`` over resamples of size ``n1`` and ``n2``; then
    ``k = k1**2 / k2 * ((log k1)**2 / (2 log n1 - log k1)**2) ** ((log n1 - log k1) / log n1)``.
    When the noisy minimisers give ``k2 >= k1`` (impossible in the asymptotics), ``k = k1 (n / n1)**(2/3)``
    (second-order parameter rho = -1). The result is clipped to ``[10, n - 1]``.

    ``x`` must be sorted ascending (positive): resamples are drawn as indices (the stream of
    ``rng.choice(x, size, replace=True)``) and put in order by sorting the indices.
    """
    n = x.size
    n1 = int(n ** (1.0 - eps))
    n2 = max(int(n1 * n1 / n), 3)
    if n1 <= n2 + 1 or n2 < 3:
        return min(max(int(math.sqrt(n)), _K_FLOOR), n - 1)
    q1 = np.zeros(n1 - 1)
    q2 = np.zeros(n2 - 1)
    log_asc = np.log(x)
    k1s, k2s = np.arange(1, n1, dtype=np.float64), np.arange(1, n2, dtype=np.float64)
    workers = 2 if n1 >= _PARALLEL_BOOT_MIN and available_cpus() > 1 else 1
    with ThreadPoolExecutor(max_workers=workers) as pool:
        in_flight: deque[tuple[Any, Any]] = deque()
        for b in range(n_boot):
            # indices drawn in order on this thread (the stream of rng.choice(x, size, replace=True)); the
            # curves are added in the same order, so the result does not depend on the threads
            i1, i2 = rng.integers(0, n, n1), rng.integers(0, n, n2)
            in_flight.append((pool.submit(_aamse_curve, log_asc, i1, k1s), pool.submit(_aamse_curve, log_asc, i2, k2s)))
            while in_flight and (len(in_flight) >= workers or b == n_boot - 1):
                f1, f2 = in_flight.popleft()
                q1 += f1.result()
                q2 += f2.result()
    k1 = int(np.argmin(q1)) + 1
    k2 = int(np.argmin(q2)) + 1
    if k1 > k2 > 1:
        l1, ln1 = math.log(k1), math.log(n1)
        k = (k1 * k1 / k2) * ((l1 * l1) / (2 * ln1 - l1) ** 2) ** ((ln1 - l1) / ln1)
    else:
        # k2 >= k1 contradicts k2 ~ k1 (n2/n1)^(2|rho|/(1+2|rho|)) < k1 (noise): scale k1 to n with rho = -1
        k = k1 * (n / n1) ** (2.0 / 3.0)
    return int(min(max(round(k), _K_FLOOR), n - 1))


def _choose_k(x: np.ndarray, k: int | None, n_boot: int, rng: np.random.Generator) -> tuple[int, str]:
    if k is None:
        return double_bootstrap_k(x, n_boot=n_boot, rng=rng), "hill_dbs"
    return check_int(k, "k", low=1, high=x.size - 1), "given"


def estimate_at_k(x: np.ndarray, k: int, gamma: float, se_gamma: float, k_rule: str) -> TailEstimate:
    """The :class:`TailEstimate` of an estimate ``gamma`` of ``1 / alpha`` from the top ``k`` order statistics.

    ``alpha = 1 / gamma`` and ``se(alpha) = se_gamma / gamma**2`` (delta method), both NaN when ``gamma <= 0``;
    ``xmin = X_(k+1)``, ``n_tail = k``, the KS distance of the values above ``xmin`` to Pareto(xmin, alpha).
    ``details``: ``k``, ``k_rule`` (``"given"`` or the automatic rule's name), ``k_double_bootstrap`` (whether
    an automatic rule chose ``k``), ``gamma`` and ``gamma_se``.
    """
    xmin = float(x[x.size - k - 1])
    ok = gamma > 0 and math.isfinite(gamma)
    alpha = 1.0 / gamma if ok else math.nan
    se = se_gamma / gamma**2 if ok else math.nan
    details = {"k": k, "k_rule": k_rule, "k_double_bootstrap": k_rule != "given", "gamma": gamma, "gamma_se": se_gamma}
    return TailEstimate(alpha, xmin, k, ks_pareto(x, xmin, alpha), se, details)


def hill(x: np.ndarray, *, k: int | None, n_boot: int, rng: np.random.Generator) -> TailEstimate:
    """Hill estimator on the top ``k`` order statistics."""
    k, rule = _choose_k(x, k, n_boot, rng)
    ld = _log_desc(x)
    gamma = float(np.mean(ld[:k]) - ld[k])
    if gamma <= 0:
        raise ValueError(f"hill needs distinct values among the top k+1; with k={k} they are all equal")
    return estimate_at_k(x, k, gamma, gamma / math.sqrt(k), rule)


def ranksize(x: np.ndarray, *, k: int | None, n_boot: int, rng: np.random.Generator) -> TailEstimate:
    """Least-squares slope of log rank on log size over the top ``k`` values (biased; for comparison)."""
    k, rule = _choose_k(x, k, n_boot, rng)
    top = np.log(x[::-1][:k])
    lr = np.log(np.arange(1, k + 1, dtype=np.float64))
    tc = top - top.mean()
    denom = float(np.dot(tc, tc))
    if denom == 0:
        raise ValueError(f"ranksize needs distinct values among the top k={k}; they are all equal")
    alpha = -float(np.dot(tc, lr - lr.mean())) / denom
    gamma = 1.0 / alpha if alpha > 0 else -math.inf
    res = estimate_at_k(x, k, gamma, 0.0, rule)
    return res._replace(alpha=alpha, alpha_se=alpha * math.sqrt(2.0 / k), ks_distance=ks_pareto(x, res.xmin, alpha))


# Symmetric alpha-stable quantile ratio nu(alpha) = q_.95 / q_.75 (McCulloch 1986, beta = 0 column), computed
# with scipy.stats.levy_stable.ppf([0.75, 0.95], alpha, 0.0) (checked in tests/test_tails_estimators.py).
_STABLE_ALPHA = np.round(np.arange(0.4, 2.0001, 0.05), 2)
_STABLE_NU = np.array([
    115.036596, 68.039584, 44.635118, 31.565569, 23.612189, 18.439617, 14.893767, 12.357522, 10.479083,
    9.047016, 7.928492, 7.036866, 6.313752, 5.718676, 5.222869, 4.805423, 4.450851, 4.147494, 3.88647,
    3.660946, 3.465625, 3.296352, 3.149795, 3.02317, 2.914029, 2.820128, 2.739382, 2.669882, 2.609914,
    2.557985, 2.512818, 2.473342, 2.438664,
])  # fmt: skip


@functools.cache
def _alpha_of_lognu() -> Any:
    """The stable index alpha as a smooth monotone function of log(nu), built on first use.

    ``scipy.interpolate`` costs ~0.1 s to import, which ``import sparsity`` need not pay. log nu decreases in
    alpha, so the table is reversed for an increasing abscissa.
    """
    from scipy.interpolate import PchipInterpolator

    return PchipInterpolator(np.log(_STABLE_NU[::-1]), _STABLE_ALPHA[::-1])


def stable(x: np.ndarray, *, k: int | None, n_boot: int, rng: np.random.Generator) -> TailEstimate:
    """McCulloch quantile estimator of the stable index from the magnitudes (symmetric law assumed).

    ``se`` by the delta method: sample quantiles have covariance ``p_i (1 - p_j) / (n f_i f_j)`` (p_i <= p_j)
    with the densities ``f`` estimated by Siddiqui's difference quotient of sample quantiles.
    """
    n = x.size
    p = np.array([0.5, 0.9])
    q = np.quantile(x, p)
    lnu = math.log(q[1] / q[0])
    lo, hi = math.log(_STABLE_NU[-1]), math.log(_STABLE_NU[0])
    # nu below the Gaussian value is sampling noise at the alpha = 2 boundary of the stable family: alpha = 2.
    # nu above the table (alpha < 0.4) is outside McCulloch's range: warn and clip.
    clipped = lnu > hi
    if clipped:
        warnings.warn(
            f"stable: quantile ratio nu = {math.exp(lnu):.4g} is above McCulloch's symmetric table "
            f"(max {_STABLE_NU[0]:.4g}, alpha = 0.4); alpha is clipped to 0.4",
            UserWarning,
            stacklevel=4,
        )
    lc = min(max(lnu, lo), hi)
    alpha_of_lognu = _alpha_of_lognu()
    alpha = float(alpha_of_lognu(lc))
    h = min(0.05, 0.5 * n ** (-1.0 / 5.0))
    f = 2 * h / (np.quantile(x, p + h) - np.quantile(x, p - h))
    g = np.array([-1.0 / q[0], 1.0 / q[1]])  # gradient of log nu wrt (q_.5, q_.9)
    cov = np.array([[p[0] * (1 - p[0]), p[0] * (1 - p[1])], [p[0] * (1 - p[1]), p[1] * (1 - p[1])]]) / (
        n * np.outer(f, f)
    )
    se_lnu = math.sqrt(float(g @ cov @ g))
    # slope d alpha / d log nu by a central difference inside the table (one-sided at its ends)
    eps = 1e-4
    a_hi, a_lo = min(lc + eps, hi), max(lc - eps, lo)
    dadl = (float(alpha_of_lognu(a_hi)) - float(alpha_of_lognu(a_lo))) / (a_hi - a_lo)
    se = abs(dadl) * se_lnu if not clipped else math.nan
    return TailEstimate(alpha, math.nan, n, math.nan, se, {"nu": math.exp(lnu), "clipped_to_table": clipped})
