"""The suite on a local Dask cluster against the local process pool, same workers, timed in the same run.

    python bench/dask_vs_pool.py [--suite quick] [--workers 2] [--tasks N] [--repeat 1] [--out DIR]

Per side: wall time, rows, error rows (and how many were unexpected, i.e. have a traceback in errors.log) and
the first error message. Dask: also the seconds its LocalCluster took to start and to close (from the run's
manifest), so the ratio is given both including and excluding them (target: Dask within 1.2x of the pool).
Then whether the two results.csv agree in every column except the t_* timings (and with the committed
``results/<suite>`` when the whole suite ran), and the sparsity source fingerprints: the pool's workers fork
from this process and run the source it imported; Dask's workers import it when their first task arrives,
minutes later, and the Dask executor stops the run if theirs differs (an edit in between is the likely cause
of a case error once seen on the Dask side only); a source changed on disk by the end is reported too.

The output folders are kept (and named) when anything is not clean; otherwise they are removed unless
``--out`` is given. Exit status 0 when both sides are clean and equal, 1 otherwise.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from sparsity.harness._code import IMPORTED_CODE, code_fingerprint
from sparsity.harness.cases import TIMING_COLUMNS
from sparsity.harness.runner import ERRORS_LOG, RunFailed, RunInterrupted, run_suite
from sparsity.harness.suite import load_suite

ROOT = Path(__file__).resolve().parents[1]


@dataclasses.dataclass
class Side:
    """One run of one side: wall seconds, the executor's manifest entry and the error rows."""

    name: str
    out: Path
    wall_s: float
    executor: dict[str, Any]
    rows: int
    errors: int
    unexpected: int
    first_error: str

    @property
    def overhead_s(self) -> float:
        """Seconds to start and close the executor (0 for the pool: its start is not recorded, milliseconds)."""
        return float(self.executor.get("start_s") or 0.0) + float(self.executor.get("close_s") or 0.0)

    @property
    def clean(self) -> bool:
        return self.errors == 0 and self.rows > 0


def _first_traceback_line(out: Path) -> str:
    log = out / ERRORS_LOG
    if not log.exists():
        return ""
    lines = [ln for ln in log.read_text().splitlines() if ln.strip()]
    return next((ln.strip() for ln in reversed(lines) if not ln.startswith((" ", "=", "#"))), "")


def _run(suite: Any, out: Path, name: str, **executor: Any) -> Side:
    t0 = time.perf_counter()
    try:
        run_suite(suite, out, progress=False, report=False, fresh=True, **executor)
    except RunFailed:
        pass  # written all the same; the error rows are counted below
    except RunInterrupted as exc:  # lost workers, or workers with other code: no results.csv
        return Side(name, out, time.perf_counter() - t0, {}, 0, 0, 0, f"run stopped: {exc}")
    wall = time.perf_counter() - t0
    df = pd.read_csv(out / "results.csv")
    manifest = json.loads((out / "manifest.json").read_text())
    bad = df[df["status"] == "error"]
    first = f"{bad['case_id'].iloc[0]}: {bad['error'].iloc[0]}" if len(bad) else ""
    trace = _first_traceback_line(out)
    if trace and trace not in first:
        first += f" [{trace}]"
    return Side(name, out, wall, manifest["executor"], len(df), len(bad), int(manifest["failed_cases"]), first)


def _numbers(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "results.csv").drop(columns=list(TIMING_COLUMNS))


def _differences(a: Path, b: Path) -> str:
    """'' when the results agree in every non-timing column; else the first differing case and columns."""
    if not (a / "results.csv").exists() or not (b / "results.csv").exists():
        return "no results.csv"
    x, y = _numbers(a), _numbers(b)
    if x.shape != y.shape or list(x.columns) != list(y.columns) or list(x["case_id"]) != list(y["case_id"]):
        return f"different rows or columns ({x.shape} vs {y.shape})"
    differ = (x != y) & ~(x.isna() & y.isna())
    rows = differ.any(axis=1)
    if not rows.any():
        return ""
    i = int(rows.to_numpy().nonzero()[0][0])
    cols = list(differ.columns[differ.iloc[i].to_numpy()])
    return f"{int(rows.sum())} rows differ, first {x['case_id'].iloc[i]} in {cols}"


