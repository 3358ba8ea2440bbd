"""Stratified batches hold every stratum equally, cycle small strata, and are reproducible."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from fairaudit.errors import ConfigError
from fairaudit.mitigation import StratifiedBatchSampler, make_strata


def _imbalanced(n: int = 1000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    groups = rng.choice(["White", "Black", "Asian"], n, p=[0.85, 0.1, 0.05]).astype(object)
    labels = (rng.random(n) < 0.3).astype(int)
    return groups, labels


@pytest.mark.parametrize("batch_size", [30, 32, 64])
def test_every_batch_is_balanced_across_groups(batch_size: int) -> None:
    groups, _ = _imbalanced()
    sampler = StratifiedBatchSampler(groups, batch_size, seed=1)
    batches = list(sampler)
    assert len(batches) == len(sampler) == -(-len(groups) // batch_size)
    totals: Counter[str] = Counter()
    for batch in batches:
        assert len(batch) == batch_size
        counts = Counter(groups[batch])
        assert set(counts) == {"White", "Black", "Asian"}
        # Equal shares, up to one remainder slot per stratum.
        assert max(counts.values()) - min(counts.values()) <= 1
        totals.update(counts)
    # The rotating remainder keeps the epoch totals equal too (up to one batch's remainder).
    assert max(totals.values()) - min(totals.values()) <= batch_size % 3


def test_group_by_label_strata_and_no_repeats_within_a_pass() -> None:
    groups, labels = _imbalanced(seed=2)
    strata = make_strata(groups, labels)
    assert "Black | y=1" in set(strata)
    n_strata = len(set(strata))
    sampler = StratifiedBatchSampler(strata, 4 * n_strata, n_batches=5, seed=0)
    seen: dict[str, list[int]] = {}
    for batch in sampler:
        counts = Counter(strata[batch])
        assert len(counts) == n_strata and set(counts.values()) == {4}
        for i in batch:
            seen.setdefault(strata[i], []).append(i)
    # A stratum bigger than what 5 batches draw from it never repeats a row.
    for name, rows in seen.items():
        if (strata == name).sum() >= len(rows):
            assert len(set(rows)) == len(rows)
    # A small stratum is cycled: all its rows are used before any repeats.
    smallest = min(set(strata), key=lambda s: (strata == s).sum())
    members = set(np.flatnonzero(strata == smallest).tolist())
    draws = Counter(seen[smallest])
    assert sum(draws.values()) > len(members)
    assert set(draws) == members
    assert max(draws.values()) - min(draws.values()) <= 1


def test_reproducible_per_epoch_and_different_across_epochs() -> None:
    groups, _ = _imbalanced()
    a = StratifiedBatchSampler(groups, 32, seed=7)
    b = StratifiedBatchSampler(groups, 32, seed=7)
    first_a, first_b = list(a), list(b)
    assert first_a == first_b
    assert list(a) != first_a  # the next epoch reshuffles
    a.set_epoch(0)
    assert list(a) == first_a


def test_works_as_a_dataloader_batch_sampler() -> None:
    groups, labels = _imbalanced(200)
    data = TensorDataset(torch.arange(200), torch.as_tensor(labels))
    loader = DataLoader(data, batch_sampler=StratifiedBatchSampler(groups, 30, seed=0))
    for idx, _y in loader:
        counts = Counter(groups[idx.numpy()])
        assert sorted(counts.values()) == [10, 10, 10]


def test_batch_smaller_than_strata_is_an_error() -> None:
    with pytest.raises(ConfigError, match="at least the number of strata"):
        StratifiedBatchSampler(np.array(["a", "b", "c"]), 2)
