"""Tail-index estimators behind one function, :func:`fit_tail`, returning a :class:`TailFit`.

``alpha`` is always the **survival** tail index, P(|X| > t) ~ t**(-alpha) (Pareto alpha, alpha-stable alpha,
Student-t degrees of freedom). Clauset et al., ``powerlaw`` and WeightWatcher report the **density** exponent
p(x) ~ x**(-alpha_density), ``alpha_density = alpha + 1``; both are in the result.

Methods (a dict of private bodies with one signature):

- ``"csn"``: Clauset, Shalizi & Newman (2009) power-law MLE, ``xmin`` chosen by minimising the KS distance
  over every candidate (exact; continuous, or discrete with the Hurwitz-zeta normaliser).
- ``"hill"``: Hill (1975) on the top ``k`` order statistics, ``k`` by the Danielsson et al. (2001) double
  bootstrap unless given.
- ``"moments"``: Dekkers, Einmahl & de Haan (1989) moment estimator.
- ``"pickands"``: Pickands (1975).
- ``"ranksize"``: least-squares slope of the log rank-size plot (biased; kept for comparison).
- ``"stable"``: McCulloch (1986) quantile estimator of the alpha-stable index (0 < alpha <= 2).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy import special, stats

from sparsity._array_api import is_cupy_namespace, to_numpy
from sparsity._csn import csn_fit

__all__ = ["TailFit", "fit_tail"]

Method = Literal["csn", "hill", "moments", "pickands", "ranksize", "stable"]
MIN_NONZERO = 10
"""Fewest nonzero magnitudes :func:`fit_tail` accepts (every method)."""


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


# --------------------------------------------------------------------------------------------- validation


def _magnitudes(x: Any) -> tuple[np.ndarray, int, str]:
    """Flatten, take |x|, check finiteness; return sorted nonzero magnitudes, zero count, backend."""
    backend = "numpy"
    if type(x).__module__.split(".")[0] == "cupy":
        backend = "cupy"
    elif hasattr(x, "__array_namespace__"):
        backend = "cupy" if is_cupy_namespace(x.__array_namespace__()) else "numpy"
    try:
        arr = to_numpy(x) if hasattr(x, "dtype") else np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"x must be a real numeric array; could not convert it ({exc})") from None
    if arr.dtype.kind not in "biuf":
        if arr.dtype.kind == "V" or "bfloat16" in arr.dtype.name or "float8" in arr.dtype.name:
            arr = arr.astype(np.float32)
        else:
            raise TypeError(f"x must be a real numeric array (bool, int or float); got dtype {arr.dtype}")
    a = np.abs(np.asarray(arr, dtype=np.float64).ravel())
    if a.size == 0:
        raise ValueError("x must contain at least one value; got an empty array")
    bad = ~np.isfinite(a)
    if bad.any():
        raise ValueError(f"x must be finite; got {int(bad.sum())} NaN or infinite value(s) out of {a.size}")
    nz = a[a > 0]
    n_zero = a.size - nz.size
    if nz.size < MIN_NONZERO:
        raise ValueError(
            f"x must have at least {MIN_NONZERO} nonzero magnitudes to fit a tail; got {nz.size} "
            f"({n_zero} zeros excluded)"
        )
    nz.sort()
    if nz[0] == nz[-1]:
        raise ValueError(f"x magnitudes are all equal ({nz[0]!r}); a tail index is undefined")
    return nz, n_zero, backend


def _opt_positive(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be None or a real number > 0; got {value!r}")
    v = float(value)
    if not (v > 0 and math.isfinite(v)):
        raise ValueError(f"{name} must be None or a finite real number > 0; got {value!r}")
    return v


def _check_int(value: Any, name: str, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {lo}; got {value!r}")
    if int(value) < lo:
        raise ValueError(f"{name} must be an integer >= {lo}; got {value!r}")
    return int(value)


# ------------------------------------------------------------------------------------------------ methods


def _csn(
    x: np.ndarray,
    *,
    discrete: bool,
    xmin: float | None,
    xmax: float | None,
    min_tail: int,
    scan: str,
    backend: str,
) -> dict[str, Any]:
    if discrete:
        nonint = x != np.round(x)
        if nonint.any():
            raise ValueError(
                f"discrete=True needs integer magnitudes; got {int(nonint.sum())} non-integer value(s), "
                f"e.g. {x[np.argmax(nonint)]!r}"
            )
    data = x if xmax is None else x[x <= xmax]
    if xmin is not None:
        tail_n = int(np.count_nonzero(data >= xmin))
        if tail_n < 2:
            raise ValueError(f"xmin={xmin!r} leaves {tail_n} value(s) in the tail; at least 2 are needed")
        if xmax is not None and xmax <= xmin:
            raise ValueError(f"xmax must be > xmin; got xmax={xmax!r}, xmin={xmin!r}")
    elif np.unique(data).size < 3:
        raise ValueError(
            f"x needs at least 3 distinct magnitudes (<= xmax) to choose xmin; got {np.unique(data).size}"
        )
    r = csn_fit(data, discrete=discrete, xmin=xmin, xmax=xmax, min_tail=min_tail, scan=scan, backend=backend)
    if discrete:
        se = _discrete_se(r.alpha + 1.0, r.xmin, r.n_tail, xmax)
    elif xmax is None:
        se = r.alpha / math.sqrt(r.n_tail)
    else:
        se = _truncated_se(r.alpha, r.xmin, xmax, r.n_tail)
    return {
        "alpha": r.alpha,
        "xmin": r.xmin,
        "n_tail": r.n_tail,
        "ks_distance": r.ks_distance,
        "alpha_se": se,
        "details": {
            "n_candidates": r.n_candidates,
            "n_exact_scans": r.n_exact,
            "xmin_fixed": xmin is not None,
        },
    }


def _discrete_se(ad: float, xmin: float, m: int, xmax: float | None) -> float:
    """1 / sqrt(m * I(a)), I(a) = d^2/da^2 log Z(a) = Var(log X) under the fit (central differences)."""
    h = 1e-4

    def logz(a: float) -> float:
        z = special.zeta(a, xmin)
        if xmax is not None:
            z -= special.zeta(a, xmax + 1.0)
        return math.log(z)

    info = (logz(ad + h) - 2 * logz(ad) + logz(ad - h)) / h**2
    return 1.0 / math.sqrt(m * info) if info > 0 else math.nan


def _truncated_se(alpha: float, xmin: float, xmax: float, m: int) -> float:
    """Fisher information of the truncated Pareto: 1/a^2 - r^a log(r)^2 / (r^a - 1)^2, r = xmax/xmin."""
    lr = math.log(xmax / xmin)
    e = math.expm1(alpha * lr)
    info = 1.0 / alpha**2 - (e + 1.0) * lr**2 / e**2
    return 1.0 / math.sqrt(m * info) if info > 0 else math.nan


_METHODS = {"csn": _csn}


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
    ci_level: float = 0.95,
) -> TailFit:
    r"""Fit the tail index of the magnitudes of ``x``.

    ``alpha`` is the survival tail index, :math:`P(|X| > t) \sim t^{-\alpha}`; the density exponent
    :math:`p(x) \sim x^{-\alpha_{density}}` reported by ``powerlaw`` and WeightWatcher is
    ``alpha_density = alpha + 1``.

    Method ``"csn"`` (Clauset, Shalizi & Newman 2009 [1]_): for every candidate ``xmin`` (each distinct
    magnitude except the two largest, with at least ``min_tail`` values at or above it) the MLE is

    .. math:: \hat\alpha = m \Big/ \sum_{i=1}^{m} \log(x_i / x_{min})

    over the ``m`` tail values (discrete: the exact Hurwitz-zeta MLE), and ``xmin`` minimises the KS distance
    :math:`D = \max_u |F(u) - \#\{x_i < u\}/m|` over the distinct tail values (``powerlaw``'s statistic). The
    scan is exact: the default ``scan="pruned"`` returns the same ``xmin`` as ``scan="naive"`` (O(n^2)).
    Standard error :math:`\hat\alpha/\sqrt{m}` (continuous), Fisher information otherwise.

    Parameters
    ----------
    x : array_like
        Any shape; flattened and replaced by its magnitudes ``|x|``. Zeros are excluded (counted in
        ``n_zero``); at least 10 nonzero magnitudes are required. NumPy, CuPy (the KS scan then runs as a CUDA
        kernel) or any array-API array.
    method : {"csn", "hill", "moments", "pickands", "ranksize", "stable"}
        Estimator.
    discrete : bool
        ``"csn"`` only: fit the discrete power law (magnitudes must be integers).
    xmin : float, optional
        ``"csn"`` only: fixed lower cutoff instead of the KS scan.
    xmax : float, optional
        ``"csn"`` only: upper truncation; values above it are dropped and the truncated MLE is used.
    min_tail : int
        ``"csn"`` only: smallest tail size a candidate ``xmin`` may leave (default 3, the ``powerlaw`` set).
    scan : {"pruned", "naive"}
        ``"csn"`` only: exact pruned scan (default) or the O(n^2) reference.
    ci_level : float
        Level of ``alpha_ci`` (normal approximation ``alpha +- z * alpha_se``).

    Returns
    -------
    TailFit
        ``alpha``, ``alpha_density``, ``xmin``, ``n_tail``, ``n``, ``ks_distance``, ``alpha_ci``,
        ``alpha_se`` and the rest of the fields.

    Raises
    ------
    ValueError
        Too few nonzero magnitudes, NaN/inf, all-equal magnitudes, non-integers with ``discrete=True``, bad
        option values.
    TypeError
        Non-numeric input or option of the wrong type.

    References
    ----------
    .. [1] A. Clauset, C. R. Shalizi, M. E. J. Newman, "Power-law distributions in empirical data",
       SIAM Review 51(4), 661-703 (2009).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.random(5000) ** (-1 / 1.5)  # Pareto, survival tail index 1.5
    >>> fit = fit_tail(x, "csn")
    >>> round(fit.alpha, 1), round(fit.alpha_density - fit.alpha, 12)
    (1.5, 1.0)
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {sorted(_METHODS)}; got {method!r}")
    if not isinstance(ci_level, numbers.Real) or not 0 < float(ci_level) < 1:
        raise ValueError(f"ci_level must be a number in (0, 1); got {ci_level!r}")
    if scan not in ("pruned", "naive"):
        raise ValueError(f"scan must be 'pruned' or 'naive'; got {scan!r}")
    xmin_v = _opt_positive(xmin, "xmin")
    xmax_v = _opt_positive(xmax, "xmax")
    min_tail_v = _check_int(min_tail, "min_tail", 2)
    mags, n_zero, backend = _magnitudes(x)
    res = _METHODS[method](
        mags,
        discrete=bool(discrete),
        xmin=xmin_v,
        xmax=xmax_v,
        min_tail=min_tail_v,
        scan=scan,
        backend=backend,
    )
    alpha = float(res["alpha"])
    se = float(res["alpha_se"])
    z = float(stats.norm.ppf(0.5 + float(ci_level) / 2))
    ci = (alpha - z * se, alpha + z * se)
    return TailFit(
        method=method,
        alpha=alpha,
        alpha_density=alpha + 1.0,
        xmin=float(res["xmin"]),
        n_tail=int(res["n_tail"]),
        n=int(mags.size),
        ks_distance=float(res["ks_distance"]),
        alpha_ci=ci,
        alpha_se=se,
        ci_level=float(ci_level),
        n_zero=n_zero,
        discrete=bool(discrete),
        xmax=xmax_v,
        details=res["details"],
    )
