"""Frozen results of paired comparisons of conditions (models) on the same rows.

:func:`fairaudit.metrics.paired.paired_changes` produces a :class:`PairedResult`; the compare
workflow, the change rules (``gate/change.py``), the reports and the mitigation comparison read
it. Every number is a plain float (or ``None`` when undefined), so the types serialise as they are
(:meth:`PairedResult.to_dict`) and can be read back (:meth:`PairedResult.from_dict`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from fairaudit.result import GateOutcome, RuleOutcome

Interval = tuple[float, float]


@dataclass(frozen=True)
class MetricChange:
    """One metric of one group: its value under a condition and under the reference.

    Attributes
    ----------
    condition : str
        The compared condition (never the reference).
    attribute : str
        ``"overall"``, an attribute (``"sex"``) or an intersection (``"sex & race"``).
    group : str
        The group's label (``"overall"`` for the overall row).
    metric : str
        One of :data:`fairaudit.metrics.paired.PAIRED_METRICS`.
    reference_value, value : float or None
        The metric under the reference and under ``condition`` (None: undefined).
    change : float or None
        ``value - reference_value``.
    ci : (float, float) or None
        Paired percentile bootstrap interval of the change (marginal, this group alone).
    simultaneous_ci : (float, float) or None
        Family-wise interval over the sufficient groups of ``attribute`` (max-t); None for the
        overall row and for insufficient groups. Per-group rules are judged on it.
    p_value : float or None
        Two-sided p-value of "no change"; ``p_method`` says how it was obtained.
    p_method : str
        ``"DeLong"`` (paired DeLong test of correlated ROC curves, AUC without clusters) or
        ``"paired bootstrap"`` (centred bootstrap of the change).
    n, n_pos, n_neg : int
        Rows, positives and negatives of the group (the same for every condition).
    sufficient : bool
        The group meets the minimum counts; an insufficient group is never evidence of "no harm".
    reason : str or None
        Why the group is insufficient.
    """

    condition: str
    attribute: str
    group: str
    metric: str
    reference_value: float | None
    value: float | None
    change: float | None
    ci: Interval | None
    simultaneous_ci: Interval | None
    p_value: float | None
    p_method: str
    n: int
    n_pos: int
    n_neg: int
    sufficient: bool
    reason: str | None = None


@dataclass(frozen=True)
class CriterionChange:
    """One fairness criterion of one attribute under a condition and under the reference.

    Criteria are computed over the sufficient groups of the attribute (``complete`` is False
    when some group was left out: ``excluded_groups``); ``None`` values mean fewer than two
    sufficient groups or an undefined rate.
    """

    condition: str
    attribute: str
    criterion: str
    reference_value: float | None
    value: float | None
    change: float | None
    ci: Interval | None
    p_value: float | None
    complete: bool
    excluded_groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class PairedResult:
    """Changes of every metric and criterion of every condition relative to the reference.

    Attributes
    ----------
    reference : str
        Name of the reference condition (the deployed model, the baseline variant).
    conditions : tuple of str
        The compared conditions, in input order, without the reference.
    metrics, criteria : tuple of str
        What was computed.
    attributes : tuple of str
        The partitions, in order: ``"overall"``, each attribute, then intersections.
    groups : dict
        ``attribute -> tuple of group labels`` (in the order of the per-row labels' sorted
        values, ``unknown`` last).
    changes : tuple of MetricChange
    criterion_changes : tuple of CriterionChange
    n_bootstrap, confidence_level, seed
        The paired bootstrap's settings.
    unit : str
        ``"row"`` or ``"patient"`` (the resampled unit); ``n_units`` how many there are.
    min_group_size, min_group_events : int
        The sufficiency rule.
    """

    reference: str
    conditions: tuple[str, ...]
    metrics: tuple[str, ...]
    criteria: tuple[str, ...]
    attributes: tuple[str, ...]
    groups: Mapping[str, tuple[str, ...]]
    changes: tuple[MetricChange, ...]
    criterion_changes: tuple[CriterionChange, ...]
    n_bootstrap: int
    confidence_level: float
    seed: int
    unit: str
    n_units: int
    min_group_size: int
    min_group_events: int
    method: Mapping[str, str] = field(default_factory=dict)
    _index: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[tuple[str, ...], Any] = {
            (c.condition, c.attribute, c.group, c.metric): c for c in self.changes
        }
        index.update({(c.condition, c.attribute, c.criterion): c for c in self.criterion_changes})
        object.__setattr__(self, "_index", index)

    def change(self, condition: str, attribute: str, group: str, metric: str) -> MetricChange:
        """The :class:`MetricChange` of one group; KeyError if absent."""
        return self._index[(condition, attribute, group, metric)]

    def criterion_change(self, condition: str, attribute: str, criterion: str) -> CriterionChange:
        """The :class:`CriterionChange` of one attribute; KeyError if absent."""
        return self._index[(condition, attribute, criterion)]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (intervals as two-element lists)."""
        d = asdict(self)
        d.pop("_index", None)
        d["groups"] = {k: list(v) for k, v in self.groups.items()}
        d["method"] = dict(self.method)
        for key in ("conditions", "metrics", "criteria", "attributes"):
            d[key] = list(d[key])
        for row in d["changes"]:
            for k in ("ci", "simultaneous_ci"):
                row[k] = list(row[k]) if row[k] is not None else None
        for row in d["criterion_changes"]:
            row["ci"] = list(row["ci"]) if row["ci"] is not None else None
            row["excluded_groups"] = list(row["excluded_groups"])
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PairedResult:
        """Inverse of :meth:`to_dict`."""

        def iv(x: Any) -> Interval | None:
            return None if x is None else (float(x[0]), float(x[1]))

        changes = tuple(
            MetricChange(**{**row, "ci": iv(row["ci"]), "simultaneous_ci": iv(row["simultaneous_ci"])})
            for row in d["changes"]
        )
        crits = tuple(
            CriterionChange(**{**row, "ci": iv(row["ci"]),
                               "excluded_groups": tuple(row["excluded_groups"])})
            for row in d["criterion_changes"]
        )
        return cls(
            reference=d["reference"], conditions=tuple(d["conditions"]), metrics=tuple(d["metrics"]),
            criteria=tuple(d["criteria"]), attributes=tuple(d["attributes"]),
            groups={k: tuple(v) for k, v in d["groups"].items()}, changes=changes,
            criterion_changes=crits, n_bootstrap=int(d["n_bootstrap"]),
            confidence_level=float(d["confidence_level"]), seed=int(d["seed"]), unit=d["unit"],
            n_units=int(d["n_units"]), min_group_size=int(d["min_group_size"]),
            min_group_events=int(d["min_group_events"]), method=dict(d.get("method", {})),
        )


