"""Test helpers for the array namespaces, in the style of SciPy's ``_lib/_array_api.py``.

``xp_assert_close(actual, desired)`` checks, in this order, that ``actual`` is in the namespace of ``desired``,
on its device, has its dtype, has its shape, and only then compares the values (on the host,
``numpy.testing.assert_allclose``).
Make ``desired`` in the namespace under test (``xp.asarray(reference)``). A NumPy scalar (``numpy.float64``)
counts as a 0-d NumPy array, as NumPy itself returns one for a 0-d result.
"""

from __future__ import annotations

import types
from typing import Any

import array_api_compat
import numpy as np

from sparsity._array_api import to_numpy

__all__ = ["namespace_name", "xp_assert_close", "xp_assert_equal"]


def namespace_name(x: Any) -> str:
    """Top-level name of an array's namespace or of a namespace module: ``numpy``, ``array_api_strict``, ``cupy``."""
    if isinstance(x, np.generic):
        return "numpy"
    name = x.__name__ if isinstance(x, types.ModuleType) else array_api_compat.array_namespace(x).__name__
    return name.removeprefix("array_api_compat.").split(".")[0]  # array-api-compat wraps numpy and cupy


def _check_meta(actual: Any, desired: Any) -> None:
    got, want = namespace_name(actual), namespace_name(desired)
    assert got == want, f"namespace: got {got}, expected {want}"
    if not isinstance(actual, np.generic) and not isinstance(desired, np.generic):
        dev, want_dev = array_api_compat.device(actual), array_api_compat.device(desired)
        assert dev == want_dev, f"device: got {dev}, expected {want_dev}"
    assert actual.dtype == desired.dtype, f"dtype: got {actual.dtype}, expected {desired.dtype}"
    assert tuple(actual.shape) == tuple(desired.shape), f"shape: got {tuple(actual.shape)}, expected {desired.shape}"


def xp_assert_close(actual: Any, desired: Any, *, rtol: float = 1e-7, atol: float = 0.0, err_msg: str = "") -> None:
    """Assert namespace, device, dtype and shape of ``actual``, then ``|actual - desired| <= atol + rtol |desired|``.

    Parameters
    ----------
    actual : array
        The result under test.
    desired : array
        The reference, in the namespace (and on the device, of the dtype and shape) ``actual`` must have.
    rtol, atol : float
        Tolerances, as in ``numpy.testing.assert_allclose``.
    err_msg : str
        Added to the failure message.
    """
    _check_meta(actual, desired)
    np.testing.assert_allclose(to_numpy(actual), to_numpy(desired), rtol=rtol, atol=atol, err_msg=err_msg)


def xp_assert_equal(actual: Any, desired: Any, *, err_msg: str = "") -> None:
    """:func:`xp_assert_close` with zero tolerance (equal values, NaN equal to NaN)."""
    _check_meta(actual, desired)
    np.testing.assert_array_equal(to_numpy(actual), to_numpy(desired), err_msg=err_msg)
