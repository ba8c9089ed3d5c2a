"""Per-tensor metrics: WeightWatcher-compatible spectral columns plus our compressibility columns.

:func:`analyze_matrix` returns one dict per tensor; :func:`analyze_weights` one pandas row per tensor.

Column groups (all floats are NaN when not computable; ``status``/``reason`` say why):

- identity: ``shape``, ``N``, ``M`` (larger / smaller side of each analysed matrix), ``rf`` (number of
  kernel positions), ``num_evals``, ``status`` (``"ok"``, ``"skipped"``, ``"failed"``), ``reason``.
- WeightWatcher-compatible (same quantity, same name): ``alpha_ww`` (their ``alpha``), ``xmin``, ``xmax``,
  ``D``, ``sigma``, ``num_pl_spikes``, ``alpha_weighted = alpha_ww log10(lambda_max)``,
  ``log_alpha_norm = log10(sum lambda^alpha_ww)``, ``norm = sum lambda = ||W||_F^2``, ``log_norm``,
  ``spectral_norm = lambda_max = ||W||_2^2`` (**squared**, as in WeightWatcher), ``log_spectral_norm``,
  ``lambda_max``, ``sv_max``, ``sv_min``, ``stable_rank = norm / spectral_norm``, ``matrix_rank``, ``entropy``,
  and the Marchenko-Pastur columns ``sigma_mp``, ``bulk_min``, ``bulk_max``, ``num_spikes``, ``mp_softrank``
  (our estimator, see :mod:`sparsity.layers._mp`; WeightWatcher computes these only with ``mp_fit=True``).
- spectrum compressibility: ``sv_tail_index = 2 (alpha_ww - 1)``, ``predicted_rank_decay =
  max(0, 1/sv_tail_index - 1/2)`` (equal to ``(2 - alpha_ww) / (2 (alpha_ww - 1))`` below 2),
  ``measured_rank_decay`` and ``rank_decay_r2`` (:func:`sparsity.decay_exponent` of the singular values,
  i.e. of the rank-k Frobenius error), ``compressible = sv_tail_index < 2``.
- entry compressibility: ``entry_alpha`` (CSN tail index of ``|W_ij|``), ``entry_xmin``, ``entry_n_tail``,
  ``entry_D``, ``entry_predicted_decay``, ``entry_measured_decay``, ``entry_decay_r2``,
  ``entry_compressible = entry_alpha < 2``.

Conv kernels (PyTorch layout ``(out, in, *kernel)``: 3-D Conv1d, 4-D Conv2d, 5-D Conv3d):
``conv="slices"`` (default, WeightWatcher's convention) analyses the ``K = prod(kernel)`` matrices
``W[:, :, p]`` of shape ``(out, in)``, one per kernel position, and pools their eigenvalues into one ESD of
``K min(out, in)`` values (``rf = K``); ``conv="flatten"`` analyses the single ``(out, in K)`` matrix (the
im2col matrix whose rank-k truncation is a low-rank factorisation of the layer). WeightWatcher also scales
Conv2d slices by ``1/sqrt(2)`` (its ``conv2d_norm``); we do not (``alpha_ww`` is unaffected; norms are 2x).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from concurrent.futures import Executor, Future
from typing import Any, Literal

import numpy as np

from sparsity._threads import available_cpus
from sparsity.curves import decay_exponent, predicted_decay_exponent
from sparsity.layers._entry import ENTRY_KEYS, entry_columns, entry_magnitudes
from sparsity.layers._esd_fit import esd_fit_body, numerical_zero_tolerance
from sparsity.layers._mp import mp_fit
from sparsity.layers._row_pipeline import RowPipeline
from sparsity.linalg._gram import gram_eigenvalues_many, is_small
from sparsity.linalg._svd import as_matrix, eigenvalues_from_grams, eigenvalues_gram, host_float64, oriented_matrices
from sparsity.weights import load_weights

__all__ = ["analyze_matrix", "analyze_weights"]

Conv = Literal["slices", "flatten"]
_EPS64 = float(np.finfo(np.float64).eps)
_NAN = math.nan


def _conv_matrices(W: Any, conv: str, *, xp: Any) -> tuple[Any, int]:
    """Matrices to analyse (``(m, n)`` or a ``(K, m, n)`` stack) and the kernel size ``K``."""
    shape = tuple(int(d) for d in W.shape)
    if len(shape) == 2:
        return W, 1
    out, inn, kernel = shape[0], shape[1], shape[2:]
    K = math.prod(kernel)
    if conv == "flatten":
        return xp.reshape(W, (out, inn * K)), K
    return xp.permute_dims(xp.reshape(W, (out, inn, K)), (2, 0, 1)), K


def _spectral_columns(lam: np.ndarray, big: int, small: int, min_evals: int) -> tuple[dict[str, Any], list[str], str]:
    """Columns that depend on the pooled eigenvalues ``lam`` (descending, float64), reasons, status."""

    reasons: list[str] = []
    row: dict[str, Any] = dict.fromkeys(_SPECTRAL_KEYS, _NAN)
    lam_max = float(lam[0])
    row["num_evals"] = int(lam.size)
    if lam_max <= 0:
        return row, ["all-zero matrix: no spectrum to fit"], "skipped"
    if not math.isfinite(lam_max):
        reason = "the largest eigenvalue of W^T W overflows float64 (a singular value above ~1e154): no spectrum to fit"
        return row, [reason], "failed"
    s = np.sqrt(lam)
    norm = float(np.sum(lam))
    tol_s = float(s[0]) * big * _EPS64
    rank = int(np.count_nonzero(s > tol_s))
    p = lam / norm
    p = p[p > 0]
    row.update(
        norm=norm,
        log_norm=math.log10(norm),
        spectral_norm=lam_max,
        log_spectral_norm=math.log10(lam_max),
        lambda_max=lam_max,
        sv_max=float(s[0]),
        sv_min=float(s[-1]),
        stable_rank=norm / lam_max,
        matrix_rank=rank,
        entropy=float(-np.sum(p * np.log(p)) / math.log(rank)) if rank > 1 else _NAN,
    )
    row.update(mp_fit(lam, big, small))
    n_fit = int(np.count_nonzero(lam > numerical_zero_tolerance(lam_max, big)))
    if n_fit < min_evals:
        reasons.append(f"{n_fit} nonzero eigenvalues < min_evals = {min_evals}: no power-law fit")
        return row, reasons, "skipped"
    status = "ok"
    try:
        fit = esd_fit_body(lam, big)
    except ValueError as exc:
        reasons.append(f"ESD fit failed: {exc}")
        status = "failed"
    else:
        a = fit.alpha_ww
        row.update(
            alpha_ww=a,
            xmin=fit.xmin,
            xmax=fit.xmax,
            D=fit.D,
            sigma=fit.sigma,
            num_pl_spikes=fit.num_pl_spikes,
            alpha_weighted=a * math.log10(lam_max),
            log_alpha_norm=math.log10(float(np.sum((lam / lam_max) ** a))) + a * math.log10(lam_max),
            sv_tail_index=fit.sv_tail_index,
            predicted_rank_decay=predicted_decay_exponent(fit.sv_tail_index, 2.0),
            compressible=bool(fit.sv_tail_index < 2.0),
        )
    try:
        d = decay_exponent(s)
    except ValueError as exc:
        reasons.append(f"rank-k decay fit failed: {exc}")
    else:
        row.update(measured_rank_decay=d.exponent, rank_decay_r2=d.r2)
    return row, reasons, status


_SPECTRAL_KEYS = (
    "num_evals", "alpha_ww", "xmin", "xmax", "D", "sigma", "num_pl_spikes", "alpha_weighted", "log_alpha_norm",
    "norm", "log_norm", "spectral_norm", "log_spectral_norm", "lambda_max", "sv_max", "sv_min", "stable_rank",
    "matrix_rank", "entropy", "sigma_mp", "bulk_min", "bulk_max", "num_spikes", "mp_softrank", "sv_tail_index",
    "predicted_rank_decay", "measured_rank_decay", "rank_decay_r2", "compressible",
)  # fmt: skip
_PENDING_BYTES = 16 * 2**20
"""analyze_weights groups small matrices (counting their future Gram matrices and the entry magnitudes) up to
this many bytes before finding their spectra as one batch; with the group in flight, at most twice this is
added to the peak memory of one tensor at a time."""

_PENDING_TENSORS = 16
"""A group holds at most this many prepared tensors (two groups exist at a time). Their entry magnitudes
(``4 * entry_top`` values, or all of them with ``entry_top=None``) count towards :data:`_PENDING_BYTES` too."""


def _prepare(
    W: Any, *, xp: Any, conv: str, entries: bool, entry_top: int | None, entry_pool: Executor | None = None
) -> dict[str, Any]:
    """Everything of a tensor's row that needs the tensor itself: identity columns, the largest magnitudes for
    the entry columns (whose fits run on ``entry_pool`` if given, else here), and either the eigenvalues or,
    for small NumPy matrices (whose eigenvalues are found in batches), the matrices."""
    mats, K = _conv_matrices(W, conv, xp=xp)
    m, n = int(mats.shape[-2]), int(mats.shape[-1])
    rec: dict[str, Any] = {"big": max(m, n), "small": min(m, n), "shape": tuple(int(d) for d in mats.shape)}
    rec["row"] = {"shape": tuple(int(d) for d in W.shape), "N": rec["big"], "M": rec["small"], "rf": K}
    if isinstance(mats, np.ndarray) and is_small(rec["big"], rec["small"]):
        rec["mats"], rec["scale"] = oriented_matrices(mats)
    else:
        rec["lam"] = host_float64(eigenvalues_gram(mats, xp=xp)).ravel()
    if entries:
        mags = entry_magnitudes(W, entry_top, xp=xp)
        size = math.prod(int(d) for d in W.shape)
        rec["entry_bytes"] = 0 if mags is None else int(mags[0].nbytes)
        if entry_pool is None:
            rec["entries"] = entry_columns(mags, size)
        else:
            rec["entries"] = entry_pool.submit(_entry_columns_under, np.geterr(), mags, size)
    else:
        rec["entries"] = (dict.fromkeys(ENTRY_KEYS, _NAN), [])
    return rec


def _entry_columns_under(err: dict[str, str], mags: tuple[Any, ...] | None, size: int) -> Any:
    """:func:`entry_columns` on a worker thread, under the caller's floating-point error handling."""
    with np.errstate(**err):
        return entry_columns(mags, size)


