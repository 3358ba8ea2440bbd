"""The ``fairaudit mitigate`` workflow: mitigate, re-audit on test, compare, write.

Two entry points:

- a fairaudit checkpoint and a cohort (``model=``, ``data=``): every method applies; the
  training-time ones fine-tune the model on the training split, select the checkpoint on
  validation worst-group AUC and save it with its provenance;
- any model's predictions (``predictions=``): threshold adjustment only. The validation rows come
  from ``val_predictions=`` or from the rows of ``predictions`` whose ``split`` column says
  validation; the others (``split == "test"``) are the test rows.

Thresholds are always fitted on validation rows and judged on test rows. The fine-tuning runs
are :mod:`fairaudit.workflows.fine_tune`; the before/after audits
:mod:`fairaudit.workflows.before_after`; the estimators themselves live in
:mod:`fairaudit.mitigation`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from fairaudit.comparison_result import Comparison, Variant
from fairaudit.errors import ConfigError, InputError
from fairaudit.group_thresholds import GroupThresholds
from fairaudit.mitigation.threshold_variant import (
    ThresholdSettings,
    columns,
    pooled_threshold,
    resolve_target,
    threshold_variant,
)
from fairaudit.naming import attribute_label
from fairaudit.workflows.before_after import compare_variants
from fairaudit.workflows.fine_tune import TRAINING_MITIGATIONS

if TYPE_CHECKING:  # pragma: no cover
    from fairaudit.data import AuditDataset

OUTPUT_FILES = ("comparison.json", "comparison.md", "comparison.html", "thresholds.json")
"""What :func:`write_outputs` may write into the output folder."""
TRAINING_METHODS: tuple[str, ...] = tuple(TRAINING_MITIGATIONS)
THRESHOLD_METHODS = ("threshold", "threshold-fairlearn")
METHODS = (*TRAINING_METHODS, *THRESHOLD_METHODS)
ALL_METHODS = (*TRAINING_METHODS, "threshold")
"""What ``--method all`` runs (the fairlearn reference variant is asked for by name)."""
VALIDATION_SPLITS = ("val", "valid", "validation", "dev")
TEST_SPLITS = ("test",)


def parse_methods(spec: str | Sequence[str]) -> tuple[str, ...]:
    """``"all"`` (:data:`ALL_METHODS`) or a comma-separated subset of :data:`METHODS`, in order."""
    items = [spec] if isinstance(spec, str) else list(spec)
    names = [m.strip().lower() for item in items for m in str(item).split(",") if m.strip()]
    if not names:
        raise ConfigError(f"`methods` needs one of {', '.join(METHODS)} or all.")
    if "all" in names:
        return ALL_METHODS + tuple(m for m in METHODS if m in names and m not in ALL_METHODS)
    bad = [m for m in names if m not in METHODS]
    if bad:
        raise ConfigError(
            f"`methods` must be one of {', '.join(METHODS)} or all (comma-separated); got "
            f"{', '.join(map(repr, bad))}."
        )
    return tuple(m for m in METHODS if m in names)


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
    inputs: Mapping[str, Any] | None = None,
) -> tuple[AuditDataset, AuditDataset]:
    """Validation and test datasets from predictions table(s).

    The validation rows are, in order of precedence: the ``val_predictions`` file; a random
    ``val_fraction`` of the patients (``cluster`` column) or rows, drawn with ``seed``; the rows
    whose ``split_column`` says val/validation (the rows saying test are the test rows).
    ``inputs`` holds :func:`fairaudit.data.from_frame`'s ``metadata``, ``on``, ``bins``,
    ``score_type`` and ``pos_label``; quantile bins are taken on the validation rows and the
    test rows get the same cut points.
    """
    from fairaudit.data import load_table_dataset, read_table

    score = score or "score"
    inputs = dict(inputs or {})
    if val_predictions is not None:
        val = load_table_dataset(val_predictions, label=label, sensitive=list(columns(sensitive)),
                                 score=score, cluster=cluster, what="validation predictions file",
                                 **inputs)
        test = load_table_dataset(predictions, label=label, sensitive=list(columns(sensitive)),
                                  score=score, cluster=cluster, what="predictions file",
                                  **_same_bins(inputs, val))
        return val, test
    p = Path(predictions)
    frame = read_table(p, "predictions file")
    if val_fraction is not None:
        if not 0.0 < val_fraction < 1.0:
            raise ConfigError(f"`val_fraction` must be between 0 and 1; got {val_fraction}.")
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
            raise InputError(f"`val_fraction` {val_fraction:g} left no validation or no test rows in '{p}'.")
        return _split_frame(frame, p, is_val, is_test, label, sensitive, score, cluster, found, inputs)
    if split_column not in frame.columns:
        raise InputError(
            f"predictions file '{p}' has no '{split_column}' column to tell validation rows from "
            "test rows; add one (values val/test), name it with `split_column`, or give the "
            "validation predictions separately with `val_predictions`."
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
                        f"column '{split_column}'", inputs)


def _same_bins(inputs: dict[str, Any], val: AuditDataset) -> dict[str, Any]:
    """``inputs`` with the validation rows' cut points (quantiles are not re-taken on test)."""
    from fairaudit.data.binning import fixed_cuts

    return {**inputs, "bins": fixed_cuts(val.bins) or None} if val.bins else inputs


