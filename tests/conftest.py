"""Shared fixtures: seeded prediction tables, and the one tiny cohort and model.

Every test that needs a simulated cohort or a trained model takes it from here (the session
fixtures ``cohort_dir``, ``trained``, ``test_set`` and ``saved``) or builds a variant through
the ``tiny`` fixture, so that one tiny configuration (:class:`TinyKit`) serves the whole suite.
Tests that exercise the simulator or the ``train`` command themselves build their own inputs.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import settings

if TYPE_CHECKING:
    from fairaudit.data.dataset import AuditDataset
    from fairaudit.models.multimodal import MultimodalPredictor
    from fairaudit.models.training import TrainSettings

os.environ.setdefault("MPLBACKEND", "Agg")

# Property tests draw the same examples on every run (the suite is deterministic); a failure
# found once is found again.
settings.register_profile("deterministic", derandomize=True)
settings.load_profile("deterministic")

ROOT = Path(__file__).resolve().parents[1]


def make_predictions(seed: int = 0, n: int = 4000, *, tied: bool = False) -> pd.DataFrame:
    """A predictions table whose error rates differ by group (so criteria are non-trivial)."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["F", "M"], n)
    race = rng.choice(["White", "Black", "Asian", "Mixed"], n, p=[0.7, 0.12, 0.12, 0.06])
    site = rng.integers(1, 4, n)  # integer-coded group column
    age = pd.Categorical(rng.choice(["<40", "40-65", ">65"], n), categories=["<40", "40-65", ">65"])
    prevalence = np.where(race == "Black", 0.45, 0.3)
    y = (rng.random(n) < prevalence).astype(int)
    shift = np.where(race == "Mixed", 0.25, 0.0) + np.where(sex == "F", 0.05, 0.0)
    score = 1 / (1 + np.exp(-(rng.normal(0, 1, n) + 2.0 * y - 1.0 - 2 * shift * y)))
    if tied:
        score = np.round(score, 2)
    return pd.DataFrame({"y": y, "score": score, "sex": sex, "race": race, "site": site, "age": age})


def write_split_table(path: Path, n_val: int, n_test: int) -> Path:
    """A predictions CSV with a ``split`` column: ``n_val`` rows "val" then ``n_test`` "test"."""
    val = make_predictions(1, n=n_val).assign(split="val")
    test = make_predictions(2, n=n_test).assign(split="test")
    pd.concat([val, test]).to_csv(path, index=False)
    return path


@pytest.fixture
def predictions() -> pd.DataFrame:
    return make_predictions(0)


@pytest.fixture
def predictions_csv(tmp_path: Path, predictions: pd.DataFrame) -> Path:
    path = tmp_path / "predictions.csv"
    predictions.to_csv(path, index=False)
    return path


# -- the one tiny cohort and model ----------------------------------------------------------------


@dataclass(frozen=True)
class TinyKit:
    """The tiny configuration of every simulated cohort and trained model in the tests.

    A cohort of ``n_patients`` with ``image_size`` pixel images, and a network and training
    schedule small enough to train in seconds on a CPU. ``settings``, ``cohort`` and ``train``
    take changes for the few tests that need a variant (another seed, one epoch).
    """

    # 240 patients: the smallest cohort whose validation split still gives the threshold
    # mitigation a group with enough positives to fit (tests/cli/test_mitigate.py).
    n_patients: int = 240
    cohort_seed: int = 3
    image_size: int = 16
    network: Mapping[str, Any] = field(default_factory=lambda: {
        "image_channels": (4, 8), "latent_dim": 16, "hidden": 32, "max_note_len": 24,
        "text_heads": 2, "fusion_heads": 2,
    })
    denoiser: Mapping[str, Any] = field(default_factory=lambda: {
        "hidden": 32, "blocks": 1, "time_dim": 16, "diffusion_steps": 100, "sample_steps": 5,
    })
    train_settings: Mapping[str, Any] = field(default_factory=lambda: {
        "epochs": 2, "batch_size": 32, "diffusion_epochs": 4, "diffusion_batch_size": 64, "seed": 3,
    })
    label: str = "diagnosis"
    sensitive: str = "sex,race"

    def settings(self, **changes: Any) -> TrainSettings:
        """The tiny :class:`TrainSettings`, with ``changes`` applied."""
        from fairaudit.models.training import TrainSettings

        return dataclasses.replace(TrainSettings(**self.train_settings), **changes)

    def cohort(self, out: Path, **changes: Any) -> Path:
        """Simulate and write the tiny cohort (train/validation/test manifests) into ``out``."""
        from fairaudit.data.simulate import CohortConfig, simulate_cohort, write_cohort

        config = CohortConfig(n_patients=self.n_patients, seed=self.cohort_seed,
                              image_size=self.image_size)
        write_cohort(simulate_cohort(dataclasses.replace(config, **changes)), out)
        return out

    def train(self, cohort: Path, **changes: Any) -> MultimodalPredictor:
        """Train the tiny model on ``cohort``'s train and validation splits."""
        from fairaudit.data.manifest import load_training_manifests
        from fairaudit.models.training import train_model

        train, val = load_training_manifests(cohort, label=self.label, sensitive=self.sensitive)
        return train_model(train, val, settings=self.settings(**changes),
                           network=dict(self.network), denoiser=dict(self.denoiser))


