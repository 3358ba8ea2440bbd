"""The built-in multimodal latent-diffusion diagnostic model as a :class:`Predictor`.

:class:`MultimodalPredictor` bundles the network (encoders, fusion, head), the latent denoiser
and its noise schedule, the preprocessing fitted on the training split, and the decision
threshold chosen on the validation split. Missing modalities are imputed in latent space by DDIM
sampling (``impute="diffusion"``) or replaced by learned absent tokens (``impute="fallback"``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from fairaudit.data.tables import require_columns
from fairaudit.errors import ConfigError
from fairaudit.models.denoiser import DenoiserConfig, LatentDenoiser
from fairaudit.models.diffusion import NoiseSchedule, ddim_sample
from fairaudit.models.features import MODALITIES, Preprocessing, encode_rows
from fairaudit.models.network import MultimodalNetwork, NetworkConfig
from fairaudit.models.progress import Progress, track

if TYPE_CHECKING:  # pragma: no cover
    from fairaudit.data import AuditDataset

IMPUTE_MODES = ("diffusion", "fallback")
_NOISE_BLOCK = 4096  # starting noise is drawn per block of rows, so it does not depend on batch size


@dataclass(eq=False)
class MultimodalPredictor:
    """A trained multimodal model ready for inference.

    Attributes
    ----------
    network : MultimodalNetwork
    denoiser : LatentDenoiser
    preprocessing : Preprocessing
    latent_mean, latent_std : Tensor of shape (3, D)
        Training-split statistics that standardise latents for the diffusion model.
    threshold : float
        Decision threshold (positive when ``score >= threshold``), chosen on validation data.
    threshold_rule : str
        How the threshold was chosen, in words.
    sample_seed : int
        Seed of the DDIM starting noise (imputation is deterministic).
    sha256 : str or None
        Hash of the checkpoint files this predictor was loaded from or saved to.
    info : dict
        Provenance stored in the checkpoint (seed, data hashes, validation metrics, ...).
    """

    network: MultimodalNetwork
    denoiser: LatentDenoiser
    preprocessing: Preprocessing
    latent_mean: torch.Tensor
    latent_std: torch.Tensor
    threshold: float
    threshold_rule: str
    sample_seed: int = 0
    sha256: str | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def network_config(self) -> NetworkConfig:
        return self.network.config

    @property
    def denoiser_config(self) -> DenoiserConfig:
        return self.denoiser.config

    @property
    def schedule(self) -> NoiseSchedule:
        c = self.denoiser.config
        return NoiseSchedule.create(c.schedule, c.diffusion_steps)

    @property
    def device(self) -> torch.device:
        return next(self.network.parameters()).device

    def check_columns(self, dataset: AuditDataset) -> None:
        """Raise InputError if a column the model reads is missing from ``dataset``."""
        schema = self.preprocessing.schema
        require_columns(dataset.frame, [*schema.required(), *self.preprocessing.lab_columns],
                        dataset.source, "the model's inputs")

    def iter_batches(
        self, dataset: AuditDataset, batch_size: int
    ) -> Iterator[tuple[np.ndarray, dict[str, torch.Tensor]]]:
        """(row indices, tensors on the model's device) per batch, in row order."""
        device = self.device
        n = dataset.n_rows
        for start in range(0, n, batch_size):
            rows = np.arange(start, min(n, start + batch_size))
            arrays = encode_rows(dataset.frame, dataset.root, rows, self.preprocessing,
                                 source=dataset.source)
            yield rows, {k: torch.from_numpy(v).to(device) for k, v in arrays.items()}

    def _noise(self, rows: np.ndarray, draw: int = 0) -> torch.Tensor:
        """DDIM starting noise of ``rows`` for imputation number ``draw`` (fixed per row)."""
        d = self.network.config.latent_dim
        block = rows // _NOISE_BLOCK
        out = torch.empty((len(rows), len(MODALITIES), d))
        for b in np.unique(block):
            seed = int(self.sample_seed) * 1_000_003 + int(b) + 7_919 * int(draw)
            g = torch.Generator().manual_seed(seed)
            noise = torch.randn((_NOISE_BLOCK, len(MODALITIES), d), generator=g)
            here = np.flatnonzero(block == b)
            out[torch.from_numpy(here)] = noise[torch.from_numpy(rows[here] % _NOISE_BLOCK)]
        return out.to(self.device)

    def _generate(self, latents: torch.Tensor, present: torch.Tensor, noise: torch.Tensor,
                  steps: int) -> torch.Tensor:
        """DDIM-generated latents for the absent modalities; present ones are kept as they are."""
        z = (latents - self.latent_mean) / self.latent_std
        cond = z * present.unsqueeze(-1).to(z.dtype)
        gen = ddim_sample(self.denoiser, self.schedule, cond, present, ~present, noise, steps)
        out = gen * self.latent_std + self.latent_mean
        return torch.where(present.unsqueeze(-1), latents, out)

    def proba_from_batch(self, batch: dict[str, torch.Tensor], rows: np.ndarray, *,
                         impute: str, ddim_steps: int, samples: int = 1) -> torch.Tensor:
        """Probabilities (B,) for one encoded batch; with ``impute="diffusion"`` the mean over
        ``samples`` imputations of the absent modalities."""
        return self.proba_from_latents(self.network.encode(batch), batch["present"], rows,
                                       impute=impute, ddim_steps=ddim_steps, samples=samples)

    def proba_from_latents(self, latents: torch.Tensor, present: torch.Tensor, rows: np.ndarray, *,
                           impute: str, ddim_steps: int, samples: int = 1) -> torch.Tensor:
        """Probabilities (B,) from latent tokens (B, 3, D) where ``present`` (B, 3) marks the
        modalities to use; the others are imputed (``impute="diffusion"``, the mean over
        ``samples`` DDIM draws seeded by ``rows``) or replaced by the absent tokens."""
        proba = torch.sigmoid(self.network.classify(latents, present).double())
        incomplete = ~present.all(dim=1)
        if impute != "diffusion" or not bool(incomplete.any()):
            return proba
        sub = incomplete.nonzero().squeeze(1)
        sub_rows = rows[sub.cpu().numpy()]
        # All draws in one batch: ``samples`` stacked copies of the incomplete studies.
        lat = latents[sub].repeat(samples, 1, 1)
        pres = present[sub].repeat(samples, 1)
        noise = torch.cat([self._noise(sub_rows, draw) for draw in range(samples)])
        filled = self._generate(lat, pres, noise, ddim_steps)
        p = torch.sigmoid(self.network.classify(filled, torch.ones_like(pres)).double())
        proba[sub] = p.view(samples, -1).mean(0)
        return proba

    def predict_proba(
        self,
        dataset: AuditDataset,
        *,
        batch_size: int = 256,
        progress: Progress | None = None,
        impute: str = "diffusion",
        ddim_steps: int | None = None,
        samples: int | None = None,
    ) -> np.ndarray:
        """Probability of disease for every study of ``dataset``.

        Parameters
        ----------
        dataset : AuditDataset
            From :func:`fairaudit.data.manifest.load_manifest`.
        batch_size : int
            Studies per forward pass (images are read from disk batch by batch).
        progress : Progress, optional
            Told of every batch (:mod:`fairaudit.models.progress`).
        impute : {"diffusion", "fallback"}
            How absent modalities are handled: latents generated by the diffusion model, or the
            learned absent tokens.
        ddim_steps : int, optional
            DDIM steps for imputation; defaults to the checkpoint's ``sample_steps``.
        samples : int, optional
            Imputations averaged per study with missing modalities; defaults to the
            checkpoint's ``impute_samples``. Studies with every modality are scored once.

        Returns
        -------
        ndarray of float64, shape (n,), values in [0, 1]

        Raises
        ------
        InputError
            A missing column, or an image that is missing, unreadable or of the wrong shape
            (naming the data row and the file).
        """
        if impute not in IMPUTE_MODES:
            raise ConfigError(f"impute must be one of {', '.join(IMPUTE_MODES)}; got {impute!r}.")
        steps = int(self.denoiser.config.sample_steps if ddim_steps is None else ddim_steps)
        if not 1 <= steps <= self.denoiser.config.diffusion_steps:
            raise ConfigError(
                f"ddim_steps must be between 1 and {self.denoiser.config.diffusion_steps}; got {steps}."
            )
        if batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1; got {batch_size}.")
        n_samples = int(self.denoiser.config.impute_samples if samples is None else samples)
        if n_samples < 1:
            raise ConfigError(f"samples must be at least 1; got {n_samples}.")
        self.check_columns(dataset)
        out = np.empty(dataset.n_rows, dtype=np.float64)
        self.network.eval()
        self.denoiser.eval()
        bar = track(progress, dataset.n_rows, "inference")
        with bar, torch.inference_mode():
            for rows, batch in self.iter_batches(dataset, batch_size):
                proba = self.proba_from_batch(batch, rows, impute=impute, ddim_steps=steps,
                                              samples=n_samples)
                out[rows] = proba.cpu().numpy()
                bar.advance(len(rows))
        return np.clip(out, 0.0, 1.0)

