"""Builders for a tiny simulated cohort and a tiny trained model (seconds to build)."""

from __future__ import annotations

from pathlib import Path

from fairaudit.data.manifest import load_training_manifests
from fairaudit.data.simulate import CohortConfig, simulate_cohort, write_cohort
from fairaudit.models.training import TrainSettings, train_model

TINY_NETWORK = {"image_channels": (4, 8), "latent_dim": 16, "hidden": 32, "max_note_len": 24,
                "text_heads": 2, "fusion_heads": 2}
TINY_DENOISER = {"hidden": 32, "blocks": 1, "time_dim": 16, "diffusion_steps": 100, "sample_steps": 5}
TINY_SETTINGS = TrainSettings(epochs=2, batch_size=32, diffusion_epochs=4, diffusion_batch_size=64, seed=3)


def tiny_cohort(out: Path, seed: int = 5, n_patients: int = 120) -> Path:
    write_cohort(simulate_cohort(CohortConfig(n_patients=n_patients, seed=seed, image_size=24)), out)
    return out


def tiny_train(cohort: Path, settings: TrainSettings = TINY_SETTINGS):
    train, val = load_training_manifests(cohort, label="diagnosis", sensitive="sex,race")
    return train_model(train, val, settings=settings, network=TINY_NETWORK, denoiser=TINY_DENOISER)
