"""Significance of disparities: permutation tests (decision rates and AUC), Benjamini-Hochberg.

- Demographic parity, equal opportunity and equalised odds: a permutation test of "the groups
  are exchangeable". Shuffling group labels over rows keeps each group's size; the number of
  positive decisions that land in each group is then multivariate hypergeometric, so a
  permutation replicate is one draw per criterion (within the label-1 rows for TPR, within the
  label-0 rows for FPR), independent of the number of rows. The statistic is the criterion
  itself (a larger difference, or a smaller ratio, is more extreme).
- AUC difference: a permutation test of "within each class, the scores do not depend on the
  group": group labels are shuffled among the positives and, separately, among the negatives,
  so every group keeps its positives and negatives. The statistic is the range of the groups'
  AUCs on the audit's score bins (pairs in one bin count 1/2), computed the same way for the
  observed data and every permutation. (A Wald chi-square with bootstrap variances, used
  before, rejected a true null in 20-27 % of datasets with 100 groups.)
- q-values: Benjamini-Hochberg over every p-value of the audit.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from fairaudit.metrics.criteria import CRITERIA, criterion_values, sufficient_values
from fairaudit.metrics.rates import GroupSum

PERMUTATION_METHOD = (
    "permutation test of exchangeable groups (multivariate hypergeometric over decision counts) "
    "for parity/opportunity/odds; permutation of groups within each class (binned AUC range) "
    "for AUC difference; "
    "Benjamini-Hochberg q-values across all criteria"
)

SEQUENTIAL_EXCEEDANCES = 10
"""Besag & Clifford's h: a permutation test stops once this many permutations were at least as
extreme as the data, with p = h / L, L the index of the permutation that gave the h-th
(Besag & Clifford 1991, "Sequential Monte Carlo p-values", Biometrika 78:301-304; h = 10 is
their usual choice). A test that never reaches h within the maximum N gets (1 + X) / (1 + N),
X its exceedances. The p-value stays valid (P(p <= a) <= a under the null); only large p-values
stop early (p >= h / N), so small ones are computed exactly as with N permutations."""

FIRST_CHUNK = 32
"""Permutations in the first chunk; each later chunk is twice the previous one (so a clearly
null test stops after 32, and a test that runs to the maximum costs about log2(N / 32) + 1
vectorised chunks)."""


def permutation_rule(n_permutations: int) -> str:
    """The stopping rule of the permutation tests, as recorded in the run (``p_value_method``)."""
    return (f"sequential Monte Carlo p-values (Besag-Clifford: a test stops after "
            f"{SEQUENTIAL_EXCEEDANCES} permutations at least as extreme as the data, "
            f"p = {SEQUENTIAL_EXCEEDANCES}/L; at most {n_permutations} permutations)")


def chunk_sizes(n_max: int, cap: int) -> list[int]:
    """Permutations per chunk: ``FIRST_CHUNK``, doubling, each at most ``cap``, ``n_max`` in all
    (a remainder under half a chunk joins the last chunk: 1,000 is 32, 64, 128, 256, 520)."""
    out: list[int] = []
    size, rest = FIRST_CHUNK, n_max
    while rest > 0:
        take = max(1, min(rest if rest <= size * 3 // 2 else size, cap))
        out.append(take)
        rest -= take
        size *= 2
    return out


class SequentialPValues:
    """Besag-Clifford stopping for several tests that share one stream of permutations.

    Parameters
    ----------
    n_tests : int
        Number of tests (columns of the exceedance arrays passed to :meth:`update`).
    n_max : int
        The most permutations any test uses (``n_permutations``).

    Each test stops at the exact permutation that gives its ``SEQUENTIAL_EXCEEDANCES``-th
    exceedance, also in the middle of a chunk; later permutations do not count for it.
    """

    def __init__(self, n_tests: int, n_max: int) -> None:
        self.n_max = n_max
        self.exceed = np.zeros(n_tests, dtype=np.int64)
        self.stopped_at = np.zeros(n_tests, dtype=np.int64)  # L; 0 while running
        self.drawn = 0

    @property
    def running(self) -> np.ndarray:
        """Bool (T,): tests that still need permutations."""
        return (self.stopped_at == 0) & (self.drawn < self.n_max)

    def update(self, extreme: np.ndarray) -> None:
        """Count a chunk: ``extreme`` is bool (r, T), permutation i of the chunk at least as
        extreme as the data for test t (columns of tests that stopped are ignored)."""
        run = self.stopped_at == 0
        cum = self.exceed[None, :] + np.cumsum(extreme, axis=0, dtype=np.int64)
        hit = cum >= SEQUENTIAL_EXCEEDANCES
        newly = run & hit.any(axis=0)
        self.stopped_at[newly] = self.drawn + np.argmax(hit, axis=0)[newly] + 1
        self.exceed[newly] = SEQUENTIAL_EXCEEDANCES
        keep = run & ~newly
        self.exceed[keep] = cum[-1, keep]
        self.drawn += extreme.shape[0]

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """p-values (T,) and the permutations each one used (T,)."""
        stopped = self.stopped_at > 0
        used = np.where(stopped, self.stopped_at, self.drawn)
        with np.errstate(divide="ignore"):
            p = np.where(stopped, SEQUENTIAL_EXCEEDANCES / np.maximum(self.stopped_at, 1),
                         (1 + self.exceed) / (1 + self.drawn))
        return p, used


def permutation_pvalues(
    conf: np.ndarray, observed: dict[str, float], n_permutations: int, rng: np.random.Generator
) -> dict[str, tuple[float, int]]:
    """p-values of the confusion-based criteria over the groups in ``conf`` (G, 2, 2).

    Returns
    -------
    dict of str to (float, int)
        Criterion name -> (p-value, permutations it used); sequential (see
        ``SEQUENTIAL_EXCEEDANCES``) with at most ``n_permutations``. Rates whose every test
        has stopped are no longer drawn.
    """
    # Draw over groups in a canonical order (by their counts, not their names) so that
    # renaming groups cannot change a p-value; the statistics are symmetric in the groups.
    canon = np.lexsort(conf.reshape(conf.shape[0], -1).T[::-1])
    conf = conf[canon]
    n_y = conf.sum(axis=-1).astype(np.int64)  # (G, 2) rows per label
    n_g = n_y.sum(axis=-1)
    dec = conf[..., 1]  # positive decisions per (group, label)
    draws = {"selection_rate": (n_g, dec.sum()), "tpr": (n_y[:, 1], dec[:, 1].sum()),
             "fpr": (n_y[:, 0], dec[:, 0].sum())}
    # Criteria over other rates (AUC has its own test) get no p-value here.
    names = [name for name, (rates, _kind) in CRITERIA.items()
             if set(rates) <= set(draws) and observed.get(name) is not None
             and not np.isnan(observed[name])]
    seq = SequentialPValues(len(names), n_permutations)
    for r in chunk_sizes(n_permutations, n_permutations):
        run = seq.running
        if not run.any():
            break
        need = {rate for name, on in zip(names, run, strict=True) if on for rate in CRITERIA[name][0]}
        perm: dict[str, np.ndarray] = {}
        with np.errstate(divide="ignore", invalid="ignore"):
            for rate in ("selection_rate", "tpr", "fpr"):  # fixed order: the same stream
                if rate in need:
                    colors, k = draws[rate]
                    perm[rate] = rng.multivariate_hypergeometric(colors, int(round(k)), size=r) / colors
        extreme = np.zeros((r, len(names)), dtype=bool)
        for t, name in enumerate(names):
            if run[t]:
                extreme[:, t] = _extreme(criterion_values(name, perm), observed[name], CRITERIA[name][1])
        seq.update(extreme)
    p, used = seq.result()
    return {name: (float(p[t]), int(used[t])) for t, name in enumerate(names)}


def _extreme(stat: np.ndarray, obs: float, kind: str) -> np.ndarray:
    """Permutations at least as extreme as the data: a larger difference or a smaller ratio
    (ties count, within 1e-12; an undefined statistic does not)."""
    tol = 1e-12
    extreme = stat >= obs - tol if kind == "difference" else stat <= obs + tol
    return np.where(np.isnan(stat), False, extreme)


def random_tables(rows: np.ndarray, cols: np.ndarray, r: int, rng: np.random.Generator) -> np.ndarray:
    """``r`` uniformly random (G, B) count tables with row sums ``rows`` and column sums
    ``cols``: the group-by-bin histograms after shuffling group labels over the items.
    Shape (r, G, B).

    Three exact samplers of the same distribution, chosen by cost (:func:`table_sampler`): a
    shuffle of the items (O(items) per table); conditional hypergeometric draws, group by group
    and bin by bin (a NumPy call per cell, vectorised over the ``r`` tables); or one
    multivariate hypergeometric draw per group and table (a NumPy call per group and table,
    O(bins) inside).
    """
    return random_tables_by_group(rows, cols, r, rng).transpose(1, 0, 2)


def table_sampler(items: int, groups: int, bins: int, tables: int) -> str:
    """The cheapest exact sampler of ``tables`` random (groups, bins) tables over ``items``:
    ``"shuffle"``, ``"cells"`` (a hypergeometric call per cell) or ``"rows"`` (a multivariate
    hypergeometric call per group and table). Measured costs at idle: ~15 ns per shuffled item
    and table; ~8 us per hypergeometric call + ~60 ns per table; ~1.8 us per multivariate
    hypergeometric call + ~37 ns per bin."""
    costs = {"shuffle": items * 15e-9 * tables,
             "cells": groups * bins * (8e-6 + 60e-9 * tables),
             "rows": groups * tables * (1.8e-6 + 37e-9 * bins)}
    return min(costs, key=lambda k: costs[k])


def shuffles_cheaper(items: int, groups: int, bins: int, tables: int) -> bool:
    """Whether shuffling ``items`` is the cheapest sampler (:func:`table_sampler`) of
    ``tables`` random (groups, bins) tables."""
    return table_sampler(items, groups, bins, max(tables, 1)) == "shuffle"


def random_tables_by_group(rows: np.ndarray, cols: np.ndarray, r: int,
                           rng: np.random.Generator) -> np.ndarray:
    """:func:`random_tables` laid out (G, r, B): each group's tables are contiguous, so sums
    of groups are sparse products over the first axis."""
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    g, b = rows.size, cols.size
    total = int(cols.sum())
    sampler = table_sampler(total, g, b, r)
    if sampler == "shuffle":
        items = np.repeat(np.arange(b, dtype=np.int64), cols)
        shuffled = np.empty((r, total), dtype=np.int64)
        for i in range(r):  # an in-place shuffle of an int64 row is numpy's fastest path
            shuffled[i] = items
            rng.shuffle(shuffled[i])
        owner = np.repeat(np.arange(g), rows)
        key = (owner[None, :] * r + np.arange(r)[:, None]) * b + shuffled
        return np.bincount(key.ravel(), minlength=r * g * b).reshape(g, r, b)
    if sampler == "rows":
        from fairaudit.metrics import kernels

        compiled = kernels.random_tables(rows, cols, r, rng)  # the same tables, in C
        return compiled if compiled is not None else _tables_by_rows(rows, cols, r, rng)
    out = np.zeros((g, r, b), dtype=np.int64)
    pool = np.broadcast_to(cols, (r, b)).copy()
    for gi in range(g - 1):
        need = np.full(r, rows[gi], dtype=np.int64)
        rest = pool.sum(axis=1)
        for bi in range(b):
            rest -= pool[:, bi]
            x = rng.hypergeometric(pool[:, bi], rest, need)
            out[gi, :, bi] = x
            need -= x
        pool -= out[gi]
    out[g - 1] = pool
    return out


def _tables_by_rows(rows: np.ndarray, cols: np.ndarray, r: int,
                    rng: np.random.Generator) -> np.ndarray:
    """(G, r, B) random tables, table by table: each group's row is a multivariate
    hypergeometric draw of its size from the items the earlier groups left.

    :func:`fairaudit.metrics.kernels.random_tables` runs the same loop in C, calling NumPy's own
    C sampler on the same generator (the same tables and stream, without a Python call per
    draw); this loop is its twin where the kernels are not built."""
    g, b = rows.size, cols.size
    out = np.empty((g, r, b), dtype=np.int64)
    for t in range(r):
        pool = cols.copy()
        for gi in range(g - 1):
            x = rng.multivariate_hypergeometric(pool, int(rows[gi]))
            out[gi, t] = x
            pool -= x
        out[g - 1, t] = pool
    return out


def _hierarchy(parts: list, member: list[np.ndarray]) -> tuple[list, list[np.ndarray]]:
    """How to build each partition's tables from a finer one's.

    Returns the steps (partition, parent, sum) in building order, where parent -1 is the fine
    groups and ``sum`` a :class:`fairaudit.metrics.rates.GroupSum` (G, G_parent), or None to
    reuse the parent's tables (the same groups in another order: the AUC range does not
    change); and for every partition the table row of each fine group.
    """
    n_fine = member[0].size if member else 0
    rows: list[np.ndarray] = [np.arange(n_fine)] * len(parts)
    done: list[int] = []
    steps: list[tuple[int, int, GroupSum | None]] = []
    for i in sorted(range(len(parts)), key=lambda i: -len(parts[i].attributes)):
        cands = [j for j in done if set(parts[i].attributes) < set(parts[j].attributes)]
        j = min(cands, key=lambda j: parts[j].n_groups) if cands else -1
        src_rows = rows[j] if j >= 0 else np.arange(n_fine)
        n_src = int(src_rows.max()) + 1 if n_fine else 0
        if n_src == parts[i].n_groups:
            steps.append((i, j, None))
            rows[i] = src_rows
        else:
            lut = np.zeros(n_src, dtype=np.int64)
            lut[src_rows] = member[i]
            steps.append((i, j, GroupSum([(0, lut)], (parts[i].n_groups, n_src))))
            rows[i] = member[i]
        done.append(i)
    return steps, rows


PERM_CELLS = 32_768
"""Group x bin cells the AUC permutation statistic is computed on, at most (see
:func:`merge_bins`); never fewer than ``PERM_MIN_BINS`` bins."""
PERM_MIN_BINS = 16


def merge_bins(count: np.ndarray, n_groups: int) -> np.ndarray:
    """Merge adjacent score bins of (F, 2, B) counts so that ``n_groups`` groups x bins stay
    within ``PERM_CELLS`` (at least ``PERM_MIN_BINS`` bins, each holding about the same share of
    all rows). The permutation test stays exact: its statistic is computed on the merged bins
    for the data and for every permutation alike."""
    n_b = count.shape[2]
    target = min(n_b, max(PERM_MIN_BINS, PERM_CELLS // max(n_groups, 1)))
    if target >= n_b:
        return count
    pooled = count.sum(axis=(0, 1))
    cum = np.cumsum(pooled)
    coarse = np.minimum(((cum - pooled / 2) * target) // max(cum[-1], 1), target - 1)
    starts = np.flatnonzero(np.r_[True, np.diff(coarse) > 0])
    return np.add.reduceat(count, starts, axis=2)


def auc_permutation_pvalues(
    count: np.ndarray, parts: list, eligible: np.ndarray, sizes: list[int],
    n_permutations: int, rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """p-values of "equal AUC" for every partition at once (permutation within class).

    Parameters
    ----------
    count : ndarray (F, 2, B)
        Fine-group cell counts [fine group, label, bin].
    parts : list of Partition
        The audited partitions of the fine groups.
    eligible : bool ndarray (P,)
        Partitions to test (every group sufficient, with positives and negatives).
    sizes : list of int
        Number of groups of each partition.

    Returns
    -------
    p : ndarray (P,)
        The p-values; NaN for partitions not tested.
    used : ndarray (P,)
        Permutations each p-value used (0 for partitions not tested).

    Shuffling labels among the rows of one class at the level of the *fine* groups (the
    combinations of all attributes) shuffles them uniformly for every coarser partition too, so
    one random table per replicate serves every attribute and intersection. Each partition's
    tables are summed from those of its finest already-built parent (an attribute from an
    intersection), not from the fine groups. With many groups, adjacent score bins are merged
    first (:func:`merge_bins`). Fine groups are taken in a canonical order (by
    content), so renaming groups cannot change a p-value. The tests are sequential
    (:class:`SequentialPValues`): permutations are drawn while any partition's test runs, and
    the statistic of a partition whose test has stopped is no longer computed (nor its tables
    built, unless a running partition sums from them). Once only coarser partitions run, the
    tables are drawn directly for the partition over the union of their attributes
    (:func:`base_partition`, :func:`draw_level`): fewer groups, the same distribution.
    """
    out = np.full(len(sizes), np.nan)
    if not eligible.any() or n_permutations <= 0:
        return out, np.zeros(len(sizes), dtype=np.int64)
    count = np.rint(count).astype(np.int64)
    canon = np.lexsort(count.reshape(count.shape[0], -1).T[::-1])
    count = merge_bins(count[canon], sum(sizes))
    member = [np.asarray(p.member)[canon] for p in parts]
    tested = np.flatnonzero(eligible)
    levels = {-1: draw_level(count, parts, member, -1)}
    fine = levels[-1]
    observed = auc_ranges(fine.counts[:, None, 0, :], fine.counts[:, None, 1, :], fine.steps,
                           fine.totals, eligible)[0, tested]
    seq = SequentialPValues(tested.size, n_permutations)
    for r in chunk_sizes(n_permutations, _auc_chunk(count, sizes, n_permutations)):
        run = seq.running
        if not run.any():
            break
        active = np.zeros(len(sizes), dtype=bool)
        active[tested[run]] = True
        base = base_partition(parts, active, count.shape[0])
        if base not in levels:
            levels[base] = draw_level(count, parts, member, base)
        lv = levels[base]
        neg, pos = (random_tables_by_group(lv.counts[:, y, :].sum(axis=1), lv.counts[:, y, :].sum(axis=0),
                                           r, rng) for y in (0, 1))
        stat = np.full((r, len(sizes)), np.nan)
        stat[:, lv.keep] = auc_ranges(neg, pos, lv.steps, lv.totals, active[lv.keep])
        seq.update(stat[:, tested] >= observed[None, :] - 1e-12)
    p, used = seq.result()
    out[tested] = p
    n_used = np.zeros(len(sizes), dtype=np.int64)
    n_used[tested] = used
    return out, n_used


def base_partition(parts: list, active: np.ndarray, n_fine: int) -> int:
    """The coarsest partition the tables of every ``active`` partition can be summed from: the
    one over the union of their attributes (-1, the fine groups, when there is none or it has
    as many groups as the fine ones). Drawing its tables directly is exact: summing random
    fine tables over its groups gives random tables with its margins."""
    union = set().union(*(set(parts[i].attributes) for i in np.flatnonzero(active)))
    cands = [i for i, p in enumerate(parts) if set(p.attributes) == union and p.n_groups < n_fine]
    return min(cands, key=lambda i: (parts[i].n_groups, i)) if cands else -1


class DrawLevel(NamedTuple):
    """Random tables drawn at one level: its (G, 2, B) ``counts`` in canonical order, the
    partitions summed from it (``keep``, indices into all partitions), their building steps
    (:func:`_hierarchy`) and their class totals in table-row order."""

    counts: np.ndarray
    keep: np.ndarray
    steps: list
    totals: list


def draw_level(count: np.ndarray, parts: list, member: list[np.ndarray], base: int) -> DrawLevel:
    """The :class:`DrawLevel` of partition ``base`` (-1: the fine groups). Its groups are put in a
    canonical order (by content), so renaming groups cannot change a p-value."""
    if base < 0:
        keep, sub, level = np.arange(len(parts)), member, count
    else:
        g = parts[base].n_groups
        level = np.zeros((g,) + count.shape[1:], dtype=np.int64)
        np.add.at(level, member[base], count)
        order = np.lexsort(level.reshape(g, -1).T[::-1])
        level = level[order]
        keep = np.array([i for i, p in enumerate(parts)
                         if set(p.attributes) <= set(parts[base].attributes)])
        sub = []
        for i in keep:  # the group of partition i that each base group belongs to
            lut = np.zeros(g, dtype=np.int64)
            lut[member[base]] = member[i]
            sub.append(lut[order])
    kept = [parts[i] for i in keep]
    steps, rows = _hierarchy(kept, sub)
    totals = [[np.bincount(m, weights=level[:, y].sum(axis=1), minlength=p.n_groups)
               for y in (0, 1)] for p, m in zip(kept, rows, strict=True)]
    return DrawLevel(level, keep, steps, totals)


def _auc_chunk(count: np.ndarray, sizes: list[int], n_permutations: int) -> int:
    """Tables per chunk at most: as many as keep a chunk's largest arrays (the shuffled items,
    the fine tables, or every partition's tables) under 8M elements; the shuffled items count
    only when shuffling is the sampler, so few groups over many rows are not capped by their
    rows (the sequential chunks of :func:`chunk_sizes` stay within this cap)."""
    n_f, n_b = count.shape[0], count.shape[2]
    chunk = max(1, min(n_permutations, (1 << 23) // max(n_f * n_b, 2 * sum(sizes) * n_b, 1)))
    items = int(count.sum(axis=(0, 2)).max())
    if shuffles_cheaper(items, n_f, n_b, chunk):
        chunk = max(1, min(chunk, (1 << 23) // max(items, 1)))
    return chunk


def auc_ranges(neg: np.ndarray, pos: np.ndarray, steps: list, totals: list,
                active: np.ndarray) -> np.ndarray:
    """(r, P) binned-AUC range of every ``active`` partition (NaN for the others) from fine
    (F, r, B) tables of negatives and positives; a partition's tables are built only when it,
    or a partition summed from it, is active."""
    need = active.copy()
    for i, j, _summed in reversed(steps):  # a parent is needed when a child built from it is
        if need[i] and j >= 0:
            need[j] = True
    built: dict[int, tuple[np.ndarray, ...]] = {}
    f, r, b = neg.shape
    stat = np.full((r, active.size), np.nan)
    for i, j, summed in steps:
        if not need[i]:
            continue
        src = (neg, pos) if j < 0 else built[j]
        built[i] = src if summed is None else tuple(
            np.asarray(summed @ t.reshape(t.shape[0], r * b)).reshape(-1, r, b) for t in src)
        if active[i]:
            n_t, p_t = built[i]
            below = np.cumsum(n_t, axis=-1) - 0.5 * n_t  # negatives below, ties count 1/2
            with np.errstate(invalid="ignore", divide="ignore"):
                auc = np.einsum("grb,grb->gr", p_t, below) / (totals[i][0] * totals[i][1])[:, None]
            stat[:, i] = auc.max(axis=0) - auc.min(axis=0)
    return stat


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values), same order as ``p``."""
    p = np.asarray(p, dtype=np.float64)
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p)
    ranked = p[order] * m / np.arange(1, m + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    # p * m / m can round below p: a q-value is never smaller than its p-value.
    out[order] = np.maximum(np.minimum(q, 1.0), p[order])
    return out


def criterion_pvalues(
    point: dict[str, dict[str, np.ndarray]], conf: dict[str, np.ndarray], count: np.ndarray,
    parts: list, sufficient: dict[str, np.ndarray], n_permutations: int, seed: int,
) -> dict[str, dict[str, tuple[float, int]]]:
    """(p-value, permutations used) of every criterion of every partition, by partition and
    criterion name, over each partition's sufficient groups.

    The AUC differences come first (one shared permutation of every partition whose groups are
    all sufficient and have an AUC: :func:`auc_permutation_pvalues`), then each partition's
    rate criteria (:func:`permutation_pvalues`), all from one random stream in that order.

    Parameters
    ----------
    point, conf : dict
        Each partition's point estimates (``"auc"`` among them) and (G, 2, 2) confusion counts.
    count : ndarray (F, 2, B)
        Cell counts of the fine groups (the AUC permutations draw from them).
    parts : list of Partition
    sufficient : dict of str to bool ndarray
        Which groups of each partition are sufficient.
    n_permutations : int
        The most permutations of each test (0: no p-values).
    seed : int
    """
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[1])
    eligible = np.array([p.n_groups >= 2 and bool(sufficient[p.name].all())
                         and bool(np.isfinite(point[p.name]["auc"]).all()) for p in parts])
    auc_p: dict[str, tuple[float, int]] = {}
    if n_permutations > 0 and eligible.any():
        pv, used = auc_permutation_pvalues(count, parts, eligible, [p.n_groups for p in parts],
                                           n_permutations, rng)
        auc_p = {p.name: (float(v), int(n)) for p, v, n in zip(parts, pv, used, strict=True)
                 if np.isfinite(v)}
    out: dict[str, dict[str, tuple[float, int]]] = {}
    for p in parts:
        idx = np.flatnonzero(sufficient[p.name])
        _, values = sufficient_values(point[p.name], idx)
        pvals: dict[str, tuple[float, int]] = {}
        if idx.size >= 2 and n_permutations > 0:
            pvals = permutation_pvalues(conf[p.name][idx], values, n_permutations, rng)
            if p.name in auc_p and np.isfinite(values["auc_difference"]):
                pvals["auc_difference"] = auc_p[p.name]
        out[p.name] = pvals
    return out
