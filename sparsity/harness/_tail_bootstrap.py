"""The predictive interval of a measured decay exponent: a fast, seeded bootstrap of a fitted tail.

The measured decay exponent of one sample is a log-log slope fitted to its order statistics, so it scatters
around its expectation; at finite n that expectation is not the asymptotic ``max(0, 1/alpha - 1/2)``. A case
*agrees* when its measured exponent lies in the central ``level`` (default 95 %) predictive interval of the
exponent that the same measurement (:func:`sparsity.decay_exponent`: same grid, same window ``[k_min, k_max]``)
gives on samples of the same size n drawn from the fitted model.

The model (:class:`TailModel`) is semi-parametric, as Clauset, Shalizi & Newman (2009) build theirs for the
goodness-of-fit p-value: with probability ``q = n_tail / n`` a Pareto(alpha, xmin) draw, otherwise a draw with
replacement from the observed magnitudes below ``xmin`` (the empirical body). When the fit covers every value the
model is the parametric Pareto law. Each bootstrap replicate first draws its own alpha from the fit's sampling
distribution (``alpha * Gamma(n_tail, 1) / n_tail`` for the MLE-type Hill and CSN fits, whose standard error is
``alpha / sqrt(n_tail)``; a normal draw with the estimator's own standard error otherwise), so the interval
includes the uncertainty of alpha. Estimators without a tail threshold (``stable``) get the Pareto tail above the
``TAIL_FACTOR * k_max`` largest values.

Cost: a replicate is not n draws. With the model's quantile function ``Q`` and ``G_j`` the partial sums of
i.i.d. Exp(1) variables, the j-th largest of n draws is exactly ``Q(1 - G_j / G_{n+1})`` (Renyi's
representation of uniform order statistics; ``G_{n+1} = G_K + Gamma(n + 1 - K)``). The ``K = min(n, TOP_FACTOR *
k_max)`` largest values are drawn that way, exactly; the sum of squares of the other ``n - K`` (given the K-th,
they are i.i.d. from the model truncated below it) is drawn from the normal law with its exact conditional mean
and variance. That sum is a small, smooth part of every ``sigma_k^2`` in the window (its terms are all below the
``TOP_FACTOR k_max``-th largest value), so the approximation moves no quantile visibly; ``tests/test_agreement.py``
compares the distribution with the full O(n) simulation of :func:`sparsity.expected.simulated_decay_exponent`.
One interval costs ``O(n)`` (one partial sort of the data) plus ``O(replicates * K)``.

References
----------
.. [1] A. Clauset, C. R. Shalizi, M. E. J. Newman, "Power-law distributions in empirical data", SIAM Review 51
   (2009), Section 4.1 (the semi-parametric bootstrap).
.. [2] A. Renyi, "On the theory of order statistics", Acta Math. Acad. Sci. Hungar. 4 (1953).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from sparsity._checks import check_int, check_real
from sparsity.curves import decay_grid

__all__ = [
    "BOOT_REPLICATES",
    "DECAY_LEVEL",
    "TAIL_FACTOR",
    "TOP_FACTOR",
    "DecayBootstrap",
    "TailModel",
    "bootstrap_decay",
    "tail_model",
]

DECAY_LEVEL = 0.95
"""Nominal coverage of the predictive interval of the measured decay exponent (``decay_pi_low/high``)."""
BOOT_REPLICATES = 400
"""Bootstrap replicates per interval (the 2.5 % and 97.5 % quantiles rest on about 10 replicates each)."""
TOP_FACTOR = 8
"""The ``TOP_FACTOR * k_max`` largest values of a replicate are drawn exactly; the rest only as a sum."""
TAIL_FACTOR = 10
"""Estimators without a threshold (``stable``): the Pareto tail of the model holds the ``TAIL_FACTOR * k_max``
largest values."""
_MIN_TOP = 1024
"""At least this many values (or all n) are drawn exactly."""
_BODY_MARGIN = 4
"""The body values kept sorted: ``_BODY_MARGIN * K`` largest below xmin (what the top K can reach)."""
_BLOCK_VALUES = 1 << 20
"""Replicates are drawn in blocks of about this many values."""
_MC_ALPHA_MAX = 1000
"""Redraws of a normal alpha draw that fell outside (0, inf) before giving up."""


class TailModel(NamedTuple):
    """The semi-parametric model of a sample's magnitudes, in units of ``xmin``.

    Attributes
    ----------
    n : int
        Sample size.
    alpha : float
        Fitted survival tail index of the Pareto part.
    xmin : float
        Threshold (the Pareto part is ``xmin * U**(-1/alpha)``).
    q : float
        Probability of the Pareto part, ``n_tail / n``.
    body_top : ndarray of shape (m,)
        The ``m`` largest body values (magnitudes below ``xmin``), ascending, divided by ``xmin``.
    body_n : int
        Number of body values (>= m).
    body_sum2, body_sum4 : float
        Sums of ``(b / xmin)**2`` and ``(b / xmin)**4`` over the whole body.
    alpha_n_tail : int or None
        Draw alpha per replicate as ``alpha * Gamma(alpha_n_tail) / alpha_n_tail`` (Hill, CSN).
    alpha_se : float or None
        Otherwise draw it from ``N(alpha, alpha_se**2)`` truncated to ``(0, inf)``; neither: alpha is fixed.
    """

    n: int
    alpha: float
    xmin: float
    q: float
    body_top: np.ndarray
    body_n: int
    body_sum2: float
    body_sum4: float
    alpha_n_tail: int | None
    alpha_se: float | None


class DecayBootstrap(NamedTuple):
    """Bootstrap distribution of the measured decay exponent: its mean and central ``level`` interval."""

    mean: float
    lo: float
    hi: float
    level: float
    replicates: int


def tail_model(
    magnitudes: Any,
    alpha: float,
    xmin: float,
    n_tail: int,
    *,
    k_max: int,
    alpha_se: float | None = None,
    gamma_draw: bool = True,
) -> TailModel:
    """The semi-parametric model of a fitted tail: empirical body below ``xmin``, Pareto(alpha, xmin) above.

    Parameters
    ----------
    magnitudes : array_like of shape (n,)
        The observed values (magnitudes are taken; any order).
    alpha : float
        Fitted survival tail index, > 0.
    xmin, n_tail : float, int
        The fit's threshold and number of values at or above it. A non-finite or non-positive ``xmin`` (an
        estimator without a threshold) puts the threshold at the ``TAIL_FACTOR * k_max``-th largest value.
    k_max : int
        Last k of the decay window (sets how many values a replicate draws exactly).
    alpha_se : float, optional
        Standard error of alpha, used when ``gamma_draw`` is False (a normal draw per replicate).
    gamma_draw : bool, default True
        Draw alpha per replicate as ``alpha * Gamma(n_tail) / n_tail`` (sd ``alpha / sqrt(n_tail)``: Hill and
        continuous CSN).

    Returns
    -------
    TailModel
    """
    a = np.abs(np.asarray(magnitudes, dtype=np.float64)).ravel()
    n = int(a.size)
    alpha = check_real(alpha, "alpha", low=0.0, closed="neither")
    k_max = check_int(k_max, "k_max", low=1)
    if not (math.isfinite(xmin) and xmin > 0) or n_tail is None or n_tail < 1 or n_tail > n:
        n_tail = min(n, TAIL_FACTOR * k_max)
        xmin = float(np.partition(a, n - n_tail)[n - n_tail])
        gamma_draw = False
        if xmin <= 0:
            raise ValueError("the magnitudes above the tail threshold are zero: no Pareto tail to fit")
    fit_n_tail = int(n_tail)  # the fit's sample size: it sets the spread of the alpha draws
    body = a[a < xmin] / xmin
    n_tail = n - body.size  # the Pareto part: every value at or above xmin
    m = min(body.size, _BODY_MARGIN * max(_MIN_TOP, TOP_FACTOR * k_max))
    top = np.sort(np.partition(body, body.size - m)[body.size - m :]) if m else np.empty(0)
    se = None if gamma_draw or alpha_se is None or not math.isfinite(alpha_se) else float(alpha_se)
    return TailModel(
        n=n,
        alpha=float(alpha),
        xmin=float(xmin),
        q=n_tail / n,
        body_top=top,
        body_n=int(body.size),
        body_sum2=float(np.sum(body**2)),
        body_sum4=float(np.sum(body**4)),
        alpha_n_tail=fit_n_tail if gamma_draw else None,
        alpha_se=se,
    )


def _alphas(model: TailModel, gen: np.random.Generator, reps: int) -> np.ndarray:
    """One alpha per replicate from the fit's sampling distribution (or the fitted alpha)."""
    if model.alpha_n_tail is not None:
        return model.alpha * gen.standard_gamma(model.alpha_n_tail, reps) / model.alpha_n_tail
    if model.alpha_se is None or model.alpha_se == 0:
        return np.full(reps, model.alpha)
    out = model.alpha + model.alpha_se * gen.standard_normal(reps)
    for _ in range(_MC_ALPHA_MAX):  # truncation to (0, inf): redraw the non-positive ones
        bad = out <= 0
        if not bad.any():
            return out
        out[bad] = model.alpha + model.alpha_se * gen.standard_normal(int(bad.sum()))
    raise ValueError(f"alpha = {model.alpha!r} with standard error {model.alpha_se!r} leaves no mass above 0")


