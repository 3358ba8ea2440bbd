"""Cell statistics: the sorted fast path gives exactly what the direct path gives."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fairaudit.metrics.cells import _sorted_quantiles, build_cells


@st.composite
def _rows(draw):
    n = draw(st.integers(1, 400))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    scores = rng.random(n)
    if draw(st.booleans()):
        scores = np.round(scores, draw(st.integers(0, 2)))  # heavy ties, exact 0 and 1
    if draw(st.booleans()):
        scores[: n // 3] = draw(st.sampled_from([0.0, 0.5, 1.0]))
    return rng.integers(0, 2, n), scores, rng.integers(0, 3, (n, 2))


@settings(max_examples=150, deadline=None)
@given(_rows(), st.sampled_from([0.0, 0.37, 0.5, 1.0]))
def test_sorted_path_is_identical(rows, threshold) -> None:
    labels, scores, groups = rows
    a = build_cells(labels, scores, groups, threshold)
    b = build_cells(labels, scores, groups, threshold, order=np.argsort(scores))
    np.testing.assert_array_equal(a.edges, b.edges)
    np.testing.assert_array_equal(a.row_bin, b.row_bin)
    np.testing.assert_array_equal(a.count, b.count)
    np.testing.assert_array_equal(a.ssum, b.ssum)


@pytest.mark.parametrize("n", [1, 2, 3, 64, 65, 1000])
def test_sorted_quantiles_equal_numpy(n: int) -> None:
    s = np.sort(np.random.default_rng(n).random(n))
    np.testing.assert_array_equal(_sorted_quantiles(s, 64), np.quantile(s, np.linspace(0, 1, 65)))
