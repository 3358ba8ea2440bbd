"""Before / after: audit every variant on the same test rows and judge "do no harm".

Each variant (the baseline model, a fine-tuned model, the baseline with per-group thresholds)
is audited by :func:`fairaudit.api.audit_dataset` on the held-out test split; the paired
changes and their do-no-harm statuses come from :mod:`fairaudit.mitigation.compare`. A variant
that narrows the fairness gap of the targeted attribute while harming some group is
**levelling down**.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from fairaudit.api import audit_dataset
from fairaudit.comparison_result import Comparison, Variant, VariantSummary
from fairaudit.errors import ConfigError
from fairaudit.mitigation.compare import paired_changes
from fairaudit.naming import SEPARATOR, attribute_label

if TYPE_CHECKING:  # pragma: no cover
    from fairaudit.data import AuditDataset
    from fairaudit.result import AuditResult

GAP_CRITERION = "equalized_odds_difference"


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


__all__ = ["GAP_CRITERION", "compare_variants"]
