"""Per-layer analysis of weight matrices: spectral (ESD, Marchenko-Pastur) and entry columns, one row each.

Private modules: ``_analyze`` (analyze_matrix, analyze_weights), ``_rows`` (the typed rows: column names, order
and dtypes), ``_conv`` (the conv-kernel convention), ``_entry`` (entry columns), ``_esd_fit`` and ``_esd`` (the
ESD power-law fit), ``_mp`` (Marchenko-Pastur bulk), ``_stability`` (intervals with the ``xmin`` uncertainty,
float16/bfloat16 refits), ``_sources`` (what ``analyze_weights`` accepts: paths, mappings, models, pairs).
"""

from sparsity.layers._analyze import analyze_matrix, analyze_weights
from sparsity.layers._conv import ConvConvention
from sparsity.layers._esd import EsdFit, alpha_ww_to_sv_tail_index, fit_esd, sv_tail_index_to_alpha_ww
from sparsity.layers._rows import COLUMNS, EntryColumns, LayerRow, SpectralColumns

__all__ = [
    "COLUMNS",
    "ConvConvention",
    "EntryColumns",
    "EsdFit",
    "LayerRow",
    "SpectralColumns",
    "alpha_ww_to_sv_tail_index",
    "analyze_matrix",
    "analyze_weights",
    "fit_esd",
    "sv_tail_index_to_alpha_ww",
]
