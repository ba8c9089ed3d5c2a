"""Host (NumPy) kernels of the best-k curve: a threaded sort or partition, then fused blocked passes (private).

:func:`sparsity.best_k_error` runs these on every array that lives in host memory (NumPy arrays, torch CPU
tensors through a DLPack view); other arrays take the array-API path of :mod:`sparsity.curves._best_k`. Sums
accumulate in float64, and the numbers do not depend on the thread count.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from sparsity._input import raise_if_nonfinite
from sparsity._threads import available_cpus

__all__ = ["curve_numpy", "power_scale", "power_sum", "sort_magnitudes", "split_top", "values_partition"]

# Block length of the fused square / cumulative-sum / root pass (fits in L2 as float64).
_BLOCK = 1 << 15
# Cumulative sums run over fixed segments of this many values (on up to _MAX_THREADS threads).
_SEGMENT = 1 << 21
_MAX_THREADS = 8
# Sorts of at least this many values per thread are split by a partition and sorted on threads.
_PARALLEL_SORT_MIN = 1 << 20
# Float64 magnitudes outside this range are rescaled (by an exact power of two) before taking powers.
_SAFE_RANGE = (1e-140, 1e140)


def power_scale(m: float, p: float, dtype: Any) -> float | None:
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


def _finish(seg: np.ndarray, offset: float, p: float, scale: float | None) -> None:
    """In place on ``seg``: add the sum of the earlier segments, take the p-th root, undo the scaling."""
    if offset:
        seg += offset
    np.sqrt(seg, out=seg) if p == 2.0 else np.power(seg, 1.0 / p, out=seg)
    if scale is not None:
        seg /= scale


def _segment_prefix(
    lo: int, hi: int, a: np.ndarray, out: np.ndarray, p: float, scale: float | None, offset: float | None = None
) -> float:
    """Cumulative sums of ``(a * scale)**p`` over ``a[lo:hi]`` into ``out[1 + lo : 1 + hi]``, starting from 0.

    Fused per cache-sized block (power, cumulative sum); returns the segment total. With ``offset`` (the sum of
    the earlier segments, when already known) each block is also finished (:func:`_finish`) while in cache,
    with the same operations as :func:`_segment_finish`: the same numbers, one pass over ``out`` fewer.
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
        if offset is not None:
            _finish(seg, offset, p, scale)
    return carry


def _segment_finish(out: np.ndarray, lo: int, hi: int, offset: float, p: float, scale: float | None) -> None:
    """:func:`_finish` on ``out[1 + lo : 1 + hi]``, in cache-sized blocks (both passes stay in L2)."""
    for start in range(lo, hi, _BLOCK):
        _finish(out[1 + start : 1 + min(start + _BLOCK, hi)], offset, p, scale)


def _prefix_job(segments: Sequence[tuple[int, int]], leading: bool, a: np.ndarray, out: np.ndarray, p: float,
                scale: float | None) -> list[float]:  # fmt: skip
    """:func:`_segment_prefix` over consecutive ``segments``; returns their totals.

    ``leading``: they start at 0, so each is finished as it goes, its offset being the running total (the
    totals added in order, exactly as ``np.cumsum(totals)`` adds them).
    """
    totals: list[float] = []
    offset = 0.0
    for lo, hi in segments:
        totals.append(_segment_prefix(lo, hi, a, out, p, scale, offset if leading else None))
        offset += totals[-1]
    return totals


def _map_segments(fn: Any, bounds: Sequence[tuple[Any, ...]], *args: Any) -> list[Any]:
    """Run ``fn(lo, hi, *args)`` per segment, on threads when there are several (NumPy releases the GIL)."""
    if len(bounds) == 1:
        return [fn(*bounds[0], *args)]
    workers = min(len(bounds), available_cpus(), _MAX_THREADS)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda b: fn(*b, *args), bounds))


def sort_magnitudes(a: np.ndarray) -> None:
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


def curve_numpy(a: np.ndarray, p: float) -> np.ndarray:
    """Full curve for a NumPy magnitude array (sorted in place): one sort, then fused blocked passes.

    Finiteness is checked after the sort on the largest value alone (NumPy sorts NaN last), which saves a
    full pass. The cumulative sum runs over fixed segments of :data:`_SEGMENT` values, each from zero, then
    the earlier segments' total is added: the numbers do not depend on how many threads run the segments.
    """
    sort_magnitudes(a)
    n = a.shape[0]
    if n and not math.isfinite(float(a[-1])):
        raise_if_nonfinite(a, np)
    out = np.empty(n + 1, dtype=np.float64)
    out[0] = 0.0
    m = float(a[-1]) if n else 0.0
    scale = power_scale(m, p, a.dtype)
    bounds = [(lo, min(lo + _SEGMENT, n)) for lo in range(0, n, _SEGMENT)]
    if not bounds:
        return out
    # One thread takes the leading segments and finishes them in the same pass (their offsets are known as it
    # goes); the other segments run on the other threads and are finished once every total is known.
    lead = max(1, len(bounds) // min(len(bounds), available_cpus(), _MAX_THREADS))
    jobs = [(bounds[:lead], True)] + [([b], False) for b in bounds[lead:]]
    totals = [t for r in _map_segments(_prefix_job, jobs, a, out, p, scale) for t in r]
    offsets = np.concatenate(([0.0], np.cumsum(totals[:-1])))
    finish = [(lo, hi, float(off)) for (lo, hi), off in zip(bounds[lead:], offsets[lead:], strict=True)]
    if finish:
        _map_segments(lambda lo, hi, off: _segment_finish(out, lo, hi, off, p, scale), finish)
    return out[::-1]


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


def values_partition(a: np.ndarray, karr: np.ndarray, p: float) -> tuple[np.ndarray, float]:
    """Errors at the requested k from a partial partition (NumPy): O(n) when max(k) is small.

    The n - K smallest magnitudes are summed directly and the K largest are sorted, so no tail sum is
    formed by subtracting from the total (no cancellation). Returns the values and the norm (k = 0).
    """
    big_k = int(karr.max())
    rest, top = split_top(a, big_k)
    m = float(top[-1])
    if not math.isfinite(m):  # NaN and inf are partitioned to the top
        raise_if_nonfinite(a, np)
    scale = power_scale(m, p, a.dtype)
    f = 1.0 if scale is None else scale
    rest_sum = power_sum(rest, p, f)
    top_cum = np.concatenate(([0.0], np.cumsum((top.astype(np.float64) * f) ** p)))
    values = (rest_sum + top_cum[big_k - karr]) ** (1.0 / p)
    norm = (rest_sum + top_cum[big_k]) ** (1.0 / p)
    return values / f, norm / f
