"""``fairaudit train``: train the multimodal latent-diffusion model and save a checkpoint."""

from __future__ import annotations

from pathlib import Path

import typer

from fairaudit.cli._common import err, handle_errors

HELP = (
    "Train the built-in multimodal latent-diffusion model on a cohort's train split, with early "
    "stopping and the decision threshold (Youden J) chosen on its validation split."
)


@handle_errors
def train_command(
    data: Path = typer.Option(
        ..., "--data",
        help="Cohort directory with train.csv and validation.csv, or one manifest with a 'split' column.",
    ),
    out: Path = typer.Option(..., "--out", help="Checkpoint directory to write."),
    epochs: int = typer.Option(40, "--epochs", help="Maximum classifier epochs (early stopping on validation AUC)."),
    seed: int = typer.Option(0, "--seed", help="Random seed (initialisation, batches, dropout, diffusion)."),
    label: str = typer.Option("diagnosis", "--label", help="Binary label column."),
    sensitive: str = typer.Option(
        "sex,race", "--sensitive", help="Attributes for the per-group validation AUCs stored in the checkpoint."),
    dicom_window: str | None = typer.Option(
        None, "--dicom-window", metavar="CENTER,WIDTH",
        help="Window of every DICOM image in modality units, e.g. 40,400 (after rescale slope and "
             "intercept); kept in the checkpoint, so audits read images the same way. Default: "
             "each file's own window.", show_default=False),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bars."),
) -> None:
    from fairaudit._io import check_output_dir, check_outputs
    from fairaudit.api import check_seed
    from fairaudit.cli.progress import cli_progress
    from fairaudit.data.manifest import load_training_manifests
    from fairaudit.models.checkpoint import CONFIG_FILE, WEIGHTS_FILE, save_model
    from fairaudit.models.training import TrainSettings, train_model

    check_seed(seed)
    window = parse_window(dicom_window) if dicom_window is not None else None
    check_output_dir(out)  # before training, not after it
    if out.is_dir():
        check_outputs([(f"--out file {n}", out / n) for n in (WEIGHTS_FILE, CONFIG_FILE)],
                      [("--data", data)])
    train, val = load_training_manifests(data, label=label, sensitive=sensitive)
    predictor = train_model(train, val, settings=TrainSettings(epochs=epochs, seed=seed),
                            progress=cli_progress(quiet), image_window=window)
    sha = save_model(predictor, out)
    v = predictor.info["validation"]
    err(
        f"validation AUC {v['auc']:.3f} (absent-token fallback {v['auc_fallback']:.3f}); threshold "
        f"{predictor.threshold:.4f} ({predictor.threshold_rule}); "
        f"{predictor.info['train_seconds']:.0f} s"
    )
    err(f"checkpoint {out} sha256 {sha}")


def parse_window(text: str) -> tuple[float, float]:
    """``"CENTER,WIDTH"`` as numbers; a one-line error naming --dicom-window otherwise (the
    width is at least 1, as the image reader requires)."""
    import math

    from fairaudit.errors import ConfigError

    try:
        center, width = map(float, text.split(","))
    except ValueError:  # not two numbers
        center = width = math.nan
    if not (math.isfinite(center) and math.isfinite(width) and width >= 1.0):
        raise ConfigError(f"--dicom-window must be CENTER,WIDTH in modality units with a width of at "
                          f"least 1 (e.g. 40,400); got '{text}'.")
    return center, width
