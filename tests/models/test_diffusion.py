"""The noise schedule and the DDIM loop, checked against closed forms with an oracle denoiser."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fairaudit.models.denoiser import DenoiserConfig, LatentDenoiser
from fairaudit.models.diffusion import (
    NoiseSchedule,
    cosine_beta_schedule,
    ddim_sample,
    ddim_timesteps,
    diffusion_loss,
    linear_beta_schedule,
)


@pytest.mark.parametrize("make", [linear_beta_schedule, cosine_beta_schedule])
def test_schedules_are_valid(make) -> None:
    betas = make(1000)
    ab = np.cumprod(1 - betas)
    assert betas.shape == (1000,) and (betas > 0).all() and (betas < 1).all()
    assert (np.diff(ab) < 0).all()
    assert ab[0] > 0.99 and ab[-1] < 0.01


def test_linear_schedule_matches_ddpm() -> None:
    betas = linear_beta_schedule(1000)
    assert betas[0] == pytest.approx(1e-4) and betas[-1] == pytest.approx(0.02)


def test_q_sample_closed_form() -> None:
    s = NoiseSchedule.create("linear", 1000)
    x0, noise = torch.ones(2, 3, 4), torch.full((2, 3, 4), 2.0)
    t = torch.tensor([0, 999])
    xt = s.q_sample(x0, t, noise)
    for i, ti in enumerate(t.tolist()):
        ab = s.alphas_cumprod[ti]
        assert torch.allclose(xt[i], torch.full((3, 4), np.sqrt(ab) + 2 * np.sqrt(1 - ab), dtype=torch.float32))


def test_ddim_timesteps() -> None:
    assert ddim_timesteps(1000, 10)[0] == 999 and ddim_timesteps(1000, 10)[-1] == 0
    assert len(ddim_timesteps(1000, 50)) == 50
    with pytest.raises(ValueError):
        ddim_timesteps(100, 0)


def _oracle(schedule: NoiseSchedule, x0: torch.Tensor):
    """The exact noise predictor when the data distribution is the single point x0."""

    def eps(x_t, t, cond, observed, target):
        ab = schedule.alpha_bar(t).view(-1, 1, 1)
        return (x_t - ab.sqrt() * x0) / (1 - ab).sqrt()

    return eps


@pytest.mark.parametrize("steps", [1, 10, 50])
def test_ddim_recovers_data_with_oracle_and_keeps_observed(steps: int) -> None:
    s = NoiseSchedule.create("linear", 1000)
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(5, 3, 4, generator=g)
    observed = torch.tensor([[True, True, False]] * 5)
    target = ~observed
    cond = x0 * observed.unsqueeze(-1)
    out = ddim_sample(_oracle(s, x0), s, cond, observed, target, torch.randn(5, 3, 4, generator=g), steps)
    assert torch.allclose(out[:, 2], x0[:, 2], atol=1e-4)
    assert torch.equal(out[:, :2], cond[:, :2])


def test_diffusion_loss_is_zero_for_oracle_and_masks_non_targets() -> None:
    s = NoiseSchedule.create("cosine", 200)
    x0 = torch.randn(4, 3, 2, generator=torch.Generator().manual_seed(1))
    target = torch.tensor([[True, False, False]] * 4)
    observed = torch.tensor([[False, True, True]] * 4)
    loss = diffusion_loss(_oracle(s, x0), s, x0, observed, target, torch.Generator().manual_seed(2))
    assert loss.shape == (4,) and float(loss.max()) < 1e-6
    den = LatentDenoiser(DenoiserConfig(latent_dim=2, hidden=8, blocks=1, time_dim=8, diffusion_steps=200))
    loss = diffusion_loss(den, s, x0, observed, target, torch.Generator().manual_seed(2))
    assert float(loss.detach().min()) > 0
