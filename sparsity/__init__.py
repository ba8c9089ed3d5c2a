"""sparsity: compressibility, heavy tails and the alpha = 2 threshold.

How compressible is this data, what tail index do its magnitudes have, and does the best-k error decay as that
tail index predicts, on either side of the alpha = 2 threshold?

``alpha`` is always the survival tail index, P(|X| > t) ~ t**(-alpha). WeightWatcher's exponent is
``alpha_ww`` (density exponent of the eigenvalues of W^T W).

Arrays keep their namespace (one rule for every public function):

- Array results come back in the namespace and on the device of the data argument (``x``, ``W``,
  ``singular_values``, ``theta``): NumPy in, NumPy out; torch in, torch out; likewise CuPy and
  array_api_strict. Lists, tuples, scalars and pandas objects count as NumPy. Index arguments such as ``k``
  never choose the namespace, even when given as arrays.
- Functions without a data argument (``sparsity.expected``, the ``sparsity.synthetic`` generators) return
  NumPy, or the namespace named by ``xp=`` (``numpy``, ``cupy``, ``torch``, ``array_api_strict``, ...) on its
  default device. ``spectrum_matrix`` with ``xp=None`` follows its ``singular_values`` array.
- dtype: curves, spectra, errors and conversions are float64 (sums accumulate in float64). ``truncate`` keeps
  the floating dtype of ``W``, and generators return ``dtype=`` (float64 by default); inputs widen first
  (bool/int to float64, float16/bfloat16/float8 to float32). A scalar ``k`` gives a 0-d array (for NumPy
  a ``numpy.float64``, as NumPy itself returns 0-d results).
- Scalar results are Python ``float``/``int``: the smooth measures, ``effective_sparsity``,
  ``predicted_decay_exponent`` and the closed forms of a scalar argument.
- Typed results (``DecayFit``, ``TailFit``, ``EsdFit``, ``LikelihoodRatioTest``, ``PowerLawPValue``,
  ``DecayInterval``, ``SimulatedDecay``) and ``analyze_matrix``'s dict hold Python scalars, strings and tuples
  of them. Their only array fields hold bootstrap or simulated replicates drawn on the host with NumPy's
  Generator (``PowerLawPValue.ks_boot``, ``SimulatedDecay.exponents``), so those fields are NumPy.
  ``truncate(..., return_factors=True)`` returns a tuple of arrays in ``W``'s namespace.
- Where the library computes on the host for speed, it converts back: NumPy arrays and torch CPU tensors take
  the threaded NumPy kernels of ``best_k_error`` through a zero-copy DLPack view (torch tensors are detached:
  results carry no autograd graph), and the result comes back in the input's namespace.
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
