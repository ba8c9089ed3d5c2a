"""A torch-free reader for PyTorch checkpoints that never runs pickled code.

PyTorch checkpoints are pickles. A pickle names callables (``GLOBAL module name``) and asks the loader to call
them (``REDUCE``), which is how a malicious file runs code. This reader's ``find_class`` resolves a short
allow-list of names to inert local stand-ins (a tensor becomes a :class:`LazyTensor` that records storage key,
offset, shape and stride) and raises :class:`UnsafePickleError` for any other name, before anything is called.
The tensor data itself is raw bytes, read later, one tensor at a time.

Two container layouts are read:

* zip (``torch.save`` since 1.6): ``<archive>/data.pkl`` plus one member ``<archive>/data/<key>`` per storage,
  stored uncompressed, so each tensor is memory-mapped straight out of the zip;
* legacy (before 1.6): five concatenated pickles (magic number, protocol, system info, the object, storage
  keys), then each storage as an 8-byte element count and its bytes.

References
----------
.. [1] PyTorch, ``torch/serialization.py`` and ``torch/_weights_only_unpickler.py`` (the format and the
   allow-list idea; this module shares no code with them).
"""

from __future__ import annotations

import collections
import functools
import math
import pickle
import struct
import zipfile
from dataclasses import dataclass
from typing import Any

import numpy as np

from sparsity.weights._common import as_float, decode_mapped, numpy_dtype
from sparsity.weights._errors import CorruptWeightsError, UnsafePickleError

__all__ = ["LEGACY_MAGIC", "LazyTensor", "read_legacy", "read_zip"]

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C

_STORAGE_DTYPES = {
    "DoubleStorage": "float64",
    "FloatStorage": "float32",
    "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16",
    "LongStorage": "int64",
    "IntStorage": "int32",
    "ShortStorage": "int16",
    "CharStorage": "int8",
    "ByteStorage": "uint8",
    "BoolStorage": "bool",
    "UntypedStorage": "uint8",
}
_TORCH_DTYPES = {
    "float64": "float64",
    "double": "float64",
    "float32": "float32",
    "float": "float32",
    "float16": "float16",
    "half": "float16",
    "bfloat16": "bfloat16",
    "float8_e4m3fn": "float8_e4m3fn",
    "float8_e5m2": "float8_e5m2",
    "float8_e4m3fnuz": "float8_e4m3fnuz",
    "float8_e5m2fnuz": "float8_e5m2fnuz",
    "int64": "int64",
    "long": "int64",
    "int32": "int32",
    "int": "int32",
    "int16": "int16",
    "short": "int16",
    "int8": "int8",
    "uint8": "uint8",
    "uint16": "uint16",
    "uint32": "uint32",
    "uint64": "uint64",
    "bool": "bool",
}


@dataclass(frozen=True)
class _StorageType:
    dtype: str


@dataclass(frozen=True)
class _DType:
    name: str


@dataclass(frozen=True)
class _Storage:
    key: str
    dtype: str
    numel: int
    elem_offset: int = 0  # legacy storage views


@dataclass(frozen=True)
class LazyTensor:
    """A tensor described by the pickle: where its bytes are and how to view them (no data read yet)."""

    storage: _Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]
    dtype: str

    def extent(self) -> int:
        """Number of storage elements the view spans, from ``offset``."""
        if any(s == 0 for s in self.shape):
            return 0
        return 1 + sum((s - 1) * st for s, st in zip(self.shape, self.stride, strict=True))


def _tensor(storage: Any, offset: Any, size: Any, stride: Any, dtype: str | None = None) -> LazyTensor:
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError(f"tensor rebuilt from a {type(storage).__name__}, not a storage")
    shape, strides = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if len(shape) != len(strides) or any(s < 0 for s in shape + strides):
        raise pickle.UnpicklingError(f"inconsistent tensor size {shape} and stride {strides}")
    return LazyTensor(storage, int(offset), shape, strides, dtype or storage.dtype)


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _tensor(storage, storage_offset, size, stride)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    return _tensor(storage, storage_offset, size, stride)


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype, metadata=None):
    if not isinstance(dtype, _DType):
        raise pickle.UnpicklingError(f"tensor dtype is a {type(dtype).__name__}, not a torch dtype")
    return _tensor(storage, storage_offset, size, stride, dtype.name)


