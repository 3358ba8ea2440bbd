"""Views for attributes with many groups (sites, hospitals, scanners, intersections).

Institution comparisons read many groups through a *funnel plot* -- each group's rate against
the number of cases it rests on, with binomial control limits around the overall rate
(Spiegelhalter, "Funnel plots for comparing institutional performance", Stat. Med. 2005) -- and
a *caterpillar plot* -- groups ranked by their value, with intervals and the overall line.

The control limits are the only numbers computed in the report layer, and only to decide what
a page shows first: they are a display device for ranking and folding, never a verdict (the
gate judges on the result's intervals). Groups whose rate lies outside the 99.8% limits are
*flagged*: among 1,000 groups drawn from the overall rate about two fall outside by chance, so
a flag is worth a look, not proof.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fairaudit.result import AuditResult, Estimate, GroupResult

# An attribute with more groups than this gets the funnel and caterpillar plots, tables sorted
# with the flagged groups first and the rest folded, and figures limited to a few groups.
MANY_GROUPS = 12
# At most this many curves in the ROC, calibration and threshold figures of such an attribute.
MAX_FIGURE_GROUPS = 8
# Funnel metrics: a rate and the count it is a proportion of (its binomial denominator).
FUNNEL_METRICS: tuple[tuple[str, str], ...] = (("tpr", "n_pos"), ("selection_rate", "n"))
CATERPILLAR_METRICS: tuple[str, ...] = ("tpr", "auc")
# Spiegelhalter's two limits: 95% ("alert") and 99.8% ("alarm", about 3 standard errors).
LIMITS: tuple[float, ...] = (0.95, 0.998)


def is_many(n_groups: int) -> bool:
    """True when an attribute has enough groups to need the many-group views."""
    return n_groups > MANY_GROUPS


def binomial_limits(p0: float, m: int, coverage: float) -> tuple[float, float]:
    """Exact binomial control limits of a proportion of ``m`` cases around ``p0``.

    Spiegelhalter (2005), appendix A.1.1: the ``(1 ± coverage)/2`` quantiles of Binomial(m, p0)
    divided by ``m``, interpolated between the integers so the funnel is smooth.

    Parameters
    ----------
    p0
        The target (overall) rate, in [0, 1].
    m
        The denominator, at least 1.
    coverage
        The probability a group at ``p0`` falls within the limits, e.g. 0.998.

    Returns
    -------
    tuple of float
        The lower and upper limit, within [0, 1].
    """
    from scipy.stats import binom

    if m < 1:
        raise ValueError("the denominator of a funnel limit must be at least 1")
    if p0 <= 0.0 or p0 >= 1.0:  # a degenerate binomial: every group sits at p0
        return float(p0), float(p0)
    out = []
    for q in ((1 - coverage) / 2, (1 + coverage) / 2):
        r = float(binom.ppf(q, m, p0))
        below = float(binom.cdf(r - 1, m, p0)) if r > 0 else 0.0
        at = float(binom.cdf(r, m, p0))
        alpha = (at - q) / (at - below) if at > below else 0.0
        out.append(min(1.0, max(0.0, (r - alpha) / m)))
    return out[0], out[1]


def outside(rate: float, p0: float, m: int) -> float:
    """The one-sided binomial tail probability of a group's count on its side of ``p0``.

    A group is outside the ``c`` limits when this is below ``(1 - c) / 2``. The exact tail,
    not the interpolated drawing limits, decides: with 1 or 2 cases a rate of 1.0 is never
    "outside" merely because the drawn limit is interpolated below 1.
    """
    from scipy.stats import binom

    x = int(round(rate * m))
    if x >= p0 * m:
        return float(binom.sf(x - 1, m, p0))
    return float(binom.cdf(x, m, p0))


@dataclass(frozen=True)
class GroupAssessment:
    """Where one group sits relative to the funnel of each funnel metric."""

    group: str
    divergence: float  # largest |z| over the funnel metrics (0 when none is defined)
    flagged: bool  # outside the 99.8% limits of a funnel metric, or simultaneous CI excludes overall
    alert: bool  # outside the 95% limits of a funnel metric
    findings: tuple[str, ...] = ()


@dataclass(frozen=True)
class AttributeAssessment:
    """Groups of one attribute ordered most divergent first, with what the figures show."""

    order: tuple[str, ...]
    groups: Mapping[str, GroupAssessment] = field(default_factory=dict)

    @property
    def flagged(self) -> tuple[str, ...]:
        return tuple(g for g in self.order if self.groups[g].flagged)


def _denominator(g: GroupResult, attr: str) -> int:
    return int(getattr(g, attr))


def _overall(result: AuditResult, metric: str) -> float | None:
    est = result.overall.metrics.get(metric)
    return None if est is None else est.value


def interval(est: Estimate | None) -> tuple[float, float] | None:
    """The interval a caterpillar plot draws: family-wise when the result has it, else per group."""
    if est is None:
        return None
    return est.simultaneous_ci if est.simultaneous_ci is not None else est.ci


def _assess_group(result: AuditResult, g: GroupResult, labels: Mapping[str, str]) -> GroupAssessment:
    divergence, flagged, alert, findings = 0.0, False, False, []
    for metric, denom in FUNNEL_METRICS:
        p0, est, m = _overall(result, metric), g.metrics.get(metric), _denominator(g, denom)
        if p0 is None or est is None or est.value is None or m < 1:
            continue
        if 0.0 < p0 < 1.0:
            divergence = max(divergence, abs(est.value - p0) / math.sqrt(p0 * (1 - p0) / m))
        tail = outside(est.value, p0, m)
        name = labels.get(metric, metric)
        if tail < (1 - LIMITS[1]) / 2:
            flagged = True
            side = "below" if est.value < p0 else "above"
            findings.append(f"{name} {side} the 99.8% funnel limit")
        elif tail < (1 - LIMITS[0]) / 2:
            alert = True
    for metric in CATERPILLAR_METRICS:
        p0, ci = _overall(result, metric), interval(g.metrics.get(metric))
        est = g.metrics.get(metric)
        if p0 is None or ci is None or est is None or est.simultaneous_ci is None:
            continue
        if ci[1] < p0 or ci[0] > p0:
            flagged = True
            findings.append(f"{labels.get(metric, metric)} simultaneous interval excludes the overall value")
    return GroupAssessment(g.group, divergence, flagged, alert or flagged, tuple(findings))


def assess(
    result: AuditResult, groups: Sequence[GroupResult], labels: Mapping[str, str] | None = None,
) -> AttributeAssessment:
    """Assess every group against the funnels and order them: flagged first, then by divergence.

    Parameters
    ----------
    result
        The audit result (its overall rates are the funnel targets).
    groups
        The groups of one attribute.
    labels
        Display names of the metrics, for the findings text.
    """
    labels = labels or {}
    found = {g.group: _assess_group(result, g, labels) for g in groups}
    size = {g.group: g.n for g in groups}
    order = sorted(found, key=lambda k: (not found[k].flagged, -found[k].divergence, -size[k], k))
    return AttributeAssessment(tuple(order), found)


def figure_groups(
    groups: Sequence[GroupResult], assessment: AttributeAssessment, limit: int = MAX_FIGURE_GROUPS,
) -> tuple[list[str], int, int]:
    """The groups a curve figure shows: the largest and the flagged, at most ``limit``.

    Half the slots go to the largest groups (a reference) and half to the most divergent
    flagged groups; unused slots of one kind go to the other.

    Returns
    -------
    tuple
        The chosen group names (largest first, then flagged), how many are largest and how
        many flagged.
    """
    by_size = [g.group for g in sorted(groups, key=lambda g: (-g.n, g.group))]
    names = {g.group for g in groups}
    flagged = [g for g in assessment.flagged if g in names]
    n_flag = min(len(flagged), limit - min(len(by_size), limit // 2))
    largest = [g for g in by_size if g not in flagged[:n_flag]][: limit - n_flag]
    chosen_flagged = [g for g in flagged[:n_flag] if g not in largest]
    return largest + chosen_flagged, len(largest), len(chosen_flagged)


def _funnel_panel(
    result: AuditResult, groups: Sequence[GroupResult], assessment: AttributeAssessment,
    metric: str, denom: str, label: str,
) -> dict[str, Any] | None:
    import numpy as np

    p0 = _overall(result, metric)
    points = []
    for g in groups:
        est, m = g.metrics.get(metric), _denominator(g, denom)
        if est is not None and est.value is not None and m >= 1:
            points.append((m, est.value, assessment.groups[g.group].flagged, g.group))
    if p0 is None or not points:
        return None
    top = max(p[0] for p in points)
    grid = sorted({int(round(x)) for x in np.geomspace(1, max(top, 2), 80)})
    limits = [(m, *binomial_limits(p0, m, LIMITS[0]), *binomial_limits(p0, m, LIMITS[1])) for m in grid]
    flagged = sorted((p for p in points if p[2]), key=lambda p: -assessment.groups[p[3]].divergence)
    return {
        "label": label,
        "xlabel": "Positives in the group (log scale)" if denom == "n_pos" else "Rows in the group (log scale)",
        "overall": p0,
        "points": [(m, r, f) for m, r, f, _ in points],
        "limits": limits,
        "annotate": [(m, r, g) for m, r, _, g in flagged[:5]],
    }


def _caterpillar_panel(
    result: AuditResult, groups: Sequence[GroupResult], assessment: AttributeAssessment,
    metric: str, label: str,
) -> dict[str, Any] | None:
    rows, simultaneous = [], False
    for g in groups:
        est = g.metrics.get(metric)
        if est is None or est.value is None:
            continue
        ci = interval(est)
        simultaneous = simultaneous or est.simultaneous_ci is not None
        rows.append((est.value, ci[0] if ci else None, ci[1] if ci else None,
                     assessment.groups[g.group].flagged))
    if not rows:
        return None
    level = f"{result.run.confidence_level:.0%}"
    return {
        "label": label,
        "overall": _overall(result, metric),
        "interval_kind": f"{level} simultaneous interval" if simultaneous else f"{level} interval (per group)",
        "simultaneous": simultaneous,
        "rows": sorted(rows, key=lambda r: r[0]),
    }


def comparison_figures(
    result: AuditResult, attribute: str, groups: Sequence[GroupResult],
    assessment: AttributeAssessment, sup: Any, labels: Mapping[str, str],
) -> dict[str, Any]:
    """Funnel and caterpillar figures of a many-group attribute, and what their captions say.

    Groups whose numbers small-cell suppression withholds (``sup.group_hidden``) are left out:
    a point would reveal their size and rate.
    """
    from fairaudit.report import figures as F

    visible = [g for g in groups if not sup.group_hidden(g)]
    funnels = [p for p in (_funnel_panel(result, visible, assessment, m, d, labels.get(m, m))
                           for m, d in FUNNEL_METRICS) if p is not None]
    caterpillars = [p for p in (_caterpillar_panel(result, visible, assessment, m, labels.get(m, m))
                                for m in CATERPILLAR_METRICS) if p is not None]
    return {
        "funnel": F.funnel_figure(f"Funnel plot: {attribute}", funnels) if funnels else None,
        "caterpillar": F.caterpillar_figure(f"Caterpillar plot: {attribute}", caterpillars) if caterpillars else None,
        "simultaneous": any(p["simultaneous"] for p in caterpillars),
        "n_flagged": sum(1 for g in visible if assessment.groups[g.group].flagged),
        "n_alert": sum(1 for g in visible if assessment.groups[g.group].alert),
        "n_shown": len(visible),
        "n_withheld": len(groups) - len(visible),
    }
