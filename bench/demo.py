"""A small demonstration: best-k error decay against the tail index for a few synthetic families.

Prints, for each family, the tail index alpha, the predicted decay exponent max(0, 1/alpha - 1/2), the
measured one, and the relative best-k error at k = n/10 (which tends to 0 only when alpha < 2).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

import sparsity as sp


def main(n: int = 10**6, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    families = [
        ("pareto alpha=0.8", 0.8, lambda: rng.random(n) ** (-1 / 0.8)),
        ("pareto alpha=1.5", 1.5, lambda: rng.random(n) ** (-1 / 1.5)),
        ("stable alpha=1.2", 1.2, lambda: stats.levy_stable.rvs(1.2, 0.0, size=n, random_state=rng)),
        ("student-t df=3", 3.0, lambda: rng.standard_t(3.0, n)),
        ("laplace", float("inf"), lambda: rng.laplace(size=n)),
        ("gaussian", float("inf"), lambda: rng.standard_normal(n)),
    ]
    print(f"{'family':<18} {'alpha':>6} {'predicted':>9} {'measured':>9} {'r2':>6} {'rel err k=n/10':>15}")
    for name, alpha, draw in families:
        x = draw()
        fit = sp.decay_exponent(x)
        rel = float(sp.best_k_error(x, n // 10, relative=True))
        print(
            f"{name:<18} {alpha:>6.2f} {sp.predicted_decay_exponent(alpha):>9.3f} {fit.exponent:>9.3f} "
            f"{fit.r2:>6.3f} {rel:>15.4f}"
        )


if __name__ == "__main__":
    main()
