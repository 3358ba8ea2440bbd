"""Export the built-in model's classifier path to TorchScript or ONNX, with its ``model.toml``.

The exported graph is the classifier path of :class:`MultimodalPredictor` with
``impute="fallback"``: the three encoders, absent modalities replaced by the learned absent
tokens, fusion and head; it returns the logit. The diffusion imputer is not exported. Lab and
age standardisation (training-split statistics) happen inside the graph, so the tabular inputs
are raw values with NaN where missing; image normalisation, the tokenizer vocabulary and the
sex categories are in the ``model.toml`` written beside the model, so that
``fairaudit audit --model FILE --model-config model.toml`` reproduces the built-in path's
``--impute fallback`` scores.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from fairaudit.errors import ConfigError, ModelError
from fairaudit.models.adapters.config import dump_model_config
from fairaudit.models.network import MultimodalNetwork

EXPORT_FORMATS = ("torchscript", "onnx")
INPUT_NAMES = ("image", "tokens", "labs", "sex", "age", "present")
OUTPUT_NAME = "logit"


class ClassifierPath(nn.Module):
    """The built-in network from raw tabular inputs to the logit (absent tokens, no diffusion).

    ``forward(image, tokens, labs, sex, age, present)``: image (B, 1, H, W) normalised, tokens
    (B, L) int64, labs (B, K) raw with NaN where missing, sex (B, S) one-hot, age (B, 1) raw (NaN
    where missing), present (B, 3) bool (image, note, labs). Returns logits (B,).
    """

    lab_mean: Tensor
    lab_std: Tensor

    def __init__(self, network: MultimodalNetwork, prep: Any) -> None:
        super().__init__()
        self.network = network
        self.register_buffer("lab_mean", torch.tensor(prep.lab_mean, dtype=torch.float32))
        self.register_buffer("lab_std", torch.tensor(prep.lab_std, dtype=torch.float32))
        self.age_mean, self.age_std = float(prep.age_mean), float(prep.age_std)

    def forward(self, image: Tensor, tokens: Tensor, labs: Tensor, sex: Tensor, age: Tensor,
                present: Tensor) -> Tensor:
        observed = torch.isfinite(labs)
        z = ((labs - self.lab_mean) / self.lab_std).clamp(-8.0, 8.0)
        z = torch.where(observed, z, torch.zeros_like(z))
        a = (age - self.age_mean) / self.age_std
        a = torch.where(torch.isfinite(a), a, torch.zeros_like(a))
        batch = {"image": image, "tokens": tokens, "labs": z, "lab_observed": observed.to(z.dtype),
                 "covariates": torch.cat([sex, a], dim=1)}
        return self.network.classify(self.network.encode(batch), present)


def _example(prep: Any, n: int = 2) -> tuple[Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    h, w = prep.image_size
    return (
        torch.randn((n, 1, h, w), generator=g),
        torch.randint(0, len(prep.tokenizer.vocab), (n, prep.tokenizer.max_len), generator=g),
        torch.randn((n, len(prep.lab_columns)), generator=g),
        torch.eye(len(prep.sex_values))[torch.arange(n) % len(prep.sex_values)],
        torch.full((n, 1), 60.0),
        torch.tensor([[True, True, True], [True, False, True]][:n] * (n // 2 + 1))[:n],
    )


def _torchscript_bytes(module: nn.Module, example: tuple[Tensor, ...]) -> bytes:
    import warnings

    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():  # torch 2.10+ marks TorchScript deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # shape checks traced as constants
        traced = torch.jit.trace(module, example, check_trace=False)
        torch.jit.save(traced, buf)
    return buf.getvalue()


@contextlib.contextmanager
def _quiet_loggers() -> Iterator[None]:
    """The exporter logs its steps (and torchvision's absence); library code stays silent."""
    import logging

    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "onnxscript", "onnx_ir")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _onnx_bytes(module: nn.Module, example: tuple[Tensor, ...]) -> bytes:
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        raise ConfigError('ONNX export needs onnx and onnxscript: pip install "fairaudit-med[onnx]"') from None
    import warnings

    from torch.export import Dim

    batch = Dim("batch", min=1)
    sink = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(sink), _quiet_loggers(), torch.no_grad():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(module, example, input_names=list(INPUT_NAMES),
                                    output_names=[OUTPUT_NAME], dynamo=True, verbose=False,
                                    dynamic_shapes=tuple({0: batch} for _ in INPUT_NAMES))
    if program is None:  # pragma: no cover - the dynamo exporter always returns a program
        raise ModelError("the ONNX exporter returned nothing.")
    return program.model_proto.SerializeToString()