def _rebuild_parameter(data, requires_grad=True, backward_hooks=None, state=None):
    return data


def _rebuild_from_type_v2(func, new_type, args, state):
    if func not in _SAFE_CALLABLES:
        raise pickle.UnpicklingError("_rebuild_from_type_v2 with a callable outside the allow-list")
    return func(*args)


def _parameter(data=None, requires_grad=True):
    return data


def _codecs_encode(obj, encoding="utf-8", errors="strict"):
    if not isinstance(obj, str) or encoding not in ("latin1", "latin-1", "utf-8", "utf8"):
        raise pickle.UnpicklingError("_codecs.encode is only allowed on str with latin1/utf-8")
    return obj.encode(encoding, errors)


_GLOBALS: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor_v3,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
    ("torch.nn.parameter", "Parameter"): _parameter,
    ("torch", "Size"): tuple,
    ("torch", "device"): str,
    ("_codecs", "encode"): _codecs_encode,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "slice"): slice,
    ("builtins", "complex"): complex,
    ("builtins", "bytearray"): bytearray,
}
_GLOBALS.update({("torch", name): _StorageType(dtype) for name, dtype in _STORAGE_DTYPES.items()})
_GLOBALS[("torch.storage", "UntypedStorage")] = _StorageType("uint8")
_GLOBALS.update({("torch", name): _DType(dtype) for name, dtype in _TORCH_DTYPES.items()})
_SAFE_CALLABLES = frozenset(v for v in _GLOBALS.values() if callable(v) and not isinstance(v, type))


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only allow-listed globals, to inert stand-ins; storages become :class:`_Storage` records."""

    def __init__(self, file, path: str, *, legacy: bool) -> None:
        super().__init__(file)
        self._path = path
        self._legacy = legacy
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _GLOBALS[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                self._path,
                f"the pickle asks for {module}.{name}, outside the allow-list of tensor-rebuilding names; "
                "refused before anything was executed",
            ) from None

    def persistent_load(self, pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        storage_type, key, numel = pid[1], str(pid[2]), int(pid[4])
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"persistent id with storage type {storage_type!r}")
        if key not in self.storages:
            self.storages[key] = _Storage(key, storage_type.dtype, numel)
        view = pid[5] if self._legacy and len(pid) > 5 else None
        if view is not None:  # legacy storage view: (view_key, element offset, view size)
            _, offset, size = view
            return _Storage(key, storage_type.dtype, int(size), int(offset))
        return self.storages[key]


def _unpickle(fh, path: str, *, legacy: bool) -> tuple[Any, dict[str, _Storage]]:
    unpickler = _RestrictedUnpickler(fh, path, legacy=legacy)
    try:
        obj = unpickler.load()
    except UnsafePickleError:
        raise
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        KeyError,
        AttributeError,
        IndexError,
    ) as exc:
        raise CorruptWeightsError(path, f"corrupt checkpoint pickle ({type(exc).__name__}: {exc})") from exc
    return obj, unpickler.storages


def read_zip(path: str) -> tuple[Any, Any]:
    """Unpickle a zip checkpoint; returns (object tree with LazyTensor leaves, loader(name, LazyTensor))."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise CorruptWeightsError(path, f"truncated or corrupt zip archive ({exc})") from exc
    with zf:
        pkl = [n for n in zf.namelist() if n == "data.pkl" or n.endswith("/data.pkl")]
        if len(pkl) != 1:
            raise CorruptWeightsError(path, f"a torch zip checkpoint has one data.pkl, found {len(pkl)}")
        prefix = pkl[0][: -len("data.pkl")]
        byteorder = "little"
        if prefix + "byteorder" in zf.namelist():
            byteorder = zf.read(prefix + "byteorder").decode("ascii", "replace").strip()
        if byteorder != "little":
            raise CorruptWeightsError(path, f"big-endian checkpoints are not supported (byteorder {byteorder!r})")
        try:
            with zf.open(pkl[0]) as fh:
                obj, _ = _unpickle(fh, path, legacy=False)
        except (zipfile.BadZipFile, OSError) as exc:
            raise CorruptWeightsError(path, f"truncated or corrupt data.pkl ({exc})") from exc
        members = {info.filename: info for info in zf.infolist()}
    return obj, functools.partial(_load_zip_tensor, path, prefix, members)