@pytest.fixture(scope="session")
def tiny() -> TinyKit:
    """The tiny configuration (to build a variant cohort or model)."""
    return TinyKit()


@pytest.fixture(scope="session")
def cohort_dir(tiny: TinyKit, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny simulated cohort (shared: copy it before changing it)."""
    return tiny.cohort(tmp_path_factory.mktemp("cohort"))


@pytest.fixture(scope="session")
def trained(tiny: TinyKit, cohort_dir: Path) -> MultimodalPredictor:
    """The tiny model trained on the tiny cohort."""
    return tiny.train(cohort_dir)


@pytest.fixture(scope="session")
def test_set(tiny: TinyKit, cohort_dir: Path) -> AuditDataset:
    """The tiny cohort's test split, with patient clusters."""
    from fairaudit.data.manifest import load_manifest

    return load_manifest(cohort_dir / "test.csv", label=tiny.label, sensitive=tiny.sensitive,
                         cluster="patient_id")


@pytest.fixture(scope="session")
def saved(trained: MultimodalPredictor, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model saved as a checkpoint directory."""
    from fairaudit.models.checkpoint import save_model

    path = tmp_path_factory.mktemp("ckpt") / "model"
    save_model(trained, path)
    return path


class RecordingProgress:
    """A :class:`fairaudit.models.progress.Progress` that remembers what it was told."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object, object]] = []

    def start(self, task: str, total: int) -> None:
        self.events.append(("start", task, total))

    def advance(self, n: int = 1, description: str | None = None) -> None:
        self.events.append(("advance", n, description))

    def stop(self) -> None:
        self.events.append(("stop", None, None))



@pytest.fixture(scope="session")
def small_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """110 patients of the shipped sample's test split, image paths made absolute."""
    cohort = ROOT / "sample_data" / "cohort"
    df = pd.read_csv(cohort / "test.csv")
    patients = df["patient_id"].drop_duplicates().sample(n=110, random_state=3)
    sub = df[df["patient_id"].isin(patients)].copy()
    sub["image_path"] = [str(cohort / p) if isinstance(p, str) and p else p for p in sub["image_path"]]
    path = tmp_path_factory.mktemp("small") / "small.csv"
    sub.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def tiny_stress_result(small_manifest: Path) -> Any:
    """A tiny stress audit of the shipped model on :func:`small_manifest`, with a policy of two
    rules (one fails: any AUC drop under the worst brightness)."""
    from fairaudit.gate.stress import parse_stress_policy
    from fairaudit.workflows.stress import StressConfig, stress_audit

    config = StressConfig(corruptions=("brightness",), severities=(1, 5),
                          removals=(("image",), ("note", "labs")), imputes=("fallback",),
                          n_bootstrap=100, probe_shuffles=1, probe_folds=3, ddim_steps=2, samples=1)
    policy = parse_stress_policy(
        '[[stress]]\ncorruption = "brightness"\nseverity = 5\nmetric = "auc"\nper_group = false\n'
        'max_drop = 0.0001\n[[stress]]\nremoved = ["image"]\nimpute = "fallback"\nmetric = "tpr"\n'
        'max_drop = 1.0\nattributes = "sex"\n')
    stages: list[str] = []
    result = stress_audit(ROOT / "sample_data" / "model", small_manifest, label="diagnosis",
                          sensitive="sex,race", cluster="patient_id", config=config, policy=policy,
                          on_progress=lambda s, d, t: stages.append(s))
    assert {"encode", "conditions", "probe"} <= set(stages)
    return result
