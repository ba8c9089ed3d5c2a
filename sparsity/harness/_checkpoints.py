"""The inputs of an analysis: ``PATH``, ``LABEL=PATH`` or a catalog name -> a named :class:`Checkpoint`."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sparsity.harness import catalog

__all__ = ["Checkpoint", "checkpoints", "resolve_source"]


@dataclass(frozen=True)
class Checkpoint:
    """One input: its name in the results and the path it was resolved to."""

    label: str
    source: str


def resolve_source(path: str) -> str:
    """A path, or the installed folder of the catalog entry of that name when no such path exists."""
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


def _default_name(arg: str, source: str) -> tuple[str, str]:
    """(name, longer name used when names collide) of an input given without a label."""
    if not os.path.exists(arg):  # a catalog entry
        return arg, arg
    p = Path(source).resolve()
    if p.is_dir():
        return p.name, f"{p.parent.name}/{p.name}"
    return p.parent.name or p.stem, f"{p.parent.name}/{p.name}"


def checkpoints(paths: Sequence[str]) -> list[Checkpoint]:
    """Name and resolve the inputs (``PATH``, ``LABEL=PATH`` or a catalog name).

    Parameters
    ----------
    paths : sequence of str
        The inputs, in order.

    Returns
    -------
    list of Checkpoint
        One per input, in order.

    Raises
    ------
    ValueError
        An empty label, or two inputs with the same name (give them labels: ``LABEL=PATH``).

    Examples
    --------
    >>> [c.label for c in checkpoints(["ckA/model.safetensors", "ckB/model.safetensors"])]  # doctest: +SKIP
    ['ckA', 'ckB']
    """
    found: list[tuple[str | None, str, str]] = []
    for arg in paths:
        label, sep, rest = arg.partition("=")
        if sep and not os.path.exists(arg):
            if not label:
                raise ValueError(f"input {arg!r}: the label before '=' is empty (LABEL=PATH)")
            found.append((label, rest, resolve_source(rest)))
        else:
            found.append((None, arg, resolve_source(arg)))
    names = [(label, label) if label else _default_name(arg, src) for label, arg, src in found]
    short = [n for n, _ in names]
    chosen = [
        n if label or short.count(n) == 1 else long for (label, _, _), (n, long) in zip(found, names, strict=True)
    ]
    for i, name in enumerate(chosen):
        if chosen.index(name) != i:
            first = found[chosen.index(name)][1]
            raise ValueError(f"inputs {first!r} and {found[i][1]!r} are both named {name!r}; name them with LABEL=PATH")
    return [Checkpoint(name, src) for name, (_, _, src) in zip(chosen, found, strict=True)]