COMPARE_SCHEMA_VERSION = "1.0"


@dataclass(frozen=True)
class CompareSide:
    """One side of a comparison: where its scores came from and how they became decisions.

    ``kind`` is ``"predictions"`` (a table with a score column) or ``"model"`` (run on the
    shared data); ``threshold_source`` says where ``threshold`` came from (``"given"``,
    ``"checkpoint"``, ``"group-thresholds file"``, ``"default 0.5"``).
    """

    role: str
    kind: str
    source: str
    sha256: str | None
    score: str | None
    threshold: float
    threshold_source: str
    group_attribute: str | None = None
    group_thresholds: Mapping[str, float] | None = None


@dataclass(frozen=True)
class CompareResult:
    """A candidate against a baseline on the same rows: the paired changes and the gate.

    Every output of ``fairaudit compare`` (JSON, HTML, Markdown, JUnit) renders this; the JSON
    follows ``fairaudit/schema/compare-result.schema.json``.
    """

    created: str
    tool_version: str
    command: str | None
    baseline: CompareSide
    candidate: CompareSide
    n_rows: int
    label: str
    attributes: tuple[str, ...]
    data_source: str
    data_sha256: str
    id_column: str | None
    cluster_column: str | None
    paired: PairedResult
    gate: GateOutcome
    change_rules: tuple[Mapping[str, Any], ...] = ()
    """The policy's ``[[change]]`` rules as judged (id, metric or criterion, per_group,
    attributes, max_drop, max_increase, preset)."""
    warnings: tuple[str, ...] = ()
    schema_version: str = COMPARE_SCHEMA_VERSION

    @property
    def condition(self) -> str:
        """The name of the candidate's condition in :attr:`paired`."""
        return self.candidate.role

    def to_dict(self) -> dict[str, Any]:
        from fairaudit._io import to_jsonable

        out: dict[str, Any] = {
            "schema_version": self.schema_version,
            "kind": "fairaudit-compare",
            "tool": {"name": "fairaudit", "version": self.tool_version},
        }
        for f in fields(self):
            if f.name in ("schema_version", "tool_version", "paired"):
                continue
            out[f.name] = to_jsonable(getattr(self, f.name))
        out["paired"] = self.paired.to_dict()
        return out

    def to_json(self, indent: int | None = 2) -> str:
        import json

        return json.dumps(self.to_dict(), indent=indent, allow_nan=False, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CompareResult:
        def side(x: Mapping[str, Any]) -> CompareSide:
            return CompareSide(**x)

        def iv(x: Any) -> tuple[float, float] | None:
            return None if x is None else (float(x[0]), float(x[1]))

        g = d["gate"]
        gate = GateOutcome(
            status=g["status"], policy=g.get("policy"),
            inconclusive_is_warning=bool(g.get("inconclusive_is_warning", False)),
            rules=tuple(RuleOutcome(**{**r, "ci": iv(r.get("ci")),
                                       "simultaneous_ci": iv(r.get("simultaneous_ci"))})
                        for r in g.get("rules", [])),
        )
        return cls(
            created=d["created"], tool_version=d["tool"]["version"], command=d.get("command"),
            baseline=side(d["baseline"]), candidate=side(d["candidate"]), n_rows=int(d["n_rows"]),
            label=d["label"], attributes=tuple(d["attributes"]), data_source=d["data_source"],
            data_sha256=d["data_sha256"], id_column=d.get("id_column"),
            cluster_column=d.get("cluster_column"), paired=PairedResult.from_dict(d["paired"]),
            gate=gate, change_rules=tuple(dict(r) for r in d.get("change_rules", ())),
            warnings=tuple(d.get("warnings", ())), schema_version=d["schema_version"],
        )
