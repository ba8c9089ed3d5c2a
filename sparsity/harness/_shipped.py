"""Where the files shipped with sparsity lie: the suites (``bench/suites``) and the catalog (``datasets``).

In a source checkout (``pyproject.toml`` beside the package) they are read from the source tree. An
install finds them as the data packages ``sparsity.shipped_suites`` and ``sparsity.shipped_datasets``
(mapped from those directories in ``pyproject.toml``): a wheel carries them, an editable install maps them
to the source tree.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

__all__ = ["shipped_dir"]

_SOURCE_ROOT = Path(__file__).resolve().parents[2]


def shipped_dir(source_dir: str, package: str) -> Path:
    """The directory ``source_dir`` of the source checkout, else the data ``package``'s directory.

    A directory of the same name elsewhere (site-packages holds other projects' ``datasets``) is never taken
    for ours: the source tree counts only beside its ``pyproject.toml``. With neither, the source path is
    returned, so that the caller's error names it.
    """
    source = _SOURCE_ROOT / source_dir
    if (_SOURCE_ROOT / "pyproject.toml").is_file() and source.is_dir():
        return source
    try:
        spec = find_spec(package)  # a namespace package (the data directories have no __init__.py)
    except ModuleNotFoundError:
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return source
    return Path(next(iter(spec.submodule_search_locations)))
