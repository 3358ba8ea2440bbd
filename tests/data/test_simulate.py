"""The cohort simulator: deterministic per seed, split by patient, biases planted as documented."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from fairaudit.data.simulate import SYMPTOMS, CohortConfig, simulate_cohort, write_cohort
from fairaudit.errors import ConfigError

SMALL = CohortConfig(n_patients=300, seed=11, image_size=32)


@pytest.fixture(scope="module")
def cohort():
    return simulate_cohort(SMALL)


@pytest.fixture(scope="module")
def big():
    # Enough studies to see the planted rates; tiny images keep it fast.
    return simulate_cohort(CohortConfig(n_patients=3000, seed=2, image_size=16))


def test_deterministic_per_seed(cohort) -> None:
    again = simulate_cohort(SMALL)
    pd.testing.assert_frame_equal(cohort.studies, again.studies)
    assert cohort.images.keys() == again.images.keys()
    assert all(np.array_equal(cohort.images[k], again.images[k]) for k in cohort.images)
    assert cohort.truth == again.truth
    other = simulate_cohort(CohortConfig(n_patients=300, seed=12, image_size=32))
    assert not cohort.studies["note"].equals(other.studies["note"])


def test_written_files_are_identical_per_seed(cohort, tmp_path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    write_cohort(cohort, a)
    write_cohort(simulate_cohort(SMALL), b)
    for name in ("train.csv", "validation.csv", "test.csv", "cohort.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    pngs = sorted(p.name for p in (a / "images").iterdir())
    assert pngs and all((a / "images" / n).read_bytes() == (b / "images" / n).read_bytes() for n in pngs)


def test_splits_are_by_patient_and_some_patients_have_several_studies(cohort) -> None:
    s = cohort.studies
    assert s.groupby("patient_id")["split"].nunique().max() == 1
    assert set(s["split"]) == {"train", "validation", "test"}
    assert s["patient_id"].value_counts().max() > 1
    assert s["study_id"].is_unique


def test_demographics_are_imbalanced_and_site_depends_on_race(big) -> None:
    share = big.studies.drop_duplicates("patient_id")["race"].value_counts(normalize=True)
    assert share.index[0] == "White" and share.iloc[0] > 0.7 and len(share) == 5 and share.iloc[1] < 0.15
    site = pd.crosstab(big.studies["race"], big.studies["site"], normalize="index")
    assert site.loc["Black", "S4"] > 2 * site.loc["White", "S4"]


def test_modalities_and_missingness_differ_by_group(big) -> None:
    s = big.studies
    no_image = s["image_path"] == ""
    no_note = s["note"] == ""
    no_labs = s.filter(like="lab_").isna().all(axis=1)
    assert no_image.groupby(s["site"]).mean()["S4"] > 2 * no_image.groupby(s["site"]).mean()["S1"]
    assert no_note.groupby(s["race"]).mean()["Black"] > 2 * no_note.groupby(s["race"]).mean()["White"]
    assert no_labs.groupby(s["sex"]).mean()["F"] > no_labs.groupby(s["sex"]).mean()["M"]
    assert not (no_image & no_note & no_labs).any()
    # Images exist exactly for the studies that reference one.
    assert set(big.images) == set(s.loc[~no_image, "study_id"])
    assert all(im.shape == (16, 16) and im.dtype == np.uint8 for im in big.images.values())


def test_sex_dependent_labs(big) -> None:
    healthy = big.studies[big.studies["diagnosis"] == 0]
    hb = healthy.groupby("sex")["lab_hemoglobin"].mean()
    assert hb["M"] - hb["F"] > 1.0


def _symptom_rate(notes: pd.Series) -> float:
    words = [re.escape(w) for spec in SYMPTOMS.values() for w in spec["words"]]
    positive = re.compile(r"(reports|complains of|presents with|describes|patient notes) (" + "|".join(words) + ")")
    return float(notes.str.lower().map(lambda t: len(positive.findall(t))).mean())


def test_planted_biases_match_ground_truth(big) -> None:
    s = big.studies
    truth = {b["kind"]: b for b in big.truth["planted_biases"]}
    assert set(truth) == {"low_lesion_contrast", "underdocumented_symptoms", "missed_diagnoses"}

    # Missed diagnoses: only in the documented group, only true positives recorded as 0.
    md = truth["missed_diagnoses"]
    flipped = s[s["study_id"].isin(md["flipped_study_ids"])]
    assert len(flipped) == md["n_flipped"] > 0
    assert (flipped[md["attribute"]] == md["group"]).all() and (flipped["diagnosis"] == 0).all()
    rec = big.truth["recorded_prevalence"]["race"]
    true = big.truth["true_prevalence"]["race"]
    assert rec[md["group"]] < true[md["group"]] and rec["White"] == true["White"]

    # Under-documented symptoms: fewer symptom mentions among the diseased of that group.
    ud = truth["underdocumented_symptoms"]
    diseased = s[(s["diagnosis"] == 1) & (s["note"] != "")]
    in_group = diseased[ud["attribute"]] == ud["group"]
    assert _symptom_rate(diseased.loc[in_group, "note"]) < 0.5 * _symptom_rate(diseased.loc[~in_group, "note"])
    assert ud["symptoms_omitted"] > 0


def test_low_lesion_contrast_shows_in_the_images() -> None:
    # Same patients, lesions and noise with and without the planted contrast bias (the random
    # streams are identical): only the lesions of the affected group get fainter.
    from fairaudit.data.simulate import PlantedBias

    base = CohortConfig(n_patients=600, seed=4, image_size=32)
    flat = CohortConfig(n_patients=600, seed=4, image_size=32,
                        biases=(PlantedBias("low_lesion_contrast", "sex", "F", 1.0),))
    a, b = simulate_cohort(base), simulate_cohort(flat)
    # ``flat`` plants no missed diagnoses, so its recorded label is the true one.
    s = b.studies[b.studies["image_path"] != ""]

    def lost(sid: str) -> float:
        return float(b.images[sid].astype(float).sum() - a.images[sid].astype(float).sum())

    female, diseased = (s["sex"] == "F").to_numpy(), (s["diagnosis"] == 1).to_numpy()
    ids = s["study_id"].to_numpy()
    assert min(lost(i) for i in ids[female & diseased]) > 0
    assert all(lost(i) == 0 for i in ids[~female | ~diseased])


def test_cohort_json_documents_everything(cohort, tmp_path) -> None:
    written = write_cohort(cohort, tmp_path, splits=("validation", "test"))
    assert set(written) == {"validation", "test"} and not (tmp_path / "train.csv").exists()
    meta = json.loads((tmp_path / "cohort.json").read_text())
    assert meta["config"]["seed"] == 11 and len(meta["planted_biases"]) == 3
    assert meta["files"] == {"validation": "validation.csv", "test": "test.csv"}
    test = pd.read_csv(tmp_path / "test.csv", keep_default_na=False)
    for rel in test.loc[test["image_path"] != "", "image_path"]:
        assert (tmp_path / rel).is_file()
    for col in ("patient_id", "study_id", "sex", "race", "age", "site", "diagnosis", "note", "lab_crp"):
        assert col in test.columns
    with pytest.raises(ConfigError):
        write_cohort(cohort, tmp_path, splits=("holdout",))


def test_config_validation() -> None:
    with pytest.raises(ConfigError):
        CohortConfig(n_patients=2)
    with pytest.raises(ConfigError):
        CohortConfig(split_fractions=(0.5, 0.5, 0.5))
