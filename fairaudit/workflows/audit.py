"""The ``fairaudit audit`` workflow: load, compute, render every view, write all or nothing.

:func:`run_audit` checks every output path before any work, loads the data
(:func:`fairaudit.api.load_audit_data`: a predictions table, or a model run on a manifest),
audits it (:func:`fairaudit.api.audit_dataset`), renders every requested view
(:mod:`fairaudit.report`) before writing any file, then writes them together through
:func:`fairaudit._io.write_files`. The payload is returned for the caller to print when it has
no file of its own. Nothing here prints; progress goes to the :class:`Progress` passed in.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fairaudit.api import audit_dataset, load_audit_data
from fairaudit.models.progress import Progress, track

if TYPE_CHECKING:  # pragma: no cover
    from fairaudit.data import AuditDataset
    from fairaudit.result import AuditResult

FileList = list[tuple[str, Path, str | bytes]]


@dataclass(frozen=True)
class AuditOutputs:
    """The views of one audit and where they go.

    Attributes
    ----------
    fmt : str
        Payload format (``table``, ``json``, ``markdown``, ``html``, ``junit``).
    output : path, optional
        Write the payload here; without it the caller prints :attr:`AuditRun.payload`.
    html, junit : path, optional
        Also write the HTML report / the JUnit XML here.
    save_predictions : path, optional
        With a model: write the per-study scores here (CSV, or Parquet by suffix).
    suppress_small_cells : int
        Counts below it show as ``<K`` in every rendered view (the JSON keeps exact counts).
    no_fail : bool
        The gate's outcome is reported but the exit code is 0 (the reports say so too).
    """

    fmt: str = "table"
    output: Path | None = None
    html: Path | None = None
    junit: Path | None = None
    save_predictions: Path | None = None
    suppress_small_cells: int = 0
    no_fail: bool = False


@dataclass(frozen=True)
class AuditRun:
    """What :func:`run_audit` produced: the result, the payload, the files written, the code."""

    result: AuditResult
    payload: str
    written: Mapping[str, Path] = field(default_factory=dict)
    exit_code: int = 0


def run_audit(
    *,
    label: str,
    sensitive: str | list[str] | tuple[str, ...],
    predictions: Path | None = None,
    model: Path | None = None,
    model_config: Path | None = None,
    data: Path | None = None,
    score: str | None = None,
    cluster: str | None = None,
    split_column: str | None = None,
    split: str | None = None,
    allow_many_groups: bool = False,
    predict_options: Mapping[str, Any] | None = None,
    policy: Path | None = None,
    group_thresholds: Path | None = None,
    threshold: float | None = None,
    threshold_source: str = "given",
    audit_options: Mapping[str, Any] | None = None,
    outputs: AuditOutputs = AuditOutputs(),
    command: str | None = None,
    progress: Progress | None = None,
    names: Mapping[str, str] | None = None,
    input_options: Mapping[str, Any] | None = None,
) -> AuditRun:
    """Audit predictions (or a model on a manifest), render every view, write them all or none.

    Parameters
    ----------
    label, sensitive, predictions, model, model_config, data, score, cluster, split_column, split,
    allow_many_groups, predict_options
        What to audit; see :func:`fairaudit.api.load_audit_data`.
    policy : path, optional
        Gate policy (TOML); loaded before any work, so a bad policy fails at once.
    group_thresholds : path, optional
        Per-group thresholds file (``fairaudit mitigate --method threshold``).
    threshold : float, optional
        Decision threshold; default the checkpoint's (else 0.5 with a warning).
    threshold_source : str
        How the result describes a given ``threshold``.
    audit_options : dict, optional
        Keyword arguments of :func:`fairaudit.api.audit_dataset` (``n_bootstrap``, ``seed``,
        ``confidence_level``, ``min_group_size``, ``min_group_events``, ``n_permutations``,
        ``intersections``, ``cross_check``).
    outputs : AuditOutputs
        The views and their paths.
    command : str, optional
        The command line recorded in the result.
    progress : Progress, optional
        Told of the model's inference and of the bootstrap replicates.
    names : dict, optional
        How error messages name each path parameter (the CLI passes its flags, e.g.
        ``{"html": "--html"}``); default the parameter names.
    input_options : dict, optional
        :func:`fairaudit.api.load_audit_data`'s ``metadata``, ``on``, ``bins``, ``score_type``
        and ``pos_label`` (demographics from a separate table, binned attributes, logits, text
        labels). A metadata file is an input: no output may overwrite it.

    Returns
    -------
    AuditRun
        The exit code is :func:`fairaudit.gate.exit_code` of the gate (0 without a policy).
    """
    from fairaudit._io import check_outputs, write_files

    named = dict(names or {})
    loading = dict(input_options or {})
    metadata = loading.get("metadata")
    inputs = [(named.get(k, k), p) for k, p in (("predictions", predictions), ("data", data),
              ("model", model), ("model_config", model_config), ("policy", policy),
              ("group_thresholds", group_thresholds),
              ("metadata", metadata if isinstance(metadata, str | Path) else None))]
    files_out = [(named.get(k, k), getattr(outputs, k))
                 for k in ("output", "html", "junit", "save_predictions")]
    check_outputs(files_out, inputs)  # before any work: a bad path fails in a second
    pol = _load_policy(policy)
    loaded = load_audit_data(
        predictions, label=label, sensitive=sensitive, score=score, data=data, model=model,
        model_config=model_config, cluster=cluster, progress=progress,
        predict_options=dict(predict_options or {}), allow_many_groups=allow_many_groups,
        split_column=split_column, split=split, **loading,
    )
    thr, source = ((threshold, threshold_source) if threshold is not None
                   else (loaded.threshold, loaded.threshold_source))
    options = dict(audit_options or {})
    with track(progress, int(options.get("n_bootstrap", 1000)), "bootstrap") as bar:
        result = audit_dataset(
            loaded.dataset, threshold=thr, threshold_source=source,
            group_thresholds=group_thresholds, policy=pol, model_sha256=loaded.model_sha256,
            model_adapter=loaded.model_adapter, model_config_sha256=loaded.model_config_sha256,
            command=command, progress=bar.advance, **options,
        )
    # Render everything before writing anything: no half-written outputs on error. Reports
    # show the process's real exit code (no_fail).
    payload, files = render_views(result, outputs, named)
    if outputs.save_predictions is not None:
        files.append((named.get("save_predictions", "save_predictions"), outputs.save_predictions,
                      predictions_bytes(loaded.dataset, outputs.save_predictions)))
    if outputs.output is not None:
        files.append((named.get("output", "output"), outputs.output, payload))
    if files:
        write_files(files, inputs)  # all files or none
    code = 0
    if pol is not None:
        from fairaudit.gate import exit_code

        code = exit_code(result.gate, no_fail=outputs.no_fail)
    written = {label_: path for label_, path, _ in files}
    return AuditRun(result=result, payload=payload, written=written, exit_code=code)


def _load_policy(policy: Path | None) -> Any:
    if policy is None:
        return None
    from fairaudit.gate import load_policy

    return load_policy(policy)


def render_views(result: AuditResult, outputs: AuditOutputs,
                 names: Mapping[str, str] | None = None) -> tuple[str, FileList]:
    """The payload and the extra reports (HTML, JUnit), rendered before anything is written."""
    from fairaudit.report import render

    named = dict(names or {})
    small, no_fail = outputs.suppress_small_cells, outputs.no_fail
    payload = render(result, outputs.fmt, suppress_small_cells=small, no_fail=no_fail)
    files: FileList = []
    if outputs.html is not None:
        from fairaudit.report.html import render_html

        html = render_html(result, suppress_small_cells=small, no_fail=no_fail)
        files.append((named.get("html", "html"), outputs.html, html))
    if outputs.junit is not None:
        from fairaudit.report.junit import render_junit

        junit = render_junit(result, suppress_small_cells=small, no_fail=no_fail)
        files.append((named.get("junit", "junit"), outputs.junit, junit))
    return payload, files


def predictions_bytes(dataset: AuditDataset, path: Path) -> bytes:
    """The per-study scores of ``dataset`` as CSV (or Parquet when ``path`` says so)."""
    import pandas as pd

    frame = pd.DataFrame(index=range(dataset.n_rows))
    for col in ("patient_id", "study_id"):
        if col in dataset.frame.columns:
            frame[col] = dataset.frame[col].to_numpy()
    frame[dataset.label_column] = dataset.labels
    for attr in dataset.attributes:
        frame[attr] = dataset.group_labels(attr)
    frame["score"] = dataset.scores
    buf = io.BytesIO()
    if path.suffix.lower() in (".parquet", ".pq"):
        frame.to_parquet(buf, index=False)
    else:
        frame.to_csv(buf, index=False)
    return buf.getvalue()


__all__ = ["AuditOutputs", "AuditRun", "predictions_bytes", "render_views", "run_audit"]
