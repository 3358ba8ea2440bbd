"""The audit of merged statistics: :class:`~fairaudit.metrics.stats.AuditStats` -> AuditParts.

The statistics become a :class:`~fairaudit.metrics.cells.CellTable` and exact AUCs, and the
same finaliser as the in-memory path (:func:`fairaudit.metrics.engine.finish_audit`)
computes every metric, interval, criterion, summary and p-value. Nothing here depends on how
the rows were partitioned: the statistics are put in a canonical order first, the multinomial
bootstrap and the permutations draw from the merged counts with the seed, and the Poisson
bootstrap's weights are a hash of the seed.

p-values: the permutation tests of :mod:`fairaudit.metrics.significance` already work from
counts. Shuffling group labels over all rows changes the decision-by-group counts by a
multivariate hypergeometric draw and the group-by-score-bin tables by a random table with the
same margins; both margins are sums of the merged statistics, so the test is the same as a
global shuffle without one (the AUC test's statistic is the binned AUC range on the coarse
bins of :mod:`fairaudit.metrics.stats`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fairaudit.metrics.bootstrap import RowBootstrap
from fairaudit.metrics.cells import make_partitions, overall_partition
from fairaudit.metrics.engine import AuditConfig, AuditParts, estimate_cells, finish_audit
from fairaudit.metrics.poisson import PoissonBootstrap
from fairaudit.metrics.stats import (
    MISSING,
    AuditStats,
    auc_from_stats,
    bucket_table,
    canonical,
    to_cells,
)

BOOTSTRAP_METHODS = ("multinomial", "poisson")

MERGED_PVALUE_NOTE = (
    "computed from merged counts (the permutation distribution of a global shuffle depends "
    "only on the merged tables; AUC on the fixed coarse bins)"
)


@dataclass(frozen=True)
class MergedAudit:
    """The audit parts and what only the merged path knows.

    Attributes
    ----------
    parts : AuditParts
    auc_error_bound : float
        Largest bound, over all groups, on the AUC error of the score grid (0 when exact).
    unknown_counts : dict of str to int
        Rows without a value per attribute.
    group_names : tuple of tuple of str
        The final group names of every attribute.
    n_rows : int
    """

    parts: AuditParts
    auc_error_bound: float
    unknown_counts: dict[str, int]
    group_names: tuple[tuple[str, ...], ...]
    n_rows: int


def audit_stats(
    stats: AuditStats,
    config: AuditConfig,
    *,
    method: str = "multinomial",
    unit: str = "row",
    missing_name: Callable[[tuple[str, ...]], str] = lambda names: "unknown",
    progress: Callable[[int], None] | None = None,
) -> MergedAudit:
    """Finalise merged statistics into the audit (see module docstring).

    Parameters
    ----------
    stats : AuditStats
        Merged statistics of all rows; for ``method="poisson"`` with a bucket table.
    method : {"multinomial", "poisson"}
        Multinomial redraw of the merged cells (rows resampled), or the hashed Poisson
        bootstrap (:mod:`fairaudit.metrics.poisson`; rows or patients, by the keys reduced).
    unit : str
        ``"row"`` or ``"patient"``: what the Poisson keys were.
    missing_name : callable
        Names an attribute's missing group from its other group names.
    """
    if method not in BOOTSTRAP_METHODS:
        raise ValueError(f"bootstrap method must be one of {BOOTSTRAP_METHODS}; got {method!r}")
    if method == "poisson" and config.n_bootstrap > 0 and stats.n_buckets == 0:
        raise ValueError("the Poisson bootstrap needs statistics reduced with n_buckets > 0")
    unknown = unknown_counts(stats)
    stats = canonical(stats, missing_name)
    thr = np.full(stats.n_fine, config.threshold)
    cells = to_cells(stats, thr)
    parts = make_partitions(cells, stats.attributes, stats.names, intersections=config.intersections)
    aucs, bounds = [], []
    for p in [overall_partition(stats.n_fine), *parts]:
        auc, bound = auc_from_stats(stats, p.member, p.n_groups)
        aucs.append(auc)
        bounds.append(bound)
    bound_all = np.concatenate(bounds)
    worst = float(np.nanmax(bound_all)) if np.isfinite(bound_all).any() else 0.0
    sampler = None
    if config.n_bootstrap > 0:
        sampler = (PoissonBootstrap(bucket_table(stats), cells.count.shape, config.seed, unit)
                   if method == "poisson" else RowBootstrap(cells))
    warnings: tuple[str, ...] = ()
    if worst > 0:
        warnings = (f"AUC from scores on a grid of {stats.levels} levels: the error of any "
                    f"group's AUC is at most {worst:.1e} (pairs of a grid cell where the classes' score "
                    "ranges overlap count as ties).",)
    stacked_auc = np.concatenate(aucs)
    est = estimate_cells(cells, [overall_partition(stats.n_fine), *parts], config,
                         lambda stack, stacked: stacked_auc, sampler, None, progress)
    result = dataclasses.replace(finish_audit(est, cells, parts, config), warnings=warnings)
    return MergedAudit(result, worst, unknown, stats.names, stats.n_rows)


def unknown_counts(stats: AuditStats) -> dict[str, int]:
    """Rows with a missing value, per attribute (before :func:`canonical` names them)."""
    n_cells = stats.n_cells
    fine = stats.key // (2 * n_cells)
    out = {}
    for j, attr in enumerate(stats.attributes):
        miss = [i for i, nm in enumerate(stats.names[j]) if nm == MISSING]
        out[attr] = int(stats.count[np.isin(stats.fine_codes[fine, j], miss)].sum()) if miss else 0
    return out
