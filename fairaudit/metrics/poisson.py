"""Partition-independent Poisson bootstrap from a counter-based hash.

A row's (or a patient's) weight in replicate ``r`` is a Poisson(1) draw that is a pure
function of ``(seed, key, r)``: splitmix64 of the mixed integers gives a uniform, the inverse
CDF of Poisson(1) gives the weight. No generator state is shared, so any partition computes its
share of every replicate on its own, and the merged replicates do not depend on how the rows
were split.

Rows are first hashed into ``n_buckets`` buckets (``bucket = hash(seed, key) mod n_buckets``)
and every row of a bucket shares the bucket's weight: the replicate count of a cell is then
``sum over buckets of weight[bucket] x rows of the cell in the bucket``, a product of a
(replicates x buckets) weight matrix and a (buckets x cells) count table. The table merges by
addition; the cost of a replicate is in buckets, not rows. A bucket is a random union of whole
keys (rows, or patients with ``--cluster``), so this is the Poisson bootstrap of those unions:
a cluster bootstrap of independent units, which is valid whatever the bucket sizes. With fewer
keys than buckets in a group, almost every key has a bucket of its own.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

N_BUCKETS = 1024
"""Hash buckets of the Poisson bootstrap (the resampled units when there are more keys)."""

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GAMMA = np.uint64(0x9E3779B97F4A7C15)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser applied elementwise (uint64 in, uint64 out)."""
    z = np.asarray(x, dtype=np.uint64) + _GAMMA
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def mix(*parts: np.ndarray | np.integer | int) -> np.ndarray:
    """Hash several uint64 arrays (broadcast) into one: ``h = splitmix64(h ^ part)`` in turn."""
    h = np.zeros((), dtype=np.uint64)
    for part in parts:
        h = splitmix64(h ^ np.asarray(part, dtype=np.uint64))
    return h


def text_hash(text: str) -> int:
    """A stable 64-bit hash of a string (the same in every process, unlike ``hash``)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def bucket_of(keys: np.ndarray, seed: int, n_buckets: int = N_BUCKETS) -> np.ndarray:
    """Bucket (0 .. ``n_buckets`` - 1) of every uint64 key, for one seed."""
    return (mix(np.uint64(seed), keys) % np.uint64(n_buckets)).astype(np.int64)


def _poisson1_cdf(k_max: int = 24) -> np.ndarray:
    pmf = np.array([math.exp(-1.0) / math.factorial(k) for k in range(k_max + 1)])
    return np.cumsum(pmf)


_CDF = _poisson1_cdf()


def poisson_weights(seed: int, buckets: np.ndarray, replicates: np.ndarray) -> np.ndarray:
    """Poisson(1) weights, shape (len(replicates), len(buckets)), from ``(seed, bucket, r)``.

    The uniform is the top 53 bits of the hash; the weight is the smallest ``k`` with
    ``CDF(k) > u`` (the table reaches ``k`` = 24, beyond any uniform a double can hold).
    """
    h = mix(np.uint64(seed) ^ np.uint64(0x5EED), np.asarray(replicates, np.uint64)[:, None],
            np.asarray(buckets, np.uint64)[None, :])
    u = (h >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))
    return np.searchsorted(_CDF, u, side="right").astype(np.float64)


class PoissonBootstrap:
    """Replicate cell counts ``weights @ table`` for a (buckets x cells) count table.

    ``draw`` ignores the generator it is given: replicate ``r`` depends only on the seed, so
    the draws are the same whatever produced the table. It counts the replicates it has drawn.

    Parameters
    ----------
    table : scipy sparse matrix (n_buckets, F x 2 x B)
        Rows of every fine cell in every bucket (merged over partitions).
    shape : tuple
        ``(F, 2, B)``.
    seed : int
    unit : str
        ``"row"`` or ``"patient"``.
    """

    def __init__(self, table, shape: tuple[int, int, int], seed: int, unit: str = "row") -> None:
        self._table = table.tocsc()
        self._shape = shape
        self._seed = int(seed)
        self.unit = unit
        used = np.flatnonzero(np.diff(table.tocsr().indptr) > 0)
        self._used = used
        self._rows = table.tocsr()[used]

    def draw(self, streams: object, start: int, r: int) -> np.ndarray:
        """Counts of replicates ``start`` to ``start + r - 1``, (r, F, 2, B): hashed weights of
        (seed, bucket, replicate), so ``streams`` is not used."""
        w = poisson_weights(self._seed, self._used, np.arange(start, start + r))
        out = np.asarray((self._rows.T @ w.T).T)  # (r, cells)
        return out.reshape((r, *self._shape))
