"""``fairaudit compare``: a candidate model against the deployed one, on the same patients."""

from __future__ import annotations

import enum
import shlex
import sys
from pathlib import Path

import typer

from fairaudit.cli._common import (
    FLAGS,
    err,
    handle_errors,
    print_payload_and_warnings,
    quiet_libraries,
)

HELP = (
    "Pre-deployment check: compare a candidate with the deployed (baseline) model on the same "
    "patients. Each side is a predictions table (paired on --id) or a model run on --data. "
    "Every group's change in TPR, FPR, PPV, NPV, accuracy, balanced accuracy, AUC, Brier and "
    "ECE, and every criterion's change, gets a paired bootstrap interval (the same resampled "
    "patients for both models) and a p-value (DeLong for AUC); [[change]] rules of --policy "
    "gate on them.\n\n"
    "Exit codes: 0 passed (or no policy), 1 policy failed, 2 error, 3 inconclusive."
)

class Format(enum.StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


@handle_errors
def compare_command(
    baseline: Path = typer.Option(..., "--baseline", "-b", help="The deployed model: a predictions table (CSV/TSV/Parquet) or a model run on --data (anything --model of `audit` takes: checkpoint folder, TorchScript or ONNX file, package.module:factory).", show_default=False, rich_help_panel="The two sides"),
    candidate: Path = typer.Option(..., "--candidate", "-c", help="The candidate: a predictions table or a model.", show_default=False, rich_help_panel="The two sides"),
    baseline_model_config: Path | None = typer.Option(None, "--baseline-model-config", help="model.toml of a TorchScript/ONNX baseline.", show_default=False, rich_help_panel="The two sides"),
    candidate_model_config: Path | None = typer.Option(None, "--candidate-model-config", help="model.toml of a TorchScript/ONNX candidate.", show_default=False, rich_help_panel="The two sides"),
    id_column: str | None = typer.Option(None, "--id", help="Column pairing the rows of the two sides (unmatched or duplicated IDs are an error).", show_default=False, rich_help_panel="The two sides"),
    data: Path | None = typer.Option(None, "--data", "-d", help="The shared rows: the manifest models run on, or a table of IDs, labels and demographics both predictions tables join to. Default: the baseline table.", show_default=False, rich_help_panel="The two sides"),
    score: str | None = typer.Option(None, "--score", "-s", help="Score column of both predictions tables (default 'score').", show_default=False, rich_help_panel="The two sides"),
    baseline_score: str | None = typer.Option(None, "--baseline-score", help="Score column of the baseline table (overrides --score).", show_default=False, rich_help_panel="The two sides"),
    candidate_score: str | None = typer.Option(None, "--candidate-score", help="Score column of the candidate table (overrides --score).", show_default=False, rich_help_panel="The two sides"),
    baseline_threshold: float | None = typer.Option(None, "--baseline-threshold", help="Decision threshold of the baseline (default: its checkpoint's, else 0.5 with a warning).", show_default=False, rich_help_panel="The two sides"),
    candidate_threshold: float | None = typer.Option(None, "--candidate-threshold", help="Decision threshold of the candidate.", show_default=False, rich_help_panel="The two sides"),
    baseline_group_thresholds: Path | None = typer.Option(None, "--baseline-group-thresholds", help="Per-group thresholds JSON of the baseline.", show_default=False, rich_help_panel="The two sides"),
    candidate_group_thresholds: Path | None = typer.Option(None, "--candidate-group-thresholds", help="Per-group thresholds JSON of the candidate.", show_default=False, rich_help_panel="The two sides"),
    label: str = typer.Option(..., "--label", "-l", help="Binary label column (1 = disease present).", rich_help_panel="Groups"),
    sensitive: str = typer.Option(..., "--sensitive", "-a", help="Protected attribute columns, comma-separated; each alone and every intersection is compared.", rich_help_panel="Groups"),
    cluster: str | None = typer.Option(None, "--cluster", help="Patient id column: resample whole patients.", show_default=False, rich_help_panel="Groups"),
    min_group_size: int = typer.Option(30, "--min-group-size", help="Groups with fewer rows are 'insufficient'.", rich_help_panel="Groups"),
    min_group_events: int = typer.Option(10, "--min-group-events", help="Groups with fewer positives or negatives are 'insufficient'.", rich_help_panel="Groups"),
    intersections: bool = typer.Option(True, "--intersections/--no-intersections", help="Compare intersections of attributes too.", rich_help_panel="Groups"),
    allow_many_groups: bool = typer.Option(False, "--allow-many-groups", help="Accept a sensitive column with many values or that looks like an identifier.", rich_help_panel="Groups"),
    seed: int = typer.Option(0, "--seed", help="Seed of the paired bootstrap.", rich_help_panel="Statistics"),
    bootstrap: int = typer.Option(1000, "--bootstrap", "-B", help="Paired bootstrap replicates (0 = no intervals).", rich_help_panel="Statistics"),
    confidence: float = typer.Option(0.95, "--confidence", help="Confidence level of the intervals.", rich_help_panel="Statistics"),
    policy: Path | None = typer.Option(None, "--policy", help="Policy TOML whose [[change]] rules gate the comparison (exit 0 / 1 / 3).", show_default=False, rich_help_panel="Gate and reports"),
    out: Path | None = typer.Option(None, "--out", help="Write compare.json, compare.html, compare.md and compare-junit.xml into this folder.", show_default=False, rich_help_panel="Gate and reports"),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="Payload written to stdout or --output.", rich_help_panel="Gate and reports"),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the payload here (e.g. compare.json with --format json).", show_default=False, rich_help_panel="Gate and reports"),
    html: Path | None = typer.Option(None, "--html", help="Also write the HTML report here.", show_default=False, rich_help_panel="Gate and reports"),
    markdown: Path | None = typer.Option(None, "--markdown", help="Also write the Markdown summary (a PR comment) here.", show_default=False, rich_help_panel="Gate and reports"),
    junit: Path | None = typer.Option(None, "--junit", help="Also write JUnit XML (one test case per change rule) here.", show_default=False, rich_help_panel="Gate and reports"),
    no_fail: bool = typer.Option(False, "--no-fail", help="Report the gate outcome but exit 0.", rich_help_panel="Gate and reports"),
    suppress_small_cells: int = typer.Option(0, "--suppress-small-cells", help="Show counts below K as <K and withhold the numbers of groups with fewer than K rows in every report; the JSON keeps exact counts.", rich_help_panel="Gate and reports"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No summary on stderr.", rich_help_panel="Gate and reports"),
) -> None:
    from fairaudit.api import check_resamples, check_seed
    from fairaudit.cli.progress import cli_progress
    from fairaudit.errors import ConfigError
    from fairaudit.workflows.compare import CompareOutputs, SideSpec, run_compare

    if suppress_small_cells < 0:
        raise ConfigError("--suppress-small-cells must be 0 or more.")
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"--confidence must lie strictly between 0 and 1; got {confidence}.")
    check_resamples(bootstrap, "--bootstrap")
    check_seed(seed)
    outputs = CompareOutputs(fmt=fmt.value, output=output, out_dir=out, html=html, markdown=markdown,
                             junit=junit, suppress_small_cells=suppress_small_cells, no_fail=no_fail)
    command = "fairaudit " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv else None
    with quiet_libraries(quiet):
        run = run_compare(
            SideSpec(baseline, baseline_score or score, baseline_threshold, baseline_group_thresholds,
                     model_config=baseline_model_config),
            SideSpec(candidate, candidate_score or score, candidate_threshold, candidate_group_thresholds,
                     model_config=candidate_model_config),
            label=label, sensitive=sensitive, policy=policy, outputs=outputs,
            progress=cli_progress(quiet), names=FLAGS, data=data, id_column=id_column,
            cluster=cluster, n_bootstrap=bootstrap, confidence_level=confidence, seed=seed,
            min_group_size=min_group_size, min_group_events=min_group_events,
            intersections=intersections, allow_many_groups=allow_many_groups, command=command,
        )
    print_payload_and_warnings(run, output is None, quiet, suppress_small_cells)
    if not quiet:
        for option, path in run.written.items():
            err(f"wrote {option}: {path}")
        if run.result.gate.status != "not_run":
            err(f"gate: {run.result.gate.status}")
    raise typer.Exit(run.exit_code)
