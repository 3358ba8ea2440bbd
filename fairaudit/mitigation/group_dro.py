"""Group DRO (Sagawa, Koh, Hashimoto & Liang, ICLR 2020): minimise the worst group's loss.

The loss keeps a distribution ``q`` over groups. After every batch, with ``loss_g`` the mean
loss of group g in the batch,

    q_g <- q_g * exp(eta * (loss_g + C / sqrt(n_g)))     then q <- q / sum(q)

and the training loss is ``sum_g q_g loss_g``. This is online mirror ascent on the group
weights: the group with the highest loss gains weight exponentially fast, so the model is
pushed to do well on its worst group.

- ``eta`` (``step_size``) is the step size of the weight update. Sagawa et al. use 0.01; larger
  values chase the worst group of each batch more aggressively (and more noisily).
- ``C`` (``adjustment``) is the generalisation adjustment: a group of ``n_g`` training rows gets
  ``C / sqrt(n_g)`` added to its loss, so that small groups, whose training loss underestimates
  their test loss most, are up-weighted. ``C = 0`` is plain Group DRO; the paper tunes C in
  [0, 5]. The paper pairs Group DRO with strong regularisation (weight decay, early stopping);
  on its own an over-parameterised model drives every group's training loss to 0.

Groups absent from a batch keep their weight for that step (Sagawa's code treats their loss as
0 but still adds the adjustment; skipping them avoids drifting weights on batches that carry
no evidence about the group).

The update is a pure function (:func:`update_group_weights`); :class:`GroupDROLoss` holds ``q``
and applies the update; the network is untouched. Everything runs on the device of the losses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from fairaudit.errors import ConfigError


def update_group_weights(
    weights: torch.Tensor,
    group_losses: torch.Tensor,
    *,
    step_size: float,
    adjustment: torch.Tensor | None = None,
    present: torch.Tensor | None = None,
) -> torch.Tensor:
    """One exponentiated-gradient step on the group weights; returns new, normalised weights.

    Parameters
    ----------
    weights : Tensor of shape (G,)
        Current weights q (non-negative, summing to 1).
    group_losses : Tensor of shape (G,)
        Mean loss of each group in the batch (detached: the weights get no gradient).
    step_size : float
        eta.
    adjustment : Tensor of shape (G,), optional
        ``C / sqrt(n_g)`` per group (see :func:`adjustment_terms`).
    present : Tensor of bool, shape (G,), optional
        Groups seen in the batch; the others keep their weight before normalisation.

    Returns
    -------
    Tensor of shape (G,)
        ``q * exp(eta * (loss + adjustment))``, normalised to sum to 1. The inputs are not modified.
    """
    exponent = group_losses.detach().to(weights.dtype)
    if adjustment is not None:
        exponent = exponent + adjustment.to(exponent)
    exponent = step_size * exponent
    if present is not None:
        exponent = torch.where(present.to(weights.device), exponent, torch.zeros_like(exponent))
    # Multiply in log space and normalise with logsumexp: stable when losses are large.
    logq = torch.log(weights) + exponent
    return torch.exp(logq - torch.logsumexp(logq, dim=0))


def adjustment_terms(group_counts: Sequence[int] | torch.Tensor, adjustment: float) -> torch.Tensor:
    """``C / sqrt(n_g)`` for every group (0 for all when ``C`` is 0)."""
    counts = torch.as_tensor(group_counts, dtype=torch.float64)
    if torch.any(counts <= 0):
        raise ConfigError("every group needs at least one training row for the Group DRO adjustment.")
    return float(adjustment) / torch.sqrt(counts)


class GroupDROLoss:
    """The Group DRO objective ``sum_g q_g loss_g`` with online weights q.

    Parameters
    ----------
    group_counts : sequence of int
        Training rows per group, ``n_g``; its length is the number of groups G.
    step_size : float, default 0.01
        eta of the weight update (Sagawa et al.'s default).
    adjustment : float, default 0.0
        C of the group-size adjustment ``C / sqrt(n_g)``.
    group_names : sequence of str, optional
        Names for the weights in :meth:`state` (provenance).

    Attributes
    ----------
    weights : Tensor of shape (G,)
        The current q (float64, starts uniform). It moves to the device of the losses.
    n_updates : int
        Weight updates so far.

    Examples
    --------
    >>> dro = GroupDROLoss([900, 100], step_size=0.01, adjustment=1.0)
    >>> per_row = F.binary_cross_entropy_with_logits(logits, y, reduction="none")
    >>> loss = dro(per_row, group_index)   # updates q, returns sum_g q_g loss_g
    >>> loss.backward()
    """

    def __init__(
        self,
        group_counts: Sequence[int],
        *,
        step_size: float = 0.01,
        adjustment: float = 0.0,
        group_names: Sequence[str] | None = None,
    ) -> None:
        counts = [int(c) for c in group_counts]
        if len(counts) == 0:
            raise ConfigError("Group DRO needs at least one group.")
        if step_size < 0:
            raise ConfigError(f"the Group DRO step size (eta) must be >= 0; got {step_size}.")
        if adjustment < 0:
            raise ConfigError(f"the Group DRO adjustment C must be >= 0; got {adjustment}.")
        if group_names is not None and len(group_names) != len(counts):
            raise ConfigError(
                f"got {len(group_names)} group names for {len(counts)} group counts."
            )
        self.group_counts = counts
        self.step_size = float(step_size)
        self.adjustment = float(adjustment)
        self.group_names = tuple(group_names) if group_names is not None else tuple(
            str(i) for i in range(len(counts))
        )
        self._adjust = adjustment_terms(counts, self.adjustment)
        self.weights = torch.full((len(counts),), 1.0 / len(counts), dtype=torch.float64)
        self.n_updates = 0

    @property
    def n_groups(self) -> int:
        return len(self.group_counts)

    def group_losses(
        self, losses: torch.Tensor, groups: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean per-row loss of each group in the batch, and which groups were present."""
        groups = groups.to(losses.device).long()
        total = torch.zeros(self.n_groups, dtype=losses.dtype, device=losses.device)
        total = total.index_add(0, groups, losses)
        count = torch.bincount(groups, minlength=self.n_groups).to(losses.dtype)
        return total / count.clamp(min=1), count > 0

    def __call__(
        self, losses: torch.Tensor, groups: torch.Tensor, *, update: bool = True
    ) -> torch.Tensor:
        """Update q with the batch (unless ``update=False``) and return ``sum_g q_g loss_g``.

        Parameters
        ----------
        losses : Tensor of shape (B,)
            Unreduced per-row loss (e.g. ``reduction="none"``).
        groups : Tensor of int, shape (B,)
            Group index of every row, in ``range(G)``.
        """
        if losses.ndim != 1 or groups.shape != losses.shape:
            raise ConfigError(
                f"Group DRO needs one loss and one group per row; got losses {tuple(losses.shape)} "
                f"and groups {tuple(groups.shape)}."
            )
        group_loss, present = self.group_losses(losses, groups)
        q = self.weights.to(losses.device)
        if update:
            q = update_group_weights(
                q,
                group_loss,
                step_size=self.step_size,
                adjustment=self._adjust.to(losses.device),
                present=present,
            )
            self.weights = q
            self.n_updates += 1
        return (q.to(losses.dtype) * group_loss).sum()

    def state(self) -> dict[str, Any]:
        """Hyper-parameters and current weights, JSON-ready (for checkpoint provenance)."""
        return {
            "step_size": self.step_size,
            "adjustment": self.adjustment,
            "group_counts": dict(zip(self.group_names, self.group_counts, strict=True)),
            "weights": dict(
                zip(self.group_names, (float(w) for w in self.weights.cpu()), strict=True)
            ),
            "n_updates": self.n_updates,
        }


__all__ = ["GroupDROLoss", "adjustment_terms", "update_group_weights"]
