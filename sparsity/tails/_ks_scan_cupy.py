"""CuPy raw CUDA kernel of the KS-distance scan; the twin of :func:`sparsity.tails._ks_scan.ks_scan_numpy`.

Importing this module does not import CuPy: it is imported (inside the functions) only when a CuPy array
reaches the scan, and then it is already loaded. The kernel evaluates the same points with the same formula
and the same tie-breaking as the NumPy twin (see :mod:`sparsity.tails._ks_scan`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["ks_scan_cupy", "ks_scan_cupy_host", "to_device"]

_KERNEL_SRC = r"""
extern "C" __global__
void ks_scan(const double* L, const long long* first, const long long* cand, const double* alpha,
             const double* cn, const long long n, const long long k, double* dmax, long long* jmax)
{
    extern __shared__ unsigned char smem[];
    double* sval = (double*)smem;
    long long* sidx = (long long*)(sval + blockDim.x);
    const long long c = blockIdx.x;
    const long long i = cand[c];
    const long long m = n - i;
    const double a = alpha[c];
    const double cc = cn[c];
    const double li = L[i];
    const double fm = (double)m;
    const long long npts = (k == 0) ? m : k;
    double best = -1.0;
    long long bj = i;
    for (long long t = threadIdx.x; t < npts; t += blockDim.x) {
        long long j = (k == 0) ? (i + t) : (i + ((t + 1) * (m - 1)) / k);
        long long jj = first[j];
        double g = fabs((1.0 - exp(-a * (L[jj] - li))) * cc - (double)(jj - i) / fm);
        if (g > best || (g == best && jj < bj)) { best = g; bj = jj; }
    }
    sval[threadIdx.x] = best;
    sidx[threadIdx.x] = bj;
    __syncthreads();
    for (unsigned int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) {
            double o = sval[threadIdx.x + s];
            long long oj = sidx[threadIdx.x + s];
            if (o > sval[threadIdx.x] || (o == sval[threadIdx.x] && oj < sidx[threadIdx.x])) {
                sval[threadIdx.x] = o;
                sidx[threadIdx.x] = oj;
            }
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) { dmax[c] = sval[0]; jmax[c] = sidx[0]; }
}
"""

_KERNEL_CACHE: dict[str, Any] = {}


def ks_scan_cupy(L: Any, first: Any, cand: Any, alpha: Any, cn: Any, k: int = 0) -> tuple[Any, Any]:
    """CuPy raw-kernel version of :func:`sparsity.tails._ks_scan.ks_scan_numpy` (one thread block per candidate).

    Inputs are CuPy arrays (float64 / int64), outputs are CuPy arrays. Tie-breaking of ``jmax`` (the smallest
    index among equal maxima) and the grid are the same as in the twin; ``dmax`` agrees with it to rounding of
    ``exp`` (a few ulp).
    """
    import cupy as cp

    if "ks_scan" not in _KERNEL_CACHE:
        _KERNEL_CACHE["ks_scan"] = cp.RawKernel(_KERNEL_SRC, "ks_scan")
    kern = _KERNEL_CACHE["ks_scan"]
    L = cp.ascontiguousarray(L, dtype=cp.float64)
    first = cp.ascontiguousarray(first, dtype=cp.int64)
    cand = cp.ascontiguousarray(cand, dtype=cp.int64)
    alpha = cp.ascontiguousarray(alpha, dtype=cp.float64)
    cn = cp.ascontiguousarray(cn, dtype=cp.float64)
    nc = int(cand.shape[0])
    dmax = cp.zeros(nc, dtype=cp.float64)
    jmax = cp.zeros(nc, dtype=cp.int64)
    if nc == 0:
        return dmax, jmax
    threads = 256
    kern(
        (nc,),
        (threads,),
        (L, first, cand, alpha, cn, np.int64(L.shape[0]), np.int64(k), dmax, jmax),
        shared_mem=threads * 16,
    )
    return dmax, jmax


def to_device(a: np.ndarray) -> Any:
    """Copy a host array to the current CuPy device (done once per fit for the O(n) arrays)."""
    import cupy as cp

    return cp.asarray(a)


def ks_scan_cupy_host(
    L: Any, first: Any, cand: np.ndarray, alpha: np.ndarray, cn: np.ndarray, k: int = 0, *, blocks: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`ks_scan_cupy` with host candidates in and host results out (``L``, ``first`` already on the device).

    ``blocks`` is accepted for the kernel signature and ignored: the kernel evaluates every point of the
    tail (``k == 0``), which is the plain scan's result.
    """
    import cupy as cp

    d, j = ks_scan_cupy(L, first, cp.asarray(cand), cp.asarray(alpha), cp.asarray(cn), k)
    return cp.asnumpy(d), cp.asnumpy(j)
