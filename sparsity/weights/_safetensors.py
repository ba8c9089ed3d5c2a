"""safetensors files and sharded safetensors directories, read without the safetensors package.

Layout: an 8-byte little-endian header length ``n``, ``n`` bytes of JSON mapping each tensor name to
``{"dtype", "shape", "data_offsets": [begin, end]}`` (offsets relative to the end of the header), then
the data.
Each tensor is memory-mapped on its own when it is loaded.

References
----------
.. [1] Hugging Face, "safetensors" format specification, https://github.com/huggingface/safetensors
"""

from __future__ import annotations

import functools
import json
import math
import os
import struct
from collections.abc import Iterator
from pathlib import Path

from sparsity.weights._common import MAX_HEADER_BYTES, TensorRef, check_shape, decode_mapped, is_float_name
from sparsity.weights._errors import CorruptWeightsError, WeightsNotFoundError

__all__ = ["INDEX_SUFFIX", "safetensors_entries", "sharded_entries"]

INDEX_SUFFIX = ".safetensors.index.json"

_DTYPES = {
    "F64": "float64",
    "F32": "float32",
    "F16": "float16",
    "BF16": "bfloat16",
    "F8_E4M3": "float8_e4m3fn",
    "F8_E5M2": "float8_e5m2",
    "F8_E8M0": "float8_e8m0fnu",
    "I64": "int64",
    "I32": "int32",
    "I16": "int16",
    "I8": "int8",
    "U64": "uint64",
    "U32": "uint32",
    "U16": "uint16",
    "U8": "uint8",
    "BOOL": "bool",
}
_ITEMSIZE = {
    "float64": 8,
    "float32": 4,
    "float16": 2,
    "bfloat16": 2,
    "int64": 8,
    "int32": 4,
    "int16": 2,
    "int8": 1,
    "uint64": 8,
    "uint32": 4,
    "uint16": 2,
    "uint8": 1,
    "bool": 1,
}


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        duplicated = sorted({key for key in keys if keys.count(key) > 1})
        raise ValueError(f"duplicate key(s) {duplicated[:5]}")
    return dict(pairs)


def read_header(path: str) -> tuple[dict, int]:
    """Parse and validate the JSON header; returns (header, offset of the data section)."""
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise CorruptWeightsError(path, f"truncated: {size} bytes, shorter than the 8-byte header length")
        (n,) = struct.unpack("<Q", head)
        if n > min(size - 8, MAX_HEADER_BYTES):
            raise CorruptWeightsError(path, f"truncated or corrupt: header length {n} but the file has {size} bytes")
        raw = fh.read(n)
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CorruptWeightsError(path, f"corrupt safetensors header ({str(exc)[:200]})") from exc
    if not isinstance(header, dict):
        raise CorruptWeightsError(path, f"corrupt safetensors header: a JSON object expected, got {type(header)}")
    return header, 8 + n


def _entry(path: str, name: str, info: object) -> tuple[str, tuple[int, ...], int, int]:
    """(stored dtype code, shape, begin, end) of one header entry, each checked for type."""
    if not isinstance(info, dict) or not isinstance(info.get("dtype"), str):
        raise CorruptWeightsError(path, f"corrupt header entry {str(info)[:200]}", name)
    shape = check_shape(path, info.get("shape"), name)
    offsets = info.get("data_offsets")
    if not (
        isinstance(offsets, list)
        and len(offsets) == 2
        and all(isinstance(o, int) and not isinstance(o, bool) and o >= 0 for o in offsets)
    ):
        raise CorruptWeightsError(path, f"corrupt data_offsets {str(offsets)[:100]}: two non-negative integers", name)
    return info["dtype"], shape, offsets[0], offsets[1]


def _check_layout(path: str, spans: list[tuple[int, int, str]], data_bytes: int) -> None:
    """Tensors must tile the data section exactly, in offset order: no overlap, gap, alias or trailing bytes.

    The reference loader refuses the same files ("invalid offset", "incomplete buffer"), so a file that
    loads here loads there.
    """
    expected = 0
    for begin, end, name in sorted(spans):
        if begin != expected or end < begin:
            where = "overlaps the previous tensor" if begin < expected else "leaves a gap after the previous tensor"
            if end < begin:
                where = "ends before it begins"
            raise CorruptWeightsError(
                path, f"invalid offset: data_offsets [{begin}, {end}] {where} (expected to start at {expected})", name
            )
        expected = end
    if expected != data_bytes:
        raise CorruptWeightsError(
            path,
            f"truncated or corrupt: the tensors cover {expected} bytes but the data section holds {data_bytes}",
        )


def safetensors_entries(path: str, prefix: str = "", names: set[str] | None = None) -> Iterator[TensorRef]:
    """References to the tensors of one file, in file order (``names``: only these)."""
    header, data_start = read_header(path)
    data_bytes = os.path.getsize(path) - data_start
    items, spans = [], []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        stored, shape, begin, end = _entry(path, name, info)
        if end > data_bytes:
            raise CorruptWeightsError(
                path, f"truncated: data_offsets [{begin}, {end}] overrun the data section ({data_bytes} B)", name
            )
        dtype = _DTYPES.get(stored, f"unsupported:{stored}")
        itemsize = _ITEMSIZE.get(dtype, 1)
        if dtype in _DTYPES.values() and end - begin != math.prod(shape) * itemsize:
            raise CorruptWeightsError(
                path,
                f"header says shape {list(shape)} of {stored} but data_offsets span {end - begin} bytes",
                name,
            )
        spans.append((begin, end, name))
        if names is None or name in names:
            items.append((begin, name, shape, dtype))
    _check_layout(path, spans, data_bytes)
    items.sort()  # file order keeps reads sequential
    for begin, name, shape, dtype in items:
        load = functools.partial(decode_mapped, path, data_start + begin, shape, dtype, name)
        unsupported = f"unsupported safetensors dtype {dtype[12:]}" if dtype.startswith("unsupported:") else None
        floating = is_float_name(dtype) or dtype[12:].startswith("F")
        yield TensorRef(prefix + name, shape, dtype, floating, load, unsupported)


def read_index(index_path: str) -> dict[str, list[str]]:
    """Shard file -> tensor names, from a ``*.safetensors.index.json`` (``{"weight_map": {name: file}}``)."""
    try:
        with open(index_path, encoding="utf-8") as fh:
            index = json.load(fh)
        weight_map = index["weight_map"]
        if not isinstance(weight_map, dict):
            raise TypeError(f"weight_map is a {type(weight_map).__name__}, not an object")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise CorruptWeightsError(index_path, f"corrupt sharded-safetensors index ({exc!r})") from exc
    shards: dict[str, list[str]] = {}
    for name, shard in weight_map.items():
        shards.setdefault(str(shard), []).append(str(name))
    return shards


def sharded_entries(index_path: str) -> Iterator[TensorRef]:
    """References to every tensor listed in a sharded index, shard by shard."""
    shards = read_index(index_path)
    base = Path(index_path).parent
    for shard, names in shards.items():
        shard_path = base / shard
        if not shard_path.is_file():
            raise WeightsNotFoundError(index_path, f"shard {shard!r} listed in the index is missing")
        found = list(safetensors_entries(str(shard_path), names=set(names)))
        missing = set(names) - {ref.name for ref in found}
        if missing:
            raise CorruptWeightsError(
                str(shard_path), f"index lists tensors absent from this shard: {sorted(missing)[:5]}"
            )
        yield from found
