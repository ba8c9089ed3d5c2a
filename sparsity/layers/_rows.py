"""Typed layer rows: the spectral columns, the entry columns and the row of one tensor (private).

The column names, their order and their pandas dtypes are the fields of these dataclasses
(:func:`dataclasses.fields`): :data:`SPECTRAL_KEYS`, :data:`ENTRY_KEYS`, :data:`ROW_KEYS`, :data:`COLUMNS` and
:data:`DTYPES` are derived from them, never listed by hand. Meanings: :mod:`sparsity.layers._analyze`.

Missing values: a float column that could not be computed is NaN; a count (``int``) or a flag (``bool``) is
None, which :func:`frame` turns into ``pandas.NA`` in nullable ``Int64`` / ``boolean`` columns (so counts stay
integers when failed or skipped rows are present, and a fit that gave no tail index is neither compressible
nor incompressible).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = [
    "COLUMNS",
    "COMPRESSIBLE_BELOW",
    "DTYPES",
    "ENTRY_KEYS",
    "ROW_KEYS",
    "SPECTRAL_KEYS",
    "EntryColumns",
    "LayerRow",
    "SpectralColumns",
    "TensorId",
    "frame",
    "is_compressible",
]

COMPRESSIBLE_BELOW = 2.0
"""A tail index below this is compressible in l2 (DESIGN.md: the alpha = 2 threshold)."""


def is_compressible(tail_index: float) -> bool | None:
    """``tail_index < 2``, or None when the fit gave no tail index (NaN): the three-valued ``compressible``."""
    return None if math.isnan(tail_index) else bool(tail_index < COMPRESSIBLE_BELOW)


def _real() -> Any:
    """A float column: NaN when not computable."""
    return field(default=math.nan, metadata={"dtype": "float64"})


def _count() -> Any:
    """An integer column: None (``pandas.NA``) when not computable."""
    return field(default=None, metadata={"dtype": "Int64"})


def _flag() -> Any:
    """A three-valued column: True, False, or None (``pandas.NA``) when the fit behind it failed or was skipped."""
    return field(default=None, metadata={"dtype": "boolean"})


def _text(default: str = "") -> Any:
    return field(default=default, metadata={"dtype": "object"})


@dataclass(frozen=True)
class SpectralColumns:
    """Columns of the ESD of ``W^T W``: WeightWatcher-compatible ones, Marchenko-Pastur, rank-k compressibility.

    The last five (:mod:`sparsity.layers._stability`): the 95 % interval of ``alpha_ww`` (its ``xmin``
    uncertainty included), ``alpha_ww`` refitted on the float16- and bfloat16-rounded tensor, and whether a
    refit left the interval.
    """

    num_evals: int | None = _count()
    alpha_ww: float = _real()
    xmin: float = _real()
    xmax: float = _real()
    D: float = _real()
    sigma: float = _real()
    num_pl_spikes: int | None = _count()
    alpha_weighted: float = _real()
    log_alpha_norm: float = _real()
    norm: float = _real()
    log_norm: float = _real()
    spectral_norm: float = _real()
    log_spectral_norm: float = _real()
    lambda_max: float = _real()
    sv_max: float = _real()
    sv_min: float = _real()
    stable_rank: float = _real()
    matrix_rank: int | None = _count()
    entropy: float = _real()
    sigma_mp: float = _real()
    bulk_min: float = _real()
    bulk_max: float = _real()
    num_spikes: int | None = _count()
    mp_softrank: float = _real()
    sv_tail_index: float = _real()
    predicted_rank_decay: float = _real()
    measured_rank_decay: float = _real()
    rank_decay_r2: float = _real()
    compressible: bool | None = _flag()
    alpha_ww_ci_low: float = _real()
    alpha_ww_ci_high: float = _real()
    alpha_ww_fp16: float = _real()
    alpha_ww_bf16: float = _real()
    alpha_ww_unstable: bool | None = _flag()


@dataclass(frozen=True)
class EntryColumns:
    """Columns of the entry magnitudes ``|W_ij|``: tail index (CSN by default) and best-k decay.

    The last five as in :class:`SpectralColumns`, for ``entry_alpha``.
    """

    entry_alpha: float = _real()
    entry_xmin: float = _real()
    entry_n_tail: int | None = _count()
    entry_D: float = _real()
    entry_predicted_decay: float = _real()
    entry_measured_decay: float = _real()
    entry_decay_r2: float = _real()
    entry_compressible: bool | None = _flag()
    entry_alpha_ci_low: float = _real()
    entry_alpha_ci_high: float = _real()
    entry_alpha_fp16: float = _real()
    entry_alpha_bf16: float = _real()
    entry_alpha_unstable: bool | None = _flag()


@dataclass(frozen=True)
class LayerRow:
    """One analysed tensor: identity columns, both column groups, ``status`` and ``reason``.

    ``N``, ``M`` are the larger and smaller side of each analysed matrix and ``rf`` the number of kernel positions;
    they are None for a tensor that failed before its shape could be read as matrices.
    """

    shape: tuple[int, ...] = field(default=(), metadata={"dtype": "object"})
    N: int | None = _count()
    M: int | None = _count()
    rf: int | None = _count()
    spectral: SpectralColumns = field(default_factory=SpectralColumns, metadata={"group": SpectralColumns})
    entries: EntryColumns = field(default_factory=EntryColumns, metadata={"group": EntryColumns})
    status: str = _text("ok")
    reason: str = _text()

    def as_dict(self) -> dict[str, Any]:
        """The flat row, keys in :data:`ROW_KEYS` order (what :func:`sparsity.analyze_matrix` returns)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.metadata.get("group") is not None:
                out.update((g.name, getattr(value, g.name)) for g in fields(value))
            else:
                out[f.name] = value
        return out


@dataclass(frozen=True)
class TensorId:
    """The columns that :func:`sparsity.analyze_weights` puts before each row: position in the source and name."""

    layer_id: int = field(metadata={"dtype": "Int64"})
    name: str = field(metadata={"dtype": "object"})


def _flat_fields(cls: type) -> list[Any]:
    out: list[Any] = []
    for f in fields(cls):
        group = f.metadata.get("group")
        out.extend(fields(group) if group is not None else [f])
    return out


SPECTRAL_KEYS: tuple[str, ...] = tuple(f.name for f in fields(SpectralColumns))
ENTRY_KEYS: tuple[str, ...] = tuple(f.name for f in fields(EntryColumns))
ROW_KEYS: tuple[str, ...] = tuple(f.name for f in _flat_fields(LayerRow))
"""Keys of :func:`sparsity.analyze_matrix`'s dict, in order."""
COLUMNS: tuple[str, ...] = (*(f.name for f in fields(TensorId)), *ROW_KEYS)
"""Columns of :func:`sparsity.analyze_weights`'s DataFrame, in order."""
DTYPES: dict[str, str] = {f.name: f.metadata["dtype"] for f in (*fields(TensorId), *_flat_fields(LayerRow))}
"""pandas dtype of each column: ``float64``, nullable ``Int64`` and ``boolean``, or ``object``."""


def frame(rows: Iterable[tuple[TensorId, LayerRow]]) -> Any:
    """The pandas DataFrame of ``(id, row)`` pairs: :data:`COLUMNS` with :data:`DTYPES`."""
    import pandas as pd

    records = [{"layer_id": tid.layer_id, "name": tid.name, **row.as_dict()} for tid, row in rows]
    return pd.DataFrame(records, columns=list(COLUMNS)).astype(DTYPES)
