"""The policy file: TOML rules that turn an audit into a pass / fail / inconclusive decision.

A policy is read once, validated completely, and becomes a frozen :class:`Policy`. Every
problem is a :class:`~fairaudit.errors.ConfigError` on one line that names the file, the line,
the table and key, what is allowed and what was found. The format is documented in
``docs/report-and-gate.md``; ``sample_data/policy.toml`` is a commented example.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, TypeAlias, TypeVar, get_args

from fairaudit.errors import ConfigError
from fairaudit.gate.change_rules import parse_change_rules
from fairaudit.gate.toml_reader import ALL, Bound  # noqa: F401  (re-exported: the policy's public API)
from fairaudit.gate.toml_reader import (
    Locator as _Locator,
)
from fairaudit.gate.toml_reader import (
    PolicyReader as _Reader,
)
from fairaudit.gate.toml_reader import (
    array_field as _array,
)
from fairaudit.gate.toml_reader import (
    attributes_field as _attributes,
)
from fairaudit.gate.toml_reader import (
    bound_field as _bound,
)
from fairaudit.gate.toml_reader import (
    choice_field as _choice,
)
from fairaudit.gate.toml_reader import (
    rule_id_field as _rule_id,
)
from fairaudit.gate.toml_reader import (
    show_value as _show,
)
from fairaudit.gate.toml_reader import (
    table_fields as _table_fields,
)
from fairaudit.result import CRITERIA_NAMES, METRIC_NAMES

InconclusiveMode: TypeAlias = Literal["fail", "warn"]
"""``[policy] inconclusive``: an inconclusive gate exits 3 (``fail``) or is reported only (``warn``)."""
InsufficientMode: TypeAlias = Literal["inconclusive", "fail", "sufficient_groups_only"]
"""``[policy] insufficient``: how a rule treats an insufficient group or criterion."""
WithoutCiMode: TypeAlias = Literal["inconclusive", "point"]
"""``[policy] without_ci``: a quantity without an interval is inconclusive, or judged on its point."""
SummaryStatistic: TypeAlias = Literal["sd", "ser"]
"""``[[summary]] statistic``: standard deviation across groups or skewed error ratio."""

INCONCLUSIVE_CHOICES: tuple[InconclusiveMode, ...] = get_args(InconclusiveMode)
INSUFFICIENT_CHOICES: tuple[InsufficientMode, ...] = get_args(InsufficientMode)
WITHOUT_CI_CHOICES: tuple[WithoutCiMode, ...] = get_args(WithoutCiMode)
SUMMARY_STATISTICS: tuple[SummaryStatistic, ...] = get_args(SummaryStatistic)

_SETTINGS_KEYS = ("name", "inconclusive", "insufficient", "without_ci")
_CRITERION_KEYS = ("id", "name", "attributes", "max", "min")
_METRIC_KEYS = ("id", "metric", "attributes", "max", "min")
_SUMMARY_KEYS = ("id", "metric", "statistic", "attributes", "max", "min")
_GROUPS_KEYS = ("min_size", "allow_insufficient", "attributes")
_TOP_KEYS = ("policy", "criterion", "group_metric", "summary", "groups", "change", "stress")
# ``[[stress]]`` tables are ``fairaudit stress``'s rules (fairaudit.gate.stress); the audit and
# compare gates ignore them, so one policy file can serve every command.


@dataclass(frozen=True)
class CriterionRule:
    """A fairness criterion (e.g. ``equalized_odds_difference``) bounded per attribute."""

    id: str
    name: str
    attributes: tuple[str, ...]  # ("*",) for every attribute and intersection
    bound: Bound
    location: str | None = field(default=None, compare=False)
    """Where the rule is written (``"policy.toml:12"``), for messages."""


@dataclass(frozen=True)
class GroupMetricRule:
    """A floor or ceiling that every group's metric must meet (e.g. every group's auc >= 0.8)."""

    id: str
    metric: str
    attributes: tuple[str, ...]
    bound: Bound
    location: str | None = field(default=None, compare=False)
    """Where the rule is written (``"policy.toml:12"``), for messages."""


@dataclass(frozen=True)
class SummaryRule:
    """A bound on a spread summary of a metric across groups (``sd`` or ``ser``)."""

    id: str
    metric: str
    statistic: SummaryStatistic
    attributes: tuple[str, ...]
    bound: Bound
    location: str | None = field(default=None, compare=False)
    """Where the rule is written (``"policy.toml:12"``), for messages."""


@dataclass(frozen=True)
class GroupSizeRule:
    """Every group has at least ``min_size`` rows; optionally no group may be insufficient."""

    id: str
    min_size: int
    allow_insufficient: bool
    attributes: tuple[str, ...]
    location: str | None = field(default=None, compare=False)
    """Where the rule is written (``"policy.toml:12"``), for messages."""


@dataclass(frozen=True)
class Policy:
    """A validated policy. ``source`` is the file it came from (for messages and the report)."""

    name: str
    criteria: tuple[CriterionRule, ...] = ()
    group_metrics: tuple[GroupMetricRule, ...] = ()
    summaries: tuple[SummaryRule, ...] = ()
    group_size: GroupSizeRule | None = None
    inconclusive: InconclusiveMode = "fail"  # "fail": exit 3 | "warn": reported, exit 0
    insufficient: InsufficientMode = "inconclusive"
    without_ci: WithoutCiMode = "inconclusive"
    source: str | None = None
    changes: tuple[Any, ...] = ()
    """``[[change]]`` rules (:class:`fairaudit.gate.change.ChangeRule`): judged by
    ``fairaudit compare`` only; an audit ignores them."""

    @property
    def inconclusive_is_warning(self) -> bool:
        return self.inconclusive == "warn"

    @property
    def n_rules(self) -> int:
        return (
            len(self.criteria)
            + len(self.group_metrics)
            + len(self.summaries)
            + (self.group_size is not None)
        )


Rule: TypeAlias = CriterionRule | GroupMetricRule | SummaryRule | GroupSizeRule
"""Any rule of a policy."""

_R = TypeVar("_R", CriterionRule, GroupMetricRule, SummaryRule)
_C = TypeVar("_C", bound=str)


def _group_size_rule(reader: _Reader, raw: Any) -> GroupSizeRule:
    """The ``[groups]`` table: a minimum group size and/or no insufficient group."""
    data = _table_fields(reader, "groups", 0, raw, _GROUPS_KEYS, False)
    min_size = data.get("min_size", 0)
    if isinstance(min_size, bool) or not isinstance(min_size, int) or min_size < 0:
        raise reader.fail("groups", 0, "min_size", f"must be a non-negative integer, got {_show(min_size)}", False)
    allow = data.get("allow_insufficient", True)
    if not isinstance(allow, bool):
        raise reader.fail("groups", 0, "allow_insufficient", f"must be true or false, got {_show(allow)}", False)
    if min_size == 0 and allow:
        raise reader.fail(
            "groups", 0, None, "checks nothing; set min_size > 0 and/or allow_insufficient = false", False
        )
    attrs = _attributes(reader, "groups", 0, data, False)
    if min_size and not allow:
        rid = f"every group n >= {min_size}, none insufficient"
    elif min_size:
        rid = f"every group n >= {min_size}"
    else:
        rid = "no insufficient group"
    return GroupSizeRule(
        id=rid, min_size=min_size, allow_insufficient=allow, attributes=attrs,
        location=reader.where("groups", 0),
    )


def _unique_ids(groups: tuple[Sequence[Rule], ...], given: set[str]) -> list[list[Rule]]:
    """Rule ids are unique: they name the JUnit test cases and the gate's lines.

    Default ids that repeat get the rules' attributes appended (two rules with the same bound
    on different attributes); an id that still repeats, or one given twice with ``id``, is a
    ConfigError naming both places.
    """
    counts: dict[str, int] = {}
    for rule in (r for group in groups for r in group):
        counts[rule.id] = counts.get(rule.id, 0) + 1
    seen: dict[str, Rule] = {}
    out: list[list[Rule]] = []
    for group in groups:
        fixed: list[Rule] = []
        for rule in group:
            if counts[rule.id] > 1 and rule.id not in given and rule.attributes != (ALL,):
                rule = replace(rule, id=f"{rule.id} ({', '.join(rule.attributes)})")
            if rule.id in seen:
                raise ConfigError(
                    f"{rule.location}: policy rule id {rule.id!r} is used twice (first at "
                    f"{seen[rule.id].location}); give every rule its own 'id' or remove the repeat"
                )
            seen[rule.id] = rule
            fixed.append(rule)
        out.append(fixed)
    return out


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    """Parse and validate policy TOML text (see :func:`load_policy`)."""
    text = text.removeprefix("\ufeff")  # a byte-order mark, as some Windows editors write
    locator = _Locator(text)
    reader = _Reader(source, locator)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(
            f"{source}: policy nests arrays or tables too deeply to be a policy; rules are "
            "[[criterion]], [[group_metric]] and [[summary]] tables of plain values"
        ) from None

    for key in doc:
        if key not in _TOP_KEYS:
            line = locator.line(key, 0, None) or locator.line("", 0, key)
            where = f"{source}:{line}" if line else source
            raise ConfigError(
                f"{where}: policy has unknown table or key '{key}'; allowed are "
                f"[policy], [[criterion]], [[group_metric]], [[summary]], [groups], [[change]], "
                "[[stress]]"
            )

    settings = _table_fields(reader, "policy", 0, doc.get("policy", {}), _SETTINGS_KEYS, False)
    name = settings.get("name", Path(source).stem)
    if not isinstance(name, str):
        raise reader.fail("policy", 0, "name", f"must be a string, got {_show(name)}", False)
    inconclusive = _choice(reader, "policy", 0, settings, "inconclusive", INCONCLUSIVE_CHOICES, "fail", False)
    insufficient = _choice(reader, "policy", 0, settings, "insufficient", INSUFFICIENT_CHOICES, "inconclusive", False)
    without_ci = _choice(reader, "policy", 0, settings, "without_ci", WITHOUT_CI_CHOICES, "inconclusive", False)

    given_ids: set[str] = set()

    def rules(
        table: str, keys: tuple[str, ...], field: str, allowed: tuple[str, ...],
        make: Callable[[int, Mapping[str, Any], str, Bound, tuple[str, ...]], _R],
    ) -> list[_R]:
        """Parse every ``[[table]]``: its ``field`` must be one of ``allowed``; ``make`` builds
        the rule from (index, fields, value of ``field``, bound, attributes)."""
        out: list[_R] = []
        for i, raw in enumerate(_array(reader, doc, table)):
            data = _table_fields(reader, table, i, raw, keys, True)
            value = data.get(field)
            if value not in allowed:
                raise reader.fail(table, i, field, f"must be one of {', '.join(allowed)}; got {_show(value)}", True)
            rule = make(i, data, value, _bound(reader, table, i, data, True),
                        _attributes(reader, table, i, data, True))
            out.append(replace(rule, location=reader.where(table, i)))
            if "id" in data:
                given_ids.add(rule.id)
        return out

    def criterion_rule(
        i: int, data: Mapping[str, Any], crit: str, bound: Bound, attrs: tuple[str, ...],
    ) -> CriterionRule:
        rid = _rule_id(reader, "criterion", i, data, f"{crit} {bound.describe()}")
        return CriterionRule(id=rid, name=crit, attributes=attrs, bound=bound)

    def group_metric_rule(
        i: int, data: Mapping[str, Any], metric: str, bound: Bound, attrs: tuple[str, ...],
    ) -> GroupMetricRule:
        rid = _rule_id(reader, "group_metric", i, data, f"every group {metric} {bound.describe()}")
        return GroupMetricRule(id=rid, metric=metric, attributes=attrs, bound=bound)

    def summary_rule(
        i: int, data: Mapping[str, Any], metric: str, bound: Bound, attrs: tuple[str, ...],
    ) -> SummaryRule:
        statistic = data.get("statistic")
        if statistic not in SUMMARY_STATISTICS:
            raise reader.fail(
                "summary", i, "statistic",
                f"must be 'sd' (standard deviation across groups) or 'ser' (skewed error ratio); got {_show(statistic)}",
                True,
            )
        rid = _rule_id(reader, "summary", i, data, f"{statistic} of {metric} {bound.describe()}")
        return SummaryRule(id=rid, metric=metric, statistic=statistic, attributes=attrs, bound=bound)

    criteria = rules("criterion", _CRITERION_KEYS, "name", CRITERIA_NAMES, criterion_rule)
    group_metrics = rules("group_metric", _METRIC_KEYS, "metric", METRIC_NAMES, group_metric_rule)
    summaries = rules("summary", _SUMMARY_KEYS, "metric", METRIC_NAMES, summary_rule)

    group_size = _group_size_rule(reader, doc["groups"]) if "groups" in doc else None
    unique = _unique_ids(
        (criteria, group_metrics, summaries, [group_size] if group_size else []),
        given_ids,
    )

    changes = parse_change_rules(reader, _array(reader, doc, "change"),
                                 {r.id for r in criteria} | {r.id for r in group_metrics}
                                 | {r.id for r in summaries})
    policy = Policy(
        name=name,
        criteria=tuple(r for r in unique[0] if isinstance(r, CriterionRule)),
        group_metrics=tuple(r for r in unique[1] if isinstance(r, GroupMetricRule)),
        summaries=tuple(r for r in unique[2] if isinstance(r, SummaryRule)),
        group_size=group_size,
        inconclusive=inconclusive,
        insufficient=insufficient,
        without_ci=without_ci,
        source=source,
        changes=changes,
    )
    if policy.n_rules == 0 and not changes:
        raise ConfigError(
            f"{source}: policy has no rules; add at least one [[criterion]], [[group_metric]], "
            f"[[summary]], [groups] or (for `fairaudit compare`) [[change]] table"
        )
    return policy


def load_policy(path: str | Path) -> Policy:
    """Read and validate a policy file.

    Parameters
    ----------
    path
        A TOML file (format in ``docs/report-and-gate.md``).

    Returns
    -------
    Policy

    Raises
    ------
    ConfigError
        The file is missing, unreadable, not TOML, or a table/key/value is not allowed; the
        one-line message names the file, the line, the key and what is allowed.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"policy file {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot read policy file {path}: {exc.strerror}") from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ConfigError(f"policy file {path} is not UTF-8 text: it starts with a UTF-16 "
                          "byte-order mark; save it as UTF-8")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"policy file {path} is not UTF-8 text (TOML expected)") from None
    return parse_policy(text, source=str(path))
