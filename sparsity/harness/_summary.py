"""The summary tables of a results table: what the headline of summary.md and the LaTeX tables show."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["failed_fits", "summary_tables"]


def _share(s: Any) -> float:
    """Share of True among the rows that have a value (missing values, such as failed fits, do not count)."""
    vals = s.dropna()
    return float(vals.astype(bool).mean()) if len(vals) else math.nan


def summary_tables(df: Any) -> dict[str, Any]:
    """The summary tables of a results DataFrame.

    ``synthetic``: one row per family, true alpha, size, basis and estimator (means over replicates); ``real``:
    one row per model, basis and estimator; ``errors``: the rows whose status is not ``ok``. The ``agree`` and
    ``compressible`` shares count only the rows that have a value (a failed tail fit has neither).
    """
    import pandas as pd

    ok = df[df["status"] == "ok"]
    tables: dict[str, Any] = {}
    syn = ok[ok["source"] == "synthetic"]
    if len(syn):
        g = syn.groupby(["family", "params", "true_alpha", "n", "basis", "estimator"], sort=False, dropna=False)
        tables["synthetic"] = g.agg(
            cases=("case_id", "size"),
            alpha_hat=("alpha_hat", "mean"),
            predicted=("predicted_decay_true", "first"),
            measured=("measured_decay", "mean"),
            agree=("agrees", _share),
            compressible=("compressible", _share),
            eff_frac=("effective_sparsity_frac", "mean"),
        ).reset_index()
    real = ok[ok["source"] != "synthetic"]
    if len(real):
        g = real.groupby(["family", "basis", "estimator"], sort=False)
        tables["real"] = g.agg(
            tensors=("case_id", "size"),
            median_alpha=("alpha_hat", "median"),
            median_alpha_ww=("alpha_ww", "median"),
            compressible=("compressible", _share),
            median_measured=("measured_decay", "median"),
            agree=("agrees", _share),
            eff_frac=("effective_sparsity_frac", "median"),
        ).reset_index()
    err = df[df["status"] != "ok"]
    cols = ["case_id", "status", "error"]
    tables["errors"] = err[cols] if len(err) else pd.DataFrame(columns=cols)
    return tables


def failed_fits(df: Any) -> int:
    """Number of rows with status ``ok`` whose tail fit gave no alpha (they carry no ``compressible`` value)."""
    return int(((df["status"] == "ok") & df["alpha_hat"].isna()).sum())
