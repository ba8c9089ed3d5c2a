"""Tests for sparsity.measures: closed forms, bounds, invariances and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import sparsity as sp

MEASURES = [
    sp.gini_index,
    sp.numerical_sparsity,
    sp.hoyer_sparsity,
    sp.entropy_effective_rank,
    sp.participation_ratio,
    sp.stable_rank,
]


@pytest.mark.parametrize("n", [2, 5, 100])
def test_extremes(n):
    flat = np.ones(n)
    one_hot = np.zeros(n)
    one_hot[n // 2] = -3.0
    assert sp.gini_index(flat) == pytest.approx(0.0, abs=1e-15)
    assert sp.gini_index(one_hot) == pytest.approx(1.0 - 1.0 / n, rel=1e-14)
    assert sp.hoyer_sparsity(flat) == pytest.approx(0.0, abs=1e-14)
    assert sp.hoyer_sparsity(one_hot) == pytest.approx(1.0, rel=1e-14)
    for f in (sp.numerical_sparsity, sp.entropy_effective_rank, sp.participation_ratio, sp.stable_rank):
        assert f(flat) == pytest.approx(n, rel=1e-13)
        assert f(one_hot) == pytest.approx(1.0, rel=1e-13)


def test_closed_forms_on_a_small_vector():
    x = np.array([3.0, -1.0, 0.0, 2.0])
    # sorted ascending c = (0, 1, 2, 3), ||c||_1 = 6, n = 4: G = 1 - 2 sum c_k/6 (4 - k + 1/2)/4
    gini = 1 - 2 * sum(c / 6 * (4 - k + 0.5) / 4 for k, c in enumerate([0, 1, 2, 3], start=1))
    assert sp.gini_index(x) == pytest.approx(gini, rel=1e-14)
    assert sp.numerical_sparsity(x) == pytest.approx(36 / 14, rel=1e-14)
    assert sp.hoyer_sparsity(x) == pytest.approx((2 - 6 / math.sqrt(14)) / (2 - 1), rel=1e-14)
    q = np.array([3, 1, 2]) / 6
    assert sp.entropy_effective_rank(x) == pytest.approx(math.exp(-np.sum(q * np.log(q))), rel=1e-14)
    assert sp.participation_ratio(x) == pytest.approx(14**2 / (81 + 1 + 16), rel=1e-14)
    assert sp.stable_rank(x) == pytest.approx(14 / 9, rel=1e-14)


def test_stable_rank_of_singular_values_is_frobenius_over_spectral():
    w = np.random.default_rng(0).standard_normal((40, 25))
    s = np.linalg.svd(w, compute_uv=False)
    fro2, spec2 = np.linalg.norm(w, "fro") ** 2, np.linalg.norm(w, 2) ** 2
    assert sp.stable_rank(s) == pytest.approx(fro2 / spec2, rel=1e-12)


positive = arrays(np.float64, st.integers(2, 50), elements=st.floats(-1e3, 1e3, allow_nan=False, width=64))


@settings(max_examples=50, deadline=None)
@given(positive, st.floats(1e-6, 1e6))
def test_scale_and_sign_invariance_and_bounds(x, c):
    if not np.any(x != 0):
        return
    n = x.size
    for f in MEASURES:
        v = f(x)
        assert f(-c * x) == pytest.approx(v, rel=1e-9, abs=1e-12)
    assert -1e-12 <= sp.gini_index(x) <= 1 - 1 / n + 1e-12
    assert -1e-12 <= sp.hoyer_sparsity(x) <= 1 + 1e-12
    for f in (sp.numerical_sparsity, sp.entropy_effective_rank, sp.participation_ratio, sp.stable_rank):
        assert 1 - 1e-9 <= f(x) <= n * (1 + 1e-9)


def test_no_overflow_for_huge_float32():
    x = np.array([3e38, 3e38, 0.0], dtype=np.float32)
    assert sp.participation_ratio(x) == pytest.approx(2.0)
    assert sp.stable_rank(x) == pytest.approx(2.0)


@pytest.mark.parametrize("f", MEASURES)
def test_all_zero_and_bad_input(f):
    with pytest.raises(ValueError, match="all-zero"):
        f(np.zeros(4))
    with pytest.raises(ValueError, match="finite"):
        f(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="at least one value"):
        f(np.array([]))


@pytest.mark.parametrize("f", MEASURES)
def test_measures_on_every_backend(f, xp):
    x_np = np.random.default_rng(3).standard_t(2.0, 1000)
    x_np[::7] = 0.0  # zeros exercise the 0 log 0 = 0 convention of the entropy
    got = f(xp.asarray(x_np))
    assert type(got) is float
    # The same float64 operations in the namespace of x, possibly summed in another order: a sum of n positive
    # terms is within (n - 1) u of the exact sum, and each measure is a ratio of at most 4 such sums.
    tol = 4 * x_np.size * np.finfo(np.float64).eps
    assert got == pytest.approx(f(x_np), rel=tol)
    # float32 input is widened to float64 before any arithmetic, on every backend
    assert f(xp.asarray(x_np, dtype=xp.float32)) == pytest.approx(f(x_np.astype(np.float32)), rel=tol)


def test_hoyer_needs_two_values():
    with pytest.raises(ValueError, match="at least 2 values"):
        sp.hoyer_sparsity([1.0])
