"""What analyze_weights accepts: paths, mappings, pairs, and model objects (torch nn.Module, duck-typed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sparsity as sp


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a["name"]) == list(b["name"])
    for col in ("alpha_ww", "entry_alpha", "entry_alpha_ci_high", "alpha_ww_bf16"):
        np.testing.assert_array_equal(a[col].to_numpy(float), b[col].to_numpy(float))


class _StateDictOnly:
    """A model-like object with only ``state_dict()`` (NumPy arrays inside)."""

    def __init__(self, tensors: dict[str, np.ndarray]) -> None:
        self._tensors = tensors

    def state_dict(self) -> dict[str, np.ndarray]:
        return dict(self._tensors)


def test_object_with_state_dict():
    rng = np.random.default_rng(0)
    tensors = {"a.weight": rng.standard_normal((40, 30)), "a.bias": np.zeros(30), "b.weight": rng.random((30, 20))}
    _same(sp.analyze_weights(_StateDictOnly(tensors)), sp.analyze_weights(tensors))


def test_torch_module_and_bfloat16_module():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(30, 40), torch.nn.ReLU(), torch.nn.Linear(40, 20))
    df = sp.analyze_weights(model)
    assert list(df["name"]) == ["0.weight", "2.weight"] and list(df["status"]) == ["ok", "ok"]
    plain = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    _same(df, sp.analyze_weights(plain))
    half = sp.analyze_weights(model.to(torch.bfloat16), stability=True)  # widened to float32 by the input layer
    assert list(half["status"]) == ["ok", "ok"]
    # stored in bfloat16: the bfloat16 refit is the fit itself
    np.testing.assert_array_equal(half["alpha_ww_bf16"].to_numpy(float), half["alpha_ww"].to_numpy(float))


def test_pairs_and_bad_sources():
    rng = np.random.default_rng(1)
    pairs = [("w", rng.standard_normal((30, 20)))]
    assert list(sp.analyze_weights(iter(pairs))["name"]) == ["w"]
    with pytest.raises(TypeError, match=r"source must be a path .*named_parameters\(\) or state_dict\(\).*got int"):
        sp.analyze_weights(3)
    with pytest.raises(TypeError, match="item 0 of the iterable is a ndarray, not a"):
        sp.analyze_weights([rng.standard_normal((3, 3))])
