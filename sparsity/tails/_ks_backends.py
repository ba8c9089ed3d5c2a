"""KS-scan kernels per array namespace: a small registry, as ``opt_einsum`` registers its backends.

The CSN scan asks :func:`ks_kernel_for` for the kernel of its input's namespace and never names a backend.
The key is the namespace's module name (``"cupy"`` for ``cupy`` and for array-api-compat's ``cupy`` wrapper);
a namespace without an entry (NumPy, ``array_api_strict``, ...) gets the NumPy kernel, the reference.
Nothing here imports CuPy: its kernel module imports it only inside the functions that a CuPy array reaches.
Adding a backend is one module with a ``to_device`` and a ``scan`` function and one :func:`register_ks_kernel`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from sparsity.tails import _ks_scan_cupy
from sparsity.tails._ks_scan import ks_scan_numpy

__all__ = ["NUMPY_KERNEL", "KsKernel", "ks_kernel_for", "namespace_name", "register_ks_kernel"]


@dataclass(frozen=True)
class KsKernel:
    """How the CSN scan evaluates KS distances on one array namespace.

    Attributes
    ----------
    name : str
        Registry key (the namespace's module name).
    to_device : callable
        ``to_device(a)``: a host array (the O(n) logs and first indices) -> the kernel's array; once per fit.
    scan : callable
        ``scan(L, first, cand, alpha, cn, k, *, blocks=True) -> (dmax, jmax)`` with ``L`` and ``first`` from
        ``to_device``, host candidates in and host NumPy results out; the contract of
        :func:`sparsity.tails._ks_scan.ks_scan_numpy`.
    window_bounds : bool
        Whether the scan sharpens its grid bounds with the host window bound (cheap on the host; on a GPU the
        finer grids are cheap enough without it).
    """

    name: str
    to_device: Callable[[np.ndarray], Any]
    scan: Callable[..., tuple[np.ndarray, np.ndarray]]
    window_bounds: bool


def _identity(a: np.ndarray) -> np.ndarray:
    return a


NUMPY_KERNEL = KsKernel("numpy", _identity, ks_scan_numpy, window_bounds=True)
"""The reference kernel and the default for every namespace without its own."""

_KERNELS: dict[str, KsKernel] = {
    "numpy": NUMPY_KERNEL,
    "cupy": KsKernel("cupy", _ks_scan_cupy.to_device, _ks_scan_cupy.ks_scan_cupy_host, window_bounds=False),
}


def namespace_name(xp: Any) -> str:
    """Module name of an array namespace: ``"numpy"``, ``"cupy"``, ``"array_api_strict"``, ``"torch"``.

    array-api-compat's wrappers (``array_api_compat.cupy``) are named by the library they wrap; ``None`` is
    NumPy.

    Examples
    --------
    >>> import numpy as np
    >>> namespace_name(np), namespace_name(None)
    ('numpy', 'numpy')
    """
    if xp is None:
        return "numpy"
    parts = str(getattr(xp, "__name__", "numpy")).split(".")
    return parts[1] if parts[0] == "array_api_compat" and len(parts) > 1 else parts[0]


def register_ks_kernel(kernel: KsKernel) -> None:
    """Register (or replace) the kernel used for the namespace named ``kernel.name``."""
    _KERNELS[kernel.name] = kernel


def ks_kernel_for(xp: Any) -> KsKernel:
    """The KS-scan kernel for namespace ``xp`` (the NumPy kernel when it has none of its own).

    Examples
    --------
    >>> import numpy as np
    >>> ks_kernel_for(np).name
    'numpy'
    """
    return _KERNELS.get(namespace_name(xp), NUMPY_KERNEL)
