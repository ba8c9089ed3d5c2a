"""Large-checkpoint benchmark: analyse a checkpoint from ``bench/make_checkpoint.py``, time it, check the truth.

Usage::

    python bench/make_checkpoint.py /tmp/ckpt/tinyllama --preset tinyllama
    python bench/large.py /tmp/ckpt/tinyllama                   # sparsity-bench analyze, timed, checked
    python bench/large.py /tmp/ckpt/tl4 --ww --profile          # + WeightWatcher, + time by phase per shape
    python bench/large.py /tmp/ckpt/tl4 --no-analyze --estimate llama7b   # per-shape timings -> llama7b estimate

Prints, never asserts (timings are not tests):

- wall time, CPU time and peak RSS of the analysis, measured on its own child process (``os.wait4``), against
  the targets of issue 13: ``tinyllama`` under 3 min on 2 cores, ``llama7b`` under 30 min, peak RSS at most
  3x the largest tensor in float32 plus 400 MB;
- every planted ``alpha_ww`` against the truth (target: within 0.1), with the deviation from the fit's exact
  finite-size value (:func:`make_checkpoint.expected_fit`) and the bf16 bound; every planted entry tail index
  against the reported 95% interval (``entry_alpha_ci_low`` / ``entry_alpha_ci_high``: the MLE's normal interval
  widened by the ``xmin`` uncertainty), and for reference against the normal interval
  ``alpha +- 1.96 alpha / sqrt(n_tail)`` alone. The bf16 ties are no longer corrected for here: the entry fit
  dequantises a window on a coarse grid (:mod:`sparsity.tails._grid`), which removes the bias they gave the
  continuous MLE (``+alpha^2 eps / 2``, eps = 2^-8..2^-7: values rounded up to ``xmin`` from below it);
- with ``--profile``, the time by phase (load, eigenvalues, ESD fit, other spectral columns, entry columns) for
  one tensor of each shape, and the total they predict; with ``--estimate PRESET`` the same for the shapes of a
  preset, generated in memory (no checkpoint on disk), scaled by the number of tensors of each shape. The
  eigenvalue phase is also timed with ``precision="float32"`` (``eig_f32``) beside the default (float64);
- with ``--precision-check`` (the checkpoint's every 2-D tensor) or ``--precision-preset PRESET`` (generated in
  memory: a sample covering every shape and the planted alpha_ww range, or ``--all-tensors``), ``alpha_ww``
  through the ``"mixed"`` (float32 Gram matrix) and the ``"float32"`` (also the eigensolver) spectra routes
  against the float64 one, the default (target: within 1e-3), with the float32 error bound ``delta = u_32 n
  lambda_max`` against the fitted tail's ``xmin`` and the alpha_ww bound ``2 (alpha_ww - 1)^2 delta / xmin``
  it implies for a fixed ``xmin``.

The load average (1 min) is printed before and after each measurement: on a shared machine the wall time is
the CPU time stretched by the other processes, so both are reported.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_checkpoint as mc

__all__ = ["check_truth", "main", "precision_check", "profile_shapes", "run_child"]

TARGET_S = {"tinyllama": 180.0, "llama7b": 1800.0}
RSS_SLACK_MB = 400.0
ALPHA_WW_TOL = 0.1
PRECISION_TOL = 1e-3
U32 = 2.0**-24
Z95 = 1.959963984540054


def run_child(cmd: Sequence[str], log: Path, env: dict[str, str] | None = None) -> dict[str, float]:
    """Run ``cmd`` in ``log``'s folder (so ``-m sparsity`` imports what ``env`` says, not the current folder's),
    output to ``log``; wall seconds, user/sys CPU seconds, peak RSS (MB) and exit code of it alone."""
    t0 = time.perf_counter()
    with open(log, "wb") as fh:
        proc = subprocess.Popen(list(cmd), stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=log.parent)
        _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "wall_s": time.perf_counter() - t0,
        "user_s": ru.ru_utime,
        "sys_s": ru.ru_stime,
        "peak_rss_mb": ru.ru_maxrss / 1024.0,  # KiB on Linux
        "rc": proc.returncode,
    }


def _child_api(ckpt: str, csv: str) -> None:
    """Child: the Python API, with the time at which each tensor is handed to analyze_weights."""
    import sparsity as sp

    stamps: list[tuple[str, list[int], float]] = []
    t0 = time.perf_counter()

    def timed() -> Any:
        for name, arr in sp.load_weights(ckpt):
            stamps.append((name, list(arr.shape), time.perf_counter() - t0))
            yield name, arr

    df = sp.analyze_weights(timed())
    stamps.append(("<end>", [], time.perf_counter() - t0))
    df.to_csv(csv, index=False)
    Path(csv).with_suffix(".stamps.json").write_text(json.dumps(stamps))


def _child_ww(ckpt: str, csv: str) -> None:
    """Child: WeightWatcher on a state dict of the 2-D tensors (float32 torch tensors)."""
    import torch
    import weightwatcher as ww

    import sparsity as sp

    sd = {name: torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32)) for name, arr in sp.load_weights(ckpt)}
    df = ww.WeightWatcher(model=sd).analyze()
    df.to_csv(csv, index=False)


def check_truth(df: Any, truth: dict[str, Any], *, alpha_col: str = "alpha_ww") -> list[dict[str, Any]]:
    """One record per planted tensor found in ``df`` (columns ``name``, ``alpha_col``, ``num_pl_spikes``,
    ``entry_alpha``, ``entry_n_tail``, ``entry_alpha_ci_low``, ``entry_alpha_ci_high``): planted value, fit,
    error and verdict (entries: ``ok`` inside the reported interval, ``ok_normal`` inside the MLE's normal one)."""
    out = []
    for _, row in df.iterrows():
        t = truth["tensors"].get(str(row["name"]))
        if t is None:
            continue
        rec = {"name": row["name"], "kind": t["kind"], "shape": tuple(t["shape"])}
        if t["kind"] == "power_law_spectrum":
            fit, planted = float(row[alpha_col]), t["alpha_ww"]
            rec.update(planted=planted, fit=fit, err=fit - planted, ok=abs(fit - planted) <= ALPHA_WW_TOL)
            if "num_pl_spikes" in row and row["num_pl_spikes"] == row["num_pl_spikes"]:
                n_tail = int(row["num_pl_spikes"])
                rec.update(
                    n_tail=n_tail,
                    dev_expected=fit - mc.expected_fit(planted, n_tail),
                    bf16_bound=mc.bf16_shift_bound(planted, *t["shape"]),
                )
        elif t["kind"] == "pareto_entries" and "entry_alpha" in row:
            fit, planted, n_tail_f = float(row["entry_alpha"]), t["entry_alpha"], float(row["entry_n_tail"])
            half = Z95 * fit / math.sqrt(n_tail_f) if n_tail_f > 0 else math.nan
            lo, hi = float(row.get("entry_alpha_ci_low", math.nan)), float(row.get("entry_alpha_ci_high", math.nan))
            rec.update(planted=planted, fit=fit, err=fit - planted, n_tail=int(n_tail_f), ci_half=half)
            rec.update(ci_low=lo, ci_high=hi, ok=lo <= planted <= hi, ok_normal=abs(fit - planted) <= half)
        else:
            continue
        out.append(rec)
    return out


def _print_check(recs: list[dict[str, Any]], label: str) -> None:
    spec = [r for r in recs if r["kind"] == "power_law_spectrum"]
    ent = [r for r in recs if r["kind"] == "pareto_entries"]
    print(f"\n[{label}] planted alpha_ww: {sum(r['ok'] for r in spec)}/{len(spec)} within {ALPHA_WW_TOL}")
    if spec:
        errs = np.array([r["err"] for r in spec])
        print(f"  |fit - planted|: max {np.max(np.abs(errs)):.4f}, mean {np.mean(errs):+.4f}")
        if "dev_expected" in spec[0]:
            dev = np.array([r["dev_expected"] for r in spec])
            over = sum(abs(r["dev_expected"]) > r["bf16_bound"] for r in spec)
            print(f"  |fit - expected_fit(n_tail)|: max {np.max(np.abs(dev)):.4f}; above the bf16 bound: {over}")
        by: dict[tuple[int, ...], list[float]] = {}
        for r in spec:
            by.setdefault(r["shape"], []).append(r["err"])
        print(f"  {'shape':<15} {'n':>3} {'max|err|':>9} {'mean err':>9}")
        for shape, e in sorted(by.items()):
            print(f"  {shape!s:<15} {len(e):>3} {max(map(abs, e)):>9.4f} {np.mean(e):>+9.4f}")
        worst = sorted(spec, key=lambda r: -abs(r["err"]))[:5]
        print("  worst:", "; ".join(f"{r['name']} {r['planted']:.3f}->{r['fit']:.4f}" for r in worst))
    if ent:
        print(
            f"[{label}] planted entry tail index: {sum(r['ok'] for r in ent)}/{len(ent)} within the reported 95% CI "
            f"(entry_alpha_ci_low/high), {sum(r['ok_normal'] for r in ent)}/{len(ent)} within the normal interval"
        )
        for r in ent:
            print(
                f"  {r['name']:<42} {r['planted']:.3f} fit {r['fit']:.4f} CI [{r['ci_low']:.4f}, {r['ci_high']:.4f}]"
                f" +- {r['ci_half']:.4f} (n_tail {r['n_tail']}){'' if r['ok'] else '  OUTSIDE'}"
            )


def _phase_times(sp: Any, W: np.ndarray) -> dict[str, float]:
    """CPU seconds (all threads of this process: robust to other load on the machine) per phase of one matrix."""
    clock = time.process_time
    t = clock()
    np.asarray(sp.esd(W, precision="float32"), dtype=np.float64)
    t_eig32 = clock() - t
    t = clock()
    lam = np.asarray(sp.esd(W), dtype=np.float64)
    t_eig = clock() - t
    t = clock()
    x = lam[lam > float(np.max(lam)) * max(W.shape) * np.finfo(np.float64).eps]
    sp.fit_tail(x, "csn")
    t_fit = clock() - t
    t = clock()
    sp.analyze_matrix(W, entries=False)
    t_spec = clock() - t
    t = clock()
    sp.analyze_matrix(W, entries=True)
    t_all = clock() - t
    return {
        "eigenvalues": t_eig,
        "esd_fit": t_fit,
        "other_spectral": max(0.0, t_spec - t_eig - t_fit),
        "entries": max(0.0, t_all - t_spec),
        "row": t_all,
        "eig_f32": t_eig32,
    }


def profile_shapes(ckpt: str | None = None, preset: str | None = None) -> list[dict[str, Any]]:
    """Time by phase for one tensor of each 2-D shape, of a checkpoint on disk or of a preset generated in memory."""
    import sparsity as sp

    out = []
    if ckpt is not None:
        truth = json.loads((Path(ckpt) / mc.TRUTH_FILE).read_text())
        counts = Counter(tuple(t["shape"]) for t in truth["tensors"].values() if len(t["shape"]) == 2)
        first: dict[tuple[int, ...], str] = {}
        for name, t in truth["tensors"].items():
            first.setdefault(tuple(t["shape"]), name)
        wanted = {first[s] for s in counts}
        reader = iter(sp.load_weights(ckpt, select=lambda name, shape, dtype: name in wanted))
        while True:
            t = time.process_time()
            try:
                name, W = next(reader)
            except StopIteration:
                break
            rec = {"shape": tuple(W.shape), "count": counts[tuple(W.shape)], "load": time.process_time() - t}
            out.append({**rec, **_phase_times(sp, W)})
            del W
        return out
    specs, _ = mc.plan_checkpoint(mc.PRESETS[str(preset)])
    counts = Counter(s.shape for s in specs if len(s.shape) == 2)
    done = set()
    for s in specs:
        if len(s.shape) != 2 or s.shape in done or s.kind != "power_law_spectrum":
            continue
        done.add(s.shape)
        bits = np.concatenate([c.ravel() for c in mc.generate_tensor(s)]).reshape(s.shape)
        W = (bits.astype(np.uint32) << np.uint32(16)).view(np.float32)
        del bits
        out.append({"shape": s.shape, "count": counts[s.shape], "load": math.nan, **_phase_times(sp, W)})
        del W
    return out


def _print_profile(rows: list[dict[str, Any]], label: str) -> float:
    phases = ("load", "eigenvalues", "esd_fit", "other_spectral", "entries", "row", "eig_f32")
    print(f"\n[{label}] CPU seconds per tensor by phase (one tensor per shape; row = analyze_matrix with entries)")
    print(f"  {'shape':<15} {'count':>5} " + " ".join(f"{p:>14}" for p in phases) + f" {'count x (load+row)':>19}")
    total = 0.0
    for r in rows:
        load = 0.0 if math.isnan(r["load"]) else r["load"]
        sub = r["count"] * (load + r["row"])
        total += sub
        cells = " ".join(f"{r[p]:>14.3f}" for p in phases)
        print(f"  {r['shape']!s:<15} {r['count']:>5} {cells} {sub:>19.1f}", flush=True)
    print(
        f"  predicted total: {total:.1f} CPU s ({total / 60:.1f} CPU min; wall on 2 idle cores ~ half if both are busy)"
    )
    for p in phases[:-2]:
        sub = sum(r["count"] * (0.0 if math.isnan(r[p]) else r[p]) for r in rows)
        print(f"    {p:<15} {sub:8.1f} CPU s ({100 * sub / max(total, 1e-9):4.1f} %)")
    f32 = sum(r["count"] * r["eig_f32"] for r in rows)
    eig = sum(r["count"] * r["eigenvalues"] for r in rows)
    print(f"    eigenvalues with precision='float32' (an option) instead: {f32:.1f} CPU s (the default: {eig:.1f})")
    print(f"  load average now {os.getloadavg()[0]:.1f}")
    return total


def _precision_record(sp: Any, name: str, W: np.ndarray, kind: str, planted: Any) -> dict[str, Any]:
    """alpha_ww of ``W`` through the float64 (default), ``"mixed"`` and ``"float32"`` spectra routes (the fit
    analyze uses), the float32 eigenvalue errors and the alpha_ww bound they imply."""
    from sparsity.layers._esd_fit import esd_fit_body

    big, n = max(W.shape), min(W.shape)
    lam, cpu, fit = {}, {}, {}
    for p in ("float64", "mixed", "float32"):
        t = time.process_time()
        lam[p] = np.sort(np.asarray(sp.esd(W, precision=p)))[::-1]
        cpu[p] = time.process_time() - t
        fit[p] = esd_fit_body(lam[p], big)
    lam_max, xmin, a64 = float(lam["float64"][0]), fit["float64"].xmin, fit["float64"].alpha_ww
    delta = U32 * n * lam_max  # the float32 eigenvalue error bound (Weyl; see sparsity.linalg._gram)
    err32 = np.abs(lam["float32"] - lam["float64"])
    return {
        "name": name,
        "shape": tuple(W.shape),
        "kind": kind,
        "planted": planted,
        "a64": a64,
        "diff": fit["mixed"].alpha_ww - a64,
        "diff32": fit["float32"].alpha_ww - a64,
        "same_xmin_rank": fit["float64"].num_pl_spikes == fit["mixed"].num_pl_spikes,
        "xmin_rel": xmin / lam_max,
        "err_rel": float(np.max(np.abs(lam["mixed"] - lam["float64"]))) / lam_max,
        "err32_rel": float(np.max(err32)) / lam_max,
        "tail_err32_over_xmin": float(np.max(err32[lam["float64"] >= xmin])) / xmin,
        "bound_over_xmin": delta / xmin,
        "alpha_bound": 2.0 * (a64 - 1.0) ** 2 * delta / xmin,
        "cpu64": cpu["float64"],
        "cpu_mixed": cpu["mixed"],
        "cpu32": cpu["float32"],
    }


def _precision_sample(specs: list[Any], all_tensors: bool) -> list[Any]:
    """The 2-D tensors of a plan: all, or every shape x kind with the planted alpha_ww nearest 1.5, 2, 2.5, 3.5, 6."""
    mats = [s for s in specs if len(s.shape) == 2]
    if all_tensors:
        return mats
    by: dict[tuple[Any, str], list[Any]] = {}
    for s in mats:
        by.setdefault((s.shape, s.kind), []).append(s)
    out: list[Any] = []
    for (_, kind), group in by.items():
        targets = (1.5, 2.0, 2.5, 3.5, 6.0) if kind == "power_law_spectrum" else (None,)
        for target in targets:
            pick = group[0] if target is None else min(group, key=lambda s: abs(s.params["alpha_ww"] - target))
            if pick not in out:
                out.append(pick)
    return out


def precision_check(
    ckpt: str | None = None, preset: str | None = None, *, all_tensors: bool = False
) -> list[dict[str, Any]]:
    """float32 against float64 spectra for the 2-D tensors of a checkpoint on disk or of a preset in memory."""
    import sparsity as sp

    out = []
    if ckpt is not None:
        truth = json.loads((Path(ckpt) / mc.TRUTH_FILE).read_text())["tensors"]
        for name, arr in sp.load_weights(ckpt):
            if len(arr.shape) == 2:
                t = truth.get(name, {})
                out.append(
                    _precision_record(
                        sp, name, np.asarray(arr, dtype=np.float32), t.get("kind", "?"), t.get("alpha_ww")
                    )
                )
                _print_precision_line(out[-1])
            del arr  # release this tensor before the loader reads the next one
        return out
    specs, _ = mc.plan_checkpoint(mc.PRESETS[str(preset)])
    for s in _precision_sample(specs, all_tensors):
        bits = np.concatenate([c.ravel() for c in mc.generate_tensor(s)]).reshape(s.shape)
        W = (bits.astype(np.uint32) << np.uint32(16)).view(np.float32)
        del bits
        out.append(_precision_record(sp, s.name, W, s.kind, s.params.get("alpha_ww")))
        _print_precision_line(out[-1])
        del W
    return out


def _print_precision_line(r: dict[str, Any]) -> None:
    planted = "" if r["planted"] is None else f"{r['planted']:.3f}"
    print(
        f"  {r['name']:<42} {r['shape']!s:<14} {r['kind']:<19} {planted:>6} {r['a64']:9.5f} {r['diff']:+.1e} "
        f"{r['diff32']:+.1e} {r['xmin_rel']:.1e} {r['err_rel']:.1e} {r['err32_rel']:.1e} "
        f"{r['tail_err32_over_xmin']:.1e} {r['alpha_bound']:.1e} {r['cpu64']:5.1f} {r['cpu_mixed']:5.1f} "
        f"{r['cpu32']:5.1f}",
        flush=True,
    )


_PRECISION_HEADER = (
    "name, shape, kind, planted, alpha_ww f64, mixed - f64, float32 - f64, xmin/lmax, max|dl|/lmax mixed, "
    "float32, max|dl|/xmin in the tail (float32), alpha bound (float32), CPU s f64, mixed, float32"
)


def _print_precision(recs: list[dict[str, Any]], label: str) -> None:
    big = [r for r in recs if min(r["shape"]) >= 2048]
    print(f"\n[{label}] {len(recs)} tensors ({len(big)} of order >= 2048)")
    for key, route in (("diff", "mixed"), ("diff32", "float32")):
        d = np.array([abs(r[key]) for r in recs])
        worst = max(recs, key=lambda r: abs(r[key]))
        print(
            f"  |alpha_ww({route}) - alpha_ww(float64)|: max {d.max():.2e} ({worst['name']} {worst['shape']} "
            f"{worst['kind']}, alpha_ww {worst['a64']:.2f}); {int(np.sum(d > PRECISION_TOL))} above {PRECISION_TOL:g}"
        )
        pl = [abs(r[key]) for r in recs if r["kind"] == "power_law_spectrum"]
        if pl:
            print(f"    planted power laws only: max {max(pl):.2e}")
    if big:
        print(
            f"  order >= 2048: max |dlambda|/lambda_max mixed {max(r['err_rel'] for r in big):.1e}, float32 "
            f"{max(r['err32_rel'] for r in big):.1e} (bound u_32 n: {U32 * max(min(r['shape']) for r in big):.1e})"
        )
        print(
            f"  CPU s of the spectra: float64 {sum(r['cpu64'] for r in big):.1f}, mixed "
            f"{sum(r['cpu_mixed'] for r in big):.1f}, float32 {sum(r['cpu32'] for r in big):.1f}"
        )
        covered = sum(r["alpha_bound"] <= PRECISION_TOL for r in big)
        print(
            f"  float32 bound 2 (alpha_ww - 1)^2 u_32 n lambda_max / xmin <= {PRECISION_TOL:g} (a guarantee): "
            f"{covered}/{len(big)}"
        )
    print(f"  load average now {os.getloadavg()[0]:.1f}")


def _largest_f32_mb(truth: dict[str, Any]) -> float:
    return max(4.0 * math.prod(t["shape"]) for t in truth["tensors"].values()) / 1e6


def _analyze(args: argparse.Namespace, truth: dict[str, Any], out: Path, env: dict[str, str]) -> None:
    import pandas as pd

    csv, ckpt = out / "analysis.csv", str(Path(args.ckpt).resolve())
    if args.route == "cli":
        cmd = [sys.executable, "-m", "sparsity", "analyze", ckpt, "--output", str(csv), "--no-progress"]
        cmd += ["--workers", str(args.workers)]
    else:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child-api", ckpt, str(csv)]
    m = run_child(cmd, out / "analysis.log", env)
    preset = truth["preset"] if truth["config"]["layers"] == mc.PRESETS[truth["preset"]]["layers"] else None
    limit_rss = 3.0 * _largest_f32_mb(truth) + RSS_SLACK_MB
    print(
        f"\n[analyze, {args.route}, workers {args.workers}] rc {m['rc']}: wall {m['wall_s']:.1f} s, "
        f"CPU {m['user_s'] + m['sys_s']:.1f} s, ",
        end="",
    )
    print(f"peak RSS {m['peak_rss_mb']:.0f} MB (limit 3 x largest f32 + {RSS_SLACK_MB:.0f} MB = {limit_rss:.0f} MB)")
    if preset in TARGET_S:
        print(
            f"  target {preset}: < {TARGET_S[preset]:.0f} s -> {'met' if m['wall_s'] < TARGET_S[preset] else 'MISSED'}"
        )
    print(f"  RSS target -> {'met' if m['peak_rss_mb'] <= limit_rss else 'MISSED'}")
    (out / "analysis_metrics.json").write_text(json.dumps(m))
    if m["rc"] != 0:
        print("  analysis failed; last lines of", out / "analysis.log")
        print("\n".join((out / "analysis.log").read_text().splitlines()[-15:]))
        return
    df = pd.read_csv(csv)
    _print_check(check_truth(df, truth), "sparsity")
    stamps = csv.with_suffix(".stamps.json")
    if stamps.exists():  # api route: seconds between hand-overs, summed by shape (pipelined, so approximate)
        st = json.loads(stamps.read_text())
        by: Counter[str] = Counter()
        for (_, shape, t0), (_, _, t1) in itertools.pairwise(st):
            by[str(tuple(shape))] += t1 - t0
        print("  time between tensor hand-overs by shape (s):", dict((k, round(v, 1)) for k, v in by.items()))


def _weightwatcher(args: argparse.Namespace, truth: dict[str, Any], out: Path, env: dict[str, str]) -> None:
    import pandas as pd

    csv = out / "ww.csv"
    ckpt = str(Path(args.ckpt).resolve())
    m = run_child([sys.executable, str(Path(__file__).resolve()), "--child-ww", ckpt, str(csv)], out / "ww.log", env)
    if m["rc"] != 0:
        print(f"\n[WeightWatcher] skipped (rc {m['rc']}): see {out / 'ww.log'}")
        return
    cpu = m["user_s"] + m["sys_s"]
    print(f"\n[WeightWatcher] wall {m['wall_s']:.1f} s, CPU {cpu:.1f} s, peak RSS {m['peak_rss_mb']:.0f} MB")
    df = pd.read_csv(csv)
    known = truth["tensors"]
    df["name"] = [n if n in known else f"{n}.weight" for n in df["name"].astype(str)]  # WW drops ".weight"
    _print_check(check_truth(df, truth, alpha_col="alpha"), "WeightWatcher")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("ckpt", nargs="?", help="checkpoint directory written by bench/make_checkpoint.py")
    parser.add_argument("--route", choices=("cli", "api"), default="cli", help="sparsity-bench analyze, or the API")
    parser.add_argument("--out", default=None, help="where the tables and logs go (default: a new temp folder)")
    parser.add_argument("--workers", type=int, default=1, help="--route cli: analyze's worker processes (default 1)")
    parser.add_argument("--no-analyze", action="store_true", help="skip the timed analysis")
    parser.add_argument("--ww", action="store_true", help="also run WeightWatcher (torch + weightwatcher)")
    parser.add_argument("--profile", action="store_true", help="time by phase, one tensor per shape")
    parser.add_argument("--estimate", choices=sorted(mc.PRESETS), default=None, help="per-shape estimate of a preset")
    parser.add_argument("--precision-check", action="store_true", help="float32 vs float64 alpha_ww, every tensor")
    parser.add_argument("--precision-preset", choices=sorted(mc.PRESETS), default=None, help="the same, in memory")
    parser.add_argument("--all-tensors", action="store_true", help="--precision-preset: every tensor, not a sample")
    parser.add_argument("--lib", default=None, help="prepend this folder to PYTHONPATH of the children")
    parser.add_argument("--child-api", nargs=2, metavar=("CKPT", "CSV"), help=argparse.SUPPRESS)
    parser.add_argument("--child-ww", nargs=2, metavar=("CKPT", "CSV"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_api:
        _child_api(*args.child_api)
        return 0
    if args.child_ww:
        _child_ww(*args.child_ww)
        return 0
    env = dict(os.environ)
    if args.lib:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (args.lib, env.get("PYTHONPATH")) if p)
        sys.path.insert(0, args.lib)
    if args.ckpt:
        truth = json.loads((Path(args.ckpt) / mc.TRUTH_FILE).read_text())
        out = Path(args.out or tempfile.mkdtemp(prefix="sparsity-large-")).resolve()
        out.mkdir(parents=True, exist_ok=True)
        n_par = sum(math.prod(t["shape"]) for t in truth["tensors"].values())
        print(
            f"{args.ckpt}: preset {truth['preset']}, {truth['config']['layers']} layers, {n_par / 1e6:.1f}M parameters"
        )
        print(f"cpus {len(os.sched_getaffinity(0))}, load average {os.getloadavg()[0]:.1f}; outputs in {out}")
        probe = [sys.executable, "-c", "import sparsity; print(sparsity.__file__)"]
        where = subprocess.run(probe, env=env, cwd=out, capture_output=True, text=True, check=False)
        print(f"library of the children: {where.stdout.strip() or where.stderr.strip()[-200:]}")
        if not args.no_analyze:
            _analyze(args, truth, out, env)
        if args.ww:
            _weightwatcher(args, truth, out, env)
        if args.profile:
            _print_profile(profile_shapes(ckpt=args.ckpt), "profile " + Path(args.ckpt).name)
        if args.precision_check:
            print(f"\n[precision {Path(args.ckpt).name}] {_PRECISION_HEADER}")
            _print_precision(precision_check(ckpt=args.ckpt), "precision " + Path(args.ckpt).name)
    if args.precision_preset:
        print(f"\n[precision {args.precision_preset}] load average {os.getloadavg()[0]:.1f}; {_PRECISION_HEADER}")
        recs = precision_check(preset=args.precision_preset, all_tensors=args.all_tensors)
        _print_precision(recs, f"precision {args.precision_preset}")
    if args.estimate:
        total = _print_profile(profile_shapes(preset=args.estimate), f"estimate {args.estimate} (no load time)")
        if args.estimate in TARGET_S:
            print(f"  target {args.estimate}: < {TARGET_S[args.estimate]:.0f} s -> predicted {total:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
