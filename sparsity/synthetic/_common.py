"""Shared plumbing of the generators (private): namespace, dtype, sizes and the host -> xp hand-off.

Every generator draws its random numbers on the host with a NumPy ``Generator`` in float64, so one seed gives
the same numbers on every backend; :func:`finish` then casts to the requested dtype and moves the result to
the requested namespace with ``xp.asarray``.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import numpy as np

from sparsity._array_api import namespace_of_module
from sparsity._checks import check_int

__all__ = [
    "check_size",
    "finish",
    "resolve_backend",
]

_FLOAT_NAMES = ("float16", "float32", "float64")


def resolve_backend(xp: Any, dtype: Any) -> tuple[Any, Any, np.dtype]:
    """Return ``(namespace, namespace dtype, numpy dtype of the same name)``; ``dtype=None`` means float64.

    ``dtype`` may be a dtype of the namespace (``array_api_strict.float32``), a NumPy dtype or type, or a name
    such as ``"float32"``. Only real floating dtypes are accepted.
    """
    if xp is not None and not hasattr(xp, "asarray"):
        raise TypeError(
            f"xp must be None or an array namespace module (numpy, cupy, torch, array_api_strict); got {xp!r}"
        )
    ns = namespace_of_module(xp)
    if dtype is None:
        return ns, ns.float64, np.dtype(np.float64)
    name = None
    for cand in _FLOAT_NAMES:
        if hasattr(ns, cand) and dtype is getattr(ns, cand):
            name = cand
    if name is None:
        try:
            np_dt = np.dtype(dtype)
        except TypeError:
            np_dt = None
        if np_dt is not None and np_dt.name in _FLOAT_NAMES:
            name = np_dt.name
    if name is None or not hasattr(ns, name):
        raise TypeError(
            f"dtype must be a real floating dtype available in the namespace (float32 or float64); got {dtype!r}"
        )
    return ns, getattr(ns, name), np.dtype(name)


def check_size(size: Any) -> tuple[int, ...]:
    """Normalise ``size`` (an int >= 0 or a tuple of them) to a shape tuple."""
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        return (check_int(size, "size", low=0),)
    if isinstance(size, (tuple, list)):
        if not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in size):
            raise TypeError(f"size must be an int >= 0 or a tuple of ints >= 0; got {size!r}")
        if any(int(s) < 0 for s in size):
            raise ValueError(f"size must be an int >= 0 or a tuple of ints >= 0; got {size!r}")
        return tuple(int(s) for s in size)
    raise TypeError(f"size must be an int >= 0 or a tuple of ints >= 0; got {size!r} of type {type(size).__name__}")


def finish(values: np.ndarray, ns: Any, dtype: Any, np_dtype: np.dtype, *, what: str, device: Any = None) -> Any:
    """Cast float64 host ``values`` to ``np_dtype`` and move them to ``ns`` (on ``device``, or its default one).

    Draws beyond the largest finite value of the target dtype (possible for very heavy tails, e.g. a Pareto
    with small ``alpha`` in float32) are clipped to that value with a ``UserWarning`` stating how many, rather
    than silently becoming ``inf``.
    """
    big = float(np.finfo(np_dtype).max)
    over = np.abs(values) > big
    if np.any(over):
        n_over = int(np.count_nonzero(over))
        warnings.warn(
            f"{what}: {n_over} of {values.size} draws exceed the largest finite {np_dtype.name} "
            f"({big:.3g}) and were clipped to it",
            UserWarning,
            stacklevel=3,
        )
        values = np.clip(values, -big, big)
    if values.dtype != np_dtype:
        values = values.astype(np_dtype)
    if device is None:
        return ns.asarray(values, dtype=dtype)
    return ns.asarray(values, dtype=dtype, device=device)
