"""The two containers of PyTorch checkpoints, read around the restricted unpickler of ``_torch_pickle``.

* zip (``torch.save`` since 1.6): ``<archive>/data.pkl`` plus one member ``<archive>/data/<key>`` per storage,
  stored uncompressed, so each tensor is memory-mapped straight out of the zip. A compressed member is
  stream-decompressed, reading only the bytes the tensor needs, and refused when it declares more bytes than
  the pickle's storage holds: a zip bomb costs one read chunk, never the size it claims.
* legacy (before 1.6): five concatenated pickles (magic number, protocol, system info, the object, storage
  keys), then each storage as an 8-byte element count and its bytes.

Every size is checked against the bytes the file or member holds before anything is read.
"""

from __future__ import annotations

import functools
import math
import os
import struct
import zipfile
from typing import Any

import numpy as np

from sparsity.weights._common import MAX_HEADER_BYTES, as_float, decode_mapped, numpy_dtype, read_stream
from sparsity.weights._errors import ZIP_ERRORS, CorruptWeightsError, UnsafePickleError
from sparsity.weights._torch_pickle import (
    LEGACY_MAGIC,
    PICKLE_ERRORS,
    LazyTensor,
    RestrictedUnpickler,
    Storage,
    one_line,
    unpickle,
)

__all__ = ["check_storage_sizes", "read_legacy", "read_zip"]


def read_zip(path: str) -> tuple[Any, Any]:
    """Unpickle a zip checkpoint; returns (object tree with LazyTensor leaves, loader(name, LazyTensor))."""
    try:
        zf = zipfile.ZipFile(path)
    except ZIP_ERRORS as exc:
        raise CorruptWeightsError(path, f"truncated or corrupt zip archive ({one_line(exc)})") from exc
    with zf:
        pkl = [n for n in zf.namelist() if n == "data.pkl" or n.endswith("/data.pkl")]
        if len(pkl) != 1:
            raise CorruptWeightsError(path, f"a torch zip checkpoint has one data.pkl, found {len(pkl)}")
        prefix = pkl[0][: -len("data.pkl")]
        if zf.getinfo(pkl[0]).file_size > MAX_HEADER_BYTES:
            raise CorruptWeightsError(
                path, f"data.pkl declares {zf.getinfo(pkl[0]).file_size} bytes, above the {MAX_HEADER_BYTES} limit"
            )
        try:
            byteorder = "little"
            if prefix + "byteorder" in zf.namelist():
                with zf.open(prefix + "byteorder") as fh:
                    byteorder = fh.read(16).decode("ascii", "replace").strip()
            if byteorder != "little":
                raise CorruptWeightsError(path, f"big-endian checkpoints are not supported (byteorder {byteorder!r})")
            with zf.open(pkl[0]) as fh:
                obj, storages = unpickle(fh, path, legacy=False, limit=zf.getinfo(pkl[0]).file_size)
        except ZIP_ERRORS as exc:
            raise CorruptWeightsError(path, f"truncated or corrupt zip member ({one_line(exc)})") from exc
        members = {info.filename: info for info in zf.infolist()}
    return obj, functools.partial(_load_zip_tensor, path, prefix, members, storages)


def _member_data_offset(path: str, info: zipfile.ZipInfo) -> int:
    with open(path, "rb") as fh:
        fh.seek(info.header_offset)
        local = fh.read(30)
    if len(local) < 30 or local[:4] != b"PK\x03\x04":
        raise CorruptWeightsError(path, f"corrupt zip local header for {info.filename!r}")
    name_len, extra_len = struct.unpack("<HH", local[26:30])
    return info.header_offset + 30 + name_len + extra_len


def _load_zip_tensor(
    path: str, prefix: str, members: dict, storages: dict[str, Storage], name: str, t: LazyTensor
) -> np.ndarray:
    member = f"{prefix}data/{t.storage.key}"
    info = members.get(member)
    if info is None:
        raise CorruptWeightsError(path, f"storage member {member!r} is missing", name)
    base = storages.get(t.storage.key, t.storage)
    needed = base.numel * numpy_dtype(base.dtype, path).itemsize
    if info.file_size > needed:  # torch writes exactly the storage's bytes: more is padding or a zip bomb
        raise CorruptWeightsError(
            path, f"storage member {member!r} declares {info.file_size} bytes, its storage holds {needed}", name
        )
    np_dtype = numpy_dtype(t.dtype, path)
    begin, count = (t.storage.elem_offset + t.offset) * np_dtype.itemsize, t.extent()
    if begin + count * np_dtype.itemsize > info.file_size:
        raise CorruptWeightsError(
            path,
            f"storage {member!r} has {info.file_size} bytes, the tensor needs {begin + count * np_dtype.itemsize}",
            name,
        )
    if info.compress_type == zipfile.ZIP_STORED:
        flat = decode_mapped(path, _member_data_offset(path, info) + begin, (count,), t.dtype, name)
    else:
        flat = _read_compressed(path, info, begin, count, np_dtype, t.dtype, name)
    return _view(flat, t)


def _read_compressed(
    path: str, info: zipfile.ZipInfo, begin: int, count: int, np_dtype: np.dtype, dtype: str, name: str
) -> np.ndarray:
    """Stream-decompress only bytes ``begin .. begin + count * itemsize`` of a member, a chunk at a time."""
    try:
        with zipfile.ZipFile(path) as zf, zf.open(info) as fh:
            raw = read_stream(fh, begin, count * np_dtype.itemsize, path, name)
    except ZIP_ERRORS as exc:
        raise CorruptWeightsError(path, f"corrupt compressed member {info.filename!r} ({one_line(exc)})", name) from exc
    return as_float(raw.view(np_dtype), dtype)


