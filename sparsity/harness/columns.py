"""What every output column means, keyed by column name: the one source of ``docs/columns.md``.

The column *names* come from the code that writes them (:data:`sparsity.harness.cases.COLUMNS` for a suite's
``results.csv``, :data:`sparsity.layers.COLUMNS` and its dtypes for the per-layer table of ``analyze``); this
module adds one description per name. :func:`columns_markdown` renders both tables, and a test checks that the
committed ``docs/columns.md`` equals it, that every column has a description and that every description names a
column, so the documentation cannot drift from the code. Regenerate with::

    python -m sparsity.harness.columns > docs/columns.md
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from sparsity.harness.cases import COLUMNS as RESULTS_COLUMNS
from sparsity.layers import COLUMNS as LAYER_COLUMNS
from sparsity.layers._rows import DTYPES as LAYER_DTYPES

__all__ = [
    "ANALYZE_EXTRA_COLUMNS",
    "ANALYZE_TERMINAL_COLUMNS",
    "LAYER_COLUMN_DOCS",
    "RESULTS_COLUMN_DOCS",
    "columns_markdown",
    "main",
]

RESULTS_COLUMN_DOCS: dict[str, str] = {
    "case_id": "`task_id[/tensor]/basis/estimator`: unique per row, stable across runs",
    "group": "name of the suite group (`[[groups]] name` in the suite TOML)",
    "source": "`synthetic`, `catalog` (an installed catalog entry) or `path` (a weight file)",
    "family": "generator name for synthetic data, model name for real weights",
    "params": 'generator parameters as JSON (`{"alpha": 1.5}`); empty for real weights',
    "replicate": "replicate index of the draw (0 to R-1 for `replicates = R` in the group; 0 for real weights)",
    "tensor": "tensor name inside the weight file (empty for synthetic data)",
    "shape": "array shape, sides joined by `x` (`1024x512`)",
    "n": "number of values in the basis: entries, or singular values for `spectrum`",
    "basis": "`entries` (all magnitudes) or `spectrum` (singular values)",
    "estimator": "tail estimator, a `sparsity.fit_tail` method (`csn`, `hill`, `stable`, ...)",
    "true_alpha": "known survival tail index of the basis (`inf`: light tail; empty: unknown)",
    "alpha_hat": "fitted survival tail index, P(|X| > t) ~ t^-alpha (singular values for `spectrum`)",
    "alpha_ci_low": "lower end of the 95 % confidence interval of `alpha_hat`",
    "alpha_ci_high": "upper end of the 95 % confidence interval of `alpha_hat`",
    "alpha_ww": "`spectrum` rows: WeightWatcher's ESD exponent, `1 + alpha_hat / 2` (empty for `entries`)",
    "xmin": "start of the fitted tail (in the units of the basis values)",
    "n_tail": "number of values at or above `xmin`",
    "ks_distance": "Kolmogorov-Smirnov distance of the tail fit (CSN)",
    "predicted_decay": "predicted decay exponent `max(0, 1/alpha_hat - 1/2)` of the best-k l2 error",
    "predicted_decay_true": "the same from `true_alpha`",
    "predicted_decay_finite_n": "finite-n prediction of `measured_decay` at this n and fit window (Pareto: the "
    "exact expected curve's fit; other laws: mean of a bootstrap of the fitted tail, or of the fitted stable law "
    "for the `stable` estimator)",
    "measured_decay": "fitted exponent s of sigma_k ~ k^-s (`sparsity.decay_exponent`; positive = decaying)",
    "decay_k_min": "first k of the decay fit window",
    "decay_k_max": "last k of the decay fit window",
    "decay_r2": "r^2 of the log-log decay fit",
    "agrees": "`decay_pi_low <= measured_decay <= decay_pi_high` (empty without an interval)",
    "decay_pi_low": "lower end of the predictive interval of `measured_decay` at this n and window (seeded "
    "bootstrap of the fitted tail, or a simulation of the fitted stable law for the `stable` estimator; alpha's "
    "uncertainty included)",
    "decay_pi_high": "upper end of that predictive interval",
    "decay_pi_level": "nominal coverage of the predictive interval (0.95)",
    "compressible": "`alpha_hat < 2` (the l2 threshold); empty when the fit gave no alpha",
    "effective_sparsity": "smallest k with relative l2 best-k error <= 0.1",
    "effective_sparsity_frac": "`effective_sparsity / n`",
    "t_generate_s": "seconds spent generating or loading the data (timing: differs between runs)",
    "t_fit_s": "seconds spent fitting the tail (timing)",
    "t_curve_s": "seconds spent computing the best-k curve and its decay (timing)",
    "t_interval_s": "seconds spent computing the predictive interval (timing)",
    "device": "`cpu` or `gpu`",
    "seed": "the task's SeedSequence entropy (JSON list)",
    "status": "`ok`, `skipped` (too few values for a fit) or `error`",
    "error": "why the row is skipped or failed (empty when ok)",
}
"""Meaning of each column of a suite's ``results.csv``."""

