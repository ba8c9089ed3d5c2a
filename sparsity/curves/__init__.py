"""Best-k approximation error curves and their decay exponents.

Sort the magnitudes :math:`|x|_{(1)} \\ge \\dots \\ge |x|_{(n)}`. The best k-term :math:`\\ell_p` error is

.. math:: \\sigma_k(x)_p = \\Big(\\sum_{j>k} |x|_{(j)}^p\\Big)^{1/p}.

If :math:`|x|_{(k)} \\sim C k^{-1/\\alpha}` (survival tail index alpha) and alpha < p, then
:math:`\\sigma_k \\sim k^{1/p - 1/\\alpha}`: the error decays as a power law. For p = 2 the threshold is
alpha = 2, the finite-variance boundary of the generalized central limit theorem. (Smooth sparsity measures:
:mod:`sparsity.measures`.)

Private modules: ``_best_k`` (:func:`best_k_error`), ``_host`` (its threaded NumPy kernels: sort or partition,
fused blocked sums), ``_decay`` (the decay fits). :func:`best_k_error` returns an array in the namespace and on
the device of ``x``; the decay functions return Python scalars.
"""

from sparsity.curves._best_k import best_k_error
from sparsity.curves._decay import (
    DecayFit,
    decay_exponent,
    decay_grid,
    default_decay_window,
    effective_sparsity,
    loglog_fit,
    predicted_decay_exponent,
)
from sparsity.curves._host import power_sum, split_top

__all__ = [
    "DecayFit",
    "best_k_error",
    "decay_exponent",
    "decay_grid",
    "default_decay_window",
    "effective_sparsity",
    "loglog_fit",
    "power_sum",
    "predicted_decay_exponent",
    "split_top",
]
