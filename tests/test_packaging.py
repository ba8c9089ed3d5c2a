"""Packaging: every subpackage is in the wheel, and the shipped suites and catalog are found from a wheel too."""

from __future__ import annotations

from pathlib import Path

import pytest

from sparsity.harness._shipped import shipped_dir

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def _setuptools() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_subpackage_is_listed():
    # pyproject lists the packages explicitly (it maps the data packages); a new subpackage must be added there
    listed = set(_setuptools()["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "sparsity").rglob("__init__.py")}
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"


def test_data_packages_map_to_the_shipped_files():
    st = _setuptools()
    for package, directory in st["package-dir"].items():
        assert package in st["packages"]
        patterns = st["package-data"][package]
        assert any(any((ROOT / directory).glob(p)) for p in patterns), (package, directory)
    from sparsity.harness.catalog import CATALOG_PATH
    from sparsity.harness.suite import SUITES_DIR

    assert SUITES_DIR == ROOT / "bench" / "suites" and CATALOG_PATH == ROOT / "datasets" / "catalog.toml"


def test_shipped_dir_falls_back_to_the_data_package(tmp_path, monkeypatch):
    import sparsity.harness._shipped as shipped
    import sparsity.tails

    # no such source directory: the package's own directory (what a wheel install finds)
    assert shipped_dir("no/such/dir", "sparsity.tails") == Path(sparsity.tails.__file__).parent
    # neither: the source path, so that the caller's error names it
    missing = shipped_dir("no/such/dir", "sparsity.no_such_package")
    assert missing == ROOT / "no" / "such" / "dir"
    # installed (no pyproject.toml beside the package): another project's "datasets" directory is not ours
    (tmp_path / "datasets").mkdir()
    monkeypatch.setattr(shipped, "_SOURCE_ROOT", tmp_path)
    assert shipped_dir("datasets", "sparsity.tails") == Path(sparsity.tails.__file__).parent


@pytest.mark.parametrize("name", ["quick", "full", "gpu"])
def test_shipped_suites_load(name):
    from sparsity.harness.suite import load_suite

    assert load_suite(name).name == name


def test_a_suite_name_is_not_shadowed_by_a_directory(tmp_path, monkeypatch):
    from sparsity.harness.suite import load_suite

    (tmp_path / "quick").mkdir()
    monkeypatch.chdir(tmp_path)
    assert load_suite("quick").name == "quick"
