"""``fairaudit mitigate``: apply mitigations, re-audit on the test split, compare before/after."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Literal

import typer

from fairaudit.cli._common import ScoreType, check_input_flags, err, handle_errors, quiet_libraries

HELP = (
    "Apply fairness mitigations (reweighting, stratified batch sampling, Group DRO, per-group "
    "threshold adjustment), re-audit each on the held-out test split and compare with the "
    "baseline: per-group metrics with confidence intervals, a performance-fairness trade-off "
    "plot, and a do-no-harm table that flags groups whose sensitivity, PPV or AUC fell or whose "
    "false-positive rate rose (harm, possible harm, levelling down). Writes comparison.json, comparison.html, comparison.md (and thresholds.json, "
    "fine-tuned checkpoints) to --out.\n\n"
    "With --predictions (any model) only threshold adjustment applies; thresholds are fitted on "
    "the validation rows and judged on the test rows.\n\n"
    "Exit codes: 0 done (whatever the verdict), 2 error."
)


class Objective(enum.StrEnum):
    equalized_odds = "equalized_odds"
    equal_opportunity = "equal_opportunity"
    sensitivity_floor = "sensitivity_floor"


@handle_errors
def mitigate_command(
    model: Path | None = typer.Option(None, "--model", "-m", help="fairaudit checkpoint to fine-tune (training-time methods) and re-threshold; or any model `audit --model` takes (TorchScript, ONNX with --model-config, package.module:factory) for --method threshold.", show_default=False, rich_help_panel="Input"),
    model_config: Path | None = typer.Option(None, "--model-config", help="With a TorchScript or ONNX --model: its model.toml (docs/adapters.md).", show_default=False, rich_help_panel="Input"),
    data: Path | None = typer.Option(None, "--data", "-d", help="Cohort manifest or folder with train/val/test splits, for --model.", show_default=False, rich_help_panel="Input"),
    predictions: Path | None = typer.Option(None, "--predictions", "-p", help="Any model's predictions (CSV/Parquet) with a split column (val/test); threshold adjustment only.", show_default=False, rich_help_panel="Input"),
    val_predictions: Path | None = typer.Option(None, "--val-predictions", help="Validation predictions in a separate file (then --predictions holds only test rows).", show_default=False, rich_help_panel="Input"),
    label: str = typer.Option(..., "--label", "-l", help="Binary label column (1 = disease present).", rich_help_panel="Input"),
    sensitive: str = typer.Option(..., "--sensitive", "-a", help="Protected attribute columns, comma-separated (e.g. sex,race).", rich_help_panel="Input"),
    metadata: Path | None = typer.Option(None, "--metadata", metavar="FILE", help="Take the --sensitive (and --cluster) columns from this table (CSV/Parquet, one row per key), joined on --on.", show_default=False, rich_help_panel="Input"),
    on: str | None = typer.Option(None, "--on", metavar="COL|PRED_COL=META_COL", help="Key of --metadata: COL, or PRED_COL=META_COL.", show_default=False, rich_help_panel="Input"),
    bins: list[str] | None = typer.Option(None, "--bins", metavar="COL=CUTS|COL=qN", help="Bin a numeric sensitive column: COL=40,60,80 or COL=q4 (quantiles of the validation rows, applied to every split). Repeatable.", show_default=False, rich_help_panel="Input"),
    score_type: ScoreType = typer.Option(ScoreType.probability, "--score-type", help="With --predictions: the score column holds probabilities or logits.", rich_help_panel="Input"),
    pos_label: str | None = typer.Option(None, "--pos-label", metavar="VALUE", help="For text labels: the positive value; the other value is 0.", show_default=False, rich_help_panel="Input"),
    score: str | None = typer.Option(None, "--score", "-s", help="Score column of --predictions (default 'score').", show_default=False, rich_help_panel="Input"),
    split_column: str = typer.Option("split", "--split-column", help="Column of --predictions telling val rows from test rows.", rich_help_panel="Input"),
    val_fraction: float | None = typer.Option(None, "--val-fraction", help="Without a split column: put this random share of patients (--cluster) or rows in validation, the rest in test (seeded by --seed).", show_default=False, rich_help_panel="Input"),
    method: str = typer.Option("all", "--method", help="reweighting, stratified, group-dro, threshold, threshold-fairlearn (comma-separated) or all (the first four). threshold-fairlearn runs fairlearn's randomised ThresholdOptimizer as a reference variant.", rich_help_panel="Methods"),
    target: str | None = typer.Option(None, "--target", help="Attribute(s) to mitigate (their intersection); default all of --sensitive.", show_default=False, rich_help_panel="Methods"),
    threshold: float | None = typer.Option(None, "--threshold", "-t", help="Baseline threshold; default: with --model the checkpoint's (Youden's J on its validation split), with --predictions the one maximising --performance on the validation rows.", show_default=False, rich_help_panel="Methods"),
    objective: Objective = typer.Option(Objective.equalized_odds, "--objective", help="Threshold adjustment goal.", rich_help_panel="Methods"),
    tolerance: str = typer.Option("auto", "--tolerance", help="Largest validation TPR/FPR gap allowed, or 'auto' (smallest gap as accurate as the exact randomised solution).", rich_help_panel="Methods"),
    sensitivity_floor: float | None = typer.Option(None, "--sensitivity-floor", help="Minimum validation sensitivity in every group (required by --objective sensitivity_floor).", show_default=False, rich_help_panel="Methods"),
    performance: str = typer.Option("accuracy", "--performance", help="What threshold adjustment maximises under its constraint: accuracy or balanced_accuracy.", rich_help_panel="Methods"),
    epochs: int | None = typer.Option(None, "--epochs", help="Most fine-tuning epochs (default 10; early stopping on validation worst-group AUC).", show_default=False, rich_help_panel="Fine-tuning (reweighting, stratified, group-dro)"),
    lr: float | None = typer.Option(None, "--lr", help="Fine-tuning learning rate (default 5e-4).", show_default=False, rich_help_panel="Fine-tuning (reweighting, stratified, group-dro)"),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Fine-tuning batch size (default the training loop's, 64).", show_default=False, rich_help_panel="Fine-tuning (reweighting, stratified, group-dro)"),
    diffusion_epochs: int | None = typer.Option(None, "--diffusion-epochs", help="Most epochs to re-fit the diffusion imputer after fine-tuning (default the training loop's).", show_default=False, rich_help_panel="Fine-tuning (reweighting, stratified, group-dro)"),
    stratify_by_label: bool = typer.Option(False, "--stratify-by-label", help="Stratified sampling balances group x label cells, not only groups.", rich_help_panel="Fine-tuning (reweighting, stratified, group-dro)"),
    dro_step_size: float = typer.Option(0.01, "--dro-eta", help="Group DRO step size eta.", rich_help_panel="Fine-tuning (reweighting, stratified, group-dro)"),
    dro_adjustment: float = typer.Option(1.0, "--dro-c", help="Group DRO group-size adjustment C (C / sqrt(n_g)).", rich_help_panel="Fine-tuning (reweighting, stratified, group-dro)"),
    seed: int = typer.Option(0, "--seed", help="Seed of fine-tuning and of the bootstrap.", rich_help_panel="Statistics"),
    bootstrap: int = typer.Option(1000, "--bootstrap", "-B", help="Bootstrap replicates for the confidence intervals.", rich_help_panel="Statistics"),
    confidence: float = typer.Option(0.95, "--confidence", help="Confidence level.", rich_help_panel="Statistics"),
    cluster: str | None = typer.Option(None, "--cluster", help="Patient id column: resample whole patients.", show_default=False, rich_help_panel="Statistics"),
    min_group_size: int = typer.Option(30, "--min-group-size", help="Groups with fewer rows are 'insufficient'.", rich_help_panel="Statistics"),
    min_group_events: int = typer.Option(10, "--min-group-events", help="Groups with fewer positives or negatives are 'insufficient'.", rich_help_panel="Statistics"),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder.", rich_help_panel="Output"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or summary on stderr.", rich_help_panel="Output"),
) -> None:
    from fairaudit._io import check_output_dir, check_outputs
    from fairaudit.api import check_resamples, check_seed
    from fairaudit.errors import ConfigError
    from fairaudit.mitigation.threshold_variant import ThresholdSettings
    from fairaudit.mitigation.thresholds import PERFORMANCE
    from fairaudit.workflows.mitigate import OUTPUT_FILES, mitigate, write_outputs

    check_seed(seed)
    check_resamples(bootstrap, "`n_bootstrap`")
    if score_type is not ScoreType.probability and predictions is None:
        raise ConfigError("--score-type describes the score column of --predictions; a model's "
                          "scores are probabilities.")
    check_input_flags(metadata, on, bins, sensitive)
    inputs = [("--model", model), ("--model-config", model_config), ("--data", data),
              ("--predictions", predictions), ("--val-predictions", val_predictions),
              ("--metadata", metadata)]
    check_output_dir(out)
    if out.is_dir():  # before any work: every file that will be written must be writable
        check_outputs([(f"--out file {name}", out / name) for name in OUTPUT_FILES], inputs)
    if performance not in PERFORMANCE:
        raise ConfigError(f"--performance must be one of {', '.join(PERFORMANCE)}; got {performance!r}.")
    tol: float | Literal["auto"]
    if tolerance.strip().lower() == "auto":
        tol = "auto"
    else:
        try:
            tol = float(tolerance)
        except ValueError:
            raise ConfigError(f"--tolerance must be 'auto' or a number in [0, 1]; got {tolerance!r}.") from None
    training: dict[str, object] = {"step_size": dro_step_size, "adjustment": dro_adjustment,
                                   "stratify_by_label": stratify_by_label,
                                   "min_group_events": min_group_events}
    for key, value in (("epochs", epochs), ("lr", lr), ("batch_size", batch_size),
                       ("diffusion_epochs", diffusion_epochs)):
        if value is not None:
            training[key] = value

    def say(msg: str) -> None:
        if not quiet:
            err(msg)

    with quiet_libraries(quiet):
        result = mitigate(
            label=label, sensitive=sensitive, out_dir=out, methods=method, model=model, data=data,
            model_config=model_config,
            predictions=predictions, val_predictions=val_predictions, score=score,
            split_column=split_column, val_fraction=val_fraction, target=target, threshold=threshold,
            thresholds=ThresholdSettings(objective=objective.value, tolerance=tol,
                                         sensitivity_floor=sensitivity_floor,
                                         performance=performance),
            training=training, seed=seed, n_bootstrap=bootstrap, confidence_level=confidence,
            min_group_size=min_group_size, min_group_events=min_group_events, cluster=cluster,
            progress=say, metadata=metadata, on=on, bins=bins or None,
            score_type=score_type.value, pos_label=pos_label,
        )
        files = write_outputs(result, out, inputs=inputs, what="--out file {name}")
    if not quiet:
        err(result.comparison.to_markdown(warnings=False).rstrip())
        for v in result.comparison.variants:
            if v.harmed:
                err(f"{v.name}: {v.verdict}; harmed: {', '.join(v.harmed)}")
            if v.possible_harm:
                err(f"{v.name}: possible harm (a harmful change whose interval only touches 0): "
                    f"{', '.join(v.possible_harm)}")
        for w in result.comparison.warnings:
            err(f"warning: {w}")
        for name, path in {**files, **result.checkpoints}.items():
            err(f"wrote {name}: {path}")
    raise typer.Exit(0)
