"""Where the files shipped with sparsity lie: the suites (``bench/suites``) and the catalog (``datasets``).

In a source checkout or an editable install they are read from the source tree. A wheel carries the same
files as the data packages ``sparsity.shipped_suites`` and ``sparsity.shipped_datasets`` (mapped from those
directories in ``pyproject.toml``).
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

__all__ = ["shipped_dir"]


def shipped_dir(source_dir: str, package: str) -> Path:
    """The directory ``source_dir`` (relative to the source root) or, in a wheel install, the data ``package``."""
    source = Path(__file__).resolve().parents[1] / source_dir
    if source.is_dir():
        return source
    try:
        spec = find_spec(package)  # a namespace package (the data directories have no __init__.py)
    except ModuleNotFoundError:
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return source  # neither: callers report the missing file with this path
    return Path(next(iter(spec.submodule_search_locations)))