def _finish(rec: dict[str, Any], evals: list[np.ndarray] | None, min_evals: int) -> dict[str, Any]:
    """The row of a prepared tensor, given the ascending Gram eigenvalues of its small matrices (NumPy)."""
    lam = rec["lam"] if evals is None else eigenvalues_from_grams(rec["shape"], evals, rec["scale"]).ravel()
    lam = np.sort(lam)[::-1]
    row = dict(rec["row"])
    spec, reasons, status = _spectral_columns(lam, rec["big"], rec["small"], min_evals)
    entries = rec["entries"]
    entry_row, entry_reasons = entries.result() if isinstance(entries, Future) else entries
    row.update(spec)
    row.update(entry_row)
    row["status"] = status
    row["reason"] = "; ".join(reasons + entry_reasons)
    return row


def _analyze_body(
    W: Any, *, xp: Any, conv: str, min_evals: int, entries: bool, entry_top: int | None
) -> dict[str, Any]:
    rec = _prepare(W, xp=xp, conv=conv, entries=entries, entry_top=entry_top)
    return _finish(rec, gram_eigenvalues_many(rec["mats"]) if "mats" in rec else None, min_evals)


def _check_options(conv: Any, min_evals: Any, entry_top: Any) -> None:
    if conv not in ("slices", "flatten"):
        raise ValueError(f"conv must be 'slices' or 'flatten'; got {conv!r}")
    for name, v, lo, none_ok in (("min_evals", min_evals, 10, False), ("entry_top", entry_top, 10, True)):
        if v is None and none_ok:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name} must be an integer >= {lo}{' or None' if none_ok else ''}; got {v!r}")
        if v < lo:
            raise ValueError(f"{name} must be an integer >= {lo}{' or None' if none_ok else ''}; got {v!r}")


