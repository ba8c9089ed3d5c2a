"""GPU checks at scale: a generated LLM checkpoint's spectra through CuPy, and the exact KS scan on 10^7 values.

Run by ``bench/gpu_check.sh`` (or alone)::

    python bench/gpu_large.py --out OUT [--preset tinyllama] [--layers N] [--ks-n 10000000] [--dry-run]

1. Writes a checkpoint with ``bench/make_checkpoint.py`` (planted spectra, sharded bf16 safetensors), then for
   every 2-D tensor fits ``alpha_ww`` twice: ``sparsity.fit_esd`` of the NumPy array (the CPU route) and of the
   same array moved to the GPU with CuPy (the CuPy route through the array namespace). It reports the largest
   ``|alpha_ww(gpu) - alpha_ww(cpu)|`` (required <= 1e-6), the planted-value error, and the time of each route.
2. Fits the exact CSN tail of ``--ks-n`` Pareto draws (alpha = 1.5) on the CPU and on the GPU (the CuPy raw
   KS-scan kernel, chosen by the namespace) and reports alpha, xmin, KS distance and the times (the CuPy kernel is
   tested against its NumPy twin in tests/test_tails_kernel.py; this is its scale check).

``--dry-run`` runs everything on a machine without a GPU: the CuPy route is replaced by the NumPy one (so the
differences are zero) and the report says so. It exists so that this script is tested where no device is lent
(tests/test_gpu_check.py). Writes ``OUT/gpu_large.json`` and ``OUT/gpu_large.md``; exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import make_checkpoint

import sparsity as sp

ALPHA_WW_TOL = 1e-6
KS_ALPHA_RTOL = 1e-9


def _device_array(dry_run: bool) -> tuple[Callable[[np.ndarray], Any], Callable[[], None], str]:
    """(to_device, synchronize, label): CuPy when a device is usable, NumPy copies in a dry run."""
    if dry_run:
        return np.array, lambda: None, "numpy (dry run: no GPU used)"
    import cupy

    if cupy.cuda.runtime.getDeviceCount() < 1:
        raise SystemExit("no CUDA device visible to CuPy; use --dry-run to check the script")
    name = cupy.cuda.runtime.getDeviceProperties(0)["name"]
    label = name.decode() if isinstance(name, bytes) else str(name)
    return cupy.asarray, cupy.cuda.Device().synchronize, f"cupy on {label}"


def _timed(fn: Callable[[], Any], sync: Callable[[], None]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    sync()
    return out, time.perf_counter() - t0


def check_spectra(ckpt: Path, to_device: Callable, sync: Callable) -> dict[str, Any]:
    """alpha_ww of every 2-D tensor on both routes, with the planted truth where there is one."""
    truth = json.loads((ckpt / "sparsity_truth.json").read_text())
    planted: dict[str, Any] = truth.get("tensors", {})
    rows = []
    for name, W in sp.load_weights(str(ckpt)):
        if W.ndim != 2:
            continue
        cpu, t_cpu = _timed(lambda W=W: sp.fit_esd(W), lambda: None)
        Wd = to_device(W)
        gpu, t_gpu = _timed(lambda Wd=Wd: sp.fit_esd(Wd), sync)
        want = planted.get(name, {}).get("alpha_ww")
        rows.append(
            {
                "name": name,
                "shape": list(W.shape),
                "alpha_ww_cpu": cpu.alpha_ww,
                "alpha_ww_gpu": gpu.alpha_ww,
                "diff": abs(gpu.alpha_ww - cpu.alpha_ww),
                "planted": want,
                "t_cpu_s": t_cpu,
                "t_gpu_s": t_gpu,
            }
        )
    diffs = [r["diff"] for r in rows if np.isfinite(r["diff"])]
    return {
        "tensors": len(rows),
        "max_diff": max(diffs) if diffs else float("nan"),
        "ok": bool(rows) and all(d <= ALPHA_WW_TOL for d in diffs) and len(diffs) == len(rows),
        "t_cpu_s": sum(r["t_cpu_s"] for r in rows),
        "t_gpu_s": sum(r["t_gpu_s"] for r in rows),
        "rows": rows,
    }


def check_ks_scan(n: int, to_device: Callable, sync: Callable) -> dict[str, Any]:
    """Exact CSN fit of n Pareto(1.5) draws on both routes."""
    x = np.random.default_rng(0).random(n) ** (-1 / 1.5)
    cpu, t_cpu = _timed(lambda: sp.fit_tail(x, "csn"), lambda: None)
    xd = to_device(x)
    gpu, t_gpu = _timed(lambda: sp.fit_tail(xd, "csn"), sync)
    rel = abs(gpu.alpha - cpu.alpha) / abs(cpu.alpha)
    return {
        "n": n,
        "alpha_cpu": cpu.alpha,
        "alpha_gpu": gpu.alpha,
        "xmin_cpu": cpu.xmin,
        "xmin_gpu": gpu.xmin,
        "ks_cpu": cpu.ks_distance,
        "ks_gpu": gpu.ks_distance,
        "ok": bool(rel <= KS_ALPHA_RTOL and gpu.xmin == cpu.xmin),
        "t_cpu_s": t_cpu,
        "t_gpu_s": t_gpu,
    }


def _markdown(report: dict[str, Any]) -> str:
    s, k = report["spectra"], report["ks_scan"]
    lines = [
        "# GPU large checks",
        "",
        f"- route: {report['route']}",
        f"- checkpoint: preset {report['preset']}, layers {report['layers']}, {s['tensors']} matrices",
        f"- alpha_ww GPU vs CPU: max |diff| = {s['max_diff']:.3g} (<= {ALPHA_WW_TOL:g}): "
        + ("PASS" if s["ok"] else "FAIL"),
        f"- spectra time: CPU {s['t_cpu_s']:.2f} s, GPU {s['t_gpu_s']:.2f} s",
        f"- exact CSN on {k['n']:.0e} values: alpha CPU {k['alpha_cpu']:.6f}, GPU {k['alpha_gpu']:.6f}, xmin "
        f"{k['xmin_cpu']:.6g} / {k['xmin_gpu']:.6g}: {'PASS' if k['ok'] else 'FAIL'}",
        f"- KS scan time: CPU {k['t_cpu_s']:.2f} s, GPU {k['t_gpu_s']:.2f} s",
        "",
        "| tensor | shape | alpha_ww CPU | alpha_ww GPU | planted | CPU s | GPU s |",
        "|:---|:---|---:|---:|---:|---:|---:|",
    ]
    for r in s["rows"]:
        planted = "" if r["planted"] is None else f"{r['planted']:.3f}"
        lines.append(
            f"| {r['name']} | {r['shape']} | {r['alpha_ww_cpu']:.6f} | {r['alpha_ww_gpu']:.6f} | {planted} "
            f"| {r['t_cpu_s']:.3f} | {r['t_gpu_s']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Run both checks and write the report; 0 when both pass."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="report folder (created)")
    parser.add_argument("--preset", default="tinyllama", choices=sorted(make_checkpoint.PRESETS))
    parser.add_argument("--layers", type=int, default=None, help="override the preset's layer count")
    parser.add_argument("--ks-n", type=int, default=10_000_000, help="values in the KS-scan check")
    parser.add_argument("--checkpoint", default=None, help="use (or write) the checkpoint here")
    parser.add_argument("--dry-run", action="store_true", help="no GPU: run the NumPy route twice")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    to_device, sync, route = _device_array(args.dry_run)
    with tempfile.TemporaryDirectory(prefix="gpu_large_") as tmp:
        ckpt = Path(args.checkpoint) if args.checkpoint else Path(tmp) / "ckpt"
        if not (ckpt / "model.safetensors.index.json").exists():
            make_checkpoint.write_checkpoint(ckpt, args.preset, layers=args.layers)
        report = {
            "route": route,
            "preset": args.preset,
            "layers": args.layers or make_checkpoint.PRESETS[args.preset]["layers"],
            "spectra": check_spectra(ckpt, to_device, sync),
            "ks_scan": check_ks_scan(args.ks_n, to_device, sync),
        }
    (out / "gpu_large.json").write_text(json.dumps(report, indent=2, default=float) + "\n")
    text = _markdown(report)
    (out / "gpu_large.md").write_text(text)
    print(text)
    return 0 if report["spectra"]["ok"] and report["ks_scan"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
