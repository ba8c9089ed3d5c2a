"""Array backend helpers: the namespace comes from the inputs, never from the hardware.

NumPy is the default and the reference backend. CuPy arrays in give CuPy arrays out through the same code
path (array-api-compat wraps both). This module never imports cupy or torch eagerly: CuPy is detected by
looking in ``sys.modules`` (it can only be an input if the caller already imported it).
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

__all__ = [
    "array_namespace",
    "device",
    "is_cupy_namespace",
    "namespace_of_module",
    "to_numpy",
]


def array_namespace(*arrays: Any) -> Any:
    """Return the array-API namespace of the inputs.

    Python scalars, lists and ``None`` are ignored; when nothing array-like is given the NumPy namespace
    (array-api-compat's wrapper) is returned.

    Parameters
    ----------
    *arrays : array_like
        Inputs; all array inputs must share one namespace.

    Returns
    -------
    xp : module
        A namespace compliant with the array API standard.
    """
    import array_api_compat

    candidates = [a for a in arrays if a is not None and not isinstance(a, (int, float, complex, list, tuple))]
    if not candidates:
        return array_api_compat.array_namespace(np.empty(0))
    converted = []
    for a in candidates:
        if isinstance(a, np.generic):
            converted.append(np.asarray(a))
        elif array_api_compat.is_array_api_obj(a):
            converted.append(a)
        else:
            converted.append(np.asarray(a))
    return array_api_compat.array_namespace(*converted)


def namespace_of_module(xp: Any) -> Any:
    """Return the array-API-compatible namespace for a module given by the user (``xp=`` keyword).

    ``None`` gives NumPy. ``numpy`` and ``cupy`` are wrapped by array-api-compat; namespaces that are already
    compliant (such as ``array_api_strict``) are returned unchanged.
    """
    import array_api_compat

    if xp is None:
        return array_api_compat.array_namespace(np.empty(0))
    name = getattr(xp, "__name__", "")
    if name == "numpy" or name.endswith("numpy"):
        return array_api_compat.array_namespace(np.empty(0))
    if name == "cupy":
        return array_api_compat.array_namespace(xp.empty(0))
    return xp


def device(x: Any) -> Any:
    """The device of an array of any namespace (array-api-compat's ``device``; ``"cpu"`` for NumPy).

    Used to create new arrays beside an input (``xp.asarray(values, device=device(x))``) so that results stay
    on the input's device.
    """
    import array_api_compat

    return array_api_compat.device(x)


def is_cupy_namespace(xp: Any) -> bool:
    """Whether ``xp`` is CuPy (plain or wrapped), decided without importing cupy."""
    return "cupy" in getattr(xp, "__name__", "") and "cupy" in sys.modules


def to_numpy(x: Any) -> np.ndarray:
    """Move an array of any supported backend to a host NumPy array (no copy for NumPy input).

    Parameters
    ----------
    x : array_like
        NumPy, CuPy, array_api_strict or anything ``numpy.asarray`` accepts.

    Returns
    -------
    out : numpy.ndarray
    """
    if isinstance(x, np.ndarray):
        return x
    if "cupy" in sys.modules:
        cp = sys.modules["cupy"]
        if isinstance(x, cp.ndarray):
            return cp.asnumpy(x)
    mod = type(x).__module__.split(".")[0]
    if mod == "array_api_strict":
        import array_api_strict

        return np.asarray(array_api_strict.asarray(x, device=array_api_strict.Device("CPU_DEVICE")))
    if hasattr(x, "__dlpack__") and not isinstance(x, (list, tuple)):
        try:
            return np.from_dlpack(x)
        except (TypeError, RuntimeError, BufferError):
            pass
    return np.asarray(x)
