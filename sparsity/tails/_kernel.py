"""Kernel-type tail-index estimator of Groeneboom, Lopuhaa & de Wolf (2003) with its double-bootstrap bandwidth.

Pure functions over **ascending**-sorted, positive float64 magnitudes ``x``. With ``X_(1) >= ... >= X_(n)``,
log-spacings ``d_i = log X_(i) - log X_(i+1)``, ``u_i = i / n`` and a kernel K on [0, 1] (``K_h(u) = K(u/h)/h``):

.. math::
   \\hat\\gamma(h) = \\hat\\gamma^{pos}(h) - 1 + \\frac{q_2(h)}{q_1(h)},\\quad
   \\hat\\gamma^{pos} = \\sum_i u_i K_h(u_i) d_i,\\quad q_1 = \\sum_i u_i^a K_h(u_i) d_i,\\quad
   q_2 = \\sum_i \\frac{d}{du}\\big[u^{1+a} K_h(u)\\big]_{u_i} d_i

(``a > 1/2``, default 0.6; ``gamma_pos`` is a kernel-smoothed Hill estimator, ``q_2 / q_1 -> 1`` for gamma > 0
and corrects it for gamma <= 0). The log-spacings are used in q_1, q_2 as in the reference code of Voitalov,
van der Hoorn, van der Hofstad & Krioukov (2019). Polynomial kernels make every sum a combination of cumulative
sums ``T_q = sum_{i < n h} u_i**q d_i``: O(n) for any number of bandwidths.

Bandwidth: the double bootstrap of that reference code. The auxiliary statistic is the difference of the
biweight (``15/8 (1 - u^2)^2``) and triweight (``35/16 (1 - u^2)^3``) estimates; its bootstrap mean square is
minimised over a log grid of h at ``h1`` (resamples of size n1) and ``h2`` (size ``n2 = n1**2 / n``); then
``h = h1**2 / h2 * A`` with ``A = (143 (log n1 + log h1)**2 / (3 (log n1 - 13 log h1)**2))**(-log h1 / log n1)``,
capped at 1. The minimisers are searched over ``h <= 0.25`` (the reference code: 0.99; see
:mod:`sparsity.tails._moments_dbs` for why). Resample sizes: :func:`sparsity.tails._moments_dbs.boot_sizes`.
The estimate is the biweight estimator at that h, with ``k = floor(n h)``.

Standard error (derived here for gamma > 0 from the Renyi representation ``d_i = gamma E_i / i`` of Pareto
spacings and linearising q_2 / q_1): ``Var(gamma_hat) = V(gamma) / k`` with
``V = integral_0^1 (gamma K(t) + B(t))**2 dt``, ``B = (a t^(a-1) K + t^a K') / C``, ``C = integral t^(a-1) K``,
integrated exactly (K is a polynomial). For the biweight and a = 0.6: ``V = 1.429 gamma^2 + 0.951 gamma + 1.272``
(the Hill estimator has V = gamma^2).
"""

from __future__ import annotations

import math

import numpy as np

from sparsity._checks import check_int
from sparsity.tails._estimate import TailEstimate
from sparsity.tails._estimators import estimate_at_k
from sparsity.tails._moments_dbs import boot_sizes

__all__ = ["KERNELS", "kernel_curve", "kernel_dbs_h", "kernel_estimator", "kernel_variance"]

KERNELS = {
    "biweight": (15.0 / 8.0, -15.0 / 4.0, 15.0 / 8.0),
    "triweight": (35.0 / 16.0, -105.0 / 16.0, 105.0 / 16.0, -35.0 / 16.0),
}
"""Coefficients ``c_m`` of ``K(u) = sum_m c_m u**(2m)`` on [0, 1] (each integrates to 1)."""
_BATCH = 1 << 19
_MIN_BOOT = 16
"""Smallest second resample size ``n2`` for the double bootstrap (n < ~35: ``k = max(sqrt(n), 10)``)."""


