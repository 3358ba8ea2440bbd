"""Change rules: how far a candidate may move from the deployed model, judged on paired intervals.

The ``[[change]]`` tables of a policy file (``docs/report-and-gate.md``)::

    [[change]]                       # no group's sensitivity may drop by more than 0.02
    metric = "tpr"
    per_group = true                 # default; false judges the overall change only
    max_drop = 0.02
    attributes = "*"                 # default: every attribute and intersection

    [[change]]                       # the equalised-odds gap may not grow
    criterion = "equalized_odds_difference"
    max_increase = 0.0

    [[change]]                       # "first, do no harm": no group may lose sensitivity
    preset = "do_no_harm"            # (TPR) or specificity (FPR rises) beyond the margin
    margin = 0.02

A change (candidate minus baseline) is decided as the audit gate decides a value: **fail** when
its interval lies wholly beyond the bound (below ``-max_drop``, above ``max_increase``),
**pass** when wholly within, **inconclusive** when it straddles. Per-group rules use each
group's *simultaneous* interval over the sufficient groups of the attribute (family-wise, so
many groups do not make a chance failure likely); an insufficient group is inconclusive (or as
the policy's ``insufficient`` setting says), never a pass. ``fairaudit audit`` ignores
``[[change]]`` tables; ``fairaudit compare`` judges only them.
"""

from __future__ import annotations

from collections.abc import Iterable

from fairaudit.errors import ConfigError
from fairaudit.exit_codes import FAIL, INCONCLUSIVE
from fairaudit.gate.change_rules import (  # noqa: F401  (re-exported: ChangeRule is read with the policy)
    CHANGE_CRITERIA,
    CHANGE_METRICS,
    METRIC_LABELS,
    PRESETS,
    ChangeRule,
    parse_change_rules,
)
from fairaudit.gate.evaluate import BoundFields, bound_fields, combine, decide
from fairaudit.gate.policy import ALL, Policy
from fairaudit.result import GateOutcome, RuleOutcome, RuleStatus
from fairaudit.result_paired import PairedResult

# -- evaluation ------------------------------------------------------------------------------


def _num(x: float) -> str:
    return f"{x:+.3f}"


def _targets(rule: ChangeRule, available: tuple[str, ...]) -> tuple[str, ...]:
    if rule.attributes == (ALL,):
        return available
    missing = [a for a in rule.attributes if a not in available]
    if missing:
        raise ConfigError(
            f"{rule.location}: policy rule '{rule.id}' names attribute {missing[0]!r}, which this "
            f"comparison does not contain; compared: {', '.join(available) or 'none'}"
        )
    return rule.attributes


def _bounds(rule: ChangeRule) -> BoundFields:
    return bound_fields(rule.bound)


def _judged(rule: ChangeRule, subject: str, quantity: str, change: float | None,
            ci: tuple[float, float] | None, decision_ci: tuple[float, float] | None,
            policy: Policy, level: float, family: int | None = None, note: str = "",
            replicates: bool = True) -> RuleOutcome:
    no_ci = None
    if ci is None and change is not None:
        no_ci = ("the comparison ran without bootstrap replicates, so the change has no interval; "
                 "rerun with replicates or set without_ci = \"point\" in the policy" if not replicates
                 else "the change has no interval (it is undefined in too many replicates)")
    status, why = decide(change, decision_ci, rule.bound, without_ci=policy.without_ci, no_ci=no_ci)
    text = "undefined" if change is None else _num(change)
    if ci is not None:
        text += f" ({level:.0%} CI {_num(ci[0])} to {_num(ci[1])})"
    if family is not None and decision_ci is not None:
        text += (f"; simultaneous {level:.0%} interval across the {family} groups "
                 f"{_num(decision_ci[0])} to {_num(decision_ci[1])}")
        why = why.replace("the confidence interval", "the simultaneous interval")
    message = (f"change in {quantity} for {subject} is {text}; it {rule.describe_bound()}: "
               f"{why}{note}.")
    return RuleOutcome(id=f"{rule.id} [{subject}]", status=status, message=message, value=change,
                       ci=ci, simultaneous_ci=decision_ci if family is not None else None,
                       **_bounds(rule))