def analyze_matrix(
    W: Any,
    *,
    conv: Conv = "slices",
    min_evals: int = 10,
    entries: bool = True,
    entry_top: int | None = 20_000,
) -> dict[str, Any]:
    """Spectral and entry-level compressibility metrics of one weight tensor.

    The ESD (eigenvalues of ``W^T W``, unnormalised) comes from the float64 Gram route; ``alpha_ww`` is the
    exact CSN fit of :func:`sparsity.fit_esd` (WeightWatcher's default fit); the column groups, names and the
    Conv convention are listed in the module docstring of :mod:`sparsity.layers._analyze`.

    Parameters
    ----------
    W : array_like, shape (m, n) or (out, in, *kernel)
        A matrix or a Conv kernel in PyTorch layout (NumPy, CuPy or array-API).
    conv : {"slices", "flatten"}
        Conv convention: one matrix per kernel position with pooled eigenvalues (WeightWatcher), or the
        ``(out, in * prod(kernel))`` matrix.
    min_evals : int
        Fewest nonzero eigenvalues for a power-law fit (>= 10, the minimum of :func:`sparsity.fit_tail`).
        Smaller tensors get a row with ``status="skipped"``, the reason, and NaN fit columns (never -1).
    entries : bool
        Compute the entry-level columns (a partial sort of ``|W|``; the most expensive part for big tensors).
    entry_top : int or None
        The entry tail fit scans ``xmin`` over the ``entry_top`` largest magnitudes (the MLE and KS distance of
        a candidate depend only on the values above it, so this restricts the candidate set and changes
        nothing else), widening the window 4x, once, if the chosen tail holds more than half of
        it (a tail that still fills the window is noted in ``reason``). ``None`` scans all magnitudes (exact
        CSN over every candidate; slow beyond ~1e5 entries).

    Returns
    -------
    row : dict
        See :mod:`sparsity.layers._analyze` for the keys.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> row = analyze_matrix(rng.standard_normal((300, 100)))
    >>> row["status"], row["num_spikes"], bool(row["compressible"])
    ('ok', 0, False)
    """
    _check_options(conv, min_evals, entry_top)
    Wv, xp = as_matrix(W, "W")
    return _analyze_body(Wv, xp=xp, conv=conv, min_evals=int(min_evals), entries=bool(entries), entry_top=entry_top)


