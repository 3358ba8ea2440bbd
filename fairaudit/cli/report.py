"""``fairaudit report``: re-render a saved JSON result as HTML, Markdown, JUnit or a table."""

from __future__ import annotations

from pathlib import Path

import typer

from fairaudit.cli._common import err, handle_errors

HELP = (
    "Render a saved result (`fairaudit audit --format json --output RESULT.json`) again: the "
    "self-contained HTML report (default), Markdown, JUnit XML, the terminal table, or "
    "'modelcard': the quantitative analysis of a model card as a CycloneDX ML-BOM (JSON), with "
    "--checklist PATH for a Markdown checklist of the TRIPOD+AI and STARD subgroup-reporting items "
    "it answers. Without --out the HTML goes next to the input (RESULT.html), the other formats "
    "to stdout. The input "
    "is validated against the shipped schema (`fairaudit schema`) first.\n\n"
    "Exit codes: 0 written, 2 error (unreadable, not a fairaudit result, or a value the schema "
    "forbids)."
)

FORMATS = ("html", "markdown", "junit", "table", "modelcard")


@handle_errors
def report_command(
    result_json: Path = typer.Argument(..., metavar="RESULT.json", help="A saved `fairaudit audit --format json` result."),
    out: Path | None = typer.Option(None, "--out", help="Where to write it (default: html next to RESULT.json as RESULT.html; other formats to stdout).", show_default=False),
    fmt: str = typer.Option("html", "--format", "-f", help="html, markdown, junit, table or modelcard."),
    checklist: Path | None = typer.Option(None, "--checklist", help="With --format modelcard: also write the TRIPOD+AI / STARD subgroup-reporting checklist (Markdown) here.", show_default=False),
    model_name: str | None = typer.Option(None, "--model-name", help="With --format modelcard: the model's name in the BOM (default: from its SHA-256).", show_default=False),
    suppress_small_cells: int = typer.Option(
        0, "--suppress-small-cells", metavar="K",
        help="Show counts from 1 to K-1 as <K and withhold groups with fewer than K rows (privacy).",
    ),
    no_fail: bool = typer.Option(False, "--no-fail", help="The audit ran with --no-fail: show exit code 0, as it exited."),
) -> None:
    from fairaudit.cli._common import emit
    from fairaudit.errors import ConfigError

    if fmt not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}; got {fmt!r}.")
    if suppress_small_cells < 0:
        raise ConfigError(f"--suppress-small-cells must be 0 or more, got {suppress_small_cells}.")
    if (checklist is not None or model_name is not None) and fmt != "modelcard":
        raise ConfigError("--checklist and --model-name go with --format modelcard.")
    if out is None and fmt == "html":
        out = result_json.with_suffix(".html")
        if out == result_json:
            raise ConfigError(f"{result_json} ends in .html; give the HTML report's path with --out.")
    if out is not None and out.is_dir():
        raise ConfigError(f"--out '{out}' is a directory; give a file path such as {out / ('report.' + fmt)}.")
    inputs = [("RESULT.json", result_json)]
    from fairaudit._io import check_outputs

    check_outputs([("--out", out), ("--checklist", checklist)], inputs)
    result = _load_result(result_json)
    files = []
    if fmt == "modelcard":
        from fairaudit.report.modelcard import render_checklist, render_modelcard

        if suppress_small_cells:
            raise ConfigError("--format modelcard carries every group's values; it has no small-cell "
                              "suppression (drop --suppress-small-cells, or share the HTML report instead).")
        payload = render_modelcard(result, model_name=model_name)
        if checklist is not None:
            files.append(("--checklist", checklist, render_checklist(result)))
    else:
        payload = _render(result, fmt, {"suppress_small_cells": suppress_small_cells, "no_fail": no_fail})
    emit(payload, out, files, inputs=inputs)
    if out is not None:
        err(f"wrote {fmt} report to {out}")
    if checklist is not None:
        err(f"wrote checklist to {checklist}")


def _render(result, fmt: str, options: dict) -> str:
    if fmt == "html":
        from fairaudit.report.html import render_html

        return render_html(result, **options)
    if fmt == "junit":
        from fairaudit.report.junit import render_junit

        return render_junit(result, **options)
    from fairaudit.report import render

    return render(result, fmt, **options)


_REQUIRED = ("schema_version", "run", "dataset", "threshold", "overall", "groups", "criteria", "summaries", "gate")


def _load_result(path: Path):
    """Read a saved result, validating at the boundary; every problem is one InputError line."""
    import functools
    import json

    from fairaudit.errors import InputError
    from fairaudit.result import AuditResult
    from fairaudit.schema import validate_result

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"result file {path} does not exist.") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a directory; give a saved result JSON file.") from None
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text; expected a fairaudit result JSON.") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}.") from None
    try:
        data = json.loads(text, parse_constant=functools.partial(_refuse_constant, path))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.") from None
    hint = "save one with `fairaudit audit ... --format json --output RESULT.json`"
    if not isinstance(data, dict):
        raise InputError(f"{path} is not a fairaudit audit result (a JSON object is expected); {hint}.")
    tool = data.get("tool")
    missing = [k for k in _REQUIRED if k not in data]
    if not isinstance(tool, dict) or tool.get("name") != "fairaudit" or missing:
        detail = f"missing keys: {', '.join(missing)}" if missing else "tool.name is not 'fairaudit'"
        raise InputError(f"{path} is not a fairaudit audit result ({detail}); {hint}.")
    version = str(data.get("schema_version"))
    if not version.startswith("1."):
        raise InputError(f"{path} has schema_version {version!r}; this fairaudit reads 1.x results.")
    validate_result(data, source=str(path))
    try:
        return AuditResult.from_dict(data)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        text = " ".join(str(exc).split())[:200]
        raise InputError(f"{path} is a malformed fairaudit result ({type(exc).__name__}: {text}).") from None


def _refuse_constant(path: Path, name: str) -> None:
    """``json.loads`` hook: NaN and Infinity are not JSON (fairaudit writes null instead)."""
    from fairaudit.errors import InputError

    raise InputError(f"{path} contains {name}, which is not valid JSON; fairaudit writes null for an undefined value.")
