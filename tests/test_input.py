"""Tests for sparsity._input: the one input layer (namespace kept, one widening rule, NaN/inf counts)."""

from __future__ import annotations

import numpy as np
import pytest
from xp_helpers import namespace_name

from sparsity._array_api import to_numpy
from sparsity._input import as_array, as_host, flat_magnitudes, widen_narrow_float

# ---------------------------------------------------------------------------------------------- widening


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [
        (np.bool_, np.float64),
        (np.int8, np.float64),
        (np.uint16, np.float64),
        (np.int64, np.float64),
        (np.float16, np.float32),
        (np.float32, np.float32),
        (np.float64, np.float64),
    ],
)
def test_numpy_widening_rule(dtype, expected):
    x = np.array([[1, 0], [1, 1]]).astype(dtype)
    arr, _ = as_array(x)
    assert isinstance(arr, np.ndarray)
    assert arr.dtype == expected
    assert arr.shape == (2, 2)
    np.testing.assert_array_equal(arr, x.astype(np.float64))  # every value here is exact in every dtype


def test_float32_and_float64_are_not_copied():
    for dtype in (np.float32, np.float64):
        x = np.arange(6, dtype=dtype).reshape(2, 3)
        assert as_array(x)[0] is x


def test_lists_and_scalars_become_numpy():
    arr, _ = as_array([1, 2, 3])
    assert isinstance(arr, np.ndarray) and arr.dtype == np.float64
    arr, _ = as_array(2.5)
    assert arr.shape == () and arr.dtype == np.float64
    arr, _ = as_array(np.float32(2.5))
    assert arr.shape == () and arr.dtype == np.float32


# float8_e5m2 is the one ml_dtypes type with NumPy kind "f"; the others have kind "V"
@pytest.mark.parametrize("name", ["bfloat16", "float8_e4m3fn", "float8_e5m2", "float4_e2m1fn"])
def test_ml_dtypes_floats_widen_exactly_to_float32(name):
    ml_dtypes = pytest.importorskip("ml_dtypes")
    values = np.array([1.5, -2.0, 0.5, 0.0])  # representable in every one of these formats
    x = values.astype(getattr(ml_dtypes, name))
    arr, _ = as_array(x)
    assert arr.dtype == np.float32
    np.testing.assert_array_equal(arr, values)
    np.testing.assert_array_equal(widen_narrow_float(x), values.astype(np.float32))


def test_ml_dtypes_integers_widen_to_float64():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    arr, _ = as_array(np.array([-3, 0, 7], dtype=ml_dtypes.int4))
    assert arr.dtype == np.float64
    np.testing.assert_array_equal(arr, [-3.0, 0.0, 7.0])


def test_widen_narrow_float_leaves_other_dtypes_alone():
    for dtype in (np.float32, np.float64, np.int32, np.bool_):
        x = np.ones(3, dtype=dtype)
        assert widen_narrow_float(x) is x
    h = np.array([1.0, 65504.0], dtype=np.float16)
    w = widen_narrow_float(h)
    assert w.dtype == np.float32 and w is not h
    np.testing.assert_array_equal(w, [1.0, 65504.0])


@pytest.mark.parametrize(("name", "expected"), [("bfloat16", "float32"), ("float16", "float32"), ("int32", "float64")])
def test_torch_tensors_keep_their_namespace_and_widen(name, expected):
    torch = pytest.importorskip("torch")
    t = torch.tensor([1.5, -2.0, 0.0]).to(getattr(torch, name))
    arr, _ = as_array(t)
    assert isinstance(arr, torch.Tensor)
    assert arr.dtype == getattr(torch, expected)
    np.testing.assert_array_equal(arr.numpy(), t.to(torch.float64).numpy())
    a, _ = flat_magnitudes(t)
    np.testing.assert_array_equal(a.numpy(), np.abs(t.to(torch.float64).numpy()))


# ---------------------------------------------------------------------------------------------- namespaces


def test_namespace_and_values_are_kept(xp):
    x = xp.asarray([[1.0, -2.0], [3.0, 0.5]])
    arr, got_xp = as_array(x)
    assert namespace_name(arr) == namespace_name(xp)
    assert namespace_name(got_xp) == namespace_name(xp)
    assert arr.dtype == xp.float64
    np.testing.assert_array_equal(to_numpy(arr), [[1.0, -2.0], [3.0, 0.5]])


def test_widening_in_every_namespace(xp):
    for dtype, expected in ((xp.int32, xp.float64), (xp.bool, xp.float64), (xp.float32, xp.float32)):
        arr, _ = as_array(xp.asarray([1, 0, 1], dtype=dtype))
        assert arr.dtype == expected
    if hasattr(xp, "float16"):  # array_api_strict has no float16
        assert as_array(xp.asarray([1.0], dtype=xp.float16))[0].dtype == xp.float32


