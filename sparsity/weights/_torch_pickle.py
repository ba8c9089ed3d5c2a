"""A torch-free reader for PyTorch checkpoints that never runs pickled code.

PyTorch checkpoints are pickles. A pickle names callables (``GLOBAL module name``) and asks the loader to call
them (``REDUCE``), which is how a malicious file runs code. This reader's ``find_class`` resolves a short
allow-list of names to inert local stand-ins (a tensor becomes a :class:`LazyTensor` that records storage key,
offset, shape and stride) and raises :class:`UnsafePickleError` for any other name, before anything is called.
The tensor data itself is raw bytes, read later, one tensor at a time.

The two container layouts (zip and legacy) are read by :mod:`sparsity.weights._torch_containers`.

References
----------
.. [1] PyTorch, ``torch/serialization.py`` and ``torch/_weights_only_unpickler.py`` (the format and the
   allow-list idea; this module shares no code with them).
"""

from __future__ import annotations

import collections
import pickle
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from sparsity.weights._common import BoundedReader
from sparsity.weights._errors import CorruptWeightsError, UnsafePickleError

__all__ = ["LEGACY_MAGIC", "PICKLE_ERRORS", "LazyTensor", "RestrictedUnpickler", "Storage", "one_line", "unpickle"]

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
class StorageType:
    dtype: str


@dataclass(frozen=True)
class _DType:
    name: str


@dataclass(frozen=True)
class Storage:
    key: str
    dtype: str
    numel: int
    elem_offset: int = 0  # legacy storage views


@dataclass(frozen=True)
class LazyTensor:
    """A tensor described by the pickle: where its bytes are and how to view them (no data read yet)."""

    storage: Storage
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
    if not isinstance(storage, Storage):
        raise pickle.UnpicklingError(f"tensor rebuilt from a {type(storage).__name__}, not a storage")
    shape, strides = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if len(shape) != len(strides) or any(s < 0 for s in shape + strides):
        raise pickle.UnpicklingError(f"inconsistent tensor size {shape} and stride {strides}")
    if int(offset) < 0:
        raise pickle.UnpicklingError(f"negative storage offset {int(offset)}")
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


def _bytearray(source=b"", *args):
    if isinstance(source, int):  # bytearray(n) allocates n bytes: a one-line pickle could ask for terabytes
        raise pickle.UnpicklingError("builtins.bytearray with an integer size is not allowed")
    return bytearray(source, *args)


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
    ("builtins", "bytearray"): _bytearray,
}
_GLOBALS.update({("torch", name): StorageType(dtype) for name, dtype in _STORAGE_DTYPES.items()})
_GLOBALS[("torch.storage", "UntypedStorage")] = StorageType("uint8")
_GLOBALS.update({("torch", name): _DType(dtype) for name, dtype in _TORCH_DTYPES.items()})
_SAFE_CALLABLES = frozenset(v for v in _GLOBALS.values() if callable(v) and not isinstance(v, type))


class RestrictedUnpickler(pickle._Unpickler):
    """Resolves only allow-listed globals, to inert stand-ins; storages become :class:`Storage` records.

    Built on the pure-Python unpickler: the C one sizes its memo by the largest index a ``LONG_BINPUT``
    names, so four bytes of a hostile file could make it allocate gigabytes. Its input is a
    :class:`BoundedReader`, so no length field makes it read (or allocate) past the pickle's end; the one
    opcode that allocates before reading (``BYTEARRAY8``) is checked against the same limit.
    """

    # set by pickle._Unpickler.load() (its stubs do not declare them)
    read: Callable[[int], bytes]
    readinto: Callable[[bytearray], int]
    append: Callable[[Any], None]
    dispatch: ClassVar[dict] = dict(pickle._Unpickler.dispatch)

    def __init__(self, file, path: str, *, legacy: bool, limit: int) -> None:
        super().__init__(BoundedReader(file, limit))
        self._path = path
        self._legacy = legacy
        self._limit = limit
        self.storages: dict[str, Storage] = {}

    def _load_bytearray8(self) -> None:
        (size,) = struct.unpack("<Q", self.read(8))
        if size > self._limit:
            raise pickle.UnpicklingError(f"BYTEARRAY8 of {size} bytes in a pickle of {self._limit}")
        data = bytearray(size)
        self.readinto(data)
        self.append(data)

    dispatch[pickle.BYTEARRAY8[0]] = _load_bytearray8

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _GLOBALS[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                self._path,
                f"the pickle asks for {module}.{name}, outside the allow-list of tensor-rebuilding names; "
                "refused before anything was executed",
            ) from None

    def persistent_load(self, pid: Any) -> Storage:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        storage_type, key, numel = pid[1], str(pid[2]), int(pid[4])
        if not isinstance(storage_type, StorageType):
            raise pickle.UnpicklingError(f"persistent id with storage type {storage_type!r}")
        if numel < 0:
            raise pickle.UnpicklingError(f"storage {key!r} with {numel} elements")
        if key not in self.storages:
            self.storages[key] = Storage(key, storage_type.dtype, numel)
        view = pid[5] if self._legacy and len(pid) > 5 else None
        if view is not None:  # legacy storage view: (view_key, element offset, view size)
            _, offset, size = view
            if int(offset) < 0 or int(size) < 0:
                raise pickle.UnpicklingError(f"storage view ({offset}, {size}) of {key!r}")
            return Storage(key, storage_type.dtype, int(size), int(offset))
        return self.storages[key]


# What a corrupt pickle or zip member raises (RecursionError: nesting deeper than the interpreter allows).
PICKLE_ERRORS = (
    pickle.UnpicklingError,
    EOFError,
    ValueError,
    TypeError,
    KeyError,
    AttributeError,
    IndexError,
    LookupError,
    OverflowError,
    RecursionError,
    struct.error,
    zlib.error,
    zipfile.BadZipFile,
    NotImplementedError,
    OSError,
)


def unpickle(fh, path: str, *, legacy: bool, limit: int) -> tuple[Any, dict[str, Storage]]:
    unpickler = RestrictedUnpickler(fh, path, legacy=legacy, limit=limit)
    try:
        obj = unpickler.load()
    except UnsafePickleError:
        raise
    except PICKLE_ERRORS as exc:
        raise CorruptWeightsError(path, f"corrupt checkpoint pickle ({one_line(exc)})") from exc
    return obj, unpickler.storages


def one_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text[:200]}"
