"""``fairaudit mitigate`` as a library call: mitigate, re-audit on test, compare.

Two entry points:

- a fairaudit checkpoint and a cohort (``model=``, ``data=``): every method applies; the
  training-time ones fine-tune the model on the training split, select the checkpoint on
  validation worst-group AUC and save it with its provenance;
- any model's predictions (``predictions=``): threshold adjustment only. The validation rows come
  from ``val_predictions=`` or from the rows of ``predictions`` whose ``split`` column says
  validation; the others (``split == "test"``) are the test rows.

Thresholds are always fitted on validation rows and judged on test rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from fairaudit.errors import ConfigError, InputError
from fairaudit.mitigation.compare import Comparison, Variant, compare_variants
from fairaudit.mitigation.thresholds import (
    PERFORMANCE,
    GroupThresholdOptimizer,
    GroupThresholds,
    dataset_groups,
)
from fairaudit.naming import attribute_label

if TYPE_CHECKING:  # pragma: no cover
    from fairaudit.data import AuditDataset

METHODS = ("reweighting", "stratified", "group-dro", "threshold", "threshold-fairlearn")
ALL_METHODS = ("reweighting", "stratified", "group-dro", "threshold")
"""What ``--method all`` runs (the fairlearn reference variant is asked for by name)."""
TRAINING_METHODS = ("reweighting", "stratified", "group-dro")
THRESHOLD_METHODS = ("threshold", "threshold-fairlearn")
VALIDATION_SPLITS = ("val", "valid", "validation", "dev")
TEST_SPLITS = ("test",)


def parse_methods(spec: str | Sequence[str]) -> tuple[str, ...]:
    """``"all"`` (:data:`ALL_METHODS`) or a comma-separated subset of :data:`METHODS`, in order."""
    items = [spec] if isinstance(spec, str) else list(spec)
    names = [m.strip().lower() for item in items for m in str(item).split(",") if m.strip()]
    if not names:
        raise ConfigError(f"--method needs one of {', '.join(METHODS)} or all.")
    if "all" in names:
        return ALL_METHODS + tuple(m for m in METHODS if m in names and m not in ALL_METHODS)
    bad = [m for m in names if m not in METHODS]
    if bad:
        raise ConfigError(
            f"--method must be one of {', '.join(METHODS)} or all (comma-separated); got "
            f"{', '.join(map(repr, bad))}."
        )
    return tuple(m for m in METHODS if m in names)


@dataclass(frozen=True)
class ThresholdSettings:
    """How threshold adjustment is fitted (see :class:`GroupThresholdOptimizer`)."""

    objective: str = "equalized_odds"
    tolerance: float | str = "auto"
    sensitivity_floor: float | None = None
    performance: str = "accuracy"
    min_positives: int = 10
    min_negatives: int = 10


@dataclass(frozen=True)
class MitigationResult:
    """What ``fairaudit mitigate`` produced (files are written by :func:`write_outputs`)."""

    comparison: Comparison
    group_thresholds: GroupThresholds | None = None
    checkpoints: Mapping[str, Path] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Splits of a predictions table
# --------------------------------------------------------------------------------------------


def split_predictions(
    predictions: str | Path,
    *,
    label: str,
    sensitive: str | Sequence[str],
    score: str | None = None,
    val_predictions: str | Path | None = None,
    split_column: str = "split",
    cluster: str | None = None,
    val_fraction: float | None = None,
    seed: int = 0,
) -> tuple[AuditDataset, AuditDataset]:
    """Validation and test datasets from predictions table(s).

    The validation rows are, in order of precedence: the ``val_predictions`` file; a random
    ``val_fraction`` of the patients (``cluster`` column) or rows, drawn with ``seed``; the rows
    whose ``split_column`` says val/validation (the rows saying test are the test rows).
    """
    from fairaudit.data import load_table_dataset, read_table

    score = score or "score"
    if val_predictions is not None:
        val = load_table_dataset(val_predictions, label=label, sensitive=list(_cols(sensitive)),
                                 score=score, cluster=cluster, what="validation predictions file")
        test = load_table_dataset(predictions, label=label, sensitive=list(_cols(sensitive)),
                                  score=score, cluster=cluster, what="predictions file")
        return val, test
    p = Path(predictions)
    frame = read_table(p, "predictions file")
    if val_fraction is not None:
        if not 0.0 < val_fraction < 1.0:
            raise ConfigError(f"--val-fraction must be between 0 and 1; got {val_fraction}.")
        if cluster is not None and cluster in frame.columns:
            units = pd.factorize(frame[cluster], sort=True)[0]
        else:
            units = np.arange(len(frame))
        rng = np.random.default_rng(seed)
        chosen = rng.random(int(units.max()) + 1) < val_fraction
        is_val = chosen[units]
        is_test = ~is_val
        found = f"a random {val_fraction:g} of the {'patients' if cluster else 'rows'} (seed {seed})"
        if not is_val.any() or not is_test.any():
            raise InputError(f"--val-fraction {val_fraction:g} left no validation or no test rows in '{p}'.")
        return _split_frame(frame, p, is_val, is_test, label, sensitive, score, cluster, found)
    if split_column not in frame.columns:
        raise InputError(
            f"predictions file '{p}' has no '{split_column}' column to tell validation rows from "
            "test rows; add one (values val/test), name it with --split-column, or give the "
            "validation predictions separately with --val-predictions."
        )
    split = frame[split_column].astype("string").str.strip().str.lower()
    is_val = split.isin(VALIDATION_SPLITS).fillna(False).to_numpy()
    is_test = split.isin(TEST_SPLITS).fillna(False).to_numpy()
    found = ", ".join(sorted(map(str, split.dropna().unique())))
    if not is_val.any() or not is_test.any():
        raise InputError(
            f"column '{split_column}' of '{p}' needs validation rows ({'/'.join(VALIDATION_SPLITS)}) "
            f"and test rows (test); found: {found or 'nothing'}."
        )
    return _split_frame(frame, p, is_val, is_test, label, sensitive, score, cluster,
                        f"column '{split_column}'")


def _split_frame(frame: pd.DataFrame, p: Path, is_val: np.ndarray, is_test: np.ndarray, label: str,
                 sensitive: str | Sequence[str], score: str, cluster: str | None,
                 how: str) -> tuple[AuditDataset, AuditDataset]:
    from fairaudit.data import from_frame
    from fairaudit.data.tables import file_sha256

    sha = file_sha256(p)
    out = []
    for mask, name in ((is_val, "validation"), (is_test, "test")):
        sub = frame.loc[mask].reset_index(drop=True)
        out.append(from_frame(sub, label=label, sensitive=list(_cols(sensitive)), score=score,
                              cluster=cluster, source=f"{name} rows of '{p}' (split by {how})",
                              root=p.resolve().parent, sha256=f"{sha}:{name}"))
    return out[0], out[1]


def _cols(spec: str | Sequence[str]) -> tuple[str, ...]:
    from fairaudit.data import parse_columns

    return tuple(parse_columns(spec if isinstance(spec, str) else list(spec)))


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


# --------------------------------------------------------------------------------------------
# The whole run
# --------------------------------------------------------------------------------------------


def mitigate(
    *,
    label: str,
    sensitive: str | Sequence[str],
    out_dir: str | Path,
    methods: str | Sequence[str] = "all",
    model: str | Path | None = None,
    data: str | Path | None = None,
    predictions: str | Path | None = None,
    val_predictions: str | Path | None = None,
    score: str | None = None,
    split_column: str = "split",
    val_fraction: float | None = None,
    target: str | Sequence[str] | None = None,
    threshold: float | None = None,
    thresholds: ThresholdSettings | None = None,
    training: Mapping[str, Any] | None = None,
    seed: int = 0,
    n_bootstrap: int = 1000,
    confidence_level: float = 0.95,
    min_group_size: int = 30,
    min_group_events: int = 10,
    cluster: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> MitigationResult:
    """Apply mitigations, re-audit each on the test split and compare with the baseline.

    Parameters
    ----------
    label, sensitive
        Label column and protected attribute columns.
    out_dir : path
        Fine-tuned checkpoints go under ``out_dir/checkpoints`` (other outputs are written by
        :func:`write_outputs`).
    methods : "all" or names
        Any of ``reweighting``, ``stratified``, ``group-dro``, ``threshold``.
    model, data
        A fairaudit checkpoint and its cohort (manifest or folder with train/val/test splits).
    predictions, val_predictions, score, split_column, val_fraction
        Any model's predictions instead (threshold adjustment only); see
        :func:`split_predictions` for how validation rows are chosen.
    target : attributes, optional
        The attribute(s) mitigated (their intersection); default all of ``sensitive``.
    threshold : float, optional
        Baseline decision threshold; default the checkpoint's, else chosen on validation.
    thresholds : ThresholdSettings
        How per-group thresholds are fitted.
    training : dict
        Overrides for fine-tuning (epochs, learning rate, batch size, Group DRO ``step_size``
        and ``adjustment``...).
    seed, n_bootstrap, confidence_level, min_group_size, min_group_events, cluster
        As in :func:`fairaudit.audit`; ``seed`` also seeds fine-tuning.
    """
    chosen = parse_methods(methods)
    settings = thresholds or ThresholdSettings()
    say = progress or (lambda _msg: None)
    out = Path(out_dir)
    if (model is None) == (predictions is None):
        raise ConfigError("give either --model CKPT with --data COHORT, or --predictions FILE.")
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"--threshold must be in [0, 1]; got {threshold}.")

    if predictions is not None:
        if data is not None:
            raise ConfigError("--data goes with --model; with --predictions the table is the data.")
        training_asked = [m for m in chosen if m in TRAINING_METHODS]
        asked_all = "all" in [m.strip().lower() for m in (
            methods.split(",") if isinstance(methods, str) else map(str, methods))]
        if training_asked and not asked_all:
            raise ConfigError(
                f"{', '.join(training_asked)} re-train the model and need --model and --data; "
                "with --predictions only --method threshold (or threshold-fairlearn) applies."
            )
        chosen = tuple(m for m in chosen if m in THRESHOLD_METHODS) or ("threshold",)
        val, test = split_predictions(predictions, label=label, sensitive=sensitive, score=score,
                                      val_predictions=val_predictions, split_column=split_column,
                                      cluster=cluster, val_fraction=val_fraction, seed=seed)
        tgt = _target(target, val)
        base_thr = threshold if threshold is not None else pooled_threshold(
            val, val.scores, settings.performance)
        base = Variant("baseline", test.scores, base_thr, method="none", provenance={
            "threshold": base_thr,
            "threshold_source": "given" if threshold is not None
            else f"chosen on validation rows (max {settings.performance})",
        })
        variants = [base]
        gt = None
        if "threshold" in chosen:
            say("fitting per-group thresholds on validation rows")
            rows = _fitted_rows(predictions, val_predictions, split_column, val_fraction, seed, val)
            tv, gt = threshold_variant(val, val.scores, test.scores, target=tgt,
                                       base_threshold=base_thr, settings=settings, fitted_rows=rows)
            variants.append(tv)
        if "threshold-fairlearn" in chosen:
            from fairaudit.mitigation.fairlearn_reference import fairlearn_variant

            say("fitting fairlearn's ThresholdOptimizer on validation rows (reference)")
            variants.append(fairlearn_variant(val, val.scores, test, test.scores, target=tgt,
                                              settings=settings, seed=seed))
        checkpoints: dict[str, Path] = {}
    else:
        if data is None:
            raise ConfigError("--model needs --data (the cohort with train/val/test splits).")
        from fairaudit.mitigation.training import training_variants

        variants, gt, checkpoints, test, tgt = training_variants(
            model=model, data=data, label=label, sensitive=sensitive, methods=chosen,
            out_dir=out / "checkpoints", target=target, threshold=threshold,
            threshold_settings=settings, training=dict(training or {}), seed=seed,
            cluster=cluster, progress=say,
        )

    say(f"auditing {len(variants)} variants on the test split")
    attribute = attribute_label(tgt)
    comparison = compare_variants(
        test, variants, attribute=attribute, n_bootstrap=n_bootstrap,
        confidence_level=confidence_level, seed=seed, min_group_size=min_group_size,
        min_group_events=min_group_events,
        settings={"methods": list(chosen), "target": list(tgt),
                  "threshold_objective": settings.objective},
    )
    warnings = tuple(w for v in variants if (w := v.provenance.get("warning")))
    if warnings:
        import dataclasses

        comparison = dataclasses.replace(comparison, warnings=comparison.warnings + warnings)
    return MitigationResult(comparison=comparison, group_thresholds=gt, checkpoints=checkpoints)


def _fitted_rows(predictions: str | Path, val_predictions: str | Path | None, split_column: str,
                 val_fraction: float | None, seed: int, val: AuditDataset) -> dict[str, Any]:
    """Which rows of which file the thresholds are fitted on (see :func:`split_predictions`)."""
    from fairaudit.data.tables import file_sha256

    if val_predictions is not None:
        return {"data_sha256": file_sha256(Path(val_predictions)), "selection": "all rows",
                "n_rows": val.n_rows}
    out: dict[str, Any] = {"data_sha256": file_sha256(Path(predictions)), "n_rows": val.n_rows}
    if val_fraction is not None:
        return {**out, "selection": "random", "val_fraction": val_fraction, "seed": seed}
    return {**out, "selection": "split", "split_column": split_column,
            "split_values": list(VALIDATION_SPLITS)}


def _target(target: str | Sequence[str] | None, dataset: AuditDataset) -> tuple[str, ...]:
    if target is None:
        return tuple(dataset.attributes)
    cols = _cols(target)
    unknown = [c for c in cols if c not in dataset.attributes]
    if unknown:
        raise ConfigError(
            f"--target {', '.join(unknown)} must be among the --sensitive columns "
            f"({', '.join(dataset.attributes)})."
        )
    return cols


def write_outputs(result: MitigationResult, out_dir: str | Path) -> dict[str, Path]:
    """Write comparison.json, comparison.md, comparison.html and thresholds.json to ``out_dir``.

    Everything is rendered before the first file is written.
    """
    from fairaudit.report.comparison import render_comparison_html

    out = Path(out_dir)
    files: dict[str, str] = {
        "comparison.json": result.comparison.to_json(),
        "comparison.md": result.comparison.to_markdown(),
        "comparison.html": render_comparison_html(result.comparison),
    }
    if result.group_thresholds is not None:
        files["thresholds.json"] = result.group_thresholds.to_json()
    written: dict[str, Path] = {}
    for name, text in files.items():
        path = out / name
        _write_atomic(path, text)
        written[name] = path
    return written


def _write_atomic(path: Path, text: str) -> None:
    import os
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


__all__ = [
    "METHODS",
    "MitigationResult",
    "ThresholdSettings",
    "mitigate",
    "parse_methods",
    "pooled_threshold",
    "split_predictions",
    "threshold_variant",
    "write_outputs",
]
