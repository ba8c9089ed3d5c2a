"""Peak resident memory of loading and analysing a large safetensors file, against 3 x largest tensor + 300 MB.

The file is generated in a temporary directory: 24 float32 and 16 bfloat16 tensors of shape (R, 4096), i.e.
2 GiB with R = 4096 when ``SPARSITY_BENCH_LARGE=1`` and 512 MiB with R = 1024 otherwise (override R with
``SPARSITY_BENCH_WEIGHTS_ROWS``). Each measurement runs in a fresh subprocess and reads its own peak RSS
(``ru_maxrss``), imports included. The largest tensor is counted at its decoded float32 size.

Run: ``SPARSITY_BENCH_LARGE=1 pytest bench/perf/test_perf_weights_memory.py --benchmark-enable -s``
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import REPORT, report_ratio

LARGE = os.environ.get("SPARSITY_BENCH_LARGE", "") == "1"
ROWS = int(os.environ.get("SPARSITY_BENCH_WEIGHTS_ROWS", 4096 if LARGE else 1024))
COLS, N_F32, N_BF16 = 4096, 24, 16
MB = 1024 * 1024


def _write_file(path: Path, rng: np.random.Generator) -> int:
    """Write the safetensors file tensor by tensor (never the whole file in memory); returns its size."""
    specs = [(f"layers.{i}.mlp.weight", "F32", 4) for i in range(N_F32)]
    specs += [(f"layers.{i}.attn.weight", "BF16", 2) for i in range(N_BF16)]
    header, offset = {}, 0
    for name, code, itemsize in specs:
        nbytes = ROWS * COLS * itemsize
        header[name] = {"dtype": code, "shape": [ROWS, COLS], "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(text)) + text)
        for _, code, _ in specs:
            w = rng.standard_normal((ROWS, COLS), dtype=np.float32)
            if code == "BF16":
                w = (w.view(np.uint32) >> 16).astype(np.uint16)
            fh.write(w.tobytes())
    return path.stat().st_size


_CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    import numpy as np
    path, mode = sys.argv[1], sys.argv[2]
    from sparsity.weights import load_weights
    from sparsity.layers import analyze_weights
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    if mode == "floor":
        buf = bytearray(64 << 20)
        with open(path, "rb", buffering=0) as fh:
            while fh.readinto(buf):
                pass
    elif mode == "load":
        total = 0.0
        for name, w in load_weights(path):
            total += float(w[-1, -1])
    else:
        df = analyze_weights(load_weights(path))
        assert (df["status"] == "ok").all(), df[["name", "status", "reason"]]
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak, "baseline_mb": base}))
    """
)


def _child(path: Path, mode: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), mode], capture_output=True, text=True, check=True, timeout=3600
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "big.safetensors"
    size = _write_file(path, np.random.default_rng(2026))
    yield path, size
    path.unlink()


@pytest.mark.parametrize("mode", ["load", "analyze"])
def test_peak_memory(benchmark, big_file, mode):
    path, size = big_file
    floor = _child(path, "floor")
    result = benchmark.pedantic(_child, args=(path, mode), rounds=1, iterations=1)
    largest_mb = ROWS * COLS * 4 / MB  # decoded float32
    budget = 3 * largest_mb + 300
    line = (
        f"weights memory [{mode}] file {size / MB:.0f} MiB ({N_F32 + N_BF16} tensors {ROWS}x{COLS}): "
        f"peak RSS {result['peak_mb']:.0f} MiB (after imports {result['baseline_mb']:.0f} MiB), "
        f"budget 3 x {largest_mb:.0f} + 300 = {budget:.0f} MiB -> {result['peak_mb'] / budget:.2f} of budget"
    )
    print("\n" + line)
    with REPORT.open("a") as fh:
        fh.write(line + "\n")
    report_ratio(f"weights {mode} {size / MB:.0f} MiB", result["seconds"], "raw read", floor["seconds"])
    assert result["peak_mb"] < budget, line
