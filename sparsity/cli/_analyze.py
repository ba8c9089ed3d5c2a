"""``sparsity-bench analyze``: the per-layer table of checkpoints (files, sharded folders, catalog entries).

One path without ``--out`` prints the table as ever (``--format``, ``-o``). Several paths give one table with a
``checkpoint`` column. ``--out DIR`` makes the analysis a resumable job (:mod:`sparsity.harness.analysis`) that
writes ``results.csv``, ``results.json``, ``spectra.csv`` (the eigenvalues of the report's ESD figure),
``manifest.json`` and the report. ``--workers``/``--scheduler`` run the tensors on a process pool or a Dask
cluster. Exit status: 0 done, 1 the executor lost its workers (``--resume``
continues), 2 bad input or nothing could be analysed, 130/143 stopped by SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import functools
import sys
from typing import Any

from sparsity.cli._output import OUTPUT_FORMATS, add_figure_options, figure_kwargs, write_table
from sparsity.cli._run import add_scheduler_option
from sparsity.harness._signals import exit_status
from sparsity.harness.analysis import PROGRESS_MIN_TENSORS, analyze_checkpoints
from sparsity.harness.columns import ANALYZE_TERMINAL_COLUMNS
from sparsity.harness.report import write_report
from sparsity.harness.runner import RunInterrupted
from sparsity.layers._entry import ENTRY_METHODS
from sparsity.weights import TensorFilter

__all__ = ["PROGRESS_MIN_TENSORS", "build_analyze"]


def _select(args: argparse.Namespace) -> TensorFilter:
    include, exclude = tuple(args.include or ()), tuple(args.exclude or ())
    if args.all_tensors:  # every tensor, still subject to --include / --exclude
        return TensorFilter(min_ndim=0, max_ndim=64, min_side=1, floating_only=False, include=include,
                            exclude=exclude)  # fmt: skip
    return TensorFilter(include=include, exclude=TensorFilter().exclude + exclude)


def _check_analysed(df: Any, paths: list[str]) -> None:
    """ValueError when no tensor could be analysed (every row failed, or no tensor with 2 dimensions)."""
    if "status" not in df.columns:
        return
    failed = int((df["status"] == "failed").sum())
    if failed < len(df):
        return
    names = [str(n) for n in df.get("name", [""] * len(df))]
    reasons = [f"{n}: {r}" if n else str(r) for n, r in zip(names, df.get("reason", []), strict=False)]
    why = (
        f"{failed} tensor(s) failed (first: {reasons[0].splitlines()[0]})"
        if reasons
        else f"none of the {df.attrs.get('tensors', 0)} selected tensor(s) has 2 or more dimensions"
    )
    raise ValueError(f"{', '.join(paths)}: nothing could be analysed; {why}")


def _analysis_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options of :func:`sparsity.analyze_weights` given on the command line (defaults left out)."""
    options: dict[str, Any] = {}
    if args.entry_method != ENTRY_METHODS[0]:
        options["entry_method"] = args.entry_method
    if args.stability:
        options["stability"] = True
    return options


def _cmd_analyze(args: argparse.Namespace) -> int:
    if args.out is None and (args.resume or args.fresh):
        raise ValueError("--resume and --fresh need --out DIR (an analysis without --out keeps nothing)")
    try:
        df = analyze_checkpoints(
            args.paths,
            args.out,
            select=_select(args),
            engine=args.engine,
            options=_analysis_options(args),
            workers=args.workers,
            scheduler=args.scheduler,
            resume_run=args.resume,
            fresh=args.fresh,
            progress=not args.no_progress,
            report=functools.partial(write_report, **figure_kwargs(args)),
        )
    except RunInterrupted as exc:
        print(f"sparsity-bench analyze: {exc}", file=sys.stderr)
        return 1 if exc.signum is None else exit_status(exc.signum)
    if args.out is None or args.output is not None or args.format is not None:
        compact = (("checkpoint",) if "checkpoint" in df.columns else ()) + ANALYZE_TERMINAL_COLUMNS
        write_table(df, args.format, args.output, columns=args.columns, default_columns=compact)
    if args.out is not None:
        files = "results.csv, results.json, spectra.csv, manifest.json, summary.md"
        print(f"{len(df)} rows written to {args.out}/ ({files})")
    _check_analysed(df, args.paths)
    return 0


def build_analyze(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``analyze`` subcommand."""
    parser = subparsers.add_parser(
        "analyze",
        help="per-layer table of weight files, sharded folders or catalog entries",
        description="Analyse every weight matrix of each PATH (safetensors, sharded safetensors, npy/npz, "
        "PyTorch, ONNX, GGUF; format detected from content), tensor by tensor, and print the per-layer table "
        "of sparsity.analyze_weights. PATH may be a catalog name (see `sparsity-bench datasets`) or LABEL=PATH; "
        "checkpoints are named by their label, else their folder. With --out the analysis is resumable and "
        "writes results.csv, results.json, spectra.csv (eigenvalues of the ESD figure's layers), manifest.json and "
        "the report. Exit status: 0 done, 1 lost workers "
        "(--resume continues), 2 bad input, 130/143 stopped by SIGINT/SIGTERM.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="weight file, folder, catalog name or LABEL=PATH")
    parser.add_argument("--out", default=None, metavar="DIR", help="write a resumable analysis and its report here")
    parser.add_argument("--format", choices=OUTPUT_FORMATS, default=None, help="default: from --output, else table")
    parser.add_argument("--output", "-o", metavar="FILE", default=None, help="write here instead of stdout")
    parser.add_argument(
        "--columns",
        default=None,
        metavar="LIST|all",
        help="columns to show: a comma list or 'all' (default in a terminal: "
        f"{','.join(ANALYZE_TERMINAL_COLUMNS)}; files get every column)",
    )
    parser.add_argument(
        "--all-tensors", action="store_true", help="pass every tensor on (not only matrices and conv kernels)"
    )
    parser.add_argument("--include", action="append", metavar="REGEX", help="keep only names matching (repeatable)")
    parser.add_argument("--exclude", action="append", metavar="REGEX", help="also skip names matching (repeatable)")
    parser.add_argument("--engine", choices=("auto", "torch", "builtin"), default="auto", help="torch checkpoints")
    parser.add_argument(
        "--entry-method",
        choices=ENTRY_METHODS,
        default=ENTRY_METHODS[0],
        help=f"entry-tail estimator on the 20,000 largest magnitudes (default {ENTRY_METHODS[0]}: exact CSN, no seed)",
    )
    parser.add_argument(
        "--stability",
        action="store_true",
        help="also refit on the float16- and bfloat16-rounded weights (*_fp16, *_bf16, *_unstable columns)",
    )
    parser.add_argument("--workers", type=int, default=1, metavar="N", help="worker processes (default 1)")
    add_scheduler_option(parser, "tensors")
    resume = parser.add_mutually_exclusive_group()
    resume.add_argument("--resume", action="store_true", help="continue an interrupted analysis in --out")
    resume.add_argument("--fresh", action="store_true", help="discard an interrupted analysis in --out")
    parser.add_argument("--no-progress", action="store_true", help="no per-tensor progress on stderr")
    add_figure_options(parser)
    parser.set_defaults(func=_cmd_analyze)
    return parser