def _member_data_offset(path: str, info: zipfile.ZipInfo) -> int:
    with open(path, "rb") as fh:
        fh.seek(info.header_offset)
        local = fh.read(30)
    if len(local) < 30 or local[:4] != b"PK\x03\x04":
        raise CorruptWeightsError(path, f"corrupt zip local header for {info.filename!r}")
    name_len, extra_len = struct.unpack("<HH", local[26:30])
    return info.header_offset + 30 + name_len + extra_len


def _load_zip_tensor(path: str, prefix: str, members: dict, name: str, t: LazyTensor) -> np.ndarray:
    member = f"{prefix}data/{t.storage.key}"
    info = members.get(member)
    if info is None:
        raise CorruptWeightsError(path, f"storage member {member!r} is missing", name)
    itemsize = numpy_dtype(t.dtype, path).itemsize
    begin, count = (t.storage.elem_offset + t.offset) * itemsize, t.extent()
    if begin + count * itemsize > info.file_size:
        raise CorruptWeightsError(
            path,
            f"storage {member!r} has {info.file_size} bytes, the tensor needs {begin + count * itemsize}",
            name,
        )
    if info.compress_type == zipfile.ZIP_STORED:
        flat = decode_mapped(path, _member_data_offset(path, info) + begin, (count,), t.dtype, name)
    else:
        with zipfile.ZipFile(path) as zf:
            data = zf.read(member)
        raw = np.frombuffer(data, dtype=numpy_dtype(t.dtype, path), count=count, offset=begin)
        flat = as_float(raw, t.dtype)
    return _view(flat, t)


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
    with open(path, "rb") as fh:
        header = []
        for what in ("magic number", "protocol version", "system info"):
            try:
                header.append(_RestrictedUnpickler(fh, path, legacy=True).load())
            except UnsafePickleError:
                raise
            except (pickle.UnpicklingError, EOFError, ValueError) as exc:
                raise CorruptWeightsError(path, f"corrupt legacy checkpoint {what} ({exc})") from exc
        if header[0] != LEGACY_MAGIC:
            raise CorruptWeightsError(path, "a pickle, but not a PyTorch checkpoint (wrong magic number)")
        obj, storages = _unpickle(fh, path, legacy=True)
        keys, _ = _unpickle(fh, path, legacy=True)
        if not isinstance(keys, list):
            raise CorruptWeightsError(path, "corrupt legacy checkpoint: the storage key list is missing")
        offsets: dict[str, int] = {}
        pos = fh.tell()
        for key in keys:
            storage = storages.get(str(key))
            if storage is None:
                raise CorruptWeightsError(path, f"storage key {key!r} not referenced by any tensor")
            fh.seek(pos)
            head = fh.read(8)
            if len(head) < 8:
                raise CorruptWeightsError(path, f"truncated: storage {key!r} is missing")
            (numel,) = struct.unpack("<q", head)
            offsets[str(key)] = pos + 8
            pos += 8 + numel * numpy_dtype(storage.dtype, path).itemsize
    return obj, functools.partial(_load_legacy_tensor, path, offsets)


def _load_legacy_tensor(path: str, offsets: dict[str, int], name: str, t: LazyTensor) -> np.ndarray:
    itemsize = numpy_dtype(t.dtype, path).itemsize
    start = offsets[t.storage.key] + (t.storage.elem_offset + t.offset) * itemsize
    flat = decode_mapped(path, start, (t.extent(),), t.dtype, name)
    return _view(flat, t)
