"""Coverage of the agreement interval, measured: the share of replicates whose measured decay lies in its own
95 % predictive interval (sparsity.harness._agreement), for iid Pareto and stable samples fitted by Hill and CSN,
and for stable samples fitted by the stable estimator (whose interval simulates the stable law).

The fast test pools few replicates; the slow one (and bench/suites/coverage.toml, at 200 replicates per cell)
measures each cell. Bounds are binomial: under a calibrated interval the number of covered replicates out of m is
Binomial(m, 0.95), whose 1e-4 quantile is the lower bound (a calibrated interval fails it with probability
< 1e-4; the seeds are fixed, so the test is deterministic). A little slack for the bootstrap's own Monte Carlo
error (400 replicates put the interval's ends at quantiles with a standard error of about 0.011 in coverage) is
added by testing against 0.95 - 0.02.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import sparsity as sp
from sparsity import synthetic
from sparsity.harness._agreement import agreement_columns

NOMINAL = 0.95
SLACK = 0.02
"""Monte Carlo error of the interval ends themselves (400 bootstrap replicates), two standard errors."""


def covered(law: str, alpha: float, n: int, method: str, replicates: int, seed: int) -> list[bool]:
    """Whether each replicate's measured decay lies in its own interval (one SeedSequence child per replicate)."""
    out = []
    for child in np.random.SeedSequence([seed, n, int(alpha * 1000)]).spawn(replicates):
        data_seed, fit_seed, pi_seed = child.spawn(3)
        x = getattr(synthetic, law)(alpha, n, rng=np.random.default_rng(data_seed))
        fit = sp.fit_tail(x, method=method, rng=np.random.default_rng(fit_seed))
        d = sp.decay_exponent(x)
        tail = {"alpha": fit.alpha, "lo": fit.alpha_ci[0], "hi": fit.alpha_ci[1], "xmin": fit.xmin,
                "n_tail": fit.n_tail, "se": fit.alpha_se}  # fmt: skip
        measured = {"measured_decay": d.exponent, "decay_k_min": d.k_min, "decay_k_max": d.k_max}
        cols = agreement_columns(x, tail, measured, method, law, pi_seed)
        out.append(bool(cols["agrees"]))
    return out


def _lower_bound(m: int) -> int:
    return int(stats.binom.ppf(1e-4, m, NOMINAL - SLACK))


def test_coverage_pooled_fast():
    # 4 cells x 15 replicates = 60 intervals, Pareto and stable on both sides of alpha = 1, CSN and Hill, n = 5000.
    cells = [("pareto", 0.8, "csn"), ("pareto", 1.5, "hill"), ("stable", 1.0, "csn"), ("stable", 1.5, "hill")]
    hits = [h for law, a, m in cells for h in covered(law, a, 5000, m, 15, seed=11)]
    m = len(hits)
    assert sum(hits) >= _lower_bound(m)  # 60 trials: at least 49 covered


def test_coverage_stable_estimator_near_two_fast():
    # The stable estimator's interval simulates the stable law itself: calibrated where a Pareto tail is the wrong
    # model (alpha = 1.5 and 1.9, which the fitted-tail interval misses; see test_coverage_per_cell).
    hits = [h for a in (1.5, 1.9) for h in covered("stable", a, 5000, "stable", 15, seed=13)]
    assert sum(hits) >= _lower_bound(len(hits))  # 30 trials: at least 23 covered


@pytest.mark.slow
@pytest.mark.parametrize(
    ("law", "alpha", "method"),
    [(law, a, m) for law, alphas in (("pareto", (0.5, 1.0, 1.5, 1.9)), ("stable", (0.5, 1.0, 1.9)))
     for a in alphas for m in ("csn", "hill")]
    + [("stable", a, "stable") for a in (0.5, 1.0, 1.5, 1.9)],
)  # fmt: skip
def test_coverage_per_cell(law, alpha, method):
    # 100 replicates at n = 10^4 per cell. Left out, because the estimator's bias breaks the interval there
    # (measured at 200 replicates: stable alpha = 1.5 covers 0.825 with CSN and 0.865 with Hill at n = 1e4, and
    # 0.58 / 0.17 at n = 1e5 (60 replicates); stable 1.9 covers at n = 1e4 only: alpha_hat ~ 3.3 describes its top
    # order statistics at that n, not at 1e5). The fitted Pareto tail is not the stable law's at these n.
    # The stable estimator's interval simulates n values per bootstrap replicate: its cells use n = 5000.
    hits = covered(law, alpha, 5000 if method == "stable" else 10_000, method, 100, seed=12)
    assert sum(hits) >= _lower_bound(100)
