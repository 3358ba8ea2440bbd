"""Safe checkpoint I/O for the multimodal model: safetensors weights plus JSON, never pickle.

A checkpoint is a directory holding two files:

``model.safetensors``
    Every tensor: ``network.*`` (encoders, fusion, head), ``denoiser.*`` and the latent
    standardisation ``latent_mean`` / ``latent_std``.
``model.json``
    ``format`` / ``format_version``, the architecture configs (``network``, ``denoiser``),
    ``preprocessing`` (manifest columns, lab statistics, the tokenizer vocabulary),
    ``threshold`` and ``threshold_rule``, ``sample_seed``, ``weights_sha256`` (integrity of the
    weights file), the expected tensor shapes, and ``info`` (training seed, SHA-256 of the
    training and validation data, validation metrics).

The model's hash (:attr:`MultimodalPredictor.sha256`, recorded in audits) is the SHA-256 of
``model.json``'s bytes followed by ``model.safetensors``'s bytes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from fairaudit.errors import ModelError

FORMAT = "fairaudit-multimodal"
FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "model.json"


def checkpoint_dir(path: str | Path) -> Path:
    """The checkpoint directory for ``path`` (the directory, or either of its two files)."""
    p = Path(path)
    if p.name in (WEIGHTS_FILE, CONFIG_FILE) and not p.is_dir():
        return p.parent
    return p


def checkpoint_sha256(path: str | Path) -> str:
    """SHA-256 of ``model.json`` followed by ``model.safetensors``."""
    d = checkpoint_dir(path)
    h = hashlib.sha256()
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        with open(d / name, "rb") as fh:
            while block := fh.read(1 << 20):
                h.update(block)
    return h.hexdigest()


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _state(predictor: Any) -> dict[str, torch.Tensor]:
    tensors = {f"network.{k}": v for k, v in predictor.network.state_dict().items()}
    tensors.update({f"denoiser.{k}": v for k, v in predictor.denoiser.state_dict().items()})
    tensors["latent_mean"] = predictor.latent_mean
    tensors["latent_std"] = predictor.latent_std
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}


def save_model(predictor: Any, path: str | Path) -> str:
    """Write ``predictor`` (a :class:`MultimodalPredictor`) to the checkpoint directory ``path``.

    Both files are written to temporary names and renamed into place. Sets and returns
    ``predictor.sha256``.
    """
    from safetensors.torch import save

    from fairaudit._io import to_jsonable, write_files

    d = Path(path)
    if d.exists() and not d.is_dir():
        raise ModelError(f"checkpoint path '{d}' is a file; give a directory for {CONFIG_FILE} and {WEIGHTS_FILE}.")
    d.mkdir(parents=True, exist_ok=True)
    tensors = _state(predictor)
    weights = save(tensors, metadata={"format": FORMAT})
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "network": predictor.network.config.to_dict(),
        "denoiser": predictor.denoiser.config.to_dict(),
        "preprocessing": predictor.preprocessing.to_dict(),
        "threshold": float(predictor.threshold),
        "threshold_rule": str(predictor.threshold_rule),
        "sample_seed": int(predictor.sample_seed),
        "weights_file": WEIGHTS_FILE,
        "weights_sha256": hashlib.sha256(weights).hexdigest(),
        "tensors": {k: list(v.shape) for k, v in sorted(tensors.items())},
        "info": to_jsonable(predictor.info),
    }
    text = json.dumps(config, indent=1, sort_keys=False) + "\n"
    # Both files or neither, with the usual file mode, through links, never onto a device.
    write_files([("checkpoint weights", d / WEIGHTS_FILE, weights), ("checkpoint config", d / CONFIG_FILE, text)])
    predictor.sha256 = checkpoint_sha256(d)
    return predictor.sha256


def _read_config(d: Path) -> dict[str, Any]:
    p = d / CONFIG_FILE
    try:
        text = p.read_text(encoding="utf-8")
        config = json.loads(text)
    except UnicodeDecodeError:
        raise ModelError(f"checkpoint config '{p}' is not UTF-8 text; the file is corrupted.") from None
    except json.JSONDecodeError as exc:
        raise ModelError(
            f"checkpoint config '{p}' is not valid JSON ({exc.msg} at line {exc.lineno}); "
            "the file is truncated or corrupted."
        ) from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ModelError(f"'{p}' is not a fairaudit multimodal checkpoint (format != '{FORMAT}').")
    if config.get("format_version") != FORMAT_VERSION:
        raise ModelError(
            f"checkpoint '{d}' has format_version {config.get('format_version')!r}; this fairaudit "
            f"reads version {FORMAT_VERSION}."
        )
    return config


def load_model(path: str | Path) -> Any:
    """Load a checkpoint written by :func:`save_model` as a :class:`MultimodalPredictor`.

    Parameters
    ----------
    path : str or Path
        The checkpoint directory (or its ``model.json`` / ``model.safetensors``).

    Returns
    -------
    MultimodalPredictor
        On CPU, in eval mode, with ``sha256``, ``threshold`` and ``threshold_rule`` set.

    Raises
    ------
    ModelError
        One line, if a file is missing, truncated or corrupted (the weights' SHA-256 must match
        the one in ``model.json``), or the tensors do not match the architecture config.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from fairaudit.models.denoiser import DenoiserConfig, LatentDenoiser
    from fairaudit.models.features import Preprocessing
    from fairaudit.models.multimodal import MultimodalPredictor
    from fairaudit.models.network import MultimodalNetwork, NetworkConfig

    d = checkpoint_dir(path)
    if not d.exists():
        raise ModelError(f"checkpoint '{d}' does not exist; give the directory written by 'fairaudit train'.")
    if not d.is_dir():
        raise ModelError(f"checkpoint '{d}' is not a directory holding {CONFIG_FILE} and {WEIGHTS_FILE}.")
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        if not (d / name).is_file():
            raise ModelError(f"checkpoint '{d}' has no {name}; it is incomplete.")
    config = _read_config(d)
    weights = d / WEIGHTS_FILE
    if _file_sha256(weights) != config.get("weights_sha256"):
        raise ModelError(
            f"checkpoint weights '{weights}' do not match the SHA-256 recorded in {CONFIG_FILE}; "
            "the file is truncated, corrupted or from another checkpoint."
        )
    try:
        tensors = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        msg = " ".join(str(exc).split())[:160]
        raise ModelError(f"checkpoint weights '{weights}' cannot be read ({msg}).") from None
    try:
        net_cfg = NetworkConfig.from_dict(config["network"])
        den_cfg = DenoiserConfig.from_dict(config["denoiser"])
        prep = Preprocessing.from_dict(config["preprocessing"])
        threshold = float(config["threshold"])
        rule = str(config["threshold_rule"])
        sample_seed = int(config.get("sample_seed", 0))
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"checkpoint config '{d / CONFIG_FILE}' is missing or has a bad field ({exc}).") from None
    if not 0.0 <= threshold <= 1.0:
        raise ModelError(f"checkpoint '{d}' has threshold {threshold}; expected a value in [0, 1].")
    try:
        network = MultimodalNetwork(net_cfg)
        denoiser = LatentDenoiser(den_cfg)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ModelError(f"checkpoint '{d}' has an invalid architecture config ({exc}).") from None
    expected = {f"network.{k}": v.shape for k, v in network.state_dict().items()}
    expected.update({f"denoiser.{k}": v.shape for k, v in denoiser.state_dict().items()})
    d_lat = (den_cfg.n_modalities, net_cfg.latent_dim)
    expected["latent_mean"] = torch.Size(d_lat)
    expected["latent_std"] = torch.Size(d_lat)
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        what = f"missing {missing[0]}" if missing else f"unexpected {extra[0]}"
        raise ModelError(
            f"checkpoint '{d}' does not match its architecture config ({what}; "
            f"{len(missing)} missing, {len(extra)} unexpected tensors)."
        )
    for name, shape in expected.items():
        if tensors[name].shape != shape:
            raise ModelError(
                f"checkpoint '{d}' does not match its architecture config: tensor {name} has shape "
                f"{tuple(tensors[name].shape)}, expected {tuple(shape)}."
            )
    if prep.tokenizer.max_len != net_cfg.max_note_len or len(prep.tokenizer.vocab) != net_cfg.vocab_size \
            or len(prep.lab_columns) != net_cfg.n_labs:
        raise ModelError(f"checkpoint '{d}': the preprocessing in {CONFIG_FILE} does not match the network config.")
    network.load_state_dict({k[len("network."):]: v for k, v in tensors.items() if k.startswith("network.")})
    denoiser.load_state_dict({k[len("denoiser."):]: v for k, v in tensors.items() if k.startswith("denoiser.")})
    network.eval()
    denoiser.eval()
    return MultimodalPredictor(
        network=network,
        denoiser=denoiser,
        preprocessing=prep,
        latent_mean=tensors["latent_mean"],
        latent_std=tensors["latent_std"],
        threshold=threshold,
        threshold_rule=rule,
        sample_seed=sample_seed,
        sha256=checkpoint_sha256(d),
        info=dict(config.get("info") or {}),
    )