def analyze_weights(
    source: Any,
    *,
    conv: Conv = "slices",
    min_evals: int = 10,
    entries: bool = True,
    entry_top: int | None = 20_000,
    errors: Literal["row", "raise"] = "row",
) -> Any:
    """Analyse every tensor of a model: one pandas row per tensor with at least 2 dimensions.

    Parameters
    ----------
    source : mapping, iterable of (name, array), str or os.PathLike
        ``{name: array}``, pairs (e.g. :func:`sparsity.load_weights`), or a weight file path (read lazily with
        :func:`sparsity.load_weights`). 0-D and 1-D tensors (biases, norms) are not analysed.
    conv, min_evals, entries, entry_top
        As in :func:`analyze_matrix`.
    errors : {"row", "raise"}
        ``"row"``: a tensor that cannot be analysed (NaN entries, unsupported dtype) becomes a row with
        ``status="failed"`` and the message in ``reason``; ``"raise"``: re-raise.

    Returns
    -------
    pandas.DataFrame
        Columns ``layer_id``, ``name`` and the keys of :func:`analyze_matrix`.

    Notes
    -----
    Tensors are read one at a time and released before the next is read. The spectra of small NumPy matrices
    (see :mod:`sparsity.linalg._gram`) wait, up to 16 MB of them, to be found together on all cores with
    single-threaded BLAS on a background thread while the next tensors are read, and (with ``errors="row"``)
    the entry fits run on two worker threads from host copies of each tensor's largest magnitudes (see
    :mod:`sparsity.layers._row_pipeline`: at most two groups of 16 tensors and 16 MB of matrices and magnitudes wait
    for their rows). Each row is bitwise the row :func:`analyze_matrix` gives for that tensor alone. While a
    batch runs, BLAS is limited to one thread process-wide, so a ``source`` iterator that does BLAS work of
    its own (e.g. dequantisation by matmul) may run single-threaded at times.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> df = analyze_weights({"fc1": rng.standard_normal((64, 32)), "bias": np.zeros(32)})
    >>> list(df["name"]), list(df["status"])
    (['fc1'], ['ok'])
    """
    import pandas as pd

    _check_options(conv, min_evals, entry_top)
    if errors not in ("row", "raise"):
        raise ValueError(f"errors must be 'row' or 'raise'; got {errors!r}")
    if isinstance(source, (str, os.PathLike)):
        items: Iterable[Any] = load_weights(source)
    elif isinstance(source, Mapping):
        items = source.items()
    elif isinstance(source, Iterable):
        items = source
    else:
        raise TypeError(
            f"source must be a mapping, an iterable of (name, array) or a path; got {type(source).__name__}"
        )
    rows: list[dict[str, Any]] = []
    # With errors="raise" the entry fits run in order here, so that the first failing tensor is the one reported.
    pipeline = RowPipeline(
        lambda rec, evals: _finish(rec, evals, int(min_evals)),
        errors=errors,
        entry_workers=min(2, available_cpus()) if entries and errors == "row" else 0,
        max_bytes=_PENDING_BYTES,
        max_tensors=_PENDING_TENSORS,
    )
    try:
        for layer_id, pair in enumerate(items):
            name, arr = pair
            if len(getattr(arr, "shape", np.shape(arr))) < 2:
                continue
            row: dict[str, Any] = {"layer_id": layer_id, "name": str(name)}
            rows.append(row)
            try:
                Wv, xp = as_matrix(arr, f"tensor {name!r}")
                rec = _prepare(
                    Wv, xp=xp, conv=conv, entries=bool(entries), entry_top=entry_top, entry_pool=pipeline.entry_pool
                )
            except (ValueError, TypeError) as exc:
                if errors == "raise":
                    pipeline.finish_all()  # an earlier tensor that fails is the one to report
                    if str(exc).startswith(f"tensor {name!r}"):
                        raise
                    raise type(exc)(f"tensor {name!r}: {exc}") from exc
                row.update({"shape": tuple(getattr(arr, "shape", ())), "status": "failed", "reason": str(exc)})
                continue
            finally:
                pair = arr = Wv = None  # release this tensor before the loader reads the next one (peak memory)
            pipeline.add(row, rec)
        pipeline.finish_all()
    finally:
        pipeline.shutdown()
    cols = ["layer_id", "name", "shape", "N", "M", "rf", *_SPECTRAL_KEYS, *ENTRY_KEYS, "status", "reason"]
    return pd.DataFrame(rows, columns=cols)
