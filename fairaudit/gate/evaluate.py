"""The gate decision: pure functions from (AuditResult, Policy) to a GateOutcome and an exit code.

Every bounded quantity is judged by its confidence interval: **fail** when the interval lies
wholly beyond the bound, **pass** when it lies wholly within, **inconclusive** otherwise.
Criteria and SD/SER intervals are built from simultaneous intervals over the groups, so they
are valid with many groups; a per-group rule ("every group's AUC >= 0.8") judges all groups of
an attribute at once on their simultaneous (family-wise) intervals, so that a fair model with
hundreds of groups is not failed by one of them straying by chance. A
quantity with no interval (``n_bootstrap = 0``) is inconclusive unless the policy sets
``without_ci = "point"``; a criterion or group that is ``insufficient`` is inconclusive unless
the policy sets ``insufficient = "fail"`` or ``"sufficient_groups_only"``. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable

from fairaudit.errors import ConfigError
from fairaudit.exit_codes import (  # noqa: F401  (re-exported: the gate's public API)
    EXIT_ERROR,
    EXIT_FAIL,
    EXIT_INCONCLUSIVE,
    EXIT_PASS,
    FAIL,
    INCONCLUSIVE,
    NOT_RUN,
    PASS,
    exit_code,
)
from fairaudit.gate.policy import (
    ALL,
    Bound,
    CriterionRule,
    GroupMetricRule,
    GroupSizeRule,
    Policy,
    SummaryRule,
)
from fairaudit.result import AuditResult, Estimate, GateOutcome, RuleOutcome


def _num(x: float) -> str:
    return f"{x:.3f}"


def decide(
    value: float | None,
    ci: tuple[float, float] | None,
    bound: Bound,
    *,
    without_ci: str = "inconclusive",
    no_ci: str | None = None,
) -> tuple[str, str]:
    """Judge one estimate against a bound.

    Parameters
    ----------
    value, ci
        The estimate and its confidence interval (either may be None).
    bound
        ``min`` and/or ``max``; both are inclusive.
    without_ci
        ``"inconclusive"`` (default) or ``"point"``: judge the point estimate when there is no
        interval.
    no_ci
        Why there is no interval, when the audit did have bootstrap replicates (the default
        explanation is that it had none).

    Returns
    -------
    (status, explanation)
        ``status`` is ``"pass"``, ``"fail"`` or ``"inconclusive"``; the explanation is a short
        clause for the rule's message.
    """
    if value is None:
        return INCONCLUSIVE, "the value is undefined"
    if ci is None:
        if without_ci != "point":
            return INCONCLUSIVE, no_ci or (
                "there is no confidence interval (the audit ran without bootstrap replicates); "
                "rerun with bootstrap replicates or set without_ci = \"point\" in the policy"
            )
        low = high = value
        basis = "the point estimate (no confidence interval)"
    else:
        low, high = (min(ci), max(ci))
        basis = "the confidence interval"
    beyond = (bound.max is not None and low > bound.max) or (bound.min is not None and high < bound.min)
    within = (bound.max is None or high <= bound.max) and (bound.min is None or low >= bound.min)
    if beyond:
        return FAIL, f"{basis} lies wholly beyond the bound"
    if within:
        return PASS, f"{basis} lies wholly within the bound"
    return INCONCLUSIVE, f"{basis} straddles the bound"


def _describe(value: float | None, ci: tuple[float, float] | None, level: float) -> str:
    if value is None:
        return "undefined"
    if ci is None:
        return _num(value)
    return f"{_num(value)} ({level:.0%} CI {_num(ci[0])} to {_num(ci[1])})"


def _targets(rule, wanted: tuple[str, ...], available: tuple[str, ...]) -> tuple[str, ...]:
    if wanted == (ALL,):
        return available
    missing = [a for a in wanted if a not in available]
    if missing:
        where = f"{rule.location}: " if getattr(rule, "location", None) else ""
        raise ConfigError(
            f"{where}policy rule '{rule.id}' names attribute {missing[0]!r}, which this audit does "
            f"not contain; audited attributes and intersections: {', '.join(available) or 'none'}"
        )
    return wanted


def _bound_fields(bound: Bound) -> dict[str, float | None]:
    return {
        "bound": bound.max if bound.max is not None else bound.min,
        "bound_min": bound.min,
        "bound_max": bound.max,
    }


def _outcome(
    rule_id: str,
    subject: str,
    quantity: str,
    est: Estimate | None,
    bound: Bound,
    policy: Policy,
    level: float,
    note: str = "",
    *,
    family: int | None = None,
    no_ci: str | None = None,
) -> RuleOutcome:
    """One judged estimate. With ``family`` (a per-group rule over that many groups) the
    decision uses the estimate's simultaneous interval, and the message says so."""
    value = est.value if est is not None else None
    ci = est.ci if est is not None else None
    sim = est.simultaneous_ci if est is not None else None
    decision_ci = sim if (family is not None and sim is not None) else ci
    status, why = decide(value, decision_ci, bound, without_ci=policy.without_ci, no_ci=no_ci)
    if value is None and est is not None and est.reason:
        why = f"the value is undefined ({est.reason})"
    described = _describe(value, ci, level)
    if family is not None and sim is not None:
        described += (f"; simultaneous {level:.0%} interval across the {family} groups "
                      f"{_num(sim[0])} to {_num(sim[1])}")
        why = why.replace("the confidence interval", "the simultaneous interval")
    elif family is not None and ci is not None:
        why += " (judged on the per-group interval: the result has no simultaneous intervals)"
    message = f"{quantity} for {subject} is {described}; bound {bound.describe()}: {why}{note}."
    return RuleOutcome(
        id=f"{rule_id} [{subject}]",
        status=status,
        message=message,
        value=value,
        ci=ci,
        simultaneous_ci=sim if family is not None else None,
        **_bound_fields(bound),
    )


