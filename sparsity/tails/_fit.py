"""Tail-index estimators behind one function, :func:`fit_tail`, returning a :class:`TailFit`.

``alpha`` is always the **survival** tail index, P(|X| > t) ~ t**(-alpha) (Pareto alpha, alpha-stable alpha,
Student-t degrees of freedom). Clauset et al., ``powerlaw`` and WeightWatcher report the **density** exponent
p(x) ~ x**(-alpha_density), ``alpha_density = alpha + 1``; both are in the result.

Methods (a dict of private bodies with one signature):

- ``"csn"``: Clauset, Shalizi & Newman (2009) power-law MLE, ``xmin`` chosen by minimising the KS distance
  over every candidate (exact; continuous, or discrete with the Hurwitz-zeta normaliser).
- ``"hill"``: Hill (1975) on the top ``k`` order statistics, ``k`` by the Danielsson et al. (2001) double
  bootstrap unless given.
- ``"moments"``: Dekkers, Einmahl & de Haan (1989) moment estimator, ``k`` by the Draisma, de Haan, Peng &
  Pereira (1999) double bootstrap unless given.
- ``"pickands"``: Pickands (1975), ``k`` by a subsample bootstrap of its own MSE unless given.
- ``"kernel"``: Groeneboom, Lopuhaa & de Wolf (2003) kernel-type estimator (biweight), bandwidth by its double
  bootstrap (Voitalov et al. 2019) unless ``k`` is given.
- ``"ranksize"``: least-squares slope of the log rank-size plot (biased; kept for comparison).
- ``"stable"``: McCulloch (1986) quantile estimator of the alpha-stable index (0 < alpha <= 2).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal, cast

import numpy as np
from scipy import special

from sparsity._checks import as_generator, check_bool, check_choice, check_int, check_real
from sparsity.tails import _estimators as _est
from sparsity.tails._csn import csn_method
from sparsity.tails._estimate import TailEstimate
from sparsity.tails._kernel import kernel_estimator
from sparsity.tails._magnitudes import MIN_NONZERO, data_seed, sorted_nonzero_magnitudes
from sparsity.tails._moments_dbs import moments_dbs, pickands_with_k

__all__ = ["METHODS", "MIN_NONZERO", "TailFit", "fit_tail"]

Method = Literal["csn", "hill", "moments", "pickands", "kernel", "ranksize", "stable"]


@dataclass(frozen=True)
class TailFit:
    """Result of :func:`fit_tail`.

    Attributes
    ----------
    method : str
        Estimator used.
    alpha : float
        Survival tail index, P(|X| > t) ~ t**(-alpha).
    alpha_density : float
        Density exponent ``alpha + 1`` (what ``powerlaw`` calls ``alpha``).
    xmin : float
        Start of the fitted tail (CSN ``xmin``; the order statistic ``x_(k+1)`` for Hill-type estimators;
        NaN for ``"stable"``, which uses the whole sample).
    n_tail : int
        Number of magnitudes in the fitted tail (``>= xmin``; ``k`` for Hill-type estimators).
    n : int
        Number of nonzero magnitudes the fit saw (zeros are excluded and counted in ``n_zero``).
    ks_distance : float
        KS distance between the tail and the fitted power law (NaN where it does not apply).
    alpha_ci : tuple of float
        Confidence interval for ``alpha`` at level ``ci_level`` (normal approximation from ``alpha_se``, or
        bootstrap percentiles with ``ci="bootstrap"``).
    alpha_se : float
        Standard error of ``alpha`` (asymptotic; equals the standard error of ``alpha_density``).
    ci_level : float
        Coverage of ``alpha_ci``.
    n_zero : int
        Zeros excluded from the input.
    discrete : bool
        Whether the discrete (integer) power law was fitted.
    xmax : float or None
        Upper truncation used, if any.
    details : dict
        Method-specific extras (e.g. ``n_candidates`` for ``"csn"``, ``k`` for ``"hill"``).
    """

    method: str
    alpha: float
    alpha_density: float
    xmin: float
    n_tail: int
    n: int
    ks_distance: float
    alpha_ci: tuple[float, float]
    alpha_se: float = math.nan
    ci_level: float = 0.95
    n_zero: int = 0
    discrete: bool = False
    xmax: float | None = None
    details: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------------ methods


@dataclass(frozen=True)
class _Options:
    """Validated options shared by every method body (each body reads the ones it uses)."""

    discrete: bool
    xmin: float | None
    xmax: float | None
    min_tail: int
    scan: str
    xp: Any
    k: int | None
    n_boot: int
    rng: np.random.Generator


def _m_csn(x: np.ndarray, o: _Options) -> TailEstimate:
    return csn_method(x, discrete=o.discrete, xmin=o.xmin, xmax=o.xmax, min_tail=o.min_tail, scan=o.scan, xp=o.xp)


def _order_stat(body: Callable[..., TailEstimate]) -> Callable[[np.ndarray, _Options], TailEstimate]:
    def run(x: np.ndarray, o: _Options) -> TailEstimate:
        return body(x, k=o.k, n_boot=o.n_boot, rng=o.rng)

    run.__name__ = f"_m_{body.__name__}"
    return run


_METHODS: dict[str, Callable[[np.ndarray, _Options], TailEstimate]] = {
    "csn": _m_csn,
    "hill": _order_stat(_est.hill),
    "moments": _order_stat(moments_dbs),
    "pickands": _order_stat(pickands_with_k),
    "kernel": _order_stat(kernel_estimator),
    "ranksize": _order_stat(_est.ranksize),
    "stable": _order_stat(_est.stable),
}
_CSN_ONLY = ("discrete", "xmin", "xmax", "scan")
_FIXED_K = ("hill", "moments", "pickands", "kernel", "ranksize")
"""Methods whose bootstrap CI keeps the ``k`` of the original fit."""

METHODS: tuple[str, ...] = tuple(_METHODS)
"""The names :func:`fit_tail` accepts for ``method`` (suites validate against this one list)."""


def _bootstrap_ci(
    x: np.ndarray, method: str, o: _Options, k_used: int | None, level: float
) -> tuple[tuple[float, float], dict[str, Any]]:
    """Percentile interval of ``alpha`` over ``o.n_boot`` resamples (with replacement) of the magnitudes.

    The CSN fit re-chooses ``xmin`` in each resample (unless fixed); the order-statistic methods keep the ``k``
    of the original fit (the kernel estimator: its bandwidth ``h = k / n``). Resamples on which the method is
    undefined (e.g. all-equal values) are counted, not used.
    """
    body = _METHODS[method]
    ob = replace(o, k=k_used if method in _FIXED_K else o.k)
    vals = []
    failed = 0
    for _ in range(o.n_boot):
        xb = np.sort(o.rng.choice(x, x.size, replace=True))
        if xb[0] == xb[-1]:
            failed += 1
            continue
        try:
            vals.append(float(body(xb, ob).alpha))
        except ValueError:
            failed += 1
    if failed:
        warnings.warn(
            f"bootstrap CI: the {method!r} fit failed on {failed} of {o.n_boot} resamples (e.g. too few distinct "
            "values); the interval uses the others",
            UserWarning,
            stacklevel=3,
        )
    arr = np.asarray(vals)
    arr = arr[np.isfinite(arr)]
    if arr.size < 2:
        return (math.nan, math.nan), {"n_boot_failed": failed}
    lo, hi = np.quantile(arr, [(1 - level) / 2, (1 + level) / 2])
    return (float(lo), float(hi)), {"n_boot_failed": failed, "n_boot_used": int(arr.size)}


# ------------------------------------------------------------------------------------------------- public


def fit_tail(
    x: Any,
    method: Method = "csn",
    *,
    discrete: bool = False,
    xmin: float | None = None,
    xmax: float | None = None,
    min_tail: int = 3,
    scan: Literal["pruned", "naive"] = "pruned",
    k: int | None = None,
    ci: Literal["normal", "bootstrap"] = "normal",
    ci_level: float = 0.95,
    n_boot: int = 200,
    rng: int | np.random.Generator | Literal["data"] | None = None,
) -> TailFit:
    r"""Fit the tail index of the magnitudes of ``x``.

    ``alpha`` is the survival tail index, :math:`P(|X| > t) \sim t^{-\alpha}`; the density exponent
    :math:`p(x) \sim x^{-\alpha_{density}}` reported by ``powerlaw`` and WeightWatcher is
    ``alpha_density = alpha + 1``.

    Method ``"csn"`` (Clauset, Shalizi & Newman 2009 [1]_): for every candidate ``xmin`` (each distinct
    magnitude except the two largest, with at least ``min_tail`` values at or above it) the MLE is

    .. math:: \hat\alpha = m \Big/ \sum_{i=1}^{m} \log(x_i / x_{min})

    over the ``m`` tail values (discrete: the exact Hurwitz-zeta MLE; with ``xmax``: the truncated MLE), and
    ``xmin`` minimises the KS distance :math:`D = \max_u |F(u) - \#\{x_i < u\}/m|` over the distinct tail
    values (``powerlaw``'s statistic). The scan is exact: ``scan="pruned"`` returns the same ``xmin`` as
    ``scan="naive"`` (O(n^2)). Standard error :math:`\hat\alpha/\sqrt{m}` (continuous), Fisher information
    otherwise.

    Methods ``"hill"`` [2]_, ``"moments"`` [3]_, ``"pickands"``, ``"kernel"`` [6]_ and ``"ranksize"`` use
    the top ``k`` order statistics; ``xmin`` is then the order statistic ``x_(k+1)`` and ``n_tail = k``. With
    ``k=None`` each picks ``k`` by a bootstrap seeded by ``rng``: Hill and rank-size by the Danielsson et al.
    double bootstrap [4]_, moments by the Draisma et al. double bootstrap [7]_, Pickands by a subsample
    bootstrap of its own mean square error, the kernel estimator by the double bootstrap of its bandwidth
    (as in Voitalov et al. [8]_); ``details["k_rule"]`` names the rule. ``"ranksize"`` (log rank on log size)
    is biased and kept for comparison. ``"stable"`` is McCulloch's quantile estimator [5]_
    (``0 < alpha <= 2``, symmetric law assumed, table range ``0.4 <= alpha <= 2``).

    Parameters
    ----------
    x : array_like
        Any shape; flattened and replaced by its magnitudes ``|x|``. Zeros are excluded (counted in
        ``n_zero``); at least ``MIN_NONZERO = 10`` nonzero magnitudes are required. NumPy, CuPy (the CSN scan
        then runs as a CUDA kernel) or any array-API array.
    method : {"csn", "hill", "moments", "pickands", "kernel", "ranksize", "stable"}
        Estimator.
    discrete : bool
        ``"csn"`` only: fit the discrete power law (magnitudes must be integers).
    xmin : float, optional
        ``"csn"`` only: fixed lower cutoff instead of the KS scan.
    xmax : float, optional
        ``"csn"`` only: upper truncation; values above it are dropped and the truncated MLE is used.
    min_tail : int
        ``"csn"`` only: smallest tail a candidate ``xmin`` may leave (default 3: ``powerlaw``'s set).
    scan : {"pruned", "naive"}
        ``"csn"`` only: exact pruned scan (default) or the O(n^2) reference.
    k : int, optional
        Order-statistic methods: number of upper order statistics (default: the method's bootstrap rule).
        At most ``n - 1`` (Pickands: ``n // 4``; kernel: at least 2).
    ci : {"normal", "bootstrap"}
        ``alpha_ci`` from ``alpha +- z * alpha_se`` or from bootstrap percentiles (``n_boot`` resamples).
    ci_level : float
        Coverage of ``alpha_ci``.
    n_boot : int
        Resamples for ``ci="bootstrap"`` and for the bootstrap rule of ``k``.
    rng : None, int, numpy.random.Generator or "data"
        Randomness for the bootstraps (only drawn from when a bootstrap runs). ``"data"`` seeds them from a
        hash of the sorted magnitudes (:func:`~sparsity.tails._magnitudes.data_seed`): the fit is then a
        deterministic function of the data, independent of any suite seed (for real weights).

    Returns
    -------
    TailFit
        ``alpha``, ``alpha_density``, ``xmin``, ``n_tail``, ``n``, ``ks_distance``, ``alpha_ci``,
        ``alpha_se`` and the rest of the fields.

    Raises
    ------
    ValueError
        Too few nonzero magnitudes, NaN/inf, all-equal magnitudes, non-integers with ``discrete=True``, bad
        option values, CSN-only options with another method.
    TypeError
        Non-numeric input or option of the wrong type.

    References
    ----------
    .. [1] A. Clauset, C. R. Shalizi, M. E. J. Newman, "Power-law distributions in empirical data",
       SIAM Review 51(4), 661-703 (2009).
    .. [2] B. M. Hill, "A simple general approach to inference about the tail of a distribution",
       Ann. Statist. 3(5), 1163-1174 (1975).
    .. [3] A. L. M. Dekkers, J. H. J. Einmahl, L. de Haan, "A moment estimator for the index of an
       extreme-value distribution", Ann. Statist. 17(4), 1833-1855 (1989).
    .. [4] J. Danielsson, L. de Haan, L. Peng, C. G. de Vries, "Using a bootstrap method to choose the sample
       fraction in tail index estimation", J. Multivariate Anal. 76, 226-248 (2001).
    .. [5] J. H. McCulloch, "Simple consistent estimators of stable distribution parameters",
       Commun. Statist. Simul. 15(4), 1109-1136 (1986).
    .. [6] P. Groeneboom, H. P. Lopuhaa, P. P. de Wolf, "Kernel-type estimators for the extreme value index",
       Ann. Statist. 31(6), 1956-1995 (2003).
    .. [7] G. Draisma, L. de Haan, L. Peng, T. T. Pereira, "A bootstrap-based method to achieve optimality in
       estimating the extreme-value index", Extremes 2(4), 367-404 (1999).
    .. [8] I. Voitalov, P. van der Hoorn, R. van der Hofstad, D. Krioukov, "Scale-free networks well done",
       Phys. Rev. Research 1, 033034 (2019).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.random(5000) ** (-1 / 1.5)  # Pareto, survival tail index 1.5
    >>> fit = fit_tail(x, "csn")
    >>> round(fit.alpha, 1), round(fit.alpha_density - fit.alpha, 12)
    (1.5, 1.0)
    >>> round(fit_tail(x, "hill", k=500).alpha, 1)
    1.5
    """
    method = check_choice(method, "method", cast("tuple[Method, ...]", METHODS))
    discrete = check_bool(discrete, "discrete")
    scan = check_choice(scan, "scan", ("pruned", "naive"))
    if method != "csn":
        given = {"discrete": discrete, "xmin": xmin is not None, "xmax": xmax is not None, "scan": scan != "pruned"}
        bad = [name for name in _CSN_ONLY if given[name]]
        if bad:
            raise ValueError(f"option(s) {bad} apply to method='csn' only; got method={method!r}")
    ci = check_choice(ci, "ci", ("normal", "bootstrap"))
    from_data = isinstance(rng, str) and rng == "data"
    if isinstance(rng, str) and not from_data:
        raise TypeError(f"rng must be None, an integer seed >= 0, a numpy.random.Generator or 'data'; got {rng!r}")
    level = check_real(ci_level, "ci_level", low=0.0, high=1.0, closed="neither")
    opts = _Options(
        discrete=discrete,
        xmin=check_real(xmin, "xmin", low=0.0, closed="neither", allow_none=True),
        xmax=check_real(xmax, "xmax", low=0.0, closed="neither", allow_none=True),
        min_tail=check_int(min_tail, "min_tail", low=2),
        scan=scan,
        xp=None,
        k=check_int(k, "k", low=1, allow_none=True),
        n_boot=check_int(n_boot, "n_boot", low=2),
        rng=as_generator(None if from_data else rng),
    )
    mags = sorted_nonzero_magnitudes(x, "x")
    opts = replace(opts, xp=mags.xp, rng=as_generator(data_seed(mags.values)) if from_data else opts.rng)
    res = _METHODS[method](mags.values, opts)
    alpha, se = float(res.alpha), float(res.alpha_se)
    details = dict(res.details)
    if ci == "bootstrap":
        interval, info = _bootstrap_ci(mags.values, method, opts, details.get("k"), level)
        details.update(info)
    else:
        z = float(special.ndtri(0.5 + level / 2))  # the normal quantile (scipy.stats.norm.ppf, bitwise)
        interval = (alpha - z * se, alpha + z * se)
    return TailFit(
        method=method,
        alpha=alpha,
        alpha_density=alpha + 1.0,
        xmin=float(res.xmin),
        n_tail=int(res.n_tail),
        n=int(mags.values.size),
        ks_distance=float(res.ks_distance),
        alpha_ci=interval,
        alpha_se=se,
        ci_level=level,
        n_zero=mags.n_zero,
        discrete=discrete,
        xmax=opts.xmax,
        details=details,
    )
