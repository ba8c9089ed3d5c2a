"""Which entry-tail method should be the single default of ``sparsity-bench run`` and ``analyze_weights``?

For every 2-D tensor of a catalog model and every candidate method this fits the tail index of the entry
magnitudes on the float32 weights and on their float16- and bfloat16-rounded copies, and reports per layer the
alpha, its 95 % interval, the float32 fit time and whether each rounded refit lies inside the float32 interval
(the layer is *unstable* when one does not). Bootstrap seeds come from the data (``fit_tail(..., rng="data")``),
so every method is a deterministic function of the tensor; ``--seed-check`` verifies that by refitting.

Candidates (``top K``: the K largest magnitudes, a partial sort, fitted as the exceedance sample):

- ``csn@2e4``, ``csn@1e5``, ``csn@all``: exact CSN on the top K (``all`` skipped above ``--csn-all-max`` entries)
- ``hill@all``: Hill with the Danielsson double-bootstrap k on all entries (what ``run`` does today)
- ``hill@2e4``, ``moments@2e4``, ``kernel@2e4``, ``pickands@2e4``: the bootstrap-k estimators on the top 2e4

``--synthetic`` adds known-alpha matrices of MiniLM sizes (Student-t df 3/5/8, Pareto 1.5/3 with random
signs): bias, CI coverage of the true alpha, and rounding stability.

Run: ``.venv/bin/python bench/entry_tail_study.py [--models all-MiniLM-L6-v2] [--synthetic] [--csv out.csv]``.
"""

from __future__ import annotations

import argparse
import math
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

import sparsity as sp
from sparsity.harness import catalog

METHODS: dict[str, tuple[str, int | None]] = {
    "csn@2e4": ("csn", 20_000),
    "csn@1e5": ("csn", 100_000),
    "csn@all": ("csn", None),
    "hill@all": ("hill", None),
    "hill@2e4": ("hill", 20_000),
    "moments@2e4": ("moments", 20_000),
    "kernel@2e4": ("kernel", 20_000),
    "pickands@2e4": ("pickands", 20_000),
}


def bf16(x: np.ndarray) -> np.ndarray:
    """Round float32 to the nearest bfloat16 (ties to even), returned as float32."""
    b = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    b = (b + 0x7FFF + ((b >> 16) & 1)) & 0xFFFF0000
    return b.astype(np.uint32).view(np.float32)


def top_magnitudes(W: np.ndarray, K: int | None) -> np.ndarray:
    """The K largest |W| (all for None), float64; a partial sort, as analyze_weights does."""
    a = np.abs(W).ravel()
    if K is not None and K < a.size:
        a = np.partition(a, a.size - K)[a.size - K :]
    return a.astype(np.float64)


def fit(W: np.ndarray, key: str, n_boot: int, rng: Any = "data") -> dict[str, float]:
    method, K = METHODS[key]
    t0 = time.perf_counter()
    x = top_magnitudes(W, K)
    try:
        f = sp.fit_tail(x, method, rng=rng, n_boot=n_boot)
    except ValueError as exc:
        return {"alpha": math.nan, "lo": math.nan, "hi": math.nan, "n_tail": 0, "t": math.nan, "err": str(exc)}
    return {"alpha": f.alpha, "lo": f.alpha_ci[0], "hi": f.alpha_ci[1], "n_tail": f.n_tail,
            "t": time.perf_counter() - t0, "err": ""}  # fmt: skip


def _inside(v: float, lo: float, hi: float) -> bool:
    return bool(lo <= v <= hi) if math.isfinite(v) and math.isfinite(lo) else False


def layer_rows(args: tuple[str, str, np.ndarray, list[str], int, int, float | None, bool]) -> list[dict]:
    model, name, W, keys, n_boot, csn_all_max, true_alpha, seed_check = args
    W = np.asarray(W, dtype=np.float32)
    W16 = W.astype(np.float16).astype(np.float32)
    Wb = bf16(W)
    rows = []
    for key in keys:
        if key in ("csn@all", "hill@all") and W.size > csn_all_max:
            continue
        r32, r16, rb = fit(W, key, n_boot), fit(W16, key, n_boot), fit(Wb, key, n_boot)
        row = {"model": model, "layer": name, "n": W.size, "method": key, "alpha": r32["alpha"], "lo": r32["lo"],
               "hi": r32["hi"], "n_tail": r32["n_tail"], "t_fit_s": r32["t"], "alpha_fp16": r16["alpha"],
               "alpha_bf16": rb["alpha"], "n_tail_fp16": r16["n_tail"], "n_tail_bf16": rb["n_tail"],
               "fp16_in_ci": _inside(r16["alpha"], r32["lo"], r32["hi"]),
               "bf16_in_ci": _inside(rb["alpha"], r32["lo"], r32["hi"]), "true_alpha": true_alpha,
               "err": r32["err"]}  # fmt: skip
        row["unstable"] = not (row["fp16_in_ci"] and row["bf16_in_ci"])
        if true_alpha is not None:
            row["covers_truth"] = _inside(true_alpha, r32["lo"], r32["hi"])
        if seed_check and not key.startswith("csn"):  # CSN draws nothing: deterministic by construction
            again = fit(W, key, n_boot)  # same data, same derived seed: identical
            other = fit(W, key, n_boot, rng=12345)  # a caller's seed instead: does the answer move?
            row["deterministic"] = again["alpha"] == r32["alpha"] or (math.isnan(again["alpha"]) and
                                                                       math.isnan(r32["alpha"]))  # fmt: skip
            row["alpha_other_seed"] = other["alpha"]
        rows.append(row)
    return rows


