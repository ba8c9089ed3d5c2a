"""Random matrices (n x m) with known spectra: Marchenko-Pastur noise, heavy-tailed entries, BBP spikes,
and prescribed singular values with Haar-random singular vectors.

Convention for the noise scale: ``gaussian_matrix(n, m)`` is ``X / sqrt(m)`` with X an n x m matrix of iid
N(0, 1) entries (entry variance ``1 / m``), so with ``gamma = n / m`` its ``min(n, m)`` nonzero singular values
fill ``[|1 - sqrt(gamma)|, 1 + sqrt(gamma)]`` as n, m grow. (In WeightWatcher's unnormalised eigenvalue
convention for entries of variance ``sigma^2`` this is ``sigma^2 (sqrt(n) +- sqrt(m))^2``.)
Generators take keyword-only ``rng``, ``xp`` and ``dtype`` as in :mod:`sparsity.synthetic.vectors`; matrices
are built on the host in float64, then cast and moved to ``xp``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from sparsity._array_api import to_numpy
from sparsity.synthetic._common import as_generator, check_count, check_real, finish, resolve_backend
from sparsity.synthetic._haar import haar_columns, orthogonal_spectrum
from sparsity.synthetic._stable import standard_stable_s1

__all__ = [
    "bbp_outlier",
    "bbp_threshold",
    "gaussian_matrix",
    "levy_matrix",
    "marchenko_pastur_edges",
    "power_law_spectrum",
    "spectrum_matrix",
    "spiked_matrix",
]


def gaussian_matrix(n: int, m: int, *, sigma: float = 1.0, rng: Any = None, xp: Any = None, dtype: Any = None) -> Any:
    """Gaussian noise matrix ``sigma X / sqrt(m)``, X with iid N(0, 1) entries.

    Its singular values fill ``marchenko_pastur_edges(n, m, sigma)``; entries have a light tail.

    Parameters
    ----------
    n, m : int
        Shape (n rows, m columns), each >= 1.
    sigma : float, default 1.0
        Noise level > 0 (entry standard deviation ``sigma / sqrt(m)``).
    rng : None, int or numpy.random.Generator
        Source of randomness.
    xp : module, optional
        Output namespace (NumPy when None).
    dtype : dtype, optional
        Real floating output dtype (float64 when None).

    Returns
    -------
    W : array of shape (n, m)

    Examples
    --------
    >>> from sparsity import synthetic
    >>> synthetic.gaussian_matrix(3, 5, rng=0).shape
    (3, 5)
    """
    rows, cols = check_count(n, "n"), check_count(m, "m")
    s = check_real(sigma, "sigma", low=0.0, low_open=True)
    ns, dt, np_dt = resolve_backend(xp, dtype)
    w = as_generator(rng).standard_normal(size=(rows, cols))
    w *= s / math.sqrt(cols)
    return finish(w, ns, dt, np_dt, what="gaussian_matrix")


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
    rows, cols = check_count(n, "n"), check_count(m, "m")
    s = check_real(sigma, "sigma", low=0.0, low_open=True)
    if kind not in ("singular", "eigen"):
        raise ValueError(f"kind must be 'singular' or 'eigen'; got {kind!r}")
    rg = math.sqrt(rows / cols)
    lower, upper = s * abs(1.0 - rg), s * (1.0 + rg)
    if kind == "eigen":
        return lower * lower, upper * upper
    return lower, upper


def levy_matrix(
    mu: float,
    n: int,
    m: int,
    *,
    distribution: Literal["pareto", "stable", "student_t"] = "pareto",
    scale: float = 1.0,
    rng: Any = None,
    xp: Any = None,
    dtype: Any = None,
) -> Any:
    """Matrix of iid symmetric heavy-tailed entries with tail index ``mu`` (Martin & Mahoney's classes).

    Martin & Mahoney sort such matrices into universality classes by ``mu``: 0 < mu < 2 very heavy-tailed
    (Levy), 2 < mu < 4 moderately heavy-tailed, mu > 4 weakly heavy-tailed (Marchenko-Pastur-like bulk).
    Entries are not normalised: scale by ``m^(-1/mu)`` (mu < 2) or ``m^(-1/2)`` yourself if needed.

    - ``"pareto"``: ``scale * sign * U^(-1/mu)``, so P(|W_ij| > t) = (t / scale)^(-mu) for t >= scale exactly.
    - ``"stable"``: symmetric S1 stable with index ``mu`` (requires 0 < mu <= 2), ``scale`` its scale.
    - ``"student_t"``: ``scale * T`` with ``mu`` degrees of freedom.

    Parameters
    ----------
    mu : float
        Tail index of the entries, > 0.
    n, m : int
        Shape, each >= 1.
    distribution : {"pareto", "stable", "student_t"}, default "pareto"
        Entry law.
    scale : float, default 1.0
        Scale > 0.
    rng, xp, dtype
        As in :func:`gaussian_matrix`.

    Returns
    -------
    W : array of shape (n, m)

    References
    ----------
    .. [1] C. H. Martin, M. W. Mahoney, "Implicit self-regularization in deep neural networks", JMLR 22 (2021).

    Examples
    --------
    >>> from sparsity import synthetic
    >>> synthetic.levy_matrix(1.5, 4, 6, rng=0).shape
    (4, 6)
    """
    a = check_real(mu, "mu", low=0.0, low_open=True)
    rows, cols = check_count(n, "n"), check_count(m, "m")
    c = check_real(scale, "scale", low=0.0, low_open=True)
    if distribution not in _LEVY_ENTRIES:
        raise ValueError(f"distribution must be one of {sorted(_LEVY_ENTRIES)}; got {distribution!r}")
    if distribution == "stable" and a > 2.0:
        raise ValueError(f"mu must be in (0, 2] for distribution='stable'; got {mu!r}")
    ns, dt, np_dt = resolve_backend(xp, dtype)
    w = _LEVY_ENTRIES[distribution](a, (rows, cols), as_generator(rng))
    w *= c
    return finish(w, ns, dt, np_dt, what="levy_matrix")


def _pareto_entries(mu: float, shape: tuple[int, int], gen: np.random.Generator) -> np.ndarray:
    u = 1.0 - gen.random(size=shape)
    with np.errstate(over="ignore"):
        w = np.power(u, -1.0 / mu, out=u)
    np.negative(w, out=w, where=gen.random(size=shape) < 0.5)
    return w


def _stable_entries(mu: float, shape: tuple[int, int], gen: np.random.Generator) -> np.ndarray:
    return standard_stable_s1(mu, 0.0, shape, gen)


def _t_entries(mu: float, shape: tuple[int, int], gen: np.random.Generator) -> np.ndarray:
    return gen.standard_t(mu, size=shape)


_LEVY_ENTRIES = {"pareto": _pareto_entries, "stable": _stable_entries, "student_t": _t_entries}


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
    rows, cols = check_count(n, "n"), check_count(m, "m")
    s = check_real(sigma, "sigma", low=0.0, low_open=True)
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
    s1 : float or numpy.ndarray
        Same shape as ``theta``.

    Examples
    --------
    >>> from sparsity import synthetic
    >>> round(synthetic.bbp_outlier(2.0, 100, 100), 6)
    2.5
    """
    rows, cols = check_count(n, "n"), check_count(m, "m")
    s = check_real(sigma, "sigma", low=0.0, low_open=True)
    th = np.asarray(to_numpy(theta), dtype=np.float64)
    if not np.all(np.isfinite(th)) or np.any(th < 0):
        raise ValueError(f"theta must be finite and >= 0; got {theta!r}")
    gamma = rows / cols
    t = th / s
    edge = 1.0 + math.sqrt(gamma)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(t > gamma**0.25, np.sqrt((1.0 + t * t) * (gamma + t * t)) / t, edge) * s
    return float(out) if out.ndim == 0 else out


def spiked_matrix(
    n: int,
    m: int,
    theta: float | Sequence[float],
    rank: int = 1,
    *,
    sigma: float = 1.0,
    return_factors: bool = False,
    rng: Any = None,
    xp: Any = None,
    dtype: Any = None,
) -> Any:
    """Low-rank signal plus noise: ``sigma X / sqrt(m) + sum_i theta_i u_i v_i^T`` (BBP spiked model).

    X has iid N(0, 1) entries; ``u`` (n x rank) and ``v`` (m x rank) have orthonormal columns, Haar distributed
    and independent of X. Spikes above :func:`bbp_threshold` give outlier singular values at
    :func:`bbp_outlier`; weaker ones are invisible in the spectrum.

    Parameters
    ----------
    n, m : int
        Shape, each >= 1.
    theta : float or sequence of float
        Spike strength(s) >= 0; a scalar is used for all ``rank`` spikes, a sequence must have length ``rank``.
    rank : int, default 1
        Number of spikes, 1 <= rank <= min(n, m).
    sigma : float, default 1.0
        Noise level > 0.
    return_factors : bool, default False
        Also return ``u`` and ``v``.
    rng, xp, dtype
        As in :func:`gaussian_matrix`.

    Returns
    -------
    W : array of shape (n, m)
    u : array of shape (n, rank)
        Only with ``return_factors``.
    v : array of shape (m, rank)
        Only with ``return_factors``.

    Examples
    --------
    >>> from sparsity import synthetic
    >>> W, u, v = synthetic.spiked_matrix(50, 80, 3.0, rank=2, return_factors=True, rng=0)
    >>> W.shape, u.shape, v.shape
    ((50, 80), (50, 2), (80, 2))
    """
    rows, cols = check_count(n, "n"), check_count(m, "m")
    r = check_count(rank, "rank")
    if r > min(rows, cols):
        raise ValueError(f"rank must satisfy 1 <= rank <= min(n, m) = {min(rows, cols)}; got {rank!r}")
    if isinstance(theta, np.ndarray) and theta.ndim == 0:
        theta = theta.item()
    if isinstance(theta, (Sequence, np.ndarray)) and not isinstance(theta, str):
        thetas = [check_real(t, "theta", low=0.0) for t in theta]
        if len(thetas) != r:
            raise ValueError(f"theta must be a scalar or have length rank = {r}; got length {len(thetas)}")
    else:
        thetas = [check_real(theta, "theta", low=0.0)] * r
    s = check_real(sigma, "sigma", low=0.0, low_open=True)
    ns, dt, np_dt = resolve_backend(xp, dtype)
    gen = as_generator(rng)
    w = gen.standard_normal(size=(rows, cols))
    w *= s / math.sqrt(cols)
    u = haar_columns(gen, rows, r)
    v = haar_columns(gen, cols, r)
    w += (u * np.asarray(thetas)) @ v.T
    out = finish(w, ns, dt, np_dt, what="spiked_matrix")
    if return_factors:
        return out, finish(u, ns, dt, np_dt, what="u"), finish(v, ns, dt, np_dt, what="v")
    return out


def spectrum_matrix(singular_values: Any, n: int, m: int, *, rng: Any = None, xp: Any = None, dtype: Any = None) -> Any:
    """Matrix ``U diag(s) V^T`` with prescribed singular values and Haar-random singular vectors.

    ``U`` (n x k) and ``V`` (m x k), k = len(s), are independent and Haar distributed on their Stiefel manifolds
    (Q of a Gaussian QR with the sign fix of Mezzadri 2007). The Householder reflectors of those Q factors are
    drawn directly (Stewart 1980), V is formed and U is applied without being formed, so a square full-rank
    matrix costs about 10/3 n^3 flops, against 8/3 n^3 for one ``numpy.linalg.qr`` of the same size. If
    ``k < min(n, m)`` the remaining singular values are 0.

    Parameters
    ----------
    singular_values : array_like of shape (k,)
        Finite values >= 0, any order, 0 <= k <= min(n, m).
    n, m : int
        Shape, each >= 1.
    rng, xp, dtype
        As in :func:`gaussian_matrix`.

    Returns
    -------
    W : array of shape (n, m)

    References
    ----------
    .. [1] G. W. Stewart, "The efficient generation of random orthogonal matrices with an application to
       condition estimators", SIAM J. Numer. Anal. 17 (1980) 403-409.
    .. [2] F. Mezzadri, "How to generate random matrices from the classical compact groups", Notices AMS 54
       (2007) 592-604.

    Examples
    --------
    >>> import numpy as np
    >>> from sparsity import synthetic
    >>> W = synthetic.spectrum_matrix([3.0, 2.0, 1.0], 5, 4, rng=0)
    >>> np.allclose(np.linalg.svd(W, compute_uv=False), [3.0, 2.0, 1.0, 0.0])
    True
    """
    rows, cols = check_count(n, "n"), check_count(m, "m")
    s = np.asarray(to_numpy(singular_values))
    if s.dtype.kind not in "biuf":
        raise TypeError(f"singular_values must be a real numeric array; got dtype {s.dtype}")
    if s.ndim != 1:
        raise ValueError(f"singular_values must be one-dimensional; got shape {s.shape}")
    s = s.astype(np.float64)
    if s.size > min(rows, cols):
        raise ValueError(f"singular_values must have length <= min(n, m) = {min(rows, cols)}; got {s.size}")
    if not np.all(np.isfinite(s)) or np.any(s < 0):
        raise ValueError("singular_values must be finite and >= 0; got " + np.array2string(s, threshold=8))
    ns, dt, np_dt = resolve_backend(xp, dtype)
    gen = as_generator(rng)
    w = orthogonal_spectrum(gen, s, rows, cols) if s.size else np.zeros((rows, cols))
    return finish(w, ns, dt, np_dt, what="spectrum_matrix")


def power_law_spectrum(
    k: int,
    *,
    alpha_ww: float | None = None,
    sv_tail_index: float | None = None,
    scale: float = 1.0,
    xp: Any = None,
    dtype: Any = None,
) -> Any:
    """Deterministic singular values (descending) with a power-law tail: Pareto quantiles.

    ``s_i = scale * ((i - 1/2) / k)^(-1/a)``, i = 1..k, are the midpoint quantiles of a Pareto law with survival
    ``(s / scale)^(-a)``, so the singular values have tail index ``a = sv_tail_index`` and the eigenvalues
    ``s^2`` have density exponent ``alpha_ww = a / 2 + 1`` (WeightWatcher's alpha); give exactly one of the two.
    ``alpha_ww = 2`` (a = 2) is the l_2 compressibility threshold. Feed the result to :func:`spectrum_matrix`.

    Parameters
    ----------
    k : int
        Number of singular values >= 1.
    alpha_ww : float, optional
        Eigenvalue density exponent > 1.
    sv_tail_index : float, optional
        Singular-value tail index > 0, ``2 (alpha_ww - 1)``.
    scale : float, default 1.0
        Smallest possible singular value (Pareto xmin), > 0.
    xp, dtype
        As in :func:`gaussian_matrix`.

    Returns
    -------
    s : array of shape (k,)

    Examples
    --------
    >>> from sparsity import synthetic
    >>> synthetic.power_law_spectrum(2, sv_tail_index=1.0).tolist()
    [4.0, 1.3333333333333333]
    """
    count = check_count(k, "k")
    if (alpha_ww is None) == (sv_tail_index is None):
        raise ValueError(
            f"give exactly one of alpha_ww and sv_tail_index; got alpha_ww={alpha_ww!r}, "
            f"sv_tail_index={sv_tail_index!r}"
        )
    if alpha_ww is not None:
        a = 2.0 * (check_real(alpha_ww, "alpha_ww", low=1.0, low_open=True) - 1.0)
    else:
        a = check_real(sv_tail_index, "sv_tail_index", low=0.0, low_open=True)
    c = check_real(scale, "scale", low=0.0, low_open=True)
    ns, dt, np_dt = resolve_backend(xp, dtype)
    q = (np.arange(1, count + 1, dtype=np.float64) - 0.5) / count
    with np.errstate(over="ignore"):
        s = q ** (-1.0 / a)
    s *= c
    return finish(s, ns, dt, np_dt, what="power_law_spectrum")
