"""TorchScript and ONNX models as :class:`~fairaudit.models.Predictor` objects.

A :class:`TensorModelPredictor` builds the inputs a :class:`ModelConfig` describes from manifest
rows, runs the model batch by batch under ``torch.inference_mode()`` (or onnxruntime), and turns
the chosen output into probabilities. Before the full run it probes the model with a one-row
batch: a model whose inputs or output do not match the config fails in a second with a message
naming the tensor and the shapes.
"""

from __future__ import annotations

import hashlib
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fairaudit.errors import ConfigError, ModelError
from fairaudit.models.adapters.config import InputSpec, ModelConfig
from fairaudit.models.adapters.inputs import InputBuilder
from fairaudit.models.progress import Progress, track

if TYPE_CHECKING:  # pragma: no cover
    from fairaudit.data import AuditDataset

ONNX_INSTALL = 'pip install "fairaudit-med[onnx]"'
_ONNX_TYPES = {"tensor(float)": "float32", "tensor(double)": "float64", "tensor(int64)": "int64",
               "tensor(int32)": "int32", "tensor(bool)": "bool"}


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def expected_shape(spec: InputSpec) -> list[int | str]:
    """The shape the config gives an input, with ``"batch"`` first."""
    o = spec.options
    if spec.kind == "image":
        return ["batch", o["channels"], *o["size"]]
    width = {"tabular": len(spec.columns), "categorical": len(o.get("categories", ())),
             "text": o.get("max_length", 0), "mask": len(o.get("of", ()))}[spec.kind]
    return ["batch", width]


def _last_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return (lines[-1] if lines else type(exc).__name__)[:300]


class TorchScriptRunner:
    """A ``torch.jit.save`` archive; inputs are passed by position in config order."""

    kind = "torchscript"
    fixed_batch: int | None = None

    def __init__(self, path: Path, config: ModelConfig) -> None:
        import torch

        if not zipfile.is_zipfile(path):
            raise ModelError(f"TorchScript model '{path}' is not a TorchScript archive (a zip written "
                             "by torch.jit.save).")
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
        if not any(n.endswith("constants.pkl") or "/code/" in n for n in names):
            raise ModelError(f"model '{path}' is a torch.save() file, not TorchScript; fairaudit never "
                             "unpickles a model. Export it with torch.jit.script or torch.jit.trace "
                             "and torch.jit.save.")
        try:
            with warnings.catch_warnings():  # torch 2.10+ marks TorchScript deprecated
                warnings.simplefilter("ignore", DeprecationWarning)
                self.module = torch.jit.load(str(path), map_location="cpu")
        except (RuntimeError, ValueError) as exc:
            raise ModelError(f"TorchScript model '{path}' cannot be loaded ({_last_line(exc)}).") from None
        self.module.eval()
        self.path, self.config = path, config

    def check_signature(self) -> None:
        """TorchScript carries no static shapes: the one-row probe checks them."""

    def run(self, arrays: dict[str, np.ndarray]) -> np.ndarray:
        import torch

        tensors = [torch.from_numpy(np.ascontiguousarray(arrays[s.name])) for s in self.config.inputs]
        with torch.inference_mode():
            out = self.module(*tensors)
        name = self.config.output.name
        if isinstance(out, dict):
            if name not in out:
                raise ConfigError(f"TorchScript model '{self.path}' returns a dict with keys "
                                  f"{', '.join(map(str, out))}; set output.name to one of them.")
            out = out[name]
        if not isinstance(out, torch.Tensor):
            raise ConfigError(f"TorchScript model '{self.path}' returns {type(out).__name__}; the "
                              "adapter needs one tensor (or a dict of tensors and output.name).")
        return out.detach().to(torch.float64).cpu().numpy()