def test_flat_magnitudes_in_every_namespace(xp):
    a, _ = flat_magnitudes(xp.asarray([[3.0, -4.0], [-0.5, 0.0]]))
    assert namespace_name(a) == namespace_name(xp)
    assert a.shape == (4,)
    np.testing.assert_array_equal(to_numpy(a), [3.0, 4.0, 0.5, 0.0])


def test_flat_magnitudes_never_aliases_its_input():
    x = np.array([1.0, -2.0])
    a, _ = flat_magnitudes(x)
    a[0] = 99.0
    assert x[0] == 1.0


def test_as_host_moves_other_namespaces_only(xp):
    assert as_host([1, 2]) == [1, 2]
    assert as_host(3) == 3
    k = np.array([1, 2])
    assert as_host(k) is k
    h = as_host(xp.asarray([1, 2]))
    assert isinstance(h, np.ndarray)
    np.testing.assert_array_equal(h, [1, 2])


# ---------------------------------------------------------------------------------------------- NaN / inf


def test_nan_and_inf_are_counted(xp):
    x = xp.asarray([1.0, float("nan"), float("inf"), -float("inf"), float("nan"), float("nan")])
    message = r"^W must contain only finite values; got 3 NaN and 2 infinite value\(s\) among 6$"
    with pytest.raises(ValueError, match=message):
        as_array(x, "W")
    arr, _ = as_array(x, check_finite=False)  # the caller checks later (after a sort)
    assert arr.shape == (6,)


def test_float16_overflow_is_counted_as_infinite():
    # float16 holds at most 65504: 1e5 becomes inf when stored, and is reported as such
    with np.errstate(over="ignore"):
        x = np.array([1.0, 1e5], dtype=np.float64).astype(np.float16)
    with pytest.raises(ValueError, match=r"got 0 NaN and 1 infinite value\(s\) among 2"):
        as_array(x)


def test_huge_float32_values_stay_finite():
    big = np.finfo(np.float32).max
    x = np.array([big, -big, 3e38], dtype=np.float32)
    arr, _ = as_array(x)
    assert arr.dtype == np.float32 and np.all(np.isfinite(arr))
    a, _ = flat_magnitudes(x)
    assert np.all(np.isfinite(a)) and a[0] == big


# ---------------------------------------------------------------------------------------------- shape / type


def test_empty_input():
    with pytest.raises(ValueError, match=r"^x must contain at least one value; got an empty array of shape \(0, 3\)$"):
        as_array(np.ones((0, 3)))
    arr, _ = as_array(np.ones((0, 3)), allow_empty=True)
    assert arr.shape == (0, 3)
    with pytest.raises(ValueError, match="at least one value"):
        flat_magnitudes([])


@pytest.mark.parametrize(
    ("shape", "bounds", "message"),
    [
        ((3,), {"min_ndim": 2}, r"W must have at least 2 dimensions; got shape \(3,\)"),
        ((2, 2, 2), {"min_ndim": 2, "max_ndim": 2}, r"W must have 2 dimensions; got shape \(2, 2, 2\)"),
        ((2, 2), {"min_ndim": 1, "max_ndim": 1}, r"W must have 1 dimension; got shape \(2, 2\)"),
        ((2, 2, 2, 2), {"min_ndim": 2, "max_ndim": 3}, r"W must have 2 to 3 dimensions; got shape \(2, 2, 2, 2\)"),
    ],
)
def test_ndim_bounds(shape, bounds, message):
    with pytest.raises(ValueError, match=message):
        as_array(np.ones(shape), "W", **bounds)
    lo, hi = bounds["min_ndim"], bounds.get("max_ndim")
    ok = np.ones((1,) * (hi if hi is not None else lo))
    assert as_array(ok, "W", **bounds)[0].ndim == ok.ndim  # the bounds are inclusive


@pytest.mark.parametrize(
    ("x", "message"),
    [
        (np.array([1 + 2j]), r"x must be a real numeric array \(bool, int or float\); got dtype complex128"),
        (np.array(["a"]), r"x must be a real numeric array \(bool, int or float\); got dtype <U1"),
        ("text", r"got dtype <U4 \(from str 'text'\)"),
        ([[1.0], [2.0, 3.0]], r"x must be a real numeric array; could not convert it"),
        (np.zeros(2, dtype=[("a", "f4")]), r"x must be a real numeric array .*got dtype"),
        (object(), r"got dtype object \(from object"),
    ],
)
def test_non_numeric_input_is_a_type_error(x, message):
    with pytest.raises(TypeError, match=message):
        as_array(x)


def test_ml_dtypes_complex_is_refused():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    with pytest.raises(TypeError, match="x must be a real numeric array"):
        as_array(np.zeros(2, dtype=ml_dtypes.complex32))


def test_strict_complex_is_refused():
    xps = pytest.importorskip("array_api_strict")
    with pytest.raises(TypeError, match=r"W must be a real numeric array .*complex128"):
        as_array(xps.asarray([1 + 2j]), "W")
