"""The order statistics every tail estimator starts from: sorted nonzero magnitudes (shared by fit and gof)."""

from __future__ import annotations

import hashlib
from typing import Any, NamedTuple

import numpy as np

from sparsity._array_api import to_numpy
from sparsity._input import flat_magnitudes, raise_if_nonfinite

__all__ = ["MIN_NONZERO", "Magnitudes", "data_seed", "sorted_nonzero_magnitudes"]

MIN_NONZERO = 10
"""Fewest nonzero magnitudes :func:`sparsity.fit_tail` accepts (every method)."""


class Magnitudes(NamedTuple):
    """Validated input of the tail estimators.

    Attributes
    ----------
    values : numpy.ndarray of shape (n,), float64
        Nonzero magnitudes ``|x|``, ascending, on the host: the order statistics the estimators (and the
        CSN scan's bookkeeping) work on.
    n_zero : int
        Zeros excluded from the input.
    xp : module
        Array namespace of the input; it selects the KS-scan kernel (e.g. the CUDA kernel for CuPy input).
    """

    values: np.ndarray
    n_zero: int
    xp: Any


def sorted_nonzero_magnitudes(x: Any, name: str = "x", *, min_nonzero: int = MIN_NONZERO) -> Magnitudes:
    """Flatten ``x``, take ``|x|``, sort it and drop the zeros, through the one input layer.

    Validation, widening (integers and bools to float64, float16/bfloat16 to float32) and the sort run in the
    namespace of ``x`` (on its device); the sorted nonzero magnitudes then come to the host once, as float64
    (exact: every widening here is exact).

    Parameters
    ----------
    x : array_like
        Any shape, any supported namespace (NumPy, CuPy, array-API arrays).
    name : str
        Parameter name for error messages.
    min_nonzero : int
        Fewest nonzero magnitudes accepted.

    Returns
    -------
    Magnitudes
        ``(values, n_zero, xp)``.

    Raises
    ------
    TypeError
        Non-numeric input.
    ValueError
        Empty input, NaN or infinite values, fewer than ``min_nonzero`` nonzero magnitudes, all magnitudes equal.

    Examples
    --------
    >>> m = sorted_nonzero_magnitudes([3.0, -1.0, 0.0, 2.0] * 4)
    >>> m.values[:4], m.n_zero
    (array([1., 1., 1., 1.]), 4)
    """
    a, xp = flat_magnitudes(x, name, check_finite=False)
    a = xp.sort(a, stable=False)
    if not bool(xp.isfinite(a[-1])):  # NaN and inf sort last
        raise_if_nonfinite(a, xp, name)
    n_zero = int(xp.count_nonzero(a == 0))
    values = np.asarray(to_numpy(a[n_zero:]), dtype=np.float64)
    if values.size < min_nonzero:
        raise ValueError(
            f"{name} must have at least {min_nonzero} nonzero magnitudes to fit a tail; got {values.size} "
            f"({n_zero} zeros excluded)"
        )
    if values[0] == values[-1]:
        raise ValueError(f"{name} magnitudes are all equal ({values[0]!r}); a tail index is undefined")
    return Magnitudes(values, n_zero, xp)


def data_seed(values: np.ndarray) -> np.random.SeedSequence:
    """A seed that is a function of the magnitudes alone: BLAKE2b of their bytes, with their count.

    ``values`` are the ascending float64 magnitudes of :func:`sorted_nonzero_magnitudes`, so the seed does not
    depend on the layout, the signs, the order or the zeros of the input, nor on any suite or global seed:
    a bootstrap seeded with it makes the fit a deterministic function of the data.

    Examples
    --------
    >>> x = np.array([3.0, 1.0, 2.0])
    >>> data_seed(np.sort(x)).entropy == data_seed(np.array([1.0, 2.0, 3.0])).entropy
    True
    """
    v = np.ascontiguousarray(values, dtype=np.float64)
    digest = hashlib.blake2b(v.tobytes(), digest_size=16, person=b"sparsity-tails").digest()
    return np.random.SeedSequence([int.from_bytes(digest, "little"), v.size])
