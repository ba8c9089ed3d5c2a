"""Tests for sparsity.weights: every format written here by the tests themselves, plus bad input.

Values read back must equal what was written bit for bit: widening float16/bfloat16/float8 to float32 is
exact, so every comparison is exact (``assert_array_equal``) except GGUF Q8_0, whose error bound is derived
below.
"""

from __future__ import annotations

import importlib.util
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
    with pytest.raises(WeightsNotFoundError, match=r"model-00002-of-00002"):
        load_weights(tmp_path)
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    index["weight_map"] = {"ghost.weight": "model-00001-of-00002.safetensors"}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(CorruptWeightsError, match=r"ghost.weight"):
        load_weights(tmp_path)
    (tmp_path / "model.safetensors.index.json").write_text("{not json")
    with pytest.raises(CorruptWeightsError, match=r"index"):
        load_weights(tmp_path)


@pytest.mark.parametrize("cut", [4, 12, 60, -7])
def test_truncated_safetensors(tmp_path, cut):
    path = tmp_path / "t.safetensors"
    write_safetensors(path, {"w": ("F32", _normal(16, 16))})
    data = path.read_bytes()
    path.write_bytes(data[:cut])
    with pytest.raises(CorruptWeightsError, match=r"t.safetensors"):
        list(load_weights(path))


def test_corrupt_safetensors_header(tmp_path):
    path = tmp_path / "c.safetensors"
    body = b'{"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 12]}}'  # 4 floats need 16 bytes
    path.write_bytes(struct.pack("<Q", len(body)) + body + bytes(16))
    with pytest.raises(CorruptWeightsError, match=r"data_offsets span 12"):
        load_weights(path)
    body = b'{"w": [1, 2'
    path.write_bytes(struct.pack("<Q", len(body)) + body)
    with pytest.raises(CorruptWeightsError, match=r"header"):
        load_weights(path)


def test_unsupported_dtype_is_reported_and_skipped(tmp_path):
    path = tmp_path / "u.safetensors"
    write_safetensors(path, {"ok.weight": ("F32", _normal(3, 3)), "odd.weight": ("F4X", np.zeros((3, 3), np.uint8))})
    with pytest.warns(WeightsWarning, match=r"odd.weight"):
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
    with pytest.raises(UnsafePickleError, match=r"object array"):
        load_weights(path)


