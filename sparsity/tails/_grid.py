"""Magnitudes on a coarse floating-point grid: detection and deterministic dequantisation (private).

Weights stored in bfloat16 (8 significand bits, the implicit one included), float16 (11) or fp8 (e4m3: 4,
e5m2: 3) take about ``2**(p - 1)`` values per binade. The largest 20,000 magnitudes of a bf16 matrix then fall
into a few hundred values with large tie groups, and a continuous power-law fit sees the ties: the values
rounded up to a candidate ``xmin`` from below it enter the tail with ``log(x / xmin) = 0``, which biases the
continuous MLE upwards by about ``alpha**2 eps / 2`` (``eps = 2**-p`` to ``2**(1 - p)``, the relative grid
step), and the KS distance jumps at every tie. On a planted bf16 checkpoint 4 of 19 entry tail indices sat just
above their 95 % interval for this reason.

Detection (:func:`detect_grid`). Every positive float64 is ``m 2**e`` with ``m`` in [0.5, 1) (``np.frexp``);
``m 2**53`` is an integer, and the number of significand bits a value uses is 53 minus its trailing zero bits.
``p`` is the largest over the sample: the smallest ``p`` such that every value is ``k 2**(e - p)`` with integer
``k``. bf16, float16, e4m3 and e5m2 samples give 8, 11, 4 and 3 (fewer only if no value uses the last bit:
probability ``2**-n`` for ``n`` values of a continuous law). A sample counts as gridded when
``GRID_MIN_BITS <= p <= GRID_MAX_BITS`` (3 to 11). A float32 sample cannot pass by chance: each value of a
continuous law has its 13 lowest significand bits all zero with probability ``2**-13``, so a window of ``n``
values passes with probability ``2**(-13 n)`` (``2**-130`` for the smallest window of 10 values; float64:
``2**(-42 n)``). Values that really lie on such a grid (a bf16 checkpoint saved as float32, an int8 tensor)
are gridded and treated as such. Grids of 1 or 2 bits (powers of two, ternary or binary weights) are not
treated: their cells are 25-100 % wide, the uniform approximation below fails, and a ternary tensor must not
turn into a fake continuum.

Floor. Below a format's smallest normal number (subnormals) and for integer or fixed-point data, the spacing
does not halve with every binade: it stays at a floor ``q`` (a power of two: ``2**-24`` for float16 subnormals,
1 for integers). ``q`` is estimated as the smallest lowest-set-bit weight in the sample, and it binds in the
binades where ``q > 2**(e - p)``. Without a real floor a value in such a binade has its last grid bit set with
probability ~1/2, so ``n`` of them all looking coarser happens with probability ``2**-n``: the floor is kept
only when at least :data:`FLOOR_MIN_COUNT` (40) values lie where it binds (a false floor: ``< 1e-12``).
A real floor with fewer supporting values is dropped; its cells are then half-width (or narrower) central
sub-cells of the true ones, which keeps every value inside its true cell and the order intact.

Dequantisation (:func:`dequantise`). A value ``v`` of the grid stands for any latent value that rounds to it
(round to nearest), its cell ``[v - h_below / 2, v + h_above / 2)`` with ``h_above`` the spacing of ``v``'s
binade and ``h_below`` the spacing below ``v`` (half of ``h_above`` when ``v`` is a power of two). A tie group
of ``g`` values at ``v`` is spread evenly over the cell, member ``k`` at the cell quantile ``(k + 0.5) / g``
(deterministic: no seed; a singleton goes to the cell midpoint, ``v`` itself except at a power of two, where
it is ``v + h_below / 4``). Within a cell the density of a power-law tail ``x**-(alpha + 1)`` varies by a
relative ``(alpha + 1) h / v <= (alpha + 1) 2**(1 - p)`` (6 % for alpha = 7 in bf16), so to that order it is
uniform and the dequantised values are a continuous sample of the tail: the continuous CSN MLE, its KS distance
and the other continuous estimators apply. The leftover bias, from the density's slope inside a cell, is of
second order: the mean ``log x`` of a cell moves by about ``(alpha + 1) (h / v)**2 / 12`` and ``alpha`` by at
most ``alpha**2`` times that (2e-3 for alpha = 7 in bf16, against a standard error of 0.05 with 20,000 tail
values). For fp8 grids (``h / v`` up to 1/4 or 1/2) the fit is accordingly rougher. A value's dequantised
position stays in its own cell, so the order of the sample is kept (ties are broken, never reversed).

The lowest tie group of a sample that is the top of a larger one (``lowest_complete=False``) may be cut: its
members would sit in the upper part of their cell, how far up depends on the unknown full group size. It is
dropped, and what remains is exactly the top of the dequantised full sample.

References
----------
Clauset, A., Shalizi, C. R., Newman, M. E. J. (2009). Power-law distributions in empirical data. SIAM Review 51.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = [
    "FLOOR_MIN_COUNT",
    "GRID_MAX_BITS",
    "GRID_MIN_BITS",
    "Grid",
    "cell_bounds",
    "continuous_sample",
    "dequantise",
    "detect_grid",
    "significand_bits",
]

GRID_MIN_BITS = 3
"""Fewest significand bits of a treated grid (fp8 e5m2); 1-2 bit grids are left as they are."""
GRID_MAX_BITS = 11
"""Most significand bits of a treated grid (float16); float32 (24) and float64 (53) are continuous."""
FLOOR_MIN_COUNT = 40
"""Values needed where a spacing floor binds before it is believed (a false floor has probability 2**-40)."""

_MANT = 53


class Grid(NamedTuple):
    """A floating-point grid: ``bits`` significand bits (the implicit one included), spacing at least ``floor``.

    The spacing of the binade [2**(e-1), 2**e) is ``max(2**(e - bits), floor)``; ``floor`` 0.0: none.
    """

    bits: int
    floor: float


def _split(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer significands ``m 2**53`` (int64) and exponents ``e`` of ``x = m 2**e``, ``m`` in [0.5, 1)."""
    m, e = np.frexp(x)
    return np.ldexp(m, _MANT).astype(np.int64), e.astype(np.int64)


