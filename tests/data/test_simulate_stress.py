"""The simulator's stress effects: documented in cohort.json, drawn from their own stream."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fairaudit.data.simulate import CohortConfig, StressEffect, simulate_cohort
from fairaudit.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def _small(**kw) -> CohortConfig:
    return CohortConfig(n_patients=80, seed=3, image_size=16, **kw)


def test_shipped_cohort_json_documents_theplanted_stress() -> None:
    from fairaudit.data.simulate import planted_stress

    meta = json.loads((ROOT / "sample_data" / "cohort" / "cohort.json").read_text())
    assert meta["planted_stress"] == json.loads(json.dumps(planted_stress(CohortConfig(n_patients=4000, seed=0))))
    kinds = {(e["kind"], e.get("modality")) for e in meta["planted_stress"]}
    assert ("missing_by_group", "note") in kinds and ("noisy_site", None) in kinds


def test_stress_effects_change_only_what_they_say() -> None:
    base = simulate_cohort(_small())
    noisy = simulate_cohort(_small(stress=(StressEffect("image_noise", "sex", "F", 0.2),
                                           StressEffect("missing_modality", "race", "White", 1.0, "note"))))
    cols = ["patient_id", "study_id", "diagnosis", "sex", "race", "site", "lab_crp"]
    assert base.studies[cols].equals(noisy.studies[cols])
    white = (noisy.studies["race"] == "White").to_numpy()
    assert (noisy.studies.loc[white, "note"] == "").all()
    np.testing.assert_array_equal(noisy.studies.loc[~white, "note"], base.studies.loc[~white, "note"])
    changed = {sid for sid in noisy.images if sid in base.images
               and not np.array_equal(noisy.images[sid], base.images[sid])}
    female = set(noisy.studies.loc[noisy.studies["sex"] == "F", "study_id"])
    assert changed and changed <= female
    effect = noisy.truth["planted_stress"][-1]
    assert effect["kind"] == "missing_modality" and effect["group"] == "White"


def test_without_effects_the_cohort_is_unchanged() -> None:
    a, b = simulate_cohort(_small()), simulate_cohort(_small(stress=()))
    assert a.studies.equals(b.studies)


@pytest.mark.parametrize("effect, match", [
    (StressEffect("fog", "sex", "F", 0.1), "kind must be one of"),
    (StressEffect("missing_modality", "sex", "F", 0.1), "needs modality"),
    (StressEffect("image_noise", "age", "F", 0.1), "attribute must be"),
    (StressEffect("image_noise", "sex", "F", 2.0), "strength must be"),
])
def test_bad_effects_are_config_errors(effect: StressEffect, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        _small(stress=(effect,))
