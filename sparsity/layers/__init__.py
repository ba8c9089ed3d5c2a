"""Per-layer analysis of weight matrices: spectral (ESD, Marchenko-Pastur) and entry columns, one row each.

Private modules: ``_analyze`` (analyze_matrix, analyze_weights), ``_entry`` (entry columns), ``_esd_fit`` and
``_esd`` (the ESD power-law fit), ``_mp`` (Marchenko-Pastur bulk), ``_row_pipeline``.
"""

from sparsity.layers._analyze import analyze_matrix, analyze_weights
from sparsity.layers._esd import EsdFit, alpha_ww_to_sv_tail_index, fit_esd, sv_tail_index_to_alpha_ww

__all__ = [
    "EsdFit",
    "alpha_ww_to_sv_tail_index",
    "analyze_matrix",
    "analyze_weights",
    "fit_esd",
    "sv_tail_index_to_alpha_ww",
]
