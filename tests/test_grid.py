"""Coarse floating-point grids (sparsity/tails/_grid.py): detection from the data, rounding cells, dequantisation."""

from __future__ import annotations

import numpy as np
import pytest

from sparsity.layers._stability import round_bfloat16
from sparsity.tails import _grid as gr


def _magnitudes(seed: int, n: int = 5000) -> np.ndarray:
    """Positive magnitudes over six decades (heavy-tailed), float64."""
    rng = np.random.default_rng(seed)
    return np.abs(rng.standard_t(3, n)) * 10.0 ** rng.uniform(-3, 3, n) + 1e-6


@pytest.mark.parametrize("seed", range(3))
def test_the_format_is_recognised_from_the_values(seed):
    x = _magnitudes(seed)
    assert gr.detect_grid(x) is None and gr.significand_bits(x) == 53  # float64: continuous
    f32 = x.astype(np.float32).astype(np.float64)
    assert gr.significand_bits(f32) == 24 and gr.detect_grid(f32) is None
    f16 = np.clip(x, 1e-4, 6e4).astype(np.float16).astype(np.float64)
    assert gr.detect_grid(f16) == gr.Grid(11, 0.0)
    assert gr.detect_grid(round_bfloat16(x)) == gr.Grid(8, 0.0)


@pytest.mark.parametrize(("dtype", "bits"), [("float8_e4m3fn", 4), ("float8_e5m2", 3)])
def test_fp8_grids_are_recognised(dtype, bits):
    ml_dtypes = pytest.importorskip("ml_dtypes")
    x = np.random.default_rng(1).uniform(0.02, 200.0, 3000)  # normal range of both formats (e4m3: 2^-6..448)
    q = x.astype(getattr(ml_dtypes, dtype)).astype(np.float64)
    assert gr.detect_grid(q) == gr.Grid(bits, 0.0)


def test_a_float32_sample_is_never_gridded():
    # each float32 value of a continuous law has its 13 lowest significand bits all zero with probability 2^-13;
    # a window of 10 passes with probability 2^-130, so none of 2000 seeded windows may pass
    rng = np.random.default_rng(2)
    w = (rng.pareto(3.0, (2000, 10)) + 1.0).astype(np.float32).astype(np.float64)
    assert not any(gr.detect_grid(row) for row in w)
    assert max(gr.significand_bits(row) for row in w) == 24


def test_coarse_but_too_coarse_grids_are_left_alone():
    assert gr.detect_grid(np.array([1.0, 2.0, 4.0, 0.5])) is None  # powers of two: 1 bit
    assert gr.detect_grid(np.ones(100)) is None  # ternary weights' magnitudes
    assert gr.detect_grid(np.array([1.0, 1.5, 3.0])) is None  # 2 bits
    with pytest.raises(ValueError, match="positive finite"):
        gr.detect_grid(np.array([0.0, 1.0]))


def _assert_cells_tile_and_round(values: np.ndarray, grid: gr.Grid, to_grid, dtype) -> None:
    """Consecutive grid values' cells touch, and points just inside a cell (the next ``dtype`` number inward)
    round to its value (nearest)."""
    lo, hi = gr.cell_bounds(values, grid)
    np.testing.assert_array_equal(hi[:-1], lo[1:])
    inside_lo = np.nextafter(lo.astype(dtype), dtype(np.inf)).astype(np.float64)
    inside_hi = np.nextafter(hi.astype(dtype), dtype(-np.inf)).astype(np.float64)
    np.testing.assert_array_equal(to_grid(inside_lo), values)
    np.testing.assert_array_equal(to_grid(inside_hi), values)
    np.testing.assert_array_equal(to_grid((lo + hi) / 2), values)


def test_bfloat16_cells_are_the_rounding_cells_across_powers_of_two():
    # every bfloat16 value in [1/8, 8): four binades and the power-of-two boundaries between them
    bits = np.arange(0x3E00, 0x4100, dtype=np.uint32) << 16
    values = bits.view(np.float32).astype(np.float64)
    _assert_cells_tile_and_round(values, gr.Grid(8, 0.0), lambda v: round_bfloat16(v.astype(np.float32)), np.float32)
    lo, hi = gr.cell_bounds(np.array([1.0]), gr.Grid(8, 0.0))
    assert (1.0 - lo[0], hi[0] - 1.0) == (2.0**-9, 2.0**-8)  # the spacing halves below a power of two