def _split_frame(frame: pd.DataFrame, p: Path, is_val: np.ndarray, is_test: np.ndarray, label: str,
                 sensitive: str | Sequence[str], score: str, cluster: str | None,
                 how: str, inputs: dict[str, Any]) -> tuple[AuditDataset, AuditDataset]:
    from fairaudit.data import from_frame
    from fairaudit.data.tables import file_sha256

    sha = file_sha256(p)
    out: list[AuditDataset] = []
    for mask, name in ((is_val, "validation"), (is_test, "test")):
        sub = frame.loc[mask].reset_index(drop=True)
        options = _same_bins(inputs, out[0]) if out else inputs
        out.append(from_frame(sub, label=label, sensitive=list(columns(sensitive)), score=score,
                              cluster=cluster, source=f"{name} rows of '{p}' (split by {how})",
                              root=p.resolve().parent, sha256=f"{sha}:{name}", **options))
    return out[0], out[1]


# --------------------------------------------------------------------------------------------
# The whole run
# --------------------------------------------------------------------------------------------


def _check_sources(model: object, predictions: object, model_config: object,
                   threshold: float | None) -> None:
    """Exactly one of ``model`` and ``predictions``; ``model_config`` only with ``model``."""
    if (model is None) == (predictions is None):
        raise ConfigError("give either `model` (a checkpoint) with `data` (a cohort), or `predictions` (a table).")
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"`threshold` must be in [0, 1]; got {threshold}.")
    if model_config is not None and model is None:
        raise ConfigError("`model_config` goes with `model` (a TorchScript or ONNX file).")