def _insufficient(rule: ChangeRule, subject: str, quantity: str, detail: str,
                  policy: Policy) -> RuleOutcome:
    status: RuleStatus = FAIL if policy.insufficient == "fail" else INCONCLUSIVE
    tail = " (the policy fails insufficient evidence)." if status == FAIL else "; not evidence of no harm."
    return RuleOutcome(id=f"{rule.id} [{subject}]", status=status,
                       message=f"change in {quantity} for {subject} cannot be judged: {detail}{tail}",
                       **_bounds(rule))


def _metric_outcomes(rule: ChangeRule, paired: PairedResult, condition: str,
                     policy: Policy) -> Iterable[RuleOutcome]:
    metric = rule.metric
    if metric is None:  # a criterion rule (see _criterion_outcomes)
        return
    level = paired.confidence_level
    quantity = METRIC_LABELS.get(rule.metric or "", rule.metric or "")
    if not rule.per_group:
        c = paired.change(condition, "overall", "overall", metric)
        yield _judged(rule, "overall", quantity, c.change, c.ci, c.ci, policy, level,
                      replicates=paired.n_bootstrap > 0)
        return
    for attribute in _targets(rule, paired.attributes[1:]):
        rows = [paired.change(condition, attribute, g, metric) for g in paired.groups[attribute]]
        family = sum(1 for c in rows if c.sufficient)
        for c in rows:
            subject = f"{attribute} = {c.group}"
            if not c.sufficient:
                if policy.insufficient != "sufficient_groups_only":
                    yield _insufficient(rule, subject, quantity, f"the group is insufficient ({c.reason})", policy)
                continue
            yield _judged(rule, subject, quantity, c.change, c.ci, c.simultaneous_ci, policy, level,
                          family=family, replicates=paired.n_bootstrap > 0)
        if family == 0 and policy.insufficient == "sufficient_groups_only":
            yield RuleOutcome(id=f"{rule.id} [{attribute}]", status=INCONCLUSIVE,
                              message=f"{attribute} has no sufficient group to judge {quantity} on.",
                              **_bounds(rule))


def _criterion_outcomes(rule: ChangeRule, paired: PairedResult, condition: str,
                        policy: Policy) -> Iterable[RuleOutcome]:
    criterion = rule.criterion
    if criterion is None:  # a metric rule (see _metric_outcomes)
        return
    level = paired.confidence_level
    for attribute in _targets(rule, paired.attributes[1:]):
        try:
            c = paired.criterion_change(condition, attribute, criterion)
        except KeyError:
            yield RuleOutcome(id=f"{rule.id} [{attribute}]", status=INCONCLUSIVE,
                              message=f"the comparison computed no {criterion} for {attribute}.",
                              **_bounds(rule))
            continue
        note = ""
        if not c.complete:
            detail = f"insufficient groups: {', '.join(c.excluded_groups)}"
            if policy.insufficient != "sufficient_groups_only" or c.change is None:
                yield _insufficient(rule, attribute, criterion, detail, policy)
                continue
            note = f" (judged over sufficient groups only; {detail})"
        yield _judged(rule, attribute, criterion, c.change, c.ci, c.ci, policy, level, note=note,
                      replicates=paired.n_bootstrap > 0)


def evaluate_changes(paired: PairedResult, policy: Policy, condition: str) -> GateOutcome:
    """Judge the changes of ``condition`` against the policy's ``[[change]]`` rules.

    Raises
    ------
    ConfigError
        The policy has no ``[[change]]`` rule, or a rule names an attribute the comparison does
        not contain.
    """
    if not policy.changes:
        raise ConfigError(
            f"{policy.source or 'policy'}: has no [[change]] rules; `fairaudit compare` judges "
            "changes (see docs/report-and-gate.md); audit rules apply to `fairaudit audit`"
        )
    outcomes: list[RuleOutcome] = []
    for rule in policy.changes:
        judge = _metric_outcomes if rule.metric is not None else _criterion_outcomes
        outcomes.extend(judge(rule, paired, condition, policy))
    return GateOutcome(status=combine(o.status for o in outcomes), rules=tuple(outcomes),
                       policy=policy.name, inconclusive_is_warning=policy.inconclusive_is_warning)
