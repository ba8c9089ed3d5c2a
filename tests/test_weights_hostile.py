"""Hostile and corrupt weight files: zip bombs, aliasing safetensors, absurd GGUF counts, refused pickles.

Each file here is built by hand (or by the real writer, then patched) to do one bad thing; the loaders must
refuse it with a one-line :class:`WeightsError` naming the file, or read only the part they need.
"""

from __future__ import annotations

import json
import pickle
import struct
import subprocess
import sys
import textwrap
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from sparsity.cli import main
from sparsity.weights import (
    CorruptWeightsError,
    MissingDependencyError,
    UnsafePickleError,
    WeightsWarning,
    load_weights,
)
from sparsity.weights._common import READ_CHUNK

RNG = np.random.default_rng(20261203)


def _normal(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


# ------------------------------------------------------------------------------------------- zip bombs
def _pickle_for_storage(numel: int, shape: tuple[int, ...]) -> bytes:
    """``{"w": _rebuild_tensor_v2(FloatStorage key "0" of numel elements, 0, shape, C strides)}``, protocol 2."""

    def s(text: str) -> bytes:
        return b"X" + struct.pack("<I", len(text)) + text.encode()

    def i(value: int) -> bytes:
        return b"\x8a\x08" + struct.pack("<q", value)  # LONG1 with 8 bytes: any int64

    def g(module: str, name: str) -> bytes:
        return b"c" + module.encode() + b"\n" + name.encode() + b"\n"

    strides = [int(np.prod(shape[k + 1 :])) for k in range(len(shape))]
    out = b"\x80\x02}(" + s("w") + g("torch._utils", "_rebuild_tensor_v2") + b"("
    out += b"(" + s("storage") + g("torch", "FloatStorage") + s("0") + s("cpu") + i(numel) + b"tQ"
    out += i(0) + b"(" + b"".join(i(d) for d in shape) + b"t(" + b"".join(i(d) for d in strides) + b"t"
    out += b"\x89" + g("collections", "OrderedDict") + b")RtR" + b"u."
    return out


def _zeros_deflate(nbytes: int) -> bytes:
    """Raw deflate stream of ``nbytes`` zero bytes (a multiple of 1 MiB), built in milliseconds.

    After a full flush the compressor restarts from scratch, so every 1 MiB segment compresses to the same
    bytes: the stream is one segment repeated, then the final block.
    """
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    segment = comp.compress(bytes(2**20)) + comp.flush(zlib.Z_FULL_FLUSH)
    return segment * (nbytes // 2**20) + comp.flush()


def _write_zip(path: Path, members: list[tuple[str, bytes, int, int, int]]) -> None:
    """A zip from (name, stored bytes, method, uncompressed size, crc) entries, written field by field."""
    local, central = b"", b""
    for name, data, method, size, crc in members:
        raw = name.encode()
        header = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0, crc, len(data), size, len(raw), 0)
        central += struct.pack(
            "<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 0, crc, len(data), size, len(raw), 0, 0, 0, 0, 0,
            len(local),
        ) + raw  # fmt: skip
        local += header + raw + data
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(central), len(local), 0)
    path.write_bytes(local + central + end)


