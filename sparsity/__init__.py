"""sparsity: how compressible is this data, what tail index do its magnitudes have, and does the best-k
error decay as that tail index predicts, on either side of the alpha = 2 threshold?

``alpha`` is always the survival tail index, P(|X| > t) ~ t**(-alpha). WeightWatcher's exponent is
``alpha_ww`` (density exponent of the eigenvalues of W^T W).
"""

from sparsity import synthetic
from sparsity.curves import (
    DecayFit,
    best_k_error,
    decay_exponent,
    default_decay_window,
    effective_sparsity,
    predicted_decay_exponent,
)
from sparsity.measures import (
    entropy_effective_rank,
    gini_index,
    hoyer_sparsity,
    numerical_sparsity,
    participation_ratio,
    stable_rank,
)
from sparsity.tails import TailFit, fit_tail
from sparsity.weights import WeightsError, load_weights

__version__ = "0.1.0"

__all__ = [
    "DecayFit",
    "TailFit",
    "WeightsError",
    "__version__",
    "best_k_error",
    "decay_exponent",
    "default_decay_window",
    "effective_sparsity",
    "entropy_effective_rank",
    "fit_tail",
    "gini_index",
    "hoyer_sparsity",
    "load_weights",
    "numerical_sparsity",
    "participation_ratio",
    "predicted_decay_exponent",
    "stable_rank",
    "synthetic",
]
