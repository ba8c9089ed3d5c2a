"""Goodness of fit for the CSN power-law tail: bootstrap p-value and Vuong likelihood-ratio tests.

``alpha`` is the survival tail index (P(X > t) ~ t**(-alpha)); ``alpha_density = alpha + 1``.

- :func:`power_law_pvalue`: Clauset, Shalizi & Newman (2009, section 4.1) semi-parametric bootstrap. Each
  synthetic sample has the size of the data; each value is, with probability ``n_tail / n``, a draw from the
  fitted power law above ``xmin`` and otherwise a uniform draw from the observed values below ``xmin``. Every
  synthetic sample is fitted exactly as the data were (``xmin`` re-chosen unless fixed); ``p`` is the fraction
  of synthetic KS distances at least as large as the observed one. ``p < 0.1`` rejects the power law.
- :func:`likelihood_ratio_test`: Vuong (1989) test of the power law against a lognormal or an exponential,
  both fitted by exact maximum likelihood to the same tail (conditioned on ``x >= xmin``). ``R`` is the sum of
  pointwise log-likelihood ratios (positive favours the power law), ``p = erfc(|R| / sqrt(2 n var))`` the
  significance of its sign, as in ``powerlaw``'s ``distribution_compare``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy import special

from sparsity._checks import as_generator, check_bool, check_choice, check_int, check_real
from sparsity.tails._csn import csn_method
from sparsity.tails._fit import TailFit, fit_tail
from sparsity.tails._magnitudes import sorted_nonzero_magnitudes

__all__ = ["LikelihoodRatioTest", "PowerLawPValue", "likelihood_ratio_test", "power_law_pvalue"]


@dataclass(frozen=True)
class PowerLawPValue:
    """Result of :func:`power_law_pvalue`.

    Attributes
    ----------
    p_value : float
        Fraction of synthetic KS distances >= the observed one.
    ks_distance : float
        Observed KS distance of the fit.
    n_boot : int
        Synthetic samples drawn.
    ks_boot : ndarray of shape (n_boot,)
        Their KS distances.
    fit : TailFit
        The CSN fit of the data.
    """

    p_value: float
    ks_distance: float
    n_boot: int
    ks_boot: np.ndarray = field(repr=False)
    fit: TailFit = field(repr=False)


@dataclass(frozen=True)
class LikelihoodRatioTest:
    """Result of :func:`likelihood_ratio_test` (power law versus ``alternative``).

    Attributes
    ----------
    alternative : str
        ``"lognormal"`` or ``"exponential"``.
    R : float
        Sum over the tail of ``log p_powerlaw(x) - log p_alternative(x)``; positive favours the power law.
    normalized_R : float
        ``R / sqrt(n_tail * var)``, asymptotically standard normal under the null of equal fits.
    p_value : float
        ``erfc(|R| / sqrt(2 n_tail var))``: significance of the sign of ``R``.
    n_tail : int
        Tail size used.
    alternative_params : dict
        MLE of the alternative (``mu, sigma`` or ``lambda``).
    fit : TailFit
        The power-law fit.
    """

    alternative: str
    R: float
    normalized_R: float
    p_value: float
    n_tail: int
    alternative_params: dict[str, float]
    fit: TailFit = field(repr=False)


# ------------------------------------------------------------------------------------------- sampling

_SAMPLE_MAX = 1e300
"""Largest discrete draw (integers beyond 2**53 are not exact in float64 anyway; 1e300 keeps logs finite)."""


def _sample_discrete(a: float, xmin: float, xmax: float | None, size: int, rng: np.random.Generator) -> np.ndarray:
    """Exact discrete power-law draws (density exponent ``a``) by integer bisection of the survival function."""
    z0 = special.zeta(a, xmin)
    ztop = 0.0 if xmax is None else special.zeta(a, xmax + 1.0)
    norm = z0 - ztop
    u = 1.0 - rng.random(size)  # (0, 1]

    def surv(x: np.ndarray) -> np.ndarray:  # P(X > x)
        return (special.zeta(a, x + 1.0) - ztop) / norm

    lo = np.full(size, xmin - 1.0)  # surv(lo) = 1 >= u
    hi = np.full(size, xmin)
    cap = min(np.inf if xmax is None else float(xmax), _SAMPLE_MAX)
    while True:
        grow = (surv(hi) > u) & (hi < cap)
        if not grow.any():
            break
        lo = np.where(grow, hi, lo)
        hi = np.where(grow, np.minimum(np.maximum(2.0 * hi, hi + 1.0), cap), hi)
    beyond = surv(hi) > u  # draws above the largest representable sample: they stay at it
    if beyond.any():
        warnings.warn(
            f"discrete power-law sampler: {int(beyond.sum())} of {size} draws exceed {_SAMPLE_MAX:.3g} (alpha_density "
            f"= {a!r} puts P(X > {_SAMPLE_MAX:.3g}) = {float(surv(np.float64(_SAMPLE_MAX))):.3g}); they are set "
            f"to {_SAMPLE_MAX:.3g}",
            UserWarning,
            stacklevel=4,
        )
    while True:
        mid = np.floor((lo + hi) / 2.0)
        # beyond 2**53 neighbouring floats differ by more than 1 and mid may round onto lo or hi: stop there
        gap = (hi - lo > 1) & (mid > lo) & (mid < hi)
        if not gap.any():
            return hi
        big = surv(mid) > u
        lo = np.where(gap & big, mid, lo)
        hi = np.where(gap & ~big, mid, hi)


def _sample_tail(fit: TailFit, size: int, rng: np.random.Generator) -> np.ndarray:
    if fit.discrete:
        return _sample_discrete(fit.alpha_density, fit.xmin, fit.xmax, size, rng)
    u = 1.0 - rng.random(size)
    if fit.xmax is None:
        return fit.xmin * u ** (-1.0 / fit.alpha)
    keep = -np.expm1(-fit.alpha * math.log(fit.xmax / fit.xmin))
    return fit.xmin * (1.0 - (1.0 - u) * keep) ** (-1.0 / fit.alpha)


def power_law_pvalue(
    x: Any,
    *,
    discrete: bool = False,
    xmin: float | None = None,
    xmax: float | None = None,
    min_tail: int = 3,
    n_boot: int = 1000,
    rng: int | np.random.Generator | None = None,
) -> PowerLawPValue:
    """CSN semi-parametric bootstrap p-value of the power-law tail fitted by ``fit_tail(x, "csn")``.

    Parameters
    ----------
    x : array_like
        Data (magnitudes are taken, zeros excluded), as for :func:`sparsity.fit_tail`.
    discrete, xmin, xmax, min_tail
        Options of the CSN fit, used for the data and for every synthetic sample.
    n_boot : int
        Synthetic samples; the p-value has Monte-Carlo standard error ``sqrt(p (1 - p) / n_boot)`` (CSN
        recommend 2500 for two-decimal accuracy).
    rng : None, int or numpy.random.Generator
        Randomness for the synthetic samples.

    Returns
    -------
    PowerLawPValue

    References
    ----------
    A. Clauset, C. R. Shalizi, M. E. J. Newman, SIAM Review 51(4), 661-703 (2009), section 4.1.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).random(500) ** (-1 / 1.5)
    >>> res = power_law_pvalue(x, n_boot=50, rng=1)
    >>> res.p_value > 0.1
    True
    """
    n_boot = check_int(n_boot, "n_boot", low=1)
    gen = as_generator(rng)
    fit = fit_tail(x, "csn", discrete=discrete, xmin=xmin, xmax=xmax, min_tail=min_tail)
    mags = sorted_nonzero_magnitudes(x, "x")
    xmin_v = check_real(xmin, "xmin", low=0.0, closed="neither", allow_none=True)
    data = mags.values if fit.xmax is None else mags.values[mags.values <= fit.xmax]
    body = data[data < fit.xmin]
    n = data.size
    ks = np.empty(n_boot)
    for b in range(n_boot):
        n_tail = int(gen.binomial(n, fit.n_tail / n))
        n_body = n - n_tail
        parts = [_sample_tail(fit, n_tail, gen)]
        if n_body:
            parts.append(gen.choice(body, n_body, replace=True))
        syn = np.sort(np.concatenate(parts))
        res = csn_method(
            syn,
            discrete=fit.discrete,
            xmin=xmin_v,
            xmax=fit.xmax,
            min_tail=min_tail,
            scan="pruned",
            xp=mags.xp,
        )
        ks[b] = res.ks_distance
    p = float(np.mean(ks >= fit.ks_distance))
    return PowerLawPValue(p, fit.ks_distance, n_boot, ks, fit)


# --------------------------------------------------------------------------------- likelihood ratios


def _ll_powerlaw(t: np.ndarray, fit: TailFit) -> np.ndarray:
    if fit.discrete:
        return -fit.alpha_density * np.log(t) - math.log(special.zeta(fit.alpha_density, fit.xmin))
    a = fit.alpha
    return math.log(a) + a * math.log(fit.xmin) - (a + 1.0) * np.log(t)


def _ll_exponential(t: np.ndarray, xmin: float, discrete: bool) -> tuple[np.ndarray, dict[str, float]]:
    """Exponential conditioned on x >= xmin (discrete: geometric on xmin, xmin+1, ...); closed-form MLE."""
    mbar = float(np.mean(t - xmin))
    if mbar <= 0:
        raise ValueError("the tail has a single distinct value; the exponential alternative is degenerate")
    if discrete:
        q = mbar / (1.0 + mbar)  # e^{-lambda}
        lam = -math.log(q)
        return math.log1p(-q) - lam * (t - xmin), {"lambda": lam}
    lam = 1.0 / mbar
    return math.log(lam) - lam * (t - xmin), {"lambda": lam}


_LOG_SQRT_2PI = float(np.log(np.sqrt(2 * np.pi)))  # as scipy.stats.norm.logpdf computes it (bitwise the same)


def _ll_lognormal(t: np.ndarray, xmin: float) -> tuple[np.ndarray, dict[str, float]]:
    """Lognormal conditioned on x >= xmin; exact MLE of (mu, log sigma) by BFGS with the analytic gradient."""
    lt = np.log(t)
    l0 = math.log(xmin)
    m = lt.size

    def negll(theta: np.ndarray) -> tuple[float, np.ndarray]:
        mu, s = float(theta[0]), float(theta[1])
        sig = math.exp(s)
        u = (lt - mu) / sig
        z0 = (l0 - mu) / sig
        logsf = float(special.log_ndtr(-z0))
        h = math.exp(-(z0**2) / 2.0 - _LOG_SQRT_2PI - logsf)  # inverse Mills ratio (normal log-pdf at z0)
        ll = -m * s - 0.5 * float(np.dot(u, u)) - m * logsf
        g_mu = (float(np.sum(u)) - m * h) / sig
        g_s = float(np.dot(u, u)) - m - m * h * z0
        return -ll, -np.array([g_mu, g_s])

    from scipy import optimize  # on first use: `import sparsity` need not pay ~0.1 s for scipy.optimize

    start = np.array([float(np.mean(lt)), math.log(max(float(np.std(lt)), 1e-3))])
    res = optimize.minimize(negll, start, jac=True, method="BFGS", options={"gtol": 1e-9, "maxiter": 2000})
    mu, sig = float(res.x[0]), math.exp(float(res.x[1]))
    z0 = (l0 - mu) / sig
    ll = -lt - math.log(sig) - 0.5 * math.log(2 * math.pi) - 0.5 * ((lt - mu) / sig) ** 2 - float(special.log_ndtr(-z0))
    return ll, {"mu": mu, "sigma": sig, "converged": float(res.success)}


def likelihood_ratio_test(
    x: Any,
    alternative: Literal["lognormal", "exponential"] = "lognormal",
    *,
    discrete: bool = False,
    xmin: float | None = None,
    min_tail: int = 3,
) -> LikelihoodRatioTest:
    r"""Vuong likelihood-ratio test of the CSN power-law tail against a lognormal or exponential tail.

    The power law is ``fit_tail(x, "csn", ...)`` (``alpha`` survival index, density exponent ``alpha + 1``);
    the alternative is fitted by exact maximum likelihood to the same tail ``x >= xmin``, conditioned on it.
    With pointwise log-likelihood ratios :math:`\ell_i`,

    .. math:: R = \sum_i \ell_i, \quad \sigma^2 = \frac1n\sum_i(\ell_i - \bar\ell)^2, \quad
              p = \operatorname{erfc}\big(|R| / \sqrt{2 n \sigma^2}\big).

    ``R > 0`` favours the power law; the sign is significant when ``p`` is small (e.g. < 0.1).

    Parameters
    ----------
    x : array_like
        Data (magnitudes, zeros excluded).
    alternative : {"lognormal", "exponential"}
        Competing tail model (``"lognormal"`` is continuous only).
    discrete, xmin, min_tail
        Options of the CSN fit.

    Returns
    -------
    LikelihoodRatioTest

    References
    ----------
    Q. H. Vuong, "Likelihood ratio tests for model selection and non-nested hypotheses", Econometrica 57(2),
    307-333 (1989); Clauset et al. (2009), section 5.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).random(2000) ** (-1 / 1.5)
    >>> likelihood_ratio_test(x, "exponential").R > 0
    True
    """
    alternative = check_choice(alternative, "alternative", ("lognormal", "exponential"))
    if check_bool(discrete, "discrete") and alternative == "lognormal":
        raise ValueError("alternative='lognormal' is continuous only; use discrete=False or 'exponential'")
    fit = fit_tail(x, "csn", discrete=discrete, xmin=xmin, min_tail=min_tail)
    mags = sorted_nonzero_magnitudes(x, "x").values
    t = mags[mags >= fit.xmin]
    ll_pl = _ll_powerlaw(t, fit)
    if alternative == "exponential":
        ll_alt, params = _ll_exponential(t, fit.xmin, discrete)
    else:
        ll_alt, params = _ll_lognormal(t, fit.xmin)
    d = ll_pl - ll_alt
    n = d.size
    R = float(np.sum(d))
    var = float(np.mean((d - d.mean()) ** 2))
    if var > 0:
        p = float(special.erfc(abs(R) / math.sqrt(2 * n * var)))
        nr = R / math.sqrt(n * var)
    else:
        p, nr = 1.0, 0.0
    return LikelihoodRatioTest(alternative, R, nr, p, n, params, fit)
