"""A mergeable distinct count of 64-bit key hashes: exact while small, then HyperLogLog.

The merged-statistics path counts patients (``--cluster``) without holding their ids: every
slice of rows reduces to a :class:`KeyCount` of its keys' 64-bit hashes, and :func:`merge_counts`
combines two. A count is

- **exact** while the slice has at most ``limit`` (default :data:`EXACT_LIMIT` = 65,536)
  distinct hashes: it keeps them, sorted (at most ``limit`` x 8 bytes = 512 KiB);
- a **HyperLogLog sketch** (Flajolet, Fusy, Gandouet & Meunier 2007) beyond: 2^14 one-byte
  registers (16 KiB), register ``j`` holding the largest rank (position of the first 1 bit)
  of the hashes whose top 14 bits are ``j``. Two sketches merge by the elementwise maximum.

The state is a function of the set of distinct hashes alone: exact (the set itself) when it has
at most ``limit`` elements, else the registers of the set. Merging is therefore exactly
associative and commutative: any partitioning of the rows and any merge order or tree give
the identical count (tested). Two hashes of different ids collide with probability about
n^2 / 2^65 (below 1e-10 for the 65,536 ids of the exact range).

The estimate of a sketch is Ertl's improved estimator (O. Ertl, "New cardinality estimation
algorithms for HyperLogLog sketches", 2017, arXiv:1702.01284, Algorithm 6), which needs neither
the linear-counting switch nor an empirical bias table and is unbiased over the whole range;
its relative standard error is about 1.04 / sqrt(2^14) = 0.81 %. Since a sketch exists only when
the exact set outgrew the limit, the count reported is at least ``limit + 1``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

EXACT_LIMIT = 1 << 16
"""Distinct keys counted exactly; beyond, the count is a HyperLogLog estimate."""

HLL_PRECISION = 14
"""log2 of the registers of the sketch (2^14 registers: relative standard error 0.81 %)."""

_M = 1 << HLL_PRECISION
_Q = 64 - HLL_PRECISION  # bits of a hash left for the rank
RELATIVE_ERROR = 1.04 / math.sqrt(_M)
"""Relative standard error of an estimated count (about 0.0081)."""


@dataclass(frozen=True, eq=False)
class KeyCount:
    """Distinct 64-bit hashes: the sorted set while small, else HyperLogLog registers.

    Attributes
    ----------
    exact : ndarray of uint64 or None
        The sorted distinct hashes (at most ``limit``), or None once a sketch.
    registers : ndarray of uint8 (2^14,) or None
        The HyperLogLog registers, or None while exact.
    limit : int
        Most distinct hashes kept exactly.
    """

    exact: np.ndarray | None
    registers: np.ndarray | None
    limit: int = EXACT_LIMIT

    @property
    def estimated(self) -> bool:
        """Whether the count is an estimate (the set outgrew ``limit``)."""
        return self.registers is not None

    def count(self) -> int:
        """The number of distinct hashes: exact, or the rounded estimate (at least ``limit + 1``)."""
        if self.registers is None:
            assert self.exact is not None
            return int(self.exact.size)
        return max(int(round(ertl_estimate(self.registers))), self.limit + 1)


def registers_of(hashes: np.ndarray) -> np.ndarray:
    """HyperLogLog registers (uint8, 2^14) of uint64 hashes (vectorised; duplicates are free).

    The register index is the top 14 bits; the rank is the position of the first 1 bit of the
    low 50 bits read from their top (1 .. 50; 51 when all are 0). The low 50 bits are below
    2^53, so a float64 holds them exactly and ``frexp`` gives their bit length. The largest
    rank per register is taken by ``np.maximum.at`` (a maximum: the order does not matter).
    """
    h = np.asarray(hashes, dtype=np.uint64)
    index = (h >> np.uint64(_Q)).astype(np.intp)
    low = (h & np.uint64((1 << _Q) - 1)).astype(np.float64)
    rank = (_Q + 1 - np.frexp(low)[1]).astype(np.uint8)
    out = np.zeros(_M, np.uint8)
    np.maximum.at(out, index, rank)
    return out


def sorted_unique(hashes: np.ndarray) -> np.ndarray:
    """The distinct values of a uint64 array, sorted (a sort and a mask: faster than
    ``np.unique``)."""
    s = np.sort(np.asarray(hashes, dtype=np.uint64))
    if s.size < 2:
        return s
    return s[np.r_[True, s[1:] != s[:-1]]]


def key_count(hashes: np.ndarray, limit: int = EXACT_LIMIT) -> KeyCount:
    """The :class:`KeyCount` of some uint64 hashes (repeats count once)."""
    return _of_set(sorted_unique(hashes), limit)


def _of_set(u: np.ndarray, limit: int) -> KeyCount:
    """Exact when the sorted distinct hashes ``u`` are at most ``limit``, else a sketch."""
    if u.size <= limit:
        return KeyCount(exact=u, registers=None, limit=int(limit))
    return KeyCount(exact=None, registers=registers_of(u), limit=int(limit))


def merge_counts(a: KeyCount, b: KeyCount) -> KeyCount:
    """The count of the union of ``a``'s and ``b``'s hashes (associative and commutative)."""
    if a.limit != b.limit:
        raise ValueError("key counts with different exact limits cannot be merged")
    if a.exact is not None and b.exact is not None:
        return _of_set(sorted_unique(np.concatenate([a.exact, b.exact])), a.limit)
    return KeyCount(exact=None, registers=np.maximum(_registers(a), _registers(b)), limit=a.limit)


def _registers(kc: KeyCount) -> np.ndarray:
    """A count's registers (those of its exact set while exact)."""
    if kc.registers is not None:
        return kc.registers
    assert kc.exact is not None
    return registers_of(kc.exact)


def _sigma(x: float) -> float:
    """Ertl's sigma(x) = x + sum_k x^(2^k) 2^(k-1), for the empty registers."""
    if x == 1.0:
        return math.inf
    y, z = 1.0, x
    while True:
        x *= x
        z_old = z
        z += x * y
        y += y
        if z == z_old:
            return z


def _tau(x: float) -> float:
    """Ertl's tau(x), for the registers at the largest rank."""
    if x == 0.0 or x == 1.0:
        return 0.0
    y, z = 1.0, 1.0 - x
    while True:
        x = math.sqrt(x)
        z_old = z
        y *= 0.5
        z -= (1.0 - x) ** 2 * y
        if z == z_old:
            return z / 3.0


def ertl_estimate(registers: np.ndarray) -> float:
    """Ertl's (2017) improved HyperLogLog estimate of the distinct count (Algorithm 6)."""
    m = registers.shape[0]
    c = np.bincount(registers.astype(np.int64), minlength=_Q + 2)
    z = m * _tau(1.0 - c[_Q + 1] / m)
    for k in range(_Q, 0, -1):
        z = 0.5 * (z + c[k])
    z += m * _sigma(c[0] / m)
    return m * m / (2.0 * math.log(2.0) * z)
