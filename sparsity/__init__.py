"""sparsity: how compressible is this data, what tail index do its magnitudes have, and does the best-k
error decay as that tail index predicts, on either side of the alpha = 2 threshold?

``alpha`` is always the survival tail index, P(|X| > t) ~ t**(-alpha). WeightWatcher's exponent is
``alpha_ww`` (density exponent of the eigenvalues of W^T W).
"""

from sparsity import synthetic
from sparsity._version import __version__
from sparsity.curves import (
    DecayFit,
    best_k_error,
    decay_exponent,
    default_decay_window,
    effective_sparsity,
    predicted_decay_exponent,
)
from sparsity.layers import (
    EsdFit,
    alpha_ww_to_sv_tail_index,
    analyze_matrix,
    analyze_weights,
    fit_esd,
    sv_tail_index_to_alpha_ww,
)
from sparsity.linalg import esd, rank_k_error, singular_values, truncate
from sparsity.measures import (
    entropy_effective_rank,
    gini_index,
    hoyer_sparsity,
    numerical_sparsity,
    participation_ratio,
    stable_rank,
)
from sparsity.tails import (
    LikelihoodRatioTest,
    PowerLawPValue,
    TailFit,
    fit_tail,
    likelihood_ratio_test,
    power_law_pvalue,
)
from sparsity.weights import WeightsError, load_weights

__all__ = [
    "DecayFit",
    "EsdFit",
    "LikelihoodRatioTest",
    "PowerLawPValue",
    "TailFit",
    "WeightsError",
    "__version__",
    "alpha_ww_to_sv_tail_index",
    "analyze_matrix",
    "analyze_weights",
    "best_k_error",
    "decay_exponent",
    "default_decay_window",
    "effective_sparsity",
    "entropy_effective_rank",
    "esd",
    "fit_esd",
    "fit_tail",
    "gini_index",
    "hoyer_sparsity",
    "likelihood_ratio_test",
    "load_weights",
    "numerical_sparsity",
    "participation_ratio",
    "power_law_pvalue",
    "predicted_decay_exponent",
    "rank_k_error",
    "singular_values",
    "stable_rank",
    "sv_tail_index_to_alpha_ww",
    "synthetic",
    "truncate",
]