def model_tensors(model: str, min_size: int) -> list[tuple[str, np.ndarray]]:
    path = catalog.resolve(catalog.find_entry(model))
    return [(n, np.asarray(a)) for n, a in sp.load_weights(path) if a.ndim >= 2 and a.size >= min_size]


def synthetic_tensors(seeds: int) -> list[tuple[str, np.ndarray, float]]:
    out = []
    for shape in ((384, 384), (1536, 384)):
        n = shape[0] * shape[1]
        for law, a in (("t", 3.0), ("t", 5.0), ("t", 8.0), ("pareto", 1.5), ("pareto", 3.0)):
            for s in range(seeds):
                rng = np.random.default_rng([int(a * 10), n, s, law == "t"])
                if law == "t":
                    x = rng.standard_t(a, n)
                else:
                    x = rng.random(n) ** (-1 / a) * rng.choice([-1.0, 1.0], n)
                out.append((f"{law}{a:g}/{shape[0]}x{shape[1]}/s{s}", (0.02 * x).reshape(shape).astype(np.float32), a))
    return out


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    agg = {"layers": ("layer", "size"), "alpha_med": ("alpha", "median"),
           "ci_width_med": ("ci_width", "median"), "t_total_s": ("t_fit_s", "sum"),
           "t_med_ms": ("t_ms", "median"), "fp16_out": ("fp16_out", "sum"), "bf16_out": ("bf16_out", "sum"),
           "unstable": ("unstable", "sum"), "nan_alpha": ("nan_alpha", "sum")}  # fmt: skip
    d = df.assign(ci_width=df["hi"] - df["lo"], t_ms=1e3 * df["t_fit_s"], fp16_out=~df["fp16_in_ci"],
                  bf16_out=~df["bf16_in_ci"], nan_alpha=df["alpha"].isna())  # fmt: skip
    if "covers_truth" in d:
        d["rel_err"] = (d["alpha"] - d["true_alpha"]).abs() / d["true_alpha"]
        agg.update(coverage=("covers_truth", "mean"), rel_err_med=("rel_err", "median"))
    if "deterministic" in d:
        d["seed_shift"] = (d["alpha_other_seed"] - d["alpha"]).abs()
        agg.update(deterministic=("deterministic", "all"), seed_shift_max=("seed_shift", "max"))
        d["seed_shift"] = d["seed_shift"].fillna(0.0).where(~d["method"].str.startswith("csn"))
    return d.groupby("method", sort=False).agg(**agg)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="*", default=["all-MiniLM-L6-v2"])
    p.add_argument("--methods", nargs="*", default=list(METHODS))
    p.add_argument("--n-boot", type=int, default=50, help="bootstrap resamples of the k rules (fit_tail: 200)")
    p.add_argument("--csn-all-max", type=int, default=600_000, help="skip @all fits above this many entries")
    p.add_argument("--min-size", type=int, default=10_000)
    p.add_argument("--synthetic", type=int, default=0, metavar="SEEDS", help="known-alpha matrices, seeds each")
    p.add_argument("--seed-check", action="store_true")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--csv")
    a = p.parse_args()
    jobs = []
    for model in a.models:
        for name, W in model_tensors(model, a.min_size):
            jobs.append((model, name, W, a.methods, a.n_boot, a.csn_all_max, None, a.seed_check))
    if a.synthetic:
        for name, W, alpha in synthetic_tensors(a.synthetic):
            jobs.append(("synthetic", name, W, a.methods, a.n_boot, a.csn_all_max, alpha, False))
    with ProcessPoolExecutor(a.workers) as pool:
        rows = [r for rs in pool.map(layer_rows, jobs) for r in rs]
    df = pd.DataFrame(rows)
    if a.csv:
        df.to_csv(a.csv, index=False)
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 30)
    law = df["layer"].str.split("/").str[0]
    df["group"] = np.where(df["model"] == "synthetic", "synthetic " + law, df["model"])
    for label, part in df.groupby("group", sort=False):
        print(f"\n## {label}\n")
        print(summarise(part).round(3).to_string())


if __name__ == "__main__":
    main()
