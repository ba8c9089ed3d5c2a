"""Writing outputs: one atomic file writer, the Markdown table and the JSON records of the harness and the CLI.

JSON (:func:`json_records`, :func:`write_results_json`) holds plain numbers: each float is written as the shortest
text that reads back to the same double (``90.9``, not ``90.900000000000006``), NaN and missing values as ``null``,
infinities as the strings ``"inf"`` / ``"-inf"`` (JSON has no infinity; ``true_alpha = inf`` means a light tail),
and slashes unescaped (``"a/b"``).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["atomic_write_text", "format_cell", "json_records", "json_value", "markdown_table", "write_results_json"]


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


def json_value(value: Any) -> Any:
    """One cell as a plain JSON value: Python int/float/bool/str, None for NaN or missing, ``"inf"`` for infinity.

    NumPy scalars become Python scalars (so :func:`json.dumps` writes the shortest round-tripping repr), tuples
    and arrays become lists.
    """
    if value is None or value is _NA:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isnan(v):
            return None
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return v
    if isinstance(value, (tuple, list, np.ndarray)):
        return [json_value(v) for v in value]
    return str(value)


def json_records(df: Any, *, indent: int | None = 2) -> str:
    """A DataFrame as a JSON array of records (one object per row, keys in column order), with a final newline.

    Parameters
    ----------
    df : pandas.DataFrame
    indent : int or None
        Indentation of :func:`json.dumps`; None writes one line.

    Returns
    -------
    str

    Examples
    --------
    >>> import pandas as pd
    >>> print(json_records(pd.DataFrame({"case": ["a/b"], "x": [90.9], "y": [float("nan")]}), indent=None), end="")
    [{"case": "a/b", "x": 90.9, "y": null}]
    """
    cols = [str(c) for c in df.columns]
    records = [dict(zip(cols, map(json_value, row), strict=True)) for row in df.itertuples(index=False, name=None)]
    return json.dumps(records, indent=indent, ensure_ascii=False, allow_nan=False) + "\n"


def write_results_json(df: Any, path: str | os.PathLike[str]) -> None:
    """Write ``df`` to ``path`` as :func:`json_records` (atomically); what the runner calls for ``results.json``."""
    atomic_write_text(path, json_records(df))
