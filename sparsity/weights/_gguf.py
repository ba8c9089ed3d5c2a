"""GGUF files (llama.cpp), via the ``gguf`` package for the header and the dequantisers.

Float tensors (F32, F16, F64, BF16) are memory-mapped and widened to float32; quantised tensors are
dequantised with ``gguf.quants.dequantize`` when the installed ``gguf`` implements that type, and otherwise
reported as unsupported and skipped. GGUF stores dimensions innermost-first; shapes here are in C order.

References
----------
.. [1] ggml, "GGUF" file format specification, https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
"""

from __future__ import annotations

import functools
import math
import mmap
from collections.abc import Iterator

import numpy as np

from sparsity.weights._common import TensorRef, decode_mapped
from sparsity.weights._errors import CorruptWeightsError, MissingDependencyError
from sparsity.weights._gguf_header import read_gguf_header

__all__ = ["gguf_entries"]

_FLOATS = {"F32": "float32", "F16": "float16", "F64": "float64", "BF16": "bfloat16"}
_INTS = {"I8": "int8", "I16": "int16", "I32": "int32", "I64": "int64"}


@functools.cache
def _can_dequantize(qtype: int) -> bool:
    import gguf

    _block, type_size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType(qtype)]
    try:
        gguf.quants.dequantize(np.zeros((1, type_size), dtype=np.uint8), gguf.GGMLQuantizationType(qtype))
    except NotImplementedError:
        return False
    return True


def gguf_entries(path: str) -> Iterator[TensorRef]:
    """References to the tensors of a GGUF file, in file order.

    The header is read by :func:`read_gguf_header`, which checks every count and length against the file;
    each tensor's byte range is checked here before any data is read.
    """
    try:
        import gguf
    except ImportError as exc:
        raise MissingDependencyError(path, "reading GGUF needs the gguf package (pip install gguf)") from exc
    infos, size = read_gguf_header(path)
    refs = []
    for info in infos:
        shape = tuple(reversed(info.dims))
        try:
            qtype = gguf.GGMLQuantizationType(info.type_id)
        except ValueError:
            refs.append(TensorRef(info.name, shape, f"ggml_type_{info.type_id}", True, _no_load, "unknown GGML type"))
            continue
        block, type_size = gguf.GGML_QUANT_SIZES[qtype]
        if info.dims and info.dims[0] % block:
            raise CorruptWeightsError(
                path, f"{qtype.name} rows hold whole blocks of {block}, but the row length is {info.dims[0]}", info.name
            )
        nbytes = math.prod(info.dims) // block * type_size
        if info.offset + nbytes > size:
            raise CorruptWeightsError(
                path,
                f"truncated at byte {size} of {info.offset + nbytes}: the tensor needs bytes "
                f"{info.offset}..{info.offset + nbytes}",
                info.name,
            )
        refs.append(_ref(info.name, shape, qtype, info.offset, nbytes, path))
    return iter(refs)


def _no_load() -> np.ndarray:  # pragma: no cover - unsupported tensors are never loaded
    raise AssertionError("an unsupported tensor is never loaded")


def _ref(name: str, shape: tuple[int, ...], qtype, offset: int, nbytes: int, path: str) -> TensorRef:
    qname = qtype.name
    if qname in _FLOATS:
        load = functools.partial(decode_mapped, path, offset, shape, _FLOATS[qname], name)
        return TensorRef(name, shape, _FLOATS[qname], True, load)
    if qname in _INTS:
        load = functools.partial(decode_mapped, path, offset, shape, _INTS[qname], name)
        return TensorRef(name, shape, _INTS[qname], False, load)
    reason = None if _can_dequantize(int(qtype)) else f"the installed gguf package cannot dequantize {qname}"
    load = functools.partial(_dequantize, path, offset, nbytes, shape, int(qtype), name)
    return TensorRef(name, shape, qname, True, load, reason)


def _dequantize(path: str, offset: int, nbytes: int, shape: tuple[int, ...], qtype: int, name: str) -> np.ndarray:
    import gguf

    qt = gguf.GGMLQuantizationType(qtype)
    byte_shape = gguf.quant_shape_to_byte_shape(shape, qt)
    if math.prod(byte_shape) != nbytes:
        raise CorruptWeightsError(
            path, f"{qt.name} tensor of shape {shape} should span {math.prod(byte_shape)} bytes", name
        )
    start = offset - offset % mmap.ALLOCATIONGRANULARITY
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        if offset + nbytes > fh.tell():
            raise CorruptWeightsError(path, f"truncated: the tensor needs bytes up to {offset + nbytes}", name)
        with mmap.mmap(fh.fileno(), offset + nbytes - start, access=mmap.ACCESS_READ, offset=start) as mm:
            raw = np.frombuffer(mm, dtype=np.uint8, count=nbytes, offset=offset - start).reshape(byte_shape)
            out = np.array(gguf.quants.dequantize(raw, qt), dtype=np.float32, copy=True)
            del raw
    return out.reshape(shape)
