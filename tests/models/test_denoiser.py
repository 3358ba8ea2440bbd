"""fairaudit.models.denoiser: the latent denoiser's shapes, its config and the step embedding."""

from __future__ import annotations

import torch

from fairaudit.models.denoiser import DenoiserConfig, LatentDenoiser, timestep_embedding


def test_config_round_trips_and_ignores_unknown_keys() -> None:
    cfg = DenoiserConfig(latent_dim=8, hidden=16, blocks=1, time_dim=8)
    assert DenoiserConfig.from_dict({**cfg.to_dict(), "from_the_future": 1}) == cfg
    assert DenoiserConfig.from_dict({"hidden": 16}).latent_dim == DenoiserConfig().latent_dim


def test_timestep_embedding_is_sinusoidal_and_distinct_per_step() -> None:
    emb = timestep_embedding(torch.tensor([0, 1, 500]), 8)
    assert emb.shape == (3, 8)
    assert torch.equal(emb[0], torch.cat([torch.ones(4), torch.zeros(4)]))
    assert not torch.allclose(emb[1], emb[2])


def test_denoiser_output_has_the_shape_of_its_input() -> None:
    torch.manual_seed(0)
    cfg = DenoiserConfig(n_modalities=3, latent_dim=8, hidden=16, blocks=1, time_dim=8)
    net = LatentDenoiser(cfg)
    x = torch.randn(5, 3, 8)
    observed = torch.tensor([[True, True, False]] * 5)
    with torch.inference_mode():
        out = net(x, torch.arange(5), torch.zeros_like(x), observed, ~observed)
    assert out.shape == x.shape and torch.isfinite(out).all()
