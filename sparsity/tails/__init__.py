"""Tail-index estimation: :func:`fit_tail` (exact CSN, Hill, moments, Pickands, rank-size, stable), goodness of
fit (:func:`power_law_pvalue`, :func:`likelihood_ratio_test`) and the KS-scan kernels per array namespace.

Private modules: ``_fit`` (fit_tail, TailFit), ``_csn`` (the exact Clauset-Shalizi-Newman scan), ``_estimators``
(order-statistic estimators), ``_gof`` (goodness of fit), ``_ks_scan`` (KS-distance kernels).
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
