"""Rounding to the formats of the quantization study (private).

Re-exported by :mod:`sparsity.harness.quantization`, whose docstring describes each format.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from typing import Any

import numpy as np

from sparsity._checks import check_choice

__all__ = ["FORMATS", "quantization_skip_reason", "quantize"]

FORMATS = ("bf16", "fp16", "fp8_e4m3", "fp8_e5m2", "int8", "q8_0", "q4_0")
"""Rounding formats, from the finest to the coarsest family."""

_NEEDS = {"bf16": "ml_dtypes", "fp8_e4m3": "ml_dtypes", "fp8_e5m2": "ml_dtypes", "q8_0": "gguf", "q4_0": "gguf"}
_EXTRA = {"ml_dtypes": "pip install 'sparsity[weights]'", "gguf": "pip install 'sparsity[gguf]'"}


def quantization_skip_reason(formats: Iterable[str] = FORMATS) -> str | None:
    """Why some of ``formats`` cannot run here (missing packages, with the extra that installs them), or None."""
    fmts = [check_choice(f, "formats", FORMATS) for f in formats]
    missing = sorted({_NEEDS[f] for f in fmts if f in _NEEDS and importlib.util.find_spec(_NEEDS[f]) is None})
    if not missing:
        return None
    return f"quantization needs {', '.join(missing)}: " + "; ".join(_EXTRA[m] for m in missing)


def _fp8(W: np.ndarray, name: str) -> np.ndarray:
    import ml_dtypes

    dtype = getattr(ml_dtypes, name)
    amax = float(np.max(np.abs(W)))
    scale = amax / float(ml_dtypes.finfo(dtype).max) if amax > 0 else 1.0
    return (W / np.float32(scale)).astype(dtype).astype(np.float32) * np.float32(scale)


def _int8_rows(W: np.ndarray) -> np.ndarray:
    scale = np.max(np.abs(W), axis=1, keepdims=True) / np.float32(127.0)
    safe = np.where(scale > 0, scale, np.float32(1.0))
    return (np.clip(np.rint(W / safe), -127, 127) * safe).astype(np.float32)


def _gguf(W: np.ndarray, name: str) -> np.ndarray:
    from gguf import GGMLQuantizationType, quants

    qtype = GGMLQuantizationType[name.upper()]
    if W.shape[-1] % 32:
        raise ValueError(f"{name} quantizes blocks of 32 along the last axis; got shape {W.shape}")
    return np.asarray(quants.dequantize(quants.quantize(np.ascontiguousarray(W), qtype), qtype), dtype=np.float32)


def _bf16(W: np.ndarray) -> np.ndarray:
    import ml_dtypes

    return W.astype(ml_dtypes.bfloat16).astype(np.float32)


_ROUNDERS: dict[str, Any] = {
    "bf16": _bf16,
    "fp16": lambda W: W.astype(np.float16).astype(np.float32),
    "fp8_e4m3": lambda W: _fp8(W, "float8_e4m3fn"),
    "fp8_e5m2": lambda W: _fp8(W, "float8_e5m2"),
    "int8": _int8_rows,
    "q8_0": lambda W: _gguf(W, "q8_0"),
    "q4_0": lambda W: _gguf(W, "q4_0"),
}


def quantize(W: Any, fmt: str) -> np.ndarray:
    """Round a matrix to ``fmt`` and back: the float32 values a runtime computing in ``fmt`` would use.

    Parameters
    ----------
    W : array_like, shape (out, in)
        Finite real values (cast to float32 first).
    fmt : str
        One of :data:`FORMATS` (see the module docstring for each rounding).

    Returns
    -------
    ndarray of shape (out, in), float32

    Examples
    --------
    >>> import numpy as np
    >>> W = np.array([[0.5, -0.25, 1.0, 0.1]], dtype=np.float32)
    >>> (quantize(W, "int8") * 127).round().tolist()  # the int8 codes; 63.5 rounds to the even 64
    [[64.0, -32.0, 127.0, 13.0]]
    """
    fmt = check_choice(fmt, "fmt", FORMATS)
    a = np.asarray(W)
    if a.ndim != 2 or a.dtype.kind not in "fiu" or a.size == 0:
        raise ValueError(f"W must be a non-empty 2-D real matrix; got shape {a.shape}, dtype {a.dtype}")
    a = a.astype(np.float32)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"W must be finite; got {int(np.count_nonzero(~np.isfinite(a)))} NaN/inf entries")
    reason = quantization_skip_reason([fmt])
    if reason is not None:
        raise ImportError(reason)
    return np.asarray(_ROUNDERS[fmt](a), dtype=np.float32)
