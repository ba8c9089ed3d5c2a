"""The moments estimator with its own double-bootstrap k, and Pickands with a bootstrap k rule of its own.

Pure functions over **ascending**-sorted, positive float64 magnitudes ``x`` (as the other private estimators of
:mod:`sparsity.tails`); they return the :class:`~sparsity.tails._estimate.TailEstimate` of every method body
(``details``: ``k``, ``gamma``, ``gamma_se``, ``k_rule``). Notation: ``X_(1) >= ... >= X_(n)`` the
descending order statistics, ``M_j(k) = (1/k) sum_{i<=k} (log X_(i) - log X_(k+1))**j``.

- Moments (Dekkers, Einmahl & de Haan 1989): ``gamma = M_1 + 1 - (1/2) / (1 - M_1**2 / M_2)``; for gamma > 0
  ``sqrt(k) (gamma_hat - gamma) -> N(0, 1 + gamma**2)``, so ``se(gamma) = sqrt((1 + gamma**2) / k)``.
- Its k: the double bootstrap of Draisma, de Haan, Peng & Pereira (1999) as implemented by Voitalov et al.
  (2019): the auxiliary statistic ``gamma_2 - gamma_3`` with
  ``gamma_3 = sqrt(M_2 / 2) + 1 - (2/3) / (1 - M_1 M_2 / M_3)``, whose bootstrap mean square is minimised at
  ``k1`` (resamples of size n1) and ``k2`` (size ``n2 = n1**2 / n``); ``k = k1**2 / k2 * c(gamma, rho)`` with the
  ratio ``c`` of the asymptotic constants of the estimator and the auxiliary statistic,
  ``rho = log k1 / (2 log k1 - 2 log n1)`` and gamma the moments estimate at ``k = sqrt(n)``.
  Resample sizes as in that code: ``n1 = n**(1/2 (1 + log(t n) / log n))`` (about ``sqrt(t) n``),
  ``n2 = n1**2 / n`` (about ``t n``), ``t = 1/2``.
- Pickands (1975): ``gamma = log((X_(k) - X_(2k)) / (X_(2k) - X_(4k))) / log 2`` with asymptotic variance
  ``gamma**2 (2**(2 gamma + 1) + 1) / (2 (2**gamma - 1) log 2)**2 / k``. Its k (our rule; the reference code
  has none): the subsample-bootstrap MSE of Pickands' own estimator (Hall 1990) around a pilot (the moments
  estimate at its double-bootstrap k), minimised at ``k1`` and ``k2`` on resamples of sizes n1 and n2 as above,
  then ``k = k1**2 / k2``: since the MSE-optimal ``k(m) = C m**(-2 rho / (1 - 2 rho))`` is a power of m,
  ``k(n1)**2 / k(n2) = k(n)`` with no constant to estimate (n2 = n1**2 / n).

The minimisers are searched over ``k <= n_i / 4`` (``eps_stop = 0.25``; the reference code searches up to
``0.99 n_i``): with the wider range the auxiliary statistic's spurious zeros in the body of the sample won on
stable samples (alpha = 1.5, n = 1e4: k = 9999 and gamma = -11 on 2 of 8 seeds; with 0.25 all 8 within 0.15 of
2/3). Consistency of the double bootstrap needs k / n -> 0 anyway.

When the bootstrap minimisers contradict the asymptotics (``k2 >= k1``) the rule falls back to
``k1 (n / n1)**(2/3)`` (second-order parameter rho = -1), as :func:`sparsity.tails._estimators.double_bootstrap_k`
does. Every k is clipped to ``[10, n - 1]`` (Pickands: ``[1, n // 4]``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from sparsity._checks import check_int
from sparsity.tails._estimate import TailEstimate
from sparsity.tails._estimators import estimate_at_k

__all__ = [
    "boot_sizes",
    "moments_curves",
    "moments_dbs",
    "moments_dbs_k",
    "pickands_k",
    "pickands_se",
    "pickands_with_k",
]

_K_FLOOR = 10
_BATCH = 1 << 20
"""Bootstrap resamples are processed in batches of about this many values."""
_MIN_BOOT = 12
"""Smallest second resample size ``n2`` for a bootstrap k rule; below it (n < ~25) ``k = max(sqrt(n), 10)``."""


def _small_sample_k(n: int, kmax: int) -> int:
    """The k of :func:`sparsity.tails._estimators.double_bootstrap_k` when the sample is too small to resample."""
    return max(1, min(max(math.isqrt(n), _K_FLOOR), kmax))


def boot_sizes(n: int, t: float = 0.5) -> tuple[int, int]:
    """Resample sizes of the double bootstrap of Voitalov et al.

    ``n1 = n**(1/2 (1 + log(int(t n)) / log n))`` and ``n2 = int(n1**2 / n)``.
    """
    n1 = int(n ** (0.5 * (1.0 + math.log(int(t * n)) / math.log(n))))
    return n1, int(n1 * n1 / n)


def moments_curves(ld: np.ndarray, order: int = 3) -> tuple[np.ndarray, ...]:
    """``M_1 .. M_order`` for ``k = 1 .. m - 1`` along the last axis of descending logs ``ld`` (shape (..., m)).

    ``ld`` should be shifted by its first (largest) value along the last axis, which keeps the binomial
    expansion ``M_j = sum_i C(j, i) S_i / k (-L_{k+1})**(j - i)`` free of large cancellations.
    """
    m = ld.shape[-1]
    k = np.arange(1, m, dtype=np.float64)
    head, nxt = ld[..., :-1], ld[..., 1:]
    sums = [np.cumsum(head**i, axis=-1) / k for i in range(1, order + 1)]  # S_i / k
    out = []
    for j in range(1, order + 1):
        mj = (-nxt) ** j
        for i in range(1, j + 1):
            mj = mj + math.comb(j, i) * sums[i - 1] * (-nxt) ** (j - i)
        out.append(mj)
    return tuple(out)


def _desc_logs(log_asc: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Descending logs of each resample (rows of indices into the ascending sample), shifted by the largest."""
    idx.sort(axis=1)
    ld = log_asc[idx[:, ::-1]]
    ld -= ld[:, :1]
    return ld