def _criterion_outcomes(rule: CriterionRule, result: AuditResult, policy: Policy) -> Iterable[RuleOutcome]:
    level = result.run.confidence_level
    available = tuple(dict.fromkeys(c.attribute for c in result.criteria if c.name == rule.name))
    if rule.attributes == (ALL,) and not available:
        yield RuleOutcome(
            id=rule.id, status=INCONCLUSIVE,
            message=f"the audit computed no {rule.name} for any attribute.",
            **_bound_fields(rule.bound),
        )
        return
    audited = tuple(dict.fromkeys(result.audited_attributes + available))
    for attribute in _targets(rule, rule.attributes, audited):
        try:
            crit = result.criterion(attribute, rule.name)
        except KeyError:
            yield RuleOutcome(
                id=f"{rule.id} [{attribute}]", status=INCONCLUSIVE,
                message=f"the audit computed no {rule.name} for {attribute}.",
                **_bound_fields(rule.bound),
            )
            continue
        if crit.status == "insufficient":
            excluded = ", ".join(f"{e.group} ({e.reason})" for e in crit.excluded_groups)
            detail = crit.reason or "a group is too small or a rate is undefined"
            if excluded:
                detail = f"{detail}; insufficient groups: {excluded}"
            if policy.insufficient == "sufficient_groups_only":
                yield _outcome(
                    rule.id, attribute, rule.name, crit.sufficient_groups_only, rule.bound, policy,
                    level, note=f" (judged over sufficient groups only; {detail})",
                )
                continue
            status = FAIL if policy.insufficient == "fail" else INCONCLUSIVE
            yield RuleOutcome(
                id=f"{rule.id} [{attribute}]", status=status,
                message=(
                    f"{rule.name} for {attribute} cannot be judged: {detail}"
                    + (" (the policy fails insufficient evidence)." if status == FAIL else ".")
                ),
                **_bound_fields(rule.bound),
            )
            continue
        yield _outcome(
            rule.id, attribute, rule.name, Estimate(crit.value, crit.ci, crit.reason),
            rule.bound, policy, level,
        )


def _group_metric_outcomes(rule: GroupMetricRule, result: AuditResult, policy: Policy) -> Iterable[RuleOutcome]:
    level = result.run.confidence_level
    for attribute in _targets(rule, rule.attributes, result.audited_attributes):
        judged = 0
        n_family = sum(1 for g in result.groups_of(attribute) if g.status != "insufficient")
        for g in result.groups_of(attribute):
            subject = f"{attribute} = {g.group}"
            if g.status == "insufficient":
                if policy.insufficient == "sufficient_groups_only":
                    continue
                status = FAIL if policy.insufficient == "fail" else INCONCLUSIVE
                why = "; ".join(g.reasons) or "too few rows or events to judge"
                judged += 1
                yield RuleOutcome(
                    id=f"{rule.id} [{subject}]", status=status,
                    message=f"{rule.metric} for {subject} cannot be judged: the group is insufficient ({why}).",
                    **_bound_fields(rule.bound),
                )
                continue
            judged += 1
            yield _outcome(rule.id, subject, rule.metric, g.metrics.get(rule.metric), rule.bound,
                           policy, level, family=n_family)
        if judged == 0:
            yield RuleOutcome(
                id=f"{rule.id} [{attribute}]", status=INCONCLUSIVE,
                message=f"{attribute} has no sufficient group to judge {rule.metric} on.",
                **_bound_fields(rule.bound),
            )


