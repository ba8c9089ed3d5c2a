"""Marchenko-Pastur bulk and Tracy-Widom edge for the eigenvalues of W^T W (private).

Conventions: ``W`` has ``N >= M`` (``N`` the larger side) and iid entries of variance ``sigma^2``. The
``M`` eigenvalues of the smaller Gram matrix, unnormalised (WeightWatcher's convention), fill the
Marchenko-Pastur bulk

.. math:: \\lambda_\\pm = \\sigma^2 N (1 \\pm \\sqrt{q})^2, \\qquad q = M / N \\le 1,

with density (in ``x = lambda / (sigma^2 N)``) :math:`\\rho(x) = \\sqrt{(x_+ - x)(x - x_-)} / (2 \\pi q x)`.

``sigma^2`` is estimated by matching the median of the ESD to the median of the MP law (robust to a few
spikes; WeightWatcher instead fits a kernel density by brute force). A spike is an eigenvalue above the
Tracy-Widom 99% point of the largest noise eigenvalue (Johnstone 2001): centre
:math:`\\mu = (\\sqrt{N - 1/2} + \\sqrt{M - 1/2})^2`, scale
:math:`s = (\\sqrt{N - 1/2} + \\sqrt{M - 1/2})(1/\\sqrt{N - 1/2} + 1/\\sqrt{M - 1/2})^{1/3}` (units of
``sigma^2``), threshold ``mu + 2.0234 s`` -- pure noise has a spike with probability about 1%.

References: V. A. Marchenko, L. A. Pastur (1967); I. M. Johnstone, Ann. Statist. 29(2), 295-327 (2001).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

import numpy as np

__all__ = ["TW1_Q99", "MpFit", "mp_edges", "mp_fit", "mp_median", "tw_threshold"]

TW1_Q99 = 2.0234
"""99% quantile of the Tracy-Widom (beta = 1) law."""


def mp_edges(n: int, m: int, sigma2: float) -> tuple[float, float]:
    """Bulk edges ``(lambda_-, lambda_+)`` of the unnormalised ESD for an ``n x m`` matrix (any order)."""
    big, small = max(n, m), min(n, m)
    rq = math.sqrt(small / big)
    return sigma2 * big * (1.0 - rq) ** 2, sigma2 * big * (1.0 + rq) ** 2


@lru_cache(maxsize=256)
def mp_median(q: float) -> float:
    """Median of the standard MP law with ratio ``q = M / N`` in (0, 1] (``sigma^2 N = 1``).

    With ``x = x_- + (x_+ - x_-) sin^2(theta)`` the CDF is the integral over theta in [0, pi/2] of the
    smooth function ``(x_+ - x_-)^2 sin^2 cos^2 / (pi q x)`` (no endpoint singularity, even for q = 1).
    """
    from scipy import integrate, optimize  # on first use: ~0.1 s of import that `import sparsity` need not pay

    a, b = (1.0 - math.sqrt(q)) ** 2, (1.0 + math.sqrt(q)) ** 2
    w = b - a

    def integrand(t: float) -> float:
        st, ct = math.sin(t), math.cos(t)
        x = a + w * st * st
        return w * w * st * st * ct * ct / (math.pi * q * x) if x > 0 else w / (math.pi * q) * ct * ct

    def cdf(t: float) -> float:
        return integrate.quad(integrand, 0.0, t, epsabs=1e-13, epsrel=1e-12)[0]

    t_half = optimize.brentq(lambda t: cdf(t) - 0.5, 0.0, math.pi / 2, xtol=1e-14)
    return a + w * math.sin(t_half) ** 2


def tw_threshold(n: int, m: int, sigma2: float, quantile: float = TW1_Q99) -> float:
    """Largest-noise-eigenvalue threshold ``sigma^2 (mu + quantile * s)`` (Johnstone's centring and scale)."""
    rn, rm = math.sqrt(max(n, m) - 0.5), math.sqrt(max(min(n, m) - 0.5, 0.5))
    mu = (rn + rm) ** 2
    s = (rn + rm) * (1.0 / rn + 1.0 / rm) ** (1.0 / 3.0)
    return sigma2 * (mu + quantile * s)


class MpFit(NamedTuple):
    """Marchenko-Pastur columns of one ESD (names as in the layer rows)."""

    sigma_mp: float
    """Entry scale ``sqrt(sigma^2)`` from the median match."""
    bulk_min: float
    """Lower bulk edge ``lambda_-``."""
    bulk_max: float
    """Upper bulk edge ``lambda_+``."""
    num_spikes: int
    """Eigenvalues above the Tracy-Widom 99% threshold."""
    mp_softrank: float
    """``bulk_max / lambda_max`` (NaN for an all-zero ESD)."""


def mp_fit(evals: np.ndarray, n: int, m: int) -> MpFit:
    """MP columns for the ``min(n, m)`` eigenvalues ``evals`` of one ``n x m`` matrix (see :class:`MpFit`)."""
    big, small = max(n, m), min(n, m)
    med = float(np.median(evals))
    sigma2 = med / (big * mp_median(small / big))
    lo, hi = mp_edges(big, small, sigma2)
    thr = tw_threshold(big, small, sigma2)
    lam_max = float(np.max(evals))
    return MpFit(
        sigma_mp=math.sqrt(sigma2),
        bulk_min=lo,
        bulk_max=hi,
        num_spikes=int(np.count_nonzero(evals > thr)),
        mp_softrank=hi / lam_max if lam_max > 0 else math.nan,
    )
