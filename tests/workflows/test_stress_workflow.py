"""The stress workflow on the shipped sample: planted effects found, a tiny end-to-end run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fairaudit.data.manifest import load_manifest
from fairaudit.errors import ConfigError
from fairaudit.gate.stress import evaluate_stress, parse_stress_policy
from fairaudit.metrics.weighted import resample_weights
from fairaudit.stress_result import StressResult
from fairaudit.workflows.stress import StressConfig
from fairaudit.workflows.stress_sections import missingness_section, realistic_available

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "sample_data" / "model"
COHORT = ROOT / "sample_data" / "cohort"
PLANTED = json.loads((COHORT / "cohort.json").read_text())["planted_stress"]


def _schema() -> dict:
    from importlib.resources import files

    return json.loads(files("fairaudit.schema").joinpath("stress-result.schema.json").read_text())


@pytest.fixture(scope="module")
def full_test_split():
    return load_manifest(COHORT / "test.csv", label="diagnosis", sensitive="sex,race,site",
                         cluster="patient_id")


def test_planted_missingness_is_found_with_intervals(full_test_split) -> None:
    ds = full_test_split
    present = np.stack([ds.modalities[m] for m in ("image", "note", "labs")], axis=1)
    groups = {a: np.asarray(ds.group_labels(a)).astype(str) for a in ds.attributes}
    section = missingness_section(present, groups, resample_weights(len(ds.clusters), ds.clusters, 200, np.random.default_rng(0)), 0.95)
    planted = [e for e in PLANTED if e["kind"] == "missing_by_group"]
    assert len(planted) == 3
    for effect in planted:
        entry = next(e for e in section if e["attribute"] == effect["attribute"]
                     and e["modality"] == effect["modality"])
        assert entry["test"]["p_value"] < 0.01, effect["expect"]
        row = next(r for r in entry["groups"] if r["group"] == effect["highest"])
        assert row["difference_ci"][0] > 0, effect["expect"]  # excludes "no difference"
        low = next(r for r in entry["groups"] if r["group"] == effect["lowest"])
        assert row["ci"][0] > low["ci"][1]  # Wilson intervals do not overlap
    # The under-documented group (race = Black) also loses its notes more often than the rest.
    note = next(e for e in section if e["attribute"] == "race" and e["modality"] == "note")
    assert next(r for r in note["groups"] if r["group"] == "Black")["difference_ci"][0] > 0


@pytest.mark.slow
def test_planted_noisy_site_is_encoded_by_the_image_latent(full_test_split) -> None:
    from fairaudit.models.checkpoint import load_model
    from fairaudit.models.latent_cache import encode_dataset
    from fairaudit.models.probe import probe_auc

    ds = full_test_split
    cache = encode_dataset(load_model(MODEL), ds)
    w = resample_weights(len(ds.clusters), ds.clusters, 100, np.random.default_rng(0))
    has = cache.present[:, 0].numpy()
    site = np.asarray(ds.group_labels("site")).astype(str)
    effect = next(e for e in PLANTED if e["kind"] == "noisy_site")
    image = cache.latents[:, 0].double().numpy()
    r = probe_auc(image[has], site[has], ds.clusters[has], w[:, has])
    assert r.ci[0] > 0.5 and effect["group"] in r.groups, effect["expect"]
    race = np.asarray(ds.group_labels("race")).astype(str)
    fused = probe_auc(cache.fused(), race, ds.clusters, w)
    assert fused.ci[0] > 0.5


def test_tiny_run_structure_and_schema(tiny_stress_result: StressResult) -> None:
    import jsonschema

    r = tiny_stress_result
    data = json.loads(r.to_json())
    jsonschema.validate(data, _schema())
    assert StressResult.from_dict(data).to_dict() == data  # round trip
    ids = [c["id"] for c in r.conditions]
    assert ids == ["reference:fallback", "remove:image:fallback", "remove:note+labs:fallback",
                   "realistic:sex:fallback", "realistic:race:fallback", "brightness:1", "brightness:5"]
    c = r.condition("brightness:5")
    assert c["reference"] == "reference:fallback" and c["kind"] == "corruption"
    for g in c["groups"]:
        auc = g["metrics"]["auc"]
        assert auc["change"] == pytest.approx(auc["value"] - auc["reference_value"])
        ba = g["metrics"]["balanced_accuracy"]
        e_ref, e = 1 - ba["reference_value"], 1 - ba["value"]
        if e_ref > 0:
            assert g["rbe"] == pytest.approx((e - e_ref) / e_ref)
        else:
            assert g["rbe"] is None  # no reference error: the relative change is undefined
    assert {k["criterion"] for k in c["criteria"]} >= {"equal_opportunity_difference", "auc_difference"}
    assert r.attribution["efficiency_max_error"]["fallback"] < 1e-9
    assert all(p["latent"] in ("fused", "image", "note", "labs") for p in r.probe["results"])
    assert r.corruptions[0]["corruption"] == "brightness" and r.corruptions[0]["index"]


def test_tiny_run_gate(tiny_stress_result: StressResult) -> None:
    r = tiny_stress_result
    statuses = {o.id.split(":")[0]: o.status for o in r.gate.rules}
    # brightness at severity 5 costs more AUC than 0.0001 overall: the interval says so.
    overall = next(o for o in r.gate.rules if o.id.startswith("brightness"))
    assert overall.status == "fail" and overall.ci[1] < -0.0001
    assert statuses and r.gate.status == "fail"
    tpr = [o for o in r.gate.rules if o.id.startswith("removed image")]
    assert {o.message.split(" ")[1].split("=")[0] for o in tpr} == {"sex"}
    assert all(o.status == "pass" for o in tpr)  # a drop of at most 1.0 always holds


def test_realistic_missingness_keeps_one_modality() -> None:
    present = np.ones((200, 3), bool)
    labels = np.array(["a", "b"] * 100)
    same = realistic_available(present, labels, {"a": [0, 0, 0], "b": [0, 0, 0]}, 0)
    np.testing.assert_array_equal(same, present)
    gone = realistic_available(present, labels, {"a": [1, 1, 1], "b": [0, 0.5, 0]}, 0)
    assert (gone[labels == "a"].sum(axis=1) == 1).all()
    assert 0.35 < 1 - gone[labels == "b", 1].mean() < 0.65


def test_config_and_policy_errors_name_the_parameter() -> None:
    with pytest.raises(ConfigError, match="removals"):
        StressConfig(removals=(("image", "note", "labs"),)).check()
    with pytest.raises(ConfigError, match="corruption must be one of"):
        StressConfig(corruptions=("fog",)).check()
    with pytest.raises(ConfigError, match=r"\[\[stress\]\] table 1: give exactly one"):
        parse_stress_policy('[[stress]]\nmetric = "auc"\nmax_drop = 0.1\n')
    with pytest.raises(ConfigError, match="'metric' must be one of"):
        parse_stress_policy('[[stress]]\ncorruption = "jpeg"\nmetric = "ppv"\nmax_drop = 0.1\n')
    with pytest.raises(ConfigError, match="no \\[\\[stress\\]\\] tables"):
        parse_stress_policy('[[criterion]]\nname = "auc_difference"\nmax = 0.1\n')


def test_a_rule_whose_condition_was_not_run_is_inconclusive(tiny_stress_result: StressResult) -> None:
    policy = parse_stress_policy('[[stress]]\ncorruption = "jpeg"\nmetric = "auc"\nmax_drop = 0.5\n')
    out = evaluate_stress(tiny_stress_result, policy)
    assert out.status == "inconclusive" and "not run" in out.rules[0].message


def test_the_audit_gate_ignores_stress_tables() -> None:
    from fairaudit.gate.policy import parse_policy

    text = ('[[criterion]]\nname = "auc_difference"\nmax = 0.1\n'
            '[[stress]]\ncorruption = "jpeg"\nmax_index = 0.1\n')
    assert len(parse_policy(text).criteria) == 1
    assert parse_stress_policy(text).rules[0].corruption == "jpeg"
