"""Before / after: audit every variant on the same test rows and judge "do no harm".

Each variant (the baseline model, a fine-tuned model, the baseline with per-group thresholds)
is audited by :func:`fairaudit.api.audit_dataset` on the held-out test split; the comparison
reads its numbers from those audits and computes one thing of its own: the confidence interval
of the *change* in each group's sensitivity (TPR), false-positive rate (FPR, i.e. 1 -
specificity), positive predictive value (PPV) and AUC relative to the baseline.

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
**levelling down** ("first, do no harm").

The types (:class:`Variant` in, :class:`Comparison` out) live in
:mod:`fairaudit.mitigation.comparison_result` and are re-exported here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from fairaudit.errors import ConfigError
from fairaudit.mitigation.comparison_result import Comparison, GroupChange, Variant, VariantSummary
from fairaudit.mitigation.thresholds import dataset_groups
from fairaudit.naming import SEPARATOR, attribute_label

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

GAP_CRITERION = "equalized_odds_difference"


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


# --------------------------------------------------------------------------------------------
# The comparison
# --------------------------------------------------------------------------------------------


def compare_variants(
    test: AuditDataset,
    variants: Sequence[Variant],
    *,
    attribute: str | None = None,
    baseline: str | None = None,
    n_bootstrap: int = 1000,
    confidence_level: float = 0.95,
    seed: int = 0,
    min_group_size: int = 30,
    min_group_events: int = 10,
    n_permutations: int = 0,
    intersections: bool = True,
    settings: Mapping[str, Any] | None = None,
) -> Comparison:
    """Audit every variant on the test split and compare each with the baseline.

    Parameters
    ----------
    test : AuditDataset
        The held-out test split (labels and demographics); each variant brings its own scores.
    variants : sequence of Variant
        The first (or the one named ``baseline``) is the reference.
    attribute : str, optional
        The attribute or intersection the headline numbers (worst group, gaps, levelling down)
        refer to; default: the intersection of all sensitive attributes.
    n_bootstrap, confidence_level, seed
        Bootstrap of every audit and of the paired changes (same seed).
    n_permutations : int
        Criterion permutation tests inside each audit (off by default: the comparison does not
        use p-values).

    Returns
    -------
    Comparison
    """
    from fairaudit.api import audit_dataset

    if not variants:
        raise ConfigError("nothing to compare: give at least the baseline variant.")
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        raise ConfigError(f"variant names must be unique; got {', '.join(names)}.")
    base = next((v for v in variants if v.name == baseline), None) if baseline else variants[0]
    if base is None:
        raise ConfigError(f"baseline {baseline!r} is not among the variants ({', '.join(names)}).")
    attribute = attribute or attribute_label(test.attributes)
    if SEPARATOR in attribute and attribute not in test.attributes and not intersections:
        raise ConfigError("the headline attribute is an intersection; keep intersections on.")

    audits: dict[str, AuditResult] = {}
    default_threshold = base.threshold if base.threshold is not None else 0.5
    for v in variants:
        ds = test.with_scores(np.asarray(v.scores, dtype=np.float64), "score")
        thr = v.threshold if v.threshold is not None else default_threshold
        audits[v.name] = audit_dataset(
            ds,
            threshold=thr,
            threshold_source="chosen on validation data" if v.threshold is not None else "baseline's",
            group_thresholds=v.group_thresholds,
            n_bootstrap=n_bootstrap,
            confidence_level=confidence_level,
            seed=seed,
            min_group_size=min_group_size,
            min_group_events=min_group_events,
            n_permutations=n_permutations,
            intersections=intersections,
            model_sha256=v.model_sha256,
            command=f"fairaudit mitigate (variant {v.name})",
        )
    others = [v for v in variants if v is not base]
    changes = paired_changes(
        test, base, others, default_threshold=default_threshold, audits=audits,
        n_bootstrap=n_bootstrap, confidence_level=confidence_level, seed=seed,
        intersections=intersections,
    )
    summaries = []
    base_gap = _criterion(audits[base.name], attribute, GAP_CRITERION)[0]
    for v in variants:
        harmed, improved, possible = (
            tuple(sorted({f"{c.attribute}={c.group} ({c.metric})" for c in changes
                          if c.variant == v.name and c.status == status}))
            for status in ("harmed", "improved", "possible harm")
        )
        if v is base:
            verdict = "baseline"
        elif not harmed:
            verdict = "possible harm" if possible else "no harm detected"
        else:
            gap = _criterion(audits[v.name], attribute, GAP_CRITERION)[0]
            narrowed = gap is not None and base_gap is not None and gap < base_gap
            verdict = "levelling down" if narrowed else "harm"
        summaries.append(_summary(v, audits[v.name], attribute, verdict, harmed, improved, possible))

    return Comparison(
        baseline=base.name,
        attribute=attribute,
        variants=tuple(summaries),
        changes=tuple(changes),
        audits=audits,
        settings={
            "n_bootstrap": n_bootstrap,
            "confidence_level": confidence_level,
            "seed": seed,
            "bootstrap_unit": "patient" if test.clusters is not None else "row",
            "change_interval": "paired percentile bootstrap over the same test resamples",
            "harm_rule": ("harmed when the CI of the change lies entirely on the harmful side of 0 "
                          "(TPR, PPV or AUC fell; FPR rose, i.e. specificity fell); possible harm "
                          "when the change is harmful and the CI only touches 0"),
            "test_data": test.source,
            "test_sha256": test.sha256,
            "min_group_size": min_group_size,
            "min_group_events": min_group_events,
            **(dict(settings) if settings else {}),
        },
    )


def _criterion(result: AuditResult, attribute: str, name: str) -> tuple[float | None, tuple[float, float] | None]:
    try:
        c = result.criterion(attribute, name)
    except KeyError:
        return None, None
    if c.status != "ok":
        # Some group is too small to judge: report the gap over the sufficient groups alone
        # (flagged in VariantSummary.gaps_over), never as if the small group had rate 0.
        est = c.sufficient_groups_only
        return (est.value, est.ci) if est is not None else (None, None)
    return c.value, c.ci


def _worst(result: AuditResult, attribute: str, metric: str) -> tuple[float | None, tuple[float, float] | None, str | None]:
    try:
        s = result.summary(attribute, metric)
    except KeyError:
        return None, None, None
    if s.worst_group is None:
        return None, None, None
    est = result.group(attribute, s.worst_group).metrics.get(metric)
    return (est.value if est else s.min), (est.ci if est else None), s.worst_group


def _summary(
    v: Variant, result: AuditResult, attribute: str, verdict: str,
    harmed: tuple[str, ...], improved: tuple[str, ...], possible: tuple[str, ...] = (),
) -> VariantSummary:
    if attribute not in result.audited_attributes:
        raise ConfigError(
            f"attribute '{attribute}' is not audited; audited: {', '.join(result.audited_attributes)}."
        )
    auc = None if v.decisions_only else result.overall.metrics.get("auc")
    tpr = result.overall.metrics.get("tpr")
    acc = result.overall.metrics.get("accuracy")
    w_auc, w_auc_ci, w_auc_g = (None, None, None) if v.decisions_only else _worst(result, attribute, "auc")
    w_tpr, w_tpr_ci, w_tpr_g = _worst(result, attribute, "tpr")
    eo, eo_ci = _criterion(result, attribute, GAP_CRITERION)
    # TPR and FNR differences are equal: FNR = 1 - TPR in every group.
    fnr, fnr_ci = _criterion(result, attribute, "equal_opportunity_difference")
    try:
        complete = result.criterion(attribute, GAP_CRITERION).status == "ok"
    except KeyError:
        complete = True
    return VariantSummary(
        name=v.name, method=v.method, attribute=attribute,
        overall_auc=auc.value if auc else None, overall_auc_ci=auc.ci if auc else None,
        overall_tpr=tpr.value if tpr else None, overall_tpr_ci=tpr.ci if tpr else None,
        worst_group_auc=w_auc, worst_group_auc_ci=w_auc_ci, worst_auc_group=w_auc_g,
        worst_group_tpr=w_tpr, worst_group_tpr_ci=w_tpr_ci, worst_tpr_group=w_tpr_g,
        equalized_odds_difference=eo, equalized_odds_difference_ci=eo_ci,
        fnr_gap=fnr, fnr_gap_ci=fnr_ci, accuracy=acc.value if acc else None,
        verdict=verdict, gaps_over="all groups" if complete else "sufficient groups only",
        harmed=harmed, improved=improved, possible_harm=possible, provenance=dict(v.provenance),
    )


__all__ = [
    "CHANGE_METRICS",
    "Comparison",
    "GroupChange",
    "HARMFUL_DIRECTION",
    "Variant",
    "VariantSummary",
    "change_status",
    "compare_variants",
    "decisions",
    "paired_changes",
    "row_thresholds",
]
