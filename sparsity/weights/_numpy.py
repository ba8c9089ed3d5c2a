"""NumPy ``.npy`` and ``.npz`` files, read with ``allow_pickle=False`` (object arrays are refused).

A ``.npy`` file is memory-mapped; an ``.npz`` archive is a zip of ``.npy`` members whose headers are read
first (for the filter) and whose data is read one member at a time.

References
----------
.. [1] NumPy Enhancement Proposal 1, "A simple file format for NumPy arrays".
"""

from __future__ import annotations

import functools
import zipfile
from collections.abc import Iterator

import numpy as np

from sparsity.weights._common import TensorRef, as_float, decode_mapped, is_float_name
from sparsity.weights._errors import CorruptWeightsError, UnsafePickleError

__all__ = ["npy_entries", "npz_entries"]


def _header(fh, path: str, name: str) -> tuple[tuple[int, ...], np.dtype, bool]:
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        else:  # 2.0 and 3.0 share the 4-byte header length
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
    except (ValueError, EOFError, OSError) as exc:
        raise CorruptWeightsError(path, f"corrupt .npy header ({exc})", name) from exc
    if dtype.hasobject:
        raise UnsafePickleError(path, "object array: loading it would unpickle arbitrary objects", name)
    return tuple(shape), dtype, fortran


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
    """References to the members of an ``.npz`` archive, in archive order."""
    try:
        with zipfile.ZipFile(path) as zf:
            members = [info.filename for info in zf.infolist() if not info.is_dir()]
            headers = []
            for member in members:
                name = member[:-4] if member.endswith(".npy") else member
                with zf.open(member) as fh:
                    shape, dtype, _ = _header(fh, path, name)
                headers.append((member, name, shape, dtype))
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise CorruptWeightsError(path, f"truncated or corrupt .npz archive ({exc})") from exc
    for member, name, shape, dtype in headers:
        kind = _dtype_name(dtype)
        yield TensorRef(name, shape, kind, is_float_name(kind), functools.partial(_load_member, path, member, name))


def _load_member(path: str, member: str, name: str) -> np.ndarray:
    try:
        with zipfile.ZipFile(path) as zf, zf.open(member) as fh:
            arr = np.lib.format.read_array(fh, allow_pickle=False)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise CorruptWeightsError(path, f"truncated or corrupt member {member!r} ({exc})", name) from exc
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return as_float(arr, arr.dtype.name) if arr.dtype.kind == "f" else arr
