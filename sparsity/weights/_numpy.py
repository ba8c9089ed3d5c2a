"""NumPy ``.npy`` and ``.npz`` files, read with ``allow_pickle=False`` (object arrays are refused).

A ``.npy`` file is memory-mapped; an ``.npz`` archive is a zip of ``.npy`` members whose headers are read
first (for the filter) and whose data is read one member at a time.

References
----------
.. [1] NumPy Enhancement Proposal 1, "A simple file format for NumPy arrays".
"""

from __future__ import annotations

import functools
import math
import zipfile
from collections.abc import Iterator
from tokenize import TokenError

import numpy as np

from sparsity.weights._common import TensorRef, as_float, check_shape, decode_mapped, is_float_name
from sparsity.weights._errors import ZIP_ERRORS, CorruptWeightsError, UnsafePickleError

__all__ = ["npy_entries", "npz_entries"]


_OBJECT_ARRAY = "object array: loading it would unpickle arbitrary Python objects (refused, nothing was executed)"


def _header(fh, path: str, name: str, *, objects: bool = False) -> tuple[tuple[int, ...], np.dtype, bool]:
    """Shape, dtype and Fortran flag of a ``.npy`` header; object arrays raise unless ``objects``."""
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        else:  # 2.0 and 3.0 share the 4-byte header length
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
    except (ValueError, EOFError, OSError, TypeError, SyntaxError, MemoryError, RecursionError, TokenError) as exc:
        raise CorruptWeightsError(path, f"corrupt .npy header ({str(exc)[:200]})", name) from exc
    if dtype.hasobject and not objects:
        raise UnsafePickleError(path, _OBJECT_ARRAY, name)
    return check_shape(path, shape, name), dtype, bool(fortran)


def _dtype_name(dtype: np.dtype) -> str:
    return dtype.name if dtype.kind in "fiub" else f"unsupported:{dtype.str}"


def npy_entries(path: str, name: str = "array") -> Iterator[TensorRef]:
    """One reference for the array in a ``.npy`` file."""
    with open(path, "rb") as fh:
        shape, dtype, fortran = _header(fh, path, name)
        offset = fh.tell()
    kind = _dtype_name(dtype)
    if fortran:
        load = functools.partial(_load_npy_fortran, path, name)
    elif dtype.byteorder == ">":
        load = functools.partial(_load_npy_fortran, path, name)
    else:
        load = functools.partial(decode_mapped, path, offset, shape, kind, name)
    yield TensorRef(name, shape, kind, is_float_name(kind), load)


def _load_npy_fortran(path: str, name: str) -> np.ndarray:
    """Fortran-ordered or big-endian arrays: numpy's own memory map, then an owned native copy."""
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        raise CorruptWeightsError(path, f"truncated or corrupt .npy ({exc})", name) from exc
    out = as_float(np.asarray(arr, dtype=arr.dtype.newbyteorder("=")), arr.dtype.name)
    del arr
    return out


def npz_entries(path: str) -> Iterator[TensorRef]:
    """References to the members of an ``.npz`` archive, in archive order.

    An object-array member is never loaded (it would unpickle): it is reported as undecodable, with
    ``floating=True`` since it may hold anything, so that the default filter lists it instead of dropping it.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            headers = []
            for info in zf.infolist():
                if info.is_dir():
                    continue
                name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                with zf.open(info) as fh:
                    shape, dtype, _ = _header(fh, path, name, objects=True)
                    nbytes = math.prod(shape) * dtype.itemsize
                    if not dtype.hasobject and fh.tell() + nbytes != info.file_size:  # numpy writes exactly this
                        raise CorruptWeightsError(
                            path,
                            f"member {info.filename!r} holds {info.file_size} bytes, its header "
                            f"announces {fh.tell() + nbytes}",
                            name,
                        )
                headers.append((info.filename, name, shape, dtype))
    except ZIP_ERRORS as exc:
        raise CorruptWeightsError(path, f"truncated or corrupt .npz archive ({type(exc).__name__}: {exc})") from exc
    for member, name, shape, dtype in headers:
        if dtype.hasobject:
            yield TensorRef(name, shape, "object", True, functools.partial(_refuse, path, name), _OBJECT_ARRAY)
            continue
        kind = _dtype_name(dtype)
        yield TensorRef(name, shape, kind, is_float_name(kind), functools.partial(_load_member, path, member, name))


def _refuse(path: str, name: str) -> np.ndarray:
    raise UnsafePickleError(path, _OBJECT_ARRAY, name)


def _load_member(path: str, member: str, name: str) -> np.ndarray:
    """One member, stream-decompressed by numpy into an array of the size its header announced (checked)."""
    try:
        with zipfile.ZipFile(path) as zf, zf.open(member) as fh:
            arr = np.lib.format.read_array(fh, allow_pickle=False)
    except ZIP_ERRORS as exc:
        raise CorruptWeightsError(path, f"truncated or corrupt member {member!r} ({exc})", name) from exc
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return as_float(arr, arr.dtype.name) if arr.dtype.kind == "f" else arr
