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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fairaudit.errors import ConfigError
from fairaudit.exit_codes import FAIL, INCONCLUSIVE
from fairaudit.gate.evaluate import combine, decide
from fairaudit.gate.policy import (
    ALL,
    Bound,
    Policy,
    PolicyReader,
    attributes_field,
    number_field,
    rule_id_field,
    show_value,
    table_fields,
)
from fairaudit.result import GateOutcome, RuleOutcome
from fairaudit.result_paired import PairedResult

CHANGE_METRICS = ("tpr", "fpr", "ppv", "npv", "accuracy", "balanced_accuracy", "selection_rate",
                  "auc", "brier", "ece")
CHANGE_CRITERIA = ("demographic_parity_difference", "equal_opportunity_difference",
                   "equalized_odds_difference", "auc_difference")
PRESETS = ("do_no_harm",)
_KEYS = ("id", "metric", "criterion", "preset", "per_group", "attributes", "max_drop",
         "max_increase", "margin")
METRIC_NAMES = {"tpr": "sensitivity (TPR)", "fpr": "false-positive rate (FPR)"}


@dataclass(frozen=True)
class ChangeRule:
    """A bound on the change (candidate - baseline) of a metric or a criterion.

    Exactly one of ``metric`` and ``criterion`` is set. ``max_drop`` bounds the change from
    below (change >= -max_drop), ``max_increase`` from above (change <= max_increase).
    """

    id: str
    metric: str | None
    criterion: str | None
    per_group: bool
    attributes: tuple[str, ...]
    max_drop: float | None
    max_increase: float | None
    preset: str | None = None
    location: str | None = field(default=None, compare=False)

    @property
    def bound(self) -> Bound:
        return Bound(min=None if self.max_drop is None else -self.max_drop, max=self.max_increase)

    def describe_bound(self) -> str:
        parts = []
        if self.max_drop is not None:
            parts.append(f"may drop by at most {self.max_drop:g}")
        if self.max_increase is not None:
            parts.append(f"may rise by at most {self.max_increase:g}")
        return " and ".join(parts)


def _limit(reader: PolicyReader, i: int, data: Mapping[str, Any], key: str) -> float | None:
    value = number_field(reader, "change", i, data, key, True)
    if value is not None and value < 0:
        raise reader.fail("change", i, key, f"must be 0 or more (a size of change), got {value:g}", True)
    return value


def _preset_rules(reader: PolicyReader, i: int, data: Mapping[str, Any]) -> list[ChangeRule]:
    preset = data["preset"]
    if preset not in PRESETS:
        raise reader.fail("change", i, "preset", f"must be one of {', '.join(PRESETS)}; got {show_value(preset)}", True)
    extra = [k for k in ("metric", "criterion", "max_drop", "max_increase", "per_group") if k in data]
    if extra:
        raise reader.fail("change", i, extra[0], "does not go with 'preset' (the preset sets it)", True)
    margin = _limit(reader, i, data, "margin")
    if margin is None:
        raise reader.fail("change", i, None, "preset 'do_no_harm' needs 'margin' (e.g. 0.02)", True)
    attrs = attributes_field(reader, "change", i, data, True)
    base = rule_id_field(reader, "change", i, data, f"do_no_harm (margin {margin:g})")
    where = reader.where("change", i)
    return [
        ChangeRule(id=f"{base}: sensitivity", metric="tpr", criterion=None, per_group=True,
                   attributes=attrs, max_drop=margin, max_increase=None, preset=preset, location=where),
        ChangeRule(id=f"{base}: specificity", metric="fpr", criterion=None, per_group=True,
                   attributes=attrs, max_drop=None, max_increase=margin, preset=preset, location=where),
    ]


