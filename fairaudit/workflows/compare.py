"""``fairaudit compare``: a candidate against the deployed model on the same patients.

Load both sides (a predictions table each, or a model run on one shared ``data`` manifest),
pair their rows (on an ID column, or by position on one shared file), give each side its own
decision threshold, run the paired engine (:func:`fairaudit.metrics.paired.paired_changes`:
the same resampled patients for both models), judge the policy's ``[[change]]`` rules
(:mod:`fairaudit.gate.change`) and return a :class:`~fairaudit.result_paired.CompareResult`.
Nothing is written here; the CLI renders and writes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fairaudit.errors import ConfigError, InputError
from fairaudit.result_paired import CompareResult, CompareSide

ROLES = ("baseline", "candidate")


@dataclass(frozen=True)
class SideSpec:
    """One side as the user gave it.

    Attributes
    ----------
    path : Path
        A predictions table (CSV/TSV/Parquet with a score column) or a model to run on the
        shared data: anything ``--model`` takes (a fairaudit checkpoint folder, a TorchScript
        or ONNX file with ``model_config``, or ``package.module:factory``).
    score : str, optional
        Score column of a predictions table (default ``"score"``).
    threshold : float, optional
        Decision threshold (default: the checkpoint's, else 0.5 with a warning).
    group_thresholds : Path, optional
        Per-group thresholds file (``fairaudit mitigate --method threshold``).
    predict_options : mapping, optional
        Options of the built-in model's ``predict_proba``.
    model_config : Path, optional
        The ``model.toml`` of a TorchScript or ONNX model (:mod:`fairaudit.models.adapters`).
    """

    path: Path
    score: str | None = None
    threshold: float | None = None
    group_thresholds: Path | None = None
    predict_options: Mapping[str, Any] | None = None
    model_config: Path | None = None


@dataclass(frozen=True)
class _Scored:
    scores: np.ndarray
    kind: str
    source: str
    sha256: str | None
    score: str | None
    threshold: float | None = None  # the checkpoint's
    threshold_source: str | None = None


def is_model(path: Path) -> bool:
    """A table is a CSV, TSV or Parquet path (compressed CSV too); anything else is a model."""
    from fairaudit.data.tables import table_format

    return table_format(Path(path)) == ""


def _run_model(spec: SideSpec, data: Path, *, label: str, sensitive: str, cluster: str | None,
               allow_many_groups: bool, progress: Any = None):
    from fairaudit.api import load_audit_data

    loaded = load_audit_data(model=spec.path, data=data, label=label, sensitive=sensitive,
                             cluster=cluster, predict_options=dict(spec.predict_options or {}),
                             allow_many_groups=allow_many_groups, progress=progress,
                             model_config=spec.model_config)
    ds = loaded.dataset
    return ds, _Scored(ds.require_scores(), "model", str(spec.path), loaded.model_sha256, None,
                       loaded.threshold, loaded.threshold_source)


def _join_table(spec: SideSpec, role: str, shared, *, id_column: str | None, label: str) -> _Scored:
    """Scores of a predictions table, in the order of ``shared``'s rows."""
    from fairaudit.data.dataset import validate_labels, validate_scores
    from fairaudit.data.pairing import id_values, pair_ids
    from fairaudit.data.tables import file_sha256, read_table, require_columns

    source = f"{role} predictions '{spec.path}'"
    frame = read_table(spec.path, f"{role} predictions")
    score = spec.score or "score"
    require_columns(frame, [score], source, f"`{role}_score`")
    if id_column is None:
        if not _same_path(spec.path, shared.source_path):
            raise ConfigError(f"give `id_column` to pair the rows of {source} with {shared.source}; "
                              "without it only one shared file (two score columns) can be paired.")
        idx = np.arange(len(frame))
    else:
        idx = pair_ids(id_values(shared.frame, id_column, shared.source),
                       id_values(frame, id_column, source),
                       reference_source=shared.source, other_source=source)
    scores = validate_scores(frame[score], source, score)[idx]
    if label in frame.columns:
        labels = validate_labels(frame[label], source, label)[idx]
        bad = np.flatnonzero(labels != shared.labels)
        if bad.size:
            where = f"ID {shared.frame[id_column].iloc[bad[0]]!r}" if id_column else f"data row {bad[0] + 1}"
            raise InputError(f"{source}: label '{label}' differs from {shared.source} in {bad.size} "
                             f"paired row(s) (first: {where}); both sides must be scored on the same labels.")
    return _Scored(scores, "predictions", str(spec.path), file_sha256(Path(spec.path)), score)


def _same_path(a: Path | str, b: Path | str | None) -> bool:
    return b is not None and os.path.realpath(a) == os.path.realpath(b)


@dataclass(frozen=True)
class _Shared:
    """The rows both sides are judged on: labels, groups, clusters (an AuditDataset) and its file."""

    dataset: Any
    source_path: Path | None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.dataset, name)


