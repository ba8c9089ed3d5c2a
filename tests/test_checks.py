"""Tests for sparsity._checks: one vocabulary of parameter checks, one message format (parameter, rule, value)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sparsity._checks import as_generator, check_bool, check_choice, check_int, check_k, check_real

# ---------------------------------------------------------------------------------------------- check_int


def test_check_int_returns_python_int():
    for value in (3, np.int64(3), np.uint8(3)):
        out = check_int(value, "n", low=1)
        assert out == 3 and type(out) is int
    assert check_int(None, "n", allow_none=True) is None


@pytest.mark.parametrize(
    ("value", "kwargs", "exc", "message"),
    [
        (0, {"low": 1}, ValueError, r"^n_boot must be an integer >= 1; got 0$"),
        (11, {"low": 1, "high": 10}, ValueError, r"^n_boot must be an integer in \[1, 10\]; got 11$"),
        (True, {"low": 0}, TypeError, r"^n_boot must be an integer >= 0; got True$"),
        (np.bool_(True), {"low": 0}, TypeError, r"^n_boot must be an integer >= 0; got "),
        (2.0, {"low": 1}, TypeError, r"^n_boot must be an integer >= 1; got 2\.0$"),
        ("3", {}, TypeError, r"^n_boot must be an integer; got '3'$"),
        (None, {"low": 1}, TypeError, r"^n_boot must be an integer >= 1; got None$"),
        (2.5, {"low": 1, "allow_none": True}, TypeError, r"^n_boot must be None or an integer >= 1; got 2\.5$"),
    ],
)
def test_check_int_messages(value, kwargs, exc, message):
    with pytest.raises(exc, match=message):
        check_int(value, "n_boot", **kwargs)


def test_check_int_bounds_are_inclusive():
    assert check_int(1, "k", low=1, high=3) == 1
    assert check_int(3, "k", low=1, high=3) == 3
    assert check_int(-7, "k", high=3) == -7  # no lower bound unless one is given


# ---------------------------------------------------------------------------------------------- check_real


@pytest.mark.parametrize(
    ("closed", "rule", "inside", "outside"),
    [
        ("both", r"in \[0, 1\]", (0.0, 1.0), (-1e-300, 1.0000001)),
        ("left", r"in \[0, 1\)", (0.0, 0.5), (1.0,)),
        ("right", r"in \(0, 1\]", (1.0, 0.5), (0.0,)),
        ("neither", r"in \(0, 1\)", (0.5, 1e-300), (0.0, 1.0)),
    ],
)
def test_check_real_open_and_closed_bounds(closed, rule, inside, outside):
    for v in inside:
        assert check_real(v, "q", low=0, high=1, closed=closed) == v
    for v in outside:
        with pytest.raises(ValueError, match=rf"^q must be a finite real number {rule}; got "):
            check_real(v, "q", low=0, high=1, closed=closed)


@pytest.mark.parametrize(
    ("kwargs", "rule"),
    [
        ({"low": 0, "closed": "neither"}, r"> 0"),
        ({"low": 0}, r">= 0"),
        ({"high": 2, "closed": "neither"}, r"< 2"),
        ({"high": 2}, r"<= 2"),
    ],
)
def test_check_real_one_sided_rules(kwargs, rule):
    bad = -1.0 if "low" in kwargs else 3.0
    with pytest.raises(ValueError, match=rf"^p must be a finite real number {rule}; got {bad}$"):
        check_real(bad, "p", **kwargs)


def test_check_real_nan_is_always_refused():
    for kwargs in ({}, {"allow_inf": True}, {"low": 0}, {"allow_none": True}):
        with pytest.raises(ValueError, match=r"got nan$"):
            check_real(float("nan"), "alpha", **kwargs)
    with pytest.raises(ValueError, match=r"got np\.float32\(nan\)$"):
        check_real(np.float32("nan"), "alpha")


def test_check_real_infinity():
    with pytest.raises(ValueError, match=r"^alpha must be a finite real number > 0; got inf$"):
        check_real(math.inf, "alpha", low=0, closed="neither")
    assert check_real(math.inf, "alpha", low=0, closed="neither", allow_inf=True) == math.inf
    # allow_inf does not lift the bounds: -inf is still below 0
    with pytest.raises(ValueError, match=r"^alpha must be a real number > 0; got -inf$"):
        check_real(-math.inf, "alpha", low=0, closed="neither", allow_inf=True)


def test_check_real_types():
    assert type(check_real(2, "p")) is float
    assert check_real(np.float32(0.5), "p") == 0.5
    assert check_real(None, "p", allow_none=True) is None
    for bad in (True, np.bool_(False), "2", None, [1.0], 1 + 0j):
        with pytest.raises(TypeError, match=r"^p must be a finite real number; got "):
            check_real(bad, "p")


# ---------------------------------------------------------------------------------------------- check_bool / choice


def test_check_bool():
    assert check_bool(True, "relative") is True
    assert check_bool(np.bool_(False), "relative") is False
    for bad in (1, 0, "yes", None):
        with pytest.raises(TypeError, match=rf"^relative must be True or False; got {bad!r}"):
            check_bool(bad, "relative")


def test_check_choice():
    assert check_choice("fro", "norm", ("fro", "spectral")) == "fro"
    with pytest.raises(ValueError, match=r"^norm must be one of \['fro', 'spectral'\]; got 'nuclear'$"):
        check_choice("nuclear", "norm", ("fro", "spectral"))
    with pytest.raises(ValueError, match=r"^norm must be one of \['fro', 'spectral'\]; got \['fro'\]"):
        check_choice(["fro"], "norm", ("fro", "spectral"))  # unhashable
    with pytest.raises(ValueError, match=r"^method must be one of \['auto', 'svd'\]; got 'SVD'$"):
        check_choice("SVD", "method", ("auto", "svd"))  # case-sensitive
    # True == 1, but a bool is not an integer choice
    with pytest.raises(ValueError, match=r"^order must be one of \[1, 2\]; got True$"):
        check_choice(True, "order", (1, 2))


# ---------------------------------------------------------------------------------------------- check_k


def test_check_k_keeps_shape_and_accepts_integral_floats():
    out = check_k([[0, 2.0], [3, 1]], 3)
    assert out.dtype == np.int64 and out.shape == (2, 2)
    np.testing.assert_array_equal(out, [[0, 2], [3, 1]])
    assert check_k(2.0, 5).shape == ()
    assert check_k(np.uint8(5), 5) == 5
    assert check_k(np.zeros((0, 3), dtype=int), 0).shape == (0, 3)


@pytest.mark.parametrize(
    ("k", "exc", "message"),
    [
        (6, ValueError, r"^k must satisfy 0 <= k <= n = 5; got \[6\]$"),
        ([-1, 2, 7], ValueError, r"^k must satisfy 0 <= k <= n = 5; got \[-1, 7\]$"),
        (2.5, TypeError, r"^k must be an integer or an array of integers; got 2\.5 \(dtype float64\)$"),
        (float("nan"), TypeError, r"^k must be an integer or an array of integers; got nan"),
        (True, TypeError, r"^k must be an integer or an array of integers; got True$"),
        ("2", TypeError, r"^k must be an integer or an array of integers; got '2'"),
        ([[1], [1, 2]], TypeError, r"^k must be an integer or an array of integers; got"),
    ],
)
def test_check_k_messages(k, exc, message):
    with pytest.raises(exc, match=message):
        check_k(k, 5)


def test_check_k_names_the_bound():
    with pytest.raises(ValueError, match=r"^k must satisfy 0 <= k <= min\(m, n\) = 4; got \[5\]$"):
        check_k(5, 4, n_name="min(m, n)")


# ---------------------------------------------------------------------------------------------- as_generator


def test_as_generator_accepts_the_documented_seeds():
    ref = np.random.default_rng(7).random(3)
    np.testing.assert_array_equal(as_generator(7).random(3), ref)
    np.testing.assert_array_equal(as_generator(np.int64(7)).random(3), ref)
    np.testing.assert_array_equal(as_generator(np.random.SeedSequence(7)).random(3), ref)
    g = np.random.default_rng(7)
    assert as_generator(g) is g  # the caller's Generator is used, and advances
    assert isinstance(as_generator(None), np.random.Generator)


@pytest.mark.parametrize(
    ("rng", "exc", "message"),
    [
        (-1, ValueError, r"^rng must be None, an integer seed >= 0 or a numpy\.random\.Generator; got -1$"),
        (1.5, TypeError, r"^rng must be None, an integer seed >= 0 or a numpy\.random\.Generator; got 1\.5$"),
        (True, TypeError, r"got True$"),
        ("seed", TypeError, r"got 'seed'$"),
        (np.random.RandomState(0), TypeError, r"got .*RandomState"),
    ],
)
def test_as_generator_refuses(rng, exc, message):
    with pytest.raises(exc, match=message):
        as_generator(rng)
