"""Group DRO: a pure exponentiated update that moves weight to the worst group."""

from __future__ import annotations

import math

import pytest
import torch

from fairaudit.errors import ConfigError
from fairaudit.mitigation import GroupDROLoss, adjustment_terms, update_group_weights


def test_update_is_pure_and_matches_the_formula() -> None:
    q = torch.tensor([0.25, 0.25, 0.5], dtype=torch.float64)
    losses = torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64)
    adj = adjustment_terms([100, 25, 400], 2.0)  # C / sqrt(n): 0.2, 0.4, 0.1
    before = q.clone()
    new = update_group_weights(q, losses, step_size=0.1, adjustment=adj)
    assert torch.equal(q, before)  # inputs untouched
    raw = [0.25 * math.exp(0.1 * 1.2), 0.25 * math.exp(0.1 * 2.4), 0.5 * math.exp(0.1 * 0.6)]
    expected = torch.tensor([r / sum(raw) for r in raw], dtype=torch.float64)
    torch.testing.assert_close(new, expected, rtol=1e-12, atol=1e-15)
    # Groups absent from the batch keep their weight before normalisation.
    kept = update_group_weights(q, losses, step_size=0.1, present=torch.tensor([True, False, True]))
    assert kept[1] / kept[0] == pytest.approx(0.25 / (0.25 * math.exp(0.1)))


def test_weights_move_to_the_worst_group_on_a_constructed_example() -> None:
    # Group 2 is always the hardest (largest loss); group 0 is easy.
    gen = torch.Generator().manual_seed(0)
    dro = GroupDROLoss([500, 300, 200], step_size=0.05)
    q_history = [dro.weights.clone()]
    for _ in range(200):
        groups = torch.randint(0, 3, (64,), generator=gen)
        base = torch.tensor([0.1, 0.5, 1.5])[groups]
        losses = base + 0.05 * torch.rand(64, generator=gen)
        dro(losses, groups)
        q_history.append(dro.weights.clone())
    q = dro.weights
    assert q.argmax().item() == 2
    assert q[2] > 0.95
    # Monotone drift towards the worst group.
    assert all(q_history[i + 1][2] >= q_history[i][2] for i in range(len(q_history) - 1))
    assert dro.n_updates == 200


def test_loss_is_weighted_sum_of_group_means_and_backpropagates() -> None:
    w = torch.tensor([1.0, -1.0], requires_grad=True)
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 0.0]])
    y = torch.tensor([1.0, 0.0, 1.0, 0.0])
    groups = torch.tensor([0, 0, 1, 1])
    per_row = torch.nn.functional.binary_cross_entropy_with_logits(x @ w, y, reduction="none")
    dro = GroupDROLoss([2, 2], step_size=0.0)  # eta = 0 keeps q uniform
    loss = dro(per_row, groups)
    expected = 0.5 * per_row[:2].mean() + 0.5 * per_row[2:].mean()
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert w.grad is not None and torch.all(torch.isfinite(w.grad))
    # update=False leaves q alone (evaluation).
    dro2 = GroupDROLoss([2, 2], step_size=1.0)
    dro2(per_row.detach(), groups, update=False)
    assert torch.equal(dro2.weights, torch.tensor([0.5, 0.5], dtype=torch.float64))


def test_adjustment_favours_small_groups_when_losses_are_equal() -> None:
    dro = GroupDROLoss([10_000, 100], step_size=0.5, adjustment=3.0, group_names=["big", "small"])
    losses = torch.full((8,), 0.7)
    groups = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    for _ in range(20):
        dro(losses, groups)
    state = dro.state()
    assert state["weights"]["small"] > state["weights"]["big"]
    assert state["group_counts"] == {"big": 10_000, "small": 100}


def test_bad_hyper_parameters() -> None:
    with pytest.raises(ConfigError, match="step size"):
        GroupDROLoss([1, 2], step_size=-1)
    with pytest.raises(ConfigError, match="at least one training row"):
        GroupDROLoss([0, 2], adjustment=1.0)
