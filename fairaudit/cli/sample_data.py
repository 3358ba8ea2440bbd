"""``fairaudit sample-data``: write a synthetic multimodal cohort with planted biases."""

from __future__ import annotations

from pathlib import Path

import typer

from fairaudit.cli._common import err, handle_errors

HELP = (
    "Write a synthetic multimodal cohort (images, notes, labs; train/validation/test split by "
    "patient) with planted biases documented in cohort.json."
)


@handle_errors
def sample_data_command(
    out: Path = typer.Option(..., "--out", help="Directory to write the cohort into."),
    patients: int = typer.Option(4000, "--patients", help="Number of patients."),
    seed: int = typer.Option(0, "--seed", help="Random seed; the cohort is a function of it."),
    image_size: int = typer.Option(64, "--image-size", help="Image height and width in pixels."),
    splits: str = typer.Option(
        "train,validation,test", "--splits",
        help="Comma-separated splits to write (cohort.json always describes all of them).",
    ),
) -> None:
    from fairaudit._io import check_output_dir
    from fairaudit.api import check_seed
    from fairaudit.data.simulate import CohortConfig, simulate_cohort, write_cohort

    check_seed(seed)
    check_output_dir(out)

    chosen = tuple(s.strip() for s in splits.split(",") if s.strip())
    cohort = simulate_cohort(CohortConfig(n_patients=patients, seed=seed, image_size=image_size))
    written = write_cohort(cohort, out, splits=chosen)
    for split, path in written.items():
        n = int((cohort.studies["split"] == split).sum())
        err(f"{split}: {n} studies -> {path}")
    err(f"ground truth of the planted biases: {Path(out) / 'cohort.json'}")