def _cum_terms(ld: np.ndarray, a: float, n_pow: int) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative sums along the last axis: ``T_{2m+1}`` and ``T_{a+2m}`` for m < n_pow, shapes (n_pow, ..., m-1)."""
    m = ld.shape[-1]
    d = ld[..., :-1] - ld[..., 1:]
    u = np.arange(1, m, dtype=np.float64) / m
    odd = np.stack([np.cumsum((u ** (2 * j + 1)) * d, axis=-1) for j in range(n_pow)])
    alp = np.stack([np.cumsum((u ** (a + 2 * j)) * d, axis=-1) for j in range(n_pow)])
    return odd, alp


def _kernel_from_terms(odd: np.ndarray, alp: np.ndarray, m: int, h: np.ndarray, a: float, kernel: str) -> np.ndarray:
    """Estimates at bandwidths ``h`` (shape (H,)) from the cumulative sums of :func:`_cum_terms`."""
    c = KERNELS[kernel]
    idx = np.clip(np.ceil(m * h).astype(np.int64) - 2, 0, m - 2)  # last i with i / m < h, as an index (i - 1)
    gpos = np.zeros(odd.shape[1:-1] + h.shape)
    q1 = np.zeros_like(gpos)
    q2 = np.zeros_like(gpos)
    for j, cj in enumerate(c):
        w = cj / h ** (2 * j + 1)
        gpos += w * odd[j][..., idx]
        q1 += w * alp[j][..., idx]
        q2 += (1.0 + a + 2 * j) * w * alp[j][..., idx]
    with np.errstate(divide="ignore", invalid="ignore"):
        return gpos - 1.0 + q2 / q1


def kernel_curve(x: np.ndarray, h: np.ndarray, *, a: float = 0.6, kernel: str = "biweight") -> np.ndarray:
    """Kernel-type estimates of gamma at bandwidths ``h`` (fractions of n in (0, 1]); ``x`` ascending.

    NaN where fewer than two spacings fall below ``n h``.
    """
    ld = np.log(x[::-1])
    ld = ld - ld[0]
    n_pow = len(KERNELS[kernel])
    odd, alp = _cum_terms(ld, a, n_pow)
    out = _kernel_from_terms(odd, alp, x.size, np.asarray(h, dtype=np.float64), a, kernel)
    out[np.asarray(h) * x.size < 2] = np.nan
    return out


def _boot_aux(
    x: np.ndarray, size: int, grid: np.ndarray, n_boot: int, rng: np.random.Generator, a: float
) -> np.ndarray:
    """Bootstrap mean over resamples of size ``size`` of (biweight - triweight)**2 on ``grid`` (NaN ignored)."""
    log_asc = np.log(x)
    total = np.zeros(grid.size)
    count = np.zeros(grid.size)
    rows = max(1, _BATCH // size)
    for start in range(0, n_boot, rows):
        idx = rng.integers(0, x.size, (min(rows, n_boot - start), size))
        idx.sort(axis=1)
        ld = log_asc[idx[:, ::-1]]
        ld -= ld[:, :1]
        odd, alp = _cum_terms(ld, a, 4)
        diff = _kernel_from_terms(odd[:3], alp[:3], size, grid, a, "biweight")
        diff -= _kernel_from_terms(odd, alp, size, grid, a, "triweight")
        sq = diff * diff
        ok = np.isfinite(sq)
        total += np.where(ok, sq, 0.0).sum(axis=0)
        count += ok.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _grid(m: int, steps: int) -> np.ndarray:
    """Bandwidth grid of the reference code: ``steps`` log-spaced h from 1/m to 1."""
    return np.logspace(math.log10(1.0 / m), 0.0, steps)


def _best_h(curve: np.ndarray, grid: np.ndarray, size: int, eps_stop: float) -> float:
    ok = np.isfinite(curve) & (grid <= eps_stop) & (grid * size >= 3)
    if not np.any(ok):
        raise ValueError(f"the kernel bootstrap criterion is undefined on every bandwidth at resample size {size}")
    return float(grid[ok][np.argmin(curve[ok])])


def kernel_dbs_h(
    x: np.ndarray,
    *,
    n_boot: int = 100,
    rng: np.random.Generator,
    a: float = 0.6,
    steps: int = 200,
    t: float = 0.5,
    eps_stop: float = 0.25,
) -> float:
    """Double-bootstrap bandwidth (a fraction of n, in (0, 1]) of the biweight kernel estimator (module docstring)."""
    n = x.size
    n1, n2 = boot_sizes(n, t)
    if n2 < _MIN_BOOT:  # no bandwidth with n2 h >= 3 and h <= eps_stop: the k of the small-sample rule
        return min(max(math.isqrt(n), 10), n - 1) / n
    if n2 < steps:
        steps = max(n2 // 2, 8)
    g1, g2 = _grid(n1, steps), _grid(n2, steps)
    h1 = _best_h(_boot_aux(x, n1, g1, n_boot, rng, a), g1, n1, eps_stop)
    h2 = _best_h(_boot_aux(x, n2, g2, n_boot, rng, a), g2, n2, eps_stop)
    l1, ln1 = math.log(h1), math.log(n1)
    big_a = (143.0 * (ln1 + l1) ** 2 / (3.0 * (ln1 - 13.0 * l1) ** 2)) ** (-l1 / ln1)
    h = h1 * h1 / h2 * big_a
    return float(min(max(h, 10.0 / n), 1.0)) if math.isfinite(h) else min(10.0 / n, 1.0)


def _powers(kernel: str, a: float, gamma: float) -> tuple[list[float], list[float]]:
    """``gamma K + B`` as a sum of ``coef * t**expo`` (module docstring): (coefficients, exponents)."""
    c = KERNELS[kernel]
    big_c = sum(cm / (a + 2 * m) for m, cm in enumerate(c))  # integral of t^(a-1) K
    coefs = [gamma * cm for cm in c] + [cm * (a + 2 * m) / big_c for m, cm in enumerate(c)]
    expos = [2.0 * m for m in range(len(c))] + [a - 1.0 + 2 * m for m in range(len(c))]
    return coefs, expos


def kernel_variance(gamma: float, *, a: float = 0.6, kernel: str = "biweight") -> float:
    """Asymptotic ``k * Var(gamma_hat)`` of the kernel estimator for gamma > 0 (module docstring), exact."""
    coefs, expos = _powers(kernel, a, gamma)
    return float(
        sum(
            ci * cj / (ei + ej + 1.0)
            for ci, ei in zip(coefs, expos, strict=True)
            for cj, ej in zip(coefs, expos, strict=True)
        )
    )


def kernel_estimator(
    x: np.ndarray,
    *,
    k: int | None = None,
    a: float = 0.6,
    n_boot: int = 100,
    rng: np.random.Generator,
    steps: int = 200,
) -> TailEstimate:
    """Biweight kernel-type estimate at bandwidth ``h`` (default: :func:`kernel_dbs_h`); ``k = floor(n h)``.

    A given ``k`` (in ``[2, n - 1]``) sets ``h = k / n``. ``se_gamma = sqrt(kernel_variance(gamma) / k)``
    (gamma > 0; for gamma <= 0 the formula at ``|gamma|`` is reported, a rough scale only, and ``alpha`` is NaN).
    ``details`` adds ``h`` and ``a`` to those of :func:`sparsity.tails._estimators.estimate_at_k`.
    """
    n = x.size
    if k is None:
        h, rule = kernel_dbs_h(x, n_boot=n_boot, rng=rng, a=a, steps=steps), "kernel_dbs"
        k = min(max(math.floor(n * h), 2), n - 1)
    else:
        k, rule = check_int(k, "k", low=2, high=n - 1), "given"
        h = k / n
    gamma = float(kernel_curve(x, np.array([h]), a=a)[0])
    if not math.isfinite(gamma):
        raise ValueError(f"kernel needs distinct values among the top k={k}; the estimate is undefined ({gamma})")
    res = estimate_at_k(x, k, gamma, math.sqrt(kernel_variance(abs(gamma), a=a) / k), rule)
    res.details.update(h=h, a=a)
    return res