def _view(flat: np.ndarray, t: LazyTensor) -> np.ndarray:
    if math.prod(t.shape) == flat.size and _is_contiguous(t):
        return flat.reshape(t.shape)
    strides = tuple(s * flat.itemsize for s in t.stride)
    return np.ascontiguousarray(np.lib.stride_tricks.as_strided(flat, t.shape, strides, writeable=False))


def _is_contiguous(t: LazyTensor) -> bool:
    expected = 1
    for size, stride in zip(reversed(t.shape), reversed(t.stride), strict=True):
        if size != 1 and stride != expected:
            return False
        expected *= size
    return True


def read_legacy(path: str) -> tuple[Any, Any]:
    """Unpickle a pre-1.6 checkpoint; returns (object tree, loader(name, LazyTensor))."""
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        header = []
        for what in ("magic number", "protocol version", "system info"):
            try:
                header.append(RestrictedUnpickler(fh, path, legacy=True, limit=size - fh.tell()).load())
            except UnsafePickleError:
                raise
            except PICKLE_ERRORS as exc:
                raise CorruptWeightsError(path, f"corrupt legacy checkpoint {what} ({one_line(exc)})") from exc
        if header[0] != LEGACY_MAGIC:
            raise CorruptWeightsError(path, "a pickle, but not a PyTorch checkpoint (wrong magic number)")
        obj, storages = unpickle(fh, path, legacy=True, limit=size - fh.tell())
        keys, _ = unpickle(fh, path, legacy=True, limit=size - fh.tell())
        if not isinstance(keys, list):
            raise CorruptWeightsError(path, "corrupt legacy checkpoint: the storage key list is missing")
        spans = _legacy_spans(path, fh, keys, storages, size)
    return obj, functools.partial(_load_legacy_tensor, path, spans)


def _legacy_spans(
    path: str, fh, keys: list, storages: dict[str, Storage], size: int
) -> dict[str, tuple[int, int, int]]:
    """Storage key -> (offset of its first byte, element count, item size), walking the counts after the pickles."""
    pos = fh.tell()
    spans: dict[str, tuple[int, int, int]] = {}
    for key in keys:
        storage = storages.get(str(key))
        if storage is None:
            raise CorruptWeightsError(path, f"storage key {key!r} not referenced by any tensor")
        if pos + 8 > size:
            raise CorruptWeightsError(path, f"truncated: storage {key!r} is missing")
        fh.seek(pos)
        head = fh.read(8)
        if len(head) < 8:
            raise CorruptWeightsError(path, f"truncated: storage {key!r} is missing")
        (numel,) = struct.unpack("<q", head)
        if numel < 0 or storage.numel > numel:
            raise CorruptWeightsError(
                path, f"corrupt legacy checkpoint: storage {key!r} stores {numel} elements, the pickle {storage.numel}"
            )
        itemsize = numpy_dtype(storage.dtype, path).itemsize
        spans[str(key)] = (pos + 8, numel, itemsize)
        pos += 8 + numel * itemsize
    return spans


def _load_legacy_tensor(path: str, spans: dict[str, tuple[int, int, int]], name: str, t: LazyTensor) -> np.ndarray:
    if t.storage.key not in spans:
        raise CorruptWeightsError(path, f"storage {t.storage.key!r} is not in the checkpoint's storage list", name)
    first, numel, _ = spans[t.storage.key]
    if t.storage.elem_offset + t.offset + t.extent() > numel:
        raise CorruptWeightsError(
            path,
            f"the tensor spans elements up to {t.storage.elem_offset + t.offset + t.extent()} of a "
            f"{numel}-element storage",
            name,
        )
    itemsize = numpy_dtype(t.dtype, path).itemsize
    start = first + (t.storage.elem_offset + t.offset) * itemsize
    flat = decode_mapped(path, start, (t.extent(),), t.dtype, name)
    return _view(flat, t)


def check_storage_sizes(path: str, *, zip_format: bool) -> None:
    """Refuse a checkpoint whose storages claim more bytes than the file holds, before torch allocates them.

    ``torch.load`` allocates each storage at the size the pickle states before reading it (legacy layout) and
    inflates compressed zip members whole, so these sizes are checked here first: a zip member may not
    declare more bytes than its storage holds, and a legacy storage may not extend past the end of the file.
    """
    if zip_format:
        _, loader = read_zip(path)
        members, storages = loader.args[2], loader.args[3]
        prefix = loader.args[1]
        for key, storage in storages.items():
            info = members.get(f"{prefix}data/{key}")
            needed = storage.numel * numpy_dtype(storage.dtype, path).itemsize
            if info is not None and info.compress_type != zipfile.ZIP_STORED and info.file_size > needed:
                raise CorruptWeightsError(
                    path,
                    f"storage member {info.filename!r} declares {info.file_size} bytes, its storage holds {needed}",
                )
        return
    _, loader = read_legacy(path)
    end = os.path.getsize(path)
    for key, (first, numel, itemsize) in loader.args[1].items():
        if first + numel * itemsize > end:
            raise CorruptWeightsError(path, f"truncated: storage {key!r} extends past the end of the file ({end} B)")
