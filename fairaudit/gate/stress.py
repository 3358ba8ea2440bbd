"""Stress rules: how much a group may lose under a stress condition, judged on intervals.

The ``[[stress]]`` tables of a policy file (``docs/stress.md``)::

    [[stress]]                        # no group's AUC may drop by more than 0.05
    corruption = "gaussian_noise"     # under Gaussian noise at severity 3
    severity = 3                      # (omitted: every severity that was run)
    metric = "auc"                    # auc, tpr, fpr or balanced_accuracy
    per_group = true                  # default; false judges the overall change only
    max_drop = 0.05

    [[stress]]                        # removing the note may not raise any group's FPR by 0.03
    removed = ["note"]
    impute = "fallback"               # default "diffusion"
    metric = "fpr"
    max_increase = 0.03

    [[stress]]                        # the headline index of blur stays below 0.10
    corruption = "gaussian_blur"
    max_index = 0.10

A change (stressed minus reference) is decided as the audit gate decides a value: **fail** when
its interval lies wholly beyond the bound, **pass** when wholly within, **inconclusive**
otherwise. Per-group rules use each group's simultaneous interval over the sufficient groups of
the attribute; an insufficient group is inconclusive. A rule whose condition was not run is
inconclusive (it cannot pass unseen). ``[policy] inconclusive = "warn"`` applies, so exit codes
are the audit's: 0 pass, 1 fail, 3 inconclusive.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fairaudit.errors import ConfigError
from fairaudit.exit_codes import INCONCLUSIVE, NOT_RUN
from fairaudit.gate.evaluate import combine, decide
from fairaudit.gate.policy import Bound
from fairaudit.result import GateOutcome, RuleOutcome
from fairaudit.stress_result import STRESS_CORRUPTIONS as CORRUPTION_NAMES
from fairaudit.stress_result import STRESS_MODALITIES as MODALITIES

STRESS_RULE_METRICS = ("auc", "tpr", "fpr", "balanced_accuracy")
_KEYS = ("id", "corruption", "severity", "removed", "impute", "realistic", "metric", "per_group",
         "attributes", "max_drop", "max_increase", "max_index")
_AUDIT_TABLES = ("criterion", "group_metric", "summary", "groups", "change")


@dataclass(frozen=True)
class StressRule:
    """One ``[[stress]]`` table, validated."""

    id: str
    metric: str | None
    max_index: float | None
    corruption: str | None = None
    severity: int | None = None
    removed: tuple[str, ...] = ()
    impute: str = "diffusion"
    realistic: str | None = None
    per_group: bool = True
    attributes: tuple[str, ...] = ()
    max_drop: float | None = None
    max_increase: float | None = None

    @property
    def bound(self) -> Bound:
        return Bound(min=None if self.max_drop is None else -self.max_drop, max=self.max_increase)


@dataclass(frozen=True)
class StressPolicy:
    """The ``[[stress]]`` rules of a policy file and its ``inconclusive`` setting."""

    name: str
    rules: tuple[StressRule, ...]
    inconclusive: str = "fail"
    source: str | None = None


def _fail(source: str, i: int, msg: str) -> ConfigError:
    return ConfigError(f"{source}: [[stress]] table {i + 1}: {msg}")


def _number(source: str, i: int, data: Mapping[str, Any], key: str) -> float | None:
    v = data.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
        raise _fail(source, i, f"'{key}' must be a number >= 0; got {v!r}")
    return float(v)


def _rule(source: str, i: int, data: Any) -> StressRule:
    if not isinstance(data, dict):
        raise _fail(source, i, "must be a table")
    unknown = [k for k in data if k not in _KEYS]
    if unknown:
        raise _fail(source, i, f"unknown key '{unknown[0]}'; allowed are {', '.join(_KEYS)}")
    corruption, removed, realistic = data.get("corruption"), data.get("removed"), data.get("realistic")
    if sum(x is not None for x in (corruption, removed, realistic)) != 1:
        raise _fail(source, i, "give exactly one of 'corruption', 'removed' or 'realistic'")
    if corruption is not None and corruption not in CORRUPTION_NAMES:
        raise _fail(source, i, f"'corruption' must be one of {', '.join(CORRUPTION_NAMES)}; got {corruption!r}")
    severity = data.get("severity")
    if severity is not None and (corruption is None or severity not in (1, 2, 3, 4, 5)):
        raise _fail(source, i, f"'severity' must be 1 to 5 and goes with 'corruption'; got {severity!r}")
    if removed is not None and (not isinstance(removed, list) or not removed
                                or any(m not in MODALITIES for m in removed)):
        raise _fail(source, i, f"'removed' must be a list of {', '.join(MODALITIES)}; got {removed!r}")
    impute = data.get("impute", "diffusion")
    if impute not in ("diffusion", "fallback"):
        raise _fail(source, i, f"'impute' must be 'diffusion' or 'fallback'; got {impute!r}")
    metric, max_index = data.get("metric"), _number(source, i, data, "max_index")
    if (metric is None) == (max_index is None) or (max_index is not None and corruption is None):
        raise _fail(source, i, "give 'metric' (with max_drop/max_increase) or, with a "
                               "'corruption', 'max_index'")
    if metric is not None and metric not in STRESS_RULE_METRICS:
        raise _fail(source, i, f"'metric' must be one of {', '.join(STRESS_RULE_METRICS)}; got {metric!r}")
    max_drop, max_increase = _number(source, i, data, "max_drop"), _number(source, i, data, "max_increase")
    if metric is not None and max_drop is None and max_increase is None:
        raise _fail(source, i, "a 'metric' rule needs 'max_drop' and/or 'max_increase'")
    attrs = data.get("attributes", [])
    attrs = [attrs] if isinstance(attrs, str) else attrs
    if not isinstance(attrs, list) or not all(isinstance(a, str) for a in attrs):
        raise _fail(source, i, "'attributes' must be a string or a list of strings")
    what = corruption or (f"removed {'+'.join(removed)} ({impute})" if removed else f"realistic {realistic}")
    what += f" severity {severity}" if severity else ""
    default = (f"{what}: index <= {max_index:g}" if max_index is not None else
               f"{what}: {'every group ' if data.get('per_group', True) else ''}{metric} change "
               f"{Bound(None if max_drop is None else -max_drop, max_increase).describe()}")
    return StressRule(
        id=str(data.get("id", default)), metric=metric, max_index=max_index, corruption=corruption,
        severity=severity, removed=tuple(removed or ()), impute=impute, realistic=realistic,
        per_group=bool(data.get("per_group", True)), attributes=tuple(a for a in attrs if a != "*"),
        max_drop=max_drop, max_increase=max_increase)


def parse_stress_policy(text: str, source: str = "<policy>") -> StressPolicy:
    """Parse the ``[[stress]]`` tables (and ``[policy]``) of a policy file's TOML text; the
    audit's tables are allowed and ignored. Raises ConfigError naming the table and key."""
    try:
        doc = tomllib.loads(text.removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    unknown = [k for k in doc if k not in ("policy", "stress", *_AUDIT_TABLES)]
    if unknown:
        raise ConfigError(f"{source}: policy has unknown table or key '{unknown[0]}'")
    settings = doc.get("policy", {})
    inconclusive = settings.get("inconclusive", "fail")
    if inconclusive not in ("fail", "warn"):
        raise ConfigError(f"{source}: [policy] inconclusive must be 'fail' or 'warn'; got {inconclusive!r}")
    raw = doc.get("stress", [])
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{source}: policy has no [[stress]] tables (the rules of `fairaudit stress`)")
    return StressPolicy(name=str(settings.get("name", Path(source).stem)),
                        rules=tuple(_rule(source, i, r) for i, r in enumerate(raw)),
                        inconclusive=inconclusive, source=source)


def load_stress_policy(path: str | Path) -> StressPolicy:
    """Read a policy file's ``[[stress]]`` rules (ConfigError if missing or invalid)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"policy file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read policy file {path} as UTF-8 text: {exc}") from None
    return parse_stress_policy(text, source=str(path))


def _matches(rule: StressRule, c: Mapping[str, Any]) -> bool:
    if rule.corruption is not None:
        return c.get("corruption") == rule.corruption and rule.severity in (None, c.get("severity"))
    if rule.realistic is not None:
        return c.get("attribute") == rule.realistic and c.get("impute") == rule.impute
    return sorted(c.get("removed") or []) == sorted(rule.removed) and c.get("impute") == rule.impute


def _metric_outcomes(rule: StressRule, conditions: Iterable[Mapping[str, Any]]) -> list[RuleOutcome]:
    out = []
    for c in conditions:
        for row in c["groups"]:
            overall = row["attribute"] == "overall"
            if overall == rule.per_group or (rule.attributes and not overall
                                             and row["attribute"] not in rule.attributes):
                continue
            m = row["metrics"].get(rule.metric or "", {})
            where = f"{c['id']} {row['attribute']}={row['group']}"
            if not row["sufficient"]:
                out.append(RuleOutcome(id=rule.id, status=INCONCLUSIVE,
                                       message=f"{where}: too few studies to judge"))
                continue
            ci = m.get("simultaneous_ci") if rule.per_group else m.get("ci")
            ci = None if ci is None else (float(ci[0]), float(ci[1]))
            status, why = decide(m.get("change"), ci, rule.bound)
            out.append(RuleOutcome(
                id=rule.id, status=status, value=m.get("change"), ci=ci,
                message=f"{where}: {rule.metric} change {_fmt(m.get('change'))}; {why}",
                bound_min=rule.bound.min, bound_max=rule.bound.max,
                bound=rule.bound.max if rule.bound.max is not None else rule.bound.min))
    return out


def _index_outcomes(rule: StressRule, corruptions: Iterable[Mapping[str, Any]]) -> list[RuleOutcome]:
    out = []
    for entry in corruptions:
        if entry["corruption"] != rule.corruption:
            continue
        for idx in entry["index"]:
            if rule.attributes and idx["attribute"] not in rule.attributes:
                continue
            ci = None if idx["ci"] is None else (float(idx["ci"][0]), float(idx["ci"][1]))
            status, why = decide(idx["index"], ci, Bound(max=rule.max_index))
            out.append(RuleOutcome(
                id=rule.id, status=status, value=idx["index"], ci=ci, bound=rule.max_index,
                bound_max=rule.max_index,
                message=f"{rule.corruption} index over {idx['attribute']} {_fmt(idx['index'])}; {why}"))
    return out


def _fmt(x: float | None) -> str:
    return "undefined" if x is None else f"{x:+.3f}"


def evaluate_stress(result: Any, policy: StressPolicy) -> GateOutcome:
    """Judge a :class:`~fairaudit.stress_result.StressResult` against ``[[stress]]`` rules."""
    outcomes: list[RuleOutcome] = []
    for rule in policy.rules:
        if rule.max_index is not None:
            found = _index_outcomes(rule, result.corruptions)
        else:
            found = _metric_outcomes(rule, [c for c in result.conditions
                                            if c.get("reference") and _matches(rule, c)])
        outcomes += found or [RuleOutcome(id=rule.id, status=INCONCLUSIVE,
                                          message="the rule's condition was not run")]
    status = combine(o.status for o in outcomes) if outcomes else NOT_RUN
    return GateOutcome(status=status, rules=tuple(outcomes), policy=policy.name,
                       inconclusive_is_warning=policy.inconclusive == "warn")
