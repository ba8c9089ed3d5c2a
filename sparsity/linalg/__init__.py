"""The spectral engine: singular values (Gram and SVD routes), the ESD, rank-k truncation and errors.

Private modules: ``_svd`` (input, routes), ``_gram`` (Gram eigenvalues, small-matrix batches), ``_lapack``
(SciPy's LAPACK pointers), ``_randomized`` (Halko-Martinsson-Tropp).
"""

from sparsity.linalg._api import esd, rank_k_error, singular_values, truncate

__all__ = ["esd", "rank_k_error", "singular_values", "truncate"]
