"""ONNX models: graph initializers and ``Constant`` nodes, including those inside subgraphs (If/Loop/Scan).

The protobuf is parsed once (with external data left on disk); each tensor is converted to numpy only when it
is loaded, and external-data tensors are read from their side files at that point.

References
----------
.. [1] ONNX, "Open Neural Network Exchange" IR specification, https://onnx.ai/onnx/repo-docs/IR.html
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from sparsity.weights._common import TensorRef, as_float, check_shape, is_float_name
from sparsity.weights._errors import CorruptWeightsError, MissingDependencyError

__all__ = ["onnx_entries", "parse_model"]

_DTYPES = {
    "FLOAT": "float32",
    "DOUBLE": "float64",
    "FLOAT16": "float16",
    "BFLOAT16": "bfloat16",
    "FLOAT8E4M3FN": "float8_e4m3fn",
    "FLOAT8E4M3FNUZ": "float8_e4m3fnuz",
    "FLOAT8E5M2": "float8_e5m2",
    "FLOAT8E5M2FNUZ": "float8_e5m2fnuz",
    "INT64": "int64",
    "INT32": "int32",
    "INT16": "int16",
    "INT8": "int8",
    "UINT64": "uint64",
    "UINT32": "uint32",
    "UINT16": "uint16",
    "UINT8": "uint8",
    "BOOL": "bool",
}


def parse_model(path: str) -> Any:
    """Parse an ONNX ModelProto (external data not loaded); CorruptWeightsError when it does not parse."""
    try:
        import onnx
        from google.protobuf.message import DecodeError
    except ImportError as exc:
        raise MissingDependencyError(path, "reading ONNX needs the onnx package (pip install onnx)") from exc
    try:
        model = onnx.load(path, load_external_data=False)
    except (DecodeError, ValueError, OSError, RuntimeError) as exc:
        raise CorruptWeightsError(path, f"truncated or corrupt ONNX protobuf ({type(exc).__name__}: {exc})") from exc
    if model.ir_version <= 0 or not model.HasField("graph"):
        raise CorruptWeightsError(path, "parses as protobuf but is not an ONNX model (no ir_version or graph)")
    return model


def _graph_tensors(graph: Any, scope: str) -> Iterator[tuple[str, Any]]:
    for tensor in graph.initializer:
        yield tensor.name, tensor
    for node in graph.node:
        for attr in node.attribute:
            if node.op_type == "Constant" and attr.name == "value" and attr.HasField("t"):
                yield (node.output[0] if node.output else f"{scope}{node.name}"), attr.t
            if attr.HasField("g"):
                yield from _graph_tensors(attr.g, f"{scope}{node.name}.{attr.name}.")
            for i, sub in enumerate(attr.graphs):
                yield from _graph_tensors(sub, f"{scope}{node.name}.{attr.name}.{i}.")


def onnx_entries(path: str) -> Iterator[TensorRef]:
    """References to the initializers and constants of an ONNX model, in graph order."""
    import onnx

    model = parse_model(path)
    base_dir = os.path.dirname(os.path.abspath(path))
    seen: set[str] = set()
    for name, tensor in _graph_tensors(model.graph, ""):
        if name in seen:
            continue
        seen.add(name)
        try:
            stored = onnx.TensorProto.DataType.Name(tensor.data_type)
        except ValueError:  # a type id this onnx does not know
            stored = f"data_type_{tensor.data_type}"
        dtype = _DTYPES.get(stored, f"unsupported:{stored}")
        unsupported = None if stored in _DTYPES else f"unsupported ONNX dtype {stored}"
        shape = check_shape(path, list(tensor.dims), name)
        load = functools.partial(_load, path, base_dir, tensor, dtype, name)
        yield TensorRef(name, shape, dtype, is_float_name(dtype) or "FLOAT" in stored, load, unsupported)


def _check_external(path: str, base_dir: str, tensor: Any, name: str) -> None:
    """An external-data tensor's side file lies inside the model's directory and holds the bytes it names.

    onnx itself refuses absolute and escaping locations; the offset and length are checked here, so that a
    length of 2**63 is never handed to ``read``.
    """
    fields = {entry.key: entry.value for entry in tensor.external_data}
    location = fields.get("location", "")
    target = os.path.realpath(os.path.join(base_dir, location))
    if (
        not location
        or os.path.isabs(location)
        or os.path.commonpath([target, os.path.realpath(base_dir)]) != (os.path.realpath(base_dir))
    ):
        raise CorruptWeightsError(path, f"external data location {location!r} is not a file inside {base_dir}", name)
    if not os.path.isfile(target):
        raise CorruptWeightsError(path, f"external data file {location!r} is missing", name)
    size = os.path.getsize(target)
    try:
        offset, length = int(fields.get("offset", 0)), int(fields.get("length", size - int(fields.get("offset", 0))))
    except ValueError as exc:
        raise CorruptWeightsError(path, f"external data offset/length are not integers ({fields})", name) from exc
    if offset < 0 or length < 0 or offset + length > size:
        raise CorruptWeightsError(
            path, f"external data [{offset}, {offset + length}) lies outside {location!r} ({size} B)", name
        )


def _load(path: str, base_dir: str, tensor: Any, dtype: str, name: str) -> np.ndarray:
    from onnx import TensorProto, numpy_helper
    from onnx.checker import ValidationError

    if tensor.data_location == TensorProto.EXTERNAL:
        _check_external(path, base_dir, tensor, name)
    try:
        arr = numpy_helper.to_array(tensor, base_dir=base_dir)
    except (ValueError, OSError, TypeError, KeyError, ValidationError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise CorruptWeightsError(
            path, f"cannot decode ONNX tensor ({type(exc).__name__}: {message[:300]})", name
        ) from exc
    if dtype == "bfloat16":  # to_array may hand back bfloat16 as ml_dtypes or as raw uint16 bits
        return arr.astype(np.float32) if arr.dtype.kind == "V" or arr.dtype.name == "bfloat16" else as_float(arr, dtype)
    return as_float(arr, dtype) if dtype.startswith("float") and dtype not in ("float32", "float64") else np.array(arr)
