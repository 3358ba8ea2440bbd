"""The frozen audit result: the single source for every output.

Terminal table, JSON, Markdown, JUnit and HTML are all views of one :class:`AuditResult`; none
computes a number of its own. ``to_dict`` produces the JSON of
``fairaudit/schema/audit-result.schema.json`` (``fairaudit schema`` prints it) and ``from_dict``
reads it back, so a report can be re-rendered from a saved result.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from fairaudit._io import json_text, to_jsonable

SCHEMA_VERSION = "1.5"

# The status vocabularies of the result (and of the JSON schema's ``enum``s): checked by mypy
# wherever a status is produced or compared, and by :meth:`AuditResult.from_dict` on reading.
GroupStatus: TypeAlias = Literal["ok", "insufficient"]
"""A group is ``insufficient`` when it has too few rows, positives or negatives to judge."""
CriterionStatus: TypeAlias = Literal["ok", "insufficient"]
"""A criterion is ``insufficient`` when a group of its attribute is, or a rate it needs is undefined."""
RuleStatus: TypeAlias = Literal["pass", "fail", "inconclusive"]
"""The decision on one policy rule (and judged attribute or group)."""
GateStatus: TypeAlias = Literal["pass", "fail", "inconclusive", "not_run"]
"""The combined decision of the gate; ``not_run`` when no policy was given."""

@dataclass(frozen=True)
class MetricInfo:
    """What every layer knows about one per-group metric (the one table: :data:`METRICS`).

    Attributes
    ----------
    label
        Its name in the reports.
    undefined
        Why its value can be undefined (the ``reason`` of an :class:`Estimate` with no value).
    higher_is_better
        Its direction: True or False for a performance metric, None for a descriptive one
        (prevalence, selection rate). Summaries and mitigation verdicts read it.
    """

    label: str
    undefined: str
    higher_is_better: bool | None = None


# The metrics every group (and the overall row) carries, in display order. Adding one: an entry
# here, its computation in fairaudit/metrics/rates.py (a confusion rate is one RATES entry), its
# key in fairaudit/schema/audit-result.schema.json, and a test (docs/architecture.md).
METRICS: Mapping[str, MetricInfo] = {
    "prevalence": MetricInfo("Prevalence", "group is empty"),
    "tpr": MetricInfo("TPR (sensitivity)", "no positives in group", True),
    "fpr": MetricInfo("FPR", "no negatives in group", False),
    "tnr": MetricInfo("TNR (specificity)", "no negatives in group", True),
    "fnr": MetricInfo("FNR (underdiagnosis)", "no positives in group", False),
    "ppv": MetricInfo("PPV", "no positive predictions in group", True),
    "npv": MetricInfo("NPV", "no negative predictions in group", True),
    "selection_rate": MetricInfo("Selection rate", "group is empty"),
    "accuracy": MetricInfo("Accuracy", "group is empty", True),
    "balanced_accuracy": MetricInfo("Balanced accuracy", "needs both positives and negatives", True),
    "auc": MetricInfo("AUC", "needs both positives and negatives (all labels are one class)", True),
    "brier": MetricInfo("Brier score", "group is empty", False),
    "ece": MetricInfo("ECE", "group is empty", False),
}
METRIC_NAMES: tuple[str, ...] = tuple(METRICS)

# The performance metrics whose spread across groups is summarised (SD, SER), in output order.
SUMMARISED: tuple[str, ...] = (
    "auc", "accuracy", "balanced_accuracy", "tpr", "tnr", "ppv", "npv", "fnr", "fpr", "brier", "ece",
)

# The fairness criteria (computed in fairaudit/metrics/criteria.py), with their report labels.
CRITERION_LABELS: Mapping[str, str] = {
    "demographic_parity_difference": "Demographic parity difference",
    "demographic_parity_ratio": "Demographic parity ratio",
    "equal_opportunity_difference": "Equal opportunity difference",
    "equal_opportunity_ratio": "Equal opportunity ratio",
    "equalized_odds_difference": "Equalised odds difference",
    "equalized_odds_ratio": "Equalised odds ratio",
    "auc_difference": "AUC difference",
}
CRITERIA_NAMES: tuple[str, ...] = tuple(CRITERION_LABELS)


@dataclass(frozen=True)
class Estimate:
    """A number with its confidence interval; ``value`` is None when undefined (see ``reason``)."""

    value: float | None
    ci: tuple[float, float] | None = None
    reason: str | None = None
    # Family-wise interval: jointly valid over all groups of one attribute (or intersection)
    # at the run's confidence level. Per-group gate rules judge on it; ``ci`` is for display.
    simultaneous_ci: tuple[float, float] | None = None


@dataclass(frozen=True)
class GroupResult:
    """Every metric of one group of one attribute (or intersection, e.g. ``"sex & race"``)."""

    attribute: str
    group: str
    n: int
    n_pos: int
    n_neg: int
    status: GroupStatus
    metrics: Mapping[str, Estimate]
    reasons: tuple[str, ...] = ()
    missing_modalities: Mapping[str, int] = field(default_factory=dict)
    # The group's value of each attribute of ``attribute`` (one for a single attribute, two
    # for "sex & race"): unambiguous even when a value contains the " & " separator.
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExcludedGroup:
    group: str
    reason: str


@dataclass(frozen=True)
class Criterion:
    """One fairness criterion over the groups of one attribute or intersection.

    ``status`` is ``"insufficient"`` (and ``value`` None) when any group of the attribute is
    too small to judge or a rate the criterion needs is undefined; the same criterion over the
    sufficient groups alone is still given in ``sufficient_groups_only`` for information.
    """

    attribute: str
    name: str
    value: float | None
    ci: tuple[float, float] | None
    status: CriterionStatus
    p_value: float | None = None
    q_value: float | None = None
    reason: str | None = None
    groups: tuple[str, ...] = ()  # (group with the smallest rate, group with the largest)
    excluded_groups: tuple[ExcludedGroup, ...] = ()
    sufficient_groups_only: Estimate | None = None
    # Schema 1.4: permutations the p-value used (sequential tests stop early when the p-value
    # is clearly large; at most the run's maximum). None without a p-value.
    n_permutations: int | None = None


@dataclass(frozen=True)
class FlaggedValue:
    """A group left out of a summary (insufficient), shown with its value and why."""

    group: str
    value: float | None
    reason: str


@dataclass(frozen=True)
class Summary:
    """Spread of one performance metric across the sufficient groups of one attribute."""

    attribute: str
    metric: str
    min: float | None
    max: float | None
    mean: float | None
    sd: float | None
    ser: float | None
    worst_group: str | None
    best_group: str | None = None
    n_groups: int = 0
    sd_ci: tuple[float, float] | None = None
    ser_ci: tuple[float, float] | None = None
    higher_is_better: bool = True
    # Insufficient groups are left out of min/max/SD/SER but never hidden: listed here with
    # their (unreliable) values, worst first.
    insufficient_groups: tuple[FlaggedValue, ...] = ()


@dataclass(frozen=True)
class GroupCurves:
    """Curve data for the report (computed here, drawn there)."""

    attribute: str
    group: str
    roc_fpr: tuple[float | None, ...]  # None where the group has no negatives (positives)
    roc_tpr: tuple[float | None, ...]
    reliability_score: tuple[float | None, ...]
    reliability_observed: tuple[float | None, ...]
    reliability_count: tuple[int, ...]
    thresholds: tuple[float, ...]
    threshold_tpr: tuple[float | None, ...]
    threshold_fpr: tuple[float | None, ...]


@dataclass(frozen=True)
class RuleOutcome:
    id: str
    status: RuleStatus
    message: str
    value: float | None = None
    ci: tuple[float, float] | None = None
    bound: float | None = None  # max if set, else min (kept for 1.x readers)
    bound_min: float | None = None
    bound_max: float | None = None
    # Per-group rules are decided on the family-wise interval across the attribute's groups;
    # ``ci`` stays the per-group interval for display.
    simultaneous_ci: tuple[float, float] | None = None


@dataclass(frozen=True)
class GateOutcome:
    status: GateStatus
    rules: tuple[RuleOutcome, ...] = ()
    policy: str | None = None
    inconclusive_is_warning: bool = False


@dataclass(frozen=True)
class CrossCheck:
    """An independent recomputation of the audit's numbers with fairlearn and aif360.

    Every per-group (and overall) selection rate, TPR, FPR and accuracy was recomputed with
    fairlearn's ``MetricFrame`` and aif360's ``ClassificationMetric``, and every fairlearn-defined
    criterion with ``fairlearn.metrics``: ``n_compared`` comparisons (a rate checked against both
    libraries counts twice) agreed to within ``tolerance``. Insufficient criteria and undefined
    rates (where fairlearn returns 0) are not compared; ``n_skipped`` counts them.
    """

    fairlearn_version: str
    aif360_version: str
    n_compared: int
    n_skipped: int
    max_abs_difference: float
    tolerance: float = 1e-9
    largest_at: str | None = None

    def describe(self) -> str:
        """One line for the reports: what was compared and how closely it agreed."""
        return (f"{self.n_compared} comparisons agree with fairlearn {self.fairlearn_version} and "
                f"aif360 {self.aif360_version} (largest difference {self.max_abs_difference:.1e}; "
                f"{self.n_skipped} skipped: insufficient criteria and undefined rates)")


@dataclass(frozen=True)
class RunInfo:
    created: str
    seed: int
    n_bootstrap: int
    confidence_level: float
    data_sha256: str
    model_sha256: str | None
    tool_version: str = ""
    model_adapter: str | None = None
    model_config_sha256: str | None = None
    command: str | None = None
    bootstrap_unit: str = "row"
    min_group_size: int = 30
    min_group_events: int = 10
    p_value_method: str | None = None
    ece_bins: int = 10
    interval_method: str | None = None
    package_versions: Mapping[str, str] = field(default_factory=dict)
    cross_check: CrossCheck | None = None


@dataclass(frozen=True)
class BinInfo:
    """How a numeric attribute was binned into groups (``--bins``).

    ``cuts`` are the cut points (intervals closed on the left: ``< c1``, ``[c1, c2)``, ...,
    ``>= ck``); ``method`` is ``"cut_points"`` (given) or ``"quantile"`` (``q`` quantile bins,
    the cut points computed from the data); ``labels`` are the groups that occur, in order.
    """

    cuts: tuple[float, ...]
    method: str
    q: int | None = None
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class MetadataInfo:
    """Where the demographics came from when they were joined from a separate table.

    ``key`` is the column of the predictions (or manifest) and ``metadata_key`` the column of
    the metadata table whose values were matched; ``columns`` were taken from the metadata.
    """

    source: str
    key: str
    metadata_key: str
    columns: tuple[str, ...]
    sha256: str | None = None
    n_rows: int = 0


@dataclass(frozen=True)
class DatasetInfo:
    n_rows: int
    n_used: int
    n_excluded: int
    label: str
    attributes: tuple[str, ...]
    intersections: tuple[str, ...] = ()
    source: str | None = None
    unknown_counts: Mapping[str, int] = field(default_factory=dict)
    n_clusters: int | None = None
    score: str | None = None
    # Schema 1.3: inputs as users have them (all optional; None when not used).
    score_type: str | None = None
    pos_label: str | None = None
    metadata: MetadataInfo | None = None
    n_unmatched_metadata: int | None = None
    bins: Mapping[str, BinInfo] | None = None
    # Schema 1.5: True when ``n_clusters`` is an estimate (merged statistics with more patients
    # than are counted exactly: HyperLogLog, relative standard error 0.8 %); None when exact.
    n_clusters_estimated: bool | None = None


@dataclass(frozen=True)
class ThresholdInfo:
    value: float
    source: str
    group_thresholds: Mapping[str, float] | None = None  # group name -> threshold
    group_attribute: str | None = None


@dataclass(frozen=True)
class OverallResult:
    n: int
    n_pos: int
    n_neg: int
    metrics: Mapping[str, Estimate]


@dataclass(frozen=True)
class AuditResult:
    """Everything an audit found. Frozen; every output format renders it."""

    run: RunInfo
    dataset: DatasetInfo
    threshold: ThresholdInfo
    overall: OverallResult
    groups: tuple[GroupResult, ...]
    criteria: tuple[Criterion, ...]
    summaries: tuple[Summary, ...]
    gate: GateOutcome = GateOutcome(status="not_run")
    curves: tuple[GroupCurves, ...] = ()
    warnings: tuple[str, ...] = ()
    schema_version: str = SCHEMA_VERSION

    # -- convenience lookups -------------------------------------------------------------
    def group(self, attribute: str, group: str) -> GroupResult:
        for g in self.groups:
            if g.attribute == attribute and g.group == group:
                return g
        raise KeyError(f"no group {group!r} for attribute {attribute!r}")

    def groups_of(self, attribute: str) -> tuple[GroupResult, ...]:
        return tuple(g for g in self.groups if g.attribute == attribute)

    def criterion(self, attribute: str, name: str) -> Criterion:
        for c in self.criteria:
            if c.attribute == attribute and c.name == name:
                return c
        raise KeyError(f"no criterion {name!r} for attribute {attribute!r}")

    def summary(self, attribute: str, metric: str) -> Summary:
        for s in self.summaries:
            if s.attribute == attribute and s.metric == metric:
                return s
        raise KeyError(f"no summary of {metric!r} for attribute {attribute!r}")

    @property
    def audited_attributes(self) -> tuple[str, ...]:
        return self.dataset.attributes + self.dataset.intersections

    def with_gate(self, gate: GateOutcome) -> AuditResult:
        return dataclasses.replace(self, gate=gate)

    # -- serialisation -------------------------------------------------------------------
    def _top_level(self) -> dict[str, Any]:
        """The result's fields in the contract's order (``schema_version`` and ``tool`` first;
        extra keys are additions), values not yet converted."""
        out: dict[str, Any] = {
            "schema_version": self.schema_version,
            "tool": {"name": "fairaudit", "version": self.run.tool_version},
        }
        out.update((f.name, getattr(self, f.name)) for f in dataclasses.fields(self)
                   if f.name != "schema_version")
        return out

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready dictionary (contract keys first; extra keys are additions)."""
        return to_jsonable(self._top_level())

    def to_json(self, indent: int | None = 2) -> str:
        """``json_text(self.to_dict())``, without converting to a dictionary first."""
        return json_text(self._top_level(), indent=indent)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuditResult:
        payload = {k: v for k, v in data.items() if k != "tool"}
        return _from_jsonable(cls, payload)

    @classmethod
    def from_json(cls, text: str) -> AuditResult:
        return cls.from_dict(json.loads(text))


def _from_jsonable(tp: Any, data: Any) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if data is None:
        return None
    if origin is Literal:
        if data not in args:
            allowed = ", ".join(repr(a) for a in args)
            raise ValueError(f"status {data!r} is not one of {allowed}")
        return data
    if origin in (typing.Union, types.UnionType):
        non_none = [a for a in args if a is not type(None)]
        return _from_jsonable(non_none[0], data) if len(non_none) == 1 else data
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        names = {f.name for f in dataclasses.fields(tp)}
        kwargs = {k: _from_jsonable(hints[k], v) for k, v in data.items() if k in names}
        make: Any = tp
        return make(**kwargs)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_from_jsonable(args[0], v) for v in data)
        return tuple(_from_jsonable(a, v) for a, v in zip(args, data, strict=False))
    if origin in (Mapping, dict, typing.Mapping):
        return {k: _from_jsonable(args[1], v) for k, v in data.items()}
    if tp is float and isinstance(data, int):
        return float(data)
    return data
