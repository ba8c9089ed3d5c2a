"""The one input layer: any array-like -> ``(array, xp)``, with one dtype-widening rule and NaN/inf counts.

Every public function that takes data calls :func:`as_array` (or :func:`flat_magnitudes`, its flattened
magnitudes). The rules, stated once:

- Namespace and device are kept: NumPy, CuPy, torch (through array-api-compat) and any array-API array come
  back in their own namespace and on their own device. Lists, scalars and anything ``numpy.asarray`` accepts
  become NumPy arrays. This is the input half of the namespace rule of :mod:`sparsity` (array results in the
  data argument's namespace and on its device; scalars as Python numbers).
- Widening: bool and integer inputs become float64; floats narrower than 32 bits (float16, and bfloat16, float8,
  float6, float4 from ml_dtypes or torch) become float32 (exactly: every such value is a float32); float32 and
  float64 are kept, without a copy for NumPy input. :func:`widen_narrow_float` is the same rule for loaders that
  decode raw NumPy buffers.
- NaN and infinite values raise ``ValueError`` stating how many of each there are.

Every error names the parameter (or file/tensor), states the rule and shows what was received. Scalar
parameters are checked by :mod:`sparsity._checks`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sparsity._array_api import array_namespace, to_numpy

__all__ = [
    "as_array",
    "as_host",
    "flat_magnitudes",
    "raise_if_nonfinite",
    "widen_narrow_float",
]

# ml_dtypes names (user-defined NumPy dtypes): the floats widen to float32, the small integers to float64.
_ML_FLOATS = ("bfloat16", "float")
_ML_INTS = ("int", "uint")


def widen_narrow_float(arr: np.ndarray) -> np.ndarray:
    """A NumPy array of a float narrower than 32 bits as float32 (a new array); any other array unchanged.

    Narrow floats are NumPy's float16 and the ml_dtypes extension types (``bfloat16``, ``float8_*``,
    ``float6_*``, ``float4_*``), which NumPy cannot compute with directly. The conversion is exact.

    Examples
    --------
    >>> widen_narrow_float(np.array([1.5], dtype=np.float16)).dtype
    dtype('float32')
    >>> x = np.array([1.5])
    >>> widen_narrow_float(x) is x
    True
    """
    dt = arr.dtype
    if (dt.kind == "f" and dt.itemsize < 4) or (dt.isbuiltin == 2 and dt.name.startswith(_ML_FLOATS)):
        return arr.astype(np.float32)
    return arr


def _received(x: Any) -> str:
    text = repr(x)
    return text if len(text) <= 60 else text[:57] + "..."


def _numpy_input(x: Any, name: str) -> np.ndarray:
    """``numpy.asarray(x)`` with the extension dtypes of ml_dtypes widened; non-numeric input is a TypeError."""
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a real numeric array; could not convert it ({exc})") from None
    if arr.dtype.isbuiltin == 2:  # a user-defined dtype: ml_dtypes (float8_e5m2 has kind "f", the others "V")
        if arr.dtype.name.startswith(_ML_FLOATS):
            return widen_narrow_float(arr)
        if arr.dtype.name.startswith(_ML_INTS):
            return arr.astype(np.float64)
    if arr.dtype.kind not in "biuf" or arr.dtype.isbuiltin == 2:
        origin = "" if hasattr(x, "dtype") else f" (from {type(x).__name__} {_received(x)})"
        raise TypeError(f"{name} must be a real numeric array (bool, int or float); got dtype {arr.dtype}{origin}")
    return arr


def _is_host_input(x: Any) -> bool:
    """Whether ``x`` goes through ``numpy.asarray``.

    NumPy arrays, lists, scalars and buffers do; CuPy, torch and other array-API arrays keep their namespace.
    """
    if isinstance(x, np.ndarray):
        return True
    if hasattr(x, "__array_namespace__") or hasattr(x, "__cuda_array_interface__"):
        return False
    return not type(x).__module__.startswith(("cupy", "torch"))


def raise_if_nonfinite(a: Any, xp: Any, name: str = "x") -> None:
    """Raise ``ValueError`` counting the NaN and infinite entries of the 1-D array ``a``, if it has any.

    Examples
    --------
    >>> import array_api_compat
    >>> raise_if_nonfinite(np.array([1.0, np.nan, np.inf]), array_api_compat.numpy, "x")
    Traceback (most recent call last):
    ...
    ValueError: x must contain only finite values; got 1 NaN and 1 infinite value(s) among 3
    """
    finite = xp.isfinite(a)
    if not bool(xp.all(finite)):
        bad = int(xp.sum(xp.astype(xp.logical_not(finite), xp.int64)))
        n_nan = int(xp.sum(xp.astype(xp.isnan(a), xp.int64)))
        raise ValueError(
            f"{name} must contain only finite values; got {n_nan} NaN and {bad - n_nan} infinite "
            f"value(s) among {a.shape[0]}"
        )


def _check_ndim(shape: tuple[int, ...], name: str, min_ndim: int, max_ndim: int | None) -> None:
    ndim = len(shape)
    if ndim < min_ndim or (max_ndim is not None and ndim > max_ndim):
        if max_ndim is None:
            rule = f"at least {min_ndim} dimension{'s' if min_ndim != 1 else ''}"
        elif max_ndim == min_ndim:
            rule = f"{min_ndim} dimension{'s' if min_ndim != 1 else ''}"
        else:
            rule = f"{min_ndim} to {max_ndim} dimensions"
        raise ValueError(f"{name} must have {rule}; got shape {shape}")


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
    bfloat16, float8 (ml_dtypes or torch) and narrower floats become float32; float32 and float64 are kept (no
    copy for NumPy input). Lists, scalars and anything ``numpy.asarray`` accepts become NumPy arrays. CuPy,
    torch (through array-api-compat) and other array-API arrays keep their namespace and device.

    Parameters
    ----------
    x : array_like
        The input.
    name : str
        Parameter (or file/tensor) name for error messages.
    min_ndim, max_ndim : int
        Accepted numbers of dimensions (``max_ndim=None``: no upper bound).
    allow_empty : bool
        Whether a zero-size input is accepted.
    check_finite : bool
        Raise ``ValueError`` counting NaN and infinite values when there are any.

    Returns
    -------
    arr : array
        Floating array (float32 or float64), same shape as ``x``.
    xp : module
        Its array-API namespace.

    Raises
    ------
    TypeError
        Input that is not a real numeric array (strings, complex, objects, ragged lists).
    ValueError
        Wrong number of dimensions, empty input (unless allowed), NaN or infinite values (when checked).

    Examples
    --------
    >>> arr, xp = as_array([1, 2, 3])
    >>> arr.dtype
    dtype('float64')
    >>> as_array([[1.0, float("nan")]], "W", min_ndim=2)
    Traceback (most recent call last):
    ...
    ValueError: W must contain only finite values; got 1 NaN and 0 infinite value(s) among 2
    """
    if _is_host_input(x):
        x = _numpy_input(x, name)
    xp = array_namespace(x)
    if not isinstance(x, np.ndarray):
        if not any(xp.isdtype(x.dtype, kind) for kind in ("bool", "integral", "real floating")):
            raise TypeError(f"{name} must be a real numeric array (bool, int or float); got dtype {x.dtype}")
    shape = tuple(int(d) for d in x.shape)
    _check_ndim(shape, name, min_ndim, max_ndim)
    if not allow_empty and math.prod(shape) == 0:
        raise ValueError(f"{name} must contain at least one value; got an empty array of shape {shape}")
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
    """:func:`as_array`, flattened, absolute values: ``(|x| of shape (n,), xp)`` (always a new array).

    Floating inputs keep their precision (so a sort runs in the input precision); the widening rule is that
    of :func:`as_array`.

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

    Examples
    --------
    >>> a, xp = flat_magnitudes([[3, -4]])
    >>> a
    array([3., 4.])
    """
    arr, xp = as_array(x, name, allow_empty=allow_empty, check_finite=check_finite)
    return xp.abs(xp.reshape(arr, (-1,))), xp


def as_host(value: Any) -> Any:
    """A NumPy copy of an array of another namespace (CuPy, array_api_strict, torch); anything else unchanged.

    For parameters such as ``k`` that may be given as an array of the data's namespace but are validated on
    the host by :func:`sparsity._checks.check_k`.

    Examples
    --------
    >>> as_host([1, 2])
    [1, 2]
    """
    if isinstance(value, (np.ndarray, np.generic)) or not hasattr(value, "shape"):
        return value
    return to_numpy(value)
