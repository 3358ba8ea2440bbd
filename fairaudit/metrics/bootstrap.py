"""Bootstrap replicates drawn over cell counts, and percentile intervals.

Row bootstrap: resampling n rows with replacement is a multinomial draw of the cell counts
with probabilities count / n, so a replicate costs O(cells), not O(rows).

Patient (cluster) bootstrap: whole patients are resampled. A sparse patient-by-cell count
matrix ``M`` turns the per-patient multiplicities ``w`` of a replicate into cell counts
``M.T @ w``; its cost grows with the number of (patient, cell) pairs, not with the replicates'
bookkeeping.

Score sums of a replicate cell are its count times the cell's mean score: exact whenever a cell
is drawn with its original count, and within a bin width otherwise.

Every replicate draws from a random stream of its own (:class:`ReplicateStreams`), so replicates
can be drawn in chunks of any size, in any order and by several threads with the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from fairaudit.metrics.cells import CellTable


class ReplicateStreams:
    """An independent random stream for every bootstrap replicate.

    Replicate ``i`` draws from an SFC64 generator seeded by the ``i``-th child of the given seed
    sequence (what ``seed.spawn`` would hand out: NumPy's recipe for independent parallel
    streams). Its numbers depend on the seed and ``i`` only, never on which chunk or thread
    draws it. A stream costs about 10 microseconds to set up; SFC64 is NumPy's fastest bit
    generator (measured: about half the cost per 64 bits of Philox, 15 % less than PCG64).

    Parameters
    ----------
    seed : int or numpy.random.SeedSequence
    """

    def __init__(self, seed: int | np.random.SeedSequence) -> None:
        self._seed = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)

    def __getitem__(self, i: int) -> np.random.Generator:
        ss = self._seed
        child = np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, i),
                                       pool_size=ss.pool_size)
        return np.random.Generator(np.random.SFC64(child))

    def span(self, start: int, r: int) -> list[np.random.Generator]:
        """The streams of replicates ``start`` to ``start + r - 1``."""
        return [self[i] for i in range(start, start + r)]


def canonical_group_order(count: np.ndarray) -> np.ndarray:
    """Order of the fine groups by content (their flattened cell counts), not by name."""
    flat = count.reshape(count.shape[0], -1)
    return np.lexsort(flat.T[::-1]) if flat.shape[0] > 1 else np.arange(flat.shape[0])


class RowBootstrap:
    """Multinomial redraw of all cell counts (rows resampled with replacement).

    Two exact samplers of the same multinomial, chosen by cost: Poisson counts of the occupied
    cells topped up to ``n`` rows (:class:`fairaudit.metrics.multinomial.PoissonisedMultinomial`,
    about 20 ns a cell), or ``n`` uniform row positions counted per cell (32 random bits per
    row, :func:`fairaudit.metrics.kernels.count_uniform`), which is cheaper when most rows have
    a cell of their own (many small groups; below 2**32 rows). Either way the cells are taken
    in a canonical order, so the replicates do not depend on the order of the rows or on the
    names of the groups.
    """

    unit = "row"
    INDEX_COST = 9
    """A Poissonised cell costs about this many sampled rows (measured by ``benchmarks/
    bench_kernels.py``: 18-22 ns a cell against 2-3 ns a row)."""

    def __init__(self, cells: CellTable) -> None:
        # Cells are drawn in a canonical order (fine groups sorted by their contents), so
        # renaming groups, which reorders them, cannot change any replicate.
        canon = canonical_group_order(cells.count)
        flat = cells.count[canon].ravel()
        self._shape = cells.count.shape
        nz = np.flatnonzero(flat)
        index = np.arange(flat.size).reshape(self._shape)[canon].ravel()
        self._nz = index[nz]  # positions in the original layout
        self.occupied = np.flatnonzero(cells.count.ravel())
        self._at = np.searchsorted(self.occupied, self._nz)  # positions among the occupied cells
        rows = np.rint(flat[nz]).astype(np.int64)
        self._n = int(rows.sum())
        self._by_index = self._n < min(self.INDEX_COST * nz.size, 1 << 32)
        self._plan = None
        if self._by_index:  # the occupied-cell position of each row, rows in canonical order
            self._row_cell = np.repeat(self._at, rows).astype(np.int32)
        elif nz.size:
            from fairaudit.metrics.multinomial import PoissonisedMultinomial

            self._plan = PoissonisedMultinomial(rows)

    @property
    def width(self) -> int:
        """Rows of the largest (rows, replicates) array of a draw."""
        return int(self.occupied.size)

    def draw_rows(self, streams: ReplicateStreams, start: int, r: int) -> np.ndarray:
        """Counts of replicates ``start`` to ``start + r - 1`` on the occupied cells
        (``self.occupied``), shape (r, K)."""
        from fairaudit.metrics import kernels

        k = self.occupied.size
        out = np.zeros((r, k))
        if k == 0:
            return out
        rngs = streams.span(start, r)
        if self._plan is not None:  # one 64-bit key per replicate from its stream
            keys = np.array([rng.bit_generator.random_raw() for rng in rngs], dtype=np.uint64)
            self._plan.draw(keys, out, self._at)
            return out
        for j, rng in enumerate(rngs):
            # n uniform rows from 32-bit halves of the stream's raw output; the few values
            # rejected to keep them exactly uniform are redrawn the same way.
            need = self._n
            while need:
                bits = rng.bit_generator.random_raw((need + 1) // 2).view(np.uint32)[:need]
                need = kernels.count_uniform(bits, self._n, self._row_cell, out[j])
        return out

    def draw(self, streams: ReplicateStreams, start: int, r: int) -> np.ndarray:
        """Replicate counts in the dense (r, F, 2, B) layout."""
        out = np.zeros((r, int(np.prod(self._shape))))
        out[:, self.occupied] = self.draw_rows(streams, start, r)
        return out.reshape((r, *self._shape))


class ClusterBootstrap:
    """Resample whole clusters (patients) with replacement.

    Patients whose studies fall in the same cells (the same multiset of cell indices) are
    interchangeable: resampling ``C`` patients draws each *type* of patient a
    Multinomial(C, m_t / C) number of times, where ``m_t`` patients share type ``t``. A
    replicate is then one multinomial draw over the types and a sparse product
    (cells x types), exactly the patient bootstrap at a cost in types, not patients.
    With many types the multinomial is drawn by :class:`TypeCounts` (same distribution,
    about a third of the cost).
    """

    POISSON_FROM = 4096
    """Types from which the multinomial is drawn by Poissonisation (:class:`TypeCounts`)."""

    unit = "patient"

    def __init__(self, cells: CellTable, labels: np.ndarray, clusters: np.ndarray) -> None:
        from scipy import sparse

        self._shape = cells.count.shape
        self._n_clusters = int(clusters.max()) + 1 if clusters.size else 0
        cell = cells.cell_index(labels).astype(np.int64)
        order = _cluster_cell_order(clusters, cell, int(np.prod(self._shape)))
        cl, ce = clusters[order], cell[order]
        # Type of each patient: its sorted cells, hashed twice (128 bits) then made unique.
        # Rows follow in cluster order, so a segmented sum gives every patient's hash.
        starts = np.flatnonzero(np.r_[True, cl[1:] != cl[:-1]]) if cl.size else np.zeros(0, np.int64)
        pos = np.arange(ce.size) - np.repeat(starts, np.diff(np.r_[starts, ce.size]))
        h = np.zeros((self._n_clusters, 2), dtype=np.uint64)
        with np.errstate(over="ignore"):
            for j, (mult, add) in enumerate(((0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9),
                                             (0xD6E8FEB86659FD93, 0x94D049BB133111EB))):
                x = (ce.astype(np.uint64) + np.uint64(add)) * np.uint64(mult)
                x ^= x >> np.uint64(29)
                x *= (pos.astype(np.uint64) + np.uint64(1)) * np.uint64(0x2545F4914F6CDD1D)
                h[:, j] = _segment_sum_u64(x, cl, self._n_clusters)
        first, kind, m = _unique_rows(h)
        self._weights = m / max(self._n_clusters, 1)
        self._types = TypeCounts(m) if m.size >= self.POISSON_FROM else None
        type_order = self._types.order if self._types is not None else np.arange(m.size)
        # (cells x types): the cells of one representative patient of each type.
        is_first = np.zeros(self._n_clusters, dtype=bool)
        is_first[first] = True
        rep_rows = is_first[cl]
        rep_type = kind[cl[rep_rows]]
        uniq_cells, col = np.unique(ce[rep_rows], return_inverse=True)
        self.occupied = np.flatnonzero(cells.count.ravel())
        self._at = np.searchsorted(self.occupied, uniq_cells)
        # Columns in the order the types are drawn in.
        rank = np.empty(m.size, dtype=np.int64)
        rank[type_order] = np.arange(m.size)
        # Column-compressed: a product reads the type counts in order and adds into the few
        # cells (about twice as fast as gathering types row by row with many types).
        self._mt = sparse.csc_matrix(
            (np.ones(col.size), (np.asarray(col).ravel(), rank[rep_type])),
            shape=(uniq_cells.size, m.size),
        )

    @property
    def n_clusters(self) -> int:
        return self._n_clusters

    @property
    def n_types(self) -> int:
        return int(self._weights.size)

    @property
    def width(self) -> int:
        """Rows of the (rows, replicates) array a draw returns (type counts are drawn in
        batches of at most ``1 << 20`` values)."""
        return int(self.occupied.size)

    def draw_rows(self, streams: ReplicateStreams, start: int, r: int) -> np.ndarray:
        """Counts of replicates ``start`` to ``start + r - 1`` on the occupied cells
        (``self.occupied``), shape (r, K)."""
        out = np.zeros((r, self.occupied.size))
        # Type counts in batches of replicates: arrays of about 1M values stay in reused memory.
        step = max(1, (1 << 20) // max(self._weights.size, 1))
        for a in range(0, r, step):
            b = min(r, a + step)
            rngs = streams.span(start + a, b - a)
            if self._types is None:
                k = np.array([g.multinomial(self._n_clusters, self._weights) for g in rngs],
                             dtype=np.float64)
            else:
                k = self._types.draw(rngs)
            for i in range(b - a):  # one product per replicate: no transposed copy of k
                out[a + i, self._at] = self._mt @ k[i]
        return out

    def draw(self, streams: ReplicateStreams, start: int, r: int) -> np.ndarray:
        """Replicate counts in the dense (r, F, 2, B) layout."""
        out = np.zeros((r, int(np.prod(self._shape))))
        out[:, self.occupied] = self.draw_rows(streams, start, r)
        return out.reshape((r, *self._shape))


class TypeCounts:
    """Exact Multinomial(C, m / C) draws over T categories at a few operations per category.

    ``C = sum(m)`` patients fall in T types, ``m_t`` patients of type ``t``; a patient
    bootstrap replicate counts how often each type is drawn in C draws with replacement.
    NumPy's multinomial draws one binomial per category (about 57 ns each). Here:

    1. Poissonisation: ``X_t ~ Poisson(lam m_t)`` independently, with ``lam`` a little below 1
       (``1 - MARGIN_SD / sqrt(C)``). Given their sum S, X is Multinomial(S, m / C): S
       independent draws of a type (``lam`` cancels).
    2. Correction to C draws: if S < C, add C - S further draws (a uniform patient each); if
       S > C, remove S - C of those S draws chosen uniformly without replacement (the C that
       remain are still independent draws of a type). Either way the result is exactly
       Multinomial(C, m / C), whatever S was. S is Poisson(lam C), about ``MARGIN_SD``
       standard deviations below C, so the cheap branch (adding about 6 sqrt(C) draws, a
       lookup each) is taken all but about once in 10^9; the removal branch needs a
       cumulative sum over all types.
    3. Each Poisson variate is an inversion of one uniform against the cumulative distribution
       of its ``m_t`` (types are sorted by ``m_t``; one table per distinct value), as NumPy's
       own samplers do in floating point. The uniform's 16-bit cell (four cells from one 64-bit
       output) finds the variate in a lookup table unless a CDF value falls inside the cell;
       then a fresh uniform fraction completes it within the cell, which keeps it uniform.
       Tables run until the CDF reaches 1.0 in float64 (probability left out below 1.2e-16
       per draw); an ``m_t`` above ``MAX_TABLE`` uses NumPy's Poisson sampler.

    Draws are returned with the types sorted by ``m_t`` (``order``: the original index of
    each), shape (r, T), as float64.
    """

    MAX_TABLE = 1000
    GRID = 1 << 16
    MARGIN_SD = 6.0
    """How many standard deviations of S the Poisson means are scaled below C (step 1)."""
    MAX_LISTED = 1 << 27
    """Patients up to which each one's type is listed (4 bytes a patient) for the additions."""

    def __init__(self, m: np.ndarray) -> None:
        # pdtr(k, mu) = P(Poisson(mu) <= k), what scipy.stats.poisson.cdf evaluates, without
        # importing scipy.stats (about 0.5 s of CPU in a cold process).
        from scipy.special import pdtr

        m = np.asarray(m, dtype=np.int64)
        self.order = np.argsort(m, kind="stable")
        self._m = m[self.order]
        self._cum = np.cumsum(self._m)
        self._total = int(self._cum[-1]) if m.size else 0
        lam = max(0.5, 1.0 - self.MARGIN_SD / np.sqrt(max(self._total, 1)))
        # The (sorted) type of every patient: a gather finds the type of a uniform patient
        # (a binary search of ``_cum`` instead when patients are too many to list).
        self._type_of = (np.repeat(np.arange(m.size, dtype=np.int32), self._m)
                         if self._total <= self.MAX_LISTED else None)
        values, starts = np.unique(self._m, return_index=True)
        ends = np.append(starts[1:], m.size)
        grid = np.arange(self.GRID + 1) / self.GRID
        self._runs: list[tuple[int, int, float, np.ndarray | None, np.ndarray | None]] = []
        for v, a, b in zip(values.tolist(), starts.tolist(), ends.tolist(), strict=True):
            if v > self.MAX_TABLE:
                self._runs.append((a, b, float(v) * lam, None, None))
                continue
            top = int(v + 40 * np.sqrt(v) + 40)
            cdf = pdtr(np.arange(top, dtype=np.float64), v * lam)
            cdf = cdf[: int(np.searchsorted(cdf, 1.0)) + 1]  # up to the first 1.0
            # Inversion through a lookup table: u in [i, i + 1) / GRID gives k = lut[i] unless
            # a CDF value falls inside that sub-interval (lut[i] = -1: searched exactly).
            lo = np.searchsorted(cdf, grid[:-1], side="right")
            hi = np.searchsorted(cdf, np.nextafter(grid[1:], 0.0), side="right")
            lut = np.where(lo == hi, lo, -1).astype(np.int16 if cdf.size < 32000 else np.int64)
            self._runs.append((a, b, float(v) * lam, cdf, lut))

    def draw(self, rngs: list[np.random.Generator]) -> np.ndarray:
        """One replicate from each generator of ``rngs``: type counts (len(rngs), T) as
        float64 (whole numbers, exact)."""
        from fairaudit.metrics import kernels

        r, t = len(rngs), self._m.size
        k = np.empty((r, t))
        # A 16-bit lookup cell per Poisson variate, four from each 64-bit output: u's cell
        # floor(u * 2**16). Where the cell holds a CDF value, u is completed below by a fresh
        # uniform fraction within the cell (u = (cell + v) / 2**16 is then uniform on [0, 1)).
        words = (t + 3) // 4
        cell = np.empty((r, 4 * words), dtype=np.uint16)
        for i, rng in enumerate(rngs):
            cell[i].view(np.uint64)[:] = rng.bit_generator.random_raw(words)
        tabled: list[tuple[int, int, np.ndarray, np.ndarray]] = [
            (a, b, cdf, lut) for a, b, _, cdf, lut in self._runs if cdf is not None and lut is not None]
        found = []  # (replicate, type, run) of the ambiguous cells
        if kernels.available():  # the same pass in C, the ambiguous cells already in order
            rows, cols, run = kernels.type_lookup(cell, [(a, b, lut) for a, b, _, lut in tabled], k)
            if rows.size:
                found.append((rows, cols, run))
        else:
            for j, (a, b, _, lut) in enumerate(tabled):
                kk = lut[cell[:, a:b]]  # -1: ambiguous cell
                k[:, a:b] = kk
                rows, cols = np.nonzero(kk < 0)  # scanned in the table's narrow integer type
                if rows.size:
                    found.append((rows, cols + a, np.full(rows.size, j)))
        if found:
            rows, cols, run = (np.concatenate(x) for x in zip(*found, strict=True))
            at = np.lexsort((cols, rows))  # replicate by replicate, types in order
            rows, cols, run = rows[at], cols[at], run[at]
            per = np.bincount(rows, minlength=r).tolist()
            v = np.concatenate([rng.random(n) for rng, n in zip(rngs, per, strict=True)])
            u = (cell[rows, cols] + v) * (1.0 / self.GRID)
            for j, (_, _, cdf, _) in enumerate(tabled):
                sel = run == j
                if sel.any():
                    k[rows[sel], cols[sel]] = np.searchsorted(cdf, u[sel], side="right")
        for a, b, v_mean, table, _ in self._runs:  # means above MAX_TABLE: NumPy's sampler
            if table is None:
                for i, rng in enumerate(rngs):
                    k[i, a:b] = rng.poisson(v_mean, size=b - a)
        cum = None
        for i, s in enumerate(k.sum(axis=1).tolist()):
            s = int(s)
            if s > self._total:  # remove s - C of the s draws, uniformly without replacement
                if cum is None:
                    cum = np.cumsum(k, axis=1)
                drop = _distinct_uniform(rngs[i], s, s - self._total)
                np.subtract.at(k[i], np.searchsorted(cum[i], drop, side="right"), 1)
            elif s < self._total:  # add C - s draws of a uniform patient
                extra = rngs[i].integers(0, self._total, size=self._total - s)
                types = (self._type_of[extra] if self._type_of is not None
                         else np.searchsorted(self._cum, extra, side="right"))
                kinds, times = np.unique(types, return_counts=True)  # cheaper than np.add.at
                k[i, kinds] += times
        return k


