"""The summary tables of a results table: what the headline of summary.md and the LaTeX tables show.

Synthetic cases with replicates (``replicates = R`` in a suite group) are summarised per grid point: the mean and
the standard deviation (ddof = 1) over the replicates of the fitted alpha, the measured decay exponent and the
effective sparsity, the mean finite-n prediction and interval ends, and the share of replicates that agree. A
mean is shown only to the digits its replicates support, by the usual convention: rounded at the decimal of the
leading digit of its 95 % uncertainty ``2 sd / sqrt(R)``, never to more than :data:`SIGNIFICANT` significant
digits and never to fewer than one (the ``*_sd`` columns say how far the last digit can move).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["COLUMNS_NOTE", "SIGNIFICANT", "failed_fits", "stable_round", "summary_tables"]

SIGNIFICANT = 3
"""Significant digits of the summary tables."""

COLUMNS_NOTE = (
    "Columns: alpha = survival tail index; predicted = max(0, 1/alpha - 1/2) from the true alpha (asymptotic); "
    "predicted_n = finite-n prediction from the fitted tail at this n and fit window (Pareto: the exact expected "
    "curve's fit; other laws: the mean of the bootstrap); measured = fitted decay exponent of the best-k l2 "
    "error; pi_low/pi_high = mean ends of the 95 % predictive interval of the measured exponent (seeded "
    "parametric bootstrap of the fitted tail, semi-parametric body, or of the fitted stable law for the stable "
    "estimator; alpha's uncertainty included); agree = share "
    "of cases whose measurement lies in its own interval (the agreement compares with this interval, not with "
    "predicted); compressible = share with fitted alpha < 2 among the cases with a fitted alpha; eff_frac = "
    "effective sparsity (relative error 0.1) over n; *_sd = standard deviation over the cases (replicates); "
    "means are rounded at the leading digit of their 95 % uncertainty (2 sd / sqrt(cases)). "
    "Every column of results.csv: docs/columns.md.\n"
)
"""The explanation of the summary columns for summary.md."""


def _share(s: Any) -> float:
    """Share of True among the rows that have a value (missing values, such as failed fits, do not count)."""
    vals = s.dropna()
    return float(vals.astype(bool).mean()) if len(vals) else math.nan


def _sd(s: Any) -> float:
    vals = s.dropna().astype(float)
    return float(vals.std(ddof=1)) if len(vals) > 1 else math.nan


def stable_round(mean: float, sd: float, count: int, significant: int = SIGNIFICANT) -> float:
    """``mean`` rounded to the digits that ``count`` replicates with spread ``sd`` support.

    The unit of the last kept digit is the power of ten of the leading digit of ``2 sd / sqrt(count)``, at least
    the unit of the ``significant``-th significant digit of ``mean`` and at most the unit of its first. Without a
    spread (one replicate, NaN), only the ``significant`` digits apply.

    Examples
    --------
    >>> stable_round(1.5137, 0.12, 16)  # se 0.03: 2 se = 0.06 -> unit 0.01
    1.51
    >>> stable_round(1.5137, 0.4, 16)  # 2 se = 0.2 -> unit 0.1
    1.5
    >>> stable_round(1.5137, 0.01, 100)  # se 0.001 -> unit 0.01 (3 significant digits)
    1.51
    """
    if not math.isfinite(mean) or mean == 0:
        return mean
    unit = 10.0 ** (math.floor(math.log10(abs(mean))) - significant + 1)
    if math.isfinite(sd) and count > 1 and sd > 0:
        unit = max(unit, 10.0 ** math.floor(math.log10(2.0 * sd / math.sqrt(count))))
        unit = min(unit, 10.0 ** math.floor(math.log10(abs(mean))))  # at least one significant digit
    digits = -round(math.log10(unit))
    return float(round(mean, digits))


def _round_means(table: Any, pairs: dict[str, str]) -> Any:
    """Round each ``mean`` column of ``pairs`` (mean -> sd column) with :func:`stable_round` row by row."""
    for mean_col, sd_col in pairs.items():
        table[mean_col] = [
            stable_round(float(m), float(s), int(c))
            for m, s, c in zip(table[mean_col], table[sd_col], table["cases"], strict=True)
        ]
    return table


def _synthetic_table(syn: Any) -> Any:
    g = syn.groupby(["family", "params", "true_alpha", "n", "basis", "estimator"], sort=False, dropna=False)
    table = g.agg(
        cases=("case_id", "size"),
        alpha_hat=("alpha_hat", "mean"),
        alpha_sd=("alpha_hat", _sd),
        predicted=("predicted_decay_true", "first"),
        predicted_n=("predicted_decay_finite_n", "mean"),
        measured=("measured_decay", "mean"),
        measured_sd=("measured_decay", _sd),
        pi_low=("decay_pi_low", "mean"),
        pi_high=("decay_pi_high", "mean"),
        agree=("agrees", _share),
        compressible=("compressible", _share),
        eff_frac=("effective_sparsity_frac", "mean"),
        eff_frac_sd=("effective_sparsity_frac", _sd),
    ).reset_index()
    return _round_means(table, {"alpha_hat": "alpha_sd", "measured": "measured_sd", "eff_frac": "eff_frac_sd"})


def summary_tables(df: Any) -> dict[str, Any]:
    """The summary tables of a results DataFrame.

    ``synthetic``: one row per family, true alpha, size, basis and estimator: ``cases`` (the replicates), mean
    and sd of ``alpha_hat``, ``measured`` and ``eff_frac`` (means rounded by :func:`stable_round`), the
    asymptotic ``predicted`` (true alpha), the mean finite-n ``predicted_n``, the mean interval ends
    ``pi_low``/``pi_high`` and the ``agree`` share; ``real``: one row per model, basis and estimator (medians
    over tensors); ``errors``: the rows whose status is not ``ok``. The ``agree`` and ``compressible`` shares
    count only the rows that have a value (a failed tail fit has neither). Results written before the
    calibrated agreement (without its columns) get NaN in the new columns.
    """
    import pandas as pd

    df = df.copy()
    for col in ("predicted_decay_finite_n", "decay_pi_low", "decay_pi_high"):
        if col not in df.columns:
            df[col] = np.nan
    ok = df[df["status"] == "ok"]
    tables: dict[str, Any] = {}
    syn = ok[ok["source"] == "synthetic"]
    if len(syn):
        tables["synthetic"] = _synthetic_table(syn)
    real = ok[ok["source"] != "synthetic"]
    if len(real):
        g = real.groupby(["family", "basis", "estimator"], sort=False)
        tables["real"] = g.agg(
            tensors=("case_id", "size"),
            median_alpha=("alpha_hat", "median"),
            median_alpha_ww=("alpha_ww", "median"),
            compressible=("compressible", _share),
            median_predicted_n=("predicted_decay_finite_n", "median"),
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
