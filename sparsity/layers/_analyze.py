"""Per-tensor metrics: WeightWatcher-compatible spectral columns plus our compressibility columns.

:func:`analyze_matrix` returns one dict per tensor; :func:`analyze_weights` one pandas row per tensor.

Column groups (all floats are NaN when not computable; ``status``/``reason`` say why):

- identity: ``shape``, ``N``, ``M`` (larger / smaller side of each analysed matrix), ``rf`` (number of
  kernel positions), ``num_evals``, ``status`` (``"ok"``, ``"skipped"``, ``"failed"``), ``reason``;
  :func:`analyze_weights` adds ``layer_id`` (position in the source) and ``name`` in front.
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
- entry compressibility: ``entry_alpha`` (tail index of ``|W_ij|``; the one default of ``analyze`` and of
  suite rows on real weights: exact CSN with ``xmin`` scanned over the 20,000 largest magnitudes, no seed),
  ``entry_xmin`` (on a bf16/fp16/fp8-stored tensor the window is dequantised first, :mod:`sparsity.tails._grid`,
  so it lies within half a grid step of a stored magnitude), ``entry_n_tail``, ``entry_D``,
  ``entry_predicted_decay``, ``entry_measured_decay``, ``entry_decay_r2``, ``entry_compressible = entry_alpha < 2``.
- uncertainty and stability (:mod:`sparsity.layers._stability`), for ``alpha_ww`` and ``entry_alpha`` alike:
  ``*_ci_low``, ``*_ci_high`` (95 % interval including the uncertainty of ``xmin``: the union of the normal
  intervals of every ``xmin`` whose KS distance is within one standard error of the best), ``*_fp16``,
  ``*_bf16`` (the fit refitted on the tensor rounded to float16 / bfloat16; for a tensor stored in that
  precision the refit is the fit) and ``*_unstable`` (a refit lies outside the interval, or failed); only
  with ``stability=True`` (missing by default).

Missing values (the dataclasses of :mod:`sparsity.layers._rows` define names, order and types): float columns
are NaN; counts (``N``, ``M``, ``rf``, ``num_evals``, ``num_pl_spikes``, ``matrix_rank``, ``num_spikes``,
``entry_n_tail``, ``layer_id``) are None in the dict and ``pandas.NA`` in nullable ``Int64`` columns; the flags
``compressible`` and ``entry_compressible`` are three-valued: True, False, or missing (None / ``pandas.NA``,
nullable ``boolean`` column) when the fit behind them failed or was skipped (no tail index: no verdict).

Conv kernels (PyTorch layout ``(out, in, *kernel)``: 3-D Conv1d, 4-D Conv2d, 5-D Conv3d) follow one
:class:`~sparsity.layers._conv.ConvConvention`: ``conv="slices"`` (default, WeightWatcher's convention) analyses
the ``K = prod(kernel)`` matrices ``W[:, :, p]`` of shape ``(out, in)``, one per kernel position, and pools their
eigenvalues into one ESD of ``K min(out, in)`` values (``rf = K``); ``conv="flatten"`` analyses the single
``(out, in K)`` matrix (the im2col matrix whose rank-k truncation is a low-rank factorisation of the layer; the
benchmark suite's convention). WeightWatcher also scales Conv2d slices by ``1/sqrt(2)`` (its ``conv2d_norm``);
we do not (``alpha_ww`` is unaffected; norms are 2x).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Literal

import numpy as np

from sparsity._checks import check_bool, check_choice, check_int
from sparsity.curves import decay_exponent, predicted_decay_exponent
from sparsity.layers._conv import Conv, ConvConvention
from sparsity.layers._entry import ENTRY_METHODS, EntryMethod, entry_columns, entry_magnitudes
from sparsity.layers._esd_fit import EsdFit, esd_fit_body, esd_interval, esd_refits, numerical_zero_tolerance
from sparsity.layers._mp import mp_fit
from sparsity.layers._rows import (
    COLUMNS,
    ENTRY_KEYS,
    SPECTRAL_KEYS,
    EntryColumns,
    LayerRow,
    SpectralColumns,
    TensorId,
    frame,
    is_compressible,
)
from sparsity.layers._sources import weight_items
from sparsity.layers._stability import outside
from sparsity.linalg._gram import PRECISIONS, Precision
from sparsity.linalg._svd import as_matrix, eigenvalues_gram, host_float64

__all__ = ["COLUMNS", "ENTRY_KEYS", "SPECTRAL_KEYS", "analyze_matrix", "analyze_weights"]

_EPS64 = float(np.finfo(np.float64).eps)
_CAUGHT = (ValueError, TypeError, np.linalg.LinAlgError)
"""What a tensor that cannot be analysed raises: a failed row with ``errors="row"``."""


def _norm_columns(lam: np.ndarray, big: int) -> dict[str, Any]:
    """Columns of the eigenvalues ``lam`` (descending, float64, ``lam[0] > 0`` finite) that need no fit."""
    s = np.sqrt(lam)
    norm = float(np.sum(lam))
    lam_max = float(lam[0])
    rank = int(np.count_nonzero(s > float(s[0]) * big * _EPS64))
    p = lam / norm
    p = p[p > 0]
    return {
        "norm": norm,
        "log_norm": math.log10(norm),
        "spectral_norm": lam_max,
        "log_spectral_norm": math.log10(lam_max),
        "lambda_max": lam_max,
        "sv_max": float(s[0]),
        "sv_min": float(s[-1]),
        "stable_rank": norm / lam_max,
        "matrix_rank": rank,
        "entropy": float(-np.sum(p * np.log(p)) / math.log(rank)) if rank > 1 else math.nan,
    }


def _fit_columns(lam: np.ndarray, big: int) -> tuple[dict[str, Any], EsdFit]:
    """The ESD power-law columns and the fit (:func:`sparsity.layers._esd_fit.esd_fit_body`; ValueError if it fails)."""
    fit = esd_fit_body(lam, big)
    a, lam_max = fit.alpha_ww, float(lam[0])
    lo, hi = esd_interval(lam, big, fit)
    return {
        "alpha_ww": a,
        "xmin": fit.xmin,
        "xmax": fit.xmax,
        "D": fit.D,
        "sigma": fit.sigma,
        "num_pl_spikes": fit.num_pl_spikes,
        "alpha_weighted": a * math.log10(lam_max),
        "log_alpha_norm": math.log10(float(np.sum((lam / lam_max) ** a))) + a * math.log10(lam_max),
        "sv_tail_index": fit.sv_tail_index,
        "predicted_rank_decay": predicted_decay_exponent(fit.sv_tail_index, 2.0),
        "compressible": is_compressible(fit.sv_tail_index),
        "alpha_ww_ci_low": lo,
        "alpha_ww_ci_high": hi,
    }, fit


def _spectral_columns(
    lam: np.ndarray, big: int, small: int, min_evals: int
) -> tuple[SpectralColumns, list[str], str, EsdFit | None]:
    """Columns of the pooled eigenvalues ``lam`` (descending, float64), the reasons for missing ones, status, fit."""
    cols: dict[str, Any] = {"num_evals": int(lam.size)}
    lam_max = float(lam[0])
    if lam_max <= 0:
        return SpectralColumns(**cols), ["all-zero matrix: no spectrum to fit"], "skipped", None
    if not math.isfinite(lam_max):
        reason = "the largest eigenvalue of W^T W overflows float64 (a singular value above ~1e154): no spectrum to fit"
        return SpectralColumns(**cols), [reason], "failed", None
    cols.update(_norm_columns(lam, big))
    cols.update(mp_fit(lam, big, small)._asdict())
    n_fit = int(np.count_nonzero(lam > numerical_zero_tolerance(lam_max, big)))
    if n_fit < min_evals:
        return (
            SpectralColumns(**cols),
            [f"{n_fit} nonzero eigenvalues < min_evals = {min_evals}: no power-law fit"],
            "skipped",
            None,
        )
    reasons: list[str] = []
    status = "ok"
    fit = None
    try:
        fit_cols, fit = _fit_columns(lam, big)
        cols.update(fit_cols)
    except ValueError as exc:
        reasons.append(f"ESD fit failed: {exc}")
        status = "failed"
    try:
        d = decay_exponent(np.sqrt(lam))
    except ValueError as exc:
        reasons.append(f"rank-k decay fit failed: {exc}")
    else:
        cols.update(measured_rank_decay=d.exponent, rank_decay_r2=d.r2)
    return SpectralColumns(**cols), reasons, status, fit


def _spectral_stability(
    mats: Any, big: int, spectral: SpectralColumns, fit: EsdFit, precision: str
) -> tuple[SpectralColumns, list[str]]:
    """``alpha_ww_fp16``, ``alpha_ww_bf16`` and ``alpha_ww_unstable`` (refits of the rounded matrices)."""
    ci = (spectral.alpha_ww_ci_low, spectral.alpha_ww_ci_high)
    # "auto": float32 Gram (float16/bfloat16 products are exact in float32), float64 eigensolver: 2x cheaper
    refit, reasons = esd_refits(mats, big, fit, "mixed" if precision == "auto" else precision)
    checked = [a for label, a in refit.items() if not any("range" in r and label in r for r in reasons)]
    unstable = any(outside(a, ci) for a in checked)
    cols = replace(
        spectral, alpha_ww_fp16=refit["float16"], alpha_ww_bf16=refit["bfloat16"], alpha_ww_unstable=unstable
    )
    return cols, reasons


def _identity(W: Any, conv: ConvConvention, *, xp: Any) -> tuple[Any, LayerRow]:
    """The matrices to analyse and the row holding only the identity columns."""
    mats, K = conv.matrices(W, xp=xp)
    m, n = int(mats.shape[-2]), int(mats.shape[-1])
    return mats, LayerRow(shape=tuple(int(d) for d in W.shape), N=max(m, n), M=min(m, n), rf=K)


def _analyze_row(
    W: Any,
    ident: LayerRow,
    mats: Any,
    *,
    xp: Any,
    min_evals: int,
    entries: bool,
    entry_top: int | None,
    entry_method: str = "csn",
    stability: bool = False,
    spectra_precision: str = "auto",
) -> LayerRow:
    """The row of a validated tensor ``W`` whose matrices (:class:`ConvConvention`) are ``mats``."""
    m, n = int(mats.shape[-2]), int(mats.shape[-1])
    lam = np.sort(host_float64(eigenvalues_gram(mats, xp=xp, precision=spectra_precision)).ravel())[::-1]
    spectral, reasons, status, fit = _spectral_columns(lam, max(m, n), min(m, n), min_evals)
    if fit is not None and stability:
        spectral, why = _spectral_stability(mats, max(m, n), spectral, fit, spectra_precision)
        reasons += why
    entry_reasons: list[str] = []
    entry_cols = EntryColumns()
    if entries:
        size = math.prod(int(d) for d in W.shape)
        mags = entry_magnitudes(W, entry_top, xp=xp)
        entry_cols, entry_reasons = entry_columns(mags, size, method=entry_method, stability=stability)
    reason = "; ".join(reasons + entry_reasons)
    return replace(ident, spectral=spectral, entries=entry_cols, status=status, reason=reason)


def _options(
    conv: Any, min_evals: Any, entries: Any, entry_top: Any, spectra_precision: Any, **more: Any
) -> dict[str, Any]:
    """Checked options of analyze_matrix / analyze_weights (``more``: ``entry_method``, ``stability``)."""
    return {
        "spectra_precision": check_choice(spectra_precision, "spectra_precision", PRECISIONS),
        "conv": ConvConvention.of(conv),
        "min_evals": check_int(min_evals, "min_evals", low=10),
        "entries": check_bool(entries, "entries"),
        "entry_top": check_int(entry_top, "entry_top", low=10, allow_none=True),
        "entry_method": check_choice(more["entry_method"], "entry_method", ENTRY_METHODS),
        "stability": check_bool(more["stability"], "stability"),
    }


def _row(W: Any, *, conv: ConvConvention, xp: Any, **options: Any) -> LayerRow:
    mats, ident = _identity(W, conv, xp=xp)
    return _analyze_row(W, ident, mats, xp=xp, **options)


def analyze_matrix(
    W: Any,
    *,
    conv: Conv | ConvConvention = "slices",
    min_evals: int = 10,
    entries: bool = True,
    entry_top: int | None = 20_000,
    spectra_precision: Precision = "auto",
    entry_method: EntryMethod = "csn",
    stability: bool = False,
) -> dict[str, Any]:
    """Spectral and entry-level compressibility metrics of one weight tensor.

    The ESD (eigenvalues of ``W^T W``, unnormalised) comes from the float64 Gram route (faster precisions:
    ``spectra_precision``); ``alpha_ww`` is the exact CSN fit of
    :func:`sparsity.fit_esd` (WeightWatcher's default fit); the column groups, names, missing values and the
    Conv convention are listed in the module docstring of :mod:`sparsity.layers._analyze`.

    Parameters
    ----------
    W : array_like, shape (m, n) or (out, in, *kernel)
        A matrix or a Conv kernel in PyTorch layout (NumPy, CuPy or array-API).
    conv : {"slices", "flatten"} or ConvConvention
        Conv convention: one matrix per kernel position with pooled eigenvalues (WeightWatcher), or the
        ``(out, in * prod(kernel))`` matrix (:class:`sparsity.layers._conv.ConvConvention`).
    min_evals : int
        Fewest nonzero eigenvalues for a power-law fit (>= 10, the minimum of :func:`sparsity.fit_tail`).
        Smaller tensors get a row with ``status="skipped"``, the reason, and missing fit columns (never -1).
    entries : bool
        Compute the entry-level columns (a partial sort of ``|W|``; the most expensive part for big tensors).
    entry_top : int or None
        The entry tail fit scans ``xmin`` over the ``entry_top`` largest magnitudes (the MLE and KS distance of
        a candidate depend only on the values above it, so this restricts the candidate set and changes
        nothing else), widening the window 4x, once, if the chosen tail holds more than half of
        it (a tail that still fills the window is noted in ``reason``). ``None`` scans all magnitudes (exact
        CSN over every candidate; slow beyond ~1e5 entries).
    entry_method : {"csn", "hill", "moments", "pickands", "kernel", "ranksize"}
        Entry-tail estimator on the ``entry_top`` largest magnitudes. ``"csn"`` (default): exact CSN,
        deterministic. The others: :func:`sparsity.fit_tail` with its own interval and bootstraps seeded from
        the data (``rng="data"``), so every choice gives the same answer on the same tensor.
    stability : bool
        Refit ``entry_alpha`` and ``alpha_ww`` on the float16- and bfloat16-rounded tensor: the ``*_fp16``,
        ``*_bf16`` and ``*_unstable`` columns (missing with ``False``, the default; the intervals are computed
        either way). The fits are built to be stable under rounding (a window on a coarse float grid is
        dequantised before the fit, :mod:`sparsity.tails._grid`; the interval includes the ``xmin``
        uncertainty), and measured so: no refit, entries or spectra, of the 143 tensors of the five catalog
        models (MiniLM's 39 included) leaves its interval. ``True`` checks it on your tensors, at the cost of
        two more entry fits and two more Gram spectra per tensor (none for a tensor already in that
        precision): about 2.5x the default's time on MiniLM.
    spectra_precision : {"auto", "float64", "mixed", "float32"}
        Working precision of the Gram matrix and eigensolver (:func:`sparsity.esd`). ``"auto"`` is
        ``"float64"``. ``"mixed"`` (float32 Gram matrix): ``alpha_ww`` within 1e-3 of float64 on the
        ``tinyllama`` and ``llama7b`` presets of ``bench/make_checkpoint.py``, 12-20 % faster; ``"float32"``
        (also the eigensolver, spectra 2x faster) can move ``alpha_ww`` by more than 1e-3 on non-power-law
        layers.

    Returns
    -------
    row : dict
        Keys :data:`sparsity.layers._rows.ROW_KEYS` (see :mod:`sparsity.layers._analyze`).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> row = analyze_matrix(rng.standard_normal((300, 100)))
    >>> row["status"], row["num_spikes"], row["compressible"]
    ('ok', 0, False)
    """
    opts = _options(
        conv, min_evals, entries, entry_top, spectra_precision, entry_method=entry_method, stability=stability
    )
    Wv, xp = as_matrix(W, "W")
    return _row(Wv, xp=xp, **opts).as_dict()


def _add_note(exc: BaseException, note: str) -> None:
    """PEP 678 ``exc.add_note(note)`` (Python 3.11+); on 3.10 the same ``__notes__`` list, set by hand."""
    if hasattr(exc, "add_note"):
        exc.add_note(note)
    else:  # pragma: no cover - Python 3.10
        exc.__notes__ = [*getattr(exc, "__notes__", []), note]  # type: ignore[attr-defined]


def _tensor_row(arr: Any, name: str, *, errors: str, conv: ConvConvention, **options: Any) -> LayerRow:
    """The row of one tensor of a source.

    A tensor that cannot be analysed gives a failed row (``errors="row"``, identity columns kept when known) or
    raises with a note naming it (``errors="raise"``).
    """
    ident = LayerRow(shape=tuple(int(d) for d in getattr(arr, "shape", ())))
    try:
        Wv, xp = as_matrix(arr, f"tensor {name!r}")
        mats, ident = _identity(Wv, conv, xp=xp)
        return _analyze_row(Wv, ident, mats, xp=xp, **options)
    except _CAUGHT as exc:
        if errors == "raise":
            if not str(exc).startswith(f"tensor {name!r}"):
                _add_note(exc, f"while analysing tensor {name!r}")
            raise
        return replace(ident, status="failed", reason=str(exc))


def analyze_weights(
    source: Any,
    *,
    conv: Conv | ConvConvention = "slices",
    min_evals: int = 10,
    entries: bool = True,
    entry_top: int | None = 20_000,
    errors: Literal["row", "raise"] = "row",
    spectra_precision: Precision = "auto",
    entry_method: EntryMethod = "csn",
    stability: bool = False,
) -> Any:
    """Analyse every tensor of a model: one pandas row per tensor with at least 2 dimensions.

    Parameters
    ----------
    source : str, os.PathLike, mapping, model or iterable of (name, array)
        A weight file or folder (read lazily with :func:`sparsity.load_weights`), ``{name: array}``, a model
        with ``named_parameters()`` or ``state_dict()`` (a ``torch.nn.Module``, a Hugging Face model; duck-typed,
        tensors detached and moved to the CPU one at a time, see :mod:`sparsity.layers._sources`), or pairs.
        0-D and 1-D tensors (biases, norms) are not analysed.
    conv, min_evals, entries, entry_top, entry_method, stability, spectra_precision
        As in :func:`analyze_matrix`.
    errors : {"row", "raise"}
        ``"row"``: a tensor that cannot be analysed (NaN entries, unsupported dtype, a failed eigensolver)
        becomes a row with ``status="failed"`` and the message in ``reason``; ``"raise"``: re-raise (with a note
        naming the tensor).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`sparsity.layers._rows.COLUMNS`: ``layer_id``, ``name`` and the keys of
        :func:`analyze_matrix`; counts in nullable ``Int64`` columns, the ``compressible`` flags in nullable
        ``boolean`` columns (missing where the fit failed or was skipped).

    Notes
    -----
    Tensors are read, analysed and released one at a time (each row equals :func:`analyze_matrix` of its
    tensor), so the peak memory is that of one tensor. The small Gram eigenproblems of one tensor (the kernel
    positions of a conv kernel) run together on threads with one BLAS thread
    (:func:`sparsity.linalg._gram.gram_eigenvalues_many`); that limit holds only during those calls, never
    while ``source`` reads the next tensor. (A threaded row pipeline measured 0.9x-1.5x of this sequential
    route on MiniLM on 2 cores and was removed; issue 12.)

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> df = analyze_weights({"fc1": rng.standard_normal((64, 32)), "bias": np.zeros(32)})
    >>> list(df["name"]), list(df["status"])
    (['fc1'], ['ok'])
    """
    opts = _options(
        conv, min_evals, entries, entry_top, spectra_precision, entry_method=entry_method, stability=stability
    )
    check_choice(errors, "errors", ("row", "raise"))
    rows: list[tuple[TensorId, LayerRow]] = []
    pair: Any = None
    for layer_id, pair in enumerate(weight_items(source)):
        name, arr = pair
        if len(getattr(arr, "shape", np.shape(arr))) >= 2:
            rows.append((TensorId(layer_id, str(name)), _tensor_row(arr, str(name), errors=errors, **opts)))
        pair = arr = None  # release this tensor before the loader reads the next one (peak memory)
    return frame(rows)
