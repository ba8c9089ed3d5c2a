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
from sparsity.spectra import (
    EsdFit,
    alpha_ww_to_sv_tail_index,
    analyze_matrix,
    analyze_weights,
    esd,
    fit_esd,
    rank_k_error,
    singular_values,
    sv_tail_index_to_alpha_ww,
    truncate,
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

__version__ = "0.1.0"

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
