"""Rendering tables for the command line: terminal text, CSV, Markdown, JSON or LaTeX, to stdout or a file.

The format comes from ``--format`` or, for ``-o FILE``, from the file's extension (:data:`EXTENSIONS`); an
extension that names no table format (``-o a.png``) is refused rather than filled with text. Files are written
atomically with the permissions of a plain ``open(path, "w")`` (0644 under the usual umask). JSON holds plain
numbers (:func:`sparsity.harness._io.json_records`). In a terminal a table shows its compact default columns
(``default_columns``; ``--columns all`` shows every one), with short headers (:data:`TERMINAL_HEADERS`).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sparsity.harness._figures import DEFAULT_DPI, DEFAULT_FORMATS, FIGURE_FORMATS, parse_formats
from sparsity.harness._io import atomic_write_text, format_cell, json_records, markdown_table
from sparsity.harness._tables import latex_table

__all__ = [
    "EXTENSIONS",
    "OUTPUT_FORMATS",
    "TERMINAL_HEADERS",
    "add_figure_options",
    "figure_kwargs",
    "output_format",
    "select_columns",
    "write_table",
]

OUTPUT_FORMATS = ("table", "csv", "markdown", "json", "latex")
EXTENSIONS = {
    ".txt": "table", ".csv": "csv", ".md": "markdown", ".markdown": "markdown", ".json": "json", ".tex": "latex",
}  # fmt: skip
"""File extension -> format, for ``-o FILE`` without ``--format``."""
TERMINAL_HEADERS = {
    "sv_tail_index": "sv_tail",
    "measured_rank_decay": "rank_decay",
    "entry_measured_decay": "entry_decay",
    "compressible": "compr",
    "entry_compressible": "entry_compr",
}
"""Short headers of the terminal table (files keep the column names)."""


def output_format(fmt: str | None, output: str | os.PathLike[str] | None) -> str:
    """The format to write: ``fmt`` when given, else from ``output``'s extension, else ``table``.

    Raises
    ------
    ValueError
        An unknown ``fmt``; an extension that is no table format (``.png``); or one that contradicts ``fmt``.
    """
    if fmt is not None and fmt not in OUTPUT_FORMATS:
        raise ValueError(f"format must be one of {', '.join(OUTPUT_FORMATS)}; got {fmt!r}")
    if output is None:
        return fmt or "table"
    suffix = Path(output).suffix.lower()
    inferred = EXTENSIONS.get(suffix)
    known = ", ".join(EXTENSIONS)
    if fmt is None:
        if inferred is None and suffix:
            raise ValueError(
                f"--output {os.fspath(output)!r}: cannot write a table as {suffix!r}; use one of {known} "
                "(figures come from `sparsity-bench report` or `--out DIR`)"
            )
        return inferred or "table"
    if inferred is not None and inferred != fmt:
        raise ValueError(f"--output {os.fspath(output)!r}: extension {suffix!r} means {inferred}, not --format {fmt}")
    return fmt


def select_columns(df: Any, columns: str | Sequence[str] | None, default: Sequence[str] | None = None) -> Any:
    """The columns to show: ``columns`` (a comma list, a sequence, or ``"all"``), else ``default``, else all.

    Raises
    ------
    ValueError
        Naming the unknown columns and listing the available ones.
    """
    if columns is None:
        if default is None:
            return df
        return df[[c for c in default if c in df.columns]]
    names = [c.strip() for c in columns.split(",")] if isinstance(columns, str) else [str(c) for c in columns]
    names = [c for c in names if c]
    if names == ["all"]:
        return df
    missing = [c for c in names if c not in df.columns]
    if missing or not names:
        raise ValueError(
            f"--columns: unknown column(s) {', '.join(missing) or '(none given)'}; available: "
            f"{', '.join(map(str, df.columns))} (or all)"
        )
    return df[names]


def _terminal_cell(value: Any) -> str:
    if isinstance(value, tuple):
        return "x".join(map(str, value))
    return format_cell(value, 3).replace("\n", " ")


def _terminal(df: Any) -> str:
    """Fixed-width text: numbers right-aligned, text left-aligned, one space apart, short headers."""
    if not len(df.columns):
        return "\n"
    heads = [TERMINAL_HEADERS.get(str(c), str(c)) for c in df.columns]
    cells = [[_terminal_cell(v) for v in df[c]] for c in df.columns]
    numeric = [getattr(df[c].dtype, "kind", "O") in "iuf" for c in df.columns]
    widths = [max([len(h), *map(len, col)]) for h, col in zip(heads, cells, strict=True)]

    def line(items: Sequence[str]) -> str:
        parts = (t.rjust(w) if num else t.ljust(w) for t, w, num in zip(items, widths, numeric, strict=True))
        return " ".join(parts).rstrip()

    rows = [line(heads)] + [line(row) for row in zip(*cells, strict=True)]
    return "\n".join(rows) + "\n"


def _render(df: Any, fmt: str, output: str | os.PathLike[str] | None) -> str:
    caption = f"{Path(output).stem}" if output is not None else "table"
    renderers: dict[str, Callable[[Any], str]] = {
        "table": _terminal,
        "csv": lambda d: d.to_csv(index=False),
        "markdown": lambda d: markdown_table(d, digits=4),
        "json": json_records,
        "latex": lambda d: latex_table(d, caption, f"tab:{caption}"),
    }
    return renderers[fmt](df)


def write_table(
    df: Any,
    fmt: str | None = None,
    output: str | os.PathLike[str] | None = None,
    *,
    columns: str | Sequence[str] | None = None,
    default_columns: Sequence[str] | None = None,
) -> str:
    """Render a DataFrame as ``table``, ``csv``, ``markdown``, ``json`` or ``latex``; print it, or write it.

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    fmt : str, optional
        Output format; default: from ``output``'s extension (:data:`EXTENSIONS`), else ``table``.
    output : path, optional
        File to write (through a temporary file and a rename, so a reader never sees half a table).
    columns : str or sequence of str, optional
        Columns to keep: a comma list or ``"all"``; default: ``default_columns`` for a table printed to the
        terminal, every column otherwise.
    default_columns : sequence of str, optional
        The compact default of the terminal table (names missing from ``df`` are left out).

    Returns
    -------
    str
        The rendered text.

    Raises
    ------
    ValueError
        An unknown format or column, or an ``output`` extension that is not a table format.
    """
    fmt = output_format(fmt, output)
    compact = default_columns if fmt == "table" and output is None else None
    text = _render(select_columns(df, columns, compact), fmt, output)
    if output is None:
        sys.stdout.write(text)
        return text
    atomic_write_text(output, text)
    return text


def _formats_arg(text: str) -> tuple[str, ...]:
    try:
        return parse_formats(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_figure_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--formats`` and ``--dpi`` (how figures are saved) to a subcommand's parser."""
    parser.add_argument(
        "--formats",
        type=_formats_arg,
        default=DEFAULT_FORMATS,
        metavar="LIST",
        help=f"figure formats, a comma list of {', '.join(FIGURE_FORMATS)} (default: {','.join(DEFAULT_FORMATS)})",
    )
    parser.add_argument(
        "--dpi", type=int, default=DEFAULT_DPI, metavar="N", help=f"PNG resolution (default {DEFAULT_DPI})"
    )


def figure_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The ``formats`` and ``dpi`` keywords of :func:`sparsity.harness.report.write_report` from parsed args."""
    return {
        "formats": getattr(args, "formats", DEFAULT_FORMATS),
        "dpi": getattr(args, "dpi", DEFAULT_DPI),
    }
