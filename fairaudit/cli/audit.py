"""``fairaudit audit``: audit a predictions table, or a model on a manifest."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import typer

from fairaudit.cli._common import (
    FLAGS,
    ScoreType,
    check_input_flags,
    err,
    handle_errors,
    metadata_summary,
    print_payload_and_warnings,
    quiet_libraries,
)
from fairaudit.report import OutputFormat as Format

HELP = (
    "Audit a model's predictions for fairness across protected groups: every per-group metric "
    "with confidence intervals, demographic parity, equal opportunity and equalised odds per "
    "attribute and intersection, and an optional policy gate.\n\n"
    "Exit codes: 0 passed (or no policy), 1 policy failed, 2 error, 3 inconclusive."
)


@handle_errors
def audit_command(
    predictions: Path | None = typer.Option(None, "--predictions", "-p", help="Predictions table (CSV or Parquet) with label, score and demographic columns; or a directory or glob of Parquet files (read in batches).", show_default=False, rich_help_panel="Input"),
    model: Path | None = typer.Option(None, "--model", "-m", help="The model to run on --data: a fairaudit checkpoint folder, a TorchScript file, an .onnx file (both with --model-config), or a Python entry point package.module:factory (imports and runs that code).", show_default=False, rich_help_panel="Model (with --model)"),
    model_config: Path | None = typer.Option(None, "--model-config", help="With a TorchScript or ONNX --model: model.toml saying which manifest columns feed which input and what the output is (docs/adapters.md).", show_default=False, rich_help_panel="Model (with --model)"),
    data: Path | None = typer.Option(None, "--data", "-d", help="Manifest (CSV/Parquet) for --model, e.g. COHORT/test.csv, or a folder holding manifest.csv.", show_default=False, rich_help_panel="Input"),
    split_column: str | None = typer.Option(None, "--split-column", help="With --split: the column naming each row's split (default 'split').", show_default=False, rich_help_panel="Input"),
    split: str | None = typer.Option(None, "--split", help="Audit only the --predictions rows whose split column has this value (e.g. test).", show_default=False, rich_help_panel="Input"),
    label: str = typer.Option(..., "--label", "-l", help="Binary label column (1 = disease present).", rich_help_panel="Input"),
    score: str | None = typer.Option(None, "--score", "-s", help="Score column: probabilities in [0, 1] (default 'score').", show_default=False, rich_help_panel="Input"),
    sensitive: str = typer.Option(..., "--sensitive", "-a", help="Protected attribute columns, comma-separated (e.g. sex,race). Each alone and every intersection is audited.", rich_help_panel="Input"),
    metadata: Path | None = typer.Option(None, "--metadata", metavar="FILE", help="Take the --sensitive (and --cluster) columns from this table (CSV/Parquet, one row per key), joined on --on. Unmatched rows are kept with every attribute 'unknown'.", show_default=False, rich_help_panel="Input"),
    on: str | None = typer.Option(None, "--on", metavar="COL|PRED_COL=META_COL", help="Key of --metadata: COL, or PRED_COL=META_COL when the names differ.", show_default=False, rich_help_panel="Input"),
    bins: list[str] | None = typer.Option(None, "--bins", metavar="COL=CUTS|COL=qN", help="Bin a numeric sensitive column: COL=40,60,80 (cut points: < 40, [40, 60), [60, 80), >= 80) or COL=q4 (quantiles). Repeatable.", show_default=False, rich_help_panel="Input"),
    score_type: ScoreType = typer.Option(ScoreType.probability, "--score-type", help="What the score column holds: probability (in [0, 1]) or logit (turned into probabilities by the logistic function).", rich_help_panel="Input"),
    pos_label: str | None = typer.Option(None, "--pos-label", metavar="VALUE", help="For text labels (yes/no, disease/healthy): the positive value; the other value is 0.", show_default=False, rich_help_panel="Input"),
    threshold: float | None = typer.Option(None, "--threshold", "-t", help="Decision threshold (score >= t is positive), chosen on validation data. Default: the checkpoint's, else 0.5 with a warning.", show_default=False, rich_help_panel="Decision and statistics"),
    group_thresholds: Path | None = typer.Option(None, "--group-thresholds", help="Per-group thresholds JSON from `fairaudit mitigate --method threshold`.", show_default=False, rich_help_panel="Decision and statistics"),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="Payload format written to stdout or --output.", rich_help_panel="Gate and reports"),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the payload here instead of stdout.", show_default=False, rich_help_panel="Gate and reports"),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap and permutations (same seed, same numbers).", rich_help_panel="Decision and statistics"),
    bootstrap: int = typer.Option(1000, "--bootstrap", "-B", help="Bootstrap replicates for confidence intervals (0 = off).", rich_help_panel="Decision and statistics"),
    confidence: float = typer.Option(0.95, "--confidence", help="Confidence level of the intervals.", rich_help_panel="Decision and statistics"),
    cluster: str | None = typer.Option(None, "--cluster", help="Patient id column: resample whole patients (studies of one patient are correlated).", show_default=False, rich_help_panel="Decision and statistics"),
    min_group_size: int = typer.Option(30, "--min-group-size", help="Groups with fewer rows are 'insufficient'.", rich_help_panel="Decision and statistics"),
    min_group_events: int = typer.Option(10, "--min-group-events", help="Groups with fewer positives or negatives are 'insufficient'.", rich_help_panel="Decision and statistics"),
    permutations: int = typer.Option(1000, "--permutations", help="Permutations for the p-values of the criteria (0 = off).", rich_help_panel="Decision and statistics"),
    intersections: bool = typer.Option(True, "--intersections/--no-intersections", help="Audit intersections of attributes (sex & race).", rich_help_panel="Decision and statistics"),
    allow_many_groups: bool = typer.Option(False, "--allow-many-groups", help="Accept a sensitive column that is numeric with more than 20 values or looks like an identifier (refused by default: bin it first).", rich_help_panel="Input"),
    policy: Path | None = typer.Option(None, "--policy", help="Gate policy (TOML): pass / fail / inconclusive with exit codes 0 / 1 / 3.", show_default=False, rich_help_panel="Gate and reports"),
    html: Path | None = typer.Option(None, "--html", help="Also write the self-contained HTML report here.", show_default=False, rich_help_panel="Gate and reports"),
    junit: Path | None = typer.Option(None, "--junit", help="Also write JUnit XML (one test case per policy rule) here.", show_default=False, rich_help_panel="Gate and reports"),
    no_fail: bool = typer.Option(False, "--no-fail", help="Report the gate outcome but exit 0 (for rollouts).", rich_help_panel="Gate and reports"),
    suppress_small_cells: int = typer.Option(0, "--suppress-small-cells", help="Show counts below K as <K in every report (table, Markdown, HTML, JUnit); the JSON keeps exact counts.", rich_help_panel="Gate and reports"),
    save_predictions: Path | None = typer.Option(None, "--save-predictions", help="With --model: write per-study scores (CSV or Parquet) here.", show_default=False, rich_help_panel="Model (with --model)"),
    impute: str = typer.Option("diffusion", "--impute", help="With --model: absent modalities as latents generated by the diffusion model ('diffusion') or as the learned absent tokens ('fallback').", rich_help_panel="Model (with --model)"),
    ddim_steps: int | None = typer.Option(None, "--ddim-steps", help="With --model: DDIM steps of the imputation (default: the checkpoint's).", show_default=False, rich_help_panel="Model (with --model)"),
    impute_samples: int | None = typer.Option(None, "--impute-samples", help="With --model: imputations averaged per incomplete study (default: the checkpoint's).", show_default=False, rich_help_panel="Model (with --model)"),
    cross_check: bool = typer.Option(False, "--cross-check", help="Recompute every group's selection rate, TPR, FPR and accuracy and the fairlearn-defined criteria with fairlearn and aif360; any difference above 1e-9 is an error (exit 2).", rich_help_panel="Decision and statistics"),
    engine: str = typer.Option("auto", "--engine", help="auto, memory, stream or dask. memory reads the table whole; stream reads Parquet in batches (the default for a directory or glob); dask reduces partitions on a Dask cluster. All but the classic in-memory path (auto/memory on one file with the multinomial bootstrap) audit merged statistics.", rich_help_panel="Larger than memory (stream, Dask)"),
    scheduler: str | None = typer.Option(None, "--scheduler", help="With --engine dask: address of a running Dask scheduler (default: a local cluster of --workers processes).", show_default=False, rich_help_panel="Larger than memory (stream, Dask)"),
    workers: int = typer.Option(2, "--workers", help="With --engine dask and no --scheduler: workers of the local cluster.", rich_help_panel="Larger than memory (stream, Dask)"),
    partitions: int | None = typer.Option(None, "--partitions", help="With --engine stream/dask: partitions of whole row groups (default one per file).", show_default=False, rich_help_panel="Larger than memory (stream, Dask)"),
    bootstrap_method: str = typer.Option("multinomial", "--bootstrap-method", help="multinomial (rows redrawn) or poisson (hashed Poisson weights: identical results for any partitioning; needed for --cluster on merged statistics).", rich_help_panel="Larger than memory (stream, Dask)"),
    row_id: str | None = typer.Option(None, "--row-id", help="Row id column: the Poisson bootstrap's key (default: file and row number in the file).", show_default=False, rich_help_panel="Larger than memory (stream, Dask)"),
    jobs: int = typer.Option(0, "--jobs", "-j", help="Threads for the bootstrap replicates (0 = every core, at most 8). The numbers are the same for any value.", rich_help_panel="Decision and statistics"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No summary or progress on stderr.", rich_help_panel="Gate and reports"),
) -> None:
    from fairaudit.cli.progress import cli_progress
    from fairaudit.errors import ConfigError
    from fairaudit.workflows.audit import AuditOutputs, run_audit

    if save_predictions is not None and model is None:
        raise ConfigError("--save-predictions needs --model (a predictions table already has its scores).")
    predict_options: dict[str, object] = {}
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
    if score_type is not ScoreType.probability and predictions is None:
        raise ConfigError("--score-type describes the score column of --predictions; a model's "
                          "scores are probabilities.")
    check_input_flags(metadata, on, bins, sensitive)
    outputs = AuditOutputs(fmt=fmt.value, output=output, html=html, junit=junit,
                           save_predictions=save_predictions,
                           suppress_small_cells=suppress_small_cells, no_fail=no_fail)
    if _merged_engine(predictions, engine, bootstrap_method, row_id) and predictions is not None:
        _check_merged_options(model, split, group_thresholds, cross_check, save_predictions)
        if metadata is not None or bins or pos_label is not None or score_type.value != "probability":
            from fairaudit.errors import ConfigError

            raise ConfigError("--metadata, --bins, --pos-label and --score-type logit need the "
                              "classic in-memory engine (one --predictions file, --engine auto or "
                              "memory, --bootstrap-method multinomial).")
        from fairaudit.metrics import AuditConfig
        from fairaudit.workflows.scale import run_scaled_audit

        config = AuditConfig(n_bootstrap=bootstrap, confidence_level=confidence, seed=seed,
                             min_group_size=min_group_size, min_group_events=min_group_events,
                             n_permutations=permutations, intersections=intersections,
                             jobs=jobs)
        resolved = "stream" if engine == "auto" and _is_dataset(predictions) else engine
        with quiet_libraries(quiet):
            run = run_scaled_audit(
                predictions, label=label, sensitive=sensitive, score=score, cluster=cluster,
                row_id=row_id, engine="memory" if resolved == "auto" else resolved,
                scheduler=scheduler, n_workers=workers, n_partitions=partitions,
                bootstrap_method=bootstrap_method, threshold=threshold, config=config,
                allow_many_groups=allow_many_groups, policy=policy, outputs=outputs,
                command=_command_line(), progress=cli_progress(quiet), names=FLAGS,
            )
    else:
        with quiet_libraries(quiet):
            run = run_audit(
                label=label, sensitive=sensitive, predictions=predictions, model=model,
                model_config=model_config, data=data,
                score=score, cluster=cluster, split_column=split_column, split=split,
                allow_many_groups=allow_many_groups, predict_options=predict_options,
                policy=policy, group_thresholds=group_thresholds, threshold=threshold,
                threshold_source="given (--threshold)",
                audit_options={"n_bootstrap": bootstrap, "confidence_level": confidence,
                               "seed": seed, "min_group_size": min_group_size,
                               "min_group_events": min_group_events,
                               "n_permutations": permutations, "intersections": intersections,
                               "cross_check": cross_check, "jobs": jobs},
                outputs=outputs, command=_command_line(), progress=cli_progress(quiet),
                names=FLAGS,
                input_options={"metadata": metadata, "on": on, "bins": bins or None,
                               "score_type": score_type.value, "pos_label": pos_label},
            )
        if not quiet and (line := metadata_summary(run.result.dataset)):
            err(line)
    _report(run, output, html, junit, quiet, suppress_small_cells)


def _is_dataset(predictions: Path | None) -> bool:
    """A directory (not a ``*.parquet`` folder, which pandas reads whole) or a glob."""
    text = str(predictions)
    return predictions is not None and (
        (Path(text).is_dir() and Path(text).suffix.lower() not in (".parquet", ".pq"))
        or any(ch in text for ch in "*?["))


def _merged_engine(predictions: Path | None, engine: str, method: str, row_id: str | None) -> bool:
    """Whether the audit goes through merged statistics (workflows/scale.py)."""
    from fairaudit.errors import ConfigError

    if engine not in ("auto", "memory", "stream", "dask"):
        raise ConfigError(f"--engine must be auto, memory, stream or dask; got '{engine}'.")
    if method not in ("multinomial", "poisson"):
        raise ConfigError(f"--bootstrap-method must be multinomial or poisson; got '{method}'.")
    if predictions is None:
        if engine in ("stream", "dask") or method == "poisson":
            raise ConfigError("--engine stream/dask and --bootstrap-method poisson audit a "
                              "--predictions table or Parquet dataset.")
        return False
    if row_id is not None and method != "poisson":
        raise ConfigError("--row-id is the key of --bootstrap-method poisson; add it.")
    return engine in ("stream", "dask") or method == "poisson" or _is_dataset(predictions)


def _check_merged_options(model, split, group_thresholds, cross_check, save_predictions) -> None:
    from fairaudit.errors import ConfigError

    for given, option in ((model, "--model"), (split, "--split"), (group_thresholds, "--group-thresholds"),
                          (cross_check or None, "--cross-check"), (save_predictions, "--save-predictions")):
        if given is not None:
            raise ConfigError(f"{option} needs the classic in-memory engine (one --predictions "
                              "file, --engine auto or memory, --bootstrap-method multinomial).")


def _report(run, output: Path | None, html: Path | None, junit: Path | None, quiet: bool,
            suppress_small_cells: int) -> None:
    """Print the payload (when it has no file), the warnings and the summary; exit."""
    print_payload_and_warnings(run, output is None, quiet, suppress_small_cells)
    if not quiet:
        _summary(run.result, output, html, junit)
    raise typer.Exit(run.exit_code)


def _command_line() -> str | None:
    return "fairaudit " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv else None


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
