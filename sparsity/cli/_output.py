"""Rendering tables for the command line: terminal text, CSV, Markdown or JSON, to stdout or a file."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sparsity.harness._io import atomic_write_text, markdown_table

__all__ = ["OUTPUT_FORMATS", "write_table"]

OUTPUT_FORMATS = ("table", "csv", "markdown", "json")
_EXTENSIONS = {".csv": "csv", ".md": "markdown", ".markdown": "markdown", ".json": "json", ".txt": "table"}


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
