"""Quantization as a study: how tails and decays move when weights are rounded to low-precision formats.

Each 2-D float tensor is rounded to every format of :data:`FORMATS` and back to float32
(:func:`quantize`), and the rounded tensor is measured as the original is (:func:`sparsity.analyze_matrix`):
``alpha_ww`` with its standard error ``sigma`` (WeightWatcher's ``(alpha_ww - 1) / sqrt(num_pl_spikes)``), the entry
tail index, the rank-k and best-k decays, and the relative Frobenius error of the rounding. A spectrum *moved* when
``alpha_ww`` after rounding leaves the central ``level`` confidence interval of the original,
``alpha_ww +- z sigma`` (``z`` the normal quantile). ``alpha_ww_same_tail`` refits the rounded spectrum with the
original tail size (its ``num_pl_spikes`` largest eigenvalues): a large move that vanishes there is the KS scan
choosing another ``xmin``, not a changed tail.

Formats (all round to nearest, ties to even):

- ``bf16``, ``fp16``: a plain cast (ml_dtypes' bfloat16; NumPy's float16, whose overflow to inf makes a failed row);
- ``fp8_e4m3``, ``fp8_e5m2``: ml_dtypes' ``float8_e4m3fn`` / ``float8_e5m2`` with one per-tensor scale that maps
  ``max |W|`` to the format's largest finite value (448 / 57344), as FP8 inference stacks do;
- ``int8``: symmetric per output channel (row): ``scale_i = max_j |W_ij| / 127``,
  ``q = clip(rint(W / scale), -127, 127)``;
- ``q8_0``, ``q4_0``: GGUF's block formats through ``gguf.quants.quantize`` and ``dequantize`` (blocks of 32
  along the last axis, which must be a multiple of 32, else the row is skipped with the reason).

Public API: :data:`FORMATS`, :func:`quantize`, :func:`quantization_skip_reason`, :func:`quantization_rows`,
:func:`quantization_summary`, :func:`quantization_cases`, :func:`case_skip_reason`,
:func:`run_quantization_case`, :func:`quantization_figure`, :func:`quantization_tables`,
:func:`write_quantization_outputs`.
"""

from __future__ import annotations

import copy
import math
import statistics
import time
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from sparsity._checks import check_choice, check_real
from sparsity.harness import catalog
from sparsity.harness._quant_formats import FORMATS, quantization_skip_reason, quantize
from sparsity.harness._quant_report import (
    quantization_figure,
    quantization_summary,
    quantization_tables,
    write_quantization_outputs,
)
from sparsity.layers import analyze_matrix, fit_esd
from sparsity.linalg import esd
from sparsity.weights import load_weights

__all__ = [
    "DEFAULT_QUANT_CONFIG",
    "FORMATS",
    "case_skip_reason",
    "quantization_cases",
    "quantization_figure",
    "quantization_rows",
    "quantization_skip_reason",
    "quantization_summary",
    "quantization_tables",
    "quantize",
    "run_quantization_case",
    "write_quantization_outputs",
]

_COLUMNS = (
    "alpha_ww", "sigma", "xmin", "num_pl_spikes", "sv_tail_index", "entry_alpha", "measured_rank_decay",
    "predicted_rank_decay", "entry_measured_decay", "entry_predicted_decay", "num_spikes", "stable_rank",
)  # fmt: skip
"""analyze_matrix columns kept twice per row: ``<name>_before`` (the original) and ``<name>`` (rounded)."""

DEFAULT_QUANT_CONFIG: dict[str, Any] = {
    "models": ["all-MiniLM-L6-v2"],
    "formats": list(FORMATS),
    "level": 0.95,
    "include": "",
}
"""Catalog models, formats, CI level, and a substring a tensor name must contain (empty: every tensor)."""


def _fit_same_tail(Q: np.ndarray, n_tail: Any) -> float:
    """``alpha_ww`` of ``Q`` fitted to its ``n_tail`` largest eigenvalues (the original fit's tail size).

    Continuous in the eigenvalues, unlike a refit at the original ``xmin``, where the eigenvalue at ``xmin`` itself
    drops out of the tail when rounding moves it down by one ulp.
    """
    if not (isinstance(n_tail, (int, np.integer)) and n_tail >= 2):
        return math.nan
    lam = np.asarray(esd(Q), dtype=np.float64)
    if lam.size < n_tail or not lam[int(n_tail) - 1] > 0:
        return math.nan
    try:
        return float(fit_esd(lam, evals=True, xmin=float(lam[int(n_tail) - 1])).alpha_ww)
    except ValueError:
        return math.nan


def _format_row(W: np.ndarray, before: dict[str, Any], fmt: str, z: float) -> dict[str, Any]:
    row: dict[str, Any] = {"format": fmt, "status": "ok", "reason": ""}
    t0 = time.perf_counter()
    try:
        Q = quantize(W, fmt)
    except (ValueError, ImportError) as exc:
        return {**row, "status": "skipped", "reason": str(exc)}
    t1 = time.perf_counter()
    if not np.all(np.isfinite(Q)):
        return {**row, "status": "failed", "reason": f"{fmt} overflows: {int(np.sum(~np.isfinite(Q)))} inf/NaN entries"}
    d = (Q.astype(np.float64) - W).ravel()
    norm = float(np.linalg.norm(W.ravel()))
    row["rel_fro_error"] = float(np.linalg.norm(d)) / norm if norm > 0 else math.nan
    after = analyze_matrix(Q)
    row.update({k: after.get(k, math.nan) for k in _COLUMNS})
    row["status"], row["reason"] = after.get("status", "ok"), after.get("reason", "")
    a0, s0, a1 = before.get("alpha_ww", math.nan), before.get("sigma", math.nan), row["alpha_ww"]
    lo, hi = a0 - z * s0, a0 + z * s0
    row.update(
        delta_alpha_ww=a1 - a0,
        alpha_ww_same_tail=_fit_same_tail(Q, before.get("num_pl_spikes")),
        ci_lo=lo,
        ci_hi=hi,
        within_ci=bool(lo <= a1 <= hi) if math.isfinite(a1) and math.isfinite(lo) else math.nan,
        delta_entry_alpha=row["entry_alpha"] - before.get("entry_alpha", math.nan),
        t_quantize=t1 - t0,
        t_analyze=time.perf_counter() - t1,
    )
    return row