def mitigate(
    *,
    label: str,
    sensitive: str | Sequence[str],
    out_dir: str | Path,
    methods: str | Sequence[str] = "all",
    model: str | Path | None = None,
    data: str | Path | None = None,
    model_config: str | Path | None = None,
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
    metadata: str | Path | pd.DataFrame | None = None,
    on: str | None = None,
    bins: Any = None,
    score_type: str = "probability",
    pos_label: object | None = None,
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
        A model and its cohort (manifest or folder with train/val/test splits). The model is
        a fairaudit checkpoint (every method) or any model ``load_predictor`` takes: a
        TorchScript or ONNX file with ``model_config``, or a Python entry point (threshold
        methods only).
    model_config : path, optional
        The ``model.toml`` of a TorchScript or ONNX ``model``.
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
    metadata, on, bins, score_type, pos_label
        As in :func:`fairaudit.audit` (``score_type`` for ``predictions`` only). Quantile bins
        are taken on the validation rows; every split gets the same cut points.
    """
    inputs = _input_options(metadata, on, bins, pos_label, score_type, predictions)
    chosen = parse_methods(methods)
    settings = thresholds or ThresholdSettings()
    say = progress or (lambda _msg: None)
    out = Path(out_dir)
    _check_sources(model, predictions, model_config, threshold)
    asked_all = "all" in [m.strip().lower() for m in (
        methods.split(",") if isinstance(methods, str) else map(str, methods))]

    if predictions is not None:
        if data is not None:
            raise ConfigError("`data` goes with `model`; with `predictions` the table is the data.")
        training_asked = [m for m in chosen if m in TRAINING_METHODS]
        if training_asked and not asked_all:
            raise ConfigError(f"{', '.join(training_asked)} re-train the model and need `model` and "
                              "`data`; with `predictions` only `methods` threshold (or "
                              "threshold-fairlearn) applies.")
        chosen = tuple(m for m in chosen if m in THRESHOLD_METHODS) or ("threshold",)
        variants, gt, test, tgt = _prediction_variants(
            predictions, chosen, label=label, sensitive=sensitive, score=score,
            val_predictions=val_predictions, split_column=split_column, cluster=cluster,
            val_fraction=val_fraction, seed=seed, target=target, threshold=threshold,
            settings=settings, say=say, inputs={**inputs, "score_type": score_type},
        )
        checkpoints: dict[str, Path] = {}
    else:
        if data is None or model is None:  # model is given here: exactly one of the two is
            raise ConfigError("`model` needs `data` (the cohort with train/val/test splits).")
        from fairaudit.workflows.fine_tune import training_variants

        variants, gt, checkpoints, test, tgt = training_variants(
            model=model, data=data, label=label, sensitive=sensitive, methods=chosen,
            out_dir=out / "checkpoints", target=target, threshold=threshold,
            threshold_settings=settings, training=dict(training or {}), seed=seed,
            cluster=cluster, progress=say, inputs=inputs, model_config=model_config,
            asked_all=asked_all,
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
    warnings = tuple(w for v in variants if (w := v.provenance.get("warning"))) + _unmatched(test)
    if warnings:
        import dataclasses

        comparison = dataclasses.replace(comparison, warnings=comparison.warnings + warnings)
    return MitigationResult(comparison=comparison, group_thresholds=gt, checkpoints=checkpoints)


def _input_options(metadata: Any, on: str | None, bins: Any, pos_label: object | None,
                   score_type: str, predictions: Any) -> dict[str, Any]:
    """The loading options shared by every split (``score_type`` is added for predictions)."""
    if score_type != "probability" and predictions is None:
        raise ConfigError(f"`score_type` {score_type!r} describes the score column of `predictions`; "
                          "a model's scores are probabilities.")
    return {"metadata": metadata, "on": on, "bins": bins, "pos_label": pos_label}


def _unmatched(test: AuditDataset) -> tuple[str, ...]:
    """The warning about test rows without a match in the metadata, if any."""
    if test.metadata is None or not test.n_unmatched_metadata:
        return ()
    return (f"{test.n_unmatched_metadata} of {test.n_rows} test rows have no match in "
            f"{test.metadata.source}; their {', '.join(test.metadata.columns)} are unknown.",)


def _prediction_variants(
    predictions: str | Path,
    chosen: Sequence[str],
    *,
    label: str,
    sensitive: str | Sequence[str],
    score: str | None,
    val_predictions: str | Path | None,
    split_column: str,
    cluster: str | None,
    val_fraction: float | None,
    seed: int,
    target: str | Sequence[str] | None,
    threshold: float | None,
    settings: ThresholdSettings,
    say: Callable[[str], None],
    inputs: Mapping[str, Any] | None = None,
) -> tuple[list[Variant], GroupThresholds | None, AuditDataset, tuple[str, ...]]:
    """The baseline and threshold variants of a predictions table (see :func:`mitigate`).

    Returns the variants, the fitted thresholds (None without ``threshold``), the test rows
    and the target attributes.
    """
    val, test = split_predictions(predictions, label=label, sensitive=sensitive, score=score,
                                  val_predictions=val_predictions, split_column=split_column,
                                  cluster=cluster, val_fraction=val_fraction, seed=seed,
                                  inputs=inputs)
    tgt = resolve_target(target, val)
    val_scores, test_scores = val.require_scores(), test.require_scores()
    base_thr = threshold if threshold is not None else pooled_threshold(
        val, val_scores, settings.performance)
    base = Variant("baseline", test_scores, base_thr, method="none", provenance={
        "threshold": base_thr,
        "threshold_source": "given" if threshold is not None
        else f"chosen on validation rows (max {settings.performance})",
    })
    variants = [base]
    gt = None
    if "threshold" in chosen:
        say("fitting per-group thresholds on validation rows")
        rows = _fitted_rows(predictions, val_predictions, split_column, val_fraction, seed, val)
        tv, gt = threshold_variant(val, val_scores, test_scores, target=tgt,
                                   base_threshold=base_thr, settings=settings, fitted_rows=rows)
        variants.append(tv)
    if "threshold-fairlearn" in chosen:
        from fairaudit.mitigation.fairlearn_reference import fairlearn_variant

        say("fitting fairlearn's ThresholdOptimizer on validation rows (reference)")
        variants.append(fairlearn_variant(val, val_scores, test, test_scores, target=tgt,
                                          settings=settings, seed=seed))
    return variants, gt, test, tgt


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


def write_outputs(result: MitigationResult, out_dir: str | Path, *,
                  inputs: Sequence[tuple[str, Path | None]] = (),
                  what: str = "{name}") -> dict[str, Path]:
    """Write comparison.json, comparison.md, comparison.html and thresholds.json to ``out_dir``.

    Everything is rendered before the first file is written, and the files are written all or
    nothing (:func:`fairaudit._io.write_files`), never over one of ``inputs`` (label, path).
    ``what`` is how error messages name a file (``{name}`` is its file name).
    """
    from fairaudit._io import write_files
    from fairaudit.report.comparison import render_comparison_html

    out = Path(out_dir)
    files: dict[str, str] = {
        "comparison.json": result.comparison.to_json(),
        "comparison.md": result.comparison.to_markdown(),
        "comparison.html": render_comparison_html(result.comparison),
    }
    if result.group_thresholds is not None:
        files["thresholds.json"] = result.group_thresholds.to_json()
    out.mkdir(parents=True, exist_ok=True)
    write_files([(what.format(name=name), out / name, text) for name, text in files.items()],
                inputs)
    return {name: out / name for name in files}


__all__ = [
    "METHODS",
    "OUTPUT_FILES",
    "MitigationResult",
    "ThresholdSettings",
    "mitigate",
    "parse_methods",
    "pooled_threshold",
    "split_predictions",
    "threshold_variant",
    "write_outputs",
]
