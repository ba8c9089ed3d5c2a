"""sparsity: how compressible is this data, what tail index do its magnitudes have, and does the best-k
error decay as that tail index predicts, on either side of the alpha = 2 threshold?

``alpha`` is always the survival tail index, P(|X| > t) ~ t**(-alpha). WeightWatcher's exponent is
``alpha_ww`` (density exponent of the eigenvalues of W^T W).
"""

from sparsity.curves import (
    DecayFit,
    best_k_error,
    decay_exponent,
    effective_sparsity,
    entropy_effective_rank,
    gini_index,
    hoyer_sparsity,
    numerical_sparsity,
    participation_ratio,
    predicted_decay_exponent,
    stable_rank,
)

__version__ = "0.1.0"

__all__ = [
    "DecayFit",
    "__version__",
    "best_k_error",
    "decay_exponent",
    "effective_sparsity",
    "entropy_effective_rank",
    "gini_index",
    "hoyer_sparsity",
    "numerical_sparsity",
    "participation_ratio",
    "predicted_decay_exponent",
    "stable_rank",
]
