"""The namespace rule of the sparsity package docstring, checked for every public function on every backend.

Arrays out are in the data argument's namespace and on its device (array_api_strict runs on its second, fake
device so that an array made on the default device is caught); scalars out are Python floats/ints; typed results
hold Python scalars (replicate arrays: NumPy). Values equal the NumPy route, within tolerances derived below.
Backends: numpy, array_api_strict, torch (CPU; skipped when torch does not import), CuPy on a GPU run.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import array_api_compat
import numpy as np
import pytest
from conftest import GPU_AVAILABLE
from xp_helpers import namespace_name, xp_assert_close, xp_assert_equal

import sparsity as sp
from sparsity import expected, synthetic

EPS = np.finfo(np.float64).eps
EPS32 = float(np.finfo(np.float32).eps)
RNG = np.random.default_rng(2024)
N = 3000
X = RNG.standard_t(1.5, N)  # heavy-tailed vector
M_ROWS, N_COLS = 50, 30
S_TRUE = synthetic.power_law_spectrum(N_COLS, sv_tail_index=1.0)  # 60, 20, 12, 8.6, ...: gaps >= 1/30 of s_1
W = synthetic.spectrum_matrix(S_TRUE, M_ROWS, N_COLS, rng=5)
S1 = float(S_TRUE[0])
# Backward-stable SVD / Gram eigensolvers (LAPACK, torch, array_api_strict's NumPy) agree to c (m + n) u s_1
# per singular value (Weyl); c = 4 as in tests/test_spectra.py.
SV_ATOL = 4 * (M_ROWS + N_COLS) * EPS * S1
# Curves are sums of at most n positive terms: two summation orders agree to n u relative (2 n u relative curves).
CURVE_RTOL = 2 * N * EPS


class Backend(NamedTuple):
    name: str
    module: Any  # what a user passes as ``xp=``
    make: Callable[[Any], Any]  # NumPy data -> an array of this backend, on its test device


def _backend(name: str) -> Backend:
    if name == "numpy":
        return Backend(name, np, np.asarray)
    if name == "array_api_strict":
        import array_api_strict as xps

        return Backend(name, xps, lambda a: xps.asarray(np.asarray(a), device=xps.Device("device1")))
    if name == "torch":
        import torch

        return Backend(name, torch, lambda a: torch.asarray(np.array(a, order="C")))  # torch: no negative strides
    import cupy

    return Backend(name, cupy, cupy.asarray)


def _params() -> list[Any]:
    params = [pytest.param("numpy", id="numpy"), pytest.param("array_api_strict", id="array_api_strict")]
    no_torch = importlib.util.find_spec("torch") is None
    params.append(pytest.param("torch", id="torch", marks=pytest.mark.skipif(no_torch, reason="torch not installed")))
    if GPU_AVAILABLE:
        params.append(pytest.param("cupy", id="cupy", marks=pytest.mark.gpu))
    return params


@pytest.fixture(params=_params())
def backend(request) -> Backend:
    return _backend(request.param)


def _device(a: Any) -> Any:
    return "cpu" if isinstance(a, np.generic) else array_api_compat.device(a)


# ------------------------------------------------------------------ arrays out: namespace, device, dtype, values
# (id, call with the backend's maker, dtype name of the result, absolute tolerance, relative tolerance)
ARRAY_CASES: list[tuple[str, Callable[[Callable[[Any], Any]], Any], str, float, float]] = [
    ("best_k_error", lambda mk: sp.best_k_error(mk(X)), "float64", 0.0, CURVE_RTOL),
    ("best_k_error relative", lambda mk: sp.best_k_error(mk(X), relative=True), "float64", 0.0, CURVE_RTOL),
    ("best_k_error k int", lambda mk: sp.best_k_error(mk(X), 7), "float64", 0.0, CURVE_RTOL),
    ("best_k_error k array", lambda mk: sp.best_k_error(mk(X), [[1, 2], [N - 1, N]]), "float64", 0.0, CURVE_RTOL),
    # max k = 100 <= n / 16: the host route partitions instead of sorting
    ("best_k_error k small", lambda mk: sp.best_k_error(mk(X), mk(np.array([10, 100]))), "float64", 0.0, CURVE_RTOL),
    ("best_k_error float32", lambda mk: sp.best_k_error(mk(X.astype(np.float32)), p=1.0), "float64", 0.0, CURVE_RTOL),
    ("best_k_error int", lambda mk: sp.best_k_error(mk(np.arange(-50, 50))), "float64", 0.0, CURVE_RTOL),
    ("singular_values", lambda mk: sp.singular_values(mk(W)), "float64", SV_ATOL, 0.0),
    ("singular_values svd", lambda mk: sp.singular_values(mk(W), method="svd"), "float64", SV_ATOL, 0.0),
    # float32 input: float32 Gram/SVD, u_32 instead of u_64
    (
        "singular_values float32",
        lambda mk: sp.singular_values(mk(W.astype(np.float32))),
        "float64",
        4 * (M_ROWS + N_COLS) * EPS32 * S1,
        0.0,
    ),
    ("esd", lambda mk: sp.esd(mk(W)), "float64", 2 * SV_ATOL * S1, 0.0),  # d(s^2) = 2 s ds
    # Frobenius tails: |e_k - e'_k| <= ||s - s'||_2 <= sqrt(r) SV_ATOL
    ("rank_k_error", lambda mk: sp.rank_k_error(mk(W)), "float64", math.sqrt(N_COLS) * SV_ATOL, 0.0),
    ("rank_k_error k int", lambda mk: sp.rank_k_error(mk(W), 3), "float64", math.sqrt(N_COLS) * SV_ATOL, 0.0),
    (
        "rank_k_error relative k",
        lambda mk: sp.rank_k_error(mk(W), [1, 5], relative=True),
        "float64",
        2 * math.sqrt(N_COLS) * SV_ATOL / S1,
        0.0,
    ),
    ("rank_k_error spectral", lambda mk: sp.rank_k_error(mk(W), norm="spectral"), "float64", SV_ATOL, 0.0),
    # W_3: Davis-Kahan, the rank-3 projector moves by <= ||E|| / gap (gap s_3 - s_4 = 3.4 = s_1 / 17.5)
    ("truncate", lambda mk: sp.truncate(mk(W), 3), "float64", SV_ATOL * (1 + 2 * 17.5), 0.0),
    (
        "truncate float32",
        lambda mk: sp.truncate(mk(W.astype(np.float32)), 3),
        "float32",
        4 * (M_ROWS + N_COLS) * EPS32 * S1 * (1 + 2 * 17.5),
        0.0,
    ),
    ("alpha_ww_to_sv_tail_index", lambda mk: sp.alpha_ww_to_sv_tail_index(mk([1.5, 2.0, 3.0])), "float64", 0, 0),
    ("sv_tail_index_to_alpha_ww", lambda mk: sp.sv_tail_index_to_alpha_ww(mk([0.5, 2.0])), "float64", 0, 0),
    ("bbp_outlier", lambda mk: synthetic.bbp_outlier(mk([0.5, 2.0, 3.0]), 50, 100), "float64", 0.0, 0.0),
    ("spectrum_matrix", lambda mk: synthetic.spectrum_matrix(mk(S_TRUE[:4]), 6, 5, rng=1), "float64", 0.0, 0.0),
    ("log_gamma_ratio", lambda mk: expected.log_gamma_ratio(mk([30.0, 1e6]), 0.5), "float64", 0.0, 0.0),
]


@pytest.mark.parametrize(("name", "call", "dtype", "atol", "rtol"), ARRAY_CASES, ids=[c[0] for c in ARRAY_CASES])
def test_arrays_come_back_in_the_input_namespace_and_device(backend, name, call, dtype, atol, rtol):
    out = call(backend.make)
    like = backend.make(np.zeros(1))
    assert namespace_name(out) == backend.name, f"{name}: {namespace_name(out)} out of {backend.name} in"
    assert _device(out) == _device(like), f"{name}: device {_device(out)}, input on {_device(like)}"
    assert str(out.dtype).rsplit(".", 1)[-1] == dtype
    ref = call(np.asarray)  # the NumPy route
    xp_assert_close(out, backend.make(ref), rtol=rtol, atol=atol, err_msg=name)


def test_truncate_factors_are_in_the_input_namespace(backend):
    U, s, Vt = sp.truncate(backend.make(W), 3, return_factors=True)
    like = backend.make(np.zeros(1))
    for a in (U, s, Vt):
        assert namespace_name(a) == backend.name and _device(a) == _device(like)
    xp_assert_close(s, backend.make(S_TRUE[:3]), rtol=0, atol=SV_ATOL)


def test_host_route_is_bit_identical_for_torch():
    # torch CPU tensors run the NumPy kernels through a DLPack view: the same numbers, not just close ones
    torch = pytest.importorskip("torch")
    for k in (None, 5, [10, 100], [0, N]):
        got = sp.best_k_error(torch.asarray(X), k)
        assert isinstance(got, torch.Tensor)
        np.testing.assert_array_equal(got.numpy(), sp.best_k_error(X, k))
    leaf = torch.asarray(X).requires_grad_(True)  # an nn.Parameter, say: measured without its autograd graph
    np.testing.assert_array_equal(sp.best_k_error(leaf).numpy(), sp.best_k_error(X))


def test_non_array_inputs_give_numpy():
    assert isinstance(sp.best_k_error([3.0, -4.0]), np.ndarray)
    assert isinstance(sp.best_k_error([3.0, -4.0], 1), np.float64)  # NumPy's own 0-d result
    assert isinstance(sp.singular_values([[1.0, 2.0], [3.0, 4.0]]), np.ndarray)
    assert isinstance(sp.rank_k_error([[1.0, 2.0], [3.0, 4.0]], [1]), np.ndarray)
    assert isinstance(sp.alpha_ww_to_sv_tail_index([2.0, 3.0]), np.ndarray)
    assert isinstance(synthetic.bbp_outlier([1.0, 2.0], 10, 10), np.ndarray)
    assert isinstance(synthetic.spectrum_matrix([2.0, 1.0], 3, 3, rng=0), np.ndarray)
    # Python scalars in, Python floats out
    assert type(sp.alpha_ww_to_sv_tail_index(2.5)) is float and type(sp.sv_tail_index_to_alpha_ww(1)) is float
    assert type(synthetic.bbp_outlier(2.0, 10, 10)) is float


def test_k_never_sets_the_namespace(backend):
    # k is an index, not data: NumPy data with a k of another namespace stays NumPy, and the reverse
    k = backend.make(np.array([1, 5]))
    assert isinstance(sp.best_k_error(X, k), np.ndarray)
    assert namespace_name(sp.best_k_error(backend.make(X), [1, 5])) == backend.name
    exp = expected.expected_best_k_error(100, 1.5, k)  # no data argument: NumPy
    np.testing.assert_array_equal(exp, expected.expected_best_k_error(100, 1.5, [1, 5]))


# ------------------------------------------------------------------ generators: xp= names the namespace
GENERATORS: list[tuple[str, Callable[..., Any]]] = [
    ("stable", lambda **kw: synthetic.stable(1.5, 20, **kw)),
    ("pareto", lambda **kw: synthetic.pareto(1.5, (4, 5), **kw)),
    ("student_t", lambda **kw: synthetic.student_t(3.0, 20, **kw)),
    ("gaussian", lambda **kw: synthetic.gaussian(20, **kw)),
    ("laplace", lambda **kw: synthetic.laplace(20, **kw)),
    ("generalized_gaussian", lambda **kw: synthetic.generalized_gaussian(0.5, 20, **kw)),
    ("lognormal", lambda **kw: synthetic.lognormal(20, **kw)),
    ("power_law_sequence", lambda rng=None, **kw: synthetic.power_law_sequence(1.0, 20, **kw)),
    ("sparse_plus_noise", lambda **kw: synthetic.sparse_plus_noise(20, 3, 0.1, **kw)),
    ("gaussian_matrix", lambda **kw: synthetic.gaussian_matrix(6, 5, **kw)),
    ("levy_matrix", lambda **kw: synthetic.levy_matrix(1.0, 6, 5, **kw)),
    ("spiked_matrix", lambda **kw: synthetic.spiked_matrix(6, 5, 3.0, **kw)),
    ("spectrum_matrix", lambda **kw: synthetic.spectrum_matrix([3.0, 1.0], 6, 5, **kw)),
    ("power_law_spectrum", lambda rng=None, **kw: synthetic.power_law_spectrum(5, alpha_ww=2.0, **kw)),
]


@pytest.mark.parametrize("dtype", [None, "float32"])
@pytest.mark.parametrize(("name", "gen"), GENERATORS, ids=[g[0] for g in GENERATORS])
def test_generators_return_the_xp_namespace(backend, name, gen, dtype):
    out = gen(rng=3, xp=backend.module, dtype=dtype)
    assert namespace_name(out) == backend.name
    want = np.float32 if dtype else np.float64
    # same host draws, one cast: equal to the NumPy route, bit for bit, on the namespace's default device
    xps = array_api_compat.array_namespace(out)
    xp_assert_equal(out, xps.asarray(gen(rng=3, dtype=want)))


def test_generator_dtype_may_be_a_dtype_of_the_namespace(backend):
    xps = array_api_compat.array_namespace(backend.make(np.zeros(1)))
    out = synthetic.gaussian(5, rng=0, xp=backend.module, dtype=xps.float32)
    assert out.dtype == xps.float32


# ------------------------------------------------------------------ scalars out: Python floats and ints
SCALAR_MEASURES = [
    sp.gini_index,
    sp.numerical_sparsity,
    sp.hoyer_sparsity,
    sp.entropy_effective_rank,
    sp.participation_ratio,
    sp.stable_rank,
]


@pytest.mark.parametrize("measure", SCALAR_MEASURES, ids=[f.__name__ for f in SCALAR_MEASURES])
def test_measures_are_python_floats(backend, measure):
    got = measure(backend.make(X))
    assert type(got) is float
    # sums of n positive terms (each measure a ratio of at most two such sums, one squared): 4 n u relative
    assert got == pytest.approx(measure(X), rel=4 * N * EPS)


def test_effective_sparsity_and_predicted_exponent_are_python_scalars(backend):
    got = sp.effective_sparsity(backend.make(X), 0.1)
    assert type(got) is int and got == sp.effective_sparsity(X, 0.1)
    assert type(sp.predicted_decay_exponent(1.5)) is float


_HOST_ARRAY_FIELDS = {"ks_boot", "exponents"}  # replicate arrays drawn on the host: NumPy by the rule


def _fields(result: Any) -> dict[str, Any]:
    """The fields of a typed result (dataclass, named tuple), a dict, or a plain tuple (keyed by position)."""
    if dataclasses.is_dataclass(result):
        return {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}
    if isinstance(result, tuple) and hasattr(result, "_fields"):
        return dict(zip(result._fields, result, strict=True))
    if isinstance(result, dict):
        return dict(result)
    return {str(i): v for i, v in enumerate(result)}


def _assert_python_scalars(result: Any, where: str) -> None:
    """Every field of a typed result is a Python scalar, str, None, or a tuple/dict/typed result of them."""
    for key, value in _fields(result).items():
        name = f"{where}.{key}"
        if key in _HOST_ARRAY_FIELDS:
            assert isinstance(value, np.ndarray), f"{name}: {type(value)}"
        elif isinstance(value, (tuple, dict)) or dataclasses.is_dataclass(value):
            _assert_python_scalars(value, name)
        else:
            assert value is None or type(value) in (bool, int, float, str), f"{name}: {type(value).__name__}"


def _assert_same_numbers(got: Any, ref: Any, where: str, rel: float) -> None:
    """The scalar fields of two typed results agree: floats to ``rel``, everything else exactly."""
    want = _fields(ref)
    for key, value in _fields(got).items():
        if isinstance(value, float):
            assert value == pytest.approx(want[key], rel=rel, nan_ok=True), f"{where}.{key}"
        elif value is None or isinstance(value, (bool, int, str)):
            assert value == want[key], f"{where}.{key}"


TYPED_CASES: list[tuple[str, Callable[[Callable[[Any], Any]], Any]]] = [
    ("decay_exponent", lambda mk: sp.decay_exponent(mk(X))),
    ("fit_tail csn", lambda mk: sp.fit_tail(mk(X))),
    ("fit_tail hill", lambda mk: sp.fit_tail(mk(X), method="hill", rng=0)),  # seeded double bootstrap
    ("fit_esd", lambda mk: sp.fit_esd(mk(W))),
    ("likelihood_ratio_test", lambda mk: sp.likelihood_ratio_test(mk(X))),
    ("power_law_pvalue", lambda mk: sp.power_law_pvalue(mk(X), n_boot=10, rng=0)),
    (
        "simulated_decay_exponent",
        lambda mk: expected.simulated_decay_exponent(lambda g, n: mk(g.standard_cauchy(n)), 400, replicates=4, rng=0),
    ),
    ("analyze_matrix", lambda mk: sp.analyze_matrix(mk(W))),
]


@pytest.mark.parametrize(("name", "call"), TYPED_CASES, ids=[c[0] for c in TYPED_CASES])
def test_typed_results_hold_python_scalars(backend, name, call):
    got = call(backend.make)
    _assert_python_scalars(got, name)
    # the same computation up to summation order; a fit moves by at most a few thousand u
    _assert_same_numbers(got, call(np.asarray), name, rel=1e-9)
