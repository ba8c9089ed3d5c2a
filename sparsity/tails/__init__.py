"""Tail-index estimation: fit_tail, goodness of fit, and the KS-scan kernels per array namespace.

:func:`fit_tail` (exact CSN, Hill, moments, Pickands, kernel, rank-size, stable) returns a :class:`TailFit`;
goodness of fit by :func:`power_law_pvalue` and :func:`likelihood_ratio_test`.

Private modules: ``_fit`` (fit_tail, TailFit), ``_magnitudes`` (the sorted nonzero magnitudes every estimator
starts from), ``_estimate`` (the method bodies' result type), ``_csn`` (the exact Clauset-Shalizi-Newman fit),
``_csn_scan`` (the pruned KS minimisation), ``_csn_discrete`` (the discrete MLE and scan), ``_zeta`` (analytic
Hurwitz-zeta log-moments), ``_estimators`` (Hill, rank-size, stable), ``_moments_dbs`` (moments and Pickands
with their own k rules), ``_kernel`` (the kernel-type estimator), ``_gof`` (goodness of fit),
``_ks_scan`` (the NumPy KS kernel), ``_ks_scan_cupy`` (its CUDA twin), ``_ks_backends`` (the kernel registry),
``_grid`` (coarse float grids: detection of bf16/fp16/fp8-stored magnitudes and their dequantisation).
"""

from sparsity.tails._fit import METHODS, TailFit, fit_tail
from sparsity.tails._gof import LikelihoodRatioTest, PowerLawPValue, likelihood_ratio_test, power_law_pvalue

__all__ = [
    "METHODS",
    "LikelihoodRatioTest",
    "PowerLawPValue",
    "TailFit",
    "fit_tail",
    "likelihood_ratio_test",
    "power_law_pvalue",
]
