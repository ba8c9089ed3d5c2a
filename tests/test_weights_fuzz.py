"""Fuzz tests of the weight loaders: seeded mutations of small valid files written by the real writers.

Every mutated file must either load (each array has the shape the header announced) or raise a
:class:`WeightsError` subclass whose message is one line naming the file; never another exception type,
never a hang (a per-case alarm), never memory beyond the loaders' budget (peak RSS growth over the run).
The default run takes a few hundred cases per format; ``@pytest.mark.slow`` runs many more
(``SPARSITY_FUZZ_CASES`` overrides that number, ``SPARSITY_FUZZ_SEED`` the root seed).
"""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import struct
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from sparsity.weights import WeightsError, load_weights
from sparsity.weights._common import READ_CHUNK

SEED = int(os.environ.get("SPARSITY_FUZZ_SEED", "20261203"))
DEFAULT_CASES = 400
SLOW_CASES = int(os.environ.get("SPARSITY_FUZZ_CASES", "2000"))
CASE_SECONDS = 20  # a hang detector, not a timing assertion: a valid case takes milliseconds


# ------------------------------------------------------------------------------------ valid seed files
def _normal(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


def _seed_safetensors(d: Path, rng) -> list[Path]:
    from safetensors.numpy import save_file

    path = d / "m.safetensors"
    save_file(
        {"a.weight": _normal(rng, 4, 6), "b.weight": _normal(rng, 3, 4).astype(np.float16), "c": np.arange(5)},
        str(path),
        metadata={"format": "np"},
    )
    return [path]


def _seed_numpy(d: Path, rng) -> list[Path]:
    np.save(d / "w.npy", _normal(rng, 5, 7))
    np.savez(d / "p.npz", a=_normal(rng, 4, 3), b=_normal(rng, 6).astype(np.float16))
    np.savez_compressed(d / "c.npz", a=_normal(rng, 8, 8), b=np.arange(12, dtype=np.int32).reshape(3, 4))
    return [d / "w.npy", d / "p.npz", d / "c.npz"]


def _state_dict(rng):
    import torch

    shared = torch.from_numpy(_normal(rng, 6, 4))
    return {
        "fc.weight": torch.from_numpy(_normal(rng, 5, 3)),
        "fc.bias": torch.from_numpy(_normal(rng, 5)),
        "half.weight": torch.from_numpy(_normal(rng, 4, 4)).half(),
        "view.weight": shared[2:5],
        "t.weight": shared.t(),
        "epoch": 3,
    }


def _seed_torch(d: Path, rng) -> list[Path]:
    import torch

    torch.save(_state_dict(rng), d / "z.pt")
    return [d / "z.pt"]


def _seed_torch_legacy(d: Path, rng) -> list[Path]:
    import torch

    torch.save(_state_dict(rng), d / "l.pt", _use_new_zipfile_serialization=False)
    return [d / "l.pt"]


def _seed_onnx(d: Path, rng) -> list[Path]:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inits = [numpy_helper.from_array(_normal(rng, 4, 3), "fc1.weight"), numpy_helper.from_array(_normal(rng, 3), "b")]
    node = helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(_normal(rng, 2, 5), "c"))
    graph = helper.make_graph(
        [node, helper.make_node("MatMul", ["x", "fc1.weight"], ["h"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("h", TensorProto.FLOAT, [1, 3])],
        initializer=inits,
    )
    onnx.save(helper.make_model(graph), d / "m.onnx")
    return [d / "m.onnx"]


def _seed_gguf(d: Path, rng) -> list[Path]:
    import gguf

    path = d / "m.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_array("tokenizer.ggml.tokens", ["a", "bc", "def"])
    writer.add_uint32("llama.context_length", 64)
    writer.add_tensor("w32", _normal(rng, 4, 32))
    writer.add_tensor("w16", _normal(rng, 2, 32).astype(np.float16))
    writer.add_tensor("q8", gguf.quants.quantize(_normal(rng, 2, 64), gguf.GGMLQuantizationType.Q8_0),
                      raw_dtype=gguf.GGMLQuantizationType.Q8_0)  # fmt: skip
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return [path]


# (seed writer, engine, the module the writer needs)
FORMATS: dict[str, tuple[Callable, str, str]] = {
    "safetensors": (_seed_safetensors, "auto", "safetensors"),
    "numpy": (_seed_numpy, "auto", "numpy"),
    "torch-zip-builtin": (_seed_torch, "builtin", "torch"),
    "torch-zip-torch": (_seed_torch, "torch", "torch"),
    "torch-legacy-builtin": (_seed_torch_legacy, "builtin", "torch"),
    "torch-legacy-torch": (_seed_torch_legacy, "torch", "torch"),
    "onnx": (_seed_onnx, "auto", "onnx"),
    "gguf": (_seed_gguf, "auto", "gguf"),
}


# ----------------------------------------------------------------------------------------- mutations
_EXTREMES = (0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 2**40, 2**63 - 1, 2**64 - 1)


def _length_fields(data: bytes) -> list[tuple[int, int]]:
    """(offset, width) of fields that hold sizes, counts or offsets in the containers we know."""
    fields = [(0, 8), (8, 8), (16, 8), (8, 2)]  # safetensors/GGUF counts, npy header length
    for m in re.finditer(rb"PK\x03\x04", data):  # zip local header: sizes, name and extra lengths
        fields += [(m.start() + 18, 4), (m.start() + 22, 4), (m.start() + 26, 2), (m.start() + 28, 2)]
    for m in re.finditer(rb"PK\x01\x02", data):  # central directory: sizes, lengths, local header offset
        fields += [(m.start() + o, w) for o, w in ((20, 4), (24, 4), (28, 2), (30, 2), (42, 4))]
        fields.append((m.start() + 10, 2))  # compression method
    for m in re.finditer(rb"PK\x05\x06", data):  # end of central directory: counts, size, offset
        fields += [(m.start() + o, w) for o, w in ((8, 2), (10, 2), (12, 4), (16, 4))]
    for m in re.finditer(rb"J....|M..|K.", data[:4096], flags=re.DOTALL):  # pickle BININT/BININT2/BININT1
        fields.append((m.start() + 1, {5: 4, 3: 2, 2: 1}[len(m.group())]))
    return [(o, w) for o, w in fields if o + w <= len(data)]


def _mutate_json_number(data: bytes, rng) -> bytes:
    """safetensors: replace one number in the JSON header with 0, -1 or a huge value."""
    if len(data) < 8:
        return data
    (n,) = struct.unpack("<Q", data[:8])
    header = data[8 : 8 + n]
    numbers = list(re.finditer(rb"-?\d+", header))
    if not numbers:
        return data
    m = numbers[rng.integers(len(numbers))]
    new = [b"0", b"-1", b"18446744073709551615", b"1e400", b"4294967296", b"1.5"][rng.integers(6)]
    header = header[: m.start()] + new + header[m.end() :]
    return struct.pack("<Q", len(header)) + header + data[8 + n :]


def _mutate(data: bytes, rng: np.random.Generator) -> tuple[bytes, str]:
    """One seeded mutation of ``data``; returns the mutated bytes and a label for failure reports."""
    kind = int(rng.integers(7))
    buf = bytearray(data)
    if kind == 0:  # flips anywhere
        for _ in range(int(rng.integers(1, 5))):
            buf[int(rng.integers(len(buf)))] ^= 1 << int(rng.integers(8))
        return bytes(buf), "flip"
    if kind == 1:  # flips in the first 512 bytes (headers)
        for _ in range(int(rng.integers(1, 4))):
            buf[int(rng.integers(min(len(buf), 512)))] = int(rng.integers(256))
        return bytes(buf), "header-byte"
    if kind == 2:
        cut = int(rng.integers(len(buf)))
        return bytes(buf[:cut]), f"truncate@{cut}"
    if kind == 3:  # a length field set to 0, 1, huge or negative (all ones)
        fields = _length_fields(data)
        offset, width = fields[int(rng.integers(len(fields)))]
        value = _EXTREMES[int(rng.integers(len(_EXTREMES)))] & ((1 << (8 * width)) - 1)
        buf[offset : offset + width] = value.to_bytes(width, "little")
        return bytes(buf), f"field@{offset}/{width}={value}"
    if kind == 4:  # duplicate a slice (entries, members, records)
        start = int(rng.integers(len(buf)))
        stop = min(len(buf), start + int(rng.integers(1, 256)))
        at = int(rng.integers(len(buf)))
        return bytes(buf[:at] + buf[start:stop] + buf[at:]), f"dup[{start}:{stop}]@{at}"
    if kind == 5:
        return _mutate_json_number(data, rng), "json-number"
    start = int(rng.integers(len(buf)))  # delete a slice
    return bytes(buf[:start] + buf[start + int(rng.integers(1, 64)) :]), f"delete@{start}"


# -------------------------------------------------------------------------------------------- runner
class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang


def _check_case(path: Path, engine: str) -> str:
    """Load a (mutated) file; returns "ok" or "refused"; anything else propagates."""
    try:
        reader = load_weights(path, select="all", engine=engine)
        shapes = dict(reader.shapes)
        for name, arr in reader:
            assert isinstance(arr, np.ndarray), (name, type(arr))
            assert arr.shape == shapes[name], (name, arr.shape, shapes[name])
    except WeightsError as exc:
        text = str(exc)
        assert "\n" not in text, text
        assert path.name in text, text
        assert "weights_only=False" not in text and "weights_only` set to `False" not in text, text
        return "refused"
    return "ok"


def _peak_rss_bytes() -> int:
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def _fuzz(fmt: str, cases: int, tmp_path: Path) -> dict[str, int]:
    writer, engine, module = FORMATS[fmt]
    pytest.importorskip(module)
    rng = np.random.default_rng([SEED, sorted(FORMATS).index(fmt)])
    seeds = writer(tmp_path, rng)
    originals = [(p, p.read_bytes()) for p in seeds]
    for p, _ in originals:  # the unmutated files load (and every lazy import is done before measuring)
        assert _check_case(p, engine) == "ok", p
    # Budget: the seed tensors are a few kB, so a case may hold one read chunk, a header no larger than the
    # file, and a decoded copy; 64 MiB on top of that is allocator and interpreter noise (measured < 8 MiB).
    bound = 2 * READ_CHUNK + 4 * max(len(data) for _, data in originals) + 64 * 2**20
    baseline = _peak_rss_bytes()
    counts, escaped = {"ok": 0, "refused": 0}, []
    previous = signal.signal(signal.SIGALRM, _alarm)
    try:
        for case in range(cases):
            path, data = originals[case % len(originals)]
            mutated, label = _mutate(data, rng)
            target = tmp_path / f"case{path.suffix}"
            target.write_bytes(mutated)
            signal.alarm(CASE_SECONDS)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    counts[_check_case(target, engine)] += 1
            except _Hang:
                escaped.append(f"case {case} ({path.name}, {label}) did not finish in {CASE_SECONDS} s")
            except Exception as exc:  # the point of the test: name each case that escaped as another type
                escaped.append(f"case {case} ({path.name}, {label}): {type(exc).__name__}: {str(exc)[:300]}")
            finally:
                signal.alarm(0)
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert not escaped, f"{fmt}: {len(escaped)} of {cases} cases escaped:\n" + "\n".join(escaped[:20])
    growth = _peak_rss_bytes() - baseline
    assert growth <= bound, f"{fmt}: peak RSS grew by {growth} B over {cases} cases (bound {bound} B)"
    return counts


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_fuzz_loaders(fmt, tmp_path):
    counts = _fuzz(fmt, DEFAULT_CASES, tmp_path)
    # Both outcomes occur: the mutations reach the checks, and harmless ones (a flipped data byte) still load.
    assert counts["refused"] > 0 and counts["ok"] > 0, counts


@pytest.mark.slow
@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_fuzz_loaders_long(fmt, tmp_path):
    _fuzz(fmt, SLOW_CASES, tmp_path)


def test_mutations_are_deterministic():
    data = json.dumps({"a": list(range(50))}).encode()
    data = struct.pack("<Q", len(data)) + data
    first = [_mutate(data, np.random.default_rng(1)) for _ in range(3)]
    again = [_mutate(data, np.random.default_rng(1)) for _ in range(3)]
    assert first == again