def _bomb_checkpoint(path: Path, *, storage_numel: int, shape: tuple[int, ...], declared: int) -> np.ndarray:
    """A .pt whose storage member inflates to ``declared`` bytes: the tensor's values first, then zeros."""
    values = _normal(*shape)
    zeros = _zeros_deflate(declared - 2**20)
    head = values.tobytes() + bytes(2**20 - values.nbytes)  # the first MiB: values, then zero padding
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = comp.compress(head) + comp.flush(zlib.Z_FULL_FLUSH)
    crc, mib = zlib.crc32(head), bytes(2**20)  # a correct CRC: a reader that inflates it all finds no fault
    for _ in range(declared // 2**20 - 1):
        crc = zlib.crc32(mib, crc)
    pkl = _pickle_for_storage(storage_numel, shape)
    _write_zip(
        path,
        [
            ("archive/data.pkl", pkl, 0, len(pkl), zlib.crc32(pkl)),
            ("archive/byteorder", b"little", 0, 6, zlib.crc32(b"little")),
            ("archive/data/0", first + zeros, zipfile.ZIP_DEFLATED, declared, crc),
            ("archive/version", b"3\n", 0, 2, zlib.crc32(b"3\n")),
        ],
    )
    return values


_RSS_SCRIPT = textwrap.dedent(
    """
    import resource, sys, warnings
    import numpy as np
    from sparsity.weights import WeightsError, load_weights
    np.save(sys.argv[1] + ".warm.npy", np.ones((4, 4), np.float32))
    list(load_weights(sys.argv[1] + ".warm.npy"))  # every lazy import done before the baseline
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        got = dict(load_weights(sys.argv[1], engine=sys.argv[2]))
        outcome = "loaded " + ",".join(f"{k}:{v.shape}" for k, v in got.items())
    except WeightsError as exc:
        outcome = "refused " + str(exc)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print((after - before) * 1024)
    print(outcome)
    """
)


def _peak_growth(path: Path, engine: str) -> tuple[int, str]:
    """Peak-RSS growth (bytes) of loading ``path`` in a fresh interpreter, and what happened."""
    done = subprocess.run(
        [sys.executable, "-c", _RSS_SCRIPT, str(path), engine], capture_output=True, text=True, check=True
    )
    growth, outcome = done.stdout.strip().split("\n", 1)
    return int(growth), outcome


# Budget of one tensor load (sparsity.weights._common): the stored bytes, the decoded copy and one read chunk.
# 16 MiB more is interpreter and allocator noise (zipfile and zlib state, small objects), measured near 2 MiB;
# the bug this guards against costs the member's 1 GiB.
def _budget(tensor_bytes: int) -> int:
    return 2 * tensor_bytes + READ_CHUNK + 16 * 2**20


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss in KiB is Linux's convention")
def test_zip_bomb_member_is_refused_within_budget(tmp_path):
    path = tmp_path / "bomb.pt"
    _bomb_checkpoint(path, storage_numel=16, shape=(4, 4), declared=2**30)  # 64-byte tensor, 1 GiB member
    assert path.stat().st_size < 2 * 2**20
    growth, outcome = _peak_growth(path, "builtin")
    assert outcome.startswith("refused") and "declares 1073741824 bytes, its storage holds 64" in outcome
    assert "bomb.pt" in outcome and "\n" not in outcome
    assert growth <= _budget(64), growth


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss in KiB is Linux's convention")
def test_compressed_member_reads_only_the_bytes_the_tensor_needs(tmp_path):
    """A storage that really is 1 GiB (declared honestly) with a 64-byte tensor at its start: stream-read."""
    path = tmp_path / "big_storage.pt"
    values = _bomb_checkpoint(path, storage_numel=2**28, shape=(4, 4), declared=2**30)
    growth, outcome = _peak_growth(path, "builtin")
    assert outcome == "loaded w:(4, 4)"
    assert growth <= _budget(values.nbytes), growth
    assert_array_equal(dict(load_weights(path, engine="builtin"))["w"], values)


def test_zip_bomb_is_refused_before_torch_sees_it(tmp_path):
    pytest.importorskip("torch")
    path = tmp_path / "bomb.pt"
    _bomb_checkpoint(path, storage_numel=16, shape=(4, 4), declared=2**24)
    with pytest.raises(CorruptWeightsError, match=r"bomb.pt.*declares 16777216 bytes, its storage holds 64"):
        load_weights(path, engine="torch")


def test_npz_member_declaring_more_than_its_header_is_refused(tmp_path):
    """A 16-float .npy member padded with 1 GiB of deflated zeros: refused from the sizes, nothing inflated."""
    import io

    buf = io.BytesIO()
    np.save(buf, _normal(4, 4))
    npy = buf.getvalue()
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = comp.compress(npy) + comp.flush(zlib.Z_FULL_FLUSH)
    declared = len(npy) + 2**30
    _write_zip(tmp_path / "b.npz", [("w.npy", head + _zeros_deflate(2**30), zipfile.ZIP_DEFLATED, declared, 0)])
    with pytest.raises(CorruptWeightsError, match=rf"b.npz \[tensor 'w'\]: member 'w.npy' holds {declared} bytes"):
        load_weights(tmp_path / "b.npz")


# ---------------------------------------------------------------------------------------- safetensors
def _safetensors(path: Path, entries: dict[str, list[int]], data_bytes: int) -> None:
    header = {
        name: {"dtype": "F32", "shape": [(e - b) // 4], "data_offsets": [b, e]} for name, (b, e) in entries.items()
    }
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + _normal(data_bytes // 4).tobytes())


@pytest.mark.parametrize(
    "entries, data_bytes, words",
    [
        ({"a": [0, 16], "b": [8, 24]}, 24, "overlaps"),  # overlap
        ({"a": [0, 16], "b": [0, 16]}, 16, "overlaps"),  # two names, the same bytes
        ({"a": [16, 32], "b": [0, 8]}, 32, "gap"),  # out of order, with a gap at 8..16
        ({"a": [0, 8], "b": [12, 20]}, 20, "gap"),  # a hole between tensors
        ({"a": [4, 12]}, 12, "gap"),  # does not start at 0
    ],
    ids=["overlap", "alias", "out-of-order-gap", "hole", "offset-start"],
)
def test_safetensors_bad_layouts_are_refused_like_the_reference(tmp_path, entries, data_bytes, words):
    path = tmp_path / "bad.safetensors"
    _safetensors(path, entries, data_bytes)
    with pytest.raises(CorruptWeightsError, match=rf"bad.safetensors \[tensor '\w'\]: invalid offset.*{words}") as info:
        load_weights(path, select="all")
    assert "\n" not in str(info.value)
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    with pytest.raises(Exception, match=r"(?i)invalid|offset|metadata"):  # the reference refuses it too
        safetensors_numpy.load_file(str(path))


def test_safetensors_trailing_bytes_and_duplicate_names(tmp_path):
    path = tmp_path / "t.safetensors"
    _safetensors(path, {"a": [0, 16]}, 24)  # 8 bytes no tensor covers
    with pytest.raises(CorruptWeightsError, match=r"tensors cover 16 bytes but the data section holds 24"):
        load_weights(path)
    text = b'{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}}'  # noqa: E501
    path.write_bytes(struct.pack("<Q", len(text)) + text + bytes(16))
    with pytest.raises(CorruptWeightsError, match=r"duplicate key"):
        load_weights(path)


def test_safetensors_written_by_the_library_still_load(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    tensors = {"b.weight": _normal(3, 4), "a.weight": _normal(5, 2), "empty": np.zeros((0, 3), np.float32)}
    safetensors_numpy.save_file(tensors, str(tmp_path / "ok.safetensors"))
    got = dict(load_weights(tmp_path / "ok.safetensors", select="all"))
    for name, value in tensors.items():
        assert_array_equal(got[name], value)


# ------------------------------------------------------------------------------------------------ GGUF
def _gguf_file(path: Path, tensors: dict[str, np.ndarray], raw_dtype=None) -> bytes:
    gguf = pytest.importorskip("gguf")
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_array("tokenizer.ggml.tokens", ["a", "bc"])
    for name, value in tensors.items():
        writer.add_tensor(name, value, raw_dtype=raw_dtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path.read_bytes()


@pytest.mark.parametrize("field, what", [(8, "tensor"), (16, "key/value")])
def test_gguf_absurd_counts_are_named(tmp_path, field, what):
    path = tmp_path / "c.gguf"
    data = bytearray(_gguf_file(path, {"w": _normal(4, 32)}))
    data[field : field + 8] = struct.pack("<Q", 2**40)
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptWeightsError, match=rf"c.gguf: {what} count 1099511627776 \(2\^40\+\) exceeds the file"):
        load_weights(path)


def test_gguf_truncated_says_where(tmp_path):
    path = tmp_path / "t.gguf"
    data = _gguf_file(path, {"w": _normal(16, 32)})
    path.write_bytes(data[:80])  # inside the key/values
    with pytest.raises(CorruptWeightsError, match=r"t.gguf: truncated at byte 80 of at least \d+, reading key/value"):
        load_weights(path)
    path.write_bytes(data[:-64])  # inside the tensor data
    with pytest.raises(CorruptWeightsError, match=rf"truncated at byte {len(data) - 64} of {len(data)}") as info:
        load_weights(path)
    assert info.value.tensor == "w"


def _undecodable_gguf(path: Path, qname: str) -> None:
    gguf = pytest.importorskip("gguf")
    from sparsity.weights._gguf import _can_dequantize

    qtype = gguf.GGMLQuantizationType[qname]
    if _can_dequantize(int(qtype)):
        pytest.skip(f"the installed gguf dequantizes {qname}")
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    _gguf_file(path, {"odd.weight": np.zeros((4, 256 // block * size), np.uint8)}, raw_dtype=qtype)


@pytest.mark.parametrize("qname", ["Q8_1", "Q8_K", "Q1_0"])
def test_cli_exits_non_zero_when_nothing_could_be_analysed(tmp_path, capsys, qname):
    path = tmp_path / "q.gguf"
    _undecodable_gguf(path, qname)
    code = main(["analyze", str(path), "--format", "csv", "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 2
    assert "odd.weight" in out and "failed" in out  # the table still records the tensor and why
    assert "nothing could be analysed; 1 tensor(s) failed (first: odd.weight: the installed gguf" in err
    assert qname in err and err.count("error:") == 1


# ---------------------------------------------------------------------------------- pickles and objects
class _Evil:
    """Unpickling this calls ``open(marker, "w")``: stands for any code a pickle can run."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _evil_zip(tmp_path: Path) -> Path:
    path = tmp_path / "evil.pt"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps({"w": _Evil(tmp_path / "pwned")}, protocol=2))
        zf.writestr("archive/byteorder", "little")
        zf.writestr("archive/version", "3\n")
    return path


@pytest.mark.parametrize("engine", ["auto", "torch", "builtin"])
def test_hostile_pickle_names_the_global_and_never_advises_disabling_the_check(tmp_path, engine):
    if engine != "builtin":
        pytest.importorskip("torch")
    path = _evil_zip(tmp_path)
    with pytest.raises(UnsafePickleError) as info:
        load_weights(path, engine=engine)
    text = str(info.value)
    assert "evil.pt" in text and "\n" not in text
    assert "open" in text  # the offending global (builtins.open / io.open) is named
    for advice in ("weights_only=False", "set to `False`", "will likely succeed", "add_safe_globals", "safe_globals"):
        assert advice not in text, text
    assert not (tmp_path / "pwned").exists()


def test_cli_hostile_pickle_message_with_the_default_engine(tmp_path, capsys):
    pytest.importorskip("torch")
    path = _evil_zip(tmp_path)
    assert main(["analyze", str(path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "evil.pt" in err and "open" in err and "weights_only" in err
    assert "False" not in err and "likely succeed" not in err
    assert not (tmp_path / "pwned").exists()


def test_npz_object_array_is_a_failed_row_not_a_refused_file(tmp_path, capsys):
    path = tmp_path / "mixed.npz"
    w = _normal(6, 5)
    np.savez(path, w=w, meta=np.array([[{"a": 1}, None], [None, None]], dtype=object))
    with pytest.warns(WeightsWarning, match=r"meta"):
        reader = load_weights(path)
    got = dict(reader)
    assert list(got) == ["w"]
    assert_array_equal(got["w"], w)
    assert [s.name for s in reader.skipped] == ["meta"] and "object array" in reader.skipped[0].reason
    code = main(["analyze", str(path), "--format", "csv", "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0
    rows = {line.split(",")[1]: line for line in out.strip().splitlines()[1:]}
    assert set(rows) == {"w", "meta"} and "failed" in rows["meta"] and "object array" in rows["meta"]


def test_missing_dependency_error_keeps_its_path():
    exc = MissingDependencyError("model.gguf", "reading GGUF needs the gguf package")
    assert exc.path == "model.gguf" and isinstance(exc, ImportError)
    assert str(exc) == "model.gguf: reading GGUF needs the gguf package"


def test_pickle_bytearray_of_a_huge_size_is_refused(tmp_path):
    """``bytearray(2**40)`` is on the allow-list only for byte strings: an int size would allocate it."""
    pkl = b"\x80\x02}(X\x01\x00\x00\x00wcbuiltins\nbytearray\n\x8a\x06\x00\x00\x00\x00\x00\x01\x85Ru."
    path = tmp_path / "alloc.pt"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", pkl)
    with pytest.raises(CorruptWeightsError, match=r"alloc.pt.*integer size"):
        load_weights(path, engine="builtin")