def _report(sides: list[Side], args: argparse.Namespace, suite: Any, code: tuple[str, str, str]) -> list[str]:
    pool = min((s for s in sides if s.name == "pool"), key=lambda s: (not s.clean, s.wall_s))
    dask = min((s for s in sides if s.name == "dask"), key=lambda s: (not s.clean, s.wall_s))
    dask_run = dask.wall_s - dask.overhead_s
    lines = [
        f"suite {suite.name}: {len(suite.tasks)} tasks, {args.workers} workers, best of {args.repeat}",
        f"Dask LocalCluster: processes, {args.workers} workers, one thread each, no memory limit",
        f"{'side':<18}{'wall s':>9}{'start s':>9}{'close s':>9}{'run s':>9}{'rows':>7}{'errors':>8}{'unexpected':>12}",
    ]
    for s, label in ((pool, "process pool"), (dask, "Dask LocalCluster")):
        start, close = s.executor.get("start_s"), s.executor.get("close_s")
        lines.append(
            f"{label:<18}{s.wall_s:9.2f}{'-' if start is None else f'{start:.2f}':>9}"
            f"{'-' if close is None else f'{close:.2f}':>9}{s.wall_s - s.overhead_s:9.2f}{s.rows:7d}{s.errors:8d}"
            f"{s.unexpected:12d}"
        )
    lines.append(f"ratio Dask / pool {dask.wall_s / pool.wall_s:6.2f} including cluster start and close, "
                 f"{dask_run / pool.wall_s:.2f} excluding (target <= 1.2)")  # fmt: skip
    for s in sides:
        if s.first_error:
            lines.append(f"first error ({s.name}, {s.out}): {s.first_error}")
    for p, d in zip([s for s in sides if s.name == "pool"], [s for s in sides if s.name == "dask"], strict=True):
        lines.append(_equal_line(f"{p.out.name} vs {d.out.name}", _differences(p.out, d.out)))
    reference = ROOT / "results" / suite.name
    if not args.tasks and (reference / "results.csv").exists():
        lines.append(_equal_line(f"{dask.out.name} vs results/{suite.name}", _differences(reference, dask.out)))
    imported, checked, end = code
    lines.append(f"sparsity source as imported {imported}, Dask workers checked against {checked}, on disk at the "
                 f"end {end}" + ("" if imported == checked == end else ": CHANGED during the bench"))  # fmt: skip
    return lines


def _equal_line(what: str, diff: str) -> str:
    return f"results equal except t_* ({what}): {not diff}" + (f": {diff}" if diff else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="quick")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tasks", type=int, default=None, help="only the first N tasks of the suite")
    parser.add_argument("--repeat", type=int, default=1, help="best of N for each side")
    parser.add_argument("--out", type=Path, default=None, help="keep the output folders here")
    args = parser.parse_args()
    suite = load_suite(args.suite)
    if args.tasks:
        suite = dataclasses.replace(suite, tasks=suite.tasks[: args.tasks])
    out = args.out or Path(tempfile.mkdtemp(prefix="dask_vs_pool-"))
    sides: list[Side] = []
    for r in range(1, args.repeat + 1):  # interleaved: load that changes during the bench hits both sides
        sides.append(_run(suite, out / f"pool-{r}", "pool", workers=args.workers))
        sides.append(_run(suite, out / f"dask-{r}", "dask", workers=args.workers, scheduler="local"))
    code = (IMPORTED_CODE, str(sides[-1].executor.get("code", "-")), code_fingerprint())
    lines = _report(sides, args, suite, code)
    ok = all(s.clean for s in sides) and all(": True" in ln for ln in lines if "equal" in ln) and len(set(code)) == 1
    if ok and args.out is None:
        shutil.rmtree(out)
    else:
        lines.append(f"outputs kept in {out}")
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
