"""Array backend helpers: the namespace comes from the inputs, never from the hardware.

NumPy is the default and the reference backend. CuPy, torch and other array-API arrays in give arrays of the
same namespace, on the same device, out (the namespace rule of :mod:`sparsity`), through the same code path
(array-api-compat wraps NumPy, CuPy and torch). Where the library computes on the host for speed (the threaded
NumPy sort of :func:`sparsity.best_k_error`), :func:`host_view` gives a NumPy view of a host-memory array and
:func:`to_namespace` hands the result back. This module never imports cupy or torch eagerly: they are detected
by looking in ``sys.modules`` (an array of theirs can only be an input if the caller already imported them).
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

__all__ = [
    "array_namespace",
    "device",
    "host_view",
    "is_cupy_namespace",
    "namespace_of_module",
    "to_namespace",
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

    ``None`` gives NumPy. ``numpy``, ``cupy`` and ``torch`` (or their array-api-compat wrappers) give
    array-api-compat's wrapper; namespaces that are already compliant (such as ``array_api_strict``) are
    returned unchanged.

    Examples
    --------
    >>> import numpy
    >>> namespace_of_module(numpy).__name__
    'array_api_compat.numpy'
    """
    import array_api_compat

    if xp is None:
        return array_api_compat.array_namespace(np.empty(0))
    try:
        return array_api_compat.array_namespace(xp.asarray(0.0))
    except (AttributeError, TypeError):
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


def host_view(x: Any) -> np.ndarray | None:
    """A NumPy view (no copy) of an array that lives in host memory, or None.

    NumPy arrays are returned as they are and torch CPU tensors are viewed through DLPack (detached from
    autograd); every other array (CuPy, torch on a GPU, array_api_strict, which exists to exercise the generic
    array-API path) gives None. Writing to the view writes to ``x``.

    Examples
    --------
    >>> host_view(np.arange(3.0))
    array([0., 1., 2.])
    """
    if isinstance(x, np.ndarray):
        return x
    if "torch" in sys.modules and isinstance(x, sys.modules["torch"].Tensor) and x.device.type == "cpu":
        return np.from_dlpack(x.detach())
    return None


def to_namespace(values: Any, like: Any) -> Any:
    """NumPy ``values`` (an array or a NumPy scalar) in the namespace and on the device of the array ``like``.

    The way back from a host computation: NumPy ``like`` returns ``values`` unchanged (a 0-d result stays a
    NumPy scalar, as NumPy itself returns it); any other namespace gets ``xp.asarray(values, device=...)``, a
    0-d array for a scalar (torch shares the memory of a contiguous NumPy array; it refuses negative strides, so
    those are copied first).

    Examples
    --------
    >>> import array_api_strict as xps
    >>> to_namespace(np.array([1.0, 2.0]), xps.asarray([0.0])).device
    array_api_strict.Device('CPU_DEVICE')
    """
    if isinstance(like, (np.ndarray, np.generic)):
        return values
    arr = np.asarray(values)
    if not arr.flags.c_contiguous:
        arr = np.ascontiguousarray(arr)
    return array_namespace(like).asarray(arr, device=device(like))
