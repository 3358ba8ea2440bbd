"""The audit computation: cell statistics -> per-group metrics, criteria, summaries, CIs, tests.

Pure numpy, no I/O: :func:`compute_audit` returns the pieces of an :class:`~fairaudit.result.AuditResult`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

from fairaudit.metrics.bootstrap import (
    ClusterBootstrap,
    ReplicateStreams,
    RowBootstrap,
    percentile_ci,
)
from fairaudit.metrics.cells import (
    CellTable,
    Partition,
    build_cells,
    make_partitions,
    overall_partition,
)
from fairaudit.metrics.criteria import CRITERIA, sufficient_values
from fairaudit.metrics.curves import group_curves
from fairaudit.metrics.parallel import jobs_within, run_ordered, start
from fairaudit.metrics.rates import (
    UNDEFINED_REASON,
    aggregate,
    auc_from_wins,
    exact_auc,
    fine_confusion,
    group_matrix,
    group_metrics,
    pairwise_wins,
)
from fairaudit.metrics.replicates import ReplicateMetrics, draw_rows
from fairaudit.metrics.significance import benjamini_hochberg, criterion_pvalues
from fairaudit.metrics.simultaneous import (
    Box,
    box,
    critical_values,
    max_t_statistics,
    range_interval,
    ratio_interval,
    scales,
    sidak_alpha,
)
from fairaudit.metrics.summaries import summaries as spread_summaries
from fairaudit.result import (
    METRIC_NAMES,
    Criterion,
    CriterionStatus,
    Estimate,
    ExcludedGroup,
    GroupCurves,
    GroupResult,
    OverallResult,
    Summary,
)

MAX_FINE_FOR_WINS = 256


@dataclass(frozen=True)
class AuditConfig:
    """Settings of one audit computation.

    Attributes
    ----------
    threshold : float
        Decision threshold: a study is called positive when ``score >= threshold``.
    n_bootstrap : int
        Bootstrap replicates for confidence intervals (0 turns intervals off).
    confidence_level : float
        Coverage of the percentile intervals.
    seed : int
        Seed of every random draw (bootstrap and permutations).
    min_group_size, min_group_events : int
        A group with fewer rows, or fewer positives or negatives, is ``insufficient``.
    n_permutations : int
        Permutations for the p-values of the criteria (0 turns p-values off).
    intersections : bool
        Audit every intersection of two or more attributes as well.
    chunk : int
        Bootstrap replicates computed together (at most; fewer with many cells).
    jobs : int
        Threads that compute chunks of replicates (0: every usable core, at most 8). The
        numbers do not depend on it: each replicate draws from a stream of its own.
    """

    threshold: float = 0.5
    n_bootstrap: int = 1000
    confidence_level: float = 0.95
    seed: int = 0
    min_group_size: int = 30
    min_group_events: int = 10
    n_permutations: int = 1000
    intersections: bool = True
    chunk: int = 64
    jobs: int = 0


@dataclass(frozen=True)
class GroupThresholdSpec:
    """Group-specific thresholds on one attribute or intersection (``"sex & race"``)."""

    attribute: str
    thresholds: Mapping[str, float]
    default: float | None = None


@dataclass(frozen=True)
class AuditParts:
    overall: OverallResult
    groups: tuple[GroupResult, ...]
    criteria: tuple[Criterion, ...]
    summaries: tuple[Summary, ...]
    curves: tuple[GroupCurves, ...]
    intersections: tuple[str, ...]
    warnings: tuple[str, ...]
    bootstrap_unit: str
    n_clusters: int | None


def _f(x: float | np.ndarray | None) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def _row_thresholds(
    spec: GroupThresholdSpec | None,
    threshold: float,
    parts: list[Partition],
    cells: CellTable,
) -> np.ndarray | float:
    if spec is None:
        return threshold
    from fairaudit.errors import InputError

    part = next((p for p in parts if p.name == spec.attribute), None)
    if part is None:
        names = ", ".join(p.name for p in parts)
        raise InputError(
            f"group thresholds are for '{spec.attribute}', which is not audited; audited "
            f"attributes and intersections are: {names}."
        )
    thr = np.empty(part.n_groups)
    for i, g in enumerate(part.groups):
        t = spec.thresholds.get(g, spec.default)
        if t is None:
            known = ", ".join(sorted(spec.thresholds))
            raise InputError(
                f"group thresholds for '{spec.attribute}' have no threshold for group '{g}' "
                f"and no default; thresholds exist for: {known}."
            )
        if not 0.0 <= float(t) <= 1.0:
            raise InputError(f"threshold {t!r} for group '{g}' is outside [0, 1].")
        thr[i] = float(t)
    return thr[part.member][cells.row_fine]


@dataclass(frozen=True)
class _Estimates:
    """Point estimates, bootstrap replicates and intervals of every group of every partition."""

    parts: list[Partition]  # overall first
    point: dict[str, dict[str, np.ndarray]]
    conf: dict[str, np.ndarray]  # (G, 2, 2) confusion counts per partition
    reps: dict[str, dict[str, np.ndarray]]  # empty without bootstrap
    unit: str
    n_clusters: int | None
    # The same arrays with every group of every partition stacked (``slices`` locates each
    # partition): the finaliser works on them at once rather than partition by partition.
    stacked_point: dict[str, np.ndarray]  # (S,)
    stacked_conf: np.ndarray  # (S, 2, 2)
    stacked_reps: dict[str, np.ndarray]  # (R, S); empty without bootstrap
    slices: dict[str, slice]
    # Which groups of each partition (overall excluded) are sufficient, and the reasons of the
    # others (_sufficiency).
    sufficient: dict[str, tuple[np.ndarray, list[tuple[str, ...]]]]
    # The criteria's permutation p-values (criterion_pvalues), begun on a thread of their own
    # as soon as the point estimates exist: they need no replicate.
    tests: Future[dict[str, dict[str, tuple[float, int]]]]


def compute_audit(
    labels: np.ndarray,
    scores: np.ndarray,
    group_codes: np.ndarray,
    group_names: tuple[tuple[str, ...], ...],
    attributes: tuple[str, ...],
    config: AuditConfig = AuditConfig(),
    *,
    clusters: np.ndarray | None = None,
    group_thresholds: GroupThresholdSpec | None = None,
    modalities: Mapping[str, np.ndarray] | None = None,
    progress: Callable[[int], None] | None = None,
) -> AuditParts:
    """Compute every per-group metric, criterion and summary, with intervals and tests.

    Parameters
    ----------
    labels : ndarray of int, shape (n,)
        Binary labels.
    scores : ndarray of float, shape (n,)
        Probabilities in [0, 1].
    group_codes : ndarray of int, shape (n, k)
        Group code of each row for each of the ``k`` attributes.
    group_names : tuple of tuple of str
        Names of the codes of each attribute.
    attributes : tuple of str
        Attribute names.
    config : AuditConfig
    clusters : ndarray of int, optional
        Patient codes: the bootstrap then resamples whole patients.
    group_thresholds : GroupThresholdSpec, optional
        Per-group decision thresholds on one attribute or intersection.
    modalities : mapping of str to bool ndarray, optional
        Presence of each input modality per row (reported as missing counts by group).
    progress : callable, optional
        Called with the number of bootstrap replicates finished after each chunk.
    """
    labels = np.asarray(labels).astype(np.int64)
    scores = np.asarray(scores, dtype=np.float64)

    # One sort serves the bin edges, the row bins and the exact AUCs.
    order = np.argsort(scores)
    # A first pass only to know the fine groups and partitions for group thresholds.
    cells = build_cells(labels, scores, group_codes, config.threshold, order=order)
    parts = make_partitions(cells, attributes, group_names, intersections=config.intersections)
    if group_thresholds is not None:
        row_thr = _row_thresholds(group_thresholds, config.threshold, parts, cells)
        cells = build_cells(labels, scores, group_codes, row_thr,
                            extra_thresholds=np.array([config.threshold]), order=order)
        parts = make_partitions(cells, attributes, group_names, intersections=config.intersections)

    est = _estimate(labels, scores, order, cells, [overall_partition(cells.n_fine), *parts],
                    config, clusters, progress)
    return finish_audit(est, cells, parts, config, modalities)


def finish_audit(est: _Estimates, cells: CellTable, parts: list[Partition], config: AuditConfig,
                 modalities: Mapping[str, np.ndarray] | None = None) -> AuditParts:
    """Intervals, criteria, summaries and curves from :func:`estimate_cells` (the finaliser of
    every path: rows here, merged statistics in :mod:`fairaudit.metrics.merged`)."""
    level = config.confidence_level
    sufficient = est.sufficient
    # One percentile interval call per metric for every group of every partition (the metrics
    # on threads: sorting releases the GIL).
    # Each piece copies its metric's replicates (a few copies with temporaries): as many at once
    # as memory allows.
    keys = list(est.stacked_reps)
    jobs = jobs_within(config.jobs, 3 * max((a.nbytes for a in est.stacked_reps.values()), default=0))
    display = dict(zip(keys, run_ordered(lambda k: percentile_ci(est.stacked_reps[k], level),
                                         [(k,) for k in keys], jobs), strict=True))
    boxes = _simultaneous(est, parts, sufficient, level, jobs)
    pv = est.tests.result()

    m0 = est.point["overall"]
    overall_result = OverallResult(
        n=int(m0["_n"][0]), n_pos=int(m0["_pos"][0]), n_neg=int(m0["_neg"][0]),
        metrics=_estimate_rows(est, display, {}, "overall")[0],
    )
    groups: list[GroupResult] = []
    for p in parts:
        missing = _missing_by_group(modalities, p, cells)
        m = est.point[p.name]
        reasons = sufficient[p.name][1]
        groups.extend(
            GroupResult(
                attribute=p.name, group=g, n=n, n_pos=pos, n_neg=neg,
                status="ok" if not reasons[gi] else "insufficient",
                metrics=metrics, reasons=reasons[gi],
                missing_modalities={k: int(v[gi]) for k, v in missing.items()},
                values=p.values[gi],
            )
            for gi, (g, n, pos, neg, metrics) in enumerate(zip(
                p.groups, m["_n"].astype(int).tolist(), m["_pos"].astype(int).tolist(),
                m["_neg"].astype(int).tolist(), _estimate_rows(est, display, boxes[p.name], p.name),
                strict=True))
        )
    criteria = [c for p in parts
                for c in _criteria(est, p, sufficient[p.name], boxes[p.name], pv[p.name])]
    summaries = spread_summaries(est.point, parts, sufficient, boxes)

    return AuditParts(
        overall=overall_result,
        groups=tuple(groups),
        criteria=tuple(_with_q_values(criteria)),
        summaries=tuple(summaries),
        curves=tuple(c for p in parts for c in group_curves(cells, p)),
        intersections=tuple(p.name for p in parts if len(p.attributes) > 1),
        warnings=(),
        bootstrap_unit=est.unit,
        n_clusters=est.n_clusters,
    )


def _estimate(
    labels: np.ndarray, scores: np.ndarray, order: np.ndarray, cells: CellTable,
    all_parts: list[Partition], config: AuditConfig, clusters: np.ndarray | None,
    progress: Callable[[int], None] | None,
) -> _Estimates:
    """Point estimates of every partition, then bootstrap replicates (one pass for all)."""
    # The resampler is set up (for patients: a sort of millions of rows) on another thread
    # while the exact AUCs are counted.
    sampler = start(lambda: None if config.n_bootstrap == 0 else (
        ClusterBootstrap(cells, labels, clusters) if clusters is not None else RowBootstrap(cells)),
        config.jobs)
    # Exact AUCs: one pass gives cross-group win counts that serve every partition, unless
    # there are so many fine groups that a sort per partition is cheaper.
    # (Compiled, without the GIL: on a thread of its own while the groups are set up.)
    wins = (
        start(lambda: pairwise_wins(labels, scores, cells.row_fine, cells.n_fine, order), config.jobs)
        if cells.n_fine <= MAX_FINE_FOR_WINS else None
    )

    def point_auc(stack, stacked: dict[str, np.ndarray]) -> np.ndarray:
        if wins is not None:
            return auc_from_wins(wins.result(), stack, stacked["_pos"], stacked["_neg"])
        return np.concatenate([exact_auc(labels, scores, p.member[cells.row_fine], p.n_groups, order)
                               for p in all_parts])

    n_clusters = int(clusters.max()) + 1 if clusters is not None and clusters.size else None
    return estimate_cells(cells, all_parts, config, point_auc, sampler, n_clusters, progress)


def estimate_cells(cells: CellTable, all_parts: list[Partition], config: AuditConfig,
                   point_auc: Callable[..., np.ndarray], sampler, n_clusters: int | None,
                   progress: Callable[[int], None] | None) -> _Estimates:
    """Estimates and replicates from cells: ``point_auc(stack, stacked)`` gives the exact AUCs,
    ``sampler`` the bootstrap counts (None: no bootstrap; a Future of one while it is being set
    up, waited for only when the replicates begin). ``all_parts`` has the overall partition first.

    The criteria's permutation tests begin on a thread of their own once the point estimates
    exist, beside the bootstrap (their own random stream: the same p-values either way)."""
    # Every partition's groups stacked: one sparse product aggregates them all.
    stack = group_matrix(all_parts)
    offsets = np.cumsum([0] + [p.n_groups for p in all_parts])
    slices = {p.name: slice(int(offsets[i]), int(offsets[i + 1])) for i, p in enumerate(all_parts)}
    stacked = group_metrics(cells.count, cells.ssum, cells.ssq, cells, stack)
    binned_auc_point = stacked["auc"].copy()
    stacked["auc"] = point_auc(stack, stacked)
    point = {p.name: {k: v[slices[p.name]] for k, v in stacked.items()} for p in all_parts}
    conf_all = aggregate(fine_confusion(cells.count, cells.above), stack, 0)
    conf = {p.name: conf_all[slices[p.name]] for p in all_parts}
    parts = all_parts[1:]
    sufficient = {p.name: _sufficiency(point[p.name], config) for p in parts}
    tests = start(lambda: criterion_pvalues(
        point, conf, cells.count, parts, {name: ok for name, (ok, _) in sufficient.items()},
        config.n_permutations, config.seed), config.jobs)
    if isinstance(sampler, Future):
        sampler = sampler.result()

    reps: dict[str, dict[str, np.ndarray]] = {}
    full: dict[str, np.ndarray] = {}
    unit = "row"
    if config.n_bootstrap > 0 and sampler is not None:
        unit = sampler.unit
        n_clusters = getattr(sampler, "n_clusters", n_clusters)
        streams = ReplicateStreams(np.random.SeedSequence(config.seed).spawn(2)[0])
        full = {k: np.empty((config.n_bootstrap, stack.shape[0])) for k in METRIC_NAMES}
        # Replicates are counts on the occupied cells only; every group of every partition
        # is summed from them (see replicates.py).
        plan = ReplicateMetrics(cells, all_parts)
        # Replicates per chunk: bounded so a chunk's arrays stay near 8 MB with many cells
        # (measured with benchmarks/bench_groups.py: smaller arrays are reused by the allocator
        # instead of fresh pages, whose first touch is most of a large chunk's cost).
        width = getattr(sampler, "width", cells.count.size)  # dense draws: every cell
        chunk = max(1, min(config.chunk, (1 << 20) // max(plan.width, width, 1)))

        def replicates(first: int, r: int) -> int:
            # Chunks write disjoint rows; each replicate has its own stream (any thread, any
            # order, same numbers).
            plan.rows_into(draw_rows(sampler, plan.occupied, streams, first, r), full, first)
            return r

        spans = [(a, min(chunk, config.n_bootstrap - a)) for a in range(0, config.n_bootstrap, chunk)]
        for r in run_ordered(replicates, spans, config.jobs):
            if progress is not None:
                progress(r)
        # Replicate AUCs are binned (pairs in one bin count 1/2): centre them on the exact AUC.
        # The shift can carry a replicate past a bound of [0, 1] for a small, well-separated
        # group; AUC cannot leave it, so neither can its replicates or its interval.
        full["auc"] = np.clip(full["auc"] + (stacked["auc"] - binned_auc_point)[None, :], 0.0, 1.0)
        reps = {p.name: {k: v[:, slices[p.name]] for k, v in full.items()} for p in all_parts}
    return _Estimates(all_parts, point, conf, reps, unit, n_clusters, stacked, conf_all, full,
                      slices, sufficient, tests)


def _sufficiency(m: dict[str, np.ndarray], config: AuditConfig) -> tuple[np.ndarray, list[tuple[str, ...]]]:
    """Which groups are sufficient, and the reasons of the others."""
    reasons_of: list[tuple[str, ...]] = []
    for n, pos, neg in zip(m["_n"].astype(int), m["_pos"].astype(int), m["_neg"].astype(int), strict=True):
        reasons = []
        if n < config.min_group_size:
            reasons.append(f"n={n} < minimum group size {config.min_group_size}")
        if pos < config.min_group_events:
            reasons.append(f"{pos} positives < minimum {config.min_group_events}")
        if neg < config.min_group_events:
            reasons.append(f"{neg} negatives < minimum {config.min_group_events}")
        reasons_of.append(tuple(reasons))
    return np.array([not r for r in reasons_of], dtype=bool), reasons_of


def _simultaneous(est: _Estimates, parts: list[Partition], sufficient: dict,
                  level: float, jobs: int = 1) -> dict[str, dict[str, Box]]:
    """Max-t simultaneous intervals of every metric over the sufficient groups of each
    partition, and the joint TPR+FPR family of equalised odds (key ``"tpr|fpr:<rate>"``).

    Every partition is a family of its own; all are computed at once on the stacked groups
    (:func:`~fairaudit.metrics.simultaneous.max_t_statistics`), with the same numbers as one
    partition at a time.
    """
    if not est.reps:
        return {p.name: {} for p in parts}
    starts = np.array([est.slices[q.name].start for q in est.parts])  # stack order
    eligible = np.zeros(est.stacked_conf.shape[0], dtype=bool)
    for p in parts:
        eligible[est.slices[p.name]] = sufficient[p.name][0]
    point = est.stacked_point
    scale = scales(point, est.stacked_conf)
    stats = dict(zip(METRIC_NAMES, run_ordered(
        lambda k: max_t_statistics(point[k], est.stacked_reps[k], scale[k], eligible, starts),
        [(k,) for k in METRIC_NAMES], jobs), strict=True))
    widths = np.diff(np.append(starts, eligible.size))
    cols: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for keys in [*((k,) for k in METRIC_NAMES), ("tpr", "fpr")]:
        maxima = stats[keys[0]].maxima
        for k in keys[1:]:
            maxima = np.fmax(maxima, stats[k].maxima)
        sizes = np.sum([stats[k].sizes for k in keys], axis=0)
        c = critical_values(maxima, sizes, level)
        alpha = np.array([sidak_alpha(n, level) for n in sizes.tolist()])
        c_col, alpha_col = np.repeat(c, widths), np.repeat(alpha, widths)
        for k in keys:
            lo, hi = box(point[k], stats[k].se, c_col, scale[k], alpha_col)
            defined = np.isfinite(c_col)
            name = k if len(keys) == 1 else f"tpr|fpr:{k}"
            cols[name] = (np.where(defined, lo, np.nan), np.where(defined, hi, np.nan),
                          stats[k].members)
    out: dict[str, dict[str, Box]] = {}
    for p in parts:
        sl = est.slices[p.name]
        out[p.name] = {name: Box(lo[sl], hi[sl], family=np.flatnonzero(members[sl]))
                       for name, (lo, hi, members) in cols.items()}
    return out


def _estimate_rows(
    est: _Estimates, display: dict, boxes: dict[str, Box], pname: str
) -> list[dict[str, Estimate]]:
    """The estimates of every group of a partition, each metric with its display and
    simultaneous intervals. Built from Python lists: with thousands of groups, per-element
    numpy scalars would cost more than the estimates themselves."""
    sl = est.slices[pname]
    columns = [_estimate_column(est.point[pname][key], key,
                                tuple(a[sl] for a in display[key]) if est.reps else None,
                                boxes.get(key))
               for key in METRIC_NAMES]
    return [dict(zip(METRIC_NAMES, row, strict=True)) for row in zip(*columns, strict=True)]


def _estimate_column(vals: np.ndarray, key: str, ci: tuple[np.ndarray, ...] | None,
                     b: Box | None) -> list[Estimate]:
    """One metric's estimates over the groups of a partition: ``ci`` is its display interval
    (lo, hi, undefined share; None without bootstrap), ``b`` its simultaneous intervals."""
    undefined = Estimate(None, None, UNDEFINED_REASON[key])  # frozen: one serves every group
    finite = np.isfinite(vals).tolist()
    if ci is None:
        return [Estimate(v, None, None) if f else undefined
                for v, f in zip(vals.tolist(), finite, strict=True)]
    lo, hi, und = ci
    ci_ok = (np.isfinite(lo) & np.isfinite(hi)).tolist()
    n = vals.size
    sim_ok = (np.isfinite(b.lo) & np.isfinite(b.hi)).tolist() if b is not None else [False] * n
    s_lo, s_hi = (b.lo.tolist(), b.hi.tolist()) if b is not None else (sim_ok, sim_ok)
    return [
        undefined if not f
        else Estimate(v, (lo_i, hi_i), None, simultaneous_ci=(sl_i, sh_i) if so else None) if ok
        # The percentile interval needs most replicates defined; the simultaneous one (max-t,
        # widened to the exact binomial or the AUC score bounds) is the one criteria and gate
        # rules use, so it is shown whenever it exists.
        else Estimate(v, None, f"per-group interval omitted: undefined in {u:.0%} of bootstrap replicates",
                      simultaneous_ci=(sl_i, sh_i) if so else None)
        for v, f, ok, lo_i, hi_i, u, so, sl_i, sh_i in zip(
            vals.tolist(), finite, ci_ok, lo.tolist(), hi.tolist(), und.tolist(), sim_ok, s_lo,
            s_hi, strict=True)
    ]


def _criterion_interval(name: str, boxes: dict[str, Box], idx: np.ndarray) -> tuple[float, float] | None:
    """Interval of a criterion over the sufficient groups ``idx``: its extremes over the box."""
    rates, kind = CRITERIA[name]
    keys = rates if len(rates) == 1 else tuple(f"tpr|fpr:{r}" for r in rates)
    terms = []
    for key in keys:
        b = boxes.get(key)
        if b is None or not np.isin(idx, b.family).all():
            return None
        lo, hi = b.lo[idx], b.hi[idx]
        if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
            return None
        term = range_interval(lo, hi) if kind == "difference" else ratio_interval(lo, hi)
        if term is None:
            return None
        terms.append(term)
    pick = max if kind == "difference" else min
    return pick(t[0] for t in terms), pick(t[1] for t in terms)


def _criteria(
    est: _Estimates, p: Partition, suff: tuple[np.ndarray, list[tuple[str, ...]]],
    boxes: dict[str, Box], pvals: dict[str, tuple[float, int]],
) -> list[Criterion]:
    ok, reasons_of = suff
    idx = np.flatnonzero(ok)
    excluded = tuple(
        ExcludedGroup(g, "; ".join(reasons_of[gi])) for gi, g in enumerate(p.groups) if not ok[gi]
    )
    m = est.point[p.name]
    sub_point, values = sufficient_values(est.point[p.name], idx)
    out = []
    for name, (rates, _kind) in CRITERIA.items():
        v = values[name]
        ok_value = idx.size >= 2 and np.isfinite(v)
        ci = _criterion_interval(name, boxes, idx) if ok_value else None
        lo_g = hi_g = None
        if ok_value:
            r = sub_point[rates[0]]
            lo_g, hi_g = p.groups[idx[int(np.argmin(r))]], p.groups[idx[int(np.argmax(r))]]
        reason = None
        if p.n_groups < 2:
            reason = f"only one group ('{p.groups[0]}') present"
        elif excluded:
            reason = "groups too small to judge: " + ", ".join(f"{e.group} ({e.reason})" for e in excluded)
        elif not np.isfinite(v):
            undefined = [
                f"{rate} undefined in '{p.groups[gi]}' ({UNDEFINED_REASON[rate]})"
                for rate in rates for gi in idx if not np.isfinite(m[rate][gi])
            ]
            reason = "; ".join(undefined) or "undefined (largest rate is 0)"
        status: CriterionStatus = "ok" if reason is None else "insufficient"
        est_only = Estimate(_f(v), ci, None) if idx.size >= 2 else None
        out.append(
            Criterion(
                attribute=p.name, name=name,
                value=_f(v) if status == "ok" else None,
                ci=ci if status == "ok" else None,
                status=status,
                p_value=pvals[name][0] if status == "ok" and name in pvals else None,
                n_permutations=pvals[name][1] if status == "ok" and name in pvals else None,
                reason=reason,
                groups=(lo_g, hi_g) if lo_g is not None and hi_g is not None else (),
                excluded_groups=excluded,
                sufficient_groups_only=est_only if (excluded and est_only is not None) else None,
            )
        )
    return out


def _missing_by_group(
    modalities: Mapping[str, np.ndarray] | None, p: Partition, cells: CellTable
) -> dict[str, np.ndarray]:
    if not modalities:
        return {}
    gid = p.member[cells.row_fine]
    return {
        name: np.bincount(gid, weights=(~np.asarray(present, dtype=bool)).astype(float),
                          minlength=p.n_groups)
        for name, present in modalities.items()
    }


def _with_q_values(criteria: list[Criterion]) -> list[Criterion]:
    import dataclasses

    idx = [i for i, c in enumerate(criteria) if c.p_value is not None]
    if not idx:
        return criteria
    q = benjamini_hochberg(np.array([criteria[i].p_value for i in idx]))
    out = list(criteria)
    for i, qi in zip(idx, q, strict=True):
        out[i] = dataclasses.replace(out[i], q_value=float(qi))
    return out