LAYER_COLUMN_DOCS: dict[str, str] = {
    "layer_id": "position of the tensor in the source",
    "name": "tensor name",
    "shape": "tensor shape",
    "N": "larger side of each analysed matrix",
    "M": "smaller side of each analysed matrix",
    "rf": "number of kernel positions (1 for a matrix; conv kernels: prod(kernel))",
    "num_evals": "eigenvalues of W^T W in the ESD (pooled over kernel positions)",
    "alpha_ww": "ESD power-law exponent, rho(lambda) ~ lambda^-alpha_ww (WeightWatcher's `alpha`)",
    "xmin": "start of the fitted ESD tail (an eigenvalue)",
    "xmax": "largest eigenvalue",
    "D": "Kolmogorov-Smirnov distance of the ESD fit",
    "sigma": "standard error of `alpha_ww`, `(alpha_ww - 1) / sqrt(num_pl_spikes)`",
    "num_pl_spikes": "eigenvalues in the fitted tail (`>= xmin`)",
    "alpha_weighted": "`alpha_ww * log10(lambda_max)`",
    "log_alpha_norm": "`log10(sum lambda^alpha_ww)`",
    "norm": "`sum lambda = ||W||_F^2`",
    "log_norm": "`log10(norm)`",
    "spectral_norm": "`lambda_max = ||W||_2^2` (squared, as in WeightWatcher)",
    "log_spectral_norm": "`log10(spectral_norm)`",
    "lambda_max": "largest eigenvalue of W^T W",
    "sv_max": "largest singular value",
    "sv_min": "smallest singular value",
    "stable_rank": "`norm / spectral_norm`",
    "matrix_rank": "numerical rank (singular values above `sv_max * N * eps`)",
    "entropy": "normalised spectral entropy of the eigenvalue shares (1 = flat)",
    "sigma_mp": "Marchenko-Pastur entry scale sigma, matched to the median eigenvalue",
    "bulk_min": "lower edge of the Marchenko-Pastur bulk",
    "bulk_max": "upper edge of the Marchenko-Pastur bulk",
    "num_spikes": "eigenvalues above the Tracy-Widom 99 % threshold of the bulk",
    "mp_softrank": "`bulk_max / lambda_max`",
    "sv_tail_index": "survival tail index of the singular values, `2 (alpha_ww - 1)`",
    "predicted_rank_decay": "`max(0, 1/sv_tail_index - 1/2)`: predicted decay of the rank-k Frobenius error",
    "measured_rank_decay": "fitted decay exponent of the rank-k Frobenius error (of the singular values)",
    "rank_decay_r2": "r^2 of that fit",
    "compressible": "`sv_tail_index < 2` (equivalently `alpha_ww < 2`); empty when the ESD fit failed",
    "alpha_ww_ci_low": "lower end of the 95 % interval of `alpha_ww`: union of the normal intervals of every xmin "
    "whose KS distance is within one standard error of the best (xmin uncertainty included)",
    "alpha_ww_ci_high": "upper end of that interval",
    "alpha_ww_fp16": "`alpha_ww` refitted on the tensor rounded to float16 (equal to `alpha_ww` if it is float16)",
    "alpha_ww_bf16": "`alpha_ww` refitted on the tensor rounded to bfloat16",
    "alpha_ww_unstable": "a float16 or bfloat16 refit lies outside the interval (or failed); empty without a fit",
    "entry_alpha": "survival tail index of the entry magnitudes |W_ij| (default: exact CSN, xmin scanned over the "
    "20,000 largest)",
    "entry_xmin": "start of the fitted entry tail",
    "entry_n_tail": "entries in the fitted tail",
    "entry_D": "Kolmogorov-Smirnov distance of the entry fit",
    "entry_predicted_decay": "`max(0, 1/entry_alpha - 1/2)`: predicted decay of the best-k l2 error of the entries",
    "entry_measured_decay": "fitted decay exponent of the best-k l2 error of the entries",
    "entry_decay_r2": "r^2 of that fit",
    "entry_compressible": "`entry_alpha < 2`; empty when the entry fit failed",
    "entry_alpha_ci_low": "lower end of the 95 % interval of `entry_alpha` (CSN: xmin uncertainty included, as "
    "for `alpha_ww_ci_low`; other `entry_method`s: their own interval)",
    "entry_alpha_ci_high": "upper end of that interval",
    "entry_alpha_fp16": "`entry_alpha` refitted on the magnitudes rounded to float16",
    "entry_alpha_bf16": "`entry_alpha` refitted on the magnitudes rounded to bfloat16",
    "entry_alpha_unstable": "a float16 or bfloat16 refit lies outside the interval (or failed); empty without a fit",
    "status": "`ok`, `skipped` (too small or all-zero) or `failed`",
    "reason": "why a column is missing or the row skipped or failed",
}
"""Meaning of each column of the per-layer table (``sparsity.analyze_weights``, ``sparsity-bench analyze``)."""

