"""The best k-term approximation error curve, :func:`best_k_error` (private module of :mod:`sparsity.curves`).

Host-memory arrays (NumPy, torch CPU tensors) take the threaded NumPy kernels of :mod:`sparsity.curves._host`
and the result goes back to the input's namespace; every other array (CuPy, torch on a GPU, array_api_strict)
takes one array-API path on its own device.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sparsity._array_api import device, host_view, to_namespace
from sparsity._checks import check_k, check_real
from sparsity._input import as_host, flat_magnitudes, raise_if_nonfinite
from sparsity.curves._host import curve_numpy, power_scale, values_partition

__all__ = ["best_k_error"]

# Partition instead of a full sort when the largest requested k is at most n / _PARTITION_RATIO.
_PARTITION_RATIO = 16


def _curve_xp(a: Any, p: float, xp: Any) -> Any:
    """Full curve through the array namespace (the path CuPy and array_api_strict take)."""
    s = xp.sort(a)
    n = s.shape[0]
    m = float(s[n - 1])
    s = xp.astype(s, xp.float64)
    scale = power_scale(m, p, np.float64 if s.dtype == a.dtype else np.float32)
    if scale is not None:
        s = s * scale
    pw = s * s if p == 2.0 else s**p
    tails = xp.cumulative_sum(pw, include_initial=True)
    e = xp.sqrt(tails) if p == 2.0 else tails ** (1.0 / p)
    if scale is not None:
        e = e / scale
    return xp.flip(e)


def _relative(values: Any, norm: float) -> Any:
    return values / norm if norm > 0 else values * 0.0


def best_k_error(x: Any, k: Any = None, *, p: float = 2.0, relative: bool = False) -> Any:
    """Best k-term :math:`\\ell_p` approximation error of ``x``.

    .. math:: \\sigma_k(x)_p = \\Big(\\sum_{j>k} |x|_{(j)}^p\\Big)^{1/p}

    where :math:`|x|_{(1)} \\ge \\dots \\ge |x|_{(n)}` are the sorted magnitudes.

    Parameters
    ----------
    x : array_like
        Any shape (flattened; signs ignored). bool, int, float16, float32, float64 (and bfloat16/float8 from
        ml_dtypes). Sums are accumulated in float64; float32 magnitudes up to 3.4e38 do not overflow.
    k : int or array_like of int, optional
        ``None`` returns the full curve. Otherwise the errors at these k (``0 <= k <= n``). When the
        largest k is small compared with n, host-memory inputs (NumPy, torch on the CPU) use a partition
        instead of a full sort.
    p : float, default 2.0
        Norm exponent, ``p > 0``.
    relative : bool, default False
        Divide by :math:`\\|x\\|_p` (so ``e[0] = 1``). For an all-zero ``x`` the curve and the relative
        curve are all zeros (x is represented exactly with k = 0 terms).

    Returns
    -------
    e : array of shape (n + 1,) or of the shape of ``k``, float64, in the namespace and on the device of ``x``
        ``e[0] = ||x||_p`` and ``e[n] = 0``; non-increasing in k. A scalar ``k`` gives a 0-d array (a NumPy
        float64 scalar for NumPy input). Lists and scalars give NumPy; a ``k`` array never sets the namespace.

    Raises
    ------
    ValueError
        Empty input, NaN or infinite entries, ``p <= 0``, ``k`` outside ``[0, n]``.
    TypeError
        Non-numeric input or non-integer ``k``.

    References
    ----------
    .. [1] R. Gribonval, V. Cevher, M. E. Davies, "Compressible distributions for high-dimensional
       statistics", IEEE Trans. Inf. Theory 58(8), 2012.

    Examples
    --------
    >>> import numpy as np, sparsity as sp
    >>> sp.best_k_error(np.array([3.0, -4.0, 0.0]))
    array([5., 3., 0., 0.])
    >>> float(sp.best_k_error([3.0, -4.0], 1, relative=True))
    0.6
    """
    p = check_real(p, "p", low=0.0, closed="neither")
    # Host arrays are checked for NaN/inf after the sort or partition (on the largest values), saving a pass.
    a, xp = flat_magnitudes(x, check_finite=False)
    host = host_view(a)
    if host is None:
        raise_if_nonfinite(a, xp)
    karr = None if k is None else check_k(as_host(k), int(a.shape[0]))
    if karr is not None and karr.size == 0:
        if host is not None:  # nothing is sorted: check here
            raise_if_nonfinite(host, np)
        return xp.zeros(karr.shape, dtype=xp.float64, device=device(a))
    if host is None:
        return _values_xp(a, karr, p, relative, xp)
    return to_namespace(_values_host(host, karr, p, relative), a)


def _values_host(a: np.ndarray, karr: np.ndarray | None, p: float, relative: bool) -> Any:
    """Curve (``karr`` None) or values at ``karr`` of the NumPy magnitudes ``a`` (sorted or partitioned in place).

    A 0-d result is a NumPy float64 scalar. When the largest k is small compared with n, a partition replaces
    the full sort.
    """
    if karr is None:
        curve = curve_numpy(a, p)
        return _relative(curve, float(curve[0])) if relative else curve
    if karr.max() > 0 and karr.max() * _PARTITION_RATIO <= a.shape[0]:
        values, norm = values_partition(a, karr.ravel(), p)
        values = values.reshape(karr.shape)
    else:
        curve = curve_numpy(a, p)
        values, norm = curve[karr], float(curve[0])
    if relative:
        values = _relative(values, norm)
    return values[()] if values.ndim == 0 else values


def _values_xp(a: Any, karr: np.ndarray | None, p: float, relative: bool, xp: Any) -> Any:
    """:func:`_values_host` through the array namespace: the whole curve on the device, indexed there."""
    curve = _curve_xp(a, p, xp)
    norm = float(curve[0])
    if karr is not None:
        idx = xp.asarray(karr.reshape(-1), device=device(a))
        curve = xp.reshape(xp.take(curve, idx, axis=0), karr.shape)
    return _relative(curve, norm) if relative else curve
