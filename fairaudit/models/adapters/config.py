"""``model.toml``: how manifest columns become the input tensors of a TorchScript or ONNX model.

The file is read with :mod:`tomllib` and validated strictly: an unknown key, a value of the wrong
type or out of range, or a missing required key is a :class:`~fairaudit.errors.ConfigError` that
names the key (``inputs[2].columns``) and what was expected. The schema is documented in
``docs/adapters.md``.
"""

from __future__ import annotations

import hashlib
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fairaudit.errors import ConfigError

INPUT_KINDS = ("image", "tabular", "categorical", "text", "mask")
OUTPUT_KINDS = ("probability", "logit", "softmax")
DTYPES = ("float32", "float64", "int64", "int32", "bool")
DEFAULT_DTYPES = {"image": "float32", "tabular": "float32", "categorical": "float32",
                  "text": "int64", "mask": "bool"}
DEFAULT_BATCH_SIZE = 64
MODEL_FORMATS = ("torchscript", "onnx")

_COMMON = {"name": str, "kind": str, "dtype": str}
_KEYS: dict[str, dict[str, Any]] = {
    "image": {**_COMMON, "column": str, "size": list, "channels": int, "mean": list, "std": list,
              "fill": float, "window": list, "resize": bool},
    "tabular": {**_COMMON, "columns": list, "fill": float},
    "categorical": {**_COMMON, "column": str, "categories": list},
    "text": {**_COMMON, "column": str, "vocabulary": str, "max_length": int},
    "mask": {**_COMMON, "of": list},
}
_REQUIRED = {"image": ("column", "size"), "tabular": ("columns",),
             "categorical": ("column", "categories"), "text": ("column", "vocabulary", "max_length"),
             "mask": ("of",)}
_MODEL_KEYS = {"format": str, "batch_size": int}
_OUTPUT_KEYS = {"name": str, "kind": str, "index": int, "threshold": float, "threshold_rule": str}


@dataclass(frozen=True)
class InputSpec:
    """One model input and the manifest columns it is built from.

    Attributes
    ----------
    name : str
        The input's name (ONNX input name; TorchScript inputs are passed by position, in the
        order of the ``[[inputs]]`` tables).
    kind : {"image", "tabular", "categorical", "text", "mask"}
    dtype : str
        Element type of the tensor handed to the model.
    columns : tuple of str
        Manifest columns read (one for image, categorical and text inputs).
    options : dict
        The kind's other settings (``size``, ``mean``, ``categories``, ``of``...), validated.
    """

    name: str
    kind: str
    dtype: str
    columns: tuple[str, ...]
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OutputSpec:
    """How the model's output becomes a probability of the positive class."""

    name: str | None = None
    kind: str = "probability"
    index: int | None = None
    threshold: float | None = None
    threshold_rule: str | None = None


@dataclass(frozen=True)
class ModelConfig:
    """A validated ``model.toml`` (see the module docstring)."""

    inputs: tuple[InputSpec, ...]
    output: OutputSpec
    batch_size: int = DEFAULT_BATCH_SIZE
    format: str | None = None
    path: Path | None = None
    sha256: str | None = None

    @property
    def columns(self) -> list[str]:
        """Every manifest column the inputs read, in first-use order."""
        out: list[str] = []
        for spec in self.inputs:
            out += [c for c in spec.columns if c not in out]
        return out

    def input(self, name: str) -> InputSpec:
        return next(s for s in self.inputs if s.name == name)


def _where(path: Path | None) -> str:
    return f"model config '{path}'" if path is not None else "model config"


def _type_name(tp: Any) -> str:
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false",
            list: "an array"}[tp]


def _check_keys(table: Mapping[str, Any], known: Mapping[str, Any], prefix: str, where: str) -> None:
    """Unknown keys and values of the wrong type are errors naming the key."""
    for key, value in table.items():
        full = f"{prefix}{key}"
        if key not in known:
            raise ConfigError(f"{where}: unknown key '{full}'; known keys here: "
                              f"{', '.join(sorted(known))}.")
        tp = known[key]
        ok = isinstance(value, tp) and not (tp is int and isinstance(value, bool))
        if tp is float:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok:
            raise ConfigError(f"{where}: '{full}' must be {_type_name(tp)}; got {value!r}.")


