"""Smooth sparsity measures of a vector of magnitudes (or of a matrix's singular values).

Each takes any array (flattened, signs ignored) of any namespace (NumPy, CuPy, array_api_strict, ...), computes
in float64 in that namespace and on that device, and returns a Python float. For a
matrix, pass its singular values: then :func:`stable_rank` is :math:`\\|W\\|_F^2 / \\|W\\|_2^2` and
:func:`entropy_effective_rank` is the effective rank of Roy & Vetterli. An all-zero input raises
``ValueError`` (every measure here is a ratio that is 0/0 there).
"""

from __future__ import annotations

import math
from typing import Any

from sparsity._array_api import device
from sparsity._input import flat_magnitudes

__all__ = [
    "entropy_effective_rank",
    "gini_index",
    "hoyer_sparsity",
    "numerical_sparsity",
    "participation_ratio",
    "stable_rank",
]


def _magnitudes(x: Any, measure: str) -> tuple[Any, Any]:
    """``(|x| / max |x|, xp)``: float64, flattened, in the namespace of ``x``; an all-zero ``x`` raises."""
    a, xp = flat_magnitudes(x)
    a = xp.astype(a, xp.float64)
    m = float(xp.max(a))
    if m == 0.0:
        raise ValueError(f"x must have at least one nonzero value: {measure} is 0/0 for an all-zero input")
    return a / m, xp  # scale-free measures: normalising by the max avoids overflow in squares and 4th powers


def _sum(a: Any, xp: Any) -> float:
    return float(xp.sum(a))


def gini_index(x: Any) -> float:
    """Gini index of the magnitudes (Hurley & Rickard 2009).

    With :math:`c_{(1)} \\le \\dots \\le c_{(n)}` the sorted magnitudes,

    .. math:: G = 1 - 2 \\sum_{k=1}^{n} \\frac{c_{(k)}}{\\|c\\|_1} \\, \\frac{n - k + 1/2}{n}.

    0 for a constant vector, :math:`1 - 1/n` for a vector with one nonzero entry.

    References
    ----------
    .. [1] N. Hurley, S. Rickard, "Comparing measures of sparsity", IEEE Trans. Inf. Theory 55(10), 2009.

    Examples
    --------
    >>> gini_index([1.0, 1.0, 1.0, 1.0])
    0.0
    >>> gini_index([0.0, 0.0, 0.0, 5.0])
    0.75
    """
    a, xp = _magnitudes(x, "the Gini index")
    c = xp.sort(a)
    n = c.shape[0]
    k = xp.arange(1, n + 1, dtype=xp.float64, device=device(c))
    return 1.0 - 2.0 * _sum((c / _sum(c, xp)) * ((n - k + 0.5) / n), xp)


def numerical_sparsity(x: Any) -> float:
    """l1/l2 numerical sparsity :math:`\\|x\\|_1^2 / \\|x\\|_2^2`, in ``[1, n]`` (Lopes 2013).

    A soft count of the nonzero entries: equal to k for a vector with k equal nonzeros.

    References
    ----------
    .. [1] M. Lopes, "Estimating unknown sparsity in compressed sensing", ICML 2013.

    Examples
    --------
    >>> numerical_sparsity([2.0, -2.0, 0.0, 0.0])
    2.0
    """
    a, xp = _magnitudes(x, "numerical sparsity")
    return _sum(a, xp) ** 2 / _sum(a * a, xp)


def hoyer_sparsity(x: Any) -> float:
    """Hoyer sparsity :math:`(\\sqrt{n} - \\|x\\|_1/\\|x\\|_2) / (\\sqrt{n} - 1)`, in ``[0, 1]`` (Hoyer 2004).

    0 for a constant vector, 1 for a single nonzero. Defined for ``n >= 2``.

    References
    ----------
    .. [1] P. O. Hoyer, "Non-negative matrix factorization with sparseness constraints", JMLR 5, 2004.

    Examples
    --------
    >>> hoyer_sparsity([0.0, 0.0, 3.0])
    1.0
    """
    a, xp = _magnitudes(x, "Hoyer sparsity")
    n = a.shape[0]
    if n < 2:
        raise ValueError(f"x must have at least 2 values for Hoyer sparsity (sqrt(n) - 1 = 0); got n = {n}")
    root_n = math.sqrt(n)
    return (root_n - _sum(a, xp) / math.sqrt(_sum(a * a, xp))) / (root_n - 1.0)


def entropy_effective_rank(x: Any) -> float:
    """Effective rank :math:`\\exp(H(q))`, :math:`q_i = |x_i| / \\|x\\|_1`, :math:`H(q) = -\\sum q_i \\log q_i`.

    For singular values this is the effective rank of Roy & Vetterli (2007); in ``[1, n]``.

    References
    ----------
    .. [1] O. Roy, M. Vetterli, "The effective rank: a measure of effective dimensionality", EUSIPCO 2007.

    Examples
    --------
    >>> round(entropy_effective_rank([1.0, 1.0, 1.0]), 12)
    3.0
    """
    a, xp = _magnitudes(x, "the entropy effective rank")
    q = a / _sum(a, xp)
    # 0 log 0 = 0: zero entries contribute q * log(1) = 0
    return math.exp(-_sum(q * xp.log(xp.where(q > 0, q, xp.ones_like(q))), xp))


def participation_ratio(x: Any) -> float:
    """Participation ratio :math:`(\\sum_i x_i^2)^2 / \\sum_i x_i^4 = \\|x\\|_2^4 / \\|x\\|_4^4`, in ``[1, n]``.

    For singular values s this is :math:`(\\sum \\lambda_i)^2 / \\sum \\lambda_i^2` with :math:`\\lambda = s^2`,
    the participation ratio of the eigenvalues of :math:`W^T W`.

    Examples
    --------
    >>> participation_ratio([1.0, -1.0, 0.0])
    2.0
    """
    a, xp = _magnitudes(x, "the participation ratio")
    sq = a * a
    return _sum(sq, xp) ** 2 / _sum(sq * sq, xp)


def stable_rank(x: Any) -> float:
    """Stable rank :math:`\\|x\\|_2^2 / \\|x\\|_\\infty^2`, in ``[1, n]``.

    For the singular values of W this is :math:`\\|W\\|_F^2 / \\|W\\|_2^2`, the stable (numerical) rank.

    Examples
    --------
    >>> stable_rank([2.0, 1.0, 1.0])
    1.5
    """
    a, xp = _magnitudes(x, "the stable rank")
    return _sum(a * a, xp)  # a is normalised by its maximum, so ||a||_inf = 1