def load_sides(baseline: SideSpec, candidate: SideSpec, *, label: str, sensitive: str,
               data: Path | None, id_column: str | None, cluster: str | None,
               allow_many_groups: bool = False, progress: Any = None) -> tuple[_Shared, dict[str, _Scored]]:
    """Read both sides and pair their rows; returns the shared rows and each side's scores."""
    from fairaudit.data import load_table_dataset

    specs = dict(zip(ROLES, (baseline, candidate), strict=True))
    models = [r for r in ROLES if is_model(specs[r].path)]
    scored: dict[str, _Scored] = {}
    if models and data is None:
        raise ConfigError(f"the {models[0]} is a model: give `data`, the manifest both sides are run on.")
    if models and data is not None:
        ds = None
        for r in models:
            same = [o for o in scored if _same_path(specs[o].path, specs[r].path)
                    and specs[o].predict_options == specs[r].predict_options
                    and specs[o].model_config == specs[r].model_config]
            if same:  # one model on both sides (e.g. only the threshold differs): run it once
                scored[r] = scored[same[0]]
                continue
            ds_r, scored[r] = _run_model(specs[r], data, label=label, sensitive=sensitive,
                                         cluster=cluster, allow_many_groups=allow_many_groups,
                                         progress=progress)
            ds = ds or ds_r
        shared = _Shared(ds, Path(data))
    elif data is not None:
        shared = _Shared(load_table_dataset(data, label=label, sensitive=sensitive, cluster=cluster,
                                            what="data table", allow_many_groups=allow_many_groups),
                         Path(data))
    else:
        shared = _Shared(load_table_dataset(baseline.path, label=label, sensitive=sensitive,
                                            cluster=cluster, what="baseline predictions",
                                            allow_many_groups=allow_many_groups), Path(baseline.path))
    for r in ROLES:
        if r not in scored:
            scored[r] = _join_table(specs[r], r, shared, id_column=id_column, label=label)
    return shared, scored


def _thresholds(spec: SideSpec, role: str, side: _Scored, shared: _Shared,
                warnings: list[str]) -> tuple[float | np.ndarray, CompareSide]:
    """The decision threshold of one side (one number, or one per row) and its description."""
    if spec.threshold is not None and spec.group_thresholds is not None:
        raise ConfigError(f"give the {role} either a threshold or a group-thresholds file, not both.")
    gattr = gthr = None
    if spec.group_thresholds is not None:
        from fairaudit.group_thresholds import GroupThresholds, fitted_rows_overlap
        from fairaudit.mitigation.thresholds import dataset_groups

        gt = GroupThresholds.load(spec.group_thresholds)
        overlap = fitted_rows_overlap(gt.provenance, shared.sha256) if gt.provenance else None
        if overlap:
            warnings.append(f"{role}: {overlap}")
        names, gattr = dataset_groups(shared.dataset, gt.attribute)
        row: float | np.ndarray = gt.row_thresholds(names)
        thr, source, gthr = gt.default, f"group-thresholds file '{spec.group_thresholds}'", dict(gt.thresholds)
    elif spec.threshold is not None:
        if not 0.0 <= spec.threshold <= 1.0:
            raise ConfigError(f"the {role} threshold must lie in [0, 1]; got {spec.threshold}.")
        row = thr = float(spec.threshold)
        source = "given"
    elif side.threshold is not None:
        row = thr = float(side.threshold)
        source = side.threshold_source or "checkpoint"
    else:
        row = thr = 0.5
        source = "default 0.5"
        warnings.append(f"no threshold for the {role} (no option, no checkpoint): 0.5 is used; "
                        "give the threshold the model is deployed with.")
    return row, CompareSide(role=role, kind=side.kind, source=side.source, sha256=side.sha256,
                            score=side.score, threshold=float(thr), threshold_source=source,
                            group_attribute=gattr, group_thresholds=gthr)


