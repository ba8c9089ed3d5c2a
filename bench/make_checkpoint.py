"""Write a Hugging Face-layout LLM checkpoint (sharded bf16 safetensors) whose tails are known.

Usage::

    python bench/make_checkpoint.py /tmp/ckpt/tinyllama --preset tinyllama
    python bench/make_checkpoint.py /tmp/ckpt/tl4 --preset tinyllama --layers 4

The directory gets ``model-0000X-of-0000N.safetensors`` shards, ``model.safetensors.index.json``
(``weight_map``, ``metadata.total_size``), a ``config.json`` like Hugging Face's ``LlamaConfig`` and
``sparsity_truth.json``: for every tensor its kind, shape, seed and planted parameters.

Kinds (the 2-D tensors in state-dict order cycle through a pattern of 8: six spectral, one Pareto, one Gaussian):

- ``power_law_spectrum``: ``W = L diag(s) R^T`` with ``s`` the singular values of
  ``sparsity.synthetic.power_law_spectrum(min(n, m), alpha_ww=...)`` (Pareto midpoint quantiles,
  ``s_i = s_min ((i - 1/2) / k)^(-1/a)``, singular-value tail index ``a = 2 (alpha_ww - 1)``), ``alpha_ww``
  spread over [1.5, 6]. ``L`` and ``R`` are exactly orthogonal fast transforms: two rounds of (random signs,
  orthonormal DCT-II, random permutation) along each side, O(nm log n) instead of the O(nm min(n, m)) of a
  Haar factor (``sparsity.synthetic.spectrum_matrix`` took 17 s for one 2048 x 2048 matrix on the 2 busy
  cores here; this takes 0.25 s). The singular values are the planted ones up to float32 rounding (~1e-7
  relative) before the bf16 cast; the singular vectors are delocalised but not Haar distributed (the spectrum
  does not care).
- ``pareto_entries``: iid ``xmin * sign * U^(-1/entry_alpha)``, so ``P(|W_ij| > t) = (t / xmin)^(-entry_alpha)``
  exactly for ``t >= xmin`` (tail index spread over [1, 4]).
- ``gaussian``: iid N(0, std^2), a Marchenko-Pastur spectrum. 1-D norm weights are ones.

bf16 rounding and the planted spectrum: rounding to bf16 (8 significant bits) multiplies each entry by
``1 + delta`` with ``rms(delta) = 2^-8 / sqrt(6)``: a noise matrix E of entry scale ``sigma_E = 2^-8 / sqrt(6) *
||W||_F / sqrt(nm)``. A singular value ``s_i >> ||E||`` moves by ``sigma_E N(0, 1)`` (first order), and its square
by ``+sigma_E^2 (n + m)`` (second order). The MLE ``alpha_ww - 1 = n_tail / sum log(lambda_i / xmin)`` moves by
``(alpha_ww - 1)^2`` times the relative change of ``xmin``, so what matters is ``r = sigma_E / s_min``, largest
for small alpha_ww (``||W||_F`` is then dominated by the top values: ``||W||_F^2 = 4.93 k^2 s_min^2`` at
alpha_ww = 1.5, ``r = 3.5e-3`` for any square k x k, 2.0e-3 for 32000 x 2048). Hence a random shift of
``0.25 * 2 r = 1.8e-3`` (1 sd) at alpha_ww = 1.5, and a systematic upward lift of the bottom eigenvalues by
``R = r^2 (n + m)`` (0.006 at k = 256, 0.05 at k = 2048, 0.1 at k = 4096) that raises alpha_ww by at most
``(alpha_ww - 1) R`` (0.026 at k = 2048, 0.05 at k = 4096) if the fit's xmin sits at the very bottom. So the tail
fit does see the noise floor, but only at the bottom of the heaviest spectra and well inside 0.1;
:func:`bf16_shift_bound` computes the bound per tensor, and the measured shift is below 0.003 on every preset
shape. The fit itself has a deterministic bias on midpoint quantiles: with ``n`` values in the fitted tail,
``sum log(x_i / x_n) = n - 1/2 - log(2)/2 + O(1/n)``, so ``alpha_ww_fit = 1 + (alpha_ww - 1) n / (n - c)``,
``c = 1/2 + log(2)/2`` (:func:`expected_fit`; 0.0004 at alpha_ww = 2 and n = 2048).

Memory: tensors are generated and written one at a time, shard headers first (every offset is known from the
plan), so the peak is about 14 bytes per element of the largest tensor (float32 work array, the DCT output and
the permuted copy, plus the bf16 rows): ~0.9 GB for ``tinyllama``'s 32000 x 2048 embedding, ~1.8 GB for
``llama7b``; iid tensors are streamed in 4M-element chunks. Output is bitwise reproducible for a given seed
(FFTs always run on 2 threads so their batching does not depend on the machine's core count).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import struct
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.fft

__all__ = [
    "PRESETS",
    "TensorSpec",
    "bf16_bits",
    "bf16_shift_bound",
    "expected_fit",
    "generate_tensor",
    "main",
    "plan_checkpoint",
    "planted_singular_values",
    "write_checkpoint",
]

PRESETS: dict[str, dict[str, int]] = {
    "mini": dict(layers=2, hidden=256, intermediate=688, heads=4, kv_heads=2, vocab=1024),
    "tinyllama": dict(layers=22, hidden=2048, intermediate=5632, heads=32, kv_heads=4, vocab=32000),
    "llama7b": dict(layers=32, hidden=4096, intermediate=11008, heads=32, kv_heads=32, vocab=32000),
}
TRUTH_FILE = "sparsity_truth.json"
INDEX_FILE = "model.safetensors.index.json"
FIT_BIAS_C = 0.5 + 0.5 * math.log(2.0)
"""``n - sum_{i<=n} log(x_i / x_n)`` for n midpoint quantiles of a Pareto law with tail index 1 (large n)."""
BF16_RMS_REL = 2.0**-8 / math.sqrt(6.0)
"""RMS relative rounding error of float32 -> bf16 for values spread evenly in log scale."""

_PATTERN = ("power_law_spectrum",) * 6 + ("pareto_entries", "gaussian")
_ROUNDS = 2
_FFT_WORKERS = 2
_CHUNK = 1 << 22
_ENTRY_RMS = 0.02  # entry RMS of the spectral and Gaussian matrices (LLM-like; every result is scale-free)
_PARETO_XMIN = 2.0**-7  # a power of two: exact in bf16
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0
_CONSTRUCTION = {
    "power_law_spectrum": "W = L diag(s) R^T, s_i = s_min * ((i - 1/2) / k)^(-1/sv_tail_index) (i = 1..k = min(n, m)), "
    "sv_tail_index = 2 (alpha_ww - 1); L, R: 2 rounds of random signs, orthonormal DCT-II, random permutation",
    "pareto_entries": "iid xmin * sign * U^(-1/entry_alpha): P(|W_ij| > t) = (t / xmin)^(-entry_alpha), t >= xmin",
    "gaussian": "iid N(0, std^2) (Marchenko-Pastur spectrum)",
    "ones": "all ones (norm weights)",
    "dtype": "float32 construction, rounded to bf16 (nearest, ties to even)",
}


@dataclass
class TensorSpec:
    """One tensor of the plan: everything needed to regenerate it, and where it goes."""

    name: str
    shape: tuple[int, ...]
    kind: str
    seed: int
    params: dict[str, float] = field(default_factory=dict)
    shard: int = 0
    offsets: tuple[int, int] = (0, 0)

    @property
    def nbytes(self) -> int:
        return 2 * math.prod(self.shape)


def _layer_tensors(cfg: dict[str, int]) -> list[tuple[str, tuple[int, ...]]]:
    h, f, v = cfg["hidden"], cfg["intermediate"], cfg["vocab"]
    head_dim = h // cfg["heads"]
    kv = cfg["kv_heads"] * head_dim
    out: list[tuple[str, tuple[int, ...]]] = [("model.embed_tokens.weight", (v, h))]
    for i in range(cfg["layers"]):
        p = f"model.layers.{i}."
        out += [
            (p + "self_attn.q_proj.weight", (h, h)),
            (p + "self_attn.k_proj.weight", (kv, h)),
            (p + "self_attn.v_proj.weight", (kv, h)),
            (p + "self_attn.o_proj.weight", (h, h)),
            (p + "mlp.gate_proj.weight", (f, h)),
            (p + "mlp.up_proj.weight", (f, h)),
            (p + "mlp.down_proj.weight", (h, f)),
            (p + "input_layernorm.weight", (h,)),
            (p + "post_attention_layernorm.weight", (h,)),
        ]
    return [*out, ("model.norm.weight", (h,)), ("lm_head.weight", (v, h))]


def plan_checkpoint(
    cfg: dict[str, int], *, seed: int = 0, shard_size: int = 500_000_000
) -> tuple[list[TensorSpec], int]:
    """Every tensor's name, shape, kind, planted parameters, seed, shard and byte offsets; and the shard count.

    Shards are filled in state-dict order as ``transformers`` does: a tensor that would push a non-empty shard
    past ``shard_size`` bytes starts the next one.
    """
    root = np.random.SeedSequence(seed)
    u0, u1 = np.random.default_rng(root.spawn(1)[0]).random(2)
    specs, n_matrix, n_spec, n_pareto = [], 0, 0, 0
    for j, (name, shape) in enumerate(_layer_tensors(cfg)):
        tseed = int(np.random.SeedSequence([seed, j]).generate_state(1)[0])
        if len(shape) == 1:
            specs.append(TensorSpec(name, shape, "ones", tseed))
            continue
        kind = _PATTERN[n_matrix % len(_PATTERN)]
        n_matrix += 1
        params: dict[str, float] = {}
        if kind == "power_law_spectrum":  # golden-ratio sequence: evenly spread over [1.5, 6] for any count
            alpha = round(1.5 + 4.5 * ((u0 + n_spec * _GOLDEN) % 1.0), 3)
            s = planted_singular_values(min(shape), alpha)
            s_min = float(s[-1]) * _ENTRY_RMS * math.sqrt(math.prod(shape)) / float(np.linalg.norm(s))
            params = {"alpha_ww": alpha, "sv_tail_index": round(2.0 * (alpha - 1.0), 12), "s_min": s_min}
            n_spec += 1
        elif kind == "pareto_entries":
            params = {"entry_alpha": round(1.0 + 3.0 * ((u1 + n_pareto * _GOLDEN) % 1.0), 3), "xmin": _PARETO_XMIN}
            n_pareto += 1
        else:
            params = {"std": _ENTRY_RMS}
        specs.append(TensorSpec(name, shape, kind, tseed, params))
    shard, used = 0, 0
    for spec in specs:
        if used and used + spec.nbytes > shard_size:
            shard, used = shard + 1, 0
        spec.shard, spec.offsets = shard, (used, used + spec.nbytes)
        used += spec.nbytes
    return specs, shard + 1


def planted_singular_values(k: int, alpha_ww: float) -> np.ndarray:
    """``sparsity.synthetic.power_law_spectrum(k, alpha_ww=alpha_ww)`` (descending, float64, ``s_min`` ~ 1).

    Kept here, identical (a test checks), so that writing a checkpoint does not need the library.
    """
    a = 2.0 * (alpha_ww - 1.0)
    q = (np.arange(1, k + 1, dtype=np.float64) - 0.5) / k
    return q ** (-1.0 / a)


def expected_fit(alpha_ww: float, n_tail: int) -> float:
    """The CSN fit of the exact planted eigenvalues when its tail holds the ``n_tail`` largest (see module doc)."""
    return 1.0 + (alpha_ww - 1.0) * n_tail / (n_tail - FIT_BIAS_C)


def bf16_shift_bound(alpha_ww: float, n: int, m: int, *, z: float = 4.0) -> float:
    """Bound on how far bf16 rounding moves the fitted alpha_ww of a planted ``n x m`` matrix (module doc):
    ``(alpha_ww - 1)^2 2 z r + (alpha_ww - 1) r^2 (n + m)`` with ``r = sigma_E / s_min`` (z standard deviations)."""
    s = planted_singular_values(min(n, m), alpha_ww)
    rel = BF16_RMS_REL * math.sqrt(float(np.sum(s * s)) / (n * m)) / float(s[-1])
    return (alpha_ww - 1.0) ** 2 * (2.0 * z * rel) + (alpha_ww - 1.0) * rel * rel * (n + m)


def bf16_bits(x: np.ndarray) -> np.ndarray:
    """float32 -> bf16 bit patterns (uint16), rounding to nearest, ties to even (finite input)."""
    b = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    return ((b + (np.uint32(0x7FFF) + ((b >> np.uint32(16)) & np.uint32(1)))) >> np.uint32(16)).astype(np.uint16)


def _mix(x: np.ndarray, axis: int, gen: np.random.Generator) -> np.ndarray:
    """Apply a random orthogonal transform along ``axis``: ``_ROUNDS`` x (signs, orthonormal DCT-II, permutation)."""
    n = x.shape[axis]
    bshape = [1] * x.ndim
    bshape[axis] = n
    for _ in range(_ROUNDS):
        x *= np.where(gen.random(n) < 0.5, -1.0, 1.0).astype(np.float32).reshape(bshape)
        x = scipy.fft.dct(x, type=2, axis=axis, norm="ortho", overwrite_x=True, workers=_FFT_WORKERS)
        x = np.take(x, gen.permutation(n), axis=axis)
    return x


def _spectral(spec: TensorSpec, gen: np.random.Generator) -> np.ndarray:
    n, m = spec.shape
    k = min(n, m)
    s = planted_singular_values(k, spec.params["alpha_ww"])
    s *= _ENTRY_RMS * math.sqrt(n * m) / float(np.linalg.norm(s))  # entry RMS 0.02; s[-1] == params["s_min"]
    core = np.zeros((k, k), np.float32)
    core[np.arange(k), np.arange(k)] = s
    x = np.zeros((n, m), np.float32)
    if n >= m:
        x[:k] = _mix(core, 1, gen)
        return _mix(x, 0, gen)
    x[:, :k] = _mix(core, 0, gen)
    return _mix(x, 1, gen)


def _iid_chunks(spec: TensorSpec, gen: np.random.Generator) -> Iterator[np.ndarray]:
    total = math.prod(spec.shape)
    for start in range(0, total, _CHUNK):
        size = min(_CHUNK, total - start)
        if spec.kind == "gaussian":
            x = gen.standard_normal(size, dtype=np.float32)
            x *= np.float32(spec.params["std"])
        else:  # pareto_entries: float64 uniforms so the far tail is not on a 2^-24 lattice
            u = 1.0 - gen.random(size)
            x = (spec.params["xmin"] * u ** (-1.0 / spec.params["entry_alpha"])).astype(np.float32)
            np.negative(x, out=x, where=gen.random(size) < 0.5)
        yield bf16_bits(x)


def generate_tensor(spec: TensorSpec) -> Iterator[np.ndarray]:
    """The bf16 bits (uint16) of one tensor, in C order, as consecutive chunks (seeded by ``spec.seed``)."""
    gen = np.random.default_rng(spec.seed)
    if spec.kind == "ones":
        yield np.full(spec.shape, 0x3F80, np.uint16)  # 1.0 in bf16
    elif spec.kind == "power_law_spectrum":
        w = _spectral(spec, gen)
        rows = max(1, _CHUNK // w.shape[1])
        for i in range(0, w.shape[0], rows):
            yield bf16_bits(w[i : i + rows])
    else:
        yield from _iid_chunks(spec, gen)


def _llama_config(cfg: dict[str, int]) -> dict[str, Any]:
    h = cfg["hidden"]
    return {
        "architectures": ["LlamaForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "head_dim": h // cfg["heads"],
        "hidden_act": "silu",
        "hidden_size": h,
        "initializer_range": 0.02,
        "intermediate_size": cfg["intermediate"],
        "max_position_embeddings": 2048,
        "mlp_bias": False,
        "model_type": "llama",
        "num_attention_heads": cfg["heads"],
        "num_hidden_layers": cfg["layers"],
        "num_key_value_heads": cfg["kv_heads"],
        "pretraining_tp": 1,
        "rms_norm_eps": 1e-05,
        "rope_scaling": None,
        "rope_theta": 10000.0,
        "tie_word_embeddings": False,
        "torch_dtype": "bfloat16",
        "use_cache": True,
        "vocab_size": cfg["vocab"],
    }


def _shard_header(specs: Sequence[TensorSpec]) -> bytes:
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    for s in specs:
        header[s.name] = {"dtype": "BF16", "shape": list(s.shape), "data_offsets": list(s.offsets)}
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # as the reference writer: the data section starts 8-byte aligned
    return struct.pack("<Q", len(raw)) + raw


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n")
    os.replace(tmp, path)


def write_checkpoint(
    out: str | os.PathLike,
    preset: str = "mini",
    *,
    layers: int | None = None,
    seed: int = 0,
    shard_size: int = 500_000_000,
    log: Any = None,
) -> dict[str, Any]:
    """Write the checkpoint of ``preset`` (``layers`` overrides its layer count) into directory ``out``.

    Each shard is written to ``*.tmp`` and renamed when complete; the index, config and truth come last.
    Returns a summary: ``path``, ``parameters``, ``total_size`` (bytes of tensor data), ``shards``,
    ``seconds``, ``peak_rss_mb`` (of this process so far).
    """
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}; got {preset!r}")
    cfg = dict(PRESETS[preset])
    if layers is not None:
        if isinstance(layers, bool) or not isinstance(layers, int) or layers < 1:
            raise ValueError(f"layers must be an integer >= 1; got {layers!r}")
        cfg["layers"] = layers
    if isinstance(shard_size, bool) or not isinstance(shard_size, int) or shard_size < 1:
        raise ValueError(f"shard_size must be a positive number of bytes; got {shard_size!r}")
    t0 = time.perf_counter()
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    specs, n_shards = plan_checkpoint(cfg, seed=seed, shard_size=shard_size)
    files = [f"model-{i + 1:05d}-of-{n_shards:05d}.safetensors" for i in range(n_shards)]
    for i, fname in enumerate(files):
        members = [s for s in specs if s.shard == i]
        tmp = root / (fname + ".tmp")
        with open(tmp, "wb") as fh:
            fh.write(_shard_header(members))
            for spec in members:
                t1 = time.perf_counter()
                for chunk in generate_tensor(spec):
                    fh.write(memoryview(chunk).cast("B"))
                if log is not None:
                    print(f"{spec.name:<45} {spec.kind:<19} {spec.shape!s:<15} {time.perf_counter() - t1:6.2f} s",
                          file=log, flush=True)  # fmt: skip
        os.replace(tmp, root / fname)
    for stale in root.glob("model-?????-of-?????.safetensors"):  # shards of an earlier run with another count
        if stale.name not in files:
            stale.unlink()
    total = sum(s.nbytes for s in specs)
    index = {"metadata": {"total_size": total}, "weight_map": {s.name: files[s.shard] for s in specs}}
    _write_json(root / INDEX_FILE, index)
    _write_json(root / "config.json", _llama_config(cfg))
    truth = {
        "preset": preset,
        "config": cfg,
        "seed": seed,
        "construction": _CONSTRUCTION,
        "tensors": {s.name: {"kind": s.kind, "shape": list(s.shape), "seed": s.seed, **s.params} for s in specs},
    }
    _write_json(root / TRUTH_FILE, truth)
    return {
        "path": str(root),
        "parameters": total // 2,
        "total_size": total,
        "shards": n_shards,
        "seconds": time.perf_counter() - t0,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }


def _size(text: str) -> int:
    units = {"kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30, "b": 1}
    t = text.strip().lower()
    for unit in sorted(units, key=len, reverse=True):
        if t.endswith(unit):
            return int(float(t[: -len(unit)]) * units[unit])
    return int(t)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("out", help="output directory (created; earlier model-*-of-*.safetensors are replaced)")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="mini")
    parser.add_argument("--layers", type=int, default=None, help="override the preset's layer count")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shard-size", type=_size, default="500MB", help="max bytes per shard (500MB, 2GB, ...)")
    parser.add_argument("--quiet", action="store_true", help="no per-tensor lines")
    args = parser.parse_args(argv)
    summary = write_checkpoint(
        args.out,
        args.preset,
        layers=args.layers,
        seed=args.seed,
        shard_size=args.shard_size,
        log=None if args.quiet else sys.stderr,
    )
    print(json.dumps({**summary, "seconds": round(summary["seconds"], 2)}))
    return summary


if __name__ == "__main__":
    main()
