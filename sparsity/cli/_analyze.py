"""``sparsity-bench analyze``: the per-layer table of a weight file, a sharded folder or a catalog entry."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sparsity import layers
from sparsity.cli._output import OUTPUT_FORMATS, write_table
from sparsity.harness import catalog
from sparsity.weights import TensorFilter, load_weights

__all__ = ["PROGRESS_MIN_TENSORS", "build_analyze"]

#: A progress bar is drawn on stderr when a file has at least this many selected tensors.
PROGRESS_MIN_TENSORS = 10


def _progress(reader: Any, label: str, enabled: bool) -> Iterable:
    if not enabled or len(reader) < PROGRESS_MIN_TENSORS:
        return reader
    from tqdm.auto import tqdm

    return tqdm(reader, total=len(reader), desc=label, unit="tensor", file=sys.stderr, leave=False)


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
    failed = int((df["status"] == "failed").sum()) if "status" in df.columns else 0
    if failed == len(df):  # no analysed row (too-small tensors still get a "skipped" row with entry columns)
        reasons = [f"{s.name}: {s.reason}" for s in reader.skipped] + [str(r) for r in df.get("reason", [])]
        why = (
            f"{failed + len(reader.skipped)} tensor(s) failed (first: {reasons[0].splitlines()[0]})"
            if reasons
            else f"none of the {len(reader)} selected tensor(s) has 2 or more dimensions"
        )
        raise ValueError(f"{source}: nothing could be analysed; {why}")
    return 0


def _with_skipped(df: Any, skipped: Sequence[Any]) -> Any:
    """Append one ``status="failed"`` row per tensor the loader could not decode (a bad tensor is recorded)."""
    if not skipped or not {"name", "status", "reason"} <= set(df.columns):
        return df
    import pandas as pd

    rows = [{"name": s.name, "shape": s.shape, "status": "failed", "reason": s.reason} for s in skipped]
    extra = pd.DataFrame(rows, columns=df.columns).astype(df.dtypes.to_dict())  # counts stay Int64 (no 256.0)
    return pd.concat([df, extra], ignore_index=True) if len(df) else extra


def build_analyze(subparsers: Any) -> argparse.ArgumentParser:
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
