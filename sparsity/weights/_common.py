"""Shared pieces of the loaders: the lazy tensor reference and the conversion to a float array."""

from __future__ import annotations

import math
import mmap
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sparsity.weights._errors import CorruptWeightsError, MissingDependencyError

__all__ = ["TensorRef", "as_float", "decode_mapped", "is_float_name", "numpy_dtype"]

# Floating dtypes narrower than 32 bits are widened to float32; float32 and float64 are kept as they are.
_NARROW_FLOATS = frozenset(
    {
        "float16",
        "bfloat16",
        "float8_e4m3fn",
        "float8_e4m3fnuz",
        "float8_e5m2",
        "float8_e5m2fnuz",
        "float8_e8m0fnu",
    }
)
_WIDE_FLOATS = frozenset({"float32", "float64"})


@dataclass(frozen=True)
class TensorRef:
    """A tensor found in a file, described without reading its data.

    Attributes
    ----------
    name : str
        Name inside the file (dotted path for nested checkpoints).
    shape : tuple of int
        Shape in C order.
    dtype : str
        Stored element type: a numpy name (``"float32"``, ``"bfloat16"``, ``"float8_e4m3fn"``, ``"int64"``) or
        a GGUF quantisation name (``"Q4_0"``).
    floating : bool
        Whether the values are real numbers once decoded (floats and quantised floats).
    load : callable
        ``load()`` reads the data and returns it (floats already widened to at least float32).
    unsupported : str or None
        Why the data cannot be decoded (an unknown dtype or quantisation), or None. Such tensors are reported
        and skipped by :func:`sparsity.weights.load_weights`, never loaded.
    """

    name: str
    shape: tuple[int, ...]
    dtype: str
    floating: bool
    load: Callable[[], np.ndarray]
    unsupported: str | None = None

    @property
    def size(self) -> int:
        """Number of elements."""
        return math.prod(self.shape)


def is_float_name(dtype: str) -> bool:
    """Whether a canonical dtype name is a floating type."""
    return dtype in _NARROW_FLOATS or dtype in _WIDE_FLOATS


def numpy_dtype(name: str, path: str) -> np.dtype:
    """The numpy dtype for a canonical name; bfloat16 and float8 types come from ml_dtypes."""
    if name in _NARROW_FLOATS and name != "float16":
        if name == "bfloat16":
            return np.dtype("<u2")  # decoded by hand in as_float, no ml_dtypes needed
        try:
            import ml_dtypes
        except ImportError as exc:
            raise MissingDependencyError(path, f"dtype {name} needs the ml_dtypes package") from exc
        return np.dtype(getattr(ml_dtypes, name))
    dtype = np.dtype(name)
    return dtype if sys.byteorder == "little" else dtype.newbyteorder("<")


def as_float(raw: np.ndarray, dtype: str) -> np.ndarray:
    """Decode ``raw`` (stored as ``dtype``) to an owned array: narrow floats -> float32, others unchanged.

    bfloat16 is the upper half of a float32, so it widens exactly by a 16-bit shift.
    """
    if dtype == "bfloat16":
        wide = raw.astype(np.uint32)
        wide <<= 16
        return wide.view(np.float32)
    if dtype in _NARROW_FLOATS:
        return raw.astype(np.float32)
    out = np.empty(raw.shape, dtype=raw.dtype.newbyteorder("="))
    out[...] = raw
    return out


def decode_mapped(path: str, offset: int, shape: tuple[int, ...], dtype: str, tensor: str) -> np.ndarray:
    """Memory-map one tensor's bytes, decode them into an owned array, and unmap them.

    Only the pages of this one tensor are mapped, and they are unmapped before returning, so the resident set
    holds at most the stored tensor and its decoded copy, never the whole file.
    """
    np_dtype = numpy_dtype(dtype, path)
    count = math.prod(shape)
    nbytes = count * np_dtype.itemsize
    size = os.path.getsize(path)
    if offset + nbytes > size:
        raise CorruptWeightsError(
            path,
            f"truncated: the tensor needs bytes {offset}..{offset + nbytes} but the file has {size}",
            tensor,
        )
    if nbytes == 0:
        return np.zeros(shape, dtype=np.float32 if is_float_name(dtype) else np_dtype)
    start = offset - offset % mmap.ALLOCATIONGRANULARITY
    with (
        open(path, "rb") as fh,
        mmap.mmap(fh.fileno(), offset + nbytes - start, access=mmap.ACCESS_READ, offset=start) as mm,
    ):
        raw = np.frombuffer(mm, dtype=np_dtype, count=count, offset=offset - start).reshape(shape)
        out = as_float(raw, dtype)
        del raw
    return out
