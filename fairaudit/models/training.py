"""Training the multimodal model: a reusable classifier loop, the diffusion stage, the threshold.

Reusable loop (mitigations build on this)
-----------------------------------------
::

    fit_classifier(
        network,                      # MultimodalNetwork (or any nn.Module: forward(batch, generator) -> logits)
        train, val,                   # TensorTable from fairaudit.models.tensors.encode_dataset(...), with "label"
        *,
        settings=TrainSettings(),     # epochs, batch_size, lr, weight_decay, patience, seed, ...
        sample_weights=None,          # (n_train,) per-row weights in the loss (e.g. Kamiran-Calders)
        group_ids=None,               # (n_train,) int group of each training row, passed to loss_fn
        val_group_ids=None,           # (n_val,) int group of each validation row, for selection_score
        sampler=None,                 # torch Sampler[int] over training rows, or ...
        batch_sampler=None,           # ... a Sampler[list[int]] yielding whole batches (stratified)
        loss_fn=None,                 # GroupLoss: loss_fn(per_example_loss, group_ids) -> scalar;
                                      #   optional loss_fn.update(per_example_loss, group_ids) after each step
        selection_score=overall_auc,  # (scores, labels, group_ids | None) -> float, higher is better
        progress=None,                # a models.progress.Progress told of every epoch
    ) -> FitResult                    # the network is left at its best validation epoch

``per_example_loss`` is the binary cross-entropy of each row of the batch (plus the row's
auxiliary per-modality loss when the network has ``forward_train``, as
:class:`~fairaudit.models.network.MultimodalNetwork` does); when
``sample_weights`` are given it is already multiplied by ``w_i / mean(w over the batch)``, so the
default :class:`MeanLoss` computes the weighted mean. Early stopping keeps the epoch with the
highest ``selection_score`` on the validation split (computed with the absent-token fallback for
missing modalities) and stops after ``settings.patience`` epochs without improvement.

Higher-level entry points:

- :func:`train_model` trains from scratch on a train and a validation :class:`AuditDataset`:
  preprocessing and tokenizer fitted on train, classifier, latent diffusion, threshold.
- :func:`fine_tune` starts from an existing :class:`MultimodalPredictor` (e.g. one from
  :func:`fairaudit.models.checkpoint.load_model`), runs :func:`fit_classifier` with the same
  hooks, re-fits the diffusion model on the new latents and re-chooses the threshold on
  validation. Save the result with :func:`fairaudit.models.checkpoint.save_model`.

The decision threshold maximises Youden's J (sensitivity + specificity - 1) on the validation
split (:func:`fairaudit.models.evaluation.youden_threshold`); the test split is never used.
AUC and the selection scores live in :mod:`fairaudit.models.evaluation`, encoded tensor tables
in :mod:`fairaudit.models.tensors`.

Randomness comes from ``settings.seed`` alone: shuffling, modality dropout and diffusion noise use
explicit ``torch.Generator`` objects, and parameter initialisation runs under a forked, locally
seeded RNG (``torch.random.fork_rng``), so the caller's global state is untouched.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import math
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Sampler

from fairaudit.data.manifest import ManifestSchema
from fairaudit.errors import ConfigError, InputError
from fairaudit.models.denoiser import DenoiserConfig, LatentDenoiser
from fairaudit.models.diffusion import NoiseSchedule, diffusion_loss
from fairaudit.models.evaluation import (
    THRESHOLD_RULE,
    SelectionScore,
    overall_auc,
    validation_summary,
)
from fairaudit.models.features import MODALITIES, fit_preprocessing, read_image
from fairaudit.models.multimodal import MultimodalPredictor
from fairaudit.models.network import MultimodalNetwork, NetworkConfig
from fairaudit.models.progress import Progress, track
from fairaudit.models.tensors import (
    TensorTable,
    encode_dataset,
    eval_logits,
    latent_table,
    n_rows,
    take_rows,
)

if TYPE_CHECKING:  # pragma: no cover
    from fairaudit.data import AuditDataset


@dataclass(frozen=True)
class TrainSettings:
    """Optimisation settings for the classifier and the diffusion stage.

    Attributes
    ----------
    epochs, batch_size, lr, weight_decay :
        Classifier optimisation (AdamW).
    patience : int
        Stop after this many epochs without a better validation selection score.
    min_delta : float
        Improvement needed to reset the patience counter.
    grad_clip : float
        Gradient norm clip (0 disables).
    seed : int
        The only source of randomness.
    diffusion_epochs, diffusion_batch_size, diffusion_lr, diffusion_patience :
        Denoiser optimisation (early-stopped on validation denoising loss).
    """

    epochs: int = 40
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    patience: int = 8
    min_delta: float = 1e-4
    grad_clip: float = 1.0
    seed: int = 0
    diffusion_epochs: int = 300
    diffusion_batch_size: int = 256
    diffusion_lr: float = 1e-3
    diffusion_patience: int = 30

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "diffusion_epochs", "diffusion_batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1; got {getattr(self, name)}.")
        if self.patience < 1 or self.diffusion_patience < 1:
            raise ConfigError("patience must be at least 1.")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@runtime_checkable
class GroupLoss(Protocol):
    """Reduces per-example losses to the scalar that is minimised.

    Implementations may also define ``update(per_example_loss, group_ids) -> None``, called with
    detached losses after every optimiser step (e.g. the Group DRO weight update).
    """

    def __call__(self, per_example_loss: Tensor, group_ids: Tensor) -> Tensor: ...


class MeanLoss:
    """The default reduction: the mean of the (already weighted) per-example losses."""

    def __call__(self, per_example_loss: Tensor, group_ids: Tensor) -> Tensor:
        return per_example_loss.mean()


@dataclass(frozen=True)
class EpochRecord:
    epoch: int
    train_loss: float
    val_score: float
    seconds: float


@dataclass(frozen=True)
class FitResult:
    """What :func:`fit_classifier` did; the network holds the weights of ``best_epoch``."""

    best_epoch: int
    best_score: float
    history: tuple[EpochRecord, ...]
    stopped_early: bool


def _batches(n: int, settings: TrainSettings, generator: torch.Generator,
             sampler: Sampler | None, batch_sampler: Sampler | None) -> Iterator[list[int]]:
    if batch_sampler is not None:
        yield from (list(b) for b in batch_sampler)
        return
    order: Iterable[int] = sampler if sampler is not None else torch.randperm(n, generator=generator).tolist()
    batch: list[int] = []
    for i in order:
        batch.append(int(i))
        if len(batch) == settings.batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


# -- the classifier loop ------------------------------------------------------------------


def fit_classifier(
    network: nn.Module,
    train: TensorTable,
    val: TensorTable,
    *,
    settings: TrainSettings = TrainSettings(),
    sample_weights: np.ndarray | None = None,
    group_ids: np.ndarray | None = None,
    val_group_ids: np.ndarray | None = None,
    sampler: Sampler | None = None,
    batch_sampler: Sampler | None = None,
    loss_fn: GroupLoss | None = None,
    selection_score: SelectionScore = overall_auc,
    progress: Progress | None = None,
) -> FitResult:
    """Train ``network`` in place with early stopping on a validation selection score.

    See the module docstring for the meaning of each hook. The network is trained on the
    device it lives on and is left holding its best-scoring weights (in eval mode).

    Returns
    -------
    FitResult
    """
    n = n_rows(train)
    if sampler is not None and batch_sampler is not None:
        raise ConfigError("give either a sampler or a batch_sampler, not both.")
    weights = None
    if sample_weights is not None:
        weights = torch.as_tensor(np.asarray(sample_weights, dtype=np.float32))
        if weights.shape != (n,) or not torch.isfinite(weights).all() or (weights < 0).any():
            raise ConfigError(f"sample_weights must be {n} finite non-negative numbers.")
    groups = torch.zeros(n, dtype=torch.long) if group_ids is None else torch.as_tensor(np.asarray(group_ids), dtype=torch.long)
    if groups.shape != (n,):
        raise ConfigError(f"group_ids must have one entry per training row ({n}).")
    loss_fn = loss_fn or MeanLoss()
    device = next(network.parameters()).device
    val_labels = val["label"].numpy().astype(np.int8)
    gen = torch.Generator().manual_seed(settings.seed)
    opt = torch.optim.AdamW(network.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    best_score, best_epoch, best_state = -math.inf, 0, copy.deepcopy(network.state_dict())
    history: list[EpochRecord] = []
    stale = 0
    # Networks with auxiliary losses (MultimodalNetwork) return them from forward_train.
    forward_train = getattr(network, "forward_train", None)
    with torch.random.fork_rng(devices=[]), track(progress, settings.epochs, "training") as bar:
        torch.manual_seed(settings.seed)
        for epoch in range(1, settings.epochs + 1):
            t0 = time.perf_counter()
            network.train()
            total, count = 0.0, 0
            for idx in _batches(n, settings, gen, sampler, batch_sampler):
                batch = take_rows(train, idx, device)
                if callable(forward_train):
                    logits, auxiliary = forward_train(batch, generator=gen)
                else:
                    logits, auxiliary = network(batch, generator=gen), None
                per_example = nn.functional.binary_cross_entropy_with_logits(
                    logits, batch["label"], reduction="none")
                if auxiliary is not None:
                    per_example = per_example + auxiliary
                if weights is not None:
                    w = weights[idx].to(device)
                    per_example = per_example * (w / w.mean().clamp_min(1e-12))
                g = groups[idx].to(device)
                loss = loss_fn(per_example, g)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if settings.grad_clip > 0:
                    nn.utils.clip_grad_norm_(network.parameters(), settings.grad_clip)
                opt.step()
                update = getattr(loss_fn, "update", None)
                if callable(update):
                    update(per_example.detach(), g)
                total += float(loss.detach()) * len(idx)
                count += len(idx)
            scores = _sigmoid(eval_logits(network, val))
            score = float(selection_score(scores, val_labels, val_group_ids))
            history.append(EpochRecord(epoch, total / max(count, 1), score, time.perf_counter() - t0))
            if hasattr(bar, "describe"):
                bar.describe(f"training (epoch {epoch}, val {score:.3f})")
            bar.advance(1)
            if math.isfinite(score) and score > best_score + settings.min_delta:
                best_score, best_epoch, stale = score, epoch, 0
                best_state = copy.deepcopy(network.state_dict())
            else:
                stale += 1
                if stale >= settings.patience:
                    break
    network.load_state_dict(best_state)
    network.eval()
    return FitResult(best_epoch, best_score, tuple(history), stopped_early=len(history) < settings.epochs)


# -- the diffusion stage ------------------------------------------------------------------


def diffusion_masks(present: Tensor, generator: torch.Generator, p_uncond: float = 0.1) -> tuple[Tensor, Tensor]:
    """Random (observed, target) masks for training the denoiser (random modality masking).

    Each present modality becomes a target with probability 1/2 (at least one per row); the
    other present ones are observed, and with probability ``p_uncond`` none is observed.
    """
    u = torch.rand(present.shape, generator=generator)
    target = present & (u < 0.5)
    none = ~target.any(dim=1)
    pick = torch.nn.functional.one_hot(torch.where(present, u, torch.full_like(u, -1.0)).argmax(1),
                                       present.shape[1]).bool()
    target = torch.where(none.unsqueeze(1), pick & present, target)
    observed = present & ~target
    drop = torch.rand(present.shape[0], generator=generator) < p_uncond
    observed = observed & ~drop.unsqueeze(1)
    return observed, target


def fit_denoiser(
    denoiser: LatentDenoiser,
    schedule: NoiseSchedule,
    train_latents: Tensor,
    train_present: Tensor,
    val_latents: Tensor,
    val_present: Tensor,
    *,
    settings: TrainSettings = TrainSettings(),
    progress: Progress | None = None,
) -> tuple[int, float]:
    """Train the denoiser on standardised latents; early-stopped on validation loss.

    Only rows with at least one present modality contribute. Returns (best epoch, best
    validation loss); the denoiser keeps its best weights.
    """
    device = next(denoiser.parameters()).device
    gen = torch.Generator().manual_seed(settings.seed + 1)
    opt = torch.optim.AdamW(denoiser.parameters(), lr=settings.diffusion_lr, weight_decay=0.0)
    n = train_latents.shape[0]
    keep_val = val_present.any(dim=1)
    best, best_epoch, best_state, stale = math.inf, 0, copy.deepcopy(denoiser.state_dict()), 0
    with torch.random.fork_rng(devices=[]), track(progress, settings.diffusion_epochs, "diffusion") as bar:
        torch.manual_seed(settings.seed + 1)
        for epoch in range(1, settings.diffusion_epochs + 1):
            denoiser.train()
            perm = torch.randperm(n, generator=gen)
            for start in range(0, n, settings.diffusion_batch_size):
                idx = perm[start:start + settings.diffusion_batch_size]
                present = train_present[idx]
                observed, target = diffusion_masks(present, gen)
                loss = diffusion_loss(denoiser, schedule, train_latents[idx].to(device),
                                      observed.to(device), target.to(device), gen).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(denoiser.parameters(), 1.0)
                opt.step()
            val_loss = _denoiser_val_loss(denoiser, schedule, val_latents[keep_val], val_present[keep_val],
                                          settings.seed)
            if hasattr(bar, "describe"):
                bar.describe(f"diffusion (epoch {epoch}, val {val_loss:.3f})")
            bar.advance(1)
            if val_loss < best - 1e-4:
                best, best_epoch, stale = val_loss, epoch, 0
                best_state = copy.deepcopy(denoiser.state_dict())
            else:
                stale += 1
                if stale >= settings.diffusion_patience:
                    break
    denoiser.load_state_dict(best_state)
    denoiser.eval()
    return best_epoch, best


@torch.no_grad()
def _denoiser_val_loss(denoiser: LatentDenoiser, schedule: NoiseSchedule, latents: Tensor,
                       present: Tensor, seed: int) -> float:
    # The same masks, steps and noise every epoch, so epochs are comparable.
    denoiser.eval()
    device = next(denoiser.parameters()).device
    gen = torch.Generator().manual_seed(seed + 2)
    observed, target = diffusion_masks(present, gen, p_uncond=0.0)
    losses = []
    for start in range(0, latents.shape[0], 1024):
        sl = slice(start, start + 1024)
        losses.append(diffusion_loss(denoiser, schedule, latents[sl].to(device), observed[sl].to(device),
                                     target[sl].to(device), gen))
    return float(torch.cat(losses).mean()) if losses else math.inf


def _latent_stats(latents: Tensor, present: Tensor) -> tuple[Tensor, Tensor]:
    mask = present.unsqueeze(-1).float()
    count = mask.sum(0).clamp_min(1.0)
    mean = (latents * mask).sum(0) / count
    var = (((latents - mean) ** 2) * mask).sum(0) / count
    return mean, var.sqrt().clamp_min(1e-4)


def _fit_diffusion(predictor: MultimodalPredictor, train: TensorTable, val: TensorTable,
                   settings: TrainSettings, progress: Progress | None) -> dict[str, Any]:
    net = predictor.network
    z_train, z_val = latent_table(net, train), latent_table(net, val)
    p_train, p_val = train["present"], val["present"]
    mean, std = _latent_stats(z_train, p_train)
    predictor.latent_mean = mean.to(predictor.device)
    predictor.latent_std = std.to(predictor.device)
    epoch, loss = fit_denoiser(predictor.denoiser, predictor.schedule, (z_train - mean) / std, p_train,
                               (z_val - mean) / std, p_val, settings=settings, progress=progress)
    return {"best_epoch": epoch, "val_loss": loss}


def data_fingerprint(dataset: AuditDataset, schema: ManifestSchema) -> str:
    """SHA-256 over the manifest's hash and the bytes of every image it names, in row order."""
    h = hashlib.sha256(dataset.sha256.encode())
    for value in dataset.frame[schema.image].astype("string").fillna("").str.strip():
        if value:
            p = Path(value)
            p = p if p.is_absolute() or dataset.root is None else dataset.root / p
            h.update(value.encode())
            h.update(p.read_bytes())
    return h.hexdigest()