def compare(
    baseline: SideSpec,
    candidate: SideSpec,
    *,
    label: str,
    sensitive: str,
    data: Path | None = None,
    id_column: str | None = None,
    cluster: str | None = None,
    n_bootstrap: int = 1000,
    confidence_level: float = 0.95,
    seed: int = 0,
    min_group_size: int = 30,
    min_group_events: int = 10,
    intersections: bool = True,
    policy: Any = None,
    allow_many_groups: bool = False,
    command: str | None = None,
    progress: Any = None,
) -> CompareResult:
    """Compare a candidate with the baseline (deployed) model on the same rows.

    Parameters
    ----------
    baseline, candidate : SideSpec
        The two sides (see :class:`SideSpec`).
    label, sensitive : str
        Label column and protected attribute columns (comma-separated).
    data : Path, optional
        The shared rows: the manifest models run on, or a table of IDs, labels and
        demographics that both predictions tables are joined to. Default: the baseline table.
    id_column : str, optional
        Column pairing the rows of the tables (unmatched or duplicated IDs are an error).
    cluster : str, optional
        Patient column: whole patients are resampled.
    policy : Policy, optional
        Its ``[[change]]`` rules are judged (gate ``not_run`` without a policy).
    progress : Progress, optional
        Told of a model side's inference and of the paired bootstrap
        (:class:`fairaudit.models.progress.Progress`).

    Returns
    -------
    CompareResult
    """
    from fairaudit._io import timestamp
    from fairaudit._version import __version__
    from fairaudit.metrics.paired import paired_changes
    from fairaudit.models.progress import track
    from fairaudit.result import GateOutcome

    shared, scored = load_sides(baseline, candidate, label=label, sensitive=sensitive, data=data,
                                id_column=id_column, cluster=cluster,
                                allow_many_groups=allow_many_groups, progress=progress)
    warnings: list[str] = []
    thr, sides = {}, {}
    for role, spec in zip(ROLES, (baseline, candidate), strict=True):
        thr[role], sides[role] = _thresholds(spec, role, scored[role], shared, warnings)
    ds = shared.dataset
    with track(progress, n_bootstrap, "paired bootstrap") as bar:
        done = [0]

        def advance(now: int, _total: int) -> None:
            bar.advance(now - done[0])
            done[0] = now

        paired = paired_changes(
            ds.labels, {r: scored[r].scores for r in ROLES}, thr,
            {a: np.asarray(ds.group_labels(a), dtype=str) for a in ds.attributes},
            reference="baseline", clusters=ds.clusters, n_bootstrap=n_bootstrap, seed=seed,
            confidence_level=confidence_level, intersections=intersections,
            min_group_size=min_group_size, min_group_events=min_group_events, progress=advance,
        )
    gate = GateOutcome(status="not_run")
    rules: tuple[dict[str, Any], ...] = ()
    if policy is not None:
        from fairaudit.gate.change import evaluate_changes

        gate = evaluate_changes(paired, policy, "candidate")
        rules = tuple({k: v for k, v in vars(r).items() if k != "location"} for r in policy.changes)
    return CompareResult(
        created=timestamp(), tool_version=__version__, command=command,
        baseline=sides["baseline"], candidate=sides["candidate"], n_rows=ds.n_rows,
        label=label, attributes=tuple(ds.attributes), data_source=ds.source,
        data_sha256=ds.sha256, id_column=id_column, cluster_column=cluster, paired=paired,
        gate=gate, change_rules=rules, warnings=tuple(warnings),
    )


OUT_FILES = {"json": "compare.json", "html": "compare.html", "markdown": "compare.md",
             "junit": "compare-junit.xml"}
"""The files of ``out_dir``, by view."""


@dataclass(frozen=True)
class CompareOutputs:
    """The views of one comparison and where they go.

    ``fmt`` is the payload (``table``, ``json``, ``markdown``), written to ``output`` or returned
    for the caller to print; ``out_dir`` receives every view (:data:`OUT_FILES`); ``html``,
    ``markdown``, ``junit`` single views. ``suppress_small_cells`` and ``no_fail`` as for the audit.
    """

    fmt: str = "table"
    output: Path | None = None
    out_dir: Path | None = None
    html: Path | None = None
    markdown: Path | None = None
    junit: Path | None = None
    suppress_small_cells: int = 0
    no_fail: bool = False


