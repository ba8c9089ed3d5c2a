"""Closed-form random-matrix predictions for the generators (private): Marchenko-Pastur edges and BBP outliers.

Re-exported by :mod:`sparsity.synthetic.matrices` and :mod:`sparsity.synthetic`.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Literal

import numpy as np

from sparsity._array_api import to_namespace, to_numpy
from sparsity._checks import check_choice, check_int, check_real
from sparsity._input import as_array

__all__ = ["bbp_outlier", "bbp_threshold", "marchenko_pastur_edges"]


def marchenko_pastur_edges(
    n: int, m: int, sigma: float = 1.0, *, kind: Literal["singular", "eigen"] = "singular"
) -> tuple[float, float]:
    """Edges of the Marchenko-Pastur bulk of ``sigma X / sqrt(m)`` (X n x m with iid unit-variance entries).

    With ``gamma = n / m`` the nonzero singular values fill, as n, m -> infinity at fixed gamma,

    .. math:: s_\\pm = \\sigma\\,\\bigl|1 \\pm \\sqrt{\\gamma}\\bigr|,

    and the nonzero eigenvalues of ``W W^T`` (equivalently ``W^T W``) fill ``[s_-^2, s_+^2]``. The formula
    holds for either orientation: for n > m, ``W^T W = (n/m) (X^T X / n)`` has edges
    ``(n/m)(1 +- sqrt(m/n))^2 = (sqrt(gamma) +- 1)^2``. For finite sizes the largest singular value fluctuates
    on the Tracy-Widom scale ``n^(-2/3)`` (Johnstone 2001).

    Parameters
    ----------
    n, m : int
        Shape of the matrix, each >= 1.
    sigma : float, default 1.0
        Noise level > 0.
    kind : {"singular", "eigen"}, default "singular"
        Edges of the singular values of W, or of the eigenvalues of ``W^T W`` (their squares).

    Returns
    -------
    (lower, upper) : tuple of float

    References
    ----------
    .. [1] V. A. Marchenko, L. A. Pastur, Math. USSR-Sbornik 1 (1967) 457-483.
    .. [2] I. M. Johnstone, Ann. Statist. 29 (2001) 295-327.

    Examples
    --------
    >>> from sparsity import synthetic
    >>> synthetic.marchenko_pastur_edges(100, 400)
    (0.5, 1.5)
    """
    rows, cols = check_int(n, "n", low=1), check_int(m, "m", low=1)
    s = check_real(sigma, "sigma", low=0.0, closed="neither")
    check_choice(kind, "kind", ("singular", "eigen"))
    rg = math.sqrt(rows / cols)
    lower, upper = s * abs(1.0 - rg), s * (1.0 + rg)
    if kind == "eigen":
        return lower * lower, upper * upper
    return lower, upper


def bbp_threshold(n: int, m: int, *, sigma: float = 1.0) -> float:
    """Spike strength above which ``spiked_matrix`` has an outlier singular value: ``sigma gamma^(1/4)``.

    For ``W = sigma X / sqrt(m) + theta u v^T`` (unit u, v; gamma = n / m) Benaych-Georges & Nadakuditi
    (2012, Sec. 3.1, their X with entry variance 1/m and n/m -> c) show that the top singular value separates
    from the bulk edge ``sigma (1 + sqrt(gamma))`` iff ``theta > sigma gamma^(1/4)``. The formula is symmetric
    under transposition: for ``W^T`` rescaled to entry variance ``1/n``, the spike is ``theta / sqrt(gamma)`` and
    the ratio ``1/gamma``, and ``theta / sqrt(gamma) > gamma^(-1/4)`` is the same condition.

    Parameters
    ----------
    n, m : int
        Shape, each >= 1.
    sigma : float, default 1.0
        Noise level > 0.

    Returns
    -------
    theta_c : float

    References
    ----------
    .. [1] F. Benaych-Georges, R. R. Nadakuditi, "The singular values and vectors of low rank perturbations of
       large rectangular random matrices", J. Multivariate Anal. 111 (2012) 120-135.

    Examples
    --------
    >>> from sparsity import synthetic
    >>> synthetic.bbp_threshold(100, 100)
    1.0
    """
    rows, cols = check_int(n, "n", low=1), check_int(m, "m", low=1)
    s = check_real(sigma, "sigma", low=0.0, closed="neither")
    return s * (rows / cols) ** 0.25


def bbp_outlier(theta: Any, n: int, m: int, *, sigma: float = 1.0) -> Any:
    """Predicted (n, m -> infinity) top singular value of ``spiked_matrix(n, m, theta, sigma=sigma)``.

    With ``gamma = n / m`` and ``t = theta / sigma``:

    .. math:: s_1 \\to \\sigma \\frac{\\sqrt{(1 + t^2)(\\gamma + t^2)}}{t} \\quad (t > \\gamma^{1/4}),
       \\qquad s_1 \\to \\sigma (1 + \\sqrt{\\gamma}) \\quad \\text{otherwise},

    continuous at the threshold (Benaych-Georges & Nadakuditi 2012, Sec. 3.1). Each spike of a rank-r
    perturbation produces its own outlier by the same formula. Finite-size fluctuations are of order
    ``m^(-1/2)`` above the threshold.

    Parameters
    ----------
    theta : float or array_like
        Spike strength(s) >= 0.
    n, m : int
        Shape, each >= 1.
    sigma : float, default 1.0
        Noise level > 0.

    Returns
    -------
    s1 : float or array
        A float for a scalar ``theta``; otherwise a float64 array of its shape, namespace and device.

    Examples
    --------
    >>> from sparsity import synthetic
    >>> round(synthetic.bbp_outlier(2.0, 100, 100), 6)
    2.5
    """
    rows, cols = check_int(n, "n", low=1), check_int(m, "m", low=1)
    s = check_real(sigma, "sigma", low=0.0, closed="neither")
    arr, _ = as_array(theta, "theta", allow_empty=True)
    scalar = isinstance(theta, numbers.Real)
    th = np.asarray(to_numpy(arr), dtype=np.float64)
    if np.any(th < 0):
        raise ValueError(f"theta must be >= 0; got {float(th[th < 0].ravel()[0])!r}")
    gamma = rows / cols
    t = th / s
    edge = 1.0 + math.sqrt(gamma)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(t > gamma**0.25, np.sqrt((1.0 + t * t) * (gamma + t * t)) / t, edge) * s
    return float(out) if scalar else to_namespace(out, arr)
