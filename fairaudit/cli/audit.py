"""``fairaudit audit``: audit a predictions table, or a model on a manifest."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import typer

from fairaudit.cli._common import emit, err, handle_errors, quiet_libraries
from fairaudit.report import OutputFormat as Format

HELP = (
    "Audit a model's predictions for fairness across protected groups: every per-group metric "
    "with confidence intervals, demographic parity, equal opportunity and equalised odds per "
    "attribute and intersection, and an optional policy gate.\n\n"
    "Exit codes: 0 passed (or no policy), 1 policy failed, 2 error, 3 inconclusive."
)


@handle_errors
def audit_command(
    predictions: Path | None = typer.Option(None, "--predictions", "-p", help="Predictions table (CSV or Parquet) with label, score and demographic columns.", show_default=False),
    model: Path | None = typer.Option(None, "--model", "-m", help="The model to run on --data: a fairaudit checkpoint folder, a TorchScript file, an .onnx file (both with --model-config), or a Python entry point package.module:factory (imports and runs that code).", show_default=False),
    model_config: Path | None = typer.Option(None, "--model-config", help="With a TorchScript or ONNX --model: model.toml saying which manifest columns feed which input and what the output is (docs/adapters.md).", show_default=False),
    data: Path | None = typer.Option(None, "--data", "-d", help="Manifest (CSV/Parquet) for --model, e.g. COHORT/test.csv, or a folder holding manifest.csv.", show_default=False),
    split_column: str | None = typer.Option(None, "--split-column", help="With --split: the column naming each row's split (default 'split').", show_default=False),
    split: str | None = typer.Option(None, "--split", help="Audit only the --predictions rows whose split column has this value (e.g. test).", show_default=False),
    label: str = typer.Option(..., "--label", "-l", help="Binary label column (1 = disease present)."),
    score: str | None = typer.Option(None, "--score", "-s", help="Score column: probabilities in [0, 1] (default 'score').", show_default=False),
    sensitive: str = typer.Option(..., "--sensitive", "-a", help="Protected attribute columns, comma-separated (e.g. sex,race). Each alone and every intersection is audited."),
    threshold: float | None = typer.Option(None, "--threshold", "-t", help="Decision threshold (score >= t is positive), chosen on validation data. Default: the checkpoint's, else 0.5 with a warning.", show_default=False),
    group_thresholds: Path | None = typer.Option(None, "--group-thresholds", help="Per-group thresholds JSON from `fairaudit mitigate --method threshold`.", show_default=False),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="Payload format written to stdout or --output."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the payload here instead of stdout.", show_default=False),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap and permutations (same seed, same numbers)."),
    bootstrap: int = typer.Option(1000, "--bootstrap", "-B", help="Bootstrap replicates for confidence intervals (0 = off)."),
    confidence: float = typer.Option(0.95, "--confidence", help="Confidence level of the intervals."),
    cluster: str | None = typer.Option(None, "--cluster", help="Patient id column: resample whole patients (studies of one patient are correlated).", show_default=False),
    min_group_size: int = typer.Option(30, "--min-group-size", help="Groups with fewer rows are 'insufficient'."),
    min_group_events: int = typer.Option(10, "--min-group-events", help="Groups with fewer positives or negatives are 'insufficient'."),
    permutations: int = typer.Option(1000, "--permutations", help="Permutations for the p-values of the criteria (0 = off)."),
    intersections: bool = typer.Option(True, "--intersections/--no-intersections", help="Audit intersections of attributes (sex & race)."),
    allow_many_groups: bool = typer.Option(False, "--allow-many-groups", help="Accept a sensitive column that is numeric with more than 20 values or looks like an identifier (refused by default: bin it first)."),
    policy: Path | None = typer.Option(None, "--policy", help="Gate policy (TOML): pass / fail / inconclusive with exit codes 0 / 1 / 3.", show_default=False),
    html: Path | None = typer.Option(None, "--html", help="Also write the self-contained HTML report here.", show_default=False),
    junit: Path | None = typer.Option(None, "--junit", help="Also write JUnit XML (one test case per policy rule) here.", show_default=False),
    no_fail: bool = typer.Option(False, "--no-fail", help="Report the gate outcome but exit 0 (for rollouts)."),
    suppress_small_cells: int = typer.Option(0, "--suppress-small-cells", help="Show counts below K as <K in every report (table, Markdown, HTML, JUnit); the JSON keeps exact counts."),
    save_predictions: Path | None = typer.Option(None, "--save-predictions", help="With --model: write per-study scores (CSV or Parquet) here.", show_default=False),
    impute: str = typer.Option("diffusion", "--impute", help="With --model: absent modalities as latents generated by the diffusion model ('diffusion') or as the learned absent tokens ('fallback')."),
    ddim_steps: int | None = typer.Option(None, "--ddim-steps", help="With --model: DDIM steps of the imputation (default: the checkpoint's).", show_default=False),
    impute_samples: int | None = typer.Option(None, "--impute-samples", help="With --model: imputations averaged per incomplete study (default: the checkpoint's).", show_default=False),
    cross_check: bool = typer.Option(False, "--cross-check", help="Recompute every group's selection rate, TPR, FPR and accuracy and the fairlearn-defined criteria with fairlearn and aif360; any difference above 1e-9 is an error (exit 2)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No summary or progress on stderr."),
) -> None:
    from fairaudit.api import audit_dataset, load_audit_data
    from fairaudit.errors import ConfigError

    if save_predictions is not None and model is None:
        raise ConfigError("--save-predictions needs --model (a predictions table already has its scores).")
    predict_options: dict = {}
    if impute != "diffusion":
        predict_options["impute"] = impute
    if ddim_steps is not None:
        predict_options["ddim_steps"] = ddim_steps
    if impute_samples is not None:
        predict_options["samples"] = impute_samples
    if predict_options and model is None:
        raise ConfigError("--impute, --ddim-steps and --impute-samples go with --model.")
    if suppress_small_cells < 0:
        raise ConfigError("--suppress-small-cells must be 0 or more.")
    inputs = [("--predictions", predictions), ("--data", data), ("--model", model),
              ("--model-config", model_config), ("--policy", policy),
              ("--group-thresholds", group_thresholds)]
    outputs = [("--output", output), ("--html", html), ("--junit", junit),
               ("--save-predictions", save_predictions)]
    from fairaudit._io import check_outputs

    check_outputs(outputs, inputs)  # before any work: a bad path fails in a second, not after it
    pol = None
    if policy is not None:
        from fairaudit.gate import load_policy

        pol = load_policy(policy)  # fail on a bad policy before any work

    with quiet_libraries(quiet):
        loaded = load_audit_data(
            predictions, label=label, sensitive=sensitive, score=score, data=data, model=model,
            model_config=model_config, cluster=cluster, progress=not quiet, predict_options=predict_options,
            allow_many_groups=allow_many_groups, split_column=split_column, split=split,
        )
    thr, source = (threshold, "given (--threshold)") if threshold is not None else (loaded.threshold, loaded.threshold_source)
    command = "fairaudit " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv else None

    with quiet_libraries(quiet), _progress(bootstrap, quiet) as advance:
        result = audit_dataset(
            loaded.dataset, threshold=thr, threshold_source=source, group_thresholds=group_thresholds,
            n_bootstrap=bootstrap, confidence_level=confidence, seed=seed,
            min_group_size=min_group_size, min_group_events=min_group_events,
            n_permutations=permutations, intersections=intersections, policy=pol,
            model_sha256=loaded.model_sha256, command=command, progress=advance,
            cross_check=cross_check, model_adapter=loaded.model_adapter,
            model_config_sha256=loaded.model_config_sha256,
        )

    # Render everything before writing anything: no half-written outputs on error. Reports
    # show the process's real exit code (no_fail).
    options = {"suppress_small_cells": suppress_small_cells, "no_fail": no_fail}
    with quiet_libraries(quiet):
        payload, files = _render_all(result, fmt, options, html, junit)
    if save_predictions is not None:
        files.append(("--save-predictions", save_predictions,
                      _predictions_bytes(loaded.dataset, save_predictions)))
    emit(payload, output, files, inputs)  # all files or none

    if not quiet:
        from fairaudit.report.context import Suppressor

        for w in result.warnings:
            err(f"warning: {Suppressor(suppress_small_cells).text(w)}")
        _summary(result, output, html, junit)
    from fairaudit.gate import exit_code

    code = exit_code(result.gate, no_fail=no_fail) if pol is not None else 0
    raise typer.Exit(code)


def _render_all(result, fmt: Format, options: dict, html: Path | None,
                junit: Path | None) -> tuple[str, list[tuple[str, Path, str | bytes]]]:
    """Render the payload and the extra reports before anything is written."""
    from fairaudit.report import render

    payload = render(result, fmt.value, **options)
    files: list[tuple[str, Path, str | bytes]] = []
    if html is not None:
        from fairaudit.report.html import render_html

        files.append(("--html", html, render_html(result, **options)))
    if junit is not None:
        from fairaudit.report.junit import render_junit

        files.append(("--junit", junit, render_junit(result, **options)))
    return payload, files


def _predictions_bytes(dataset, path: Path) -> bytes:
    import io

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


class _progress:
    """A rich progress bar on stderr for the bootstrap (nothing when quiet or not a terminal)."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.total, self.quiet, self._p = total, quiet, None

    def __enter__(self):
        if self.quiet or self.total <= 0 or not sys.stderr.isatty():
            return None
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        from fairaudit.cli._common import stderr_console

        self._p = Progress(TextColumn("bootstrap"), BarColumn(), MofNCompleteColumn(),
                           TimeElapsedColumn(), console=stderr_console(), transient=True)
        self._p.__enter__()
        task = self._p.add_task("bootstrap", total=self.total)
        return lambda k: self._p.advance(task, k)

    def __exit__(self, *exc: object) -> None:
        if self._p is not None:
            self._p.__exit__(*exc)


def _summary(result, output: Path | None, html: Path | None, junit: Path | None) -> None:
    n_groups = len(result.groups)
    n_insuff = sum(1 for g in result.groups if g.status == "insufficient")
    flagged = [c for c in result.criteria if c.q_value is not None and c.q_value < 0.05]
    err(
        f"audited {result.dataset.n_rows} rows: {len(result.dataset.attributes)} attributes, "
        f"{len(result.dataset.intersections)} intersections, {n_groups} groups "
        f"({n_insuff} insufficient); {len(flagged)} criteria with q < 0.05."
    )
    for path, what in ((output, "payload"), (html, "HTML report"), (junit, "JUnit XML")):
        if path is not None:
            err(f"wrote {what}: {path}")
    if result.gate.status != "not_run":
        err(f"gate: {result.gate.status}")
