"""The modality-removal study behind docs/model.md, and the averaging of imputation draws."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest

from benchmarks.ablation import measure
from fairaudit.errors import ConfigError
from fairaudit.models.evaluation import roc_auc
from fairaudit.models.features import MODALITIES, remove_modality


@pytest.mark.parametrize("modality", MODALITIES)
def test_remove_modality_removes_only_that_modality(trained, test_set, modality) -> None:
    ds = remove_modality(test_set, modality, trained.preprocessing.schema)
    assert not ds.modalities[modality].any()
    for other in MODALITIES:
        if other != modality:
            assert np.array_equal(ds.modalities[other], test_set.modalities[other])
    assert test_set.modalities[modality].any()  # the original is untouched


def test_measure_reports_every_comparison_with_paired_intervals(trained, test_set) -> None:
    r = measure(trained, test_set, n_boot=40, seed=1)
    labels = test_set.labels.astype(bool)
    assert r["n"] == test_set.n_rows and r["n_pos"] == int(labels.sum())
    assert r["as_given"]["diffusion"]["auc"] == pytest.approx(roc_auc(trained.predict_proba(test_set), labels))
    for modality in MODALITIES:
        e = r["modality_removed"][modality]
        assert set(e) == {"diffusion", "diffusion_one_draw", "fallback", "diffusion_minus_fallback"}
        d = e["diffusion_minus_fallback"]
        assert d["value"] == pytest.approx(e["diffusion"]["auc"] - e["fallback"]["auc"])
        assert d["ci"][0] <= d["ci"][1]
    for attr in test_set.attributes:
        assert sum(g["n"] for g in r["by_group"][attr].values()) == test_set.n_rows


ABLATION_SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "ablation.py"


def test_cli_writes_json(trained, saved, cohort_dir, tmp_path, capsys) -> None:
    main = runpy.run_path(str(ABLATION_SCRIPT))["main"]  # the script's main(), not run as __main__
    out = tmp_path / "m.json"
    main(["--model", str(saved), "--data", str(cohort_dir / "test.csv"), "--n-boot", "20",
          "--json", str(out)])
    assert "modality removed" in capsys.readouterr().out
    assert out.exists()


def test_imputation_draws_are_averaged(trained, test_set) -> None:
    complete = np.all([test_set.modalities[m] for m in MODALITIES], axis=0)
    one = trained.predict_proba(test_set, samples=1)
    draws = [trained.predict_proba(test_set, samples=1) for _ in range(2)]
    assert np.array_equal(draws[0], draws[1])  # deterministic
    four = trained.predict_proba(test_set, samples=4)
    assert np.array_equal(four[complete], one[complete])  # complete studies are scored once
    assert not np.allclose(four[~complete], one[~complete])
    # The mean of four draws is the mean of four single-draw predictions, draw k using the
    # starting noise of draw k.
    noise = trained._noise
    singles = []
    try:
        for k in range(4):
            trained._noise = lambda rows, _draw=0, _k=k: noise(rows, _k)
            singles.append(trained.predict_proba(test_set, samples=1))
    finally:
        del trained._noise
    np.testing.assert_allclose(four, np.mean(singles, axis=0), rtol=0, atol=1e-6)
    for bad in ({"samples": 0}, {"ddim_steps": 0}):
        with pytest.raises(ConfigError):
            trained.predict_proba(test_set, **bad)


def test_weighted_auc_equals_auc_on_repeated_rows() -> None:
    from fairaudit.metrics.weighted import weighted_auc

    rng = np.random.default_rng(4)
    for _ in range(20):
        n = int(rng.integers(2, 60))
        scores = np.round(rng.random(n), 1)  # many ties
        labels = rng.integers(0, 2, n)
        w = rng.integers(0, 4, (5, n)).astype(float)
        got = weighted_auc(scores, labels, w)
        for b in range(5):
            idx = np.repeat(np.arange(n), w[b].astype(int))
            want = roc_auc(scores[idx], labels[idx])
            if np.isnan(want):
                assert np.isnan(got[b])
            else:
                assert got[b] == pytest.approx(want, abs=1e-12)
