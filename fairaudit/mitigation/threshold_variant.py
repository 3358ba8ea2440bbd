"""Threshold adjustment as a mitigation variant: settings, fitting, and the levelling-down check.

Shared by the two ``fairaudit mitigate`` entry points (:mod:`fairaudit.workflows.mitigate` for
predictions tables, :mod:`fairaudit.workflows.fine_tune` for checkpoints) and by the fairlearn
reference variant: :class:`ThresholdSettings`, :func:`pooled_threshold`,
:func:`threshold_variant` (with :func:`level_down_check`), and :func:`resolve_target`, the
attributes a run mitigates. Thresholds are always fitted on validation rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from fairaudit.comparison_result import Variant
from fairaudit.errors import ConfigError
from fairaudit.group_thresholds import GroupThresholds
from fairaudit.mitigation.thresholds import (
    PERFORMANCE,
    GroupThresholdOptimizer,
    Objective,
    Performance,
    dataset_groups,
)

if TYPE_CHECKING:  # pragma: no cover
    from fairaudit.data import AuditDataset


@dataclass(frozen=True)
class ThresholdSettings:
    """How threshold adjustment is fitted (see :class:`GroupThresholdOptimizer`)."""

    objective: Objective = "equalized_odds"
    tolerance: float | Literal["auto"] = "auto"
    sensitivity_floor: float | None = None
    performance: Performance = "accuracy"
    min_positives: int = 10
    min_negatives: int = 10


def columns(spec: str | Sequence[str]) -> tuple[str, ...]:
    """Column names from a comma-separated string or a sequence (as the CLI options take them)."""
    from fairaudit.data import parse_columns

    return tuple(parse_columns(spec if isinstance(spec, str) else list(spec)))


def resolve_target(target: str | Sequence[str] | None, dataset: AuditDataset) -> tuple[str, ...]:
    """The attributes mitigated: ``target`` (checked against ``dataset``'s), default all of them."""
    if target is None:
        return tuple(dataset.attributes)
    cols = columns(target)
    unknown = [c for c in cols if c not in dataset.attributes]
    if unknown:
        raise ConfigError(
            f"`target` {', '.join(unknown)} must be among the `sensitive` columns "
            f"({', '.join(dataset.attributes)})."
        )
    return cols


# --------------------------------------------------------------------------------------------
# Thresholds
# --------------------------------------------------------------------------------------------


def pooled_threshold(val: AuditDataset, scores: np.ndarray, performance: str = "accuracy") -> float:
    """One threshold chosen on validation rows: the one maximising ``performance``."""
    opt = GroupThresholdOptimizer("equal_opportunity", tolerance=1.0, performance=performance,
                                  min_positives=1, min_negatives=1)
    opt.fit(scores, val.labels, sensitive_features=np.zeros(val.n_rows, dtype=object))
    return float(opt.default_)


LEVEL_DOWN_MARGIN = 0.05
"""A fall in validation sensitivity of at least this much (overall, or in a fitted group) is
levelling down."""


def _sensitivities(labels: np.ndarray, decided: np.ndarray, groups: np.ndarray,
                   fitted: Sequence[str]) -> dict[str, float]:
    pos = labels == 1
    out = {"overall": float(decided[pos].mean()) if pos.any() else float("nan")}
    for g in fitted:
        m = pos & (groups == g)
        if m.any():
            out[str(g)] = float(decided[m].mean())
    return out


def _level_down(labels: np.ndarray, scores: np.ndarray, groups: np.ndarray, base_threshold: float,
                gt: GroupThresholds) -> dict[str, Any]:
    """Validation sensitivities before and after per-group thresholds, and the levelling down."""
    fitted = sorted(gt.thresholds)
    before = _sensitivities(labels, scores >= base_threshold, groups, fitted)
    after = _sensitivities(labels, gt.apply(scores, groups).astype(bool), groups, fitted)
    fell = {k: (before[k], after[k]) for k in before
            if k in after and before[k] - after[k] >= LEVEL_DOWN_MARGIN - 1e-12}
    neg = labels == 0
    fpr = [float((scores[neg] >= base_threshold).mean()) if neg.any() else float("nan"),
           float(gt.apply(scores, groups)[neg].mean()) if neg.any() else float("nan")]
    return {"levelled_down": bool(fell), "sensitivity_before": before, "sensitivity_after": after,
            "fell": {k: {"before": b, "after": a} for k, (b, a) in fell.items()},
            "false_positive_rate_before": fpr[0], "false_positive_rate_after": fpr[1]}


def _alternatives(settings: ThresholdSettings, before: Mapping[str, float]) -> list[ThresholdSettings]:
    """Other objectives to try on validation when the chosen one levels down, in order.

    The other equality objectives under each performance measure; then sensitivity floors at
    the baseline's overall validation sensitivity and at its best fitted group's (rounded up
    to 0.01), the last of which cannot lower any fitted group's sensitivity.
    """
    from dataclasses import replace

    out = [replace(settings, objective=o, performance=p, sensitivity_floor=None)
           for p in (settings.performance, *[x for x in PERFORMANCE if x != settings.performance])
           for o in ("equal_opportunity", "equalized_odds")]
    groups = [v for k, v in before.items() if k != "overall" and math.isfinite(v)]
    floors = [math.floor(before["overall"] * 100.0 + 1e-9) / 100.0] if math.isfinite(before["overall"]) else []
    if groups:
        floors.append(math.ceil(max(groups) * 100.0 - 1e-9) / 100.0)
    for floor in dict.fromkeys(floors):
        if 0.0 < floor <= 1.0:
            out.append(replace(settings, objective="sensitivity_floor", sensitivity_floor=floor))
    return [a for a in out if (a.objective, a.performance, a.sensitivity_floor)
            != (settings.objective, settings.performance, settings.sensitivity_floor)]


def _describe(settings: ThresholdSettings) -> str:
    text = f"--objective {settings.objective}"
    if settings.sensitivity_floor is not None:
        text += f" --sensitivity-floor {settings.sensitivity_floor:g}"
    return text + f" --performance {settings.performance}"


def level_down_check(
    val: AuditDataset, val_scores: np.ndarray, groups: np.ndarray, attribute: str,
    base_threshold: float, gt: GroupThresholds, settings: ThresholdSettings,
) -> tuple[dict[str, Any], str | None]:
    """Does the fit level down on *validation* rows? If so, which other objective does not?

    Levelling down here: the per-group thresholds lower the validation sensitivity, overall or
    of a fitted group, by at least :data:`LEVEL_DOWN_MARGIN` against the baseline threshold.
    The alternatives (the other objectives and performance measures, and a sensitivity floor
    at the baseline's validation sensitivity) are fitted and judged on the same validation
    rows only; the test rows are never looked at. Returns the record kept in the result and a
    one-line warning (None when nothing levelled down).
    """
    labels = np.asarray(val.labels)
    record = _level_down(labels, val_scores, groups, base_threshold, gt)
    record["margin"] = LEVEL_DOWN_MARGIN
    record["judged_on"] = "validation rows (never the test rows)"
    if not record["levelled_down"]:
        return record, None
    tried: list[dict[str, Any]] = []
    alternative = None
    for alt in _alternatives(settings, record["sensitivity_before"]):
        agt = _fit(val_scores, labels, groups, attribute, base_threshold, alt)
        res = _level_down(labels, val_scores, groups, base_threshold, agt)
        tried.append({"option": _describe(alt), "levelled_down": res["levelled_down"],
                      "sensitivity_after": res["sensitivity_after"]["overall"],
                      "false_positive_rate_after": res["false_positive_rate_after"]})
        if not res["levelled_down"]:
            alternative = (alt, res)
            break
    record["alternatives_tried"] = tried
    before, after = record["sensitivity_before"], record["sensitivity_after"]
    worst = max(record["fell"].items(), key=lambda kv: kv[1]["before"] - kv[1]["after"])
    who = "overall" if worst[0] == "overall" else f"of group '{worst[0]}'"
    text = (f"threshold ({settings.objective}) levels down on validation: sensitivity "
            f"{who} {worst[1]['before']:.3f} -> "
            f"{worst[1]['after']:.3f} (overall {before['overall']:.3f} -> {after['overall']:.3f}); ")
    if alternative is None:
        record["alternative"] = None
        text += "every other objective tried levels down too."
    else:
        alt, res = alternative
        record["alternative"] = _describe(alt)
        text += (f"{_describe(alt)} did not (overall validation sensitivity "
                 f"{before['overall']:.3f} -> {res['sensitivity_after']['overall']:.3f}, "
                 f"false-positive rate {record['false_positive_rate_before']:.3f} -> "
                 f"{res['false_positive_rate_after']:.3f}).")
    return record, text


def _fit(val_scores: np.ndarray, labels: np.ndarray, groups: np.ndarray, attribute: str,
         base_threshold: float, settings: ThresholdSettings) -> GroupThresholds:
    opt = GroupThresholdOptimizer(
        settings.objective, tolerance=settings.tolerance,
        sensitivity_floor=settings.sensitivity_floor, performance=settings.performance,
        min_positives=settings.min_positives, min_negatives=settings.min_negatives,
        default_threshold=base_threshold,
    ).fit(val_scores, labels, sensitive_features=pd.DataFrame({attribute: groups}))
    return opt.to_group_thresholds()


def threshold_variant(
    val: AuditDataset,
    val_scores: np.ndarray,
    test_scores: np.ndarray,
    *,
    target: str | Sequence[str],
    base_threshold: float,
    settings: ThresholdSettings,
    model_sha256: str | None = None,
    fitted_rows: Mapping[str, Any] | None = None,
) -> tuple[Variant, GroupThresholds]:
    """Fit per-group thresholds on validation scores; the variant keeps the test scores.

    The provenance carries :func:`level_down_check`'s record; its warning, if any, is
    returned in ``variant.provenance["warning"]``. ``fitted_rows`` (which rows of which file
    the thresholds were fitted on; default: every row of ``val``'s file) goes into the
    thresholds file, so ``fairaudit audit --group-thresholds`` can warn when it audits them.
    """
    groups, attribute = dataset_groups(val, target)
    opt = GroupThresholdOptimizer(
        settings.objective, tolerance=settings.tolerance,
        sensitivity_floor=settings.sensitivity_floor, performance=settings.performance,
        min_positives=settings.min_positives, min_negatives=settings.min_negatives,
        default_threshold=base_threshold,
    ).fit(val_scores, val.labels, sensitive_features=pd.DataFrame({attribute: groups}))
    if fitted_rows is None:
        fitted_rows = {"data_sha256": val.sha256.partition(":")[0],
                       "selection": "all rows" if ":" not in val.sha256 else "unknown",
                       "n_rows": val.n_rows}
    gt = opt.to_group_thresholds(fitted_on=val.source, data_sha256=val.sha256,
                                 model_sha256=model_sha256, fitted_rows=dict(fitted_rows))
    name = f"threshold ({settings.objective})"
    check, warning = level_down_check(val, np.asarray(val_scores, dtype=np.float64), groups,
                                      attribute, base_threshold, gt, settings)
    variant = Variant(
        name=name, scores=np.asarray(test_scores, dtype=np.float64), threshold=base_threshold,
        group_thresholds=gt, method="threshold", model_sha256=model_sha256,
        provenance={"group_thresholds": gt.to_dict(), "level_down_check": check,
                    "warning": warning},
    )
    return variant, gt


__all__ = [
    "LEVEL_DOWN_MARGIN",
    "ThresholdSettings",
    "columns",
    "level_down_check",
    "pooled_threshold",
    "resolve_target",
    "threshold_variant",
]
