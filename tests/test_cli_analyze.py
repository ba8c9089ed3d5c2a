"""Tests for the ``sparsity-bench`` command: ``analyze`` and ``datasets`` (in-process and as a subprocess)."""

from __future__ import annotations

import io
import json
import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from sparsity import cli
from sparsity.cli import SUBCOMMANDS, build_parser, main, write_table
from sparsity.harness import catalog

RNG = np.random.default_rng(11)


@pytest.fixture
def npz(tmp_path):
    path = tmp_path / "model.npz"
    np.savez(
        path,
        fc1=RNG.standard_normal((48, 24)).astype(np.float32),
        fc2=RNG.standard_t(2.5, (32, 48)).astype(np.float32),
        fc1_bias=np.zeros(48, np.float32),
    )
    return path


def _run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# ------------------------------------------------------------------------------------------- the parser
def test_subcommands_are_registered_by_builders():
    assert {"analyze", "datasets"} <= set(SUBCOMMANDS)
    args = build_parser().parse_args(["analyze", "x.safetensors", "--format", "csv"])
    assert args.command == "analyze" and args.format == "csv" and args.func is not None


def test_a_new_subcommand_is_one_builder(monkeypatch, capsys):
    def build_hello(subparsers):
        parser = subparsers.add_parser("hello")
        parser.add_argument("--who", default="world")
        parser.set_defaults(func=lambda args: print(f"hello {args.who}") or 0)
        return parser

    monkeypatch.setitem(SUBCOMMANDS, "hello", build_hello)
    assert _run(["hello", "--who", "lead"], capsys)[:2] == (0, "hello lead\n")


def test_bad_option_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["analyze", "x", "--format", "xml"])
    assert info.value.code == 2


# -------------------------------------------------------------------------------------------- bad input
def _evil_checkpoint(tmp_path):
    class Evil:
        def __reduce__(self):
            return (open, (str(tmp_path / "pwned"), "w"))

    import zipfile

    path = tmp_path / "evil.pt"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps({"w": Evil()}, protocol=2))
    return path


@pytest.mark.parametrize("case", ["missing", "empty-dir", "truncated", "unknown", "malicious"])
def test_bad_input_is_one_line_and_exit_2(tmp_path, npz, capsys, case):
    if case == "missing":
        target = tmp_path / "absent.safetensors"
    elif case == "empty-dir":
        target = tmp_path / "empty"
        target.mkdir()
    elif case == "truncated":
        target = tmp_path / "cut.npz"
        target.write_bytes(npz.read_bytes()[:300])
    elif case == "unknown":
        target = tmp_path / "notes.txt"
        target.write_text("not weights")
    else:
        target = _evil_checkpoint(tmp_path)
    code, out, err = _run(["analyze", target, "--engine", "builtin"], capsys)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("sparsity-bench analyze: error: ") and target.name in err
    assert not (tmp_path / "pwned").exists()


def test_nothing_selected_is_an_error(tmp_path, capsys):
    path = tmp_path / "biases.npz"
    np.savez(path, bias=np.zeros(4))
    code, _, err = _run(["analyze", path], capsys)
    assert code == 2 and "--all-tensors" in err


