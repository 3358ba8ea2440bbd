"""Encode a dataset once, then score stress conditions from the cached latents.

A stress audit scores the same studies under dozens of conditions. Each condition changes one
piece of the model's input, so only that piece is recomputed:

- a modality removed (or a coalition of modalities kept): the cached latents, a different
  ``available`` mask, then the classifier (and the denoiser with ``impute="diffusion"``);
- an image corruption: the cached raw images corrupted, the image encoder only, then the
  classifier; notes and labs are encoded once.

Scores from the cache equal :meth:`MultimodalPredictor.predict_proba` on the same inputs (the
DDIM noise is seeded per data row, as there).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import combinations
from typing import TYPE_CHECKING

import numpy as np
import torch

from fairaudit.models.corruptions import corrupt
from fairaudit.models.features import MODALITIES, encode_rows

if TYPE_CHECKING:  # pragma: no cover
    from fairaudit.data import AuditDataset
    from fairaudit.models.multimodal import MultimodalPredictor

Progress = Callable[[str, int, int], None]
"""``(stage, done, total)``: called as work advances (the CLI draws bars from it)."""


def _silent(stage: str, done: int, total: int) -> None:
    return None


def modality_subsets() -> list[tuple[str, ...]]:
    """The seven non-empty subsets of :data:`MODALITIES` that are *removed*: each modality, each
    pair, and none (``()``, the reference)."""
    return [(), *[(m,) for m in MODALITIES], *combinations(MODALITIES, 2)]


@dataclass(eq=False)
class LatentCache:
    """The clean latents (n, 3, D), the modality presence (n, 3) and the raw images of a
    dataset, with the predictor that made them."""

    predictor: MultimodalPredictor
    latents: torch.Tensor
    present: torch.Tensor
    images: np.ndarray = field(repr=False)
    """(n, H, W) float32 intensities in [0, 1] (zeros where the image is absent)."""
    batch_size: int = 512
    ddim_steps: int = 20
    samples: int = 8

    @property
    def n(self) -> int:
        return int(self.latents.shape[0])

    def available(self, removed: tuple[str, ...] = ()) -> np.ndarray:
        """(n, 3) bool: present and not in ``removed``."""
        keep = np.array([m not in removed for m in MODALITIES])
        return self.present.numpy() & keep

    def scores(self, available: np.ndarray, *, impute: str, latents: torch.Tensor | None = None,
               rows: np.ndarray | None = None) -> np.ndarray:
        """Probabilities using only the ``available`` modalities (others imputed or absent),
        for every study or only for ``rows`` (the others are NaN)."""
        lat = self.latents if latents is None else latents
        avail = torch.from_numpy(np.asarray(available, dtype=bool))
        out = np.full(self.n, np.nan, dtype=np.float64)
        todo = np.arange(self.n) if rows is None else np.asarray(rows, dtype=np.int64)
        p = self.predictor
        with torch.inference_mode():
            for start in range(0, todo.size, self.batch_size):
                rows = todo[start:start + self.batch_size]
                idx = torch.from_numpy(rows)
                proba = p.proba_from_latents(lat[idx], avail[idx], rows, impute=impute,
                                             ddim_steps=self.ddim_steps, samples=self.samples)
                out[rows] = proba.cpu().numpy()
        return np.clip(out, 0.0, 1.0)

    def corrupted_latents(self, name: str, severity: int, *, seed: int) -> torch.Tensor:
        """Latents with the image token re-encoded from corrupted images (others unchanged)."""
        prep = self.predictor.preprocessing
        has = self.present[:, 0].numpy()
        out = self.latents.clone()
        rows = np.flatnonzero(has)
        enc = self.predictor.network.image_encoder
        with torch.inference_mode():
            for start in range(0, rows.size, self.batch_size):
                r = rows[start:start + self.batch_size]
                img = corrupt(self.images[r], name, severity, seed=seed, keys=r)
                x = (img - prep.pixel_mean) / prep.pixel_std
                out[torch.from_numpy(r), 0] = enc(torch.from_numpy(x[:, None].astype(np.float32)))
        return out

    def fused(self, available: np.ndarray | None = None) -> np.ndarray:
        """The fusion output (n, D) the classifier head reads, absent modalities as the learned
        absent tokens."""
        avail = torch.from_numpy(self.present.numpy() if available is None else available)
        net = self.predictor.network
        with torch.inference_mode():
            tokens = torch.where(avail.unsqueeze(-1), self.latents, net.absent.expand_as(self.latents))
            return net.fusion(tokens).double().numpy()


def encode_dataset(predictor: MultimodalPredictor, dataset: AuditDataset, *,
                   batch_size: int = 512, ddim_steps: int | None = None,
                   samples: int | None = None, on_progress: Progress | None = None) -> LatentCache:
    """Read and encode every study of ``dataset`` once.

    Raises
    ------
    InputError
        A missing column or an unreadable image (naming the row and the file).
    """
    report = on_progress or _silent
    predictor.check_columns(dataset)
    predictor.network.eval()
    predictor.denoiser.eval()
    prep = predictor.preprocessing
    n = dataset.n_rows
    lat, pres = [], []
    images = np.zeros((n, *prep.image_size), dtype=np.float32)
    report("encode", 0, n)
    with torch.inference_mode():
        for start in range(0, n, batch_size):
            rows = np.arange(start, min(n, start + batch_size))
            arrays = encode_rows(dataset.frame, dataset.root, rows, prep, source=dataset.source)
            batch = {k: torch.from_numpy(v) for k, v in arrays.items()}
            lat.append(predictor.network.encode(batch))
            pres.append(batch["present"])
            raw = arrays["image"][:, 0] * prep.pixel_std + prep.pixel_mean
            images[rows] = np.where(arrays["present"][:, :1, None], raw, 0.0)
            report("encode", int(rows[-1]) + 1, n)
    cfg = predictor.denoiser.config
    return LatentCache(
        predictor=predictor, latents=torch.cat(lat), present=torch.cat(pres), images=images,
        batch_size=batch_size,
        ddim_steps=int(cfg.sample_steps if ddim_steps is None else ddim_steps),
        samples=int(cfg.impute_samples if samples is None else samples),
    )
