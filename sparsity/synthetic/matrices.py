"""Random matrices (n x m) with known spectra.

Marchenko-Pastur noise, heavy-tailed entries, BBP spikes, and prescribed singular values with Haar-random
singular vectors.

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

from sparsity._array_api import device, to_numpy
from sparsity._checks import as_generator, check_choice, check_int, check_real
from sparsity._input import as_array
from sparsity.synthetic._common import finish, resolve_backend
from sparsity.synthetic._haar import haar_columns, orthogonal_spectrum
from sparsity.synthetic._rmt import bbp_outlier, bbp_threshold, marchenko_pastur_edges
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
    rows, cols = check_int(n, "n", low=1), check_int(m, "m", low=1)
    s = check_real(sigma, "sigma", low=0.0, closed="neither")
    ns, dt, np_dt = resolve_backend(xp, dtype)
    w = as_generator(rng).standard_normal(size=(rows, cols))
    w *= s / math.sqrt(cols)
    return finish(w, ns, dt, np_dt, what="gaussian_matrix")


def levy_matrix(
    alpha: float,
    n: int,
    m: int,
    *,
    distribution: Literal["pareto", "stable", "student_t"] = "pareto",
    scale: float = 1.0,
    rng: Any = None,
    xp: Any = None,
    dtype: Any = None,
) -> Any:
    """Matrix of iid symmetric heavy-tailed entries with survival tail index ``alpha`` (Martin & Mahoney's classes).

    Martin & Mahoney call this tail index ``mu`` and sort such matrices into universality classes by it:
    0 < alpha < 2 very heavy-tailed (Levy), 2 < alpha < 4 moderately heavy-tailed, alpha > 4 weakly heavy-tailed
    (Marchenko-Pastur-like bulk). Entries are not normalised: scale by ``m^(-1/alpha)`` (alpha < 2) or
    ``m^(-1/2)`` yourself if needed.

    - ``"pareto"``: ``scale * sign * U^(-1/alpha)`` with U uniform on (0, 1], a true Pareto magnitude (not NumPy's
      ``Generator.pareto``, which draws the Lomax law, a Pareto shifted to start at 0), so
      P(|W_ij| > t) = (t / scale)^(-alpha) for t >= scale exactly.
    - ``"stable"``: symmetric S1 stable with index ``alpha`` (requires 0 < alpha <= 2), ``scale`` its scale.
    - ``"student_t"``: ``scale * T`` with ``alpha`` degrees of freedom.

    Parameters
    ----------
    alpha : float
        Survival tail index of the entries, > 0 (Martin & Mahoney's ``mu``).
    n, m : int
        Shape, each >= 1.
    distribution : {"pareto", "stable", "student_t"}, default "pareto"
        Entry law.
    scale : float, default 1.0
        Scale > 0.
    rng, xp, dtype
        As in :func:`gaussian_matrix`, except that ``xp=None`` gives the namespace and device of
        ``singular_values`` when it is an array (NumPy for a list).

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
    a = check_real(alpha, "alpha", low=0.0, closed="neither")
    rows, cols = check_int(n, "n", low=1), check_int(m, "m", low=1)
    c = check_real(scale, "scale", low=0.0, closed="neither")
    check_choice(distribution, "distribution", sorted(_LEVY_ENTRIES))
    if distribution == "stable" and a > 2.0:
        raise ValueError(f"alpha must be in (0, 2] for distribution='stable'; got {alpha!r}")
    ns, dt, np_dt = resolve_backend(xp, dtype)
    w = _LEVY_ENTRIES[distribution](a, (rows, cols), as_generator(rng))
    w *= c
    return finish(w, ns, dt, np_dt, what="levy_matrix")


def _pareto_entries(alpha: float, shape: tuple[int, int], gen: np.random.Generator) -> np.ndarray:
    u = 1.0 - gen.random(size=shape)
    with np.errstate(over="ignore"):
        w = np.power(u, -1.0 / alpha, out=u)
    np.negative(w, out=w, where=gen.random(size=shape) < 0.5)
    return w


def _stable_entries(alpha: float, shape: tuple[int, int], gen: np.random.Generator) -> np.ndarray:
    return standard_stable_s1(alpha, 0.0, shape, gen)


def _t_entries(alpha: float, shape: tuple[int, int], gen: np.random.Generator) -> np.ndarray:
    return gen.standard_t(alpha, size=shape)


_LEVY_ENTRIES = {"pareto": _pareto_entries, "stable": _stable_entries, "student_t": _t_entries}


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
    rows, cols = check_int(n, "n", low=1), check_int(m, "m", low=1)
    r = check_int(rank, "rank", low=1)
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
    s = check_real(sigma, "sigma", low=0.0, closed="neither")
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
        As in :func:`gaussian_matrix`, except that ``xp=None`` gives the namespace and device of
        ``singular_values`` when it is an array (NumPy for a list).

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
    rows, cols = check_int(n, "n", low=1), check_int(m, "m", low=1)
    arr, arr_xp = as_array(singular_values, "singular_values", min_ndim=1, max_ndim=1, allow_empty=True)
    s = np.asarray(to_numpy(arr), dtype=np.float64)
    if s.size > min(rows, cols):
        raise ValueError(f"singular_values must have length <= min(n, m) = {min(rows, cols)}; got {s.size}")
    if np.any(s < 0):
        raise ValueError("singular_values must be >= 0; got " + np.array2string(s, threshold=8))
    ns, dt, np_dt = resolve_backend(arr_xp if xp is None else xp, dtype)
    gen = as_generator(rng)
    w = orthogonal_spectrum(gen, s, rows, cols) if s.size else np.zeros((rows, cols))
    return finish(w, ns, dt, np_dt, what="spectrum_matrix", device=device(arr) if xp is None else None)


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
    count = check_int(k, "k", low=1)
    if (alpha_ww is None) == (sv_tail_index is None):
        raise ValueError(
            f"give exactly one of alpha_ww and sv_tail_index; got alpha_ww={alpha_ww!r}, "
            f"sv_tail_index={sv_tail_index!r}"
        )
    if alpha_ww is not None:
        a = 2.0 * (check_real(alpha_ww, "alpha_ww", low=1.0, closed="neither") - 1.0)
    else:
        a = check_real(sv_tail_index, "sv_tail_index", low=0.0, closed="neither")
    c = check_real(scale, "scale", low=0.0, closed="neither")
    ns, dt, np_dt = resolve_backend(xp, dtype)
    q = (np.arange(1, count + 1, dtype=np.float64) - 0.5) / count
    with np.errstate(over="ignore"):
        s = q ** (-1.0 / a)
    s *= c
    return finish(s, ns, dt, np_dt, what="power_law_spectrum")
