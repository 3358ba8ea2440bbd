"""Encoded datasets as tensor tables, and batched forward passes over them.

A :data:`TensorTable` maps each model input (and ``label``) to a CPU tensor with one row per
study; :func:`encode_dataset` builds it from an :class:`~fairaudit.data.AuditDataset`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor, nn

from fairaudit.models.features import Preprocessing, encode_rows
from fairaudit.models.network import MultimodalNetwork
from fairaudit.models.progress import Progress, track

if TYPE_CHECKING:  # pragma: no cover
    from fairaudit.data import AuditDataset

TensorTable = dict[str, Tensor]


def encode_dataset(
    dataset: AuditDataset, preprocessing: Preprocessing, *, batch_size: int = 512, progress: Progress | None = None
) -> TensorTable:
    """All model inputs of ``dataset`` as CPU tensors, plus ``label`` (float32)."""
    parts: dict[str, list[np.ndarray]] = {}
    n = dataset.n_rows
    with track(progress, n, f"reading {Path(dataset.source.split(chr(39))[1] if chr(39) in dataset.source else dataset.source).name}") as bar:
        for start in range(0, n, batch_size):
            rows = np.arange(start, min(n, start + batch_size))
            for k, v in encode_rows(dataset.frame, dataset.root, rows, preprocessing,
                                    source=dataset.source).items():
                parts.setdefault(k, []).append(v)
            bar.advance(len(rows))
    table = {k: torch.from_numpy(np.concatenate(v)) for k, v in parts.items()}
    table["label"] = torch.from_numpy(dataset.labels.astype(np.float32))
    return table


def take_rows(table: TensorTable, idx: Tensor | np.ndarray | list[int], device: torch.device) -> TensorTable:
    """The rows ``idx`` of every tensor of ``table``, on ``device``."""
    index = torch.as_tensor(np.asarray(idx), dtype=torch.long)
    return {k: v[index].to(device) for k, v in table.items()}


def n_rows(table: TensorTable) -> int:
    """Number of rows (studies) in ``table``."""
    return int(table["label"].shape[0])



@torch.no_grad()
def eval_logits(network: nn.Module, table: TensorTable, batch_size: int = 512) -> np.ndarray:
    """Logits (float64, on CPU) of every row of ``table``, with the network in eval mode."""
    network.eval()
    device = next(network.parameters()).device
    out = []
    for start in range(0, n_rows(table), batch_size):
        idx = np.arange(start, min(n_rows(table), start + batch_size))
        out.append(network(take_rows(table, idx, device)).double().cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)



@torch.no_grad()
def latent_table(network: MultimodalNetwork, table: TensorTable, batch_size: int = 512) -> Tensor:
    """Encoder latents (N, 3, D) of every row (on CPU)."""
    network.eval()
    device = next(network.parameters()).device
    out = []
    for start in range(0, n_rows(table), batch_size):
        idx = np.arange(start, min(n_rows(table), start + batch_size))
        out.append(network.encode(take_rows(table, idx, device)).cpu())
    return torch.cat(out)

