"""Do no harm: the paired change of every group's metrics between two variants.

Each variant (the baseline model, a fine-tuned model, the baseline with per-group thresholds)
is audited on the held-out test split by :func:`fairaudit.workflows.before_after.compare_variants`;
this module computes one thing of its own: the confidence interval of the *change* in each
group's sensitivity (TPR), false-positive rate (FPR, i.e. 1 - specificity), positive predictive
value (PPV) and AUC relative to the baseline, and its do-no-harm status.

That interval is a **paired bootstrap**: every replicate resamples the test rows once (whole
patients when the data has a cluster column) and evaluates both the baseline and the variant on
that same resample, so the variation the two share (which patients happen to be in the test
set) cancels out of the difference. Resampling each audit separately would give intervals of
the difference that are far too wide. A group is

- **harmed** when the interval of a change lies entirely on the harmful side of 0 (sensitivity,
  PPV or AUC fell; FPR rose, i.e. specificity fell);
- **possible harm** when the change is harmful and its interval reaches 0 only at its end (e.g.
  TPR 0.85 -> 0.70 with interval [-0.333, 0.000]: no resample showed an improvement, the
  interval merely touches 0);
- **improved** when an interval lies entirely on the beneficial side;
- otherwise unchanged within the noise; groups too small to judge in either audit are
  ``insufficient`` and never counted as unharmed evidence.

A variant that narrows the fairness gap of the targeted attribute while harming some group is
**levelling down** ("first, do no harm"; judged by the workflow).

The types (:class:`Variant` in, :class:`Comparison` out) live in
:mod:`fairaudit.comparison_result` and are re-exported here.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from fairaudit.comparison_result import (
    ChangeStatus,
    Comparison,
    GroupChange,
    Variant,
    VariantSummary,
)
from fairaudit.metrics.weighted import resample_weights, weighted_auc
from fairaudit.mitigation.thresholds import dataset_groups

if TYPE_CHECKING:  # pragma: no cover
    from fairaudit.data import AuditDataset
    from fairaudit.result import AuditResult

CHANGE_METRICS = ("tpr", "fpr", "ppv", "auc")
"""Metrics judged for harm: sensitivity (missed diagnoses), FPR (false alarms; a rise is a fall
in specificity), PPV (how often a positive call is right) and AUC (ranking quality)."""

HARMFUL_DIRECTION = {"tpr": -1, "fpr": 1, "ppv": -1, "auc": -1}
"""Sign of a harmful change of each metric: a fall (-1) or a rise (+1)."""

TOUCH_TOLERANCE = 1e-12
"""An interval end this close to 0 "touches" 0 (possible harm)."""


# --------------------------------------------------------------------------------------------
# Decisions and the paired bootstrap
# --------------------------------------------------------------------------------------------


def decisions(dataset: AuditDataset, variant: Variant, default_threshold: float) -> np.ndarray:
    """Row decisions of a variant: ``score >= threshold`` (per group when it has thresholds)."""
    scores = np.asarray(variant.scores, dtype=np.float64)
    thr = variant.threshold if variant.threshold is not None else default_threshold
    if variant.group_thresholds is None:
        return scores >= thr
    gt = variant.group_thresholds
    groups, _ = dataset_groups(dataset, gt.attribute)
    row_thr = np.asarray([gt.thresholds.get(g, gt.default) for g in groups.tolist()])
    return scores >= row_thr


def _weighted_tpr(w: np.ndarray, y: np.ndarray, dec: np.ndarray) -> np.ndarray:
    pos = w[:, y == 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return (pos * dec[y == 1]).sum(axis=1) / pos.sum(axis=1)


def _weighted_fpr(w: np.ndarray, y: np.ndarray, dec: np.ndarray) -> np.ndarray:
    neg = w[:, y == 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        return (neg * dec[y == 0]).sum(axis=1) / neg.sum(axis=1)


def _weighted_ppv(w: np.ndarray, y: np.ndarray, dec: np.ndarray) -> np.ndarray:
    called = w * dec
    with np.errstate(invalid="ignore", divide="ignore"):
        return (called * (y == 1)).sum(axis=1) / called.sum(axis=1)


def _metric_value(metric: str, w: np.ndarray, y: np.ndarray, dec: np.ndarray,
                  scores: np.ndarray) -> np.ndarray:
    """One change metric per resample (rows of ``w``) from decisions or scores."""
    if metric == "auc":
        return weighted_auc(scores, y, w)
    fn = {"tpr": _weighted_tpr, "fpr": _weighted_fpr, "ppv": _weighted_ppv}[metric]
    return fn(w, y, dec)


def change_status(metric: str, change: float | None, ci: tuple[float, float] | None,
                  sufficient: bool) -> ChangeStatus:
    """Do-no-harm status of one change (see the module docstring).

    Parameters
    ----------
    metric : str
        One of :data:`CHANGE_METRICS`; its harmful direction is :data:`HARMFUL_DIRECTION`.
    change : float or None
        Variant minus baseline on the full test set.
    ci : (float, float) or None
        Paired bootstrap interval of the change.
    sufficient : bool
        The group is large enough to judge in both audits.
    """
    if not sufficient or change is None:
        return "insufficient"
    sign = HARMFUL_DIRECTION[metric]
    if ci is None:
        return "unchanged"
    # Map to "harm is positive": the harmful end is then ``hi`` and the near end ``lo``.
    lo, hi = sorted((sign * ci[0], sign * ci[1]))
    if lo > TOUCH_TOLERANCE:
        return "harmed"
    if hi < -TOUCH_TOLERANCE:
        return "improved"
    if sign * change > TOUCH_TOLERANCE and abs(lo) <= TOUCH_TOLERANCE:
        return "possible harm"
    return "unchanged"


def _partitions(dataset: AuditDataset, intersections: bool) -> list[tuple[str, np.ndarray]]:
    attrs = list(dataset.attributes)
    sizes = [1] + (list(range(2, len(attrs) + 1)) if intersections else [])
    out = []
    for r in sizes:
        for combo in itertools.combinations(attrs, r):
            names, attribute = dataset_groups(dataset, list(combo))
            out.append((attribute, names))
    return out


def paired_changes(
    dataset: AuditDataset,
    baseline: Variant,
    variants: Sequence[Variant],
    *,
    default_threshold: float,
    audits: Mapping[str, AuditResult],
    n_bootstrap: int = 1000,
    confidence_level: float = 0.95,
    seed: int = 0,
    intersections: bool = True,
    chunk: int = 100,
) -> list[GroupChange]:
    """Change of every group's TPR, FPR, PPV and AUC (variant - baseline) with paired CIs.

    Every replicate draws one resample of the test rows (patients, when ``dataset.clusters`` is
    set) and evaluates the baseline and all variants on it. Point changes are on the full test
    set and equal the difference of the two audits' values. Groups ``insufficient`` in either
    audit get status ``insufficient``.
    """
    from fairaudit.metrics.bootstrap import percentile_ci

    y = dataset.labels.astype(np.int64)
    n = y.shape[0]
    dec = {v.name: decisions(dataset, v, default_threshold) for v in (baseline, *variants)}
    scores = {v.name: np.asarray(v.scores, dtype=np.float64) for v in (baseline, *variants)}
    parts = _partitions(dataset, intersections)

    # (attribute, group) -> rows; computed once, shared by all replicates and variants.
    cells = [(attr, g, np.flatnonzero(names == g)) for attr, names in parts for g in _ordered(names)]
    names_all = [baseline.name] + [v.name for v in variants]
    reps: dict[tuple[str, int, str], list[np.ndarray]] = {(name, k, metric): [] for name in names_all for k in range(len(cells)) for metric in CHANGE_METRICS}
    rng = np.random.default_rng(seed)
    done = 0
    while done < n_bootstrap:
        r = min(chunk, n_bootstrap - done)
        w = resample_weights(n, dataset.clusters, r, rng)
        for k, (_, _, rows) in enumerate(cells):
            wk, yk = w[:, rows], y[rows]
            for name in names_all:
                for metric in CHANGE_METRICS:
                    reps[(name, k, metric)].append(
                        _metric_value(metric, wk, yk, dec[name][rows], scores[name][rows]))
        done += r

    ones = np.ones((1, n))
    out: list[GroupChange] = []
    for v in variants:
        for k, (attr, g, rows) in enumerate(cells):
            statuses = {audits[x.name].group(attr, g).status for x in (baseline, v)}
            for metric in CHANGE_METRICS:
                if metric == "auc" and v.decisions_only:
                    continue
                before, after = (
                    float(_metric_value(metric, ones[:, rows], y[rows], dec[x][rows], scores[x][rows])[0])
                    for x in (baseline.name, v.name)
                )
                change = after - before if math.isfinite(before) and math.isfinite(after) else None
                ci = None
                if n_bootstrap >= 2 and change is not None:
                    diff = np.concatenate(reps[(v.name, k, metric)]) - np.concatenate(
                        reps[(baseline.name, k, metric)]
                    )
                    lo, hi, _ = percentile_ci(diff[:, None], confidence_level)
                    if math.isfinite(lo[0]) and math.isfinite(hi[0]):
                        ci = (float(lo[0]), float(hi[0]))
                status = change_status(metric, change, ci, statuses == {"ok"})
                out.append(
                    GroupChange(
                        variant=v.name, attribute=attr, group=g, metric=metric,
                        before=_finite(before), after=_finite(after), change=change, ci=ci,
                        status=status,
                    )
                )
    return out


def _ordered(names: np.ndarray) -> list[str]:
    return sorted(set(names.tolist()), key=lambda s: (s == "unknown", s))


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


__all__ = [
    "CHANGE_METRICS",
    "Comparison",
    "GroupChange",
    "HARMFUL_DIRECTION",
    "Variant",
    "VariantSummary",
    "change_status",
    "decisions",
    "paired_changes",
]
