"""fairaudit.workflows.fine_tune: the cohort's splits and one fine-tuned copy per method."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from fairaudit.data.manifest import load_manifest
from fairaudit.errors import ConfigError, InputError
from fairaudit.workflows.fine_tune import (
    TRAINING_MITIGATIONS,
    fine_tune_method,
    resolve_cohort,
    worst_group_auc_score,
)


def test_resolve_cohort_finds_the_splits_from_the_folder_or_a_file(cohort_dir: Path) -> None:
    paths = resolve_cohort(cohort_dir)
    assert set(paths) == {"train", "validation", "test"}
    assert resolve_cohort(cohort_dir / "test.csv") == paths


def test_a_missing_split_is_named(cohort_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "c"
    shutil.copytree(cohort_dir, copy)
    (copy / "train.csv").unlink()
    assert set(resolve_cohort(copy, need_train=False)) == {"validation", "test"}
    with pytest.raises(InputError, match="lacks the train split"):
        resolve_cohort(copy)
    with pytest.raises(InputError, match="does not exist"):
        resolve_cohort(tmp_path / "nope")


def test_worst_group_auc_skips_groups_with_too_few_events() -> None:
    score = worst_group_auc_score(2)
    s = np.array([0.9, 0.1, 0.8, 0.2, 0.3, 0.7])
    y = np.array([1, 0, 1, 0, 1, 0])
    g = np.array([0, 0, 0, 0, 1, 1])  # group 1 has one positive and one negative: skipped
    assert score(s, y, g) == 1.0


@pytest.mark.parametrize("method", list(TRAINING_MITIGATIONS))
def test_each_training_method_fine_tunes_a_copy_and_records_it(method, tiny, trained, cohort_dir, test_set) -> None:
    train = load_manifest(cohort_dir / "train.csv", label="diagnosis", sensitive="sex,race")
    val = load_manifest(cohort_dir / "validation.csv", label="diagnosis", sensitive="sex,race")
    before = trained.predict_proba(test_set)
    tuned, prov = fine_tune_method(method, trained, train, val, target=("race",),
                                   settings=tiny.settings(epochs=1, diffusion_epochs=1),
                                   options={"min_group_events": 1})
    assert tuned is not trained and prov["method"] == method and prov["target"] == "race"
    assert prov["base_checkpoint_sha256"] == trained.sha256
    assert tuned.info["mitigation"] == prov and "mitigation" not in trained.info
    np.testing.assert_array_equal(trained.predict_proba(test_set), before)  # the base is untouched
    if method == "group-dro":
        assert sum(prov["group_dro"]["weights"].values()) == pytest.approx(1.0)


def test_an_unknown_method_is_named() -> None:
    with pytest.raises(ConfigError, match="unknown training-time method 'dropout'; known: reweighting"):
        fine_tune_method("dropout", None, None, None, target=("race",), settings=None, options={})
