"""Tests for the calibrated agreement (sparsity.harness._agreement) and the real-weights entry engine."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import sparsity as sp
from sparsity import synthetic
from sparsity.curves import default_decay_window
from sparsity.expected import (
    decay_prediction_interval,
    finite_n_decay_exponent,
    model_sampler,
    simulated_decay_exponent,
)
from sparsity.harness import _agreement
from sparsity.harness._agreement import agreement_columns
from sparsity.harness._case_tail import data_entropy, engine_entry_tail
from sparsity.harness._tail_bootstrap import _exponents, bootstrap_decay, tail_model
from sparsity.harness.cases import run_task
from sparsity.harness.suite import load_suite
from sparsity.layers import analyze_matrix


def _ks_critical(n1: int, n2: int, c: float = 1.95) -> float:
    """Two-sample KS critical distance at level 0.001 (c(0.001) = 1.95, asymptotic Smirnov law)."""
    return c * math.sqrt((n1 + n2) / (n1 * n2))


@pytest.mark.parametrize(
    ("law", "alpha", "n", "method"),
    [("pareto", 1.0, 4000, "csn"), ("stable", 1.5, 30000, "csn"), ("student_t", 3.0, 30000, "hill")],
)
def test_fast_sampler_matches_the_full_simulation(law, alpha, n, method):
    # The order-statistic sampler (exact top K, normal sum of the rest) against the O(n) simulation of the same
    # semi-parametric model (sparsity.expected): the two exponent samples must pass a two-sample KS test at
    # level 0.001 (deterministic seeds, so this either always passes or always fails). n = 4000 draws all
    # values exactly (K = n); n = 30000 exercises the normal approximation of the rest (K = 1384 < n).
    x = getattr(synthetic, law)(alpha, n, rng=3)
    fit = sp.fit_tail(x, method=method, rng=0)
    lo, hi = default_decay_window(n)
    model = tail_model(x, fit.alpha, fit.xmin, fit.n_tail, k_max=hi)
    fast = _exponents(model, np.random.default_rng(1), 600, lo, hi)
    sampler = model_sampler("semiparametric", fit.alpha, xmin=fit.xmin, data=x, n_tail=model.alpha_n_tail)
    full = simulated_decay_exponent(sampler, n, replicates=150, rng=2).exponents
    grid = np.sort(np.concatenate([fast, full]))
    d = np.max(
        np.abs(
            np.searchsorted(np.sort(fast), grid, "right") / fast.size
            - np.searchsorted(np.sort(full), grid, "right") / full.size
        )
    )
    assert d < _ks_critical(fast.size, full.size)


def test_bootstrap_is_a_function_of_its_seed():
    x = synthetic.pareto(1.2, 5000, rng=0)
    model = tail_model(x, 1.2, 1.0, 5000, k_max=70)
    a = bootstrap_decay(model, 10, 70, seed=np.random.SeedSequence([1, 2]))
    b = bootstrap_decay(model, 10, 70, seed=np.random.SeedSequence([1, 2]))
    c = bootstrap_decay(model, 10, 70, seed=np.random.SeedSequence([1, 3]))
    assert a == b and a != c
    assert a.lo < a.mean < a.hi and a.level == 0.95 and a.replicates == 400


def test_alpha_uncertainty_widens_the_interval():
    x = synthetic.pareto(1.0, 5000, rng=0)
    fixed = tail_model(x, 1.0, 1.0, 5000, k_max=70, gamma_draw=False)  # no standard error: alpha fixed
    drawn = tail_model(x, 1.0, 1.0, 50, k_max=70)  # as if alpha came from 50 tail values
    w_fixed = bootstrap_decay(fixed, 10, 70, seed=4)
    w_drawn = bootstrap_decay(drawn, 10, 70, seed=4)
    assert w_drawn.hi - w_drawn.lo > 1.5 * (w_fixed.hi - w_fixed.lo)


def _fit_and_measure(x: np.ndarray, method: str) -> tuple[Any, Any, dict, dict]:
    """The fit, the decay and the ``tail`` / ``measured`` arguments of agreement_columns for ``x``."""
    fit = sp.fit_tail(x, method=method, rng=0)
    d = sp.decay_exponent(x)
    tail = {"alpha": fit.alpha, "lo": fit.alpha_ci[0], "hi": fit.alpha_ci[1], "xmin": fit.xmin,
            "n_tail": fit.n_tail, "se": fit.alpha_se}  # fmt: skip
    measured = {"measured_decay": d.exponent, "decay_k_min": d.k_min, "decay_k_max": d.k_max}
    return fit, d, tail, measured


def test_agreement_columns():
    x = synthetic.pareto(1.5, 10_000, rng=5)
    fit, d, tail, measured = _fit_and_measure(x, "hill")
    cols = agreement_columns(x, tail, measured, "hill", "pareto", 7)
    exact = finite_n_decay_exponent(10_000, fit.alpha, k_min=d.k_min, k_max=d.k_max).exponent
    assert cols["predicted_decay_finite_n"] == exact  # the Pareto family: the exact expected curve's fit
    assert cols["decay_pi_low"] < exact < cols["decay_pi_high"] and cols["decay_pi_level"] == 0.95
    assert cols["agrees"] == (cols["decay_pi_low"] <= d.exponent <= cols["decay_pi_high"])
    other = agreement_columns(x, tail, measured, "hill", "stable", 7)  # other laws: the bootstrap mean
    assert other["decay_pi_low"] < other["predicted_decay_finite_n"] < other["decay_pi_high"]
    none = agreement_columns(x, tail, {**measured, "measured_decay": math.nan}, "hill", "pareto", 7)
    assert none["agrees"] is None and math.isnan(none["decay_pi_low"])


def test_stable_estimator_simulates_the_stable_law(monkeypatch):
    x = synthetic.stable(1.9, 4000, rng=3)
    fit, d, tail, measured = _fit_and_measure(x, "stable")

    def reference(replicates: int) -> Any:
        sampler = model_sampler("stable", fit.alpha, alpha_se=fit.alpha_se)
        return decay_prediction_interval(sampler, 4000, replicates=replicates, rng=9, k_min=d.k_min, k_max=d.k_max)

    cols = agreement_columns(x, tail, measured, "stable", "stable", 9)
    ref = reference(400)
    assert (cols["decay_pi_low"], cols["decay_pi_high"]) == (ref.lo, ref.hi)
    assert cols["predicted_decay_finite_n"] == ref.mean and cols["decay_pi_level"] == 0.95
    # the Pareto tail with the stable index predicts a decay this stable sample does not have
    assert cols["agrees"] is True
    pareto_tail = agreement_columns(x, tail, measured, "moments", "stable", 9)
    assert pareto_tail["decay_pi_low"] > cols["decay_pi_high"]
    # large n: fewer replicates, at least 100 (the budget of simulated values)
    monkeypatch.setattr(_agreement, "_STABLE_VALUES", 4000 * 150)
    few = agreement_columns(x, tail, measured, "stable", "stable", 9)
    ref150 = reference(150)
    assert (few["decay_pi_low"], few["decay_pi_high"]) == (ref150.lo, ref150.hi)


def test_estimator_without_threshold_gets_a_pareto_tail():
    x = synthetic.stable(1.2, 20_000, rng=1)
    model = tail_model(x, 1.2, math.nan, 20_000, k_max=141, alpha_se=0.02)
    assert model.q == pytest.approx(1410 / 20_000) and model.alpha_n_tail is None and model.alpha_se == 0.02


def test_entry_engine_is_analyze_and_seed_free(tmp_path):
    rng = np.random.default_rng(0)
    w = (rng.standard_t(3.0, (300, 200)) * 0.05).astype(np.float32)
    tail = engine_entry_tail(w)
    assert tail["alpha"] == analyze_matrix(w)["entry_alpha"]
    assert data_entropy(w) == data_entropy(w.copy()) != data_entropy(w * 2)
    path = tmp_path / "w.npz"
    np.savez(path, fc=w)
    suite_text = f"""
[[groups]]
name = "w"
source = "path"
path = "{path}"
basis = ["entries", "spectrum"]
estimators = {{ entries = ["csn", "hill"], spectrum = ["csn"] }}
"""
    (tmp_path / "s.toml").write_text(suite_text)
    suite = load_suite(tmp_path / "s.toml")
    rows = [{k: v for k, v in r.items() if not k.startswith("t_") and k != "seed"} for r in run_task(suite.tasks[0], 1)]
    again = [
        {k: v for k, v in r.items() if not k.startswith("t_") and k != "seed"} for r in run_task(suite.tasks[0], 99)
    ]
    assert rows == again  # nothing depends on the suite seed
    entry_csn = next(r for r in rows if r.get("case_id", "").endswith("entries/csn"))
    assert entry_csn["alpha_hat"] == tail["alpha"] and entry_csn["decay_pi_level"] == 0.95
