"""Best-k approximation error curves and their decay exponents.

Sort the magnitudes :math:`|x|_{(1)} \\ge \\dots \\ge |x|_{(n)}`. The best k-term :math:`\\ell_p` error is

.. math:: \\sigma_k(x)_p = \\Big(\\sum_{j>k} |x|_{(j)}^p\\Big)^{1/p}.

If :math:`|x|_{(k)} \\sim C k^{-1/\\alpha}` (survival tail index alpha) and alpha < p, then
:math:`\\sigma_k \\sim k^{1/p - 1/\\alpha}`: the error decays as a power law. For p = 2 the threshold is
alpha = 2, the finite-variance boundary of the generalized central limit theorem. (Smooth sparsity measures:
:mod:`sparsity.measures`.)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import numpy as np

from sparsity._array_api import device, to_numpy
from sparsity._checks import check_int, check_k, check_real
from sparsity._input import as_array, as_host, flat_magnitudes, raise_if_nonfinite
from sparsity._threads import available_cpus

__all__ = [
    "DecayFit",
    "best_k_error",
    "decay_exponent",
    "decay_grid",
    "default_decay_window",
    "effective_sparsity",
    "loglog_fit",
    "power_sum",
    "predicted_decay_exponent",
    "split_top",
]

# Block length of the fused square / cumulative-sum / root pass (fits in L2 as float64).
_BLOCK = 1 << 15
# Cumulative sums run over fixed segments of this many values (on up to _MAX_THREADS threads).
_SEGMENT = 1 << 21
_MAX_THREADS = 8
# Sorts of at least this many values per thread are split by a partition and sorted on threads.
_PARALLEL_SORT_MIN = 1 << 20
# Partition instead of a full sort when the largest requested k is at most n / _PARTITION_RATIO.
_PARTITION_RATIO = 16
# Float64 magnitudes outside this range are rescaled (by an exact power of two) before taking powers.
_SAFE_RANGE = (1e-140, 1e140)


class DecayFit(NamedTuple):
    """Least-squares power-law fit ``sigma_k ~ exp(intercept) * k**(-exponent)`` over ``k_min <= k <= k_max``.

    Attributes
    ----------
    exponent : float
        Measured decay exponent ``s`` (positive = decaying error).
    intercept : float
        Intercept of ``log sigma_k`` against ``log k``.
    r2 : float
        Coefficient of determination of the log-log fit.
    k_min, k_max : int
        The fit window actually used.
    """

    exponent: float
    intercept: float
    r2: float
    k_min: int
    k_max: int


def _power_scale(m: float, p: float, dtype: Any) -> float | None:
    """Exact power-of-two factor that keeps ``(a * scale)**p`` in range, or None when none is needed.

    Float32, float16 and integer magnitudes are at most ~3.4e38, so their squares (and sums of up to 1e200
    of them) fit in float64 without scaling; float64 magnitudes and other exponents are scaled by the largest
    magnitude rounded to a power of two (multiplying by a power of two is exact).
    """
    if m == 0.0:
        return None
    if p == 2.0 and (dtype != np.float64 or _SAFE_RANGE[0] < m < _SAFE_RANGE[1]):
        return None
    # Clamped so that the factor itself stays finite for subnormal or huge m (2**1000 < float64 max).
    return math.ldexp(1.0, min(max(-math.frexp(m)[1], -1000), 1000))


def _segment_prefix(lo: int, hi: int, a: np.ndarray, out: np.ndarray, p: float, scale: float | None) -> float:
    """Cumulative sums of ``(a * scale)**p`` over ``a[lo:hi]`` into ``out[1 + lo : 1 + hi]``, starting from 0.

    Fused per cache-sized block (power, cumulative sum); returns the segment total.
    """
    buf = np.empty(min(_BLOCK, hi - lo), dtype=np.float64)
    carry = 0.0
    for start in range(lo, hi, _BLOCK):
        block = a[start : min(start + _BLOCK, hi)]
        b = buf[: block.shape[0]]
        if scale is None:
            np.square(block, out=b, dtype=np.float64)
        else:
            np.multiply(block, scale, out=b, dtype=np.float64)
            np.power(b, p, out=b) if p != 2.0 else np.square(b, out=b)
        b[0] += carry
        seg = out[1 + start : 1 + start + block.shape[0]]
        np.cumsum(b, out=seg)
        carry = float(seg[-1])
    return carry


def _segment_finish(out: np.ndarray, lo: int, hi: int, offset: float, p: float, scale: float | None) -> None:
    """Add the sum of the earlier segments, take the p-th root and undo the scaling on ``out[1 + lo : 1 + hi]``."""
    for start in range(lo, hi, 8 * _BLOCK):
        seg = out[1 + start : 1 + min(start + 8 * _BLOCK, hi)]
        if offset:
            seg += offset
        np.sqrt(seg, out=seg) if p == 2.0 else np.power(seg, 1.0 / p, out=seg)
        if scale is not None:
            seg /= scale


def _map_segments(fn: Any, bounds: Sequence[tuple[Any, ...]], *args: Any) -> list[Any]:
    """Run ``fn(lo, hi, *args)`` per segment, on threads when there are several (NumPy releases the GIL)."""
    if len(bounds) == 1:
        return [fn(*bounds[0], *args)]
    workers = min(len(bounds), available_cpus(), _MAX_THREADS)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda b: fn(*b, *args), bounds))


def _sort_magnitudes(a: np.ndarray) -> None:
    """Sort non-negative values in place: one partition, then the pieces sorted on threads.

    IEEE 754 bit patterns of non-negative floats (NaN and inf included, which land last) are ordered as the
    values, so floats are sorted through a signed-integer view of their bits (NumPy's integer sort skips
    the float sort's NaN handling: about 5-10 % faster). Above :data:`_PARALLEL_SORT_MIN` values, a
    multi-pivot partition at ``n * i / T`` splits the array into T value-disjoint pieces that are sorted
    concurrently (NumPy's sort releases the GIL); their concatenation is the sorted array, with no merge.
    The result is the same sorted array whatever T is.
    """
    view = {4: np.int32, 8: np.int64}.get(a.dtype.itemsize) if a.dtype.kind == "f" else None
    v = a.view(view) if view is not None else a
    n = v.shape[0]
    threads = min(available_cpus(), _MAX_THREADS, n // _PARALLEL_SORT_MIN)
    if threads < 2:
        v.sort()
        return
    cuts = [n * i // threads for i in range(1, threads)]
    v.partition(cuts)
    _map_segments(lambda lo, hi: v[lo:hi].sort(), list(zip([0, *cuts], [*cuts, n], strict=True)))


def _curve_numpy(a: np.ndarray, p: float) -> np.ndarray:
    """Full curve for a NumPy magnitude array (sorted in place): one sort, then fused blocked passes.

    Finiteness is checked after the sort on the largest value alone (NumPy sorts NaN last), which saves a
    full pass. The cumulative sum runs over fixed segments of :data:`_SEGMENT` values, each from zero, then
    the earlier segments' total is added: the numbers do not depend on how many threads run the segments.
    """
    _sort_magnitudes(a)
    n = a.shape[0]
    if n and not math.isfinite(float(a[-1])):
        raise_if_nonfinite(a, np)
    out = np.empty(n + 1, dtype=np.float64)
    out[0] = 0.0
    m = float(a[-1]) if n else 0.0
    scale = _power_scale(m, p, a.dtype)
    bounds = [(lo, min(lo + _SEGMENT, n)) for lo in range(0, n, _SEGMENT)]
    if not bounds:
        return out
    totals = _map_segments(_segment_prefix, bounds, a, out, p, scale)
    offsets = np.concatenate(([0.0], np.cumsum(totals[:-1])))
    finish = [(lo, hi, float(off)) for (lo, hi), off in zip(bounds, offsets, strict=True)]
    _map_segments(lambda lo, hi, off: _segment_finish(out, lo, hi, off, p, scale), finish)
    return out[::-1]


def _curve_xp(a: Any, p: float, xp: Any) -> Any:
    """Full curve through the array namespace (the path CuPy and array_api_strict take)."""
    s = xp.sort(a)
    n = s.shape[0]
    m = float(s[n - 1])
    s = xp.astype(s, xp.float64)
    scale = _power_scale(m, p, np.float64 if s.dtype == a.dtype else np.float32)
    if scale is not None:
        s = s * scale
    pw = s * s if p == 2.0 else s**p
    tails = xp.cumulative_sum(pw, include_initial=True)
    e = xp.sqrt(tails) if p == 2.0 else tails ** (1.0 / p)
    if scale is not None:
        e = e / scale
    return xp.flip(e)


def split_top(a: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Partition ``a`` (the caller's copy) in place into its ``n - k`` smallest and ``k`` largest (sorted) values."""
    n = a.shape[0]
    k = min(max(k, 0), n)
    if 0 < k < n:
        a.partition(n - k)
    return a[: n - k], np.sort(a[n - k :])


def power_sum(values: np.ndarray, p: float, factor: float = 1.0) -> float:
    """``sum((values * factor) ** p)`` accumulated in float64 over blocks: O(block) extra memory."""
    total = 0.0
    for start in range(0, values.shape[0], 8 * _BLOCK):
        block = values[start : start + 8 * _BLOCK].astype(np.float64) * factor
        # einsum, not np.dot: NumPy's own loop, the same sum whatever the BLAS thread count at the moment
        total += float(np.einsum("i,i->", block, block)) if p == 2.0 else float(np.sum(block**p))
    return total


def _values_partition(a: np.ndarray, karr: np.ndarray, p: float) -> tuple[np.ndarray, float]:
    """Errors at the requested k from a partial partition (NumPy): O(n) when max(k) is small.

    The n - K smallest magnitudes are summed directly and the K largest are sorted, so no tail sum is
    formed by subtracting from the total (no cancellation). Returns the values and the norm (k = 0).
    """
    big_k = int(karr.max())
    rest, top = split_top(a, big_k)
    m = float(top[-1])
    if not math.isfinite(m):  # NaN and inf are partitioned to the top
        raise_if_nonfinite(a, np)
    scale = _power_scale(m, p, a.dtype)
    f = 1.0 if scale is None else scale
    rest_sum = power_sum(rest, p, f)
    top_cum = np.concatenate(([0.0], np.cumsum((top.astype(np.float64) * f) ** p)))
    values = (rest_sum + top_cum[big_k - karr]) ** (1.0 / p)
    norm = (rest_sum + top_cum[big_k]) ** (1.0 / p)
    return values / f, norm / f


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
        largest k is small compared with n, NumPy and CuPy inputs use a partition instead of a full sort.
    p : float, default 2.0
        Norm exponent, ``p > 0``.
    relative : bool, default False
        Divide by :math:`\\|x\\|_p` (so ``e[0] = 1``). For an all-zero ``x`` the curve and the relative
        curve are all zeros (x is represented exactly with k = 0 terms).

    Returns
    -------
    e : array of shape (n + 1,) or of the shape of ``k``, float64, in the namespace of ``x``
        ``e[0] = ||x||_p`` and ``e[n] = 0``; non-increasing in k. A scalar ``k`` gives a 0-d array
        (a NumPy float64 scalar for NumPy input).

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
    # NumPy inputs are checked for NaN/inf after the sort or partition (on the largest values), saving a pass.
    a, xp = flat_magnitudes(x, check_finite=not isinstance(x, np.ndarray))
    n = a.shape[0]
    numpy_in = isinstance(a, np.ndarray)
    if k is None:
        curve = _curve_numpy(a, p) if numpy_in else _curve_xp(a, p, xp)
        return _relative(curve, float(curve[0])) if relative else curve
    karr = check_k(as_host(k), n)
    if karr.size == 0:
        return xp.zeros(karr.shape, dtype=xp.float64, device=device(a))
    if not numpy_in:  # the whole curve on the device, indexed there
        curve = _curve_xp(a, p, xp)
        idx = xp.asarray(karr.reshape(-1), device=device(a))
        values = xp.reshape(xp.take(curve, idx, axis=0), karr.shape)
        return _relative(values, float(curve[0])) if relative else values
    if karr.max() > 0 and karr.max() * _PARTITION_RATIO <= n:
        values, norm = _values_partition(a, karr.ravel(), p)
        values = values.reshape(karr.shape)
    else:
        curve = _curve_numpy(a, p)
        values, norm = curve[karr], float(curve[0])
    if relative:
        values = _relative(values, norm)
    return values[()] if values.ndim == 0 else values


def predicted_decay_exponent(alpha: float, p: float = 2.0) -> float:
    """Decay exponent of the best-k error predicted by the tail index: ``max(0, 1/alpha - 1/p)``.

    If the sorted magnitudes fall as :math:`k^{-1/\\alpha}` (survival tail index alpha) then
    :math:`\\sigma_k(x)_p \\sim k^{-(1/\\alpha - 1/p)}` for alpha < p, and the error does not decay
    as a power law for alpha >= p.

    Examples
    --------
    >>> predicted_decay_exponent(1.0)
    0.5
    >>> predicted_decay_exponent(3.0)
    0.0
    """
    alpha = check_real(alpha, "alpha", low=0.0, closed="neither", allow_inf=True)
    p = check_real(p, "p", low=0.0, closed="neither")
    return max(0.0, 1.0 / alpha - 1.0 / p)


def default_decay_window(n: int) -> tuple[int, int]:
    """Default fit window ``[k_min, k_max]`` of :func:`decay_exponent` for a vector of length n.

    ``k_min = 10`` (for n >= 1000; ``max(1, n // 100)`` below) skips the few largest order statistics, whose
    relative fluctuations are of order :math:`1/\\sqrt{k}`. ``k_max = floor(sqrt(n))`` keeps the window
    inside the power-law regime: for iid samples the finite-n correction to
    :math:`\\sigma_k^2 \\propto k^{1-2/\\alpha} - n^{1-2/\\alpha}` is of relative size
    :math:`(k/n)^{2/\\alpha - 1}`, which is at most :math:`n^{-(2/\\alpha - 1)/2} \\to 0` inside the window.
    """
    k_min = 10 if n >= 1000 else max(1, n // 100)
    k_max = max(math.isqrt(n), k_min + 2)
    return k_min, min(k_max, n - 1)


def decay_grid(k_min: int, k_max: int) -> np.ndarray:
    """The k at which :func:`decay_exponent` evaluates the curve: up to 64 log-spaced integers in the window."""
    return np.unique(np.round(np.geomspace(k_min, max(k_max, k_min), 64)).astype(np.int64))


def loglog_fit(ks: np.ndarray, values: np.ndarray) -> DecayFit:
    """Least squares of ``log values`` on ``log ks`` (positive values): the fit behind :func:`decay_exponent`."""
    lk, le = np.log(ks.astype(np.float64)), np.log(values)
    if not np.all(np.isfinite(le)):
        raise ValueError("loglog_fit needs positive, finite values")
    # closed-form simple regression on centred data: no BLAS/LAPACK call, so the result does not depend on
    # how many BLAS threads another thread (sparsity.linalg._gram) has allowed at that moment
    dk = lk - lk.mean()
    sxx = float(np.sum(dk * dk))
    if not sxx > 0:
        raise ValueError(f"loglog_fit needs at least 2 distinct k; got {np.unique(ks).tolist()}")
    if np.ptp(le) == 0:  # constant values: an exact fit with slope 0 (not 1e-28 from rounding of the mean)
        return DecayFit(0.0, float(le[0]), 1.0, int(ks[0]), int(ks[-1]))
    slope = float(np.sum(dk * (le - le.mean())) / sxx)
    intercept = float(le.mean() - slope * lk.mean())
    resid = le - (slope * lk + intercept)
    ss_tot = float(np.sum((le - le.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid**2)) / ss_tot if ss_tot > 0 else 1.0
    return DecayFit(float(-slope), float(intercept), r2, int(ks[0]), int(ks[-1]))


def decay_exponent(x: Any, *, p: float = 2.0, k_min: int | None = None, k_max: int | None = None) -> DecayFit:
    """Measured decay exponent ``s`` of the best-k error, :math:`\\sigma_k \\approx C k^{-s}`.

    Least squares of :math:`\\log \\sigma_k` on :math:`\\log k` at up to 64 log-spaced k in
    ``[k_min, k_max]`` (log spacing weighs every scale equally). The default window is
    :func:`default_decay_window`: ``[10, floor(sqrt(n))]``. If the error reaches zero inside the window
    (an exactly sparse vector) the window ends before that k.

    Parameters
    ----------
    x : array_like
        Any shape (flattened magnitudes).
    p : float, default 2.0
        Norm exponent.
    k_min, k_max : int, optional
        Fit window, ``1 <= k_min < k_max < n``.

    Returns
    -------
    DecayFit
        ``exponent`` (positive = decaying), ``intercept``, ``r2``, and the window used.

    Examples
    --------
    >>> import numpy as np, sparsity as sp
    >>> x = np.arange(1, 10**5 + 1) ** -1.0  # |x|_(k) = k^(-1/alpha) with alpha = 1
    >>> round(sp.decay_exponent(x).exponent, 3)  # theory: 1/alpha - 1/2 = 0.5, less a finite-n correction
    0.495
    """
    k_min, k_max = check_int(k_min, "k_min", allow_none=True), check_int(k_max, "k_max", allow_none=True)
    a, xp = as_array(x, allow_empty=True, check_finite=False)  # best_k_error checks finiteness after its sort
    n = math.prod(a.shape)
    if n < 4:
        raise ValueError(f"x must have at least 4 values to fit a decay exponent; got n = {n}")
    d_min, d_max = default_decay_window(n)
    lo, hi = (d_min if k_min is None else k_min), (d_max if k_max is None else k_max)
    if not 1 <= lo < hi < n:
        raise ValueError(f"the fit window must satisfy 1 <= k_min < k_max < n = {n}; got k_min={lo}, k_max={hi}")
    ks = decay_grid(lo, hi)
    # Only these k are needed: for a window far below n, best_k_error partitions instead of sorting.
    values = to_numpy(best_k_error(a, ks, p=p))
    zero = np.flatnonzero(values <= 0)
    if zero.size:  # exactly sparse: the error vanishes from k = nnz on; fit below it
        nnz = int(xp.count_nonzero(a))
        ks, values = ks[: zero[0]], values[: zero[0]]
        if ks.size < 3:
            raise ValueError(
                f"x is too sparse for a decay fit: it has {nnz} nonzero values, so its best-k error is zero from "
                f"k = {nnz} on, leaving fewer than 3 points in the window starting at k_min = {lo}"
            )
    return loglog_fit(ks, values)


def effective_sparsity(x: Any, eps: float = 0.1, *, p: float = 2.0) -> int:
    """Smallest k whose relative best-k error is at most ``eps``: :math:`\\sigma_k(x)_p \\le \\epsilon \\|x\\|_p`.

    Parameters
    ----------
    x : array_like
        Any shape (flattened magnitudes).
    eps : float, default 0.1
        Relative error tolerance, ``0 < eps``; ``eps >= 1`` gives 0.
    p : float, default 2.0
        Norm exponent.

    Returns
    -------
    k : int
        In ``[0, n]``; 0 for an all-zero ``x``.

    Examples
    --------
    >>> effective_sparsity([10.0, 1.0, 0.1], eps=0.2)
    1
    """
    eps = check_real(eps, "eps", low=0.0, closed="neither", allow_inf=True)
    a, xp = as_array(x, check_finite=False)  # best_k_error checks finiteness after its sort
    rel = best_k_error(a, p=p, relative=True)
    return int(xp.count_nonzero(rel > eps))  # rel is non-increasing: count the entries above eps, on the device
