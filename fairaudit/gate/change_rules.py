"""The ``[[change]]`` tables of a policy: bounds on the change (candidate - baseline) of a metric
or criterion, read and validated with the policy (decided in :mod:`fairaudit.gate.change`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fairaudit.errors import ConfigError
from fairaudit.gate.toml_reader import (
    ALL,
    Bound,
    PolicyReader,
    attributes_field,
    number_field,
    rule_id_field,
    show_value,
    table_fields,
)

CHANGE_METRICS = ("tpr", "fpr", "ppv", "npv", "accuracy", "balanced_accuracy", "selection_rate",
                  "auc", "brier", "ece")
CHANGE_CRITERIA = ("demographic_parity_difference", "equal_opportunity_difference",
                   "equalized_odds_difference", "auc_difference")
PRESETS = ("do_no_harm",)
_KEYS = ("id", "metric", "criterion", "preset", "per_group", "attributes", "max_drop",
         "max_increase", "margin")
METRIC_LABELS = {"tpr": "sensitivity (TPR)", "fpr": "false-positive rate (FPR)"}


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
