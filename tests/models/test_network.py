"""fairaudit.models.network: the configuration in the checkpoint, and modality dropout."""

from __future__ import annotations

import json

import torch

from fairaudit.models.network import MultimodalNetwork, NetworkConfig, drop_modalities


def test_config_round_trips_through_json_with_tuples_restored() -> None:
    cfg = NetworkConfig(image_size=(16, 16), image_channels=(4, 8), latent_dim=8, hidden=16)
    again = NetworkConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg and isinstance(again.image_channels, tuple)


def test_a_checkpoint_without_auxiliary_heads_loads_with_weight_0() -> None:
    old = {k: v for k, v in NetworkConfig().to_dict().items() if k != "aux_weight"}
    assert NetworkConfig.from_dict(old).aux_weight == 0.0
    assert NetworkConfig.from_dict(NetworkConfig().to_dict()).aux_weight == NetworkConfig().aux_weight


def test_dropout_keeps_at_least_one_present_modality() -> None:
    g = torch.Generator().manual_seed(0)
    present = torch.tensor([[True, True, True], [True, False, False], [False, True, True]] * 50)
    kept = drop_modalities(present, 0.9, g)
    assert kept.shape == present.shape
    assert not (kept & ~present).any()  # never adds a modality
    assert kept.any(dim=1).all()


def test_a_network_rebuilt_from_its_stored_config_has_the_same_parameters(trained) -> None:
    net = trained.network
    assert isinstance(net, MultimodalNetwork)
    n_params = sum(p.numel() for p in net.parameters())
    again = MultimodalNetwork(NetworkConfig.from_dict(net.config.to_dict()))
    assert sum(p.numel() for p in again.parameters()) == n_params