ANALYZE_EXTRA_COLUMNS: dict[str, str] = {
    "checkpoint": "`analyze --out`: the checkpoint's label (`label=PATH`) or file/folder name; one per PATH",
}
"""Columns that ``analyze --out`` writes in front of the per-layer columns (several checkpoints, one file)."""

ANALYZE_TERMINAL_COLUMNS: tuple[str, ...] = (
    "name",
    "shape",
    "alpha_ww",
    "sv_tail_index",
    "entry_alpha",
    "measured_rank_decay",
    "entry_measured_decay",
    "compressible",
)
"""The compact default of ``sparsity-bench analyze`` in a terminal (``--columns all`` shows every column)."""


def _table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(":---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return lines


def columns_markdown() -> str:
    """The text of ``docs/columns.md``: every column of ``results.csv`` and of the per-layer table, documented.

    Raises
    ------
    KeyError
        When a column has no description (add it to this module's dictionaries).
    """
    results = [(f"`{c}`", RESULTS_COLUMN_DOCS[c]) for c in RESULTS_COLUMNS]
    layers = [(f"`{c}`", LAYER_DTYPES[c], LAYER_COLUMN_DOCS[c]) for c in LAYER_COLUMNS]
    extra = [(f"`{c}`", text) for c, text in ANALYZE_EXTRA_COLUMNS.items()]
    lines = [
        "# Output columns",
        "",
        "<!-- Generated by `python -m sparsity.harness.columns > docs/columns.md`; do not edit by hand. -->",
        "",
        "Conventions: `alpha` is the survival tail index, P(|X| > t) ~ t^-alpha; `alpha_ww` is the density",
        "exponent of the eigenvalues of W^T W (WeightWatcher); `sv_tail_index = 2 (alpha_ww - 1)`. A decay exponent",
        "s means the best-k (or rank-k) l2 error falls as k^-s; the prediction is `max(0, 1/alpha - 1/2)`, so",
        "alpha = 2 (alpha_ww = 2) is the compressibility threshold. Empty cells are values that could not be",
        'computed (NaN, or a missing count or flag). In JSON, empty is `null` and an infinite value is `"inf"`.',
        "",
        "## `results.csv` of a suite (`sparsity-bench run`)",
        "",
        "One row per case: data set (or tensor), basis and tail estimator.",
        "",
        *_table(results, ("column", "meaning")),
        "",
        "## Per-layer table (`sparsity-bench analyze`, `sparsity.analyze_weights`)",
        "",
        "One row per analysed tensor. `dtype` is the pandas dtype (`Int64` and `boolean` are nullable).",
        f"The terminal shows {', '.join(f'`{c}`' for c in ANALYZE_TERMINAL_COLUMNS)} unless `--columns` says",
        "otherwise (`--columns all`: every column; files written with `-o` get every column).",
        "",
        *_table(layers, ("column", "dtype", "meaning")),
        "",
        "`analyze --out DIR` writes the per-layer columns to `DIR/results.csv` after:",
        "",
        *_table(extra, ("column", "meaning")),
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    """Print :func:`columns_markdown` (``python -m sparsity.harness.columns > docs/columns.md``)."""
    sys.stdout.write(columns_markdown())
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
