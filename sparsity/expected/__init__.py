"""Finite-n predictions of the best-k error and of its measured decay exponent.

Exact for iid Pareto samples (:func:`expected_best_k_error`, :func:`finite_n_decay_exponent`, private module
``_exact``); by seeded simulation from a fitted model for other laws and for real data
(:func:`simulated_decay_exponent`, :func:`decay_prediction_interval`, :func:`model_sampler`, private module
``_sim``).
"""

from sparsity.expected._exact import expected_best_k_error, finite_n_decay_exponent, log_gamma_ratio
from sparsity.expected._sim import (
    LAWS,
    DecayInterval,
    SimulatedDecay,
    decay_prediction_interval,
    model_sampler,
    simulated_decay_exponent,
)

__all__ = [
    "LAWS",
    "DecayInterval",
    "SimulatedDecay",
    "decay_prediction_interval",
    "expected_best_k_error",
    "finite_n_decay_exponent",
    "log_gamma_ratio",
    "model_sampler",
    "simulated_decay_exponent",
]
