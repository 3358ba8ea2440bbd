"""``fairaudit export``: the built-in model's classifier path as TorchScript or ONNX."""

from __future__ import annotations

import enum
from pathlib import Path

import typer

from fairaudit.cli._common import err, handle_errors

HELP = (
    "Export a fairaudit checkpoint's classifier path (absent modalities through the learned "
    "absent tokens, as with `audit --impute fallback`; no diffusion imputation) to TorchScript "
    "or ONNX, with the model.toml that feeds it from a manifest (and the tokenizer vocabulary "
    "beside it). Then: fairaudit audit --model FILE --model-config FILE.toml --data MANIFEST ...\n\n"
    "Exit codes: 0 written, 2 error (nothing written)."
)


class ExportFormat(enum.StrEnum):
    torchscript = "torchscript"
    onnx = "onnx"


@handle_errors
def export_command(
    model: Path = typer.Option(..., "--model", "-m", help="The fairaudit checkpoint folder to export."),
    fmt: ExportFormat = typer.Option(..., "--format", "-f", help="torchscript (torch.jit) or onnx (needs the onnx extra)."),
    out: Path = typer.Option(..., "--out", "-o", help="The model file to write (e.g. model.pt or model.onnx)."),
    config_out: Path | None = typer.Option(None, "--config-out", help="Where to write model.toml (default: --out with the suffix .toml); the vocabulary goes beside it as NAME.vocab.txt.", show_default=False),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No summary on stderr."),
) -> None:
    from fairaudit._io import check_outputs
    from fairaudit.models.export import export_model

    cfg = config_out if config_out is not None else out.with_suffix(".toml")
    check_outputs([("--out", out), ("--config-out", cfg),
                   ("vocabulary", cfg.with_name(cfg.stem + ".vocab.txt"))], [("--model", model)])
    done = export_model(model, fmt=fmt.value, out=out, config_out=config_out)
    if not quiet:
        err(f"wrote {done.format} model: {done.model}")
        err(f"wrote model config: {done.config} (vocabulary: {done.vocabulary})")
        err(f"audit it with: fairaudit audit --model {done.model} --model-config {done.config} "
            "--data MANIFEST --label LABEL --sensitive COLS")
