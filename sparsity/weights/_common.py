"""Shared pieces of the loaders: the lazy tensor reference and the conversion to a float array."""

from __future__ import annotations

import math
import mmap
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sparsity._input import widen_narrow_float
from sparsity.weights._errors import CorruptWeightsError, MissingDependencyError

__all__ = [
    "MAX_HEADER_BYTES",
    "READ_CHUNK",
    "BoundedReader",
    "TensorRef",
    "as_float",
    "check_shape",
    "decode_mapped",
    "is_float_name",
    "numpy_dtype",
    "read_stream",
]

#: The loaders' memory budget, on top of the interpreter: while one tensor is loaded they hold at most its
#: stored bytes (as declared by the file and checked against what the file or member can hold), its decoded
#: copy, one read buffer of ``READ_CHUNK`` bytes for compressed members, and a header or pickle of at most
#: ``MAX_HEADER_BYTES``. No length field read from a file is trusted before it is checked against these.
READ_CHUNK = 1 << 20
MAX_HEADER_BYTES = 100_000_000  # the reference safetensors implementation refuses headers above 100 MB

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


def check_shape(path: str, shape: object, tensor: str) -> tuple[int, ...]:
    """A shape read from a file as a tuple of non-negative ints; CorruptWeightsError for anything else."""
    if not isinstance(shape, list | tuple) or not all(
        isinstance(d, int | np.integer) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise CorruptWeightsError(path, f"corrupt shape {shape!r}: a list of non-negative integers expected", tensor)
    return tuple(int(d) for d in shape)


def read_stream(fh, skip: int, nbytes: int, path: str, tensor: str) -> np.ndarray:
    """Read bytes ``skip .. skip + nbytes`` of a stream (a compressed zip member) in ``READ_CHUNK`` pieces.

    Never asks the stream for more than ``READ_CHUNK`` bytes at once, so a member whose data decompresses
    to more than it declares (or than the tensor needs) costs at most one chunk beyond the tensor.

    Returns
    -------
    ndarray of shape (nbytes,), uint8
    """
    while skip > 0:
        piece = fh.read(min(READ_CHUNK, skip))
        if not piece:
            raise CorruptWeightsError(path, "truncated: the member ends before the tensor's bytes", tensor)
        skip -= len(piece)
    out = np.empty(nbytes, dtype=np.uint8)
    done = 0
    while done < nbytes:
        piece = fh.read(min(READ_CHUNK, nbytes - done))
        if not piece:
            raise CorruptWeightsError(path, f"truncated: the member holds {done} of the {nbytes} bytes needed", tensor)
        out[done : done + len(piece)] = np.frombuffer(piece, dtype=np.uint8)
        done += len(piece)
    return out


class BoundedReader:
    """A read-only view of a stream that never asks it for more than ``limit`` bytes in all.

    Given to the unpicklers: a pickle opcode that announces a 2**63-byte string would otherwise make the
    stream allocate a buffer of that size before finding the file shorter.
    """

    def __init__(self, fh, limit: int) -> None:
        self._fh, self._left = fh, max(0, int(limit))

    def read(self, n: int = -1) -> bytes:
        n = self._left if n is None or n < 0 else min(n, self._left)
        data = self._fh.read(n)
        self._left -= len(data)
        return data

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def readline(self, size: int = -1) -> bytes:
        size = self._left if size is None or size < 0 else min(size, self._left)
        data = self._fh.readline(size)
        self._left -= len(data)
        return data


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
        return widen_narrow_float(raw)  # the library's one widening rule (float16, ml_dtypes floats -> float32)
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
    if offset < 0 or offset + nbytes > size:
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
