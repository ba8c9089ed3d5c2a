"""Checkpoint analysis as a job: naming the inputs, shards resolved on the client, resume, outputs, workers."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest

from sparsity import analyze_weights
from sparsity.harness.analysis import TIMING_COLUMNS, analyze_checkpoints, analyze_tensor, checkpoints, plan
from sparsity.weights import load_weights

RNG = np.random.default_rng(7)


def _npz(path, n=4, df=3.0):
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **{f"w{i}": RNG.standard_t(df, (80, 50)) for i in range(n)}, bias=np.zeros(50))
    return str(path)


def test_inputs_are_named_by_label_or_folder_never_by_file_name(tmp_path):
    a, b = _npz(tmp_path / "ckA" / "model.npz"), _npz(tmp_path / "ckB" / "model.npz")
    assert [c.label for c in checkpoints([a, b])] == ["ckA", "ckB"]
    assert [c.label for c in checkpoints([f"base={a}", str(tmp_path / "ckB")])] == ["base", "ckB"]
    # Two files of one folder: their folder names collide, so they are named folder/file.
    c = _npz(tmp_path / "ckA" / "other.npz")
    assert [x.label for x in checkpoints([a, c])] == ["ckA/model.npz", "ckA/other.npz"]
    with pytest.raises(ValueError, match="are both named 'x'; name them with LABEL=PATH"):
        checkpoints([f"x={a}", f"x={b}"])
    with pytest.raises(ValueError, match="label before '=' is empty"):
        checkpoints([f"={a}"])


def _sharded(folder):
    from safetensors.numpy import save_file

    folder.mkdir()
    tensors = {f"model.layers.{i}.mlp.up_proj.weight": RNG.standard_normal((64, 48)).astype(np.float32)
               for i in range(4)}  # fmt: skip
    names = sorted(tensors)
    weight_map = {}
    for k, shard in enumerate(("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors")):
        part = {n: tensors[n] for n in names[2 * k : 2 * k + 2]}
        save_file(part, str(folder / shard))
        weight_map.update(dict.fromkeys(part, shard))
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    return tensors, weight_map


def test_sharded_checkpoint_tasks_read_their_shard(tmp_path):
    pytest.importorskip("safetensors")
    _, weight_map = _sharded(tmp_path / "llm")
    (ckpt,) = checkpoints([str(tmp_path / "llm")])
    tasks, skipped = plan(ckpt, "matrices")
    assert skipped == [] and ckpt.label == "llm"
    assert {t.name: t.file.rsplit("/", 1)[1] for t in tasks} == weight_map  # resolved once, on the client
    got = analyze_checkpoints([str(tmp_path / "llm")], progress=False)
    want = analyze_weights(load_weights(tmp_path / "llm"))
    pd.testing.assert_frame_equal(got, want)  # the same table, tensor by tensor, as the one-pass analysis


def test_a_killed_analysis_resumes_to_the_same_results(tmp_path):
    paths = [_npz(tmp_path / "ckA" / "m.npz"), _npz(tmp_path / "ckB" / "m.npz", df=8.0)]
    full = analyze_checkpoints(paths, tmp_path / "full", progress=False)
    assert list(full.columns[:2]) == ["checkpoint", "layer_id"] and set(TIMING_COLUMNS) <= set(full.columns)
    out = tmp_path / "killed"
    analyze_checkpoints(paths, out, progress=False)
    (out / "results.csv").unlink()
    # What a kill after three tensors leaves: run.json, a session, three finished tensors and a torn line.
    info = json.loads((tmp_path / "full" / "manifest.json").read_text())
    assert info["kind"] == "analyze" and info["resumed"] is False
    tasks = [t for c in checkpoints(paths) for t in plan(c, "matrices")[0]]
    lines = [json.dumps({"kind": "session", "started": time.time() - 3})]
    for task in tasks[:3]:
        lines += [json.dumps({**r, "task_id": task.task_id}) for r in analyze_tensor(task, {})]
        lines.append(json.dumps({"kind": "task_done", "task_id": task.task_id, "t": time.time() - 2}))
    run_info = {"kind": "analyze", "inputs": [[c.label, c.source] for c in checkpoints(paths)],
                "select": repr("matrices"), "engine": "auto", "options": repr([])}  # fmt: skip
    (out / "run.json").write_text(json.dumps(run_info))
    (out / "partial.jsonl").write_text("\n".join(lines) + '\n{"kind": "tens')
    with pytest.raises(ValueError, match="unfinished run"):
        analyze_checkpoints(paths, out, progress=False)
    got = analyze_checkpoints(paths, out, resume_run=True, workers=2, progress=False)
    cols = [c for c in full.columns if c not in TIMING_COLUMNS]
    pd.testing.assert_frame_equal(got[cols], full[cols])
    a, b = (pd.read_csv(d / "results.csv").drop(columns=list(TIMING_COLUMNS)) for d in (tmp_path / "full", out))
    pd.testing.assert_frame_equal(a, b)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["resumed"] is True and len(manifest["sessions"]) == 2
    assert manifest["results_sha256"] == info["results_sha256"]  # timings are left out of the hash
    assert not (out / "partial.jsonl").exists() and (out / "results.json").exists()
    records = json.loads((out / "results.json").read_text())
    assert [r["checkpoint"] for r in records] == list(full["checkpoint"]) and records[0]["shape"] == "80x50"