def quantization_rows(
    tensors: Iterable[tuple[str, Any]] | Mapping[str, Any],
    *,
    formats: Iterable[str] = FORMATS,
    level: float = 0.95,
    model: str = "",
) -> list[dict[str, Any]]:
    """Round every 2-D tensor to every format and measure it: one row per (tensor, format).

    Parameters
    ----------
    tensors : mapping or iterable of (name, array)
        E.g. :func:`sparsity.load_weights` of a catalog model (read one at a time). Tensors that are not 2-D
        (biases, norms, conv kernels) are passed over.
    formats : iterable of str
        A subset of :data:`FORMATS`.
    level : float
        Coverage of the confidence interval of ``alpha_ww``, in (0, 1).
    model : str
        Written to the ``model`` column.

    Returns
    -------
    list of dict
        ``model``, ``tensor``, ``shape``, ``format``, ``status``, ``reason``, ``rel_fro_error``, for each of
        ``alpha_ww``, ``sigma``, ``xmin``, ``num_pl_spikes``, ``sv_tail_index``, ``entry_alpha``, the measured
        and predicted decays, ``num_spikes``, ``stable_rank`` the value after rounding and ``<name>_before``,
        then ``delta_alpha_ww``, ``alpha_ww_same_tail``, ``ci_lo``, ``ci_hi``, ``within_ci``,
        ``delta_entry_alpha`` and the timings ``t_quantize``, ``t_analyze``.

    Examples
    --------
    >>> import numpy as np
    >>> W = np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32)
    >>> rows = quantization_rows({"w": W}, formats=["int8"])
    >>> rows[0]["format"], rows[0]["rel_fro_error"] < 0.02
    ('int8', True)
    """
    fmts = [check_choice(f, "formats", FORMATS) for f in formats]
    level = check_real(level, "level", low=0.0, high=1.0, closed="neither")
    z = statistics.NormalDist().inv_cdf((1.0 + level) / 2.0)
    items = tensors.items() if isinstance(tensors, Mapping) else tensors
    rows: list[dict[str, Any]] = []
    for name, arr in items:
        a = np.asarray(arr)
        if a.ndim != 2 or a.dtype.kind not in "fiu":
            continue
        W = a.astype(np.float32)
        ident = {"model": model, "tensor": str(name), "shape": tuple(int(s) for s in W.shape)}
        before = analyze_matrix(W)
        prior = {f"{k}_before": before.get(k, math.nan) for k in _COLUMNS}
        for fmt in fmts:
            rows.append({**ident, **prior, **_format_row(W, before, fmt, z)})
    return rows


def quantization_cases(config: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """One case per catalog model: ``case_id``, ``model``, ``formats``, ``level``, ``include``.

    Examples
    --------
    >>> [c["case_id"] for c in quantization_cases()]
    ['quantization-all-MiniLM-L6-v2']
    """
    cfg = copy.deepcopy(DEFAULT_QUANT_CONFIG)
    for key, value in (config or {}).items():
        if key not in cfg:
            raise ValueError(f"quantization config: unknown key {key!r}; expected one of {sorted(cfg)}")
        cfg[key] = value
    if not isinstance(cfg["models"], list) or not cfg["models"]:
        raise TypeError(f"quantization config: models must be a non-empty list; got {cfg['models']!r}")
    for m in cfg["models"]:
        catalog.find_entry(m)
    fmts = [check_choice(f, "formats", FORMATS) for f in cfg["formats"]]
    level = check_real(cfg["level"], "level", low=0.0, high=1.0, closed="neither")
    if not isinstance(cfg["include"], str):
        raise TypeError(f"quantization config: include must be a string; got {cfg['include']!r}")
    return [
        {"case_id": f"quantization-{m}", "model": m, "formats": fmts, "level": level, "include": cfg["include"]}
        for m in cfg["models"]
    ]


def case_skip_reason(case: Mapping[str, Any]) -> str | None:
    """Why a case of :func:`quantization_cases` cannot run here (model not installed, packages missing), or None."""
    entry = catalog.find_entry(case["model"])
    state, _ = catalog.status(entry)
    if state != "installed":
        return f"{entry.name}: {state} (sparsity-bench datasets --install {entry.name})"
    return quantization_skip_reason(case["formats"])


def run_quantization_case(case: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rows of one case of :func:`quantization_cases`.

    The model's weights are read lazily from the catalog; every 2-D tensor whose name contains ``include`` is
    rounded to every format. Raises ``RuntimeError`` with :func:`case_skip_reason`'s text if it cannot run.
    """
    reason = case_skip_reason(case)
    if reason is not None:
        raise RuntimeError(reason)
    inc = case["include"]
    tensors = ((n, w) for n, w in load_weights(catalog.resolve(case["model"])) if inc in n)
    rows = quantization_rows(tensors, formats=case["formats"], level=case["level"], model=case["model"])
    return [{"case_id": case["case_id"], **row} for row in rows]
