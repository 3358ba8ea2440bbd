"""Stratified batch sampling (Puyol-Antón et al., MICCAI 2021).

Every minibatch draws the same number of rows from each stratum (a protected group, or a
group x label cell), so minority groups are seen as often as the majority. Strata smaller than
their share of an epoch are cycled: each stratum is a shuffled queue, reshuffled whenever it
runs out, so within one pass over a stratum no row repeats.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from torch.utils.data import Sampler

from fairaudit.errors import ConfigError, InputError
from fairaudit.mitigation.reweighting import group_labels


def make_strata(groups: Any, labels: Any | None = None) -> np.ndarray:
    """Stratum name per row: the group, or ``"group | y=label"`` when labels are given.

    ``groups`` takes the same forms as :func:`~fairaudit.mitigation.group_labels` (several
    columns form their intersection).
    """
    names, _ = group_labels(groups)
    if labels is None:
        return names
    y = np.asarray(labels)
    if y.shape != names.shape:
        raise InputError(f"got {y.shape[0]} labels for {names.shape[0]} rows of groups.")
    return np.asarray([f"{g} | y={int(v)}" for g, v in zip(names, y, strict=True)], dtype=object)


class StratifiedBatchSampler(Sampler[list[int]]):
    """Yield minibatches of row indices balanced across strata.

    Use it as ``DataLoader(dataset, batch_sampler=StratifiedBatchSampler(...))``.

    Parameters
    ----------
    strata : array-like of shape (n,)
        The stratum of every row (see :func:`make_strata`). Every stratum must be non-empty.
    batch_size : int
        Rows per batch; at least the number of strata. Each batch holds ``batch_size // S``
        rows of every stratum; the ``batch_size % S`` remaining slots go to strata in a rotating
        order, so over an epoch every stratum gets the same count up to one per batch.
    n_batches : int, optional
        Batches per epoch; by default ``ceil(n / batch_size)``, the length of an ordinary epoch.
    seed : int
        Seed of the shuffles. Epoch ``e`` uses ``numpy.random.default_rng([seed, e])``; the
        epoch advances after every full iteration or is set with :meth:`set_epoch`.
    """

    def __init__(
        self,
        strata: Any,
        batch_size: int,
        *,
        n_batches: int | None = None,
        seed: int = 0,
    ) -> None:
        codes, names = _encode(strata)
        if batch_size < len(names):
            raise ConfigError(
                f"batch_size must be at least the number of strata ({len(names)}: "
                f"{', '.join(names[:6])}{', ...' if len(names) > 6 else ''}); got {batch_size}."
            )
        if n_batches is not None and n_batches < 1:
            raise ConfigError(f"n_batches must be a positive integer; got {n_batches}.")
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.strata_names: tuple[str, ...] = names
        self._members = [np.flatnonzero(codes == s) for s in range(len(names))]
        self.n_batches = (
            int(n_batches) if n_batches is not None else -(-codes.shape[0] // self.batch_size)
        )
        self._epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose shuffles the next iteration uses."""
        self._epoch = int(epoch)

    def __len__(self) -> int:
        return self.n_batches

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng([self.seed, self._epoch])
        self._epoch += 1
        s = len(self._members)
        base, extra = divmod(self.batch_size, s)
        queues = [rng.permutation(m) for m in self._members]
        pos = [0] * s
        for b in range(self.n_batches):
            batch: list[np.ndarray] = []
            # Rotate which strata take the remainder slots, batch by batch.
            extra_strata = {(b * extra + j) % s for j in range(extra)}
            for k in range(s):
                take = base + (1 if k in extra_strata else 0)
                got: list[np.ndarray] = []
                while take > 0:
                    if pos[k] == queues[k].shape[0]:
                        queues[k] = rng.permutation(self._members[k])
                        pos[k] = 0
                    chunk = queues[k][pos[k] : pos[k] + take]
                    pos[k] += chunk.shape[0]
                    take -= chunk.shape[0]
                    got.append(chunk)
                batch.extend(got)
            idx = np.concatenate(batch)
            yield rng.permutation(idx).tolist()


def _encode(strata: Any) -> tuple[np.ndarray, tuple[str, ...]]:
    arr = np.asarray(strata, dtype=object)
    if arr.ndim != 1 or arr.shape[0] == 0:
        raise InputError(f"strata must be a non-empty 1-D array with one value per row; got shape {arr.shape}.")
    names, codes = np.unique(arr.astype(str), return_inverse=True)
    return codes.astype(np.int64), tuple(str(n) for n in names)


__all__: Sequence[str] = ["StratifiedBatchSampler", "make_strata"]