# -- pipelines ----------------------------------------------------------------------------


def _image_size(dataset: AuditDataset, schema: ManifestSchema) -> tuple[int, int]:
    paths = dataset.frame[schema.image].astype("string").fillna("").str.strip()
    for i, value in enumerate(paths):
        if value:
            p = Path(value)
            p = p if p.is_absolute() or dataset.root is None else dataset.root / p
            img = read_image(p, row=i, expected=None, source=dataset.source)
            return int(img.shape[0]), int(img.shape[1])
    raise InputError(f"{dataset.source} has no images; the model needs some training images.")


def _build(cls: type, config: Any, seed: int) -> Any:
    # Parameter initialisation under a forked RNG: deterministic, caller's global state untouched.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cls(config)


def train_model(
    train: AuditDataset,
    val: AuditDataset,
    *,
    settings: TrainSettings = TrainSettings(),
    network: dict[str, Any] | None = None,
    denoiser: dict[str, Any] | None = None,
    schema: ManifestSchema | None = None,
    progress: Progress | None = None,
    image_window: tuple[float, float] | None = None,
) -> MultimodalPredictor:
    """Train the multimodal latent-diffusion model from scratch.

    Parameters
    ----------
    train, val : AuditDataset
        Training and validation manifests (see :func:`fairaudit.data.manifest.load_manifest`).
        Validation drives early stopping and the threshold; nothing else is used.
    settings : TrainSettings
    network, denoiser : dict, optional
        Overrides of :class:`NetworkConfig` / :class:`DenoiserConfig` fields (e.g. a tiny
        configuration for tests). Input sizes are always taken from the data.
    schema : ManifestSchema, optional
        Manifest column names.
    progress : Progress, optional
        Told of every epoch and encoding batch (:mod:`fairaudit.models.progress`).
    image_window : tuple of float, optional
        ``(center, width)`` for DICOM images, kept in the checkpoint so that inference reads
        them the same way (None: each file's own window).

    Returns
    -------
    MultimodalPredictor
        With ``threshold`` chosen on validation and ``info`` holding provenance and validation
        metrics.
    """
    t0 = time.perf_counter()
    schema = schema or ManifestSchema()
    prep = fit_preprocessing(train.frame, train.root, schema=schema, source=train.source,
                             image_size=_image_size(train, schema),
                             max_note_len=int((network or {}).get("max_note_len", 48)),
                             image_window=image_window)
    net_cfg = NetworkConfig(**{
        **(network or {}),
        "image_size": prep.image_size,
        "vocab_size": len(prep.tokenizer.vocab),
        "max_note_len": prep.tokenizer.max_len,
        "n_labs": len(prep.lab_columns),
        "n_covariates": prep.n_covariates,
    })
    den_cfg = DenoiserConfig(**{**(denoiser or {}), "n_modalities": len(MODALITIES),
                                "latent_dim": net_cfg.latent_dim})
    train_t = encode_dataset(train, prep, progress=progress)
    val_t = encode_dataset(val, prep, progress=progress)
    net = _build(MultimodalNetwork, net_cfg, settings.seed)
    val_groups = val.group_codes[:, 0] if val.attributes else None
    fit = fit_classifier(net, train_t, val_t, settings=settings, val_group_ids=val_groups, progress=progress)
    d = net_cfg.latent_dim
    predictor = MultimodalPredictor(
        network=net,
        denoiser=_build(LatentDenoiser, den_cfg, settings.seed + 1),
        preprocessing=prep,
        latent_mean=torch.zeros(len(MODALITIES), d),
        latent_std=torch.ones(len(MODALITIES), d),
        threshold=0.5,
        threshold_rule=THRESHOLD_RULE,
        sample_seed=settings.seed,
    )
    diffusion = _fit_diffusion(predictor, train_t, val_t, settings, progress)
    summary = validation_summary(predictor, val)
    predictor.info = {
        "seed": settings.seed,
        "settings": settings.to_dict(),
        "training_data": {
            "train_source": train.source,
            "train_manifest_sha256": train.sha256,
            "train_sha256": data_fingerprint(train, schema),
            "validation_manifest_sha256": val.sha256,
            "validation_sha256": data_fingerprint(val, schema),
            "sha256_covers": "manifest bytes and every image file's bytes, in row order",
            "n_train": train.n_rows,
            "n_validation": val.n_rows,
            "label": train.label_column,
        },
        "classifier": {"best_epoch": fit.best_epoch, "best_val_auc": fit.best_score,
                       "epochs_run": len(fit.history), "stopped_early": fit.stopped_early},
        "diffusion": diffusion,
        "validation": summary,
        "train_seconds": round(time.perf_counter() - t0, 1),
        "torch_version": torch.__version__,
    }
    return predictor


