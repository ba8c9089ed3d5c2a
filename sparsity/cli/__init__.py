"""The ``sparsity-bench`` command.

Subcommands are registered in :data:`SUBCOMMANDS`, a dict from name to a builder ``build(subparsers)`` that adds
its parser and sets ``func`` (the handler, ``handler(args) -> int``) with ``set_defaults``; adding a subcommand
is adding one builder to the dict. Expected failures (:class:`~sparsity.weights.WeightsError`, ``ValueError``,
``OSError``, an executor that cannot start) are printed as one line on stderr with exit status 2, without a
traceback. A run stopped by SIGINT or SIGTERM exits with ``128 + signum`` (130, 143) after saving its finished
work (the handlers are installed by the runner and the analysis job while they execute).

Examples
--------
>>> from sparsity.cli import main
>>> main(["datasets", "--format", "csv"])  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from sparsity._version import __version__
from sparsity.cli._analyze import PROGRESS_MIN_TENSORS, build_analyze
from sparsity.cli._datasets import build_datasets
from sparsity.cli._output import OUTPUT_FORMATS, write_table
from sparsity.cli._run import build_report, build_run
from sparsity.harness.executors import ExecutorError
from sparsity.weights import WeightsError

__all__ = ["OUTPUT_FORMATS", "PROGRESS_MIN_TENSORS", "SUBCOMMANDS", "build_parser", "main", "write_table"]

Builder = Callable[[Any], argparse.ArgumentParser]


#: Subcommand name -> builder; each builder adds its subparser and sets ``func`` to its handler.
SUBCOMMANDS: dict[str, Builder] = {
    "run": build_run,
    "analyze": build_analyze,
    "datasets": build_datasets,
    "report": build_report,
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with one subparser per entry of :data:`SUBCOMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="sparsity-bench",
        description="Compressibility benchmarks: best-k errors, tail indices and spectra of data and weights.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for builder in SUBCOMMANDS.values():
        builder(subparsers)
    return parser


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"sparsity-bench: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    0 ok, 1 failed cases or a lost executor (resumable), 2 bad input, unreadable weights or an executor that
    cannot start, 128 + signum when stopped by a signal (130 SIGINT, 143 SIGTERM).
    """
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings():
        warnings.showwarning = _one_line_warning
        try:
            return int(args.func(args) or 0)
        except (WeightsError, ValueError, OSError, ExecutorError) as exc:
            print(f"sparsity-bench {args.command}: error: {exc}", file=sys.stderr)
            return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
