"""The Python API: ``fairaudit.audit(...)`` returns a frozen :class:`AuditResult`.

The audit workflow (:mod:`fairaudit.workflows.audit`, behind ``fairaudit audit``) is built on
these functions: :func:`load_audit_data` (read and validate the table, run the model if one is
given) and :func:`audit_dataset` (compute, gate). They write nothing.
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from fairaudit._io import timestamp
from fairaudit._version import __version__, installed_versions
from fairaudit.data import AuditDataset, from_frame, load_table_dataset
from fairaudit.data.binning import BinsSpec
from fairaudit.data.dataset import missing_group
from fairaudit.data.split import load_split_dataset
from fairaudit.errors import ConfigError, InputError
from fairaudit.metrics import AuditConfig, GroupThresholdSpec, compute_audit
from fairaudit.result import AuditResult, DatasetInfo, GateOutcome, RunInfo, ThresholdInfo

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from fairaudit.gate.policy import Policy
    from fairaudit.group_thresholds import GroupThresholds
    from fairaudit.models.progress import Progress

DEFAULT_THRESHOLD = 0.5
DEFAULT_THRESHOLD_WARNING = (
    "the decision threshold is the default 0.5; choose it on validation data and pass "
    "--threshold (never tune it on the test set)."
)
_VERSIONED = ("numpy", "pandas", "scipy", "torch", "fairlearn", "aif360", "matplotlib", "jinja2")


@dataclass(frozen=True)
class LoadedData:
    """A validated dataset with scores, and where its threshold and model came from."""

    dataset: AuditDataset
    threshold: float | None
    threshold_source: str | None
    model_sha256: str | None
    model_adapter: str | None = None
    model_config_sha256: str | None = None


def _is_frame(obj: object) -> bool:
    """Whether ``obj`` is a pandas DataFrame (pandas is not imported for a file's audit)."""
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(obj, pd.DataFrame)


def load_audit_data(
    predictions: str | Path | pd.DataFrame | None = None,
    *,
    label: str,
    sensitive: str | list[str] | tuple[str, ...],
    score: str | None = None,
    data: str | Path | None = None,
    model: str | Path | Any | None = None,
    model_config: str | Path | None = None,
    cluster: str | None = None,
    progress: Progress | None = None,
    predict_options: dict[str, Any] | None = None,
    allow_many_groups: bool = False,
    split_column: str | None = None,
    split: str | None = None,
    metadata: str | Path | pd.DataFrame | None = None,
    on: str | None = None,
    bins: BinsSpec | None = None,
    score_type: str = "probability",
    pos_label: object | None = None,
) -> LoadedData:
    """Read a predictions table, or a manifest plus a model, into a scored dataset.

    Parameters
    ----------
    predictions : path or DataFrame, optional
        A table with label, score and demographic columns (any model's predictions).
    data, model : path, optional
        A manifest and a model: a fairaudit checkpoint, a TorchScript or ONNX file, a Python
        entry point ``package.module:factory`` (see :func:`fairaudit.models.adapters.load_predictor`),
        or any ``Predictor`` object; the model is run on the manifest in batches.
    model_config : path, optional
        The ``model.toml`` of a TorchScript or ONNX model (docs/adapters.md).
    progress : Progress, optional
        Told of the model's inference batches (:mod:`fairaudit.models.progress`).
    predict_options : dict, optional
        Keyword arguments for the model's ``predict_proba`` (for the built-in model:
        ``impute``, ``ddim_steps``, ``samples``, ``batch_size``).
    allow_many_groups : bool
        Accept sensitive columns that are refused by default: numeric with more than 20
        distinct values, or identifier-like (see :func:`fairaudit.data.dataset.check_group_count`).
    split_column, split : str, optional
        Audit only the rows of ``predictions`` whose ``split_column`` equals ``split`` (e.g.
        ``"split"``, ``"test"``); the dataset's hash is then ``"<file sha256>:<column>=<value>"``.
    metadata, on, bins, score_type, pos_label
        See :func:`audit`.
    """
    inputs: dict[str, Any] = {"metadata": metadata, "on": on, "bins": bins, "pos_label": pos_label}
    if (predictions is None) == (model is None):
        raise ConfigError("give either `predictions` (a table) or `model` with `data` (a manifest).")
    if model_config is not None and model is None:
        raise ConfigError("`model_config` goes with `model` (a TorchScript or ONNX file).")
    if split is None and split_column is not None:
        raise ConfigError(f"`split_column` {split_column} needs `split` (the split to audit).")
    if split is not None and predictions is None:
        raise ConfigError("`split` selects rows of a `predictions` table; with `model` give the "
                          "manifest of the split itself as `data`.")
    if predictions is not None:
        if data is not None:
            raise ConfigError("`data` goes with `model`; with `predictions` the table is the data.")
        score = score or "score"
        inputs["score_type"] = score_type
        if split is not None:
            ds = load_split_dataset(predictions, split_column or "split", split, label=label,
                                sensitive=sensitive, score=score, cluster=cluster,
                                allow_many_groups=allow_many_groups, inputs=inputs)
        elif _is_frame(predictions):
            ds = from_frame(cast("pd.DataFrame", predictions), label=label, sensitive=sensitive, score=score, cluster=cluster,
                            allow_many_groups=allow_many_groups, **inputs)
        else:
            ds = load_table_dataset(cast("str | Path", predictions), label=label, sensitive=sensitive, score=score,
                                    cluster=cluster, allow_many_groups=allow_many_groups, **inputs)
        return LoadedData(ds, None, None, None)

    if data is None:
        raise ConfigError("`model` needs `data`, a manifest (the studies to run the model on).")
    if score_type != "probability":
        raise ConfigError(f"`score_type` {score_type!r} describes the score column of `predictions`; "
                          "a model's scores are probabilities.")
    from fairaudit.data.manifest import load_manifest
    from fairaudit.models.adapters import adapter_kind, load_predictor

    predictor: Any
    if isinstance(model, str | Path):
        predictor = load_predictor(model, config=model_config)
    elif model_config is not None:
        raise ConfigError("`model_config` goes with a model file (`model` a path), not a model object.")
    else:
        predictor = model
    kind = adapter_kind(predictor)
    ds = load_manifest(data, label=label, sensitive=sensitive, cluster=cluster,
                       allow_many_groups=allow_many_groups,
                       check_inputs=kind in ("built-in", "python object"), **inputs)
    options = dict(predict_options or {})
    if options and kind != "built-in":
        raise ConfigError(f"model options ({', '.join(sorted(options))}) apply to the built-in "
                          "multimodal model only.")
    if kind in ("built-in", "torchscript", "onnx"):
        scores = predictor.predict_proba(ds, progress=progress, **options)
    else:
        scores = predictor.predict_proba(ds)
    if ds.modalities is None and callable(getattr(predictor, "modalities", None)):
        import dataclasses

        ds = dataclasses.replace(ds, modalities=predictor.modalities(ds))
    described = ", ".join(f"{k}={v}" for k, v in sorted(options.items()))
    ds = ds.with_scores(np.asarray(scores, dtype=np.float64),
                        f"model score ({described})" if described else "model score")
    thr = getattr(predictor, "threshold", None)
    rule = getattr(predictor, "threshold_rule", None)
    origin = getattr(predictor, "threshold_origin", "checkpoint")
    source = f"{origin} ({rule})" if rule else origin
    return LoadedData(ds, None if thr is None else float(thr), source if thr is not None else None,
                      getattr(predictor, "sha256", None), kind,
                      getattr(predictor, "config_sha256", None))


MIN_RESAMPLES = 100
"""The fewest bootstrap replicates or permutations that are allowed (0 turns them off)."""

MIN_CLUSTERS = 20
"""Below this many patients (``--cluster``) the patient-level bootstrap is unreliable."""


def check_resamples(value: int, option: str) -> None:
    """The one rule for ``n_bootstrap`` and ``n_permutations``: 0 (off) or at least 100.

    ``option`` names the parameter in the message (e.g. ``"`n_bootstrap`"``; the CLI shows
    the flag).

    Fewer replicates give intervals and p-values too coarse to act on (a p-value from 20
    permutations cannot go below 0.048).

    Raises
    ------
    ConfigError
        ``value`` is negative or between 1 and 99.
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or (
            value != 0 and not value >= MIN_RESAMPLES):
        raise ConfigError(f"{option} must be 0 (off) or at least {MIN_RESAMPLES}; got {value}.")


def check_seed(seed: int) -> None:
    """A seed is a whole number, 0 or more (what numpy's generators accept).

    Raises
    ------
    ConfigError
        ``seed`` is negative or not an integer.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"`seed` must be a whole number, 0 or more; got {seed}.")


def _check_config(config: AuditConfig) -> None:
    if not 0.0 <= config.threshold <= 1.0:
        raise ConfigError(f"`threshold` must be in [0, 1]; got {config.threshold}.")
    check_seed(config.seed)
    check_resamples(config.n_bootstrap, "`n_bootstrap`")
    check_resamples(config.n_permutations, "`n_permutations`")
    if not 0.0 < config.confidence_level < 1.0:
        raise ConfigError(f"`confidence_level` must be between 0 and 1 (e.g. 0.95); got {config.confidence_level}.")
    if config.min_group_size < 0 or config.min_group_events < 0:
        raise ConfigError("`min_group_size` and `min_group_events` must be 0 or more.")
    if config.jobs < 0:
        raise ConfigError(f"`jobs` must be 0 (every core) or a number of threads; got {config.jobs}.")


def _package_versions() -> dict[str, str]:
    from fairaudit.metrics import kernels

    out = {"python": platform.python_version(), "fairaudit": __version__,
           "fairaudit kernels": kernels.description()}
    out.update(installed_versions(_VERSIONED))
    return out


def _fitted_rows_warning(
    group_thresholds: GroupThresholds | GroupThresholdSpec | str | Path | None, dataset: AuditDataset,
    warnings: list[str],
) -> GroupThresholds | GroupThresholdSpec | None:
    """Load a thresholds file; warn (into ``warnings``) when ``dataset`` is what it was fitted on."""
    if group_thresholds is None:
        return None
    from fairaudit.group_thresholds import GroupThresholds, fitted_rows_overlap

    if isinstance(group_thresholds, str | Path):
        group_thresholds = GroupThresholds.load(group_thresholds)
    provenance = getattr(group_thresholds, "provenance", None)
    overlap = fitted_rows_overlap(provenance, dataset.sha256) if provenance else None
    if overlap:
        warnings.append(overlap)
    return group_thresholds


def _threshold_spec(
    group_thresholds: GroupThresholds | GroupThresholdSpec | str | Path | None,
) -> GroupThresholdSpec | None:
    if group_thresholds is None or isinstance(group_thresholds, GroupThresholdSpec):
        return group_thresholds
    if isinstance(group_thresholds, str | Path):
        from fairaudit.group_thresholds import GroupThresholds

        group_thresholds = GroupThresholds.load(group_thresholds)
    return GroupThresholdSpec(
        attribute=group_thresholds.attribute,
        thresholds=dict(group_thresholds.thresholds),
        default=getattr(group_thresholds, "default", None),
    )


def audit_dataset(
    dataset: AuditDataset,
    *,
    threshold: float | None = None,
    threshold_source: str | None = None,
    group_thresholds: GroupThresholds | GroupThresholdSpec | str | Path | None = None,
    n_bootstrap: int = 1000,
    confidence_level: float = 0.95,
    seed: int = 0,
    min_group_size: int = 30,
    min_group_events: int = 10,
    n_permutations: int = 1000,
    intersections: bool = True,
    jobs: int = 0,
    policy: Policy | str | Path | None = None,
    model_sha256: str | None = None,
    command: str | None = None,
    progress: Callable[[int], None] | None = None,
    cross_check: bool = False,
    model_adapter: str | None = None,
    model_config_sha256: str | None = None,
) -> AuditResult:
    """Audit a scored :class:`AuditDataset` (see :func:`audit` for the parameters).

    ``model_adapter`` and ``model_config_sha256`` are recorded in ``result.run`` (which kind of
    model produced the scores, and the hash of its ``model.toml``).
    """
    if dataset.scores is None:
        raise InputError(f"{dataset.source} carries no scores; give `score` (a column) or a model.")
    warnings: list[str] = []
    group_thresholds = _fitted_rows_warning(group_thresholds, dataset, warnings)
    spec = _threshold_spec(group_thresholds)
    if threshold is None and spec is not None and spec.default is not None:
        threshold, threshold_source = spec.default, f"per-group thresholds on '{spec.attribute}' (default for other groups)"
    if threshold is None:
        threshold, threshold_source = DEFAULT_THRESHOLD, "default (not chosen on validation data)"
        warnings.append(DEFAULT_THRESHOLD_WARNING)
    config = AuditConfig(
        threshold=float(threshold), n_bootstrap=int(n_bootstrap),
        confidence_level=float(confidence_level), seed=int(seed),
        min_group_size=int(min_group_size), min_group_events=int(min_group_events),
        n_permutations=int(n_permutations), intersections=bool(intersections), jobs=int(jobs),
    )
    _check_config(config)
    created = timestamp()
    parts = compute_audit(
        dataset.labels, dataset.scores, dataset.group_codes, dataset.group_names,
        dataset.attributes, config, clusters=dataset.clusters, group_thresholds=spec,
        modalities=dataset.modalities, progress=progress,
    )
    warnings.extend(_grouping_warnings(dataset, parts.n_clusters))
    n_insufficient = sum(1 for g in parts.groups if g.status == "insufficient")
    if n_insufficient:
        warnings.append(
            f"{n_insufficient} groups are too small to judge (fewer than {config.min_group_size} "
            f"rows or {config.min_group_events} positives/negatives); their criteria are 'insufficient'."
        )
    unit = "row" if parts.bootstrap_unit == "row" else f"patient ({dataset.cluster_column})"
    result = _assemble(
        parts, config, created=created, data_sha256=dataset.sha256, bootstrap_unit=unit,
        command=command, warnings=tuple(warnings),
        model=dict(model_sha256=model_sha256, model_adapter=model_adapter,
                   model_config_sha256=model_config_sha256),
        dataset=DatasetInfo(
            n_rows=dataset.n_rows, n_used=dataset.n_rows, n_excluded=0,
            label=dataset.label_column, attributes=dataset.attributes,
            intersections=parts.intersections, source=dataset.source,
            unknown_counts=dict(dataset.unknown_counts), n_clusters=parts.n_clusters,
            score=dataset.score_column, score_type=dataset.score_type, pos_label=dataset.pos_label,
            metadata=dataset.metadata, n_unmatched_metadata=dataset.n_unmatched_metadata,
            bins=dict(dataset.bins) or None,
        ),
        threshold=ThresholdInfo(
            value=config.threshold,
            source=threshold_source or "given",
            group_thresholds=dict(spec.thresholds) if spec else None,
            group_attribute=spec.attribute if spec else None,
        ),
    )
    if cross_check:
        result = _cross_checked(result, dataset, config.threshold, spec)
    return _gated(result, policy)


def _assemble(parts: Any, config: AuditConfig, *, created: str, data_sha256: str,
              bootstrap_unit: str, dataset: DatasetInfo, threshold: ThresholdInfo,
              command: str | None, warnings: tuple[str, ...], model: dict | None = None,
              p_value_method: str | None = None, interval_method: str | None = None) -> AuditResult:
    """The (ungated) result of audit parts: the run record, the dataset, every estimate."""
    return AuditResult(
        run=RunInfo(
            created=created, seed=config.seed, n_bootstrap=config.n_bootstrap,
            confidence_level=config.confidence_level, data_sha256=data_sha256,
            **(model or {"model_sha256": None}), tool_version=__version__, command=command,
            bootstrap_unit=bootstrap_unit, min_group_size=config.min_group_size,
            min_group_events=config.min_group_events,
            p_value_method=p_value_method or _p_value_method(config),
            interval_method=interval_method or _interval_method(config),
            package_versions=_package_versions(),
        ),
        dataset=dataset, threshold=threshold, overall=parts.overall, groups=parts.groups,
        criteria=parts.criteria, summaries=parts.summaries, curves=parts.curves,
        warnings=tuple(warnings) + tuple(parts.warnings),
    )


def _gated(result: AuditResult, policy: Any) -> AuditResult:
    if policy is None:
        return result.with_gate(GateOutcome(status="not_run"))
    from fairaudit.gate import evaluate, load_policy

    pol = load_policy(policy) if isinstance(policy, str | Path) else policy
    return result.with_gate(evaluate(result, pol))


def _cross_checked(result: AuditResult, dataset: AuditDataset, threshold: float,
                   spec: GroupThresholdSpec | None) -> AuditResult:
    """The result with ``run.cross_check`` (see :mod:`fairaudit.crosscheck`)."""
    import dataclasses

    from fairaudit.crosscheck import cross_check, row_decisions

    check = cross_check(result, dataset, row_decisions(dataset, threshold, spec))
    return dataclasses.replace(result, run=dataclasses.replace(result.run, cross_check=check))


def _grouping_warnings(dataset: AuditDataset, n_clusters: int | None) -> list[str]:
    """Warnings about missing demographics and too few patients for the cluster bootstrap."""
    out = []
    if dataset.metadata is not None and dataset.n_unmatched_metadata:
        m = dataset.metadata
        out.append(
            f"{dataset.n_unmatched_metadata} of {dataset.n_rows} rows have no match in "
            f"{m.source} ({m.key} = {m.metadata_key}); their {', '.join(m.columns)} are unknown."
        )
    for attr, n_unknown in dataset.unknown_counts.items():
        if n_unknown:
            out.append(
                f"{n_unknown} rows have no value for '{attr}'; they form the group "
                f"'{missing_group(dataset.group_names[dataset.attributes.index(attr)])}'."
            )
    if dataset.clusters is not None and n_clusters is not None and n_clusters < MIN_CLUSTERS:
        out.append(few_clusters_warning(str(dataset.cluster_column)))
    return out


def few_clusters_warning(column: str) -> str:
    """The warning of a patient bootstrap over fewer than :data:`MIN_CLUSTERS` patients."""
    return (f"--cluster '{column}' has fewer than {MIN_CLUSTERS} patients "
            "(clusters); with so few the patient-level bootstrap intervals are unreliable.")


def _interval_method(config: AuditConfig) -> str | None:
    from fairaudit.metrics.simultaneous import INTERVAL_METHOD

    return None if config.n_bootstrap == 0 else f"{INTERVAL_METHOD} ({config.n_bootstrap} replicates)"


def _p_value_method(config: AuditConfig) -> str | None:
    from fairaudit.metrics.significance import PERMUTATION_METHOD, permutation_rule

    if config.n_permutations == 0:
        return None
    return f"{PERMUTATION_METHOD}; {permutation_rule(config.n_permutations)}"


def audit(
    predictions: str | Path | pd.DataFrame | None = None,
    *,
    label: str,
    sensitive: str | list[str] | tuple[str, ...],
    score: str | None = None,
    data: str | Path | None = None,
    model: str | Path | Any | None = None,
    model_config: str | Path | None = None,
    threshold: float | None = None,
    group_thresholds: GroupThresholds | GroupThresholdSpec | str | Path | None = None,
    n_bootstrap: int = 1000,
    confidence_level: float = 0.95,
    seed: int = 0,
    cluster: str | None = None,
    min_group_size: int = 30,
    min_group_events: int = 10,
    n_permutations: int = 1000,
    intersections: bool = True,
    jobs: int = 0,
    policy: Policy | str | Path | None = None,
    predict_options: dict[str, Any] | None = None,
    allow_many_groups: bool = False,
    split_column: str | None = None,
    split: str | None = None,
    cross_check: bool = False,
    metadata: str | Path | pd.DataFrame | None = None,
    on: str | None = None,
    bins: BinsSpec | None = None,
    score_type: str = "probability",
    pos_label: object | None = None,
) -> AuditResult:
    """Audit a model's predictions for fairness across protected groups.

    Parameters
    ----------
    predictions : path or DataFrame, optional
        Predictions table (CSV/Parquet path or DataFrame) with label, score and demographics.
    label : str
        Binary label column (1 = disease present).
    sensitive : str or list of str
        Protected attribute columns; each alone and every intersection is audited.
    score : str, optional
        Score column (probabilities in [0, 1], or logits with ``score_type="logit"``); default
        ``"score"``.
    data, model : path, optional
        A manifest and a model instead of ``predictions``: a fairaudit checkpoint folder, a
        TorchScript file, an ONNX file, a Python entry point ``package.module:factory`` (imports
        and runs that code), or any object with ``predict_proba(dataset)``.
    model_config : path, optional
        With a TorchScript or ONNX model: its ``model.toml`` (which manifest columns feed which
        input, and the output); see docs/adapters.md. An entry point's factory receives its path.
    threshold : float, optional
        Decision threshold (``score >= threshold`` is positive). Defaults to the model's
        validation threshold, else 0.5 with a warning.
    group_thresholds : path or GroupThresholds, optional
        Per-group thresholds (from ``fairaudit mitigate --method threshold``).
    n_bootstrap, confidence_level, seed, cluster
        Percentile bootstrap intervals (``n_bootstrap`` is 0 for none or at least 100; ``seed``
        is 0 or more); ``cluster`` resamples whole patients (fewer than 20 of them warns).
    min_group_size, min_group_events
        Groups below these are ``insufficient``.
    n_permutations : int
        Permutations for criterion p-values (q-values are Benjamini-Hochberg): 0 for none or
        at least 100, the same rule as ``n_bootstrap``.
    jobs : int
        Threads for the bootstrap (0: every core, at most 8); no number depends on it.
    policy : path or Policy, optional
        A gate policy; the outcome is in ``result.gate``.
    predict_options : dict, optional
        With the built-in model: ``impute`` ("diffusion" or "fallback"), ``ddim_steps``,
        ``samples`` (imputations averaged), ``batch_size``.
    allow_many_groups : bool
        Audit a sensitive column even when it is numeric with more than 20 distinct values or
        looks like an identifier (refused by default: bin it first).
    split_column, split : str, optional
        Audit one split of ``predictions``: the rows whose ``split_column`` (default
        ``"split"``) equals ``split``. An unknown value is an :class:`InputError` listing the
        column's values.
    cross_check : bool
        Recompute every per-group selection rate, TPR, FPR and accuracy, and every
        fairlearn-defined criterion, with fairlearn and aif360; the record is
        ``result.run.cross_check``. A difference above 1e-9 raises
        :class:`fairaudit.crosscheck.CrossCheckError`.
    metadata, on : optional
        Take the sensitive (and ``cluster``) columns from a separate table (CSV/Parquet path or
        DataFrame, one row per key), joined on ``on``: ``"patient_id"``, or
        ``"pred_col=meta_col"`` when the names differ. Rows without a match keep their rows
        with every joined attribute ``unknown``; their number is
        ``result.dataset.n_unmatched_metadata``. Duplicate metadata keys, a missing key column,
        or a named column in both tables raise :class:`InputError`.
    bins : str, list of str or mapping, optional
        Bin numeric sensitive columns: ``"age=40,60,80"`` (groups ``< 40``, ``[40, 60)``,
        ``[60, 80)``, ``>= 80``), ``"age=q4"`` (quartiles), a list of such strings, or
        ``{"age": [40, 60, 80]}``. Cut points are in ``result.dataset.bins``.
    score_type : {"probability", "logit"}
        What the score column holds; logits are turned into probabilities by the logistic
        function. Probabilities outside [0, 1] are an :class:`InputError`.
    pos_label : optional
        For text labels ("disease" / "healthy"): the positive value; the other becomes 0. A
        label column with more than two values, or without ``pos_label``, is an InputError.

    Returns
    -------
    AuditResult
    """
    loaded = load_audit_data(predictions, label=label, sensitive=sensitive, score=score,
                             data=data, model=model, model_config=model_config, cluster=cluster,
                             predict_options=predict_options, allow_many_groups=allow_many_groups,
                             split_column=split_column, split=split, metadata=metadata, on=on,
                             bins=bins, score_type=score_type, pos_label=pos_label)
    thr, source = (threshold, "given") if threshold is not None else (loaded.threshold, loaded.threshold_source)
    return audit_dataset(
        loaded.dataset, threshold=thr, threshold_source=source, group_thresholds=group_thresholds,
        n_bootstrap=n_bootstrap, confidence_level=confidence_level, seed=seed,
        min_group_size=min_group_size, min_group_events=min_group_events,
        n_permutations=n_permutations, intersections=intersections, jobs=jobs, policy=policy,
        model_sha256=loaded.model_sha256, cross_check=cross_check,
        model_adapter=loaded.model_adapter, model_config_sha256=loaded.model_config_sha256,
    )




def result_from_parts(
    parts: Any,
    config: AuditConfig,
    *,
    dataset: DatasetInfo,
    data_sha256: str,
    threshold_source: str,
    bootstrap_unit: str,
    p_value_method: str | None = None,
    interval_method: str | None = None,
    command: str | None = None,
    warnings: tuple[str, ...] = (),
    policy: Any = None,
) -> AuditResult:
    """An :class:`AuditResult` from audit parts computed elsewhere (merged statistics), gated.

    ``p_value_method`` and ``interval_method`` default to those of :func:`audit_dataset`;
    ``warnings`` come before the parts' own.
    """
    _check_config(config)
    result = _assemble(parts, config, created=timestamp(), data_sha256=data_sha256,
                       bootstrap_unit=bootstrap_unit, dataset=dataset,
                       threshold=ThresholdInfo(value=config.threshold, source=threshold_source),
                       command=command, warnings=tuple(warnings), p_value_method=p_value_method,
                       interval_method=interval_method)
    return _gated(result, policy)
