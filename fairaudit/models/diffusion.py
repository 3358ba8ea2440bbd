"""Latent diffusion for missing modalities: noise schedule, training loss and DDIM sampling.

Three separate pieces, as in openai/improved-diffusion:

- the beta schedule is a pure function (:func:`linear_beta_schedule`, :func:`cosine_beta_schedule`)
  wrapped by :class:`NoiseSchedule`, which only does the closed-form arithmetic;
- the denoiser is any network ``eps = denoiser(x_t, t, cond, observed, target)``
  (:class:`fairaudit.models.denoiser.LatentDenoiser`), passed in as an argument;
- :func:`diffusion_loss` (epsilon prediction) and :func:`ddim_sample` (the sampling loop) take
  both.

Latents are (B, M, D) tensors over M modalities. ``observed`` (B, M) marks the modalities given as
conditioning, ``target`` (B, M) those to generate; ``cond`` holds the observed latents (zeros
elsewhere). Only target positions are noised, denoised and scored.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeAlias

import numpy as np
import torch
from torch import Tensor

Denoiser = Callable[[Tensor, Tensor, Tensor, Tensor, Tensor], Tensor]


def linear_beta_schedule(steps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> np.ndarray:
    """The DDPM schedule (Ho et al. 2020): betas linear in t, scaled for ``steps`` (float64)."""
    scale = 1000.0 / steps
    return np.linspace(scale * beta_start, scale * beta_end, steps, dtype=np.float64)


def cosine_beta_schedule(steps: int, s: float = 0.008, max_beta: float = 0.999) -> np.ndarray:
    """The cosine schedule (Nichol & Dhariwal 2021), float64."""
    f = lambda t: math.cos((t / steps + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    return np.array([min(1 - f(i + 1) / f(i), max_beta) for i in range(steps)], dtype=np.float64)


ScheduleKind: TypeAlias = Literal["linear", "cosine"]
"""The beta schedules :meth:`NoiseSchedule.create` builds."""
SCHEDULES: dict[str, Callable[[int], np.ndarray]] = {"linear": linear_beta_schedule, "cosine": cosine_beta_schedule}


@dataclass(frozen=True)
class NoiseSchedule:
    """Closed-form quantities of a discrete diffusion with ``len(betas)`` steps."""

    betas: np.ndarray

    @classmethod
    def create(cls, kind: ScheduleKind, steps: int) -> NoiseSchedule:
        if kind not in SCHEDULES:
            raise ValueError(f"unknown schedule {kind!r}; expected one of {sorted(SCHEDULES)}")
        return cls(SCHEDULES[kind](steps))

    @property
    def num_steps(self) -> int:
        return int(self.betas.shape[0])

    @property
    def alphas_cumprod(self) -> np.ndarray:
        return np.cumprod(1.0 - self.betas)

    def alpha_bar(self, t: Tensor) -> Tensor:
        """ᾱ_t for integer steps ``t`` (any shape), as float32 on ``t``'s device."""
        table = torch.as_tensor(self.alphas_cumprod, dtype=torch.float32, device=t.device)
        return table[t]

    def q_sample(self, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        """x_t = sqrt(ᾱ_t) x0 + sqrt(1 - ᾱ_t) noise, with ``t`` of shape (B,)."""
        ab = self.alpha_bar(t).view(-1, *([1] * (x0.dim() - 1)))
        return ab.sqrt() * x0 + (1 - ab).sqrt() * noise


def _expand(mask: Tensor, like: Tensor) -> Tensor:
    return mask.unsqueeze(-1).to(like.dtype).expand_as(like)


def diffusion_loss(
    denoiser: Denoiser,
    schedule: NoiseSchedule,
    x0: Tensor,
    observed: Tensor,
    target: Tensor,
    generator: torch.Generator,
) -> Tensor:
    """Per-example epsilon-prediction MSE over the target modalities, shape (B,).

    Draws t uniformly and Gaussian noise from ``generator`` (a CPU generator).
    """
    b = x0.shape[0]
    t = torch.randint(0, schedule.num_steps, (b,), generator=generator).to(x0.device)
    noise = torch.randn(x0.shape, generator=generator).to(x0.device)
    tmask = _expand(target, x0)
    x_t = schedule.q_sample(x0, t, noise) * tmask
    cond = x0 * _expand(observed, x0)
    eps = denoiser(x_t, t, cond, observed, target)
    err = ((eps - noise) ** 2 * tmask).sum(dim=(1, 2))
    return err / tmask.sum(dim=(1, 2)).clamp_min(1.0)


def ddim_timesteps(num_steps: int, sample_steps: int) -> list[int]:
    """``sample_steps`` evenly spaced steps from ``num_steps - 1`` down to 0."""
    if not 1 <= sample_steps <= num_steps:
        raise ValueError(f"DDIM steps must be in [1, {num_steps}]; got {sample_steps}")
    return sorted({int(round(x)) for x in np.linspace(0, num_steps - 1, sample_steps)}, reverse=True)


def ddim_sample(
    denoiser: Denoiser,
    schedule: NoiseSchedule,
    cond: Tensor,
    observed: Tensor,
    target: Tensor,
    noise: Tensor,
    steps: int,
    clip: float = 6.0,
) -> Tensor:
    """Generate the target latents with deterministic DDIM (eta = 0; Song et al. 2021).

    Parameters
    ----------
    cond, noise : Tensor of shape (B, M, D)
        Observed latents (zeros elsewhere) and the starting noise x_T (fixes the sample).
    observed, target : Tensor of bool, shape (B, M)
    steps : int
        Number of denoising steps.
    clip : float
        Predicted x0 is clipped to [-clip, clip] (latents are standardised).

    Returns
    -------
    Tensor of shape (B, M, D)
        ``cond`` with the target positions filled in.
    """
    tmask = _expand(target, noise)
    x = noise * tmask
    times = ddim_timesteps(schedule.num_steps, steps)
    ab_all = torch.as_tensor(schedule.alphas_cumprod, dtype=noise.dtype, device=noise.device)
    for i, t in enumerate(times):
        tt = torch.full((noise.shape[0],), t, dtype=torch.long, device=noise.device)
        eps = denoiser(x, tt, cond, observed, target)
        ab = ab_all[t]
        x0 = ((x - (1 - ab).sqrt() * eps) / ab.sqrt()).clamp(-clip, clip)
        if i + 1 < len(times):
            ab_next = ab_all[times[i + 1]]
            x = (ab_next.sqrt() * x0 + (1 - ab_next).sqrt() * eps) * tmask
        else:
            x = x0 * tmask
    return cond * (1 - tmask) + x