def _moments_aux(ld: np.ndarray) -> np.ndarray:
    """``(gamma_2 - gamma_3)**2`` per row and k (NaN where M_2, M_3 or a denominator vanishes)."""
    m1, m2, m3 = moments_curves(ld, 3)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = 1.0 - m1 * m1 / m2
        r3 = 1.0 - m1 * m2 / m3
        bad = (m2 <= 0) | (m3 == 0) | (np.abs(r2) < 1e-10) | (np.abs(r3) < 1e-10)
        g2 = m1 + 1.0 - 0.5 / r2
        g3 = np.sqrt(np.maximum(0.5 * m2, 0.0)) + 1.0 - (2.0 / 3.0) / r3
        d = (g2 - g3) ** 2
    d[bad] = np.nan
    return d


def _boot_mean_curve(
    x: np.ndarray, size: int, n_boot: int, rng: np.random.Generator, stat: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """Mean over ``n_boot`` resamples of size ``size`` of ``stat(descending shifted logs)`` (NaN ignored)."""
    log_asc = np.log(x)
    total = np.zeros(size - 1)
    count = np.zeros(size - 1)
    rows = max(1, _BATCH // size)
    for start in range(0, n_boot, rows):
        b = min(rows, n_boot - start)
        vals = stat(_desc_logs(log_asc, rng.integers(0, x.size, (b, size))))
        ok = np.isfinite(vals)
        total[: vals.shape[1]] += np.where(ok, vals, 0.0).sum(axis=0)
        count[: vals.shape[1]] += ok.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _argmin_k(curve: np.ndarray, size: int, eps_stop: float, k_lo: int = 1) -> int:
    """``1 + argmin`` of a curve indexed by ``k - 1``, over ``k_lo <= k <= eps_stop * size`` (NaN skipped)."""
    hi = max(k_lo + 1, min(curve.size, int(eps_stop * size)))
    seg = curve[k_lo - 1 : hi]
    if not np.any(np.isfinite(seg)):
        raise ValueError(f"the bootstrap criterion is undefined for every k at resample size {size}")
    return int(np.nanargmin(seg)) + k_lo


def _moments_gamma(ld: np.ndarray, k: int) -> float:
    t = ld[:k] - ld[k]
    m1, m2 = float(np.mean(t)), float(np.mean(t * t))
    if m2 <= 0 or m1 * m1 >= m2:
        raise ValueError(f"moments needs top-k log-spacings with positive variance; with k={k} they are constant")
    return m1 + 1.0 - 0.5 / (1.0 - m1 * m1 / m2)


def _prefactor(xi: float, rho: float) -> float:
    """Ratio ``(V^2 bbar^2 / (Vbar^2 b^2))**(1 / (1 - 2 rho))`` of the double-bootstrap k's.

    Draisma et al. (1999) constants of the moments estimator (V, b) and of the auxiliary statistic
    (Vbar, bbar), as in Voitalov et al.'s code.
    """
    if xi >= 0:
        v2, vb2 = 1.0 + xi * xi, 0.25 * (1.0 + xi * xi)
    else:
        v2 = (1 - xi) ** 2 * (1 - 2 * xi) * (6 * xi * xi - xi + 1) / ((1 - 3 * xi) * (1 - 4 * xi))
        num = 1 - 8 * xi + 48 * xi**2 - 154 * xi**3 + 263 * xi**4 - 222 * xi**5 + 72 * xi**6
        vb2 = 0.25 * (1 - xi) ** 2 * num / ((1 - 2 * xi) * (1 - 3 * xi) * (1 - 4 * xi) * (1 - 5 * xi) * (1 - 6 * xi))
    if xi < rho:
        b = (1 - xi) * (1 - 2 * xi) / ((1 - rho - xi) * (1 - rho - 2 * xi))
        bb = -0.5 * rho * (1 - xi) ** 2 / ((1 - xi - rho) * (1 - 2 * xi - rho) * (1 - 3 * xi - rho))
    elif xi < 0:
        b = 1.0 / (1 - xi)
        bb = (1 - 2 * xi - math.sqrt((1 - xi) * (1 - 2 * xi))) / ((1 - xi) * (1 - 2 * xi))
    else:
        b = xi / (rho * (1 - rho)) + 1.0 / (1 - rho) ** 2
        bb = -(rho + xi * (1 - rho)) / (2 * (1 - rho) ** 3)
    return (v2 * bb * bb / (vb2 * b * b)) ** (1.0 / (1.0 - 2.0 * rho))


def moments_dbs_k(
    x: np.ndarray, *, n_boot: int = 100, rng: np.random.Generator, t: float = 0.5, eps_stop: float = 0.25
) -> int:
    """Draisma et al. (1999) double-bootstrap k of the moments estimator (module docstring), in ``[10, n - 1]``.

    ``x``: ascending, positive float64, at least 16 values.
    """
    n = x.size
    n1, n2 = boot_sizes(n, t)
    if n2 < _MIN_BOOT:
        return _small_sample_k(n, n - 1)
    d1 = _boot_mean_curve(x, n1, n_boot, rng, _moments_aux)
    d2 = _boot_mean_curve(x, n2, n_boot, rng, _moments_aux)
    k1, k2 = _argmin_k(d1, n1, eps_stop, 2), _argmin_k(d2, n2, eps_stop, 2)
    if k2 >= k1:
        k = k1 * (n / n1) ** (2.0 / 3.0)
    else:
        ld = np.log(x[::-1])
        xi_n = _moments_gamma(ld - ld[0], max(math.isqrt(n), 2))
        rho = math.log(k1) / (2.0 * math.log(k1) - 2.0 * math.log(n1))
        k = k1 * k1 / k2 * _prefactor(xi_n, rho)
    return int(min(max(round(k), _K_FLOOR), n - 1)) if math.isfinite(k) else min(_K_FLOOR, n - 1)


def moments_dbs(x: np.ndarray, *, k: int | None = None, n_boot: int = 100, rng: np.random.Generator) -> TailEstimate:
    """Moments estimator at ``k`` (default: its own double-bootstrap k, :func:`moments_dbs_k`).

    ``se_gamma = sqrt((1 + gamma**2) / k)`` (the gamma > 0 asymptotic variance of Dekkers et al.).
    """
    if k is None:
        k, rule = moments_dbs_k(x, n_boot=n_boot, rng=rng), "moments_dbs"
    else:
        k, rule = check_int(k, "k", low=1, high=x.size - 1), "given"
    ld = np.log(x[::-1])
    t = ld[:k] - ld[k]
    m1, m2 = float(np.mean(t)), float(np.mean(t * t))
    if m2 <= 0 or m1 * m1 >= m2:
        raise ValueError(
            f"moments needs top-k log-spacings with positive variance; with k={k} they are constant "
            f"(M1={m1!r}, M2={m2!r}): choose another k"
        )
    gamma = m1 + 1.0 - 0.5 / (1.0 - m1 * m1 / m2)
    return estimate_at_k(x, k, gamma, math.sqrt((1.0 + gamma * gamma) / k), rule)


def _pickands_curve(d: np.ndarray) -> np.ndarray:
    """Pickands gamma for ``k = 1 .. m // 4`` along the last axis of descending values ``d``."""
    kk = np.arange(1, d.shape[-1] // 4 + 1)
    a, b, c = d[..., kk - 1], d[..., 2 * kk - 1], d[..., 4 * kk - 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log((a - b) / (b - c)) / math.log(2.0)


def pickands_se(gamma: float, k: int) -> float:
    """Asymptotic standard error of Pickands' gamma (Dekkers & de Haan 1989); gamma = 0 by continuity."""
    g = gamma
    if abs(g) < 1e-8:
        var = 3.0 / (4.0 * math.log(2.0) ** 4)  # limit of g^2 (2^(2g+1) + 1) / (2 (2^g - 1) log 2)^2 at g = 0
    else:
        var = g * g * (2 ** (2 * g + 1) + 1) / (2 * (2**g - 1) * math.log(2.0)) ** 2
    return math.sqrt(var / k)


def pickands_k(
    x: np.ndarray, *, n_boot: int = 100, rng: np.random.Generator, t: float = 0.5, eps_stop: float = 0.25
) -> int:
    """Bootstrap k of Pickands' estimator (module docstring), in ``[1, n // 4]``."""
    n = x.size
    n1, n2 = boot_sizes(n, t)
    if n2 < 4 * _MIN_BOOT:
        return _small_sample_k(n, n // 4)
    pilot = moments_dbs(x, n_boot=n_boot, rng=rng).details["gamma"]

    def sq_err(ld: np.ndarray) -> np.ndarray:
        return (_pickands_curve(np.exp(ld)) - pilot) ** 2

    k1 = _argmin_k(_boot_mean_curve(x, n1, n_boot, rng, sq_err), n1 // 4, eps_stop)
    k2 = _argmin_k(_boot_mean_curve(x, n2, n_boot, rng, sq_err), n2 // 4, eps_stop)
    k = k1 * k1 / k2 if k2 < k1 else k1 * (n / n1) ** (2.0 / 3.0)
    return int(min(max(round(k), 1), n // 4))


def pickands_with_k(
    x: np.ndarray, *, k: int | None = None, n_boot: int = 100, rng: np.random.Generator
) -> TailEstimate:
    """Pickands' estimator at ``k`` (default :func:`pickands_k`).

    Needs ``4 k <= n`` and no ties among ``X_(k) > X_(2k) > X_(4k)``.
    """
    if k is None:
        k, rule = pickands_k(x, n_boot=n_boot, rng=rng), "pickands_bootstrap"
    else:
        k, rule = check_int(k, "k", low=1, high=x.size // 4), "given"  # 4k <= n
    d = x[::-1]
    a, b, c = d[k - 1], d[2 * k - 1], d[4 * k - 1]
    if not a > b > c:
        raise ValueError(
            f"pickands needs X_(k) > X_(2k) > X_(4k); with k={k} they are {a!r}, {b!r}, {c!r} (ties): choose another k"
        )
    gamma = math.log((a - b) / (b - c)) / math.log(2.0)
    return estimate_at_k(x, k, gamma, pickands_se(gamma, k), rule)