def test_truncated_npz_and_npy(tmp_path):
    np.savez(tmp_path / "a.npz", w=_normal(30, 30))
    data = (tmp_path / "a.npz").read_bytes()
    (tmp_path / "a.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptWeightsError, match=r"a.npz"):
        list(load_weights(tmp_path / "a.npz"))
    np.save(tmp_path / "b.npy", _normal(30, 30))
    data = (tmp_path / "b.npy").read_bytes()
    (tmp_path / "b.npy").write_bytes(data[:-100])
    with pytest.raises(CorruptWeightsError, match=r"truncated"):
        list(load_weights(tmp_path / "b.npy"))


# ------------------------------------------------------------------------ torch: hand-built (no torch needed)
def _pickle_str(s: str) -> bytes:
    raw = s.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def _pickle_int(i: int) -> bytes:
    return b"J" + struct.pack("<i", i)


def _pickle_tuple(items: tuple[int, ...]) -> bytes:
    return b"(" + b"".join(_pickle_int(i) for i in items) + b"t"


def _global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def torch_state_dict_pickle(tensors: dict[str, tuple[str, str, int, int, tuple, tuple]], legacy=False) -> bytes:
    """Protocol-2 opcodes of ``{name: _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())}``
    as torch.save writes them; each value is (storage class, key, numel, offset, size, stride). The legacy
    layout's persistent id has a sixth element (a storage view, None here)."""
    out = b"\x80\x02}("
    for name, (storage_cls, key, numel, offset, size, stride) in tensors.items():
        out += _pickle_str(name) + _global("torch._utils", "_rebuild_tensor_v2") + b"("
        out += b"(" + _pickle_str("storage") + _global("torch", storage_cls) + _pickle_str(key)
        out += _pickle_str("cpu") + _pickle_int(numel) + (b"N" if legacy else b"") + b"tQ"
        out += _pickle_int(offset) + _pickle_tuple(size) + _pickle_tuple(stride)
        out += b"\x89" + _global("collections", "OrderedDict") + b")R" + b"tR"
    return out + b"u."


def write_torch_zip(path: Path, pkl: bytes, storages: dict[str, bytes], archive: str = "archive") -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{archive}/data.pkl", pkl)
        zf.writestr(f"{archive}/byteorder", "little")
        for key, raw in storages.items():
            zf.writestr(f"{archive}/data/{key}", raw)
        zf.writestr(f"{archive}/version", "3\n")


def test_torch_free_reader_on_a_hand_built_checkpoint(tmp_path):
    ml_dtypes = pytest.importorskip("ml_dtypes")
    big = _normal(4, 6)  # one storage, two views: rows 0-1 and (transposed) rows 2-3
    half = _normal(3, 2).astype(np.float16)
    bf = _normal(2, 5).astype(ml_dtypes.bfloat16)
    pkl = torch_state_dict_pickle(
        {
            "top.weight": ("FloatStorage", "0", 24, 0, (2, 6), (6, 1)),
            "low_t.weight": ("FloatStorage", "0", 24, 12, (6, 2), (1, 6)),
            "half.weight": ("HalfStorage", "1", 6, 0, (3, 2), (2, 1)),
            "bf.weight": ("BFloat16Storage", "2", 10, 0, (2, 5), (5, 1)),
            "counts": ("LongStorage", "3", 3, 0, (3,), (1,)),
        }
    )
    storages = {"0": big.tobytes(), "1": half.tobytes(), "2": bf.tobytes(), "3": np.arange(3).tobytes()}
    path = tmp_path / "ckpt.pth"
    write_torch_zip(path, pkl, storages)
    assert detect_format(path) == "torch"
    got = _read_all(path, engine="builtin", select="all")
    assert list(got) == ["top.weight", "low_t.weight", "half.weight", "bf.weight", "counts"]
    assert_array_equal(got["top.weight"], big[:2])
    assert_array_equal(got["low_t.weight"], big[2:].T)
    assert_array_equal(got["half.weight"], half.astype(np.float32))
    assert_array_equal(got["bf.weight"], bf.astype(np.float32))
    assert_array_equal(got["counts"], np.arange(3))
    if importlib.util.find_spec("torch") is not None:  # the hand-built file is one torch itself accepts
        by_torch = _read_all(path, engine="torch", select="all")
        for name, value in got.items():
            assert_array_equal(by_torch[name], value, err_msg=name)


def test_torch_free_reader_on_a_hand_built_legacy_checkpoint(tmp_path):
    w, h = _normal(3, 4), _normal(2, 2).astype(np.float16)
    path = tmp_path / "old.pt"
    with open(path, "wb") as fh:
        for obj in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True}):
            pickle.dump(obj, fh, protocol=2)
        fh.write(
            torch_state_dict_pickle(
                {
                    "w": ("FloatStorage", "k1", 12, 0, (3, 4), (4, 1)),
                    "h": ("HalfStorage", "k2", 4, 0, (2, 2), (2, 1)),
                },
                legacy=True,
            )
        )
        pickle.dump(["k1", "k2"], fh, protocol=2)
        for arr in (w, h):
            fh.write(struct.pack("<q", arr.size) + arr.tobytes())
    assert detect_format(path) == "torch-legacy"
    got = _read_all(path, engine="builtin")
    assert_array_equal(got["w"], w)
    assert_array_equal(got["h"], h.astype(np.float32))
    with open(path, "r+b") as fh:  # drop the last storage's bytes
        fh.truncate(path.stat().st_size - 4)
    with pytest.raises(CorruptWeightsError, match="truncated"):
        list(load_weights(path, engine="builtin"))