def test_console_script_in_a_subprocess(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "sparsity.cli", "analyze", str(tmp_path / "nope.gguf")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "nope.gguf" in done.stderr and "Traceback" not in done.stderr


# ---------------------------------------------------------------------------------- analyze (stubbed)
@pytest.fixture
def stub_spectra(monkeypatch):
    """Replace analyze_weights with a recorder, to test the plumbing independently of the metrics."""
    seen = []

    def analyze_weights(source, **options):
        rows = []
        for name, w in source:
            seen.append((name, w.shape, w.dtype))
            rows.append({"name": name, "rows": w.shape[0], "fro": float(np.linalg.norm(w))})
        return pd.DataFrame(rows)

    import sparsity.layers

    monkeypatch.setattr(sparsity.layers, "analyze_weights", analyze_weights)
    return seen


def test_analyze_passes_selected_tensors(npz, capsys, stub_spectra):
    code, out, _ = _run(["analyze", npz, "--format", "csv"], capsys)
    assert code == 0
    assert [s[0] for s in stub_spectra] == ["fc1", "fc2"]
    df = pd.read_csv(io.StringIO(out))
    assert list(df["name"]) == ["fc1", "fc2"] and list(df["rows"]) == [48, 32]
    stub_spectra.clear()
    _run(["analyze", npz, "--all-tensors", "--exclude", "fc2"], capsys)
    assert [s[0] for s in stub_spectra] == ["fc1", "fc1_bias"]
    stub_spectra.clear()
    _run(["analyze", npz, "--include", "fc2"], capsys)
    assert [s[0] for s in stub_spectra] == ["fc2"]


def test_progress_bar_only_for_many_tensors(tmp_path, capsys, stub_spectra):
    few, many = tmp_path / "few.npz", tmp_path / "many.npz"
    np.savez(few, **{f"w{i}": np.ones((3, 3)) for i in range(2)})
    np.savez(many, **{f"w{i}": np.ones((3, 3)) for i in range(cli.PROGRESS_MIN_TENSORS)})
    assert _run(["analyze", few], capsys)[2] == ""
    lines = _run(["analyze", many], capsys)[2].splitlines()
    # Not a terminal: one plain line per tensor (name, shape, seconds), no carriage returns.
    assert len(lines) == cli.PROGRESS_MIN_TENSORS and "\r" not in "".join(lines)
    assert lines[0].startswith(f"[1/{cli.PROGRESS_MIN_TENSORS}] ") and " w0 3x3 " in lines[0]
    assert lines[0].endswith(" s")
    assert _run(["analyze", many, "--no-progress"], capsys)[2] == ""


@pytest.mark.parametrize(
    ("suffix", "fmt"), [(".csv", "csv"), (".json", "json"), (".md", "markdown"), (".txt", "table")]
)
def test_output_file_format_from_extension(tmp_path, npz, capsys, stub_spectra, suffix, fmt):
    target = tmp_path / f"out{suffix}"
    code, out, _ = _run(["analyze", npz, "-o", target], capsys)
    assert code == 0 and out == ""
    text = target.read_text()
    if fmt == "csv":
        assert list(pd.read_csv(target)["name"]) == ["fc1", "fc2"]
    elif fmt == "json":
        assert [r["name"] for r in json.loads(text)] == ["fc1", "fc2"]
    elif fmt == "markdown":
        lines = text.splitlines()
        assert lines[0] == "| name | rows | fro |" and lines[1] == "|:---|---:|---:|" and len(lines) == 4
    else:
        assert text.splitlines()[0].split() == ["name", "rows", "fro"]
    assert list(tmp_path.glob(".out*")) == []  # no temporary file left behind


def test_unwritable_output_is_one_line(tmp_path, npz, capsys, stub_spectra):
    code, _, err = _run(["analyze", npz, "-o", tmp_path / "no" / "dir" / "out.csv"], capsys)
    assert code == 2 and err.count("\n") == 1


def test_write_table_markdown_escapes_and_formats(capsys):
    df = pd.DataFrame({"name": ["a|b"], "x": [1.0 / 3.0], "y": [float("nan")]})
    text = write_table(df, "markdown")
    assert text.splitlines()[2] == "| a\\|b | 0.3333 |  |"
    with pytest.raises(ValueError, match="format must be"):
        write_table(df, "xml")
    capsys.readouterr()


# ------------------------------------------------------------------------------------- analyze (real)
def test_analyze_real_metrics_on_a_small_file(npz, capsys):
    code, out, err = _run(["analyze", npz, "--format", "json"], capsys)
    assert code == 0, err
    rows = json.loads(out)
    assert [r["name"] for r in rows] == ["fc1", "fc2"]
    assert {"alpha_ww", "sv_tail_index", "entry_alpha", "status"} <= set(rows[0])
    assert all(r["status"] == "ok" for r in rows)
    from sparsity import analyze_weights
    from sparsity.weights import load_weights

    direct = analyze_weights(load_weights(npz))
    # JSON keeps 15 decimal places, so each value is within 5e-16 of the in-memory one.
    assert np.allclose([r["alpha_ww"] for r in rows], direct["alpha_ww"], rtol=0, atol=1e-15)


@pytest.mark.parametrize(
    ("flags", "kwargs"),
    [([], {}), (["--entry-method", "hill"], {"entry_method": "hill"}), (["--stability"], {"stability": True})],
)
def test_entry_method_and_stability_options(npz, capsys, flags, kwargs, tmp_path):
    # the analyze_weights options of the command line: the same rows as the API with the same options
    from sparsity import analyze_weights
    from sparsity.weights import load_weights

    out_dir = tmp_path / "out"
    code, _, err = _run(["analyze", npz, "--out", out_dir, "--no-progress", *flags], capsys)
    assert code == 0, err
    got = pd.read_csv(out_dir / "results.csv")
    want = analyze_weights(load_weights(npz), **kwargs)
    for col in ("entry_alpha", "entry_n_tail", "entry_alpha_fp16", "alpha_ww_unstable"):
        assert np.allclose(got[col].astype(float), want[col].astype(float), rtol=1e-14, equal_nan=True), col
    assert got["entry_alpha_fp16"].notna().all() == bool(kwargs.get("stability"))
    assert json.loads((out_dir / "manifest.json").read_text())  # options recorded with the run
    code, _, err = _run(["analyze", npz, "--out", out_dir, "--no-progress", "--resume", *flags], capsys)
    assert code == 0, err  # the same options resume


def test_a_bad_tensor_becomes_a_failed_row(tmp_path, capsys):
    import zipfile

    from test_weights import torch_state_dict_pickle

    pkl = torch_state_dict_pickle(
        {
            "a.weight": ("FloatStorage", "0", 24 * 16, 0, (24, 16), (16, 1)),
            "b.weight": ("FloatStorage", "1", 4, 0, (2, 2), (2, 1)),
        }
    )
    path = tmp_path / "gap.pt"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", pkl)
        zf.writestr("archive/data/0", RNG.standard_normal((24, 16)).astype(np.float32).tobytes())
    code, out, err = _run(["analyze", path, "--engine", "builtin", "--format", "csv"], capsys)
    assert code == 0
    df = pd.read_csv(io.StringIO(out))
    assert list(df["name"]) == ["a.weight", "b.weight"]
    assert list(df["status"]) == ["ok", "failed"] and "missing" in df["reason"][1]
    assert "warning" in err and "b.weight" in err and "Traceback" not in err


def test_analyze_a_catalog_entry_by_name(capsys):
    state, _ = catalog.status(catalog.find_entry("g2p-en"))
    if state != "installed":
        pytest.skip("g2p-en not installed")
    code, out, err = _run(["analyze", "g2p-en", "--format", "csv", "--include", "enc_w"], capsys)
    assert code == 0, err
    assert list(pd.read_csv(io.StringIO(out))["name"]) == ["enc_w_ih", "enc_w_hh"]


# --------------------------------------------------------------------------------------------- datasets
def test_datasets_lists_the_catalog(capsys):
    code, out, _ = _run(["datasets", "--format", "json"], capsys)
    assert code == 0
    rows = json.loads(out)
    names = [e.name for e in catalog.load_catalog()]
    assert [r["name"] for r in rows] == names
    for row in rows:
        assert row["status"] in ("installed", "missing", "other-version", "file-missing")
        assert (row["path"] != "") == (row["status"] in ("installed", "other-version"))
    code, out, _ = _run(["datasets"], capsys)
    assert code == 0 and all(name in out for name in names)


def test_datasets_install_calls_pip_once_per_package(monkeypatch, capsys, tmp_path):
    installed = []

    def fake_install(entry, verify=True):
        installed.append(entry.requirement)
        return tmp_path / entry.file

    monkeypatch.setattr(catalog, "install", fake_install)
    code, _, err = _run(["datasets", "--install", "silero-vad", "--format", "csv"], capsys)
    assert code == 0 and installed == ["silero-vad==6.2.3"] and "silero-vad" in err
    installed.clear()
    code, _, _ = _run(["datasets", "--install", "all", "--format", "csv"], capsys)
    requirements = [e.requirement for e in catalog.load_catalog()]
    assert code == 0 and installed == requirements
    code, _, err = _run(["datasets", "--install", "nope"], capsys)
    assert code == 2 and "nope" in err and err.count("\n") == 1