@dataclass(frozen=True)
class CompareRun:
    """What :func:`run_compare` produced: the result, the payload, the files written, the code."""

    result: CompareResult
    payload: str
    written: Mapping[str, Path]
    exit_code: int


def render_views(result: CompareResult, outputs: CompareOutputs,
                 names: Mapping[str, str] | None = None) -> tuple[str, list[tuple[str, Path, str]]]:
    """The payload and every requested file, rendered before anything is written."""
    from fairaudit.report.compare import render_compare_html
    from fairaudit.report.compare_text import (
        render_compare_junit,
        render_compare_markdown,
        render_compare_table,
    )

    named = dict(names or {})
    opts: dict[str, Any] = {"suppress_small_cells": outputs.suppress_small_cells,
                            "no_fail": outputs.no_fail}
    views: dict[str, Callable[[], str]] = {
        "json": result.to_json, "html": lambda: render_compare_html(result, **opts),
        "markdown": lambda: render_compare_markdown(result, **opts),
        "junit": lambda: render_compare_junit(result, **opts),
        "table": lambda: render_compare_table(result, **opts)}
    cache: dict[str, str] = {}

    def view(kind: str) -> str:
        if kind not in cache:
            cache[kind] = views[kind]()
        return cache[kind]

    files = [(named.get(kind, kind), path, view(kind)) for kind, path in
             (("html", outputs.html), ("markdown", outputs.markdown), ("junit", outputs.junit))
             if path is not None]
    if outputs.out_dir is not None:
        files += [(f"{named.get('out_dir', 'out_dir')} file {name}", outputs.out_dir / name, view(kind))
                  for kind, name in OUT_FILES.items()]
    payload = view(outputs.fmt)
    if outputs.output is not None:
        files.append((named.get("output", "output"), outputs.output, payload))
    return payload, files


def run_compare(baseline: SideSpec, candidate: SideSpec, *, label: str, sensitive: str,
                policy: Path | None = None, outputs: CompareOutputs = CompareOutputs(),
                progress: Any = None, names: Mapping[str, str] | None = None,
                **options: Any) -> CompareRun:
    """Check every output path, compare, render every view, write them all or none.

    ``options`` are the keyword arguments of :func:`compare` (``data``, ``id_column``,
    ``cluster``, ``n_bootstrap``, ...); ``progress`` (a :class:`fairaudit.models.progress.Progress`)
    is told of the models' inference and the paired bootstrap; ``names`` say how messages name
    the path parameters (the CLI passes its flags). The exit code is the gate's (0 without a
    policy).
    """
    from fairaudit._io import check_output_dir, check_outputs, write_files
    from fairaudit.exit_codes import exit_code

    named = dict(names or {})
    inputs = [(named.get(k, k), p) for k, p in (
        ("baseline", baseline.path), ("candidate", candidate.path), ("data", options.get("data")),
        ("policy", policy), ("baseline_group_thresholds", baseline.group_thresholds),
        ("baseline_model_config", baseline.model_config),
        ("candidate_model_config", candidate.model_config),
        ("candidate_group_thresholds", candidate.group_thresholds))]
    planned = [(named.get(k, k), getattr(outputs, k)) for k in ("output", "html", "markdown", "junit")]
    if outputs.out_dir is not None:
        check_output_dir(outputs.out_dir, named.get("out_dir", "out_dir"))
        planned += [(f"{named.get('out_dir', 'out_dir')} file {n}", outputs.out_dir / n) for n in OUT_FILES.values()]
    check_outputs(planned, inputs)  # before any work: a bad path fails in a second
    pol = None
    if policy is not None:
        from fairaudit.gate import load_policy

        pol = load_policy(policy)
        if not pol.changes:
            raise ConfigError(f"{policy}: has no [[change]] rules; `fairaudit compare` judges changes "
                              "(see docs/report-and-gate.md).")
    result = compare(baseline, candidate, label=label, sensitive=sensitive, policy=pol,
                     progress=progress, **options)
    payload, files = render_views(result, outputs, named)
    if files:
        write_files(files, inputs)  # all files or none
    code = exit_code(result.gate, no_fail=outputs.no_fail) if pol is not None else 0
    return CompareRun(result, payload, {label_: path for label_, path, _ in files}, code)


__all__ = ["OUT_FILES", "CompareOutputs", "CompareRun", "SideSpec", "compare", "is_model",
           "load_sides", "render_views", "run_compare"]