class OnnxRunner:
    """An ONNX file run by onnxruntime on the CPU; inputs are matched by name."""

    kind = "onnx"
    fixed_batch: int | None = None
    """The batch size the model was exported with, when its first dimension is not dynamic."""

    def __init__(self, path: Path, config: ModelConfig) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise ConfigError(f"ONNX models need onnxruntime, which is not installed: "
                              f"{ONNX_INSTALL}") from None
        options = ort.SessionOptions()
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for bad files
            raise ModelError(f"ONNX model '{path}' cannot be loaded ({_last_line(exc)}).") from None
        self.path, self.config = path, config
        outputs = [o.name for o in self.session.get_outputs()]
        name = config.output.name
        if name is None and len(outputs) > 1:
            raise ConfigError(f"ONNX model '{path}' has outputs {', '.join(outputs)}; set output.name "
                              "in the model config to the one holding the score.")
        if name is not None and name not in outputs:
            raise ConfigError(f"output.name '{name}' is not an output of ONNX model '{path}'; its "
                              f"outputs are: {', '.join(outputs)}.")
        self.output = name or outputs[0]

    def _describe(self) -> str:
        return ", ".join(f"{i.name} {list(i.shape)} {_ONNX_TYPES.get(i.type, i.type)}"
                         for i in self.session.get_inputs())

    def check_signature(self) -> None:
        """Names, ranks, fixed sizes and element types of the model's inputs against the config."""
        where = f"model config '{self.config.path}'" if self.config.path else "the model config"
        model_inputs = {i.name: i for i in self.session.get_inputs()}
        names = [s.name for s in self.config.inputs]
        for name in model_inputs:
            if name not in names:
                raise ConfigError(f"ONNX model '{self.path}' has an input '{name}' that {where} does "
                                  f"not describe; the model's inputs are: {self._describe()}.")
        for i, spec in enumerate(self.config.inputs):
            if spec.name not in model_inputs:
                raise ConfigError(f"inputs[{i}].name '{spec.name}' of {where} is not an input of ONNX "
                                  f"model '{self.path}'; its inputs are: {self._describe()}.")
            info = model_inputs[spec.name]
            want = expected_shape(spec)
            shape = list(info.shape)
            if shape and isinstance(shape[0], int) and shape[0] > 0:
                if self.fixed_batch not in (None, shape[0]):
                    raise ConfigError(f"ONNX model '{self.path}' has inputs with different fixed "
                                      f"batch sizes ({self.fixed_batch} and {shape[0]}).")
                self.fixed_batch = shape[0]
            fixed = [(a, b) for a, b in zip(shape[1:], want[1:], strict=False) if isinstance(a, int)]
            if len(shape) != len(want) or any(a != b for a, b in fixed):
                raise ConfigError(f"input '{spec.name}': ONNX model '{self.path}' expects shape "
                                  f"{shape}; inputs[{i}] of {where} gives {want}.")
            dtype = _ONNX_TYPES.get(info.type)
            if dtype is not None and dtype != spec.dtype:
                raise ConfigError(f"input '{spec.name}': ONNX model '{self.path}' expects {dtype}; "
                                  f"inputs[{i}].dtype of {where} is {spec.dtype} (set dtype = "
                                  f"\"{dtype}\").")

    def run(self, arrays: dict[str, np.ndarray]) -> np.ndarray:
        out = self.session.run([self.output], {k: np.ascontiguousarray(v) for k, v in arrays.items()})[0]
        if isinstance(out, list) and out and isinstance(out[0], dict):
            # A ZipMap output (scikit-learn through skl2onnx): one {class: probability} per row;
            # the columns follow the classes' order, so output.index picks the class.
            keys = list(out[0])
            out = [[row[k] for k in keys] for row in out]
        return np.asarray(out, dtype=np.float64)


