"""Random and deterministic vectors with a known tail index (or a known light tail).

``alpha`` is the survival tail index, P(|X| > t) ~ t**(-alpha). Every generator takes keyword-only
``rng`` (None, an int seed or a ``numpy.random.Generator``), ``xp`` (None for NumPy, or a namespace module
such as ``cupy``, ``torch`` or ``array_api_strict``) and ``dtype`` (default float64). Numbers are drawn on the host in
float64, so the same seed gives the same values on every backend, then cast and moved to ``xp``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sparsity._checks import as_generator, check_int, check_real
from sparsity.synthetic._common import check_size, finish, resolve_backend
from sparsity.synthetic._stable import standard_stable_s1

__all__ = [
    "gaussian",
    "generalized_gaussian",
    "laplace",
    "lognormal",
    "pareto",
    "power_law_sequence",
    "sparse_plus_noise",
    "stable",
    "student_t",
]

Size = int | tuple[int, ...]


def stable(
    alpha: float,
    size: Size,
    *,
    beta: float = 0.0,
    scale: float = 1.0,
    loc: float = 0.0,
    rng: Any = None,
    xp: Any = None,
    dtype: Any = None,
) -> Any:
    """Alpha-stable draws (Chambers-Mallows-Stuck) in the S1 parameterisation of ``scipy.stats.levy_stable``.

    Tail index: ``alpha`` for ``alpha < 2`` (P(|X| > t) ~ c t^-alpha); ``alpha = 2`` is the Gaussian
    N(loc, 2 scale^2), a light tail. With ``beta = +1`` (``-1``) the left (right) tail is light and the whole
    power-law tail is on the other side; for ``alpha < 1`` the support is then a half-line.

    The standard variable ``Z`` has characteristic function
    ``exp(-|t|^alpha [1 - i beta sign(t) Phi])`` with ``Phi = tan(pi alpha / 2)`` (``alpha != 1``) or
    ``Phi = -(2/pi) log|t|`` (``alpha = 1``); the result is ``scale Z + loc`` for ``alpha != 1`` and
    ``scale Z + loc + (2/pi) beta scale log(scale)`` for ``alpha = 1``, exactly as
    ``scipy.stats.levy_stable(alpha, beta, loc, scale)`` with its default S1 parameterisation.

    Parameters
    ----------
    alpha : float
        Stability index, 0 < alpha <= 2.
    size : int or tuple of int
        Output shape.
    beta : float, default 0.0
        Skewness, -1 <= beta <= 1.
    scale : float, default 1.0
        Scale > 0.
    loc : float, default 0.0
        Location.
    rng : None, int or numpy.random.Generator
        Source of randomness.
    xp : module, optional
        Output namespace (NumPy when None).
    dtype : dtype, optional
        Real floating output dtype (float64 when None).

    Returns
    -------
    x : array of shape ``size``

    References
    ----------
    .. [1] J. M. Chambers, C. L. Mallows, B. W. Stuck, "A method for simulating stable random variables",
       JASA 71 (1976) 340-344.
    .. [2] R. Weron, "On the Chambers-Mallows-Stuck method for simulating skewed stable random variables",
       Statist. Probab. Lett. 28 (1996) 165-171.
    .. [3] J. P. Nolan, "Univariate Stable Distributions", Springer (2020), Definition 1.8.

    Examples
    --------
    >>> from sparsity import synthetic
    >>> x = synthetic.stable(1.5, 1000, beta=0.5, rng=0)
    >>> x.shape
    (1000,)
    """
    a = check_real(alpha, "alpha", low=0.0, high=2.0, closed="right")
    b = check_real(beta, "beta", low=-1.0, high=1.0)
    c = check_real(scale, "scale", low=0.0, closed="neither")
    mu = check_real(loc, "loc")
    shape = check_size(size)
    ns, dt, np_dt = resolve_backend(xp, dtype)
    z = standard_stable_s1(a, b, shape, as_generator(rng))
    if c != 1.0:
        z *= c
    shift = mu + (2.0 / math.pi * b * c * math.log(c) if a == 1.0 else 0.0)
    if shift != 0.0:
        z += shift
    return finish(z, ns, dt, np_dt, what="stable")


def pareto(
    alpha: float,
    size: Size,
    *,
    xmin: float = 1.0,
    symmetric: bool = False,
    rng: Any = None,
    xp: Any = None,
    dtype: Any = None,
) -> Any:
    """True Pareto draws ``xmin * U**(-1/alpha)``, U uniform on (0, 1]: survival ``(x / xmin)^-alpha``.

    Tail index: exactly ``alpha`` for all x >= xmin (density exponent ``alpha + 1``). This is not NumPy's
    ``Generator.pareto(alpha)``, which draws the Lomax law: this Pareto with ``xmin = 1`` shifted to start at 0
    (``X - 1``), same tail index but a different law near 0. With ``symmetric=True`` each draw gets an
    independent random sign, so ``|X|`` is Pareto.

    Parameters
    ----------
    alpha : float
        Tail index > 0.
    size : int or tuple of int
        Output shape.
    xmin : float, default 1.0
        Lower bound of the support (of ``|X|`` when symmetric), > 0.
    symmetric : bool, default False
        Attach independent random signs.
    rng, xp, dtype
        As in :func:`stable`.

    Returns
    -------
    x : array of shape ``size``

    Examples
    --------
    >>> from sparsity import synthetic
    >>> bool((synthetic.pareto(1.5, 100, xmin=2.0, rng=1) >= 2.0).all())
    True
    """
    a = check_real(alpha, "alpha", low=0.0, closed="neither")
    x0 = check_real(xmin, "xmin", low=0.0, closed="neither")
    shape = check_size(size)
    ns, dt, np_dt = resolve_backend(xp, dtype)
    gen = as_generator(rng)
    u = 1.0 - gen.random(size=shape)  # (0, 1]
    with np.errstate(over="ignore"):
        x = np.power(u, -1.0 / a, out=u)
    x *= x0
    if symmetric:
        _random_signs(x, gen)
    return finish(x, ns, dt, np_dt, what="pareto")


def student_t(df: float, size: Size, *, scale: float = 1.0, rng: Any = None, xp: Any = None, dtype: Any = None) -> Any:
    """Student-t draws ``scale * T`` with ``df`` degrees of freedom.

    Tail index: exactly ``df`` (P(|T| > t) ~ c t^-df), on both sides.

    Parameters
    ----------
    df : float
        Degrees of freedom > 0.
    size : int or tuple of int
        Output shape.
    scale : float, default 1.0
        Scale > 0.
    rng, xp, dtype
        As in :func:`stable`.

    Returns
    -------
    x : array of shape ``size``

    Examples
    --------
    >>> from sparsity import synthetic
    >>> synthetic.student_t(3.0, (2, 5), rng=0).shape
    (2, 5)
    """
    nu = check_real(df, "df", low=0.0, closed="neither")
    c = check_real(scale, "scale", low=0.0, closed="neither")
    shape = check_size(size)
    ns, dt, np_dt = resolve_backend(xp, dtype)
    x = as_generator(rng).standard_t(nu, size=shape)
    x *= c
    return finish(x, ns, dt, np_dt, what="student_t")


def gaussian(
    size: Size, *, scale: float = 1.0, loc: float = 0.0, rng: Any = None, xp: Any = None, dtype: Any = None
) -> Any:
    """Gaussian draws N(loc, scale^2). Light tail: all moments finite (tail index infinite).

    Parameters
    ----------
    size : int or tuple of int
        Output shape.
    scale : float, default 1.0
        Standard deviation > 0.
    loc : float, default 0.0
        Mean.
    rng, xp, dtype
        As in :func:`stable`.

    Returns
    -------
    x : array of shape ``size``

    Examples
    --------
    >>> from sparsity import synthetic
    >>> synthetic.gaussian(4, rng=0).shape
    (4,)
    """
    c = check_real(scale, "scale", low=0.0, closed="neither")
    mu = check_real(loc, "loc")
    shape = check_size(size)
    ns, dt, np_dt = resolve_backend(xp, dtype)
    x = as_generator(rng).standard_normal(size=shape)
    x *= c
    x += mu
    return finish(x, ns, dt, np_dt, what="gaussian")


def laplace(
    size: Size, *, scale: float = 1.0, loc: float = 0.0, rng: Any = None, xp: Any = None, dtype: Any = None
) -> Any:
    """Laplace draws with density ``exp(-|x - loc| / scale) / (2 scale)``. Light (exponential) tail.

    Parameters
    ----------
    size : int or tuple of int
        Output shape.
    scale : float, default 1.0
        Scale > 0.
    loc : float, default 0.0
        Location.
    rng, xp, dtype
        As in :func:`stable`.

    Returns
    -------
    x : array of shape ``size``

    Examples
    --------
    >>> from sparsity import synthetic
    >>> synthetic.laplace(3, rng=0).shape
    (3,)
    """
    c = check_real(scale, "scale", low=0.0, closed="neither")
    mu = check_real(loc, "loc")
    shape = check_size(size)
    ns, dt, np_dt = resolve_backend(xp, dtype)
    x = as_generator(rng).laplace(loc=mu, scale=c, size=shape)
    return finish(x, ns, dt, np_dt, what="laplace")


def generalized_gaussian(
    shape: float, size: Size, *, scale: float = 1.0, rng: Any = None, xp: Any = None, dtype: Any = None
) -> Any:
    """Generalized Gaussian draws, density ``shape / (2 scale Gamma(1/shape)) exp(-|x / scale|^shape)``.

    Light tail for every ``shape > 0`` (all moments finite, tail index infinite); ``shape = 2`` is
    N(0, scale^2 / 2), ``shape = 1`` is Laplace, ``shape < 1`` is stretched-exponential. Same law as
    ``scipy.stats.gennorm(shape, scale=scale)``. Sampled as ``scale * G^(1/shape)`` with
    ``G ~ Gamma(1/shape)`` and a random sign.

    Parameters
    ----------
    shape : float
        Shape exponent > 0.
    size : int or tuple of int
        Output shape.
    scale : float, default 1.0
        Scale > 0.
    rng, xp, dtype
        As in :func:`stable`.

    Returns
    -------
    x : array of shape ``size``

    Examples
    --------
    >>> from sparsity import synthetic
    >>> synthetic.generalized_gaussian(0.5, 10, rng=0).shape
    (10,)
    """
    p = check_real(shape, "shape", low=0.0, closed="neither")
    c = check_real(scale, "scale", low=0.0, closed="neither")
    out_shape = check_size(size)
    ns, dt, np_dt = resolve_backend(xp, dtype)
    gen = as_generator(rng)
    g = gen.standard_gamma(1.0 / p, size=out_shape)
    with np.errstate(over="ignore"):
        x = np.power(g, 1.0 / p, out=g)
    x *= c
    _random_signs(x, gen)
    return finish(x, ns, dt, np_dt, what="generalized_gaussian")


def lognormal(
    size: Size, *, sigma: float = 1.0, mu: float = 0.0, rng: Any = None, xp: Any = None, dtype: Any = None
) -> Any:
    """Log-normal draws ``exp(mu + sigma N(0, 1))``.

    Tail index infinite (all moments finite), but the tail is subexponential: over a finite range it looks
    like a power law with a slowly drifting exponent, the classic false positive of power-law fits.

    Parameters
    ----------
    size : int or tuple of int
        Output shape.
    sigma : float, default 1.0
        Standard deviation of ``log X``, > 0.
    mu : float, default 0.0
        Mean of ``log X``.
    rng, xp, dtype
        As in :func:`stable`.

    Returns
    -------
    x : array of shape ``size``

    Examples
    --------
    >>> from sparsity import synthetic
    >>> bool((synthetic.lognormal(5, rng=0) > 0).all())
    True
    """
    s = check_real(sigma, "sigma", low=0.0, closed="neither")
    m = check_real(mu, "mu")
    shape = check_size(size)
    ns, dt, np_dt = resolve_backend(xp, dtype)
    with np.errstate(over="ignore"):
        x = as_generator(rng).lognormal(mean=m, sigma=s, size=shape)
    return finish(x, ns, dt, np_dt, what="lognormal")


def power_law_sequence(alpha: float, n: int, *, scale: float = 1.0, xp: Any = None, dtype: Any = None) -> Any:
    """Deterministic decreasing sequence ``scale * k^(-1/alpha)``, k = 1..n.

    Its rank-size plot is exactly that of a sample with tail index ``alpha``: the k-th largest of n Pareto
    draws behaves like ``(n / k)^(1/alpha)``. The best-k l_p error then decays as ``k^(1/p - 1/alpha)`` for
    ``alpha < p``.

    Parameters
    ----------
    alpha : float
        Tail index > 0.
    n : int
        Length >= 1.
    scale : float, default 1.0
        First (largest) value, > 0.
    xp, dtype
        As in :func:`stable`.

    Returns
    -------
    x : array of shape (n,)

    Examples
    --------
    >>> from sparsity import synthetic
    >>> synthetic.power_law_sequence(2.0, 4).tolist()
    [1.0, 0.7071067811865476, 0.5773502691896257, 0.5]
    """
    a = check_real(alpha, "alpha", low=0.0, closed="neither")
    length = check_int(n, "n", low=1)
    c = check_real(scale, "scale", low=0.0, closed="neither")
    ns, dt, np_dt = resolve_backend(xp, dtype)
    x = np.arange(1, length + 1, dtype=np.float64) ** (-1.0 / a)
    x *= c
    return finish(x, ns, dt, np_dt, what="power_law_sequence")


def sparse_plus_noise(
    n: int,
    k: int,
    noise_scale: float,
    *,
    amplitude: float = 1.0,
    rng: Any = None,
    xp: Any = None,
    dtype: Any = None,
) -> Any:
    """Exactly k-sparse signal plus Gaussian noise: ``amplitude * s + noise_scale * N(0, I_n)``.

    ``s`` has ``k`` entries equal to +-1 (independent random signs) at uniformly random positions and zeros
    elsewhere. Light tail (the noise is Gaussian); with ``noise_scale = 0`` the vector is exactly k-sparse, so
    its best-k error is 0 and its best-(k-1) error is ``amplitude``.

    Parameters
    ----------
    n : int
        Length >= 1.
    k : int
        Number of nonzero entries, 0 <= k <= n.
    noise_scale : float
        Standard deviation of the noise, >= 0.
    amplitude : float, default 1.0
        Magnitude of the nonzero entries, > 0.
    rng, xp, dtype
        As in :func:`stable`.

    Returns
    -------
    x : array of shape (n,)

    Examples
    --------
    >>> from sparsity import synthetic
    >>> x = synthetic.sparse_plus_noise(100, 5, 0.0, rng=0)
    >>> int((x != 0).sum())
    5
    """
    length = check_int(n, "n", low=1)
    kk = check_int(k, "k", low=0)
    if kk > length:
        raise ValueError(f"k must satisfy 0 <= k <= n = {length}; got {k!r}")
    sd = check_real(noise_scale, "noise_scale", low=0.0)
    amp = check_real(amplitude, "amplitude", low=0.0, closed="neither")
    ns, dt, np_dt = resolve_backend(xp, dtype)
    gen = as_generator(rng)
    x = gen.standard_normal(size=length)
    x *= sd
    idx = gen.choice(length, size=kk, replace=False)
    x[idx] += amp * np.where(gen.random(size=kk) < 0.5, -1.0, 1.0)
    return finish(x, ns, dt, np_dt, what="sparse_plus_noise")


def _random_signs(x: np.ndarray, gen: np.random.Generator) -> None:
    """Multiply ``x`` in place by independent fair random signs."""
    flip = gen.random(size=x.shape) < 0.5
    np.negative(x, out=x, where=flip)