def _trailing_zeros(v: int) -> int:
    return (v & -v).bit_length() - 1


def significand_bits(x: np.ndarray) -> int:
    """The number of significand bits that the positive finite values ``x`` use (the largest over them).

    Examples
    --------
    >>> significand_bits(np.array([1.0, 1.5, 1.75]))
    3
    >>> significand_bits(np.array([1.0 + 2.0**-52]))
    53
    """
    ints, _ = _split(np.asarray(x, dtype=np.float64))
    acc = int(np.bitwise_or.reduce(ints)) if ints.size else 0
    return _MANT - _trailing_zeros(acc) if acc else 0


def detect_grid(x: np.ndarray) -> Grid | None:
    """The grid of positive finite magnitudes ``x`` (any order), or None if they are not on a coarse grid.

    Gridded means ``GRID_MIN_BITS <= significand_bits(x) <= GRID_MAX_BITS``; the floor is the smallest
    lowest-set-bit weight, kept only if :data:`FLOOR_MIN_COUNT` values lie where it binds (module docstring).

    Examples
    --------
    >>> detect_grid(np.array([1.0, 1.25, 1.5, 3.5]))
    Grid(bits=3, floor=0.0)
    >>> detect_grid(np.arange(1.0, 101.0))
    Grid(bits=7, floor=1.0)
    >>> detect_grid(np.array([0.1, 0.2])) is None
    True
    """
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0 or not (np.all(x > 0) and np.all(np.isfinite(x))):
        raise ValueError(f"x must hold positive finite magnitudes; got {x.size} values, min {np.min(x, initial=0)}")
    p = significand_bits(x)
    if not GRID_MIN_BITS <= p <= GRID_MAX_BITS:
        return None
    ints, e = _split(x)
    lsb = np.ldexp((ints & -ints).astype(np.float64), e - _MANT)  # weight of each value's lowest set bit
    q = float(np.min(lsb))
    binds = int(np.count_nonzero(np.ldexp(1.0, e - p) < q))
    return Grid(p, q if binds >= FLOOR_MIN_COUNT else 0.0)


def _spacing(e: np.ndarray, grid: Grid) -> np.ndarray:
    return np.maximum(np.ldexp(1.0, e - grid.bits), grid.floor)


def cell_bounds(v: np.ndarray, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Rounding cells ``[low, high)`` of grid values ``v``: the latent values that round to them (nearest).

    Examples
    --------
    >>> lo, hi = cell_bounds(np.array([1.0, 1.5]), Grid(3, 0.0))
    >>> lo.tolist(), hi.tolist()
    ([0.9375, 1.375], [1.125, 1.625])
    """
    v = np.asarray(v, dtype=np.float64)
    m, e = np.frexp(v)
    above = _spacing(e, grid)
    below = np.where(m == 0.5, _spacing(e - 1, grid), above)  # the spacing halves below a power of two
    return v - below / 2.0, v + above / 2.0


def dequantise(x_sorted: np.ndarray, grid: Grid, *, lowest_complete: bool = True) -> np.ndarray:
    """Spread each tie group of the ascending grid values ``x_sorted`` evenly over its rounding cell.

    Parameters
    ----------
    x_sorted : ndarray of shape (n,)
        Ascending, positive, finite values on ``grid``.
    grid : Grid
        From :func:`detect_grid`.
    lowest_complete : bool
        False when ``x_sorted`` is the top of a larger sample: its lowest tie group, perhaps cut, is dropped.

    Returns
    -------
    ndarray of shape (n,) or (n - g,)
        Ascending float64: member ``k`` of a group of ``g`` at the cell quantile ``(k + 0.5) / g``.

    Examples
    --------
    >>> dequantise(np.array([1.0, 1.5, 1.5]), Grid(3, 0.0)).tolist()
    [1.03125, 1.4375, 1.5625]
    """
    x = np.asarray(x_sorted, dtype=np.float64)
    starts = np.flatnonzero(np.concatenate(([True], x[1:] != x[:-1])))
    if not lowest_complete and starts.size:
        x = x[starts[1] :] if starts.size > 1 else x[:0]
        starts = starts[1:] - starts[1] if starts.size > 1 else starts[:0]
    sizes = np.diff(np.append(starts, x.size))
    lo, hi = cell_bounds(x[starts], grid)
    k = np.arange(x.size) - np.repeat(starts, sizes)
    g = np.repeat(sizes, sizes).astype(np.float64)
    return np.repeat(lo, sizes) + (k + 0.5) / g * np.repeat(hi - lo, sizes)


def continuous_sample(x_sorted: np.ndarray, *, lowest_complete: bool = True) -> tuple[np.ndarray, Grid | None]:
    """``x_sorted`` (ascending, positive, finite) as a continuous sample: dequantised if gridded, else itself.

    Returns the sample (the input object itself when not gridded) and the grid (None: not gridded).
    """
    grid = detect_grid(x_sorted) if x_sorted.size else None
    if grid is None:
        return x_sorted, None
    return dequantise(x_sorted, grid, lowest_complete=lowest_complete), grid