def _distinct_uniform(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    """``d`` distinct integers of [0, n), a uniformly random subset: the first ``d`` distinct
    values of a stream of uniform draws (by symmetry every d-subset is equally likely)."""
    seen = np.empty(0, dtype=np.int64)
    while seen.size < d:
        batch = np.concatenate([seen, rng.integers(0, n, size=d - seen.size + 16)])
        _, first = np.unique(batch, return_index=True)
        seen = batch[np.sort(first)]
    return seen[:d]


def _cluster_cell_order(clusters: np.ndarray, cell: np.ndarray, n_cells: int) -> np.ndarray:
    """Row order by (cluster, cell), stable: ``np.lexsort((cell, clusters))``, as one sort of a
    combined int64 key when it fits (about twice as fast on millions of rows)."""
    if clusters.size and int(clusters.max()) < (np.iinfo(np.int64).max // max(n_cells, 1)) - 1:
        return np.argsort(clusters.astype(np.int64) * n_cells + cell, kind="stable")
    return np.lexsort((cell, clusters))


def _unique_rows(h: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``np.unique(h, axis=0)``'s first index, inverse and counts for (n, 2) uint64 hashes.

    Rows are told apart by their first column when that alone separates them (checked: every
    row's second column must equal that of its group's first row), which is the same order
    and grouping at a fifth of the cost; otherwise the rows are compared whole.
    """
    _, first, kind, m = np.unique(h[:, 0], return_index=True, return_inverse=True,
                                  return_counts=True)
    kind = np.asarray(kind).ravel()
    if np.array_equal(h[first, 1][kind], h[:, 1]):
        return first, kind, m
    _, first, kind, m = np.unique(h, axis=0, return_index=True, return_inverse=True,
                                  return_counts=True)
    return first, np.asarray(kind).ravel(), m


def _segment_sum_u64(x: np.ndarray, seg: np.ndarray, n: int) -> np.ndarray:
    """Wrap-around (mod 2**64) sums of ``x`` per segment id ``seg`` (sorted ascending)."""
    out = np.zeros(n, dtype=np.uint64)
    if x.size == 0:
        return out
    starts = np.flatnonzero(np.r_[True, seg[1:] != seg[:-1]])
    with np.errstate(over="ignore"):
        out[seg[starts]] = np.add.reduceat(x, starts)
    return out


def replicate_chunks(
    sampler: RowBootstrap | ClusterBootstrap,
    cells: CellTable,
    n_replicates: int,
    streams: ReplicateStreams,
    chunk: int = 64,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Yield (count, ssum, ssq) replicate arrays of shape (r, F, 2, B), ``chunk`` at a time."""
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(cells.count > 0, cells.ssum / cells.count, 0.0)
        mean_sq = np.where(cells.count > 0, cells.ssq / cells.count, 0.0)
    done = 0
    while done < n_replicates:
        r = min(chunk, n_replicates - done)
        count = sampler.draw(streams, done, r)
        yield count, count * mean, count * mean_sq
        done += r


def _sorted_columns(replicates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each column of a (R, K) array sorted (NaN last), as the rows of a (K, R) array, and the
    number of defined values of each column.

    The columns are copied into contiguous rows first: sorting along a contiguous axis costs
    about half as much as along axis 0 of the (R, K) layout.
    """
    x = np.asarray(replicates, dtype=np.float64).reshape(len(replicates), -1)
    rows = np.array(x.T, order="C")  # always a copy: sorted in place below
    rows.sort(axis=1)
    defined = rows.shape[1] - np.isnan(rows).sum(axis=1)
    return rows, defined


def _interpolate(rows: np.ndarray, defined: np.ndarray, qs: tuple[float, ...]) -> list[np.ndarray]:
    """numpy's linear-method quantiles ``qs`` of each sorted row over its ``defined`` first
    values (the same arithmetic as ``np.quantile``, so the same bits)."""
    last = np.maximum(defined - 1, 0)  # index of the largest defined value
    ids = np.arange(rows.shape[0])
    out = []
    for q in qs:
        pos = q * last
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, last)
        t = pos - lo
        a, b = rows[ids, lo], rows[ids, hi]
        out.append(np.where(t >= 0.5, b - (b - a) * (1.0 - t), a + (b - a) * t))  # NaN if none
    return out


def nan_quantiles(replicates: np.ndarray, qs: tuple[float, ...]) -> list[np.ndarray]:
    """Quantiles over axis 0 of a (R, K) array ignoring NaN (numpy's linear method).

    ``np.nanquantile`` falls back to a Python loop over columns when NaNs are present; one sort
    (NaN last) and per-column interpolation cost the same with many groups as with few.
    """
    rows, defined = _sorted_columns(replicates)
    return _interpolate(rows, defined, qs)


def percentile_ci(
    replicates: np.ndarray, level: float, max_undefined: float = 0.1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Percentile interval over axis 0, ignoring replicates where the value is undefined.

    Returns ``(lo, hi, undefined_share)``; ``lo``/``hi`` are NaN where more than
    ``max_undefined`` of the replicates were undefined (the interval would not be trustworthy).
    One call for many columns (every group of every partition stacked) costs one sort of the
    whole array, far less than a call per partition.
    """
    replicates = np.asarray(replicates, dtype=np.float64)
    rows, defined = _sorted_columns(replicates)
    undefined = (rows.shape[1] - defined) / rows.shape[1]
    alpha = (1.0 - level) / 2.0
    lo, hi = _interpolate(rows, defined, (alpha, 1.0 - alpha))
    bad = undefined > max_undefined
    shape = replicates.shape[1:]
    return (np.where(bad, np.nan, lo).reshape(shape), np.where(bad, np.nan, hi).reshape(shape),
            undefined.reshape(shape))
