"""``sparsity-bench run`` and ``sparsity-bench report``: builders registered in :data:`sparsity.cli.SUBCOMMANDS`.

``run`` exits with 0 when every case ran (rows with expected data errors included), 1 when cases failed with
unexpected errors (their rows are written; the tracebacks are in ``OUT/errors.log``) or the executor lost its
workers or scheduler (``--resume`` continues), 2 for bad input, and ``128 + signum`` when stopped by a signal
(130 for SIGINT / Ctrl-C, 143 for SIGTERM; the workers are stopped, finished cases saved, ``--resume``
continues).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from sparsity.cli._output import add_figure_options, figure_kwargs
from sparsity.harness._signals import exit_status
from sparsity.harness.cases import TENSOR_PROGRESS_ENV
from sparsity.harness.report import write_report
from sparsity.harness.runner import RunFailed, RunInterrupted, run_suite
from sparsity.harness.suite import Suite, load_suite

__all__ = ["add_scheduler_option", "build_report", "build_run"]

DEFAULT_SUITE = "quick"


def _print_summary(df: Any, out: Path, suite: Suite) -> None:
    n_err, n_skip = int((df["status"] == "error").sum()), int((df["status"] == "skipped").sum())
    print(
        f"{len(df)} rows ({n_err} errors, {n_skip} skipped) written to {out}/ "
        "(results.csv, summary.md, tables/, figures/)"
    )
    for line in suite.skipped_groups:
        print(f"skipped group {line}", file=sys.stderr)


def add_scheduler_option(parser: argparse.ArgumentParser, what: str) -> None:
    """Add ``--scheduler ADDRESS|local`` (run ``what`` as Dask tasks) to a subcommand's parser."""
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS|FILE|local",
        help=f"run the {what} on a Dask cluster: a scheduler address (tcp://host:8786), a scheduler file, or "
        "'local' (a LocalCluster of --workers processes, one thread each); needs the dist extra",
    )


def _cmd_run(args: argparse.Namespace) -> int:
    suite = load_suite(args.suite)
    out = Path(args.out) if args.out else Path("runs") / suite.name  # results/ holds the published copies
    if not args.no_progress:  # cases on real weights report each tensor (workers inherit the environment)
        os.environ.setdefault(TENSOR_PROGRESS_ENV, "1")
    try:
        df = run_suite(
            suite,
            out,
            workers=args.workers,
            scheduler=args.scheduler,
            device=args.device,
            seed=args.seed,
            resume=args.resume,
            fresh=args.fresh,
            progress=not args.no_progress,
            report=False,  # rendered below with --formats / --dpi
        )
        if suite.study is not None:  # a study writes its own outputs (sparsity.harness.studies)
            print(f"{len(df)} {suite.study} rows written to {out}/ (manifest.json, summary, figures)")
            for line in suite.skipped_groups:
                print(f"skipped group {line}", file=sys.stderr)
            return 0
    except RunInterrupted as exc:
        print(f"sparsity-bench run: {exc}", file=sys.stderr)
        return 1 if exc.signum is None else exit_status(exc.signum)
    except RunFailed as exc:
        if suite.study is not None:
            print(f"sparsity-bench run: error: {exc}", file=sys.stderr)
            return 1
        write_report(out, **figure_kwargs(args))
        _print_summary(exc.results, out, suite)
        print(f"sparsity-bench run: error: {exc}", file=sys.stderr)
        return 1
    write_report(out, **figure_kwargs(args))
    _print_summary(df, out, suite)
    return 0


def build_run(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``run`` subcommand."""
    parser = subparsers.add_parser(
        "run",
        help="run a benchmark suite",
        description="Run a suite (bench/suites/NAME.toml or a TOML file) and write results.csv, manifest.json, "
        "summary.md, tables/*.tex and figures/*.png to --out (default runs/<suite>/; the published copies live "
        "in results/). Exit status: 0 done "
        "(data errors are rows), 1 cases failed with unexpected errors (tracebacks in OUT/errors.log) or the "
        "executor lost its workers (--resume continues), 2 bad input, 130 SIGINT / 143 SIGTERM (finished cases "
        "saved; --resume continues).",
    )
    parser.add_argument("--suite", default=DEFAULT_SUITE, metavar="NAME|FILE", help=f"default: {DEFAULT_SUITE}")
    parser.add_argument("--out", default=None, metavar="DIR", help="output directory (default runs/<suite>)")
    parser.add_argument("--workers", type=int, default=1, metavar="N", help="worker processes (default 1)")
    add_scheduler_option(parser, "cases")
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--seed", type=int, default=None, metavar="S", help="root seed (default: the suite's)")
    resume = parser.add_mutually_exclusive_group()
    resume.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    resume.add_argument("--fresh", action="store_true", help="discard an interrupted run in --out")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    add_figure_options(parser)
    parser.set_defaults(func=_cmd_run)
    return parser


def _cmd_report(args: argparse.Namespace) -> int:
    written = write_report(args.dir, **figure_kwargs(args))
    print(f"rendered {len(written)} files in {args.dir}")
    return 0


def build_report(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``report`` subcommand."""
    parser = subparsers.add_parser(
        "report",
        help="re-render summary, tables and figures of a run",
        description="Re-render summary.md, tables/*.tex and figures (PDF and PNG by default) from DIR/results.csv: "
        "a suite run or an `analyze --out` folder (detected from its columns).",
    )
    parser.add_argument("dir", metavar="DIR")
    add_figure_options(parser)
    parser.set_defaults(func=_cmd_report)
    return parser
