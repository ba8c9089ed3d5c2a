"""Finite-n predictions of the measured decay exponent by simulation from a fitted model.

For laws without the closed form of :mod:`sparsity.expected` (alpha-stable, Student-t, real data through a
semi-parametric model), the prediction at sample size n is the distribution of the measured decay exponent
(:func:`sparsity.decay_exponent`, same grid, same window) over seeded replicates drawn from the model:
:func:`simulated_decay_exponent` gives its mean and spread, :func:`decay_prediction_interval` its central
quantiles. A model is a *sampler*, ``sampler(generator, n) -> array of n values``; :func:`model_sampler` builds
one from a law name and its fitted parameters, optionally drawing alpha per replicate from its sampling
distribution, so that the interval includes the uncertainty of the fitted tail index.

Seeding: one root ``numpy.random.SeedSequence`` is drawn from ``rng`` and spawns one child per replicate, so
replicate r is the same whatever the number of replicates and however they are batched.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import numpy as np

from sparsity import synthetic
from sparsity._array_api import to_numpy
from sparsity._checks import as_generator, check_choice, check_int, check_real
from sparsity.curves import decay_exponent, decay_grid, default_decay_window

__all__ = [
    "LAWS",
    "DecayInterval",
    "SimulatedDecay",
    "decay_prediction_interval",
    "model_sampler",
    "simulated_decay_exponent",
]

Sampler = Callable[[np.random.Generator, int], Any]
LAWS = ("pareto", "stable", "student_t", "semiparametric")
"""Law names accepted by :func:`model_sampler`."""
_BATCH_VALUES = 1 << 22
"""Replicates are measured in batches of about this many values (bounded memory)."""


class SimulatedDecay(NamedTuple):
    """Measured decay exponents over simulated replicates.

    Attributes
    ----------
    mean, std : float
        Mean and standard deviation (ddof = 1) of the exponents.
    exponents : numpy.ndarray of shape (replicates,)
        One measured exponent per replicate, in replicate order (NumPy: the replicates are drawn and measured
        on the host).
    k_min, k_max : int
        The fit window.
    """

    mean: float
    std: float
    exponents: np.ndarray
    k_min: int
    k_max: int


class DecayInterval(NamedTuple):
    """Central prediction interval ``[lo, hi]`` of the measured decay exponent at ``level``."""

    lo: float
    hi: float
    level: float
    mean: float
    std: float
    replicates: int


def _alpha_draws(
    gen: np.random.Generator, alpha: float, alpha_se: float | None, n_tail: int | None, high: float
) -> float:
    """One alpha from its sampling distribution (or ``alpha`` itself), inside ``(0, high]``.

    ``n_tail``: ``alpha * G / n_tail`` with ``G ~ Gamma(n_tail, 1)``, the posterior of alpha given a Hill or
    continuous-CSN estimate on ``n_tail`` values under the prior ``1/alpha`` (mean alpha, sd
    ``alpha / sqrt(n_tail)``, the estimator's standard error). ``alpha_se``: a normal draw. Draws outside
    ``(0, high]`` are redrawn (truncation).
    """
    if n_tail is None and alpha_se is None:
        return alpha
    for _ in range(1000):
        if n_tail is not None:
            a = alpha * gen.gamma(n_tail) / n_tail
        else:
            a = alpha + float(alpha_se) * gen.standard_normal()  # type: ignore[arg-type]
        if 0.0 < a <= high:
            return float(a)
    raise ValueError(f"alpha = {alpha!r} with its uncertainty leaves no mass in (0, {high:g}]")


def model_sampler(
    law: Literal["pareto", "stable", "student_t", "semiparametric"],
    alpha: float,
    *,
    xmin: float = 1.0,
    data: Any = None,
    alpha_se: float | None = None,
    n_tail: int | None = None,
) -> Sampler:
    """A sampler ``f(generator, n) -> ndarray of shape (n,)`` for a fitted tail model.

    Parameters
    ----------
    law : {"pareto", "stable", "student_t", "semiparametric"}
        ``"pareto"``: ``xmin * U**(-1/alpha)``. ``"stable"``: symmetric alpha-stable (alpha <= 2).
        ``"student_t"``: Student-t with ``df = alpha``. ``"semiparametric"``: as Clauset, Shalizi & Newman
        (2009) do for their p-value: with the probability of ``|data| >= xmin`` a Pareto(alpha, xmin) draw,
        otherwise a draw (with replacement) from the values of ``|data|`` below ``xmin``.
    alpha : float
        The fitted survival tail index, > 0.
    xmin : float, default 1.0
        Pareto scale; for ``"semiparametric"`` the fitted threshold.
    data : array_like, optional
        The observed values, any namespace (``"semiparametric"`` only; magnitudes are used, on the host).
    alpha_se : float, optional
        Standard error of alpha: each replicate draws its alpha from ``N(alpha, alpha_se**2)`` (truncated to
        the law's domain).
    n_tail : int, optional
        Number of tail values the fit used (Hill, CSN): each replicate draws its alpha from
        ``alpha * Gamma(n_tail, 1) / n_tail`` (sd ``alpha / sqrt(n_tail)``). At most one of ``alpha_se``,
        ``n_tail``.

    Returns
    -------
    sampler : callable
        ``sampler(generator, n)``; the alpha draw (if any) comes first from the same generator.

    Examples
    --------
    >>> f = model_sampler("pareto", 1.5, n_tail=400)
    >>> f(np.random.default_rng(0), 5).shape
    (5,)
    """
    law = check_choice(law, "law", LAWS)  # type: ignore[arg-type]
    alpha = check_real(alpha, "alpha", low=0.0, closed="neither")
    xmin = check_real(xmin, "xmin", low=0.0, closed="neither")
    alpha_se = check_real(alpha_se, "alpha_se", low=0.0, allow_none=True)
    n_tail = check_int(n_tail, "n_tail", low=1, allow_none=True)
    if alpha_se is not None and n_tail is not None:
        raise ValueError(f"give at most one of alpha_se and n_tail; got alpha_se={alpha_se!r}, n_tail={n_tail!r}")
    high = 2.0 if law == "stable" else math.inf
    if alpha > high:
        raise ValueError(f"alpha must be in (0, 2] for law 'stable'; got {alpha!r}")
    if law == "semiparametric":
        if data is None:
            raise ValueError("law 'semiparametric' needs data (the observed values); got None")
        mags = np.sort(np.abs(np.asarray(to_numpy(data), dtype=np.float64)).ravel())
        if mags.size == 0 or not np.all(np.isfinite(mags)):
            raise ValueError(f"data must be non-empty and finite; got {mags.size} values")
        body = mags[mags < xmin]
        q_tail = 1.0 - body.size / mags.size
    elif data is not None:
        raise ValueError(f"data is used by law 'semiparametric' only; got law {law!r}")

    def sample(gen: np.random.Generator, n: int) -> np.ndarray:
        a = _alpha_draws(gen, alpha, alpha_se, n_tail, high)
        if law == "pareto":
            return synthetic.pareto(a, n, xmin=xmin, rng=gen)
        if law == "stable":
            return synthetic.stable(a, n, rng=gen)
        if law == "student_t":
            return synthetic.student_t(a, n, rng=gen)
        tail = gen.random(n) < q_tail
        out = np.empty(n)
        m = int(np.count_nonzero(tail))
        out[tail] = xmin * (1.0 - gen.random(m)) ** (-1.0 / a)
        if n - m:
            if body.size == 0:
                raise ValueError(f"data has no values below xmin = {xmin!r} to draw the body from")
            out[~tail] = body[gen.integers(0, body.size, n - m)]
        return out

    return sample


def _window(n: int, k_min: int | None, k_max: int | None) -> tuple[int, int]:
    d_min, d_max = default_decay_window(n)
    lo = d_min if k_min is None else check_int(k_min, "k_min", low=1)
    hi = d_max if k_max is None else check_int(k_max, "k_max", low=1)
    if not 1 <= lo < hi < n:
        raise ValueError(f"the fit window must satisfy 1 <= k_min < k_max < n = {n}; got k_min={lo}, k_max={hi}")
    return lo, hi


def _batch_exponents(a: np.ndarray, ks: np.ndarray, p: float) -> np.ndarray:
    """Decay exponents of the rows of ``a`` (magnitudes, shape (R, n), overwritten) at ``ks``.

    One partition per row, then the fit of :func:`sparsity.curves.loglog_fit` for all rows at once.

    Each row is divided by its largest value first (the slope is scale invariant; no overflow in ``a**p``).
    Rows whose error reaches zero inside the window (exactly sparse) get NaN here and are refitted one by one.
    """
    r, n = a.shape
    big_k = int(ks[-1])
    a.partition(n - big_k, axis=1)
    top = np.sort(a[:, n - big_k :], axis=1)
    m = top[:, -1:].copy()
    m[m == 0] = 1.0
    rest = (a[:, : n - big_k] / m) ** p
    top_cum = np.cumsum((top / m) ** p, axis=1)
    top_cum = np.concatenate([np.zeros((r, 1)), top_cum], axis=1)
    vals = rest.sum(axis=1)[:, None] + top_cum[:, big_k - ks]
    with np.errstate(divide="ignore"):
        lv = np.log(vals) / p
    lk = np.log(ks.astype(np.float64))
    dk = lk - lk.mean()
    slope = ((lv - lv.mean(axis=1, keepdims=True)) @ dk) / float(dk @ dk)
    out = -slope
    out[~np.all(np.isfinite(lv), axis=1)] = math.nan
    return out


def simulated_decay_exponent(
    sampler: Sampler,
    n: int,
    *,
    replicates: int = 200,
    rng: Any = None,
    p: float = 2.0,
    k_min: int | None = None,
    k_max: int | None = None,
) -> SimulatedDecay:
    """Mean and spread of the measured decay exponent of n values drawn from ``sampler``, over replicates.

    Each replicate draws n values with its own generator (spawned from one root seed), takes magnitudes and
    measures the exponent exactly as :func:`sparsity.decay_exponent` does (same grid, same default window).

    Parameters
    ----------
    sampler : callable
        ``sampler(generator, n) -> array of n values`` (any namespace; measured on the host), e.g. from
        :func:`model_sampler`.
    n : int
        Sample size per replicate, >= 4.
    replicates : int, default 200
        Number of replicates, >= 2.
    rng : None, int, SeedSequence or numpy.random.Generator
        Root of the seeds.
    p : float, default 2.0
        Norm exponent, > 0.
    k_min, k_max : int, optional
        Fit window; default ``default_decay_window(n)``.

    Returns
    -------
    SimulatedDecay
        ``mean``, ``std``, ``exponents`` (shape (replicates,)), ``k_min``, ``k_max``.

    Examples
    --------
    >>> sim = simulated_decay_exponent(model_sampler("pareto", 1.0), 10_000, replicates=50, rng=0)
    >>> sim.exponents.shape, sim.k_min, sim.k_max
    ((50,), 10, 100)
    """
    n = check_int(n, "n", low=4)
    replicates = check_int(replicates, "replicates", low=2)
    p = check_real(p, "p", low=0.0, closed="neither")
    lo, hi = _window(n, k_min, k_max)
    if not callable(sampler):
        raise TypeError(f"sampler must be callable as sampler(generator, n); got {type(sampler).__name__}")
    root = np.random.SeedSequence(int(as_generator(rng).integers(0, 2**63 - 1)))
    children = root.spawn(replicates)
    ks = decay_grid(lo, hi)
    rows = max(1, min(replicates, _BATCH_VALUES // n))
    out = np.empty(replicates)
    for start in range(0, replicates, rows):
        block = np.empty((min(rows, replicates - start), n))
        for i in range(block.shape[0]):
            row = np.asarray(to_numpy(sampler(np.random.default_rng(children[start + i]), n)), dtype=np.float64)
            if row.shape != (n,):
                raise ValueError(f"sampler must return an array of shape ({n},); got shape {row.shape}")
            np.abs(row, out=block[i])
        if not np.all(np.isfinite(block)):
            raise ValueError("sampler returned NaN or infinite values")
        out[start : start + block.shape[0]] = _batch_exponents(block.copy(), ks, p)
        for j in np.flatnonzero(np.isnan(out[start : start + block.shape[0]])):  # exactly sparse rows
            out[start + j] = decay_exponent(block[j], p=p, k_min=lo, k_max=hi).exponent
    return SimulatedDecay(float(out.mean()), float(out.std(ddof=1)), out, lo, hi)


def decay_prediction_interval(
    sampler: Sampler,
    n: int,
    *,
    level: float = 0.95,
    replicates: int = 200,
    rng: Any = None,
    p: float = 2.0,
    k_min: int | None = None,
    k_max: int | None = None,
) -> DecayInterval:
    """Central ``level`` prediction interval of the measured decay exponent at sample size n.

    The ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles (linear interpolation) of the exponents of
    :func:`simulated_decay_exponent`: a parametric bootstrap of the fitted model. Build the sampler with
    ``alpha_se`` or ``n_tail`` (:func:`model_sampler`) to include the uncertainty of the fitted alpha;
    ``law="semiparametric"`` keeps the empirical body below ``xmin``.

    Parameters
    ----------
    sampler, n, replicates, rng, p, k_min, k_max
        As in :func:`simulated_decay_exponent`.
    level : float, default 0.95
        Nominal coverage, in (0, 1).

    Returns
    -------
    DecayInterval
        ``lo``, ``hi``, ``level``, ``mean``, ``std``, ``replicates``.

    Examples
    --------
    >>> iv = decay_prediction_interval(model_sampler("pareto", 1.0, n_tail=1000), 10_000, rng=0)
    >>> bool(iv.lo < 0.5 < iv.hi)
    True
    """
    level = check_real(level, "level", low=0.0, high=1.0, closed="neither")
    sim = simulated_decay_exponent(sampler, n, replicates=replicates, rng=rng, p=p, k_min=k_min, k_max=k_max)
    lo, hi = np.quantile(sim.exponents, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return DecayInterval(float(lo), float(hi), level, sim.mean, sim.std, sim.exponents.size)
