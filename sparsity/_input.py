"""Input validation shared by the public functions: magnitudes, finiteness, p and k.

Every error names the parameter, the rule and the value received.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from sparsity._array_api import array_namespace

__all__ = [
    "as_array",
    "check_int",
    "check_k",
    "check_p",
    "check_positive_float",
    "flat_magnitudes",
    "raise_if_nonfinite",
]

# numpy-compatible extension dtypes (ml_dtypes) that NumPy cannot compute with directly.
UPCAST_TO_FLOAT32 = ("bfloat16", "float8")


def check_positive_float(value: Any, name: str, *, allow_inf: bool = False) -> float:
    """Return ``value`` as a float after checking it is a real number > 0 (finite unless ``allow_inf``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number > 0; got {value!r} of type {type(value).__name__}")
    v = float(value)
    if math.isnan(v) or v <= 0 or (math.isinf(v) and not allow_inf):
        rule = "a real number > 0" + ("" if allow_inf else " and finite")
        raise ValueError(f"{name} must be {rule}; got {value!r}")
    return v


def check_int(value: Any, name: str, lo: int) -> int:
    """Return ``value`` as an int after checking it is an integer (not bool) ``>= lo``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {lo}; got {value!r}")
    if int(value) < lo:
        raise ValueError(f"{name} must be an integer >= {lo}; got {value!r}")
    return int(value)


def check_p(p: Any) -> float:
    """Validate the norm exponent ``p`` (0 < p < inf)."""
    return check_positive_float(p, "p")


def _numpy_input(x: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a real numeric array; could not convert it ({exc})") from None
    if arr.dtype.kind == "V" or any(tag in arr.dtype.name for tag in UPCAST_TO_FLOAT32):
        try:
            arr = arr.astype(np.float32)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be a real numeric array; got dtype {arr.dtype}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real numeric array (bool, int or float); got dtype {arr.dtype}")
    return arr


def raise_if_nonfinite(a: Any, xp: Any, name: str = "x") -> None:
    """Raise ``ValueError`` counting the NaN and infinite entries of ``a``, if it has any."""
    if not bool(xp.all(xp.isfinite(a))):
        bad = int(xp.sum(xp.astype(~xp.isfinite(a), xp.int64)))
        n_nan = int(xp.sum(xp.astype(xp.isnan(a), xp.int64)))
        raise ValueError(
            f"{name} must contain only finite values; got {n_nan} NaN and {bad - n_nan} infinite "
            f"value(s) among {a.shape[0]}"
        )


def as_array(
    x: Any,
    name: str = "x",
    *,
    min_ndim: int = 0,
    max_ndim: int | None = None,
    allow_empty: bool = False,
    check_finite: bool = True,
) -> tuple[Any, Any]:
    """The one input layer: any array-like -> ``(array, xp)`` in the namespace (and on the device) it came from.

    Dtype widening (one rule for the whole library): bool and integer inputs become float64; float16,
    bfloat16 and float8 (ml_dtypes) become float32; float32 and float64 are kept (no copy for NumPy input).
    Lists, scalars and anything ``numpy.asarray`` accepts become NumPy arrays. CuPy, torch (through
    array-api-compat) and other array-API arrays keep their namespace and device.

    Parameters
    ----------
    x : array_like
        The input.
    name : str
        Parameter (or file/tensor) name for error messages.
    min_ndim, max_ndim : int
        Accepted numbers of dimensions.
    allow_empty : bool
        Whether a zero-size input is accepted.
    check_finite : bool
        Raise ``ValueError`` counting NaN and infinite values when there are any.

    Returns
    -------
    arr : array
        Floating array, same shape as ``x``.
    xp : module
        Its array-API namespace.

    Examples
    --------
    >>> arr, xp = as_array([1, 2, 3])
    >>> arr.dtype
    dtype('float64')
    """
    if isinstance(x, np.ndarray) or not hasattr(x, "__array_namespace__"):
        if not (hasattr(x, "__cuda_array_interface__") or type(x).__module__.startswith(("cupy", "torch"))):
            x = _numpy_input(x, name)
    xp = array_namespace(x)
    if not isinstance(x, np.ndarray):
        if not any(xp.isdtype(x.dtype, kind) for kind in ("bool", "integral", "real floating")):
            raise TypeError(f"{name} must be a real numeric array (bool, int or float); got dtype {x.dtype}")
    ndim = len(x.shape)
    if ndim < min_ndim or (max_ndim is not None and ndim > max_ndim):
        rule = f"{min_ndim} to {max_ndim}" if max_ndim is not None else f"at least {min_ndim}"
        raise ValueError(f"{name} must have {rule} dimensions; got shape {tuple(x.shape)}")
    if not allow_empty and math.prod(int(d) for d in x.shape) == 0:
        raise ValueError(f"{name} must contain at least one value; got an empty array of shape {tuple(x.shape)}")
    if xp.isdtype(x.dtype, "real floating"):
        if xp.finfo(x.dtype).bits < 32:  # float16, bfloat16 (torch) and narrower
            x = xp.astype(x, xp.float32)
    else:
        x = xp.astype(x, xp.float64)
    if check_finite:
        raise_if_nonfinite(xp.reshape(x, (-1,)), xp, name)
    return x, xp


def flat_magnitudes(
    x: Any, name: str = "x", *, allow_empty: bool = False, check_finite: bool = True
) -> tuple[Any, Any]:
    """Validate ``x`` and return ``(|x| flattened, xp)``.

    Floating inputs keep their dtype (so the sort runs in the input precision); integer and boolean inputs
    become float64. NaN or infinite entries raise ``ValueError`` stating how many there are.

    Parameters
    ----------
    x : array_like
        Any shape; it is flattened.
    name : str
        Parameter name used in error messages.
    allow_empty : bool
        Whether a zero-size input is accepted.
    check_finite : bool
        Check for NaN/inf here. A caller that sorts the magnitudes anyway may pass False and check only the
        largest one afterwards (NumPy sorts NaN last), then call :func:`raise_if_nonfinite`.

    Returns
    -------
    a : array of shape (n,)
        Magnitudes in the namespace of ``x``.
    xp : module
        That namespace.
    """
    if isinstance(x, np.ndarray) or not hasattr(x, "__array_namespace__"):
        if not (hasattr(x, "__cuda_array_interface__") or type(x).__module__.startswith("cupy")):
            x = _numpy_input(x, name)
    xp = array_namespace(x)
    dtype = x.dtype
    if not isinstance(x, np.ndarray):
        if not any(xp.isdtype(dtype, kind) for kind in ("bool", "integral", "real floating")):
            raise TypeError(f"{name} must be a real numeric array (bool, int or float); got dtype {dtype}")
    a = xp.reshape(x, (-1,))
    n = a.shape[0]
    if n == 0 and not allow_empty:
        raise ValueError(f"{name} must contain at least one value; got an empty array of shape {x.shape}")
    if xp.isdtype(a.dtype, "real floating"):
        if a.dtype == getattr(xp, "float16", None):
            a = xp.astype(a, xp.float32)
        if check_finite:
            raise_if_nonfinite(a, xp, name)
        return xp.abs(a), xp
    return xp.abs(xp.astype(a, xp.float64)), xp


def check_k(k: Any, n: int, name: str = "k") -> np.ndarray:
    """Validate integer ``k`` (scalar or array) with ``0 <= k <= n``; returns an int64 NumPy array."""
    try:
        karr = np.asarray(k)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an integer or an array of integers; got {k!r}") from None
    if karr.dtype.kind == "f" and karr.size and np.all(np.isfinite(karr)) and np.all(karr == np.round(karr)):
        karr = karr.astype(np.int64)
    if karr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer or an array of integers; got {k!r} (dtype {karr.dtype})")
    if karr.size and (karr.min() < 0 or karr.max() > n):
        bad = karr[(karr < 0) | (karr > n)]
        raise ValueError(f"{name} must satisfy 0 <= {name} <= n = {n}; got {bad.ravel()[:5].tolist()}")
    return karr.astype(np.int64)
