"""The audit computation: cell statistics -> per-group metrics, criteria, summaries, CIs, tests.

Pure numpy; no I/O and no printing. :func:`compute_audit` returns the pieces of an
:class:`~fairaudit.result.AuditResult`; :func:`fairaudit.api.audit` adds provenance.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from fairaudit.metrics.bootstrap import (
    ClusterBootstrap,
    RowBootstrap,
    percentile_ci,
    replicate_chunks,
)
from fairaudit.metrics.cells import (
    ECE_BINS,
    CellTable,
    Partition,
    build_cells,
    make_partitions,
    overall_partition,
)
from fairaudit.metrics.criteria import CRITERIA, SUMMARY_METRICS, criterion_values, summary_values
from fairaudit.metrics.rates import (
    UNDEFINED_REASON,
    auc_from_wins,
    exact_auc,
    group_metrics,
    pairwise_wins,
)
from fairaudit.metrics.significance import benjamini_hochberg, permutation_pvalues, wald_equal_auc
from fairaudit.result import (
    METRIC_NAMES,
    Criterion,
    Estimate,
    ExcludedGroup,
    GroupCurves,
    GroupResult,
    OverallResult,
    Summary,
)

CURVE_POINTS = 60
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


def _f(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def _ci(lo: float, hi: float) -> tuple[float, float] | None:
    return (float(lo), float(hi)) if np.isfinite(lo) and np.isfinite(hi) else None


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
    warnings: list[str] = []

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
    overall = overall_partition(cells.n_fine)
    all_parts = [overall, *parts]

    # -- point estimates --------------------------------------------------------------------
    # Exact AUCs: one pass gives cross-group win counts that serve every partition, unless
    # there are so many fine groups that a sort per partition is cheaper.
    wins = (
        pairwise_wins(labels, scores, cells.row_fine, cells.n_fine, order)
        if cells.n_fine <= MAX_FINE_FOR_WINS else None
    )
    # Every partition's groups stacked: one matrix product aggregates them all.
    stack = np.vstack([p.onehot() for p in all_parts])
    offsets = np.cumsum([0] + [p.n_groups for p in all_parts])
    slices = {p.name: slice(int(offsets[i]), int(offsets[i + 1])) for i, p in enumerate(all_parts)}
    stacked = group_metrics(cells.count, cells.ssum, cells.ssq, cells, stack)
    binned_auc_point = stacked["auc"].copy()
    if wins is not None:
        stacked["auc"] = auc_from_wins(wins, stack, stacked["_pos"], stacked["_neg"])
    else:
        stacked["auc"] = np.concatenate([
            exact_auc(labels, scores, p.member[cells.row_fine], p.n_groups, order) for p in all_parts
        ])
    point = {p.name: {k: v[slices[p.name]] for k, v in stacked.items()} for p in all_parts}

    # -- bootstrap replicates ---------------------------------------------------------------
    seed_seq = np.random.SeedSequence(config.seed)
    boot_seed, perm_seed = seed_seq.spawn(2)
    reps: dict[str, dict[str, np.ndarray]] = {}
    unit = "row"
    n_clusters = None
    if config.n_bootstrap > 0:
        if clusters is not None:
            sampler: RowBootstrap | ClusterBootstrap = ClusterBootstrap(cells, labels, clusters)
            unit = "patient"
            n_clusters = sampler.n_clusters
        else:
            sampler = RowBootstrap(cells)
        rng = np.random.default_rng(boot_seed)
        chunks: dict[str, list[np.ndarray]] = {k: [] for k in METRIC_NAMES}
        # Replicates per chunk: bounded so a chunk's arrays stay near 32 MB with many cells.
        chunk = max(1, min(config.chunk, (1 << 22) // max(cells.count.size, 1)))
        for count, ssum, ssq in replicate_chunks(sampler, cells, config.n_bootstrap, rng, chunk):
            m = group_metrics(count, ssum, ssq, cells, stack)
            for key in METRIC_NAMES:
                chunks[key].append(m[key])
            if progress is not None:
                progress(count.shape[0])
        full = {k: np.concatenate(v, axis=0) for k, v in chunks.items()}
        # Replicate AUCs are binned (pairs in one bin count 1/2): centre them on the exact AUC.
        # The shift can carry a replicate past a bound of [0, 1] for a small, well-separated
        # group; AUC cannot leave it, so neither can its replicates or its interval.
        full["auc"] = np.clip(full["auc"] + (stacked["auc"] - binned_auc_point)[None, :], 0.0, 1.0)
        reps = {p.name: {k: v[:, slices[p.name]] for k, v in full.items()} for p in all_parts}
    elif clusters is not None:
        n_clusters = int(clusters.max()) + 1 if clusters.size else 0

    level = config.confidence_level

    # Percentile intervals of every metric of every group, one vectorised call per metric.
    intervals = {
        pname: {key: percentile_ci(arr, level) for key, arr in d.items()} for pname, d in reps.items()
    }

    def estimates(pname: str, gi: int) -> dict[str, Estimate]:
        out: dict[str, Estimate] = {}
        m = point[pname]
        for key in METRIC_NAMES:
            v = m[key][gi]
            if not np.isfinite(v):
                out[key] = Estimate(None, None, UNDEFINED_REASON[key])
                continue
            ci = None
            reason = None
            if reps:
                lo, hi, und = (a[gi] for a in intervals[pname][key])
                ci = _ci(lo, hi)
                if ci is None:
                    reason = f"interval omitted: undefined in {und:.0%} of bootstrap replicates"
            out[key] = Estimate(float(v), ci, reason)
        return out

    # -- groups -----------------------------------------------------------------------------
    m0 = point["overall"]
    overall_result = OverallResult(
        n=int(m0["_n"][0]), n_pos=int(m0["_pos"][0]), n_neg=int(m0["_neg"][0]),
        metrics=estimates("overall", 0),
    )
    groups: list[GroupResult] = []
    sufficient: dict[str, np.ndarray] = {}
    reasons_of: dict[str, list[tuple[str, ...]]] = {}
    for p in parts:
        m = point[p.name]
        missing = _missing_by_group(modalities, p, cells)
        ok = np.ones(p.n_groups, dtype=bool)
        reasons_of[p.name] = []
        for gi, g in enumerate(p.groups):
            n, pos, neg = int(m["_n"][gi]), int(m["_pos"][gi]), int(m["_neg"][gi])
            reasons = []
            if n < config.min_group_size:
                reasons.append(f"n={n} < minimum group size {config.min_group_size}")
            if pos < config.min_group_events:
                reasons.append(f"{pos} positives < minimum {config.min_group_events}")
            if neg < config.min_group_events:
                reasons.append(f"{neg} negatives < minimum {config.min_group_events}")
            ok[gi] = not reasons
            reasons_of[p.name].append(tuple(reasons))
            groups.append(
                GroupResult(
                    attribute=p.name, group=g, n=n, n_pos=pos, n_neg=neg,
                    status="ok" if not reasons else "insufficient",
                    metrics=estimates(p.name, gi), reasons=tuple(reasons),
                    missing_modalities={k: int(v[gi]) for k, v in missing.items()},
                    values=p.values[gi],
                )
            )
        sufficient[p.name] = ok

    # -- criteria ---------------------------------------------------------------------------
    criteria: list[Criterion] = []
    perm_rng = np.random.default_rng(perm_seed)
    for p in parts:
        ok = sufficient[p.name]
        idx = np.flatnonzero(ok)
        excluded = tuple(
            ExcludedGroup(g, "; ".join(reasons_of[p.name][gi]))
            for gi, g in enumerate(p.groups) if not ok[gi]
        )
        m = point[p.name]
        sub_point = {k: m[k][idx] for k in ("selection_rate", "tpr", "fpr", "auc")}
        sub_reps = {k: reps[p.name][k][:, idx] for k in ("selection_rate", "tpr", "fpr", "auc")} if reps else {}
        values = {name: float(criterion_values(name, sub_point)) if idx.size >= 2 else np.nan
                  for name in CRITERIA}
        pvals: dict[str, float] = {}
        if idx.size >= 2 and config.n_permutations > 0:
            conf = _confusion_of(cells, p)[idx]
            pvals = permutation_pvalues(conf, values, config.n_permutations, perm_rng)
        if idx.size >= 2 and reps and np.isfinite(values["auc_difference"]):
            var = np.nanvar(sub_reps["auc"], axis=0, ddof=1)
            pv = wald_equal_auc(sub_point["auc"], var)
            if pv is not None:
                pvals["auc_difference"] = pv
        for name, (rates, _kind) in CRITERIA.items():
            v = values[name]
            ci = None
            if reps and idx.size >= 2 and np.isfinite(v):
                lo, hi, _und = percentile_ci(criterion_values(name, sub_reps), level)
                ci = _ci(lo, hi)
            est = Estimate(_f(v), ci, None) if idx.size >= 2 else None
            lo_g = hi_g = None
            if idx.size >= 2 and np.isfinite(v):
                r = sub_point[rates[0]]
                lo_g, hi_g = p.groups[idx[int(np.argmin(r))]], p.groups[idx[int(np.argmax(r))]]
            reason = None
            if p.n_groups < 2:
                reason = f"only one group ('{p.groups[0]}') present"
            elif excluded:
                reason = "groups too small to judge: " + ", ".join(
                    f"{e.group} ({e.reason})" for e in excluded
                )
            elif not np.isfinite(v):
                undefined = [
                    f"{rate} undefined in '{p.groups[gi]}' ({UNDEFINED_REASON[rate]})"
                    for rate in rates for gi in idx if not np.isfinite(m[rate][gi])
                ]
                reason = "; ".join(undefined) or "undefined (largest rate is 0)"
            status = "ok" if reason is None else "insufficient"
            criteria.append(
                Criterion(
                    attribute=p.name, name=name,
                    value=_f(v) if status == "ok" else None,
                    ci=ci if status == "ok" else None,
                    status=status,
                    p_value=pvals.get(name) if status == "ok" else None,
                    reason=reason,
                    groups=(lo_g, hi_g) if lo_g is not None else (),
                    excluded_groups=excluded,
                    sufficient_groups_only=est if (excluded and est is not None) else None,
                )
            )
    criteria = _with_q_values(criteria)

    # -- summaries --------------------------------------------------------------------------
    summaries: list[Summary] = []
    for p in parts:
        idx = np.flatnonzero(sufficient[p.name])
        for metric, higher in SUMMARY_METRICS.items():
            vals = point[p.name][metric][idx]
            keep = np.isfinite(vals)
            vals, kidx = vals[keep], idx[keep]
            if vals.size == 0:
                summaries.append(Summary(p.name, metric, None, None, None, None, None, None,
                                         None, 0, higher_is_better=higher))
                continue
            s = summary_values(vals, higher)
            worst = kidx[int(np.argmin(vals) if higher else np.argmax(vals))]
            best = kidx[int(np.argmax(vals) if higher else np.argmin(vals))]
            sd_ci = ser_ci = None
            if reps and vals.size >= 2:
                rs = summary_values(reps[p.name][metric][:, kidx], higher)
                sd_ci = _ci(*percentile_ci(rs["sd"], level)[:2])
                ser_ci = _ci(*percentile_ci(rs["ser"], level)[:2])
            summaries.append(
                Summary(
                    attribute=p.name, metric=metric, min=_f(s["min"]), max=_f(s["max"]),
                    mean=_f(s["mean"]), sd=_f(s["sd"]), ser=_f(s["ser"]),
                    worst_group=p.groups[worst], best_group=p.groups[best], n_groups=int(vals.size),
                    sd_ci=sd_ci, ser_ci=ser_ci, higher_is_better=higher,
                )
            )

    # -- curves for the report --------------------------------------------------------------
    curves = [c for p in parts for c in _curves(cells, p)]

    return AuditParts(
        overall=overall_result,
        groups=tuple(groups),
        criteria=tuple(criteria),
        summaries=tuple(summaries),
        curves=tuple(curves),
        intersections=tuple(p.name for p in parts if len(p.attributes) > 1),
        warnings=tuple(warnings),
        bootstrap_unit=unit,
        n_clusters=n_clusters,
    )


def _confusion_of(cells: CellTable, p: Partition) -> np.ndarray:
    from fairaudit.metrics.rates import aggregate, fine_confusion

    return aggregate(fine_confusion(cells.count, cells.above), p, 0)


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


def _r(x: np.ndarray) -> tuple[float | None, ...]:
    x = np.asarray(x, dtype=np.float64)
    finite = np.isfinite(x)
    vals = np.round(np.where(finite, x, 0.0), 6).tolist()
    return tuple(v if ok else None for v, ok in zip(vals, finite.tolist(), strict=True))


def _curves(cells: CellTable, p: Partition) -> list[GroupCurves]:
    from fairaudit.metrics.rates import aggregate

    count = aggregate(cells.count, p, 0)  # (G, 2, B)
    ssum = aggregate(cells.ssum, p, 0)
    left = cells.edges[:-1]
    n_bins = left.shape[0]
    pick = np.unique(np.round(np.linspace(0, n_bins - 1, CURVE_POINTS)).astype(int))
    onehot = np.zeros((n_bins, ECE_BINS))
    onehot[np.arange(n_bins), cells.ece_bin] = 1.0
    out = []
    for gi, g in enumerate(p.groups):
        neg, pos = count[gi, 0], count[gi, 1]
        # Rates when the threshold is each bin's left edge (score >= edge is positive).
        tp = np.cumsum(pos[::-1])[::-1]
        fp = np.cumsum(neg[::-1])[::-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            tpr = tp / pos.sum() if pos.sum() > 0 else np.full(n_bins, np.nan)
            fpr = fp / neg.sum() if neg.sum() > 0 else np.full(n_bins, np.nan)
            n_k = (count[gi].sum(axis=0)) @ onehot
            obs = (pos @ onehot) / n_k
            mean_s = (ssum[gi].sum(axis=0) @ onehot) / n_k
        roc_f = np.concatenate([fpr[pick], [0.0]])
        roc_t = np.concatenate([tpr[pick], [0.0]])
        out.append(
            GroupCurves(
                attribute=p.name, group=g,
                roc_fpr=_r(roc_f), roc_tpr=_r(roc_t),
                reliability_score=_r(mean_s), reliability_observed=_r(obs),
                reliability_count=tuple(int(v) for v in n_k),
                thresholds=_r(left[pick]), threshold_tpr=_r(tpr[pick]), threshold_fpr=_r(fpr[pick]),
            )
        )
    return out