class TensorModelPredictor:
    """A TorchScript or ONNX model with its :class:`ModelConfig` (see the module docstring).

    Attributes
    ----------
    kind : {"torchscript", "onnx"}
    path : Path
    sha256 : str
        SHA-256 of the model file.
    config_sha256 : str or None
        SHA-256 of the ``model.toml`` bytes.
    threshold, threshold_rule
        From the config's ``[output]`` table, if given.
    """

    threshold_origin = "model config"

    def __init__(self, runner: TorchScriptRunner | OnnxRunner, config: ModelConfig, path: Path) -> None:
        self.runner, self.config, self.path = runner, config, path
        self.kind = runner.kind
        self.sha256: str | None = file_sha256(path)
        self.config_sha256 = config.sha256
        self.threshold: float | None = config.output.threshold
        self.threshold_rule = config.output.threshold_rule or (
            f"output.threshold of model config '{config.path}'" if config.path else "output.threshold")
        self.builder = InputBuilder(config)
        runner.check_signature()

    def _scores(self, raw: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Probabilities (B,) from the model's raw output for ``rows``."""
        out = self.config.output
        name = f"output '{out.name}'" if out.name else "the output"
        if raw.ndim == 2 and raw.shape[1] == 1 and out.index in (None, 0):
            raw = raw[:, 0]
        if raw.ndim == 2:
            if out.index is None or out.index >= raw.shape[1]:
                raise ConfigError(f"{name} of {self.kind} model '{self.path}' has shape "
                                  f"{list(raw.shape)}; set output.index to the positive class's "
                                  f"column (0 to {raw.shape[1] - 1}).")
            if out.kind == "softmax":
                z = raw - raw.max(axis=1, keepdims=True)
                e = np.exp(z)
                raw = e / e.sum(axis=1, keepdims=True)
            raw = raw[:, out.index]
        if raw.ndim != 1 or raw.shape[0] != len(rows):
            raise ConfigError(f"{name} of {self.kind} model '{self.path}' has shape {list(raw.shape)} "
                              f"for a batch of {len(rows)}; expected ({len(rows)},), ({len(rows)}, 1) "
                              "or (batch, classes) with output.index.")
        if not np.isfinite(raw).all():
            i = int(rows[np.flatnonzero(~np.isfinite(raw))[0]])
            raise ModelError(f"{self.kind} model '{self.path}' gave a non-finite score for data row "
                             f"{i + 1} (missing inputs? see 'fill' in docs/adapters.md).")
        if out.kind == "logit":
            import torch

            return torch.sigmoid(torch.from_numpy(raw)).numpy()
        if raw.min() < 0.0 or raw.max() > 1.0:
            raise ConfigError(f"{name} of {self.kind} model '{self.path}' has values outside [0, 1] "
                              f"({raw.min():.4g} to {raw.max():.4g}); if it gives logits, set "
                              "output.kind = \"logit\".")
        return raw

    def _batch(self, dataset: AuditDataset, rows: np.ndarray, probe: bool) -> np.ndarray:
        arrays = self.builder.build(dataset, rows)
        fixed = self.runner.fixed_batch
        if fixed is not None and len(rows) < fixed:
            # A model exported with a fixed batch size: pad by repeating the last row.
            pad = np.full(fixed - len(rows), len(rows) - 1)
            arrays = {k: np.concatenate([v, v[pad]]) for k, v in arrays.items()}
        try:
            raw = self.runner.run(arrays)
            if fixed is not None:
                raw = raw[: len(rows)]
        except (ConfigError, ModelError):
            raise
        except Exception as exc:  # the model's runtime rejects the inputs
            if not probe:
                raise ModelError(f"{self.kind} model '{self.path}' failed on data rows {rows[0] + 1}-"
                                 f"{rows[-1] + 1} ({_last_line(exc)}).") from None
            given = ", ".join(f"{k} {list(v.shape)} {v.dtype}" for k, v in arrays.items())
            raise ConfigError(f"{self.kind} model '{self.path}' rejected the inputs built from the "
                              f"model config ({given}): {_last_line(exc)}") from None
        return self._scores(raw, rows)

    def modalities(self, dataset: AuditDataset) -> dict[str, np.ndarray] | None:
        """Which rows have each input named by a ``mask`` input (None without one)."""
        self.builder.check_columns(dataset)
        return self.builder.presence(dataset)

    def predict_proba(self, dataset: AuditDataset, *, batch_size: int | None = None,
                      progress: Progress | None = None) -> np.ndarray:
        """Probability of the positive class for every row of ``dataset``, shape (n,).

        The first row is run alone first (the probe); then every batch of ``batch_size`` rows
        (default the config's ``model.batch_size``). An ONNX model exported with a fixed batch
        size gets batches of exactly that size (the last one padded, the padding discarded).
        """
        size = int(batch_size or self.config.batch_size)
        if size < 1:
            raise ConfigError(f"batch_size must be at least 1; got {size}.")
        size = self.runner.fixed_batch or size
        self.builder.check_columns(dataset)
        n = dataset.n_rows
        out = np.empty(n, dtype=np.float64)
        if n == 0:
            return out
        self._batch(dataset, np.arange(1), probe=True)
        with track(progress, n, "inference") as bar:
            for start in range(0, n, size):
                rows = np.arange(start, min(n, start + size))
                out[rows] = self._batch(dataset, rows, probe=False)
                bar.advance(len(rows))
        return out


def load_tensor_model(path: Path, config: ModelConfig, kind: str) -> TensorModelPredictor:
    """A :class:`TensorModelPredictor` for a TorchScript (``kind="torchscript"``) or ONNX file."""
    make: Callable[[Path, ModelConfig], Any] = OnnxRunner if kind == "onnx" else TorchScriptRunner
    return TensorModelPredictor(make(path, config), config, path)