def model_config(predictor: Any, *, fmt: str, vocabulary: str, checkpoint: str) -> dict[str, Any]:
    """The ``model.toml`` content (as a dict) matching :class:`ClassifierPath`."""
    prep = predictor.preprocessing
    schema = prep.schema
    h, w = prep.image_size
    return {
        "model": {"format": fmt, "batch_size": 256},
        "inputs": [
            {"name": "image", "kind": "image", "column": schema.image, "size": [h, w],
             "channels": 1, "mean": [float(prep.pixel_mean)], "std": [float(prep.pixel_std)],
             "fill": 0.0},
            {"name": "tokens", "kind": "text", "column": schema.note, "vocabulary": vocabulary,
             "max_length": int(prep.tokenizer.max_len)},
            {"name": "labs", "kind": "tabular", "columns": list(prep.lab_columns), "fill": math.nan},
            {"name": "sex", "kind": "categorical", "column": schema.sex,
             "categories": list(prep.sex_values)},
            {"name": "age", "kind": "tabular", "columns": [schema.age], "fill": math.nan},
            {"name": "present", "kind": "mask", "of": ["image", "tokens", "labs"]},
        ],
        "output": {"name": OUTPUT_NAME, "kind": "logit", "threshold": float(predictor.threshold),
                   "threshold_rule": f"{predictor.threshold_rule} (exported from checkpoint "
                                     f"'{checkpoint}', sha256 {predictor.sha256})"},
    }


@dataclass(frozen=True)
class ExportedModel:
    """What :func:`export_model` wrote."""

    model: Path
    config: Path
    vocabulary: Path
    format: str


def export_model(checkpoint: str | Path, *, fmt: str, out: str | Path,
                 config_out: str | Path | None = None) -> ExportedModel:
    """Export a built-in checkpoint's classifier path (see the module docstring).

    Parameters
    ----------
    checkpoint : path
        A fairaudit checkpoint folder.
    fmt : {"torchscript", "onnx"}
    out : path
        The model file to write.
    config_out : path, optional
        Where the ``model.toml`` goes; default ``out`` with the suffix ``.toml``. The tokenizer
        vocabulary goes beside it as ``<config stem>.vocab.txt``.

    All files are written together or not at all (:func:`fairaudit._io.write_files`).
    """
    from fairaudit._io import write_files
    from fairaudit.models.checkpoint import CONFIG_FILE, WEIGHTS_FILE, checkpoint_dir, load_model

    if fmt not in EXPORT_FORMATS:
        raise ConfigError(f"format must be one of {', '.join(EXPORT_FORMATS)}; got {fmt!r}.")
    predictor = load_model(checkpoint)
    prep = predictor.preprocessing
    if not prep.sex_values:
        raise ModelError(f"checkpoint '{checkpoint}' has no sex categories; it cannot be exported.")
    out = Path(out)
    cfg_path = Path(config_out) if config_out is not None else out.with_suffix(".toml")
    vocab_path = cfg_path.with_name(cfg_path.stem + ".vocab.txt")
    if len({out.resolve(), cfg_path.resolve(), vocab_path.resolve()}) < 3:
        raise ConfigError(f"the model file '{out}' and its config '{cfg_path}' must be different files.")
    module = ClassifierPath(predictor.network, prep).eval()
    example = _example(prep)
    data = _torchscript_bytes(module, example) if fmt == "torchscript" else _onnx_bytes(module, example)
    rel_vocab = vocab_path.name if vocab_path.parent.resolve() == cfg_path.parent.resolve() else str(vocab_path.resolve())
    text = dump_model_config(model_config(predictor, fmt=fmt, vocabulary=rel_vocab,
                                          checkpoint=str(checkpoint)))
    header = ("# Written by `fairaudit export`: which manifest columns feed which input of "
              f"'{out.name}'.\n# Schema: docs/adapters.md.\n\n")
    write_files([("exported model", out, data), ("model config", cfg_path, header + text),
                 ("vocabulary", vocab_path, "\n".join(prep.tokenizer.vocab) + "\n")],
                [(f"checkpoint file {name}", checkpoint_dir(checkpoint) / name)
                 for name in (CONFIG_FILE, WEIGHTS_FILE)])
    return ExportedModel(model=out, config=cfg_path, vocabulary=vocab_path, format=fmt)
