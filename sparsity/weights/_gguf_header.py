"""A bounds-checked reader of the GGUF header: key/values and tensor descriptions, no tensor data.

Every count and length read from the file is checked against the bytes the file has left before anything is
allocated or read, so a truncated file or an absurd count (a tensor count of 2**40 in a 1 kB file) is reported
in words ("truncated at byte N of M", "tensor count ... exceeds the file") instead of whatever a general
reader raises. Layout (version 2 and 3, little-endian)::

    "GGUF" | version u32 | tensor count u64 | key/value count u64
    key/values:  key (u64 length + UTF-8) | value type u32 | value
    tensors:     name (u64 length + UTF-8) | n_dims u32 | dims u64 x n_dims (innermost first) | type u32 | offset u64
    padding to ``general.alignment`` (default 32), then the data section; offsets are relative to it.

References
----------
.. [1] ggml, "GGUF" file format specification, https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import BinaryIO

from sparsity.weights._errors import CorruptWeightsError

__all__ = ["GGUFTensorInfo", "read_gguf_header"]

# Value type id -> struct format of a scalar (8: string and 9: array are variable-sized).
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
_MIN_KV_BYTES = 8 + 4 + 1  # empty key, type, one-byte value
_MIN_TENSOR_BYTES = 8 + 4 + 4 + 8  # empty name, n_dims = 0, type, offset
_MAX_DIMS = 4  # GGML_MAX_DIMS
_MAX_ARRAY_DEPTH = 8
_ALIGNMENT_KEY = "general.alignment"


@dataclass(frozen=True)
class GGUFTensorInfo:
    """One tensor description: name, dims innermost-first (as stored), GGML type id, absolute data offset."""

    name: str
    dims: tuple[int, ...]
    type_id: int
    offset: int


class _Cursor:
    """Reads little-endian fields from a file, refusing any read that would pass the end of the file."""

    def __init__(self, fh: BinaryIO, path: str, size: int) -> None:
        self.fh, self.path, self.size, self.pos = fh, path, size, 0
        self.what = "the file header"

    def need(self, nbytes: int) -> None:
        if self.pos + nbytes > self.size:
            raise CorruptWeightsError(
                self.path, f"truncated at byte {self.size} of at least {self.pos + nbytes}, reading {self.what}"
            )

    def take(self, nbytes: int) -> bytes:
        self.need(nbytes)
        data = self.fh.read(nbytes)
        self.pos += len(data)
        return data

    def skip(self, nbytes: int) -> None:
        self.need(nbytes)
        self.pos += nbytes
        self.fh.seek(self.pos)

    def scalar(self, fmt: str) -> int | float | bool:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        n = int(self.scalar("<Q"))
        try:
            return self.take(n).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CorruptWeightsError(self.path, f"a string that is not UTF-8 in {self.what}") from exc

    def value(self, type_id: int, depth: int = 0) -> object:
        """A value of the given type; arrays of fixed-size items are skipped (returned as None)."""
        if type_id in _SCALARS:
            return self.scalar(_SCALARS[type_id])
        if type_id == _STRING:
            return self.string()
        if type_id != _ARRAY or depth >= _MAX_ARRAY_DEPTH:
            raise CorruptWeightsError(self.path, f"unknown value type {type_id} in {self.what}")
        item_type, count = int(self.scalar("<I")), int(self.scalar("<Q"))
        if item_type in _SCALARS:
            self.skip(count * struct.calcsize(_SCALARS[item_type]))
            return None
        self.need(count * 8)  # every string or nested array takes at least 8 bytes
        for _ in range(count):
            self.value(item_type, depth + 1)
        return None

    def count(self, what: str, minimum_bytes: int) -> int:
        n = int(self.scalar("<Q"))
        left = self.size - self.pos
        if n * minimum_bytes > left:
            raise CorruptWeightsError(
                self.path,
                f"{what} count {n} (2^{n.bit_length() - 1}+) exceeds the file: its {left} remaining bytes hold "
                f"at most {left // minimum_bytes}",
            )
        return n


def read_gguf_header(path: str) -> tuple[list[GGUFTensorInfo], int]:
    """Tensor descriptions of a GGUF file (offsets made absolute) and the file size.

    Raises
    ------
    CorruptWeightsError
        Wrong magic or version, truncated header, counts or lengths the file cannot hold, duplicated tensor
        names, an alignment that is not a power of two.
    """
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        cur = _Cursor(fh, path, size)
        if cur.take(4) != b"GGUF":
            raise CorruptWeightsError(path, "not a GGUF file (magic)")
        version = int(cur.scalar("<I"))
        if version not in (2, 3):
            raise CorruptWeightsError(path, f"GGUF version {version} is not supported (2 or 3)")
        n_tensors = cur.count("tensor", _MIN_TENSOR_BYTES)
        n_kv = cur.count("key/value", _MIN_KV_BYTES)
        alignment = 32
        for i in range(n_kv):
            cur.what = f"key/value {i} of {n_kv}"
            key = cur.string()
            cur.what = f"key/value {i} of {n_kv} ({key[:60]!r})"
            value = cur.value(int(cur.scalar("<I")))
            if key == _ALIGNMENT_KEY:
                if not isinstance(value, int) or isinstance(value, bool) or value <= 0 or value & (value - 1):
                    raise CorruptWeightsError(path, f"{_ALIGNMENT_KEY} is {value!r}, not a power of two")
                alignment = value
        infos = []
        for i in range(n_tensors):
            cur.what = f"tensor description {i} of {n_tensors}"
            name = cur.string()
            cur.what = f"tensor description {i} of {n_tensors} ({name[:60]!r})"
            n_dims = int(cur.scalar("<I"))
            if n_dims > _MAX_DIMS:
                raise CorruptWeightsError(path, f"{n_dims} dimensions, GGUF allows at most {_MAX_DIMS}", name)
            dims = tuple(int(cur.scalar("<Q")) for _ in range(n_dims))
            infos.append((name, dims, int(cur.scalar("<I")), int(cur.scalar("<Q"))))
    names = [info[0] for info in infos]
    if len(set(names)) != len(names):
        raise CorruptWeightsError(
            path, f"duplicated tensor names {sorted({n for n in names if names.count(n) > 1})[:5]}"
        )
    data_start = cur.pos + (-cur.pos % alignment)
    return [GGUFTensorInfo(name, dims, t, data_start + off) for name, dims, t, off in infos], size