def test_missing_storage_raises_or_is_skipped(tmp_path):
    pkl = torch_state_dict_pickle(
        {
            "a.weight": ("FloatStorage", "0", 4, 0, (2, 2), (2, 1)),
            "b.weight": ("FloatStorage", "1", 4, 0, (2, 2), (2, 1)),
            "c.weight": ("FloatStorage", "2", 4, 0, (2, 2), (2, 1)),
        }
    )
    path = tmp_path / "gap.pt"
    write_torch_zip(path, pkl, {"0": bytes(16), "2": bytes(16)})
    reader = load_weights(path, engine="builtin")
    assert next(reader)[0] == "a.weight"
    with pytest.raises(CorruptWeightsError, match=r"b.weight"):
        next(reader)
    assert next(reader)[0] == "c.weight"  # the iterator resumes after a bad tensor
    with pytest.warns(WeightsWarning, match=r"b.weight"):
        got = _read_all(path, engine="builtin", errors="skip")
    assert list(got) == ["a.weight", "c.weight"]


torch_or_skip = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch not installed")


def _torch_state_dict():
    import torch

    g = torch.Generator().manual_seed(7)
    shared = torch.randn(6, 4, generator=g)
    return {
        "model": {
            "enc": {"weight": torch.randn(5, 3, generator=g), "bias": torch.randn(5, generator=g)},
            "dec.weight": torch.nn.Parameter(torch.randn(3, 5, generator=g)),
            "half.weight": torch.randn(4, 4, generator=g).half(),
            "bf16.weight": torch.randn(4, 3, generator=g).bfloat16(),
            "f8.weight": torch.randn(3, 3, generator=g).to(torch.float8_e4m3fn),
            "conv.weight": torch.randn(8, 3, 3, 3, generator=g),
            "view.weight": shared[2:5],
            "t.weight": shared.t(),
            "layers": [torch.randn(4, 2, generator=g), torch.randn(2, 4, generator=g)],
        },
        "epoch": 3,
        "lr": 0.1,
    }


def _flat_reference(sd) -> dict[str, np.ndarray]:
    import torch

    out = {}

    def walk(obj, prefix):
        if isinstance(obj, torch.Tensor):
            t = obj.detach()
            out[prefix] = t.float().numpy() if t.dtype not in (torch.float32, torch.float64) else t.numpy()
        elif isinstance(obj, dict):
            for k, v in obj.items():
                walk(v, f"{prefix}.{k}" if prefix else k)
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                walk(v, f"{prefix}.{i}")

    walk(sd, "")
    return out


@torch_or_skip
@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
@pytest.mark.parametrize("engine", ["torch", "builtin"])
def test_torch_save_read_by_both_engines(tmp_path, legacy, engine):
    import torch

    sd = _torch_state_dict()
    if legacy:  # the pre-1.6 layout has no float8 storages
        del sd["model"]["f8.weight"]
    path = tmp_path / "model.bin"
    torch.save(sd, path, _use_new_zipfile_serialization=not legacy)
    assert detect_format(path) == ("torch-legacy" if legacy else "torch")
    expected = _flat_reference(sd)
    got = _read_all(path, engine=engine)
    assert "model.enc.bias" not in got and "epoch" not in got
    assert set(got) == {k for k in expected if k != "model.enc.bias"}
    for name, value in got.items():
        assert value.dtype == np.float32, name
        assert_array_equal(value, expected[name], err_msg=name)


