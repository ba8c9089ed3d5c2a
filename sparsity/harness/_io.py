"""Writing outputs: one atomic file writer and one Markdown table renderer for the harness and the CLI."""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["atomic_write_text", "format_cell", "markdown_table"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory and an atomic rename.

    A reader never sees half a file, and an interrupted write leaves the previous file in place. The file gets
    the permissions a plain ``open(path, "w")`` would give (``0o666`` less the umask), not ``mkstemp``'s 0600.
    """
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def format_cell(value: Any, digits: int = 3) -> str:
    """One table cell: booleans as yes/no, NaN and None empty, floats to ``digits`` significant digits."""
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isnan(v):
            return ""
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return f"{v:.{digits}g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.{max(digits - 1, 1)}e}"
    try:
        if value is _NA:
            return ""
    except TypeError:  # pragma: no cover
        pass
    return str(value)


try:  # pandas' missing value for nullable columns
    from pandas import NA as _NA
except ImportError:  # pragma: no cover
    _NA = object()


def markdown_table(df: Any, digits: int = 3) -> str:
    """A DataFrame as a GitHub Markdown table: numeric columns right-aligned, text columns left-aligned.

    Parameters
    ----------
    df : pandas.DataFrame
    digits : int
        Significant digits of floating cells.

    Returns
    -------
    str
        The table, one line per row and a trailing newline.
    """
    cols = [str(c) for c in df.columns]
    numeric = [bool(getattr(df[c].dtype, "kind", "O") in "iuf") for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---:" if num else ":---" for num in numeric) + "|"]
    for row in df.itertuples(index=False):
        cells = (format_cell(v, digits).replace("|", "\\|").replace("\n", " ") for v in row)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