def _summary_outcomes(rule: SummaryRule, result: AuditResult, policy: Policy) -> Iterable[RuleOutcome]:
    level = result.run.confidence_level
    for attribute in _targets(rule, rule.attributes, result.audited_attributes):
        quantity = f"{rule.statistic} of {rule.metric}"
        try:
            s = result.summary(attribute, rule.metric)
        except KeyError:
            yield RuleOutcome(
                id=f"{rule.id} [{attribute}]", status=INCONCLUSIVE,
                message=f"the audit has no summary of {rule.metric} for {attribute}.",
                **_bound_fields(rule.bound),
            )
            continue
        if rule.statistic == "sd":
            est = Estimate(s.sd, s.sd_ci, None if s.sd is not None else "fewer than two sufficient groups")
        else:
            est = Estimate(
                s.ser, s.ser_ci,
                None if s.ser is not None else "fewer than two sufficient groups, or a group with no error",
            )
        unbounded = None
        if result.run.n_bootstrap > 0:
            unbounded = (
                "its interval is unbounded: some group's error may be 0 within its simultaneous "
                "interval, so the ratio has no upper limit" if rule.statistic == "ser" else
                "no interval could be formed (fewer than two groups with an interval)"
            )
        yield _outcome(rule.id, attribute, quantity, est, rule.bound, policy, level, no_ci=unbounded)


def _group_size_outcomes(rule: GroupSizeRule, result: AuditResult) -> Iterable[RuleOutcome]:
    # Counts are exact: these rules pass or fail, never inconclusive. Messages name groups but
    # not their counts, so small-cell suppression in the reports still holds.
    for attribute in _targets(rule, rule.attributes, result.audited_attributes):
        groups = result.groups_of(attribute)
        small = [g.group for g in groups if g.n < rule.min_size]
        insufficient = [] if rule.allow_insufficient else [g.group for g in groups if g.status == "insufficient"]
        problems = []
        if small:
            problems.append(f"fewer than {rule.min_size} rows in: {', '.join(small)}")
        if insufficient:
            problems.append(f"insufficient (too few rows or events): {', '.join(insufficient)}")
        if problems:
            status, message = FAIL, f"{attribute}: " + "; ".join(problems) + "."
        else:
            checks = f"at least {rule.min_size} rows" if rule.min_size else ""
            if not rule.allow_insufficient:
                checks = f"{checks} and none insufficient" if checks else "none insufficient"
            status, message = PASS, f"{attribute}: all {len(groups)} groups have {checks}."
        yield RuleOutcome(
            id=f"{rule.id} [{attribute}]", status=status, message=message,
            bound=float(rule.min_size) if rule.min_size else None,
            bound_min=float(rule.min_size) if rule.min_size else None,
        )


def combine(statuses: Iterable[str]) -> str:
    """Overall status: any fail -> fail; else any inconclusive -> inconclusive; else pass."""
    seen = set(statuses)
    if FAIL in seen:
        return FAIL
    if INCONCLUSIVE in seen:
        return INCONCLUSIVE
    return PASS


def evaluate(result: AuditResult, policy: Policy) -> GateOutcome:
    """Judge an audit result against a policy.

    Parameters
    ----------
    result
        The audit result (its estimates and confidence intervals are used as they are).
    policy
        A validated policy from :func:`load_policy`.

    Returns
    -------
    GateOutcome
        One :class:`RuleOutcome` per rule and judged attribute (and group, for per-group metric
        rules), in policy order, and the combined status.

    Raises
    ------
    ConfigError
        A rule names an attribute the audit does not contain, or the policy has only
        ``[[change]]`` rules (those are judged by ``fairaudit compare``; an audit ignores them).
    """
    if policy.n_rules == 0:
        raise ConfigError(
            f"{policy.source or 'policy'}: has only [[change]] rules, which judge `fairaudit "
            "compare`; an audit needs [[criterion]], [[group_metric]], [[summary]] or [groups]"
        )
    outcomes: list[RuleOutcome] = []
    if policy.group_size is not None:
        outcomes.extend(_group_size_outcomes(policy.group_size, result))
    for rule in policy.criteria:
        outcomes.extend(_criterion_outcomes(rule, result, policy))
    for rule in policy.group_metrics:
        outcomes.extend(_group_metric_outcomes(rule, result, policy))
    for rule in policy.summaries:
        outcomes.extend(_summary_outcomes(rule, result, policy))
    return GateOutcome(
        status=combine(o.status for o in outcomes),
        rules=tuple(outcomes),
        policy=policy.name,
        inconclusive_is_warning=policy.inconclusive_is_warning,
    )