# --------------------------------------------------------------------------------------- malicious pickles
class _Evil:
    """Unpickling this creates ``marker`` (``open(marker, "w")``): stands for any code a pickle can run."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_the_evil_payload_really_runs_when_unpickled_unsafely(tmp_path):
    marker = tmp_path / "control"
    fh = pickle.loads(pickle.dumps({"w": _Evil(marker)}, protocol=2))["w"]
    fh.close()
    assert marker.exists()  # so the assertions below that it does not exist can fail


@pytest.mark.parametrize("engine", ["builtin", "torch"])
def test_malicious_zip_checkpoint_does_not_run(tmp_path, engine):
    if engine == "torch":
        pytest.importorskip("torch")
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    write_torch_zip(path, pickle.dumps({"w": _Evil(marker)}, protocol=2), {})
    with pytest.raises(UnsafePickleError, match=r"evil.pt"):
        list(load_weights(path, engine=engine))
    assert not marker.exists()


def test_malicious_plain_and_legacy_pickles_do_not_run(tmp_path):
    marker = tmp_path / "pwned"
    plain = tmp_path / "evil.pkl.bin"
    plain.write_bytes(pickle.dumps({"w": _Evil(marker)}, protocol=2))
    with pytest.raises(UnsafePickleError, match=r"open"):
        load_weights(plain)
    legacy = tmp_path / "legacy.pt"  # valid legacy preamble, evil object
    with open(legacy, "wb") as fh:
        for obj in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001}, {"w": _Evil(marker)}):
            pickle.dump(obj, fh, protocol=2)
    with pytest.raises(UnsafePickleError):
        load_weights(legacy, engine="builtin")
    assert not marker.exists()


def test_plain_pickle_without_globals_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "data.pt"
    path.write_bytes(pickle.dumps({"a": [1, 2, 3]}, protocol=2))
    with pytest.raises(UnknownFormatError, match=r"plain pickle"):
        load_weights(path)


def test_torchscript_archive_is_named(tmp_path):
    path = tmp_path / "model.jit"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("model/data.pkl", b"\x80\x02}.")
        zf.writestr("model/constants.pkl", b"\x80\x02).")
        zf.writestr("model/code/__torch__/m.py", "def forward(self): pass")
    with pytest.raises(UnknownFormatError, match=r"TorchScript"):
        load_weights(path)


@pytest.mark.parametrize("engine", ["builtin", "torch"])
def test_truncated_torch_zip(tmp_path, engine):
    if engine == "torch":
        pytest.importorskip("torch")
    path = tmp_path / "t.pt"
    pkl = torch_state_dict_pickle({"w": ("FloatStorage", "0", 64, 0, (8, 8), (8, 1))})
    write_torch_zip(path, pkl, {"0": _normal(8, 8).tobytes()})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 40])  # the zip directory is at the end
    with pytest.raises(CorruptWeightsError, match=r"t.pt"):
        list(load_weights(path, engine=engine))


# ---------------------------------------------------------------------------------------------------- ONNX
def _onnx_model(tmp_path: Path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    w1, w2, c, sub_w = _normal(4, 3), _normal(3, 5).astype(np.float16), _normal(5, 2), _normal(2, 2)
    bf = _normal(3, 3)
    inits = [
        numpy_helper.from_array(w1, "fc1.weight"),
        numpy_helper.from_array(w2, "fc2.weight"),
        numpy_helper.from_array(_normal(3), "fc1.bias"),
        helper.make_tensor("bf.weight", TensorProto.BFLOAT16, bf.shape, bf.ravel().tolist()),
    ]
    then = helper.make_graph(
        [helper.make_node("Constant", [], ["sub_w"], value=numpy_helper.from_array(sub_w, "sub_w"))],
        "then",
        [],
        [helper.make_tensor_value_info("sub_w", TensorProto.FLOAT, [2, 2])],
    )
    other = helper.make_graph(
        [helper.make_node("Constant", [], ["zero"], value=numpy_helper.from_array(np.zeros((2, 2), np.float32)))],
        "else",
        [],
        [helper.make_tensor_value_info("zero", TensorProto.FLOAT, [2, 2])],
    )
    nodes = [
        helper.make_node("Constant", [], ["const_w"], value=numpy_helper.from_array(c, "const_w")),
        helper.make_node("MatMul", ["x", "fc1.weight"], ["h"]),
        helper.make_node("If", ["flag"], ["branch"], then_branch=then, else_branch=other),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4]),
            helper.make_tensor_value_info("flag", TensorProto.BOOL, []),
        ],
        [helper.make_tensor_value_info("h", TensorProto.FLOAT, [1, 3])],
        initializer=inits,
    )
    model = helper.make_model(graph)
    expected = {"fc1.weight": w1, "fc2.weight": w2.astype(np.float32), "const_w": c, "sub_w": sub_w}
    expected["bf.weight"] = numpy_helper.to_array(inits[3]).astype(np.float32)
    expected["zero"] = np.zeros((2, 2), np.float32)
    return onnx, model, expected


def test_onnx_initializers_constants_and_subgraphs(tmp_path):
    onnx, model, expected = _onnx_model(tmp_path)
    path = tmp_path / "m.model"
    onnx.save(model, path)
    assert detect_format(path) == "onnx"
    got = _read_all(path)
    assert set(got) == set(expected)
    for name, value in got.items():
        assert value.dtype == np.float32
        assert_array_equal(value, expected[name], err_msg=name)


def test_onnx_external_data(tmp_path):
    onnx, model, expected = _onnx_model(tmp_path)
    path = tmp_path / "ext.onnx"
    onnx.save_model(model, path, save_as_external_data=True, location="ext.data", size_threshold=0)
    assert (tmp_path / "ext.data").exists()
    got = _read_all(path)
    assert_array_equal(got["fc1.weight"], expected["fc1.weight"])


def test_truncated_onnx(tmp_path):
    _, model, _ = _onnx_model(tmp_path)
    path = tmp_path / "t.onnx"
    data = model.SerializeToString()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptWeightsError, match=r"t.onnx"):
        list(load_weights(path))


# ---------------------------------------------------------------------------------------------------- GGUF
def test_gguf_float_and_quantised(tmp_path):
    gguf = pytest.importorskip("gguf")
    Q = gguf.GGMLQuantizationType
    w32, w16, wq = _normal(4, 64), _normal(8, 32).astype(np.float16), _normal(3, 64)
    q8 = gguf.quants.quantize(wq, Q.Q8_0)
    path = tmp_path / "m.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_tensor("blk.0.attn_q.weight", w32)
    writer.add_tensor("blk.0.ffn.weight", w16)
    writer.add_tensor("blk.0.q8.weight", q8, raw_dtype=Q.Q8_0)
    writer.add_tensor("blk.0.attn_norm.weight", _normal(64))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    assert detect_format(path) == "gguf"
    reader = load_weights(path)
    assert reader.names == ["blk.0.attn_q.weight", "blk.0.ffn.weight", "blk.0.q8.weight"]
    got = dict(reader)
    assert_array_equal(got["blk.0.attn_q.weight"], w32)
    assert_array_equal(got["blk.0.ffn.weight"], w16.astype(np.float32))
    assert got["blk.0.q8.weight"].shape == wq.shape
    # Q8_0: per block of 32, d = max|x| / 127 stored as float16, q = round(x / d) in int8. Error per element
    # <= d/2 (rounding) + 127 * |d - fp16(d)| <= d * (1/2 + 127 * 2**-11), with d the block's own scale.
    d = np.abs(wq.reshape(-1, 32)).max(axis=1, keepdims=True) / 127
    bound = d * (0.5 + 127 * 2.0**-11) * (1 + 1e-6)
    err = np.abs(got["blk.0.q8.weight"] - wq).reshape(-1, 32)
    assert np.all(err <= bound)


def test_gguf_unsupported_quantisation_is_skipped_not_fatal(tmp_path):
    gguf = pytest.importorskip("gguf")
    from sparsity.weights._gguf import _can_dequantize

    Q = gguf.GGMLQuantizationType
    odd = next((q for q in (Q.Q8_1, Q.Q8_K) if not _can_dequantize(int(q))), None)
    if odd is None:
        pytest.skip("this gguf version dequantizes every type")
    block, size = gguf.GGML_QUANT_SIZES[odd]
    path = tmp_path / "m.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_tensor("ok.weight", _normal(2, 32))
    writer.add_tensor("odd.weight", np.zeros((4, 256 // block * size), np.uint8), raw_dtype=odd)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.warns(WeightsWarning, match=r"odd.weight"):
        reader = load_weights(path)
    assert [name for name, _ in reader] == ["ok.weight"]
    assert reader.skipped[0].name == "odd.weight" and odd.name in reader.skipped[0].reason


def test_truncated_gguf(tmp_path):
    gguf = pytest.importorskip("gguf")
    path = tmp_path / "t.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_tensor("w", _normal(16, 32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    data = path.read_bytes()
    for cut in (10, len(data) - 64):
        path.write_bytes(data[:cut])
        with pytest.raises(CorruptWeightsError, match=r"t.gguf"):
            list(load_weights(path))


# ------------------------------------------------------------------------------------- detection and paths
def test_unknown_and_empty_files(tmp_path):
    (tmp_path / "notes.txt").write_text("hello, these are not weights")
    with pytest.raises(UnknownFormatError, match=r"notes.txt"):
        load_weights(tmp_path / "notes.txt")
    (tmp_path / "empty.bin").write_bytes(b"")
    with pytest.raises(UnknownFormatError, match=r"empty"):
        load_weights(tmp_path / "empty.bin")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as zf:
        zf.writestr("readme.txt", "x")
    with pytest.raises(UnknownFormatError, match=r"neither"):
        load_weights(tmp_path / "other.zip")


def test_missing_path_and_empty_directory(tmp_path):
    with pytest.raises(WeightsNotFoundError, match=r"no such file") as info:
        load_weights(tmp_path / "absent.safetensors")
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, WeightsError)
    (tmp_path / "readme.md").write_text("no weights here")
    with pytest.raises(WeightsNotFoundError, match=r"no weight file"):
        load_weights(tmp_path)


def test_directory_of_mixed_files_prefixes_names(tmp_path):
    np.savez(tmp_path / "a.npz", w=_normal(3, 3))
    np.save(tmp_path / "b.npy", _normal(2, 4))
    (tmp_path / "notes.txt").write_text("ignored")
    reader = load_weights(tmp_path)
    assert reader.names == ["a.npz:w", "b.npy:b"]
    assert reader.format == "npy+npz"


def test_directory_skips_an_unreadable_file_but_not_all(tmp_path):
    np.savez(tmp_path / "model.npz", w=_normal(3, 3))
    marker = tmp_path / "pwned"
    write_torch_zip(tmp_path / "training_args.bin", pickle.dumps({"a": _Evil(marker)}, protocol=2), {})
    with pytest.warns(WeightsWarning, match=r"training_args.bin"):
        reader = load_weights(tmp_path, engine="builtin")
    assert reader.names == ["model.npz:w"]
    assert [s.name for s in reader.skipped] == ["training_args.bin"]
    assert "allow-list" in reader.skipped[0].reason and not marker.exists()
    (tmp_path / "model.npz").unlink()
    with pytest.raises(UnsafePickleError, match=r"training_args.bin"):
        load_weights(tmp_path, engine="builtin")


def test_error_message_names_file_and_tensor(tmp_path):
    err = CorruptWeightsError(tmp_path / "x.bin", "truncated", "layer.0.weight")
    assert str(err) == f"{tmp_path / 'x.bin'} [tensor 'layer.0.weight']: truncated"


# ---------------------------------------------------------------------------------------------- the filter
@pytest.mark.parametrize(
    ("name", "shape", "dtype", "kept"),
    [
        ("encoder.layer.0.attention.self.query.weight", (384, 384), "float32", True),
        ("conv1.weight", (128, 129, 3), "float32", True),
        ("conv2d_0.w_0", (16, 3, 3, 3), "float32", True),
        ("encoder.layer.0.attention.self.query.bias", (384,), "float32", False),
        ("embeddings.LayerNorm.weight", (384,), "float32", False),
        ("model.norm.weight", (8, 8), "float32", False),  # 2-D but a norm by name
        ("h.0.ln_1.weight", (8, 8), "float32", False),
        ("lstm.bias_ih_l0", (8, 8), "float32", False),
        ("enc_b_ih", (6, 6), "float32", False),
        ("embeddings.position_ids", (1, 512), "int64", False),
        ("final_conv.weight", (1, 128, 1), "float32", False),  # one output row: min_side
        ("tok.weight", (10, 4), "int8", False),
        ("bn.running_mean", (4, 4), "float32", False),
        ("x5d", (2, 2, 2, 2, 2), "float32", True),
        ("x6d", (2, 2, 2, 2, 2, 2), "float32", False),
    ],
)
def test_default_filter(name, shape, dtype, kept):
    assert TensorFilter()(name, shape, dtype) is kept


def test_select_options(tmp_path):
    path = tmp_path / "m.npz"
    np.savez(path, q_proj=_normal(4, 4), k_proj=_normal(4, 4), bias=_normal(4), ids=np.arange(8).reshape(2, 4))
    assert load_weights(path).names == ["q_proj", "k_proj"]
    assert load_weights(path, select="all").names == ["q_proj", "k_proj", "bias", "ids"]
    assert load_weights(path, select=None).names == ["q_proj", "k_proj", "bias", "ids"]
    assert load_weights(path, select=TensorFilter(include=("q_",))).names == ["q_proj"]
    assert load_weights(path, select=TensorFilter(exclude=("k_",), min_ndim=1)).names == ["q_proj", "bias"]
    seen = []
    load_weights(path, select=lambda n, s, d: seen.append((n, s, d)) or d == "int64")
    assert ("ids", (2, 4), "int64") in seen
    assert load_weights(path, select=lambda n, s, d: d == "int64").names == ["ids"]


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"select must be"):
        load_weights(".", select="weights")
    with pytest.raises(TypeError, match=r"select must be"):
        load_weights(".", select=3)
    with pytest.raises(ValueError, match=r"engine must be"):
        load_weights(".", engine="onnxruntime")
    with pytest.raises(ValueError, match=r"errors must be"):
        load_weights(".", errors="ignore")
    with pytest.raises(ValueError, match=r"min_ndim"):
        TensorFilter(min_ndim=3, max_ndim=2)
    with pytest.raises(ValueError, match=r"regular expression"):
        TensorFilter(include=("(",))
    with pytest.raises(TypeError, match=r"tuple"):
        TensorFilter(exclude="bias")


def test_reader_is_lazy_and_sized(tmp_path):
    path = tmp_path / "m.safetensors"
    write_safetensors(path, {f"l{i}.weight": ("F32", _normal(3, 3)) for i in range(4)})
    reader = load_weights(path)
    assert len(reader) == 4 and reader.shapes["l2.weight"] == (3, 3)
    assert iter(reader) is reader
    path.unlink()  # nothing was read yet: the first tensor's bytes are now gone
    with pytest.raises(OSError):
        next(reader)


def test_import_sparsity_does_not_import_frameworks():
    code = (
        "import sys, sparsity, sparsity.weights, sparsity.harness.catalog; "
        "print(sorted(m for m in ('torch', 'onnx', 'gguf', 'cupy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ)
    assert out.stdout.strip() == "[]"


def test_no_warning_for_plain_files(tmp_path):
    np.savez(tmp_path / "a.npz", w=_normal(3, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(list(load_weights(tmp_path / "a.npz"))) == 1


def test_every_detected_format_has_a_reader():
    # (was an import-time assert) every format detect_format can return is one load_weights reads
    from sparsity.weights._detect import FORMATS

    assert set(FORMATS) == {"safetensors", "npy", "npz", "torch", "torch-legacy", "gguf", "onnx"}
