"""Session fixtures: a tiny simulated cohort and a tiny model trained on it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from modelkit import tiny_cohort, tiny_train  # noqa: E402

from fairaudit.data.manifest import load_manifest  # noqa: E402


@pytest.fixture(scope="session")
def cohort_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_cohort(tmp_path_factory.mktemp("cohort"))


@pytest.fixture(scope="session")
def trained(cohort_dir: Path):
    return tiny_train(cohort_dir)


@pytest.fixture(scope="session")
def test_set(cohort_dir: Path):
    return load_manifest(cohort_dir / "test.csv", label="diagnosis", sensitive="sex,race",
                         cluster="patient_id")


@pytest.fixture(scope="session")
def saved(trained, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fairaudit.models.checkpoint import save_model

    path = tmp_path_factory.mktemp("ckpt") / "model"
    save_model(trained, path)
    return path
