"""The CSN scan's memo (csn_fit(...).memo) and its reuse by xmin_interval: the same interval, bitwise.

Also the two-level block pruning of the exact KS kernel against the plain every-point scan. No tolerances:
each path evaluates the same points with the same formula, so results must be equal.
"""

from __future__ import annotations

import numpy as np
import pytest

from sparsity.layers._stability import xmin_interval
from sparsity.tails._csn import _continuous_alphas, csn_fit
from sparsity.tails._csn_scan import first_index
from sparsity.tails._ks_scan import ks_scan_numpy


def _samples():
    r = np.random.default_rng(7)
    body = r.lognormal(0.0, 1.0, 6000)
    yield "pareto", r.random(5000) ** (-1 / 1.5)
    yield "body+tail", np.concatenate([body, 5.0 * r.random(1500) ** (-1 / 2.5)])
    yield "ties", np.round(r.random(5000) ** (-1 / 1.2), 2)
    yield "gaussian", np.abs(r.standard_normal(8000))


@pytest.mark.parametrize(("name", "x"), list(_samples()))
def test_interval_with_memo_equals_without(name, x):
    x = np.sort(x)
    r = csn_fit(x)
    assert r.memo is not None and r.memo.n == x.size
    plain = xmin_interval(x, r.alpha, r.n_tail, r.ks_distance)
    assert xmin_interval(x, r.alpha, r.n_tail, r.ks_distance, memo=r.memo) == plain, name


@pytest.mark.parametrize(("name", "x"), list(_samples()))
def test_widened_memo_equals_full_scan(name, x):
    # the fit of the top quarter, widened with known=, gives the fit and the interval of the full scan
    x = np.sort(x)
    top = x[-x.size // 4 :]
    wide = csn_fit(x, known=(top.size, csn_fit(top)))
    full = csn_fit(x)
    fields = ("alpha", "xmin", "n_tail", "ks_distance")
    assert [getattr(wide, f) for f in fields] == [getattr(full, f) for f in fields], name
    plain = xmin_interval(x, full.alpha, full.n_tail, full.ks_distance)
    assert xmin_interval(x, wide.alpha, wide.n_tail, wide.ks_distance, memo=wide.memo) == plain


def test_memo_bounds_are_bounds():
    x = np.sort(np.random.default_rng(3).random(4000) ** (-1 / 1.3))
    memo = csn_fit(x).memo
    exact = ks_scan_numpy(np.log(x), first_index(x), x.size - memo.tail, *_alphas(x, memo.tail), 0)[0]
    known = ~np.isnan(memo.exact)
    assert np.array_equal(memo.exact[known], exact[known])
    assert np.all(memo.lower <= exact)


def test_memo_of_another_sample_is_refused():
    x = np.sort(np.random.default_rng(4).random(3000) ** -1.0)
    r = csn_fit(x)
    with pytest.raises(ValueError, match="memo describes a sample of 3000"):
        xmin_interval(x[1:], r.alpha, r.n_tail, r.ks_distance, memo=r.memo)


@pytest.mark.parametrize("ties", [False, True])
def test_block_kernel_equals_plain_scan(ties):
    r = np.random.default_rng(11)
    x = np.sort(r.random(12000) ** (-1 / 1.7))
    if ties:
        x = np.sort(np.round(x, 3))
    L, first = np.log(x), first_index(x)
    cand = np.unique(first)[:-2][::97]
    cand = cand[x.size - cand >= 1024]
    a, cn = _alphas(x, x.size - cand)
    d_blocks, j_blocks = ks_scan_numpy(L, first, cand, a, cn, 0)
    d_plain, j_plain = ks_scan_numpy(L, first, cand, a, cn, 0, blocks=False)
    assert np.array_equal(d_blocks, d_plain) and np.array_equal(j_blocks, j_plain)


def _alphas(x, tail):
    return _continuous_alphas(np.log(x), x.size - tail, x.size, None)
