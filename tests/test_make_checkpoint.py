"""bench/make_checkpoint.py: the HF layout of the files, bf16 content, and the planted tails recovered."""

from __future__ import annotations

import importlib.util
import itertools
import json
import math
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

import sparsity as sp

_PATH = Path(__file__).resolve().parents[1] / "bench" / "make_checkpoint.py"
_spec = importlib.util.spec_from_file_location("make_checkpoint", _PATH)
mc = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("make_checkpoint", mc)
_spec.loader.exec_module(mc)

SHARD = 1_000_000  # small shards: the mini preset (4 MB) spans several files


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    out = tmp_path_factory.mktemp("mini")
    summary = mc.write_checkpoint(out, "mini", seed=3, shard_size=SHARD)
    return out, summary, json.loads((out / mc.TRUTH_FILE).read_text())


def _header(path: Path) -> tuple[dict, int]:
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8 : 8 + n]), 8 + n


def _bf16_to_f32(bits: np.ndarray) -> np.ndarray:
    return (bits.astype(np.uint32) << np.uint32(16)).view(np.float32)


def test_layout_index_and_headers(ckpt):
    out, summary, truth = ckpt
    index = json.loads((out / mc.INDEX_FILE).read_text())
    n = summary["shards"]
    assert n > 1
    files = sorted(p.name for p in out.glob("*.safetensors"))
    assert files == [f"model-{i:05d}-of-{n:05d}.safetensors" for i in range(1, n + 1)]
    cfg = mc.PRESETS["mini"]
    assert len(truth["tensors"]) == 1 + 9 * cfg["layers"] + 2
    assert set(index["weight_map"]) == set(truth["tensors"])
    assert set(index["weight_map"].values()) == set(files)
    h, f, kv = cfg["hidden"], cfg["intermediate"], cfg["kv_heads"] * cfg["hidden"] // cfg["heads"]
    expected = {
        "model.embed_tokens.weight": [cfg["vocab"], h],
        "lm_head.weight": [cfg["vocab"], h],
        "model.norm.weight": [h],
        "model.layers.1.self_attn.k_proj.weight": [kv, h],
        "model.layers.1.mlp.down_proj.weight": [h, f],
        "model.layers.0.post_attention_layernorm.weight": [h],
    }
    total = 0
    for name in files:
        header, start = _header(out / name)
        assert start % 8 == 0  # data section aligned as the reference writer does
        size = (out / name).stat().st_size - start
        ends = []
        for key, info in header.items():
            if key == "__metadata__":
                continue
            assert index["weight_map"][key] == name
            assert info["dtype"] == "BF16"
            assert info["shape"] == truth["tensors"][key]["shape"]
            begin, end = info["data_offsets"]
            assert end - begin == 2 * math.prod(info["shape"])
            ends.append((begin, end))
        ends.sort()
        assert ends[0][0] == 0 and ends[-1][1] == size  # contiguous, no gap, no overrun
        assert all(a[1] == b[0] for a, b in itertools.pairwise(ends))
        assert size <= SHARD or len(ends) == 1
        total += size
    assert index["metadata"]["total_size"] == total == summary["total_size"]
    for name, shape in expected.items():
        assert truth["tensors"][name]["shape"] == shape
    config = json.loads((out / "config.json").read_text())
    assert config["num_hidden_layers"] == cfg["layers"] and config["num_key_value_heads"] == cfg["kv_heads"]
    assert config["torch_dtype"] == "bfloat16"


def test_kinds_seeds_and_determinism(ckpt, tmp_path):
    out, _, truth = ckpt
    kinds = [t["kind"] for t in truth["tensors"].values() if len(t["shape"]) == 2]
    assert kinds.count("power_law_spectrum") == 12 and kinds.count("pareto_entries") == 2
    assert kinds.count("gaussian") == 2
    alphas = [t["alpha_ww"] for t in truth["tensors"].values() if "alpha_ww" in t]
    assert 1.5 <= min(alphas) < 2.0 and 5.0 < max(alphas) <= 6.0
    again = tmp_path / "again"
    mc.write_checkpoint(again, "mini", seed=3, shard_size=SHARD)
    for p in out.glob("*.safetensors"):
        assert (again / p.name).read_bytes() == p.read_bytes()
    other = mc.plan_checkpoint(mc.PRESETS["mini"], seed=4)[0]
    assert [s.seed for s in other] != [t["seed"] for t in truth["tensors"].values()]


