"""Run the user's own model: one :func:`load_predictor` for every kind of ``--model``.

What ``spec`` points at decides the adapter:

- a folder holding ``model.json`` and ``model.safetensors`` (or either file): the built-in
  multimodal checkpoint (:func:`fairaudit.models.checkpoint.load_model`);
- a file ending in ``.onnx``: an ONNX model run by onnxruntime (the ``onnx`` extra);
- any other file: a TorchScript archive (``torch.jit.save``; a ``torch.save`` pickle is refused);
- ``package.module:factory`` when no such path exists: a Python entry point whose factory returns
  a :class:`~fairaudit.models.Predictor`. **This imports and runs the user's code**; it happens
  only when the spec is written that way.

TorchScript and ONNX models need a ``model.toml`` (:mod:`fairaudit.models.adapters.config`)
saying which manifest columns feed which input and what the output is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fairaudit.errors import ConfigError, ModelError
from fairaudit.models.adapters.config import ModelConfig, load_model_config
from fairaudit.models.adapters.entry_point import is_entry_point, load_entry_point
from fairaudit.models.base import Predictor

ADAPTER_KINDS = ("built-in", "torchscript", "onnx", "entry-point")
BUILTIN_FILES = ("model.json", "model.safetensors")


def model_kind(spec: str | Path) -> str:
    """The adapter ``spec`` selects (see the module docstring); nothing is loaded or imported.

    Raises
    ------
    ModelError
        ``spec`` is neither an existing path nor an entry point.
    """
    p = Path(spec)
    if p.is_dir() or (p.name in BUILTIN_FILES and p.is_file()):
        return "built-in"
    if p.is_file():
        return "onnx" if p.suffix.lower() == ".onnx" else "torchscript"
    if is_entry_point(str(spec)):
        return "entry-point"
    raise ModelError(f"model '{spec}' does not exist; give a fairaudit checkpoint folder, a "
                     "TorchScript file, an .onnx file, or a Python entry point package.module:factory.")


def adapter_kind(predictor: Any) -> str:
    """``"built-in"``, ``"torchscript"``, ``"onnx"``, ``"entry-point"`` or ``"python object"``."""
    from fairaudit.models.multimodal import MultimodalPredictor

    if isinstance(predictor, MultimodalPredictor):
        return "built-in"
    return str(getattr(predictor, "kind", "python object"))


def load_predictor(spec: str | Path, *, config: str | Path | ModelConfig | None = None) -> Predictor:
    """Load the model ``spec`` names as a :class:`~fairaudit.models.Predictor`.

    Parameters
    ----------
    spec : str or Path
        A checkpoint folder, a TorchScript or ONNX file, or ``package.module:factory``.
    config : path or ModelConfig, optional
        The ``model.toml`` of a TorchScript or ONNX model (required for them). An entry point's
        factory receives its path as its one argument when it is given; a built-in checkpoint
        carries its own preprocessing and takes none.

    Raises
    ------
    ConfigError
        A missing or invalid config, a config with a built-in checkpoint, onnxruntime not
        installed, or a model whose inputs do not match the config.
    ModelError
        A missing, unreadable or corrupted model.
    """
    kind = model_kind(spec)
    if kind == "built-in":
        if config is not None:
            raise ConfigError("a model config (`model_config`) goes with TorchScript and ONNX models; "
                              f"the fairaudit checkpoint '{spec}' carries its own preprocessing.")
        from fairaudit.models.checkpoint import load_model

        return load_model(spec)
    if kind == "entry-point":
        if isinstance(config, ModelConfig):
            config = config.path
        return load_entry_point(str(spec), config)
    if config is None:
        raise ConfigError(f"the {kind} model '{spec}' needs a model config (`model_config`, a "
                          "model.toml) saying which manifest columns feed which input; see "
                          "docs/adapters.md.")
    cfg = config if isinstance(config, ModelConfig) else load_model_config(config)
    if cfg.format is not None and cfg.format != kind:
        kind = cfg.format
    from fairaudit.models.adapters.tensor import load_tensor_model

    return load_tensor_model(Path(spec), cfg, kind)


__all__ = ["ADAPTER_KINDS", "ModelConfig", "adapter_kind", "load_model_config", "load_predictor",
           "model_kind"]
