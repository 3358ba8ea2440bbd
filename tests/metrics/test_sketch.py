"""The distinct count of patient keys: exact up to the limit, HyperLogLog beyond, and a merge
that does not depend on the partitioning or the order."""

from __future__ import annotations

import numpy as np
import pytest

from fairaudit.data.stream import key_hash
from fairaudit.metrics.sketch import (
    EXACT_LIMIT,
    HLL_PRECISION,
    RELATIVE_ERROR,
    KeyCount,
    ertl_estimate,
    key_count,
    merge_counts,
    registers_of,
    sorted_unique,
)


def patient_hashes(n_patients: int, n_rows: int, seed: int = 0) -> tuple[np.ndarray, int]:
    """Hashes of ``n_rows`` rows of patient ids drawn from ``n_patients`` (and the true count)."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, n_patients, n_rows) * 7 + 1_000_003  # ids as a table would have them
    return key_hash(ids), int(np.unique(ids).size)


def merge_in_order(counts: list[KeyCount], order: np.ndarray) -> KeyCount:
    total = counts[order[0]]
    for i in order[1:]:
        total = merge_counts(total, counts[i])
    return total


def tree_merge(counts: list[KeyCount]) -> KeyCount:
    while len(counts) > 1:
        counts = [merge_counts(counts[i], counts[i + 1]) if i + 1 < len(counts) else counts[i]
                  for i in range(0, len(counts), 2)]
    return counts[0]


def same(a: KeyCount, b: KeyCount) -> bool:
    if a.estimated != b.estimated:
        return False
    if a.estimated:
        return bool(np.array_equal(a.registers, b.registers))
    return bool(np.array_equal(a.exact, b.exact))


def test_the_count_is_exact_up_to_the_limit_and_repeats_count_once():
    h, truth = patient_hashes(40_000, 100_000)
    kc = key_count(h)
    assert not kc.estimated and kc.count() == truth
    np.testing.assert_array_equal(kc.exact, np.unique(h))
    few = key_count(key_hash(np.array([5, 5, 9, 5, 9])))
    assert few.count() == 2 and not few.estimated
    assert key_count(np.zeros(0, np.uint64)).count() == 0


def test_the_count_switches_to_a_sketch_just_past_the_limit():
    h = key_hash(np.arange(1001))
    assert not key_count(h[:1000], limit=1000).estimated
    past = key_count(h, limit=1000)
    assert past.estimated and past.exact is None
    assert past.registers.shape == (1 << HLL_PRECISION,) and past.registers.dtype == np.uint8
    assert past.count() >= 1001  # known to exceed the limit
    assert EXACT_LIMIT == 65_536


def test_registers_hold_the_largest_rank_of_their_hashes():
    rng = np.random.default_rng(4)
    h = rng.integers(0, 2**64, 5000, dtype=np.uint64, endpoint=False)
    h[:3] = [0, (1 << 64) - 1, 1 << 49]  # rank 51 (low bits all 0), rank 1, rank 1
    expected = np.zeros(1 << HLL_PRECISION, np.uint8)
    q = 64 - HLL_PRECISION
    for x in (int(v) for v in h):
        j, low = x >> q, x & ((1 << q) - 1)
        expected[j] = max(expected[j], q + 1 - low.bit_length())
    np.testing.assert_array_equal(registers_of(h), expected)


def test_the_estimate_of_200000_patients_is_within_three_standard_errors():
    h, truth = patient_hashes(10**9, 200_000, seed=7)  # ids almost all distinct
    kc = key_count(h)
    assert kc.estimated
    assert abs(kc.count() - truth) < 3 * RELATIVE_ERROR * truth
    assert abs(RELATIVE_ERROR - 0.0081) < 1e-4


@pytest.mark.parametrize("n", [100, 5_000, 70_000, 1_000_000])
def test_ertls_estimator_is_close_over_the_whole_range(n):
    h = key_hash(np.arange(n, dtype=np.int64) * 3 + 11)
    est = ertl_estimate(registers_of(h))
    assert abs(est - n) < 3 * RELATIVE_ERROR * n + 1
    assert ertl_estimate(np.zeros(1 << HLL_PRECISION, np.uint8)) == 0.0


@pytest.mark.parametrize("n_patients", [30_000, 200_000])  # the union: exact / a sketch
def test_merge_is_the_same_for_any_partitioning_and_merge_order(n_patients):
    h, truth = patient_hashes(n_patients, 3 * n_patients // 2, seed=2)
    whole = key_count(h)
    rng = np.random.default_rng(3)
    for k in (1, 2, 7):
        cut = np.sort(rng.choice(np.arange(1, h.size), k - 1, replace=False))
        counts = [key_count(p) for p in np.split(h[rng.permutation(h.size)], cut)]
        assert same(tree_merge(counts), whole)
        for _ in range(3):
            assert same(merge_in_order(counts, rng.permutation(k)), whole)
    if whole.estimated:
        # Parts below the limit merged into a sketch give the sketch of the union.
        small = [key_count(p) for p in np.array_split(h, 12)]
        assert not any(c.estimated for c in small) and same(tree_merge(small), whole)
    else:
        assert whole.count() == truth


def test_merge_refuses_counts_of_different_limits():
    h = key_hash(np.arange(10))
    with pytest.raises(ValueError, match="limits"):
        merge_counts(key_count(h, limit=5), key_count(h, limit=100))


def test_sorted_unique_equals_numpy_unique():
    rng = np.random.default_rng(0)
    for n in (0, 1, 2, 1000):
        x = rng.integers(0, 50, n).astype(np.uint64)
        np.testing.assert_array_equal(sorted_unique(x), np.unique(x))