def _body_index(model: TailModel, v: np.ndarray) -> np.ndarray:
    """Continuous body position ``x in [0, body_n]`` of upper-tail probabilities ``v >= q``."""
    return np.clip((1.0 - v) / (1.0 - model.q), 0.0, 1.0) * model.body_n


def _quantile(model: TailModel, v: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Model quantile at upper-tail probability ``v`` (shape (R, K)), alpha ``a`` per row, in units of xmin."""
    out = np.empty_like(v)
    tail = v < model.q
    with np.errstate(divide="ignore"):
        out[tail] = (v / model.q)[tail] ** (-1.0 / np.broadcast_to(a[:, None], v.shape)[tail])
    if not tail.all():
        m = model.body_top.size
        # body index counted from the top of the body: only the m largest are kept (clipped beyond them)
        from_top = model.body_n - np.floor(_body_index(model, v[~tail]))
        idx = np.clip(m - from_top.astype(np.int64), 0, m - 1)
        out[~tail] = model.body_top[idx]
    return out


def _body_moments(model: TailModel, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean of ``b**2`` and ``b**4`` over a uniform position in ``[0, x)`` of the sorted body (units of xmin)."""
    m = model.body_top.size
    top2, top4 = model.body_top**2, model.body_top**4
    # sums over the body positions >= body_n - m + i, for i = 0..m (suffix sums of the kept top)
    suf2 = np.concatenate((np.cumsum(top2[::-1])[::-1], [0.0]))
    suf4 = np.concatenate((np.cumsum(top4[::-1])[::-1], [0.0]))
    below = model.body_n - m  # body values not kept (all below body_top[0])
    fl = np.floor(x)
    i = np.clip(fl.astype(np.int64) - below, 0, m)  # kept values strictly below position floor(x)
    frac = x - fl
    s2 = model.body_sum2 - suf2[i]
    s4 = model.body_sum4 - suf4[i]
    nxt = np.clip(i, 0, max(m - 1, 0))
    if m:
        s2 = s2 + frac * top2[nxt] * (i < m)
        s4 = s4 + frac * top4[nxt] * (i < m)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(x > 0, s2 / x, 0.0), np.where(x > 0, s4 / x, 0.0)


def _pareto_moment(r: np.ndarray, s: np.ndarray) -> np.ndarray:
    """``integral_1^r y**-s dy / (r - 1)`` times ``(r - 1) / r``: the truncated-Pareto moment factor.

    Returns ``(r**(1-s) - 1) / (1 - s)`` (``log r`` at ``s = 1``), evaluated without cancellation.
    """
    lr = np.log(r)
    t = (1.0 - s) * lr
    small = np.abs(t) < 1e-8
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(small, lr * (1.0 + t / 2.0), np.expm1(t) / np.where(small, 1.0, 1.0 - s))
    return out


def _rest_moments(model: TailModel, v: np.ndarray, a: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean of ``X**2`` and ``X**4`` (in units of the cutoff ``t``) of a draw below the cutoff quantile ``v``."""
    q = model.q
    w_tail = np.where(v < q, (q - v) / (1.0 - v), 0.0)
    m2 = np.zeros_like(v)
    m4 = np.zeros_like(v)
    has_tail = v < q
    if has_tail.any():
        vt, at = v[has_tail], a[has_tail]
        r = q / vt  # (X / t) = (V / v)**(-1/a), V uniform on (v, q): v / (q - v) * int_1^{q/v} y^(-p/a) dy
        for p, out in ((2.0, m2), (4.0, m4)):
            out[has_tail] = vt / (q - vt) * _pareto_moment(r, p / at)
    if model.body_n:  # q < 1
        b2, b4 = _body_moments(model, _body_index(model, np.maximum(v, q)))
        w_body = 1.0 - w_tail
        m2 = w_tail * m2 + w_body * b2 / t**2
        m4 = w_tail * m4 + w_body * b4 / t**4
    return m2, m4


def _exponents_block(model: TailModel, gen: np.random.Generator, reps: int, K: int, ks: np.ndarray) -> np.ndarray:
    """Measured decay exponents of ``reps`` model samples of size n at the grid ``ks`` (K values drawn exactly)."""
    n = model.n
    a = _alphas(model, gen, reps)
    g = np.cumsum(gen.standard_exponential((reps, K)), axis=1)
    g_total = g[:, -1] + gen.standard_gamma(n + 1 - K, reps)
    v = g / g_total[:, None]  # upper-tail probabilities of the K largest, increasing
    x = _quantile(model, v, a)  # descending along each row
    t = x[:, -1].copy()  # the cutoff: the K-th largest
    t[t <= 0] = 1.0
    sq = (x / t[:, None]) ** 2
    suffix = np.cumsum(sq[:, ::-1], axis=1)[:, ::-1]  # suffix[:, i] = sum over the values ranked > i
    rest = np.zeros(reps)
    if n > K:
        m2, m4 = _rest_moments(model, v[:, -1], a, t)
        var = np.maximum(m4 - m2 * m2, 0.0) * (n - K)
        rest = np.maximum((n - K) * m2 + np.sqrt(var) * gen.standard_normal(reps), 0.0)
    sig2 = rest[:, None] + suffix[:, ks]  # sigma_k^2 / t^2 at the grid
    with np.errstate(divide="ignore"):
        lv = 0.5 * np.log(sig2)
    lk = np.log(ks.astype(np.float64))
    dk = lk - lk.mean()
    slope = ((lv - lv.mean(axis=1, keepdims=True)) @ dk) / float(dk @ dk)
    out = -slope
    out[~np.all(np.isfinite(lv), axis=1)] = math.nan  # exactly sparse inside the window: no power-law fit
    return out


def _exponents(model: TailModel, gen: np.random.Generator, reps: int, k_min: int, k_max: int) -> np.ndarray:
    """Measured decay exponents of ``reps`` model samples of size n (the window ``[k_min, k_max]``).

    Replicates run in blocks of about :data:`_BLOCK_VALUES` drawn values (bounded memory); the block size depends
    on n and the window only, so the stream of random numbers, and the result, are fixed by the seed.
    """
    K = min(model.n, max(_MIN_TOP, TOP_FACTOR * k_max))
    ks = decay_grid(k_min, k_max)
    rows = max(1, _BLOCK_VALUES // K)
    return np.concatenate([_exponents_block(model, gen, min(rows, reps - s), K, ks) for s in range(0, reps, rows)])


def bootstrap_decay(
    model: TailModel,
    k_min: int,
    k_max: int,
    *,
    seed: Any,
    level: float = DECAY_LEVEL,
    replicates: int = BOOT_REPLICATES,
) -> DecayBootstrap:
    """Mean and central ``level`` interval of the measured decay exponent of model samples of size ``model.n``.

    Parameters
    ----------
    model : TailModel
        From :func:`tail_model`.
    k_min, k_max : int
        The measurement's window (``1 <= k_min < k_max < n``).
    seed : int, sequence of int or numpy.random.SeedSequence
        Root of the replicates' random numbers (derive it from the case seed or from the data, never from the
        worker or the order of execution).
    level : float, default 0.95
        Nominal coverage, in (0, 1).
    replicates : int, default 400
        Bootstrap replicates (>= 20).

    Returns
    -------
    DecayBootstrap
        ``mean``, ``lo``, ``hi`` (the ``(1 -+ level) / 2`` quantiles, linear interpolation), ``level``,
        ``replicates`` (those that gave an exponent). NaN when fewer than half of them did.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).random(10_000) ** (-1 / 1.0)  # Pareto, alpha = 1
    >>> b = bootstrap_decay(tail_model(x, 1.0, 1.0, 10_000, k_max=100), 10, 100, seed=1)
    >>> bool(b.lo < 0.5 < b.hi)
    True
    """
    level = check_real(level, "level", low=0.0, high=1.0, closed="neither")
    replicates = check_int(replicates, "replicates", low=20)
    if not 1 <= k_min < k_max < model.n:
        raise ValueError(f"the window must satisfy 1 <= k_min < k_max < n = {model.n}; got [{k_min}, {k_max}]")
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    exps = _exponents(model, np.random.default_rng(ss), replicates, k_min, k_max)
    good = exps[np.isfinite(exps)]
    if good.size < replicates / 2:
        return DecayBootstrap(math.nan, math.nan, math.nan, level, int(good.size))
    lo, hi = np.quantile(good, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return DecayBootstrap(float(good.mean()), float(lo), float(hi), level, int(good.size))