def test_spectrum_is_the_library_power_law():
    for alpha in (1.5, 2.0, 4.25):
        np.testing.assert_array_equal(
            mc.planted_singular_values(300, alpha), sp.synthetic.power_law_spectrum(300, alpha_ww=alpha)
        )


def test_bf16_bits_round_to_nearest_even():
    x = np.array([1.0, 1.0 + 2.0**-8, 1.0 + 3 * 2.0**-8, -2.5, 1e-30, 3e38], np.float32)
    got = _bf16_to_f32(mc.bf16_bits(x))
    # 1 + 2^-8 is a tie between 1 and 1 + 2^-7: to even (1); 1 + 3 * 2^-8 ties up to 1 + 2^-6
    np.testing.assert_array_equal(got[:4], np.array([1.0, 1.0, 1.0 + 2.0**-6, -2.5], np.float32))
    assert np.all(np.abs(got - x) <= np.abs(x) * 2.0**-8)


def test_loader_reads_planted_singular_values(ckpt):
    out, _, truth = ckpt
    tensors = dict(sp.load_weights(out))
    assert len(tensors) == 16  # 2-D tensors only; the norms are filtered out by name
    checked = set()
    for name, W in tensors.items():
        t = truth["tensors"][name]
        assert W.dtype == np.float32 and list(W.shape) == t["shape"]
        if t["kind"] != "power_law_spectrum" or W.shape in checked:  # one SVD per shape keeps the test fast
            continue
        checked.add(W.shape)
        s = np.linalg.svd(W.astype(np.float64), compute_uv=False)
        planted = mc.planted_singular_values(min(W.shape), t["alpha_ww"])
        planted *= t["s_min"] / planted[-1]
        # Weyl: |s_i(W + E) - s_i(W)| <= ||E||_2 <= ||E||_F <= 2^-8 ||W||_F (bf16 relative rounding <= 2^-8),
        # plus the float32 construction (~1e-6 relative, far below)
        assert np.max(np.abs(s - planted)) <= 2.0**-8 * np.linalg.norm(planted) * 1.001
    assert len(checked) == 4


def test_third_party_reader_agrees(ckpt):
    torch = pytest.importorskip("torch")
    st = pytest.importorskip("safetensors.torch")
    out, _, truth = ckpt
    name = "model.layers.1.mlp.up_proj.weight"
    index = json.loads((out / mc.INDEX_FILE).read_text())
    w = st.load_file(str(out / index["weight_map"][name]))[name]
    assert w.dtype == torch.bfloat16 and list(w.shape) == truth["tensors"][name]["shape"]
    ours = dict(sp.load_weights(out))[name]
    np.testing.assert_array_equal(w.float().numpy(), ours)


def test_planted_tails_recovered(ckpt):
    out, _, truth = ckpt
    df = sp.analyze_weights(sp.load_weights(out))
    checked = {"power_law_spectrum": 0, "pareto_entries": 0}
    for _, row in df.iterrows():
        t = truth["tensors"][row["name"]]
        if t["kind"] == "power_law_spectrum":
            # exact finite-size value of the fit on the planted eigenvalues, given its tail size (module doc of
            # make_checkpoint), +- the bf16 rounding shift at 4 standard deviations plus its systematic part
            expected = mc.expected_fit(t["alpha_ww"], int(row["num_pl_spikes"]))
            assert abs(row["alpha_ww"] - expected) <= mc.bf16_shift_bound(t["alpha_ww"], *t["shape"])
            assert abs(row["alpha_ww"] - t["alpha_ww"]) <= 0.1
        elif t["kind"] == "pareto_entries":
            # MLE: 4 standard errors alpha / sqrt(n_tail), plus the bf16 tie bias at xmin, at most alpha^2 2^-7 / 2
            a, n_tail = t["entry_alpha"], row["entry_n_tail"]
            assert abs(row["entry_alpha"] - a) <= 4 * a / math.sqrt(n_tail) + a * a * 2.0**-7 / 2
        else:
            continue
        checked[t["kind"]] += 1
    assert checked == {"power_law_spectrum": 12, "pareto_entries": 2}


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="preset must be one of"):
        mc.write_checkpoint(tmp_path, "gpt5")
    with pytest.raises(ValueError, match="layers must be an integer >= 1; got 0"):
        mc.write_checkpoint(tmp_path, "mini", layers=0)
