"""``sparsity-bench run`` and ``sparsity-bench report``: builders registered in :data:`sparsity.cli.SUBCOMMANDS`.

``run`` exits with 0 when every case ran (rows with expected data errors included), 1 when cases failed with
unexpected errors (their rows are written; the tracebacks are in ``OUT/errors.log``), 2 for bad input and 130
when interrupted (``--resume`` continues).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sparsity.harness.report import write_report
from sparsity.harness.runner import RunFailed, RunInterrupted, run_suite
from sparsity.harness.suite import Suite, load_suite

__all__ = ["build_report", "build_run"]

DEFAULT_SUITE = "quick"


def _print_summary(df: Any, out: Path, suite: Suite) -> None:
    n_err, n_skip = int((df["status"] == "error").sum()), int((df["status"] == "skipped").sum())
    print(
        f"{len(df)} rows ({n_err} errors, {n_skip} skipped) written to {out}/ "
        "(results.csv, summary.md, tables/, figures/)"
    )
    for line in suite.skipped_groups:
        print(f"skipped group {line}", file=sys.stderr)


def _cmd_run(args: argparse.Namespace) -> int:
    suite = load_suite(args.suite)
    out = Path(args.out) if args.out else Path("results") / suite.name
    try:
        df = run_suite(
            suite,
            out,
            workers=args.workers,
            device=args.device,
            seed=args.seed,
            resume=args.resume,
            fresh=args.fresh,
            progress=not args.no_progress,
        )
    except RunInterrupted as exc:
        print(f"sparsity-bench run: {exc}", file=sys.stderr)
        return 130
    except RunFailed as exc:
        _print_summary(exc.results, out, suite)
        print(f"sparsity-bench run: error: {exc}", file=sys.stderr)
        return 1
    _print_summary(df, out, suite)
    return 0


def build_run(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``run`` subcommand."""
    parser = subparsers.add_parser(
        "run",
        help="run a benchmark suite",
        description="Run a suite (bench/suites/NAME.toml or a TOML file) and write results.csv, manifest.json, "
        "summary.md, tables/*.tex and figures/*.png to --out (default results/<suite>/). Exit status: 0 done "
        "(data errors are rows), 1 cases failed with unexpected errors (tracebacks in OUT/errors.log), 2 bad "
        "input, 130 interrupted.",
    )
    parser.add_argument("--suite", default=DEFAULT_SUITE, metavar="NAME|FILE", help=f"default: {DEFAULT_SUITE}")
    parser.add_argument("--out", default=None, metavar="DIR", help="output directory (default results/<suite>)")
    parser.add_argument("--workers", type=int, default=1, metavar="N", help="worker processes (default 1)")
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--seed", type=int, default=None, metavar="S", help="root seed (default: the suite's)")
    resume = parser.add_mutually_exclusive_group()
    resume.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    resume.add_argument("--fresh", action="store_true", help="discard an interrupted run in --out")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.set_defaults(func=_cmd_run)
    return parser


def _cmd_report(args: argparse.Namespace) -> int:
    written = write_report(args.dir)
    print(f"rendered {len(written)} files in {args.dir}")
    return 0


def build_report(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``report`` subcommand."""
    parser = subparsers.add_parser(
        "report",
        help="re-render summary, tables and figures of a run",
        description="Re-render summary.md, tables/*.tex and figures/*.png from DIR/results.csv.",
    )
    parser.add_argument("dir", metavar="DIR")
    parser.set_defaults(func=_cmd_report)
    return parser
