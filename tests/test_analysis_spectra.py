"""``analyze --out`` keeps the eigenvalues of the ESD figure's layers (``spectra.csv``) and draws it, resumably."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sparsity import analyze_matrix, synthetic
from sparsity.cli import main
from sparsity.harness import _analysis_spectra
from sparsity.harness.analysis import analyze_checkpoints
from sparsity.harness.runner import RunInterrupted

ALPHAS = (1.6, 2.4, 3.2, 4.0, 5.0)
"""Planted alpha_ww of the five layers: lowest, median and highest are layers 0, 2 and 4."""


def _checkpoint(folder):
    """A small npz checkpoint: five 96 x 64 power-law-spectrum layers (planted alpha_ww) and a bias."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(11)
    layers = {
        f"blocks.{i}.mlp.up_proj.weight": synthetic.spectrum_matrix(
            synthetic.power_law_spectrum(64, alpha_ww=a), 96, 64, rng=rng
        )
        for i, a in enumerate(ALPHAS)
    }
    np.savez(folder / "model.npz", **layers, bias=np.zeros(64))
    return str(folder / "model.npz"), layers


def _spectra(out):
    return pd.read_csv(out / "spectra.csv", dtype={"checkpoint": str, "name": str})


def test_analyze_out_writes_the_figure_spectra_and_the_esd_grid(tmp_path):
    path, layers = _checkpoint(tmp_path / "ck")
    out = tmp_path / "out"
    assert main(["analyze", path, "--out", str(out), "--formats", "png", "--no-progress"]) == 0
    results = pd.read_csv(out / "results.csv")
    spectra = _spectra(out)
    assert list(spectra.columns) == ["checkpoint", "name", "eigenvalue"] and set(spectra["checkpoint"]) == {"ck"}
    order = results.sort_values("alpha_ww")["name"].tolist()
    assert list(dict.fromkeys(spectra["name"])) == [order[0], order[2], order[4]]  # lowest, median, highest
    for name, part in spectra.groupby("name", sort=False):
        lam = part["eigenvalue"].to_numpy()
        row = analyze_matrix(layers[name])
        assert lam.size == row["num_evals"] and np.all(np.diff(lam) <= 0)  # every eigenvalue, descending
        # spectra.csv keeps 10 significant digits: relative error <= 5e-10 per eigenvalue
        np.testing.assert_allclose(lam, _analysis_spectra.tensor_eigenvalues(layers[name], {}), rtol=6e-10)
        assert lam[0] == pytest.approx(row["lambda_max"], rel=6e-10)  # the spectrum the row was fitted on
    assert (out / "figures" / "esd_ck.png").is_file()
    assert "![esd_ck](figures/esd_ck.png)" in (out / "summary.md").read_text()


def test_figure_eigenvalues_follow_the_conv_convention():
    rng = np.random.default_rng(3)
    W = rng.standard_normal((16, 8, 3, 3))
    slices = _analysis_spectra.tensor_eigenvalues(W, {"conv": "slices"})
    flat = _analysis_spectra.tensor_eigenvalues(W, {"conv": "flatten"})
    assert slices.size == analyze_matrix(W)["num_evals"] == 9 * 8 and flat.size == 16
    # Both are eigenvalues of Gram matrices of the same entries: their sums are ||W||_F^2 (to rounding).
    assert slices.sum() == pytest.approx(np.sum(W**2), rel=1e-12) and flat.sum() == pytest.approx(slices.sum())


def test_an_analysis_killed_in_either_phase_resumes_to_the_same_spectra(tmp_path, monkeypatch):
    path, _ = _checkpoint(tmp_path / "ck")
    analyze_checkpoints([path], tmp_path / "full", progress=False)
    want = _spectra(tmp_path / "full")
    out = tmp_path / "killed"
    calls: list[str] = []
    real = _analysis_spectra.spectrum_record

    def stop_at_second(task, options):
        calls.append(task.name)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(task, options)

    monkeypatch.setattr(_analysis_spectra, "spectrum_record", stop_at_second)
    with pytest.raises(RunInterrupted, match="rerun with --resume"):
        analyze_checkpoints([path], out, progress=False)
    partial = [json.loads(line) for line in (out / "partial.jsonl").read_text().splitlines()]
    assert sum(r["kind"] == "tensor" for r in partial) == 5 and sum(r["kind"] == "spectrum" for r in partial) == 1
    assert not (out / "spectra.csv").exists()
    calls.clear()
    monkeypatch.setattr(_analysis_spectra, "spectrum_record", lambda t, o: (calls.append(t.name), real(t, o))[1])
    analyze_checkpoints([path], out, resume_run=True, workers=2, progress=False)
    assert calls == list(dict.fromkeys(want["name"]))[1:]  # the saved spectrum is not recomputed
    pd.testing.assert_frame_equal(_spectra(out), want)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["resumed"] is True and len(manifest["sessions"]) == 2
    assert not (out / "partial.jsonl").exists()


def test_no_finite_alpha_ww_gives_an_empty_spectra_file_and_no_esd_figure(tmp_path):
    folder = tmp_path / "flat"
    folder.mkdir()
    np.savez(folder / "model.npz", w=np.zeros((40, 30)))  # all-zero: skipped, no fit
    analyze_checkpoints([str(folder / "model.npz")], tmp_path / "out", progress=False)
    spectra = _spectra(tmp_path / "out")
    assert list(spectra.columns) == ["checkpoint", "name", "eigenvalue"] and len(spectra) == 0