def _one_rule(reader: PolicyReader, i: int, data: Mapping[str, Any]) -> ChangeRule:
    metric, criterion = data.get("metric"), data.get("criterion")
    if (metric is None) == (criterion is None):
        raise reader.fail("change", i, None, "needs exactly one of 'metric', 'criterion' or 'preset'", True)
    if metric is not None and metric not in CHANGE_METRICS:
        raise reader.fail("change", i, "metric", f"must be one of {', '.join(CHANGE_METRICS)}; got {show_value(metric)}", True)
    if criterion is not None and criterion not in CHANGE_CRITERIA:
        raise reader.fail("change", i, "criterion",
                          f"must be one of {', '.join(CHANGE_CRITERIA)}; got {show_value(criterion)}", True)
    if "margin" in data:
        raise reader.fail("change", i, "margin", "goes with 'preset'; use max_drop or max_increase", True)
    per_group = data.get("per_group", metric is not None)
    if not isinstance(per_group, bool):
        raise reader.fail("change", i, "per_group", f"must be true or false, got {show_value(per_group)}", True)
    if criterion is not None and "per_group" in data:
        raise reader.fail("change", i, "per_group", "applies to metrics; a criterion is per attribute", True)
    drop, rise = _limit(reader, i, data, "max_drop"), _limit(reader, i, data, "max_increase")
    if drop is None and rise is None:
        raise reader.fail("change", i, None, "needs 'max_drop' and/or 'max_increase' (the bound to check)", True)
    what = metric or criterion
    scope = "every group's " if per_group else ""
    rule = ChangeRule(id="", metric=metric, criterion=criterion, per_group=per_group,
                      attributes=attributes_field(reader, "change", i, data, True),
                      max_drop=drop, max_increase=rise, location=reader.where("change", i))
    rid = rule_id_field(reader, "change", i, data, f"{scope}{what} {rule.describe_bound()}")
    return ChangeRule(**{**rule.__dict__, "id": rid})


def parse_change_rules(reader: PolicyReader, tables: list[Any], taken: set[str]) -> tuple[ChangeRule, ...]:
    """Validate the ``[[change]]`` tables of a policy (messages name file, line and key).

    ``taken`` holds the ids of the policy's other rules: ids are unique across the file.
    """
    out: list[ChangeRule] = []
    for i, raw in enumerate(tables):
        data = table_fields(reader, "change", i, raw, _KEYS, True)
        rules = _preset_rules(reader, i, data) if "preset" in data else [_one_rule(reader, i, data)]
        for rule in rules:
            rid = rule.id
            if rule.attributes != (ALL,) and "id" not in data and any(r.id == rid for r in out):
                rid = f"{rid} ({', '.join(rule.attributes)})"
            if rid in taken:
                raise ConfigError(f"{rule.location}: policy rule id {rid!r} is used twice; give "
                                  "every rule its own 'id' or remove the repeat")
            taken.add(rid)
            out.append(ChangeRule(**{**rule.__dict__, "id": rid}))
    return tuple(out)


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


def _bounds(rule: ChangeRule) -> dict[str, float | None]:
    b = rule.bound
    return {"bound": b.max if b.max is not None else b.min, "bound_min": b.min, "bound_max": b.max}


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
    status = FAIL if policy.insufficient == "fail" else INCONCLUSIVE
    tail = " (the policy fails insufficient evidence)." if status == FAIL else "; not evidence of no harm."
    return RuleOutcome(id=f"{rule.id} [{subject}]", status=status,
                       message=f"change in {quantity} for {subject} cannot be judged: {detail}{tail}",
                       **_bounds(rule))


def _metric_outcomes(rule: ChangeRule, paired: PairedResult, condition: str,
                     policy: Policy) -> Iterable[RuleOutcome]:
    level = paired.confidence_level
    quantity = METRIC_NAMES.get(rule.metric or "", rule.metric or "")
    if not rule.per_group:
        c = paired.change(condition, "overall", "overall", rule.metric)
        yield _judged(rule, "overall", quantity, c.change, c.ci, c.ci, policy, level,
                      replicates=paired.n_bootstrap > 0)
        return
    for attribute in _targets(rule, paired.attributes[1:]):
        rows = [paired.change(condition, attribute, g, rule.metric) for g in paired.groups[attribute]]
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
    level = paired.confidence_level
    for attribute in _targets(rule, paired.attributes[1:]):
        try:
            c = paired.criterion_change(condition, attribute, rule.criterion)
        except KeyError:
            yield RuleOutcome(id=f"{rule.id} [{attribute}]", status=INCONCLUSIVE,
                              message=f"the comparison computed no {rule.criterion} for {attribute}.",
                              **_bounds(rule))
            continue
        note = ""
        if not c.complete:
            detail = f"insufficient groups: {', '.join(c.excluded_groups)}"
            if policy.insufficient != "sufficient_groups_only" or c.change is None:
                yield _insufficient(rule, attribute, rule.criterion, detail, policy)
                continue
            note = f" (judged over sufficient groups only; {detail})"
        yield _judged(rule, attribute, rule.criterion, c.change, c.ci, c.ci, policy, level, note=note,
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
