"""Model-side pieces of the stress audit: the latent cache, exact Shapley values, the probes."""

from __future__ import annotations

import numpy as np
import pytest

from fairaudit.errors import ConfigError
from fairaudit.metrics.weighted import resample_weights
from fairaudit.models.attribution import absolute_shares, coalitions, shapley_values
from fairaudit.models.features import MODALITIES
from fairaudit.models.latent_cache import encode_dataset
from fairaudit.models.probe import control_probe, probe_auc, shuffled_by_patient


@pytest.fixture(scope="module")
def cache(trained, test_set):
    return encode_dataset(trained, test_set, batch_size=64)


def test_cached_scores_equal_predict_proba(cache, test_set) -> None:
    p = cache.predictor
    for impute in ("diffusion", "fallback"):
        want = p.predict_proba(test_set, impute=impute)
        got = cache.scores(cache.available(), impute=impute)
        np.testing.assert_allclose(got, want, atol=1e-12)
        some = np.arange(1, cache.n, 3)
        part = cache.scores(cache.available(), impute=impute, rows=some)
        np.testing.assert_allclose(part[some], want[some], atol=1e-12)
        assert np.isnan(np.delete(part, some)).all()


def test_corruption_changes_only_the_image_token(cache) -> None:
    lat = cache.corrupted_latents("gaussian_noise", 5, seed=0)
    has = cache.present[:, 0].numpy()
    np.testing.assert_array_equal(lat[:, 1:].numpy(), cache.latents[:, 1:].numpy())
    np.testing.assert_array_equal(lat[~has, 0].numpy(), cache.latents[~has, 0].numpy())
    assert not np.allclose(lat[has, 0].numpy(), cache.latents[has, 0].numpy())
    again = cache.corrupted_latents("gaussian_noise", 5, seed=0)
    np.testing.assert_array_equal(lat.numpy(), again.numpy())


def test_shapley_efficiency_on_the_model(cache) -> None:
    import dataclasses

    cache = dataclasses.replace(cache, samples=1, ddim_steps=2)  # efficiency holds for any sampler
    present = cache.present.numpy()
    for impute in ("fallback", "diffusion"):
        value = {c: cache.scores(present & np.array([m in c for m in MODALITIES]), impute=impute)
                 for c in coalitions()}
        phi = shapley_values(value)
        np.testing.assert_allclose(phi.sum(axis=1),
                                   value[frozenset(MODALITIES)] - value[frozenset()], atol=1e-12)
        # A modality the study does not have is in no coalition: its value is 0.
        np.testing.assert_allclose(phi[~present], 0.0, atol=1e-7)  # float32 network


def test_shapley_of_an_additive_game_is_each_players_contribution() -> None:
    rng = np.random.default_rng(0)
    contrib = {m: rng.normal(size=5) for m in MODALITIES}
    value = {c: sum((contrib[m] for m in c), np.zeros(5)) for c in coalitions()}
    phi = shapley_values(value)
    for j, m in enumerate(MODALITIES):
        np.testing.assert_allclose(phi[:, j], contrib[m])
    shares = absolute_shares(phi)
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)
    with pytest.raises(ConfigError, match="lacks coalitions"):
        shapley_values({frozenset(): np.zeros(5)})


def test_probe_finds_a_planted_signal_and_the_control_covers_chance() -> None:
    rng = np.random.default_rng(1)
    patients = np.repeat(np.arange(300), 2)
    group = np.where(rng.random(300) < 0.4, "a", "b")[patients]
    x = rng.normal(size=(600, 8))
    x[:, 0] += 1.0 * (group == "a")
    w = resample_weights(len(patients), patients, 200, np.random.default_rng(0))
    real = probe_auc(x, group, patients, w, seed=0)
    assert real.auc > 0.7 and real.ci[0] > 0.5
    ctl = control_probe(x, group, patients, w, shuffles=3, seed=0)
    assert ctl.ci[0] <= 0.5 <= ctl.ci[1]
    # Shuffling is by patient: a patient's studies keep one shared label.
    s = shuffled_by_patient(group, patients, 4)
    assert (s[0::2] == s[1::2]).all() and sorted(s) == sorted(group)


def test_probe_of_a_three_group_attribute_is_macro_one_vs_rest() -> None:
    rng = np.random.default_rng(2)
    patients = np.arange(450)
    group = np.array(["x", "y", "z"])[rng.integers(0, 3, 450)]
    x = rng.normal(size=(450, 4)) + (group == "z")[:, None] * 1.5
    r = probe_auc(x, group, patients, resample_weights(len(patients), patients, 100, np.random.default_rng(0)), folds=3)
    assert r.groups == ("x", "y", "z") and 0.6 < r.auc < 1.0
    tiny = probe_auc(x[:5], group[:5], patients[:5], np.ones((3, 5)))
    assert tiny.auc is None  # groups below the minimum size are dropped: nothing to probe
