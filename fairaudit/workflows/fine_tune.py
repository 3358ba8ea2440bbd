"""Training-time mitigations as a workflow: fine-tune the built-in model from its checkpoint.

The pieces are estimators of :mod:`fairaudit.mitigation`; this module loads the cohort and the
checkpoint, runs the training loops of :mod:`fairaudit.models` and saves the tuned checkpoints.
Each method plugs one piece into the model's own training loop
(:func:`fairaudit.models.training.fine_tune`), which is otherwise unchanged:

- ``reweighting``: Kamiran-Calders weights as per-row sample weights in the loss;
- ``stratified``: :class:`StratifiedBatchSampler` as the batch sampler (batches balanced across
  the target groups; ``stratify_by_label=True`` balances group x label cells instead);
- ``group-dro``: :class:`GroupDROLoss` as the loss reduction (``step_size`` eta, ``adjustment`` C).

All three fine-tune on the **training split**, keep the epoch with the best **validation
worst-group AUC** (over target groups with at least ``min_group_events`` validation positives
and negatives), re-fit the diffusion imputer and re-choose the threshold on validation (the
model's own rule), and are saved as new checkpoints whose ``info.mitigation`` records the
method, its settings, the base checkpoint's hash and the selection. The test split is only
scored, never used for a choice.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fairaudit.comparison_result import Variant
from fairaudit.errors import ConfigError, InputError
from fairaudit.mitigation.thresholds import GroupThresholds, dataset_groups

if TYPE_CHECKING:  # pragma: no cover
    from fairaudit.data import AuditDataset
    from fairaudit.mitigation.threshold_variant import ThresholdSettings
    from fairaudit.models.progress import Progress

SPLIT_FILES = {
    "train": ("train.csv", "train.parquet"),
    "validation": ("validation.csv", "validation.parquet", "val.csv", "val.parquet"),
    "test": ("test.csv", "test.parquet"),
}
FINE_TUNE_DEFAULTS: Mapping[str, Any] = {"epochs": 10, "lr": 5e-4}
"""Fine-tuning starts from the trained model: fewer epochs and a smaller step than training."""
MITIGATION_KEYS = ("step_size", "adjustment", "stratify_by_label", "min_group_events")


def resolve_cohort(data: str | Path, *, need_train: bool = True) -> dict[str, Path]:
    """The train / validation / test manifests of a cohort folder (or of one of its files).

    ``need_train=False`` (threshold adjustment alone, which uses only validation and test)
    does not require the training split; it is returned when present.
    """
    p = Path(data)
    folder = p if p.is_dir() else p.parent
    if not p.exists():
        raise InputError(f"cohort '{p}' does not exist; give the folder written by 'fairaudit sample-data'.")
    found: dict[str, Path] = {}
    for split, names in SPLIT_FILES.items():
        for name in names:
            if (folder / name).is_file():
                found[split] = folder / name
                break
    needed = [s for s in SPLIT_FILES if need_train or s != "train"]
    missing = [s for s in needed if s not in found]
    if missing:
        what = ("the training-time methods need train.csv, validation.csv and test.csv"
                if need_train else "threshold adjustment needs validation.csv and test.csv")
        raise InputError(
            f"cohort folder '{folder}' lacks the {', '.join(missing)} split(s); {what} "
            "(as 'fairaudit sample-data' writes)."
        )
    return found


def worst_group_auc_score(min_events: int) -> Callable[[np.ndarray, np.ndarray, np.ndarray | None], float]:
    """Selection score: lowest validation AUC over groups with enough positives and negatives.

    Groups with fewer than ``min_events`` positives or negatives are left out: their AUC is too
    noisy to steer checkpoint selection. Group ids below 0 are never scored.
    """
    from fairaudit.metrics.weighted import auc as roc_auc

    def worst_group_auc(scores: np.ndarray, labels: np.ndarray, group_ids: np.ndarray | None) -> float:
        if group_ids is None:
            return roc_auc(scores, labels)
        aucs = []
        for g in np.unique(group_ids[group_ids >= 0]):
            m = group_ids == g
            n_pos = int(labels[m].sum())
            if n_pos >= min_events and int(m.sum()) - n_pos >= min_events:
                aucs.append(roc_auc(scores[m], labels[m]))
        finite = [a for a in aucs if math.isfinite(a)]
        return min(finite) if finite else roc_auc(scores, labels)

    worst_group_auc.__name__ = f"worst_group_auc(min_events={min_events})"
    return worst_group_auc


def _group_ids(train_names: np.ndarray, val_names: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
    groups = sorted(set(train_names.tolist()))
    index = {g: i for i, g in enumerate(groups)}
    train_ids = np.asarray([index[g] for g in train_names.tolist()], dtype=np.int64)
    # A validation group absent from training cannot be learned from; it is not scored.
    val_ids = np.asarray([index.get(g, -1) for g in val_names.tolist()], dtype=np.int64)
    return train_ids, val_ids, groups


def fine_tune_method(
    method: str,
    predictor: Any,
    train: AuditDataset,
    val: AuditDataset,
    *,
    target: Sequence[str],
    settings: Any,
    options: Mapping[str, Any],
    progress: Progress | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Fine-tune a copy of ``predictor`` with one mitigation; returns (model, provenance)."""
    from fairaudit.models.training import fine_tune

    train_names, attribute = dataset_groups(train, list(target))
    val_names, _ = dataset_groups(val, list(target))
    train_ids, val_ids, groups = _group_ids(train_names, val_names)
    min_events = int(options.get("min_group_events", 10))
    hooks: dict[str, Any] = {}
    details: dict[str, Any] = {}
    if method == "reweighting":
        from fairaudit.mitigation.reweighting import Reweighing

        rw = Reweighing()
        hooks["sample_weights"] = rw.fit_transform(train.labels, sensitive_features=train_names)
        details["weights"] = rw.table()
    elif method == "stratified":
        from fairaudit.mitigation.sampling import StratifiedBatchSampler, make_strata

        by_label = bool(options.get("stratify_by_label", False))
        strata = make_strata(train_names, train.labels if by_label else None)
        hooks["batch_sampler"] = StratifiedBatchSampler(strata, settings.batch_size, seed=settings.seed)
        details["strata"] = "group x label" if by_label else "group"
        details["n_strata"] = len(set(strata.tolist()))
    elif method == "group-dro":
        from fairaudit.mitigation.group_dro import GroupDROLoss

        counts = np.bincount(train_ids, minlength=len(groups)).tolist()
        dro = GroupDROLoss(counts, step_size=float(options.get("step_size", 0.01)),
                           adjustment=float(options.get("adjustment", 1.0)), group_names=groups)
        hooks["loss_fn"] = dro
        hooks["group_ids"] = train_ids
    else:  # pragma: no cover - parse_methods guards this
        raise ConfigError(f"unknown training-time method {method!r}.")
    if method != "group-dro":
        hooks["group_ids"] = train_ids

    tuned, fit = fine_tune(
        predictor, train, val, settings=settings, val_group_ids=val_ids,
        selection_score=worst_group_auc_score(min_events), progress=progress, **hooks,
    )
    if method == "group-dro":
        details["group_dro"] = hooks["loss_fn"].state()
    provenance = {
        "method": method,
        "target": attribute,
        "groups": groups,
        "base_checkpoint_sha256": predictor.sha256,
        "selection": f"best validation worst-group AUC over {attribute} groups with >= {min_events} "
                     "positives and negatives (test split never used)",
        "best_epoch": fit.best_epoch,
        "best_validation_worst_group_auc": fit.best_score,
        "epochs_run": len(fit.history),
        "stopped_early": fit.stopped_early,
        "settings": settings.to_dict(),
        **details,
    }
    info = dict(tuned.info)
    info["mitigation"] = provenance
    tuned.info = info
    return tuned, provenance


