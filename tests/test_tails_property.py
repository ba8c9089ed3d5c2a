"""Property-based test (hypothesis) of the CSN scan: the pruned scan finds the naive scan's minimiser."""

from __future__ import annotations

import numpy as np
import pytest

from sparsity.tails._csn import csn_fit

hypothesis = pytest.importorskip("hypothesis")
st = pytest.importorskip("hypothesis.strategies")


@hypothesis.settings(max_examples=60, deadline=None, derandomize=True)
@hypothesis.given(
    st.lists(st.integers(min_value=1, max_value=60), min_size=10, max_size=300),
    st.floats(min_value=0.3, max_value=3.0),
)
def test_property_pruned_equals_naive(values, power):
    """Any sample (small integers -> many ties, raised to a power -> continuous values): same minimiser."""
    x = np.sort(np.asarray(values, dtype=float) ** power)
    if np.unique(x).size < 3:
        return
    a = csn_fit(x, scan="naive")
    b = csn_fit(x, scan="pruned")
    assert (b.xmin, b.n_tail, b.ks_distance, b.alpha) == (a.xmin, a.n_tail, a.ks_distance, a.alpha)
    d1 = csn_fit(x.round(), discrete=True, scan="naive") if np.all(x == x.round()) else None
    if d1 is not None:
        d2 = csn_fit(x.round(), discrete=True, scan="pruned")
        assert (d2.xmin, d2.ks_distance) == (d1.xmin, d1.ks_distance)
