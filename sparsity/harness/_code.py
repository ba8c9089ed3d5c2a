"""A fingerprint of the sparsity source code, so that Dask workers are held to the client's code (private).

The worker processes of a Dask cluster import sparsity themselves: later than the client (a ``LocalCluster``
spawns them, so they read the source files as they are when a worker first unpickles a task) and, on a real
cluster, from their own installation. A process pool forks, so its workers run the modules the parent had already
imported. A worker whose source differs (an edited working tree, a stale install on one node) gives other numbers,
or fails in one case only, without saying why; comparing fingerprints turns that into one clear error.

The reference is :data:`IMPORTED_CODE`, taken when this module is imported: sparsity's modules import each other
at module level, so a process reads all of its sparsity source within that moment (the client when it imports
the harness, a worker when it unpickles its first task). The files on disk may change later; what a process
runs does not.

Examples
--------
>>> len(code_fingerprint()) == 16 and len(IMPORTED_CODE) == 16
True
"""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["IMPORTED_CODE", "code_fingerprint"]

_PACKAGE = Path(__file__).resolve().parents[1]
"""The ``sparsity`` package folder this module was imported from."""


def code_fingerprint(root: Path | None = None) -> str:
    """The first 16 hex digits of a SHA-256 over every ``.py`` file of the package: relative path and bytes.

    Parameters
    ----------
    root : pathlib.Path, optional
        The package folder (default: the ``sparsity`` package this module belongs to).

    Returns
    -------
    str
        Equal for two installations exactly when their Python sources are equal (wherever they are installed);
        about 100 files, a few milliseconds.
    """
    root = _PACKAGE if root is None else Path(root)
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


IMPORTED_CODE = code_fingerprint()
"""The fingerprint of the source as this process imported it (see the module docstring)."""
