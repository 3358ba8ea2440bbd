"""The denoising network of the latent diffusion model (no schedule logic here)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from fairaudit.models.diffusion import ScheduleKind


@dataclass(frozen=True)
class DenoiserConfig:
    """Hyper-parameters of :class:`LatentDenoiser` and its diffusion (stored in the checkpoint)."""

    n_modalities: int = 3
    latent_dim: int = 32
    hidden: int = 192
    blocks: int = 3
    time_dim: int = 64
    schedule: ScheduleKind = "linear"
    diffusion_steps: int = 1000
    sample_steps: int = 20
    """Default number of DDIM steps at inference."""
    impute_samples: int = 8
    """Default number of imputations per study: the predicted probability is averaged over this
    many latents drawn for the missing modalities (a Monte Carlo estimate of
    p(disease | observed modalities)); one draw alone adds its sampling noise to the score."""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> DenoiserConfig:
        return cls(**{f.name: d[f.name] for f in dataclasses.fields(cls) if f.name in d})


def timestep_embedding(t: Tensor, dim: int) -> Tensor:
    """Sinusoidal embedding of integer steps, shape (B, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device) / half)
    args = t.float().unsqueeze(1) * freqs.unsqueeze(0)
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


class _Block(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, hidden), nn.GELU(),
                                 nn.Linear(hidden, hidden))

    def forward(self, h: Tensor, temb: Tensor) -> Tensor:
        return h + self.net(h + temb)


class LatentDenoiser(nn.Module):
    """Predicts the noise on the target latents from noisy targets, observed latents and t.

    Inputs are (B, M, D) latents and (B, M) boolean masks; the output has the shape of ``x_t``.
    """

    def __init__(self, config: DenoiserConfig) -> None:
        super().__init__()
        self.config = config
        m, d, h = config.n_modalities, config.latent_dim, config.hidden
        self.inp = nn.Linear(2 * m * d + 2 * m, h)
        self.time = nn.Sequential(nn.Linear(config.time_dim, h), nn.GELU(), nn.Linear(h, h))
        self.blocks = nn.ModuleList(_Block(h) for _ in range(config.blocks))
        self.out = nn.Sequential(nn.LayerNorm(h), nn.Linear(h, m * d))

    def forward(self, x_t: Tensor, t: Tensor, cond: Tensor, observed: Tensor, target: Tensor) -> Tensor:
        b = x_t.shape[0]
        feats = torch.cat(
            [x_t.reshape(b, -1), cond.reshape(b, -1), observed.float(), target.float()], dim=1
        )
        h = self.inp(feats)
        temb = self.time(timestep_embedding(t, self.config.time_dim))
        for block in self.blocks:
            h = block(h, temb)
        return self.out(h).view_as(x_t)