def _numbers(value: list, key: str, where: str, *, length: int | None = None,
             positive: bool = False, integer: bool = False) -> tuple:
    kind = int if integer else (int, float)
    if not value or not all(isinstance(v, kind) and not isinstance(v, bool) for v in value):
        raise ConfigError(f"{where}: '{key}' must be a non-empty array of "
                          f"{'integers' if integer else 'numbers'}; got {value!r}.")
    if length is not None and len(value) != length:
        raise ConfigError(f"{where}: '{key}' must have {length} values; got {len(value)}.")
    if positive and not all(v > 0 for v in value):
        raise ConfigError(f"{where}: every value of '{key}' must be greater than 0; got {value!r}.")
    if not all(math.isfinite(v) for v in value):
        raise ConfigError(f"{where}: '{key}' must hold finite numbers; got {value!r}.")
    return tuple(int(v) if integer else float(v) for v in value)


def _strings(value: list, key: str, where: str) -> tuple[str, ...]:
    if not value or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}: '{key}' must be a non-empty array of strings; got {value!r}.")
    if len(set(value)) != len(value):
        dup = next(v for v in value if value.count(v) > 1)
        raise ConfigError(f"{where}: '{key}' names '{dup}' twice.")
    return tuple(value)


def _image_options(t: Mapping[str, Any], p: str, where: str) -> dict[str, Any]:
    channels = t.get("channels", 1)
    if channels not in (1, 3):
        raise ConfigError(f"{where}: '{p}channels' must be 1 or 3 (grayscale is repeated); got {channels}.")
    mean = _numbers(t.get("mean", [0.0]), f"{p}mean", where)
    std = _numbers(t.get("std", [1.0]), f"{p}std", where, positive=True)
    for key, values in (("mean", mean), ("std", std)):
        if len(values) not in (1, channels):
            raise ConfigError(f"{where}: '{p}{key}' must have 1 or {channels} values (one per "
                              f"channel); got {len(values)}.")
    window = None
    if "window" in t:
        window = _numbers(t["window"], f"{p}window", where, length=2)
        if window[1] <= 0:
            raise ConfigError(f"{where}: '{p}window' is [centre, width] with width > 0; got {t['window']!r}.")
    return {"size": _numbers(t["size"], f"{p}size", where, length=2, positive=True, integer=True),
            "channels": channels, "mean": mean, "std": std, "fill": float(t.get("fill", 0.0)),
            "window": window, "resize": bool(t.get("resize", False))}


def _text_options(t: Mapping[str, Any], p: str, where: str, base: Path | None) -> dict[str, Any]:
    if t["max_length"] < 1:
        raise ConfigError(f"{where}: '{p}max_length' must be at least 1; got {t['max_length']}.")
    vocab = Path(t["vocabulary"])
    if not vocab.is_absolute() and base is not None:
        vocab = base / vocab
    try:
        words = vocab.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: '{p}vocabulary' file '{vocab}' cannot be read "
                          f"({type(exc).__name__}); it lists one word per line.") from None
    if words[:2] != ["<pad>", "<unk>"] or len(set(words)) != len(words):
        raise ConfigError(f"{where}: '{p}vocabulary' file '{vocab}' must start with the lines "
                          "'<pad>' and '<unk>' (ids 0 and 1) and list each word once.")
    return {"vocabulary": tuple(words), "max_length": int(t["max_length"])}


def _input(t: Any, i: int, where: str, base: Path | None) -> InputSpec:
    p = f"inputs[{i}]."
    if not isinstance(t, dict):
        raise ConfigError(f"{where}: 'inputs[{i}]' must be a table ([[inputs]]).")
    kind = t.get("kind")
    if kind not in INPUT_KINDS:
        raise ConfigError(f"{where}: '{p}kind' must be one of {', '.join(INPUT_KINDS)}; got {kind!r}.")
    _check_keys(t, _KEYS[kind], p, where)
    for key in ("name", *_REQUIRED[kind]):
        if key not in t:
            raise ConfigError(f"{where}: '{p}{key}' is required for a {kind} input.")
    dtype = t.get("dtype", DEFAULT_DTYPES[kind])
    if dtype not in DTYPES:
        raise ConfigError(f"{where}: '{p}dtype' must be one of {', '.join(DTYPES)}; got {dtype!r}.")
    options: dict[str, Any] = {}
    if kind == "image":
        options = _image_options(t, p, where)
    elif kind == "tabular":
        options = {"fill": float(t.get("fill", math.nan))}
    elif kind == "categorical":
        options = {"categories": _strings(t["categories"], f"{p}categories", where)}
    elif kind == "text":
        options = _text_options(t, p, where, base)
    else:
        options = {"of": _strings(t["of"], f"{p}of", where)}
    columns = _strings(t["columns"], f"{p}columns", where) if kind == "tabular" else (
        () if kind == "mask" else (t["column"],))
    return InputSpec(name=t["name"], kind=kind, dtype=dtype, columns=columns, options=options)