def test_float16_subnormals_get_the_floor():
    # every float16 value from the smallest subnormal to 1/2: the spacing stays 2^-24 below 2^-14
    values = np.arange(1, 0x3800, dtype=np.uint16).view(np.float16).astype(np.float64)
    grid = gr.detect_grid(values)
    assert grid == gr.Grid(11, 2.0**-24)
    _assert_cells_tile_and_round(values, grid, lambda v: v.astype(np.float16).astype(np.float64), np.float64)


def test_integers_get_a_floor_of_one():
    x = np.repeat(np.arange(1.0, 128.0), 3)
    grid = gr.detect_grid(x)
    assert grid == gr.Grid(7, 1.0)
    lo, hi = gr.cell_bounds(np.array([3.0, 64.0, 100.0]), grid)
    np.testing.assert_array_equal(hi - lo, [1.0, 1.0, 1.0])


def test_no_false_floor_from_a_sparse_lowest_binade():
    # bf16 values whose lowest binade holds a few values that all happen to be even: a floor there would double
    # their cells; with fewer than FLOOR_MIN_COUNT supporting values it is not believed
    x = round_bfloat16(np.random.default_rng(3).uniform(1.0, 2.0, 5000))
    low = np.array([0.5 + 2.0**-7 * k for k in (2, 10, 36)])  # even multiples of the 2^-9 step of [1/2, 1)
    assert gr.detect_grid(np.concatenate((low, x))) == gr.Grid(8, 0.0)


def test_dequantise_keeps_order_stays_in_cells_and_is_deterministic():
    rng = np.random.default_rng(4)
    x = np.sort(round_bfloat16(rng.random(20_000) ** (-1 / 3.0)))
    grid = gr.detect_grid(x)
    assert grid == gr.Grid(8, 0.0)
    y = gr.dequantise(x, grid)
    assert y.dtype == np.float64 and y.shape == x.shape
    assert np.all(np.diff(y) > 0)  # ties broken, order kept
    lo, hi = gr.cell_bounds(x, grid)
    assert np.all((lo <= y) & (y < hi))
    np.testing.assert_array_equal(y, gr.dequantise(x.copy(), grid))  # no seed: the same every time
    # each group sits at its cell's quantiles (k + 0.5) / g: its mean is the cell midpoint
    v, start, g = np.unique(x, return_index=True, return_counts=True)
    means = np.add.reduceat(y, start) / g
    lo_v, hi_v = gr.cell_bounds(v, grid)
    np.testing.assert_allclose(means, (lo_v + hi_v) / 2, rtol=1e-14)


def test_singletons_go_to_their_cell_midpoint():
    grid = gr.Grid(8, 0.0)
    y = gr.dequantise(np.array([1.5, 2.0, 3.0]), grid)
    np.testing.assert_array_equal(y, [1.5, 2.0 + 2.0**-7 / 4, 3.0])  # a power of two: v + h_below / 4


def test_a_cut_lowest_group_is_dropped():
    x = np.array([1.0, 1.0, 1.5, 1.5, 1.5, 2.0])
    grid = gr.Grid(3, 0.0)
    full = gr.dequantise(x, grid)
    top = gr.dequantise(x, grid, lowest_complete=False)
    np.testing.assert_array_equal(top, full[2:])  # exactly the top of the dequantised full sample
    assert gr.dequantise(np.array([1.0, 1.0]), grid, lowest_complete=False).size == 0


def test_continuous_sample_returns_continuous_input_itself():
    x = np.sort(_magnitudes(5))
    same, grid = gr.continuous_sample(x)
    assert same is x and grid is None
    y, grid = gr.continuous_sample(np.sort(round_bfloat16(x)))
    assert grid is not None and np.all(np.diff(y) > 0)
