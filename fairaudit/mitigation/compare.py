"""Do no harm: the paired change of every group's metrics between two variants.

Each variant (the baseline model, a fine-tuned model, the baseline with per-group thresholds)
is audited on the held-out test split by :func:`fairaudit.workflows.before_after.compare_variants`;
this module computes one thing of its own: the confidence interval of the *change* in each
group's sensitivity (TPR), false-positive rate (FPR, i.e. 1 - specificity), positive predictive
value (PPV) and AUC relative to the baseline, and its do-no-harm status.

That interval is a **paired bootstrap**, computed by the same engine as ``fairaudit compare``
(:mod:`fairaudit.metrics.paired`): every replicate resamples the test rows once (whole
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

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from fairaudit.comparison_result import Comparison, GroupChange, Variant, VariantSummary
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


def row_thresholds(dataset: AuditDataset, variant: Variant, default_threshold: float) -> float | np.ndarray:
    """A variant's decision threshold: one number, or one per row when it has group thresholds."""
    thr = variant.threshold if variant.threshold is not None else default_threshold
    if variant.group_thresholds is None:
        return float(thr)
    gt = variant.group_thresholds
    groups, _ = dataset_groups(dataset, gt.attribute)
    return np.asarray([gt.thresholds.get(g, gt.default) for g in groups.tolist()], dtype=np.float64)


def decisions(dataset: AuditDataset, variant: Variant, default_threshold: float) -> np.ndarray:
    """Row decisions of a variant: ``score >= threshold`` (per group when it has thresholds)."""
    return np.asarray(variant.scores, dtype=np.float64) >= row_thresholds(dataset, variant, default_threshold)


def change_status(metric: str, change: float | None, ci: tuple[float, float] | None,
                  sufficient: bool) -> str:
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
) -> list[GroupChange]:
    """Change of every group's TPR, FPR, PPV and AUC (variant - baseline) with paired CIs.

    One run of the paired engine (:func:`fairaudit.metrics.paired.paired_changes`, the one
    ``fairaudit compare`` uses): every replicate draws one resample of the test rows (patients,
    when ``dataset.clusters`` is set) and evaluates the baseline and all variants on it. Point
    changes are on the full test set and equal the difference of the two audits' values. Groups
    ``insufficient`` in either audit get status ``insufficient``.
    """
    from fairaudit.metrics.paired import paired_changes as paired_engine

    every = (baseline, *variants)
    result = paired_engine(
        dataset.labels,
        {v.name: np.asarray(v.scores, dtype=np.float64) for v in every},
        {v.name: row_thresholds(dataset, v, default_threshold) for v in every},
        {a: np.asarray(dataset.group_labels(a), dtype=str) for a in dataset.attributes},
        reference=baseline.name, clusters=dataset.clusters,
        n_bootstrap=n_bootstrap if n_bootstrap >= 2 else 0, seed=seed,
        confidence_level=confidence_level, metrics=CHANGE_METRICS, criteria=(),
        intersections=intersections, simultaneous=False,
    )
    out: list[GroupChange] = []
    for v in variants:
        for attr in result.attributes[1:]:  # every attribute and intersection, not "overall"
            for g in result.groups[attr]:
                sufficient = {audits[x.name].group(attr, g).status for x in (baseline, v)} == {"ok"}
                for metric in CHANGE_METRICS:
                    if metric == "auc" and v.decisions_only:
                        continue
                    c = result.change(v.name, attr, g, metric)
                    out.append(GroupChange(
                        variant=v.name, attribute=attr, group=g, metric=metric,
                        before=c.reference_value, after=c.value, change=c.change, ci=c.ci,
                        status=change_status(metric, c.change, c.ci, sufficient),
                    ))
    return out


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
    "row_thresholds",
]
