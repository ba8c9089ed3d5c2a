"""Shared fixtures: the ``xp`` backend fixture and the ``gpu`` marker handling."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from hypothesis import settings

# Property tests are deterministic (same examples on every run and machine), like every other test here.
settings.register_profile("deterministic", derandomize=True, deadline=None)
settings.load_profile("deterministic")


def _gpu_available() -> bool:
    if importlib.util.find_spec("cupy") is None:
        return False
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


GPU_AVAILABLE = _gpu_available()


def _backends() -> list:
    """numpy and array_api_strict always (array_api_strict is a dev dependency); CuPy only if it imports and sees
    a device, so that a CPU run has no skipped backend tests and a GPU run has no silently missing ones."""
    params = [pytest.param("numpy", id="numpy"), pytest.param("array_api_strict", id="array_api_strict")]
    if GPU_AVAILABLE:
        params.append(pytest.param("cupy", id="cupy", marks=pytest.mark.gpu))
    return params


@pytest.fixture(params=_backends())
def xp(request):
    """Array namespace under test: numpy, array_api_strict, and cupy when a GPU is present.

    The test's arrays are made with ``xp.asarray``; results are compared with ``xp_helpers.xp_assert_close``.
    """
    name = request.param
    if name == "numpy":
        return np
    if name == "array_api_strict":
        import array_api_strict

        return array_api_strict
    import cupy

    return cupy


def pytest_collection_modifyitems(config, items):
    if GPU_AVAILABLE:
        return
    skip = pytest.mark.skip(reason="GPU test: no CuPy device available")
    for item in items:
        if item.get_closest_marker("gpu") is not None:
            item.add_marker(skip)