def fine_tune(
    predictor: MultimodalPredictor,
    train: AuditDataset,
    val: AuditDataset,
    *,
    settings: TrainSettings = TrainSettings(epochs=10, lr=5e-4),
    sample_weights: np.ndarray | None = None,
    group_ids: np.ndarray | None = None,
    val_group_ids: np.ndarray | None = None,
    sampler: Sampler | None = None,
    batch_sampler: Sampler | None = None,
    loss_fn: GroupLoss | None = None,
    selection_score: SelectionScore = overall_auc,
    refit_diffusion: bool = True,
    progress: Progress | None = None,
) -> tuple[MultimodalPredictor, FitResult]:
    """Fine-tune a copy of ``predictor`` with the hooks of :func:`fit_classifier`.

    The preprocessing (tokenizer, standardisation) is kept. The diffusion model is re-fitted on
    the new encoder latents (``refit_diffusion``) and the threshold re-chosen on ``val``.
    ``predictor`` itself is not modified.

    Returns
    -------
    (MultimodalPredictor, FitResult)
    """
    tuned = copy.deepcopy(predictor)
    tuned.sha256 = None
    train_t = encode_dataset(train, tuned.preprocessing, progress=progress)
    val_t = encode_dataset(val, tuned.preprocessing, progress=progress)
    fit = fit_classifier(tuned.network, train_t, val_t, settings=settings, sample_weights=sample_weights,
                         group_ids=group_ids, val_group_ids=val_group_ids, sampler=sampler,
                         batch_sampler=batch_sampler, loss_fn=loss_fn, selection_score=selection_score,
                         progress=progress)
    info = dict(tuned.info)
    if refit_diffusion:
        info["diffusion"] = _fit_diffusion(tuned, train_t, val_t, settings, progress)
    info["validation"] = validation_summary(tuned, val)
    info["fine_tuned_from"] = predictor.sha256
    info["fine_tune"] = {"settings": settings.to_dict(), "best_epoch": fit.best_epoch,
                         "best_val_score": fit.best_score, "loss": type(loss_fn or MeanLoss()).__name__,
                         "selection_score": getattr(selection_score, "__name__", str(selection_score))}
    tuned.info = info
    return tuned, fit
