"""Training: tiny configurations, determinism, the threshold rule, and the mitigation hooks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fairaudit.errors import ConfigError, InputError
from fairaudit.models.evaluation import THRESHOLD_RULE, roc_auc, worst_group_auc, youden_threshold
from fairaudit.models.features import MODALITIES
from fairaudit.models.network import MultimodalNetwork, NetworkConfig
from fairaudit.models.tensors import encode_dataset
from fairaudit.models.training import FitResult, TrainSettings, fine_tune, fit_classifier


def test_roc_auc_matches_pair_counting() -> None:
    rng = np.random.default_rng(0)
    s = np.round(rng.random(60), 1)  # ties
    y = rng.random(60) < 0.4
    pairs = [(1.0 if a > b else 0.5 if a == b else 0.0) for a in s[y] for b in s[~y]]
    assert roc_auc(s, y) == pytest.approx(np.mean(pairs))
    assert np.isnan(roc_auc(s, np.ones(60, bool)))


def test_youden_threshold_maximises_j() -> None:
    rng = np.random.default_rng(1)
    y = rng.random(400) < 0.3
    s = np.clip(rng.normal(0.35 + 0.3 * y, 0.15), 0, 1)
    t = youden_threshold(s, y)

    def j(c: float) -> float:
        return float((s[y] >= c).mean() - (s[~y] >= c).mean())

    assert j(t) == pytest.approx(max(j(c) for c in np.unique(s)))
    with pytest.raises(InputError):
        youden_threshold(s, np.zeros(400, bool))


def test_worst_group_auc_is_the_minimum() -> None:
    s = np.array([0.1, 0.9, 0.2, 0.8, 0.9, 0.1])
    y = np.array([0, 1, 0, 1, 0, 1])
    g = np.array([0, 0, 0, 0, 1, 1])
    assert worst_group_auc(s, y, g) == 0.0
    assert worst_group_auc(s, y, None) == roc_auc(s, y)


def test_tiny_model_trains_and_predicts(trained, test_set) -> None:
    scores = trained.predict_proba(test_set)
    assert scores.dtype == np.float64 and scores.shape == (test_set.n_rows,)
    assert ((scores >= 0) & (scores <= 1)).all()
    assert 0.0 <= trained.threshold <= 1.0
    assert trained.threshold_rule == THRESHOLD_RULE
    v = trained.info["validation"]
    assert v["threshold"] == trained.threshold and set(v["auc_by_group"]) == {"sex", "race"}
    # The tiny cohort has studies without each modality: both imputation paths are exercised.
    missing = {m: int((~test_set.modalities[m]).sum()) for m in MODALITIES}
    assert all(missing.values()), missing
    fallback = trained.predict_proba(test_set, impute="fallback")
    complete = np.all([test_set.modalities[m] for m in MODALITIES], axis=0)
    assert np.array_equal(scores[complete], fallback[complete])
    assert not np.array_equal(scores[~complete], fallback[~complete])


def test_predictions_do_not_depend_on_batch_size(trained, test_set) -> None:
    a = trained.predict_proba(test_set, batch_size=256)
    b = trained.predict_proba(test_set, batch_size=7)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_ddim_steps_change_imputation_only(trained, test_set) -> None:
    a = trained.predict_proba(test_set, ddim_steps=2)
    b = trained.predict_proba(test_set, ddim_steps=10)
    complete = np.all([test_set.modalities[m] for m in MODALITIES], axis=0)
    assert np.array_equal(a[complete], b[complete])
    with pytest.raises(ConfigError):
        trained.predict_proba(test_set, ddim_steps=10_000)
    with pytest.raises(ConfigError):
        trained.predict_proba(test_set, impute="mean")


def test_fixed_seed_gives_identical_predictions(tiny, cohort_dir, trained, test_set) -> None:
    global_state = torch.random.get_rng_state()
    again = tiny.train(cohort_dir)
    assert torch.equal(torch.random.get_rng_state(), global_state)  # no global seeding
    assert np.array_equal(trained.predict_proba(test_set), again.predict_proba(test_set))


def test_other_seed_gives_other_predictions(tiny, cohort_dir, trained, test_set) -> None:
    other = tiny.train(cohort_dir, seed=99)
    assert not np.allclose(trained.predict_proba(test_set), other.predict_proba(test_set))


class _RecordingLoss:
    """A group-aware loss that records what the loop hands it."""

    def __init__(self) -> None:
        self.groups: list[torch.Tensor] = []
        self.updates = 0

    def __call__(self, per_example_loss: torch.Tensor, group_ids: torch.Tensor) -> torch.Tensor:
        assert per_example_loss.shape == group_ids.shape
        self.groups.append(group_ids.clone())
        return per_example_loss.mean()

    def update(self, per_example_loss: torch.Tensor, group_ids: torch.Tensor) -> None:
        assert not per_example_loss.requires_grad
        self.updates += 1


def _tables(trained, cohort_dir):
    from fairaudit.data.manifest import load_training_manifests

    train, val = load_training_manifests(cohort_dir, label="diagnosis", sensitive="race")
    return train, val, encode_dataset(train, trained.preprocessing), encode_dataset(val, trained.preprocessing)


def _fresh_net(trained) -> MultimodalNetwork:
    torch_state = torch.random.get_rng_state()
    net = MultimodalNetwork(NetworkConfig(**{**trained.network.config.to_dict()}))
    torch.random.set_rng_state(torch_state)
    return net


def test_fit_classifier_hooks(trained, cohort_dir) -> None:
    train, val, tt, vt = _tables(trained, cohort_dir)
    n = train.n_rows
    batches = [list(range(i, min(n, i + 10))) for i in range(0, n, 10)][::-1]
    loss = _RecordingLoss()
    seen: list[np.ndarray] = []

    def score(scores: np.ndarray, labels: np.ndarray, groups: np.ndarray | None) -> float:
        seen.append(groups)
        return -float(len(seen))  # never improves: early stopping after `patience` epochs

    settings = TrainSettings(epochs=5, patience=2, seed=0)
    result = fit_classifier(_fresh_net(trained), tt, vt, settings=settings,
                            sample_weights=np.linspace(0.5, 2.0, n), group_ids=train.group_codes[:, 0],
                            val_group_ids=val.group_codes[:, 0], batch_sampler=batches, loss_fn=loss,
                            selection_score=score)
    assert isinstance(result, FitResult)
    assert result.best_epoch == 1 and result.stopped_early and len(result.history) == 3
    assert loss.updates == 3 * len(batches)
    first = batches[0]
    assert torch.equal(loss.groups[0], torch.as_tensor(train.group_codes[first, 0], dtype=torch.long))
    assert all(np.array_equal(g, val.group_codes[:, 0]) for g in seen)


def test_sample_weights_change_training(trained, cohort_dir) -> None:
    train, val, tt, vt = _tables(trained, cohort_dir)
    settings = TrainSettings(epochs=1, seed=0)
    nets = []
    for weights in (None, np.where(train.labels == 1, 5.0, 1.0)):
        torch_state = torch.random.get_rng_state()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            net = MultimodalNetwork(trained.network.config)
        torch.random.set_rng_state(torch_state)
        fit_classifier(net, tt, vt, settings=settings, sample_weights=weights)
        nets.append(net)
    a = nets[0].head[-1].bias.detach()
    b = nets[1].head[-1].bias.detach()
    assert float(b) > float(a)  # up-weighting positives raises the prior logit
    with pytest.raises(ConfigError):
        fit_classifier(nets[0], tt, vt, settings=settings, sample_weights=np.ones(3))


def test_fine_tune_copies_and_rechooses_threshold(trained, cohort_dir, test_set) -> None:
    from fairaudit.data.manifest import load_training_manifests

    train, val = load_training_manifests(cohort_dir, label="diagnosis", sensitive="race")
    before = trained.predict_proba(test_set)
    tuned, fit = fine_tune(trained, train, val, settings=TrainSettings(epochs=1, diffusion_epochs=2, seed=1),
                           selection_score=worst_group_auc, val_group_ids=val.group_codes[:, 0])
    assert np.array_equal(trained.predict_proba(test_set), before)  # the original is untouched
    assert not np.array_equal(tuned.predict_proba(test_set), before)
    assert tuned.info["validation"]["threshold"] == tuned.threshold
    assert tuned.info["fine_tune"]["selection_score"] == "worst_group_auc"
    assert fit.best_epoch == 1


def test_tiny_network_config_is_small(tiny) -> None:
    net = MultimodalNetwork(NetworkConfig(vocab_size=50, n_labs=6, n_covariates=3, **tiny.network))
    assert sum(p.numel() for p in net.parameters()) < 50_000