def _output(t: Any, where: str) -> OutputSpec:
    if not isinstance(t, dict):
        raise ConfigError(f"{where}: 'output' must be a table ([output]).")
    _check_keys(t, _OUTPUT_KEYS, "output.", where)
    kind = t.get("kind", "probability")
    if kind not in OUTPUT_KINDS:
        raise ConfigError(f"{where}: 'output.kind' must be one of {', '.join(OUTPUT_KINDS)}; got {kind!r}.")
    index = t.get("index")
    if index is not None and index < 0:
        raise ConfigError(f"{where}: 'output.index' must be 0 or more; got {index}.")
    if kind == "softmax" and index is None:
        raise ConfigError(f"{where}: 'output.kind' softmax needs 'output.index' (the positive class).")
    thr = t.get("threshold")
    if thr is not None and not 0.0 <= thr <= 1.0:
        raise ConfigError(f"{where}: 'output.threshold' must be in [0, 1]; got {thr}.")
    return OutputSpec(name=t.get("name"), kind=kind, index=index,
                      threshold=None if thr is None else float(thr),
                      threshold_rule=t.get("threshold_rule"))


def parse_model_config(data: Mapping[str, Any], *, path: Path | None = None,
                       sha256: str | None = None) -> ModelConfig:
    """Validate a parsed ``model.toml`` (see :func:`load_model_config`)."""
    where = _where(path)
    _check_keys(data, {"model": dict, "inputs": list, "output": dict}, "", where)
    model = data.get("model", {})
    _check_keys(model, _MODEL_KEYS, "model.", where)
    fmt = model.get("format")
    if fmt is not None and fmt not in MODEL_FORMATS:
        raise ConfigError(f"{where}: 'model.format' must be one of {', '.join(MODEL_FORMATS)}; got {fmt!r}.")
    batch = model.get("batch_size", DEFAULT_BATCH_SIZE)
    if batch < 1:
        raise ConfigError(f"{where}: 'model.batch_size' must be at least 1; got {batch}.")
    raw = data.get("inputs")
    if not raw:
        raise ConfigError(f"{where}: no [[inputs]] tables; every model input needs one.")
    base = path.parent if path is not None else None
    inputs = tuple(_input(t, i, where, base) for i, t in enumerate(raw))
    names = [s.name for s in inputs]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ConfigError(f"{where}: 'inputs[{i}].name' repeats the input name '{name}'.")
    for i, spec in enumerate(inputs):
        for other in spec.options.get("of", ()):
            if other not in names or inputs[names.index(other)].kind == "mask":
                raise ConfigError(f"{where}: 'inputs[{i}].of' names '{other}', which is not an "
                                  f"image, tabular, categorical or text input ({', '.join(names)}).")
    return ModelConfig(inputs=inputs, output=_output(data.get("output", {}), where),
                       batch_size=int(batch), format=fmt, path=path, sha256=sha256)


def load_model_config(path: str | Path) -> ModelConfig:
    """Read and validate ``model.toml``.

    Raises
    ------
    ConfigError
        The file is missing, is not TOML, or breaks the schema (the message names the key).
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"model config '{p}' cannot be read ({exc.strerror or type(exc).__name__}).") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"model config '{p}' is not valid TOML ({exc}).") from None
    return parse_model_config(data, path=p, sha256=hashlib.sha256(raw).hexdigest())


def dump_model_config(config: Mapping[str, Any]) -> str:
    """TOML text of a config dictionary shaped like ``model.toml`` (for the exporter)."""
    lines: list[str] = []

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float):
            return "nan" if math.isnan(v) else repr(v)
        if isinstance(v, int):
            return str(v)
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, Sequence):
            return "[" + ", ".join(value(x) for x in v) + "]"
        raise TypeError(type(v).__name__)

    def table(header: str, t: Mapping[str, Any]) -> None:
        lines.append(header)
        lines.extend(f"{k} = {value(v)}" for k, v in t.items())
        lines.append("")

    if "model" in config:
        table("[model]", config["model"])
    for t in config.get("inputs", ()):
        table("[[inputs]]", t)
    if "output" in config:
        table("[output]", config["output"])
    return "\n".join(lines)