def training_variants(
    *,
    model: str | Path,
    data: str | Path,
    label: str,
    sensitive: str | Sequence[str],
    methods: Sequence[str],
    out_dir: str | Path,
    target: str | Sequence[str] | None,
    threshold: float | None,
    threshold_settings: ThresholdSettings,
    training: Mapping[str, Any],
    seed: int,
    cluster: str | None,
    progress: Callable[[str], None],
    inputs: Mapping[str, Any] | None = None,
    model_config: str | Path | None = None,
    asked_all: bool = False,
) -> tuple[list[Variant], GroupThresholds | None, dict[str, Path], AuditDataset, tuple[str, ...]]:
    """Baseline, fine-tuned and re-thresholded variants of a model on its cohort.

    ``model`` is anything :func:`fairaudit.models.adapters.load_predictor` loads (with
    ``model_config``); only the built-in checkpoint can be fine-tuned, so another model gets the
    threshold methods only (``asked_all``: ``methods`` came from "all", and the fine-tuning ones
    are dropped instead of refused). ``inputs`` holds
    :func:`fairaudit.data.manifest.load_manifest`'s ``metadata``, ``on``, ``bins`` and
    ``pos_label``; quantile bins are taken on the validation split and every split gets the same
    cut points.
    """
    from fairaudit.data.binning import fixed_cuts
    from fairaudit.data.manifest import load_manifest
    from fairaudit.mitigation.threshold_variant import (
        pooled_threshold,
        resolve_target,
        threshold_variant,
    )
    from fairaudit.models.adapters import adapter_kind, load_predictor
    from fairaudit.models.checkpoint import save_model
    from fairaudit.models.training import TrainSettings

    predictor: Any = load_predictor(model, config=model_config)
    kind = adapter_kind(predictor)
    tuning = [m for m in methods if m not in ("threshold", "threshold-fairlearn")]
    if kind != "built-in" and tuning:
        if not asked_all:
            raise ConfigError(f"{', '.join(tuning)} fine-tune the built-in model; a {kind} model "
                              "takes `methods` threshold (or threshold-fairlearn) only.")
        methods = [m for m in methods if m not in tuning] or ["threshold"]
        progress(f"a {kind} model cannot be fine-tuned: {', '.join(tuning)} skipped")
    need_train = any(m not in ("threshold", "threshold-fairlearn") for m in methods)
    paths = resolve_cohort(data, need_train=need_train)
    loading = dict(inputs or {})
    loading["check_inputs"] = kind == "built-in"
    split = {"validation": load_manifest(paths["validation"], label=label, sensitive=sensitive,
                                         cluster=cluster, **loading)}
    if split["validation"].bins:
        loading["bins"] = fixed_cuts(split["validation"].bins)
    split.update({name: load_manifest(p, label=label, sensitive=sensitive, cluster=cluster, **loading)
                  for name, p in paths.items() if name != "validation" and (need_train or name != "train")})
    train, val, test = split.get("train"), split["validation"], split["test"]
    tgt = resolve_target(target, test)

    progress("scoring the baseline on validation and test")
    base_val = predictor.predict_proba(val)
    base_test = predictor.predict_proba(test)
    if threshold is not None:
        base_thr, base_source = float(threshold), "given (--threshold)"
    elif getattr(predictor, "threshold", None) is not None:
        origin = getattr(predictor, "threshold_origin", "checkpoint")
        base_thr, base_source = float(predictor.threshold), f"{origin} ({predictor.threshold_rule})"
    else:
        base_thr = pooled_threshold(val, base_val, threshold_settings.performance)
        base_source = f"chosen on validation rows (max {threshold_settings.performance})"
    variants = [Variant("baseline", base_test, base_thr, method="none", model_sha256=predictor.sha256,
                        provenance={"checkpoint": str(model), "checkpoint_sha256": predictor.sha256,
                                    "model_adapter": kind, "threshold": base_thr,
                                    "threshold_source": base_source})]

    fields = {f.name for f in dataclasses.fields(TrainSettings)}
    unknown = [k for k in training if k not in fields and k not in MITIGATION_KEYS]
    if unknown:
        raise ConfigError(
            f"unknown fine-tuning setting(s) {', '.join(unknown)}; known: "
            f"{', '.join(sorted(fields | set(MITIGATION_KEYS)))}."
        )
    settings = TrainSettings(**{**FINE_TUNE_DEFAULTS, **{k: v for k, v in training.items() if k in fields},
                                "seed": int(seed)})
    options = {k: training[k] for k in MITIGATION_KEYS if k in training}

    checkpoints: dict[str, Path] = {}
    out = Path(out_dir)
    for method in methods:
        if method in ("threshold", "threshold-fairlearn"):
            continue
        progress(f"fine-tuning with {method} ({settings.epochs} epochs at most)")
        tuned, prov = fine_tune_method(method, predictor, train, val, target=tgt, settings=settings,
                                       options=options)
        sha = save_model(tuned, out / method)
        checkpoints[method] = out / method
        progress(f"scoring {method} on validation and test")
        variants.append(Variant(
            method, tuned.predict_proba(test), float(tuned.threshold), method=method,
            model_sha256=sha,
            provenance={**prov, "checkpoint": str(out / method), "checkpoint_sha256": sha,
                        "threshold": float(tuned.threshold),
                        "threshold_source": f"re-chosen on validation ({tuned.threshold_rule})"},
        ))

    gt = None
    if "threshold" in methods:
        progress("fitting per-group thresholds on validation")
        tv, gt = threshold_variant(val, base_val, base_test, target=tgt, base_threshold=base_thr,
                                   settings=threshold_settings, model_sha256=predictor.sha256)
        variants.append(tv)
    if "threshold-fairlearn" in methods:
        from fairaudit.mitigation.fairlearn_reference import fairlearn_variant

        progress("fitting fairlearn's ThresholdOptimizer on validation (reference)")
        variants.append(fairlearn_variant(val, base_val, test, base_test, target=tgt,
                                          settings=threshold_settings, seed=seed,
                                          model_sha256=predictor.sha256))
    return variants, gt, checkpoints, test, tgt


__all__ = ["FINE_TUNE_DEFAULTS", "fine_tune_method", "resolve_cohort", "training_variants",
           "worst_group_auc_score"]
