"""Synthetic data with known tails and spectra: the ground truth of every benchmark.

Vectors (:mod:`sparsity.synthetic.vectors`): :func:`stable`, :func:`pareto`, :func:`student_t`,
:func:`gaussian`, :func:`laplace`, :func:`generalized_gaussian`, :func:`lognormal`,
:func:`power_law_sequence`, :func:`sparse_plus_noise`.

Matrices (:mod:`sparsity.synthetic.matrices`, shape (n, m)): :func:`gaussian_matrix`,
:func:`marchenko_pastur_edges`, :func:`levy_matrix`, :func:`spiked_matrix`, :func:`bbp_threshold`,
:func:`bbp_outlier`, :func:`spectrum_matrix`, :func:`power_law_spectrum`.

``alpha`` is the survival tail index, P(|X| > t) ~ t**(-alpha). All random generators take keyword-only
``rng=None | int | numpy.random.Generator``, ``xp=None | module`` (e.g. ``cupy``, ``torch`` or
``array_api_strict``; NumPy when None, except that :func:`spectrum_matrix` then follows its
``singular_values`` array) and ``dtype`` (float64 when None). Random numbers are drawn on the host with NumPy's
Generator in float64, so a seed gives the same numbers on every backend, then cast and moved to ``xp`` (on its
default device). The closed forms return Python floats, or for an array argument (:func:`bbp_outlier`'s
``theta``) a float64 array in its namespace.

Examples
--------
>>> from sparsity import synthetic
>>> x = synthetic.stable(1.5, 10_000, rng=0)
>>> W = synthetic.spectrum_matrix(synthetic.power_law_spectrum(50, alpha_ww=2.0), 60, 50, rng=0)
"""

from sparsity.synthetic.matrices import (
    bbp_outlier,
    bbp_threshold,
    gaussian_matrix,
    levy_matrix,
    marchenko_pastur_edges,
    power_law_spectrum,
    spectrum_matrix,
    spiked_matrix,
)
from sparsity.synthetic.vectors import (
    gaussian,
    generalized_gaussian,
    laplace,
    lognormal,
    pareto,
    power_law_sequence,
    sparse_plus_noise,
    stable,
    student_t,
)

__all__ = [
    "bbp_outlier",
    "bbp_threshold",
    "gaussian",
    "gaussian_matrix",
    "generalized_gaussian",
    "laplace",
    "levy_matrix",
    "lognormal",
    "marchenko_pastur_edges",
    "pareto",
    "power_law_sequence",
    "power_law_spectrum",
    "sparse_plus_noise",
    "spectrum_matrix",
    "spiked_matrix",
    "stable",
    "student_t",
]
