"""Tests for sparsity.weights: every format written here by the tests themselves, plus bad input.

Values read back must equal what was written bit for bit: widening float16/bfloat16/float8 to float32 is
exact, so every comparison is exact (``assert_array_equal``) except GGUF Q8_0, whose error bound is derived
below.
"""

from __future__ import annotations

import json
import os
import pickle
import struct
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from sparsity.weights import (
    CorruptWeightsError,
    TensorFilter,
    UnknownFormatError,
    UnsafePickleError,
    WeightsError,
    WeightsNotFoundError,
    WeightsWarning,
    detect_format,
    load_weights,
)

RNG = np.random.default_rng(20261128)


def _normal(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def _read_all(path, **kw) -> dict[str, np.ndarray]:
    return dict(load_weights(path, **kw))


# ------------------------------------------------------------------------------- safetensors (hand-written)
_ST_CODES = {"float32": "F32", "float16": "F16", "float64": "F64", "int64": "I64", "uint16": "BF16", "uint8": "U8"}


def write_safetensors(path: Path, tensors: dict[str, tuple[str, np.ndarray]], metadata=None) -> None:
    """Minimal writer following the published spec: (dtype code, array holding the raw bytes)."""
    header, blobs, offset = {}, [], 0
    for name, (code, arr) in tensors.items():
        raw = np.ascontiguousarray(arr).tobytes()
        header[name] = {"dtype": code, "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def test_safetensors_float_types_are_widened_exactly(tmp_path):
    ml_dtypes = pytest.importorskip("ml_dtypes")
    w32, w64 = _normal(6, 5), _normal(3, 4).astype(np.float64)
    w16 = _normal(4, 7).astype(np.float16)
    wbf = _normal(5, 3).astype(ml_dtypes.bfloat16)
    w8 = _normal(3, 3).astype(ml_dtypes.float8_e4m3fn)
    path = tmp_path / "m.safetensors"
    write_safetensors(
        path,
        {
            "f32.weight": ("F32", w32),
            "f64.weight": ("F64", w64),
            "f16.weight": ("F16", w16),
            "bf16.weight": ("BF16", wbf.view(np.uint16)),
            "f8.weight": ("F8_E4M3", w8.view(np.uint8)),
            "f32.bias": ("F32", _normal(6)),
        },
        metadata={"format": "pt"},
    )
    assert detect_format(path) == "safetensors"
    got = _read_all(path)
    assert list(got) == ["f32.weight", "f64.weight", "f16.weight", "bf16.weight", "f8.weight"]
    assert_array_equal(got["f32.weight"], w32)
    assert got["f64.weight"].dtype == np.float64  # never lowered
    assert_array_equal(got["f64.weight"], w64)
    for name, ref in (("f16.weight", w16), ("bf16.weight", wbf), ("f8.weight", w8)):
        assert got[name].dtype == np.float32
        assert_array_equal(got[name], ref.astype(np.float32))


def test_safetensors_written_by_the_library_and_by_torch(tmp_path):
    st_numpy = pytest.importorskip("safetensors.numpy")
    weights = {"a.weight": _normal(8, 3), "b.weight": _normal(2, 4).astype(np.float16)}
    st_numpy.save_file(weights, str(tmp_path / "np.safetensors"))
    got = _read_all(tmp_path / "np.safetensors")
    assert_array_equal(got["a.weight"], weights["a.weight"])
    assert_array_equal(got["b.weight"], weights["b.weight"].astype(np.float32))
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch")
    t = torch.randn(5, 6, generator=torch.Generator().manual_seed(1)).to(torch.bfloat16)
    st_torch.save_file({"bf.weight": t}, str(tmp_path / "t.safetensors"))
    assert_array_equal(_read_all(tmp_path / "t.safetensors")["bf.weight"], t.float().numpy())


def _sharded(tmp_path: Path) -> dict[str, np.ndarray]:
    parts = {
        "model-00001-of-00002.safetensors": {"layer.0.weight": _normal(4, 4), "layer.0.bias": _normal(4)},
        "model-00002-of-00002.safetensors": {"layer.1.weight": _normal(4, 6)},
    }
    weight_map = {}
    for shard, tensors in parts.items():
        write_safetensors(tmp_path / shard, {k: ("F32", v) for k, v in tensors.items()})
        weight_map.update(dict.fromkeys(tensors, shard))
    index = {"metadata": {"total_size": 0}, "weight_map": weight_map}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    return {k: v for tensors in parts.values() for k, v in tensors.items()}


def test_sharded_safetensors_directory(tmp_path):
    expected = _sharded(tmp_path)
    reader = load_weights(tmp_path)
    assert reader.format == "safetensors-sharded"
    assert reader.names == ["layer.0.weight", "layer.1.weight"]
    got = dict(reader)
    for name in reader.names:
        assert_array_equal(got[name], expected[name])


def test_sharded_index_with_missing_shard_or_tensor(tmp_path):
    _sharded(tmp_path)
    (tmp_path / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(WeightsNotFoundError, match="model-00002-of-00002"):
        load_weights(tmp_path)
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    index["weight_map"] = {"ghost.weight": "model-00001-of-00002.safetensors"}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(CorruptWeightsError, match="ghost.weight"):
        load_weights(tmp_path)
    (tmp_path / "model.safetensors.index.json").write_text("{not json")
    with pytest.raises(CorruptWeightsError, match="index"):
        load_weights(tmp_path)


@pytest.mark.parametrize("cut", [4, 12, 60, -7])
def test_truncated_safetensors(tmp_path, cut):
    path = tmp_path / "t.safetensors"
    write_safetensors(path, {"w": ("F32", _normal(16, 16))})
    data = path.read_bytes()
    path.write_bytes(data[:cut])
    with pytest.raises(CorruptWeightsError, match="t.safetensors"):
        list(load_weights(path))


def test_corrupt_safetensors_header(tmp_path):
    path = tmp_path / "c.safetensors"
    body = b'{"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 12]}}'  # 4 floats need 16 bytes
    path.write_bytes(struct.pack("<Q", len(body)) + body + bytes(16))
    with pytest.raises(CorruptWeightsError, match="data_offsets span 12"):
        load_weights(path)
    body = b'{"w": [1, 2'
    path.write_bytes(struct.pack("<Q", len(body)) + body)
    with pytest.raises(CorruptWeightsError, match="header"):
        load_weights(path)


def test_unsupported_dtype_is_reported_and_skipped(tmp_path):
    path = tmp_path / "u.safetensors"
    write_safetensors(path, {"ok.weight": ("F32", _normal(3, 3)), "odd.weight": ("F4X", np.zeros((3, 3), np.uint8))})
    with pytest.warns(WeightsWarning, match="odd.weight"):
        reader = load_weights(path)
    assert reader.names == ["ok.weight"]
    assert [s.name for s in reader.skipped] == ["odd.weight"]
    assert "F4X" in reader.skipped[0].reason


# ---------------------------------------------------------------------------------------------- numpy
def test_npz_plain_and_compressed(tmp_path):
    arrays = {"enc_w": _normal(6, 4), "half_w": _normal(3, 5).astype(np.float16), "enc_b_ih": _normal(6)}
    for save in (np.savez, np.savez_compressed):
        path = tmp_path / f"{save.__name__}.npz"
        save(path, **arrays)
        assert detect_format(path) == "npz"
        got = _read_all(path)
        assert list(got) == ["enc_w", "half_w"]
        assert_array_equal(got["enc_w"], arrays["enc_w"])
        assert_array_equal(got["half_w"], arrays["half_w"].astype(np.float32))


@pytest.mark.parametrize("layout", ["C", "F", "big-endian", "float16"])
def test_npy_layouts(tmp_path, layout):
    ref = _normal(5, 7)
    arr = {
        "C": ref,
        "F": np.asfortranarray(ref),
        "big-endian": ref.astype(">f4"),
        "float16": ref.astype(np.float16),
    }[layout]
    path = tmp_path / "w.weights"  # content decides, not the extension
    with open(path, "wb") as fh:
        np.save(fh, arr)
    assert detect_format(path) == "npy"
    (name, got), *rest = list(load_weights(path))
    assert name == "w" and not rest
    assert got.dtype.isnative and got.dtype == np.float32
    assert_array_equal(got, arr.astype(np.float32))


def test_npy_object_array_is_refused(tmp_path):
    path = tmp_path / "obj.npy"
    np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(UnsafePickleError, match="object array"):
        load_weights(path)


def test_truncated_npz_and_npy(tmp_path):
    np.savez(tmp_path / "a.npz", w=_normal(30, 30))
    data = (tmp_path / "a.npz").read_bytes()
    (tmp_path / "a.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptWeightsError, match="a.npz"):
        list(load_weights(tmp_path / "a.npz"))
    np.save(tmp_path / "b.npy", _normal(30, 30))
    data = (tmp_path / "b.npy").read_bytes()
    (tmp_path / "b.npy").write_bytes(data[:-100])
    with pytest.raises(CorruptWeightsError, match="truncated"):
        list(load_weights(tmp_path / "b.npy"))
