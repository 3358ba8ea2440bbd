"""``fairaudit stress``: fairness of the built-in model under missing modalities and degraded
images, attribute leakage from its latents, and modality attribution, per group."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from fairaudit.cli._common import err, handle_errors, quiet_libraries

HELP = (
    "Stress-test the built-in multimodal model per group: observed missingness by group; each "
    "modality and pair removed (diffusion imputation and absent tokens) and a realistic "
    "missingness scenario; image corruptions at severities 1-5 (MedMNIST-C chest set); every "
    "per-group AUC/TPR/FPR change from the reference with paired patient-bootstrap intervals "
    "and the change of each fairness gap; with --probe, attribute-leakage probes on the latents; "
    "with --attribution, Shapley shares of each modality per group. Writes stress.json and "
    "stress.html to --out.\n\n"
    "Exit codes: 0 passed (or no policy), 1 a [[stress]] rule failed, 2 error, 3 inconclusive."
)
FLAGS = {"model": "--model", "data": "--data", "policy": "--policy", "out": "--out"}


def parse_severities(text: str) -> tuple[int, ...]:
    """``"1-5"``, ``"3"`` or ``"1,3,5"`` -> sorted severities (ConfigError otherwise)."""
    from fairaudit.errors import ConfigError

    out: set[int] = set()
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part:
                lo, hi = (int(x) for x in part.split("-", 1))
                out.update(range(lo, hi + 1))
            elif part:
                out.add(int(part))
    except ValueError:
        raise ConfigError(f"--severities must look like 1-5, 3 or 1,3,5; got {text!r}.") from None
    if not out or not out <= {1, 2, 3, 4, 5}:
        raise ConfigError(f"--severities must be between 1 and 5; got {text!r}.")
    return tuple(sorted(out))


def _names(text: str, allowed: tuple[str, ...], option: str) -> tuple[str, ...]:
    from fairaudit.errors import ConfigError

    value = text.strip().lower()
    if value == "all":
        return allowed
    if value == "none":
        return ()
    names = tuple(dict.fromkeys(x.strip() for x in text.split(",") if x.strip()))
    bad = [x for x in names if x not in allowed]
    if bad or not names:
        raise ConfigError(f"{option} must be 'all', 'none' or a comma-separated list of "
                          f"{', '.join(allowed)}; got {bad[0] if bad else text!r}.")
    return names


class _Bars:
    """Rich progress bars on stderr, one per stage (nothing when quiet or not a terminal)."""

    def __init__(self, quiet: bool) -> None:
        self._p: Any = None
        self._tasks: dict[str, Any] = {}
        self.enabled = not quiet and sys.stderr.isatty()

    def __enter__(self) -> _Bars:
        if self.enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            from fairaudit.cli._common import stderr_console

            self._p = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                               TimeElapsedColumn(), console=stderr_console(), transient=False)
            self._p.__enter__()
        return self

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self._p is None:
            return
        if stage not in self._tasks:
            self._tasks[stage] = self._p.add_task(stage, total=total)
        self._p.update(self._tasks[stage], completed=done, total=total)

    def __exit__(self, *exc: object) -> None:
        if self._p is not None:
            self._p.__exit__(*exc)


@handle_errors
def stress_command(
    model: Path = typer.Option(..., "--model", "-m", help="fairaudit checkpoint (the built-in multimodal model)."),
    data: Path = typer.Option(..., "--data", "-d", help="Manifest of the studies to stress (e.g. the test split)."),
    label: str = typer.Option(..., "--label", "-l", help="Binary label column (1 = disease present)."),
    sensitive: str = typer.Option(..., "--sensitive", "-a", help="Protected attribute columns, comma-separated."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (stress.json, stress.html)."),
    cluster: str | None = typer.Option(None, "--cluster", help="Patient id column: resample whole patients, split probes by patient.", show_default=False),
    corruptions: str = typer.Option("all", "--corruptions", help="Image corruptions: all, none, or a comma-separated list of gaussian_noise, shot_noise, gaussian_blur, contrast, brightness, gamma, jpeg, pixelate."),
    severities: str = typer.Option("1-5", "--severities", help="Corruption severities: a range (1-5) or a list (1,3,5)."),
    modalities: str = typer.Option("all", "--modalities", help="Modalities to remove: each listed one and each pair of them (all, none, or e.g. image,note)."),
    impute: str = typer.Option("diffusion,fallback", "--impute", help="How removed modalities are filled: diffusion, fallback (absent tokens), or both. Corruptions use the first."),
    realistic: bool = typer.Option(True, "--realistic/--no-realistic", help="Add the scenario dropping modalities at each group's observed missing rate."),
    probe: bool = typer.Option(False, "--probe", help="Attribute-leakage probes on the fused and per-modality latents."),
    attribution: bool = typer.Option(False, "--attribution", help="Exact Shapley attribution of the three modalities per group."),
    policy: Path | None = typer.Option(None, "--policy", help="Policy file whose [[stress]] tables gate the result.", show_default=False),
    bootstrap: int = typer.Option(1000, "--bootstrap", "-B", help="Paired patient-bootstrap replicates (at least 50)."),
    confidence: float = typer.Option(0.95, "--confidence", help="Confidence level of every interval."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap, noise corruptions, realistic missingness and probe folds."),
    ddim_steps: int | None = typer.Option(None, "--ddim-steps", help="DDIM steps of the imputation (default: the checkpoint's).", show_default=False),
    impute_samples: int | None = typer.Option(None, "--impute-samples", help="Imputations averaged per study (default: the checkpoint's).", show_default=False),
    threads: int = typer.Option(1, "--threads", help="CPU threads for torch and BLAS. One is fastest for this small model when other jobs share the cores (measured: docs/stress.md)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or summary on stderr."),
) -> None:
    from fairaudit.api import check_resamples, check_seed
    from fairaudit.errors import ConfigError
    from fairaudit.stress_result import STRESS_CORRUPTIONS, STRESS_MODALITIES
    from fairaudit.workflows.stress import IMPUTE_MODES, StressConfig, run_stress
    from fairaudit.workflows.threads import limited_threads

    check_seed(seed)
    check_resamples(bootstrap, "--bootstrap")
    if threads < 1:
        raise ConfigError(f"--threads must be at least 1; got {threads}.")
    removable = _names(modalities, STRESS_MODALITIES, "--modalities")
    removals: list[tuple[str, ...]] = [(m,) for m in removable]
    removals += [(a, b) for i, a in enumerate(removable) for b in removable[i + 1:]]
    config = StressConfig(
        corruptions=_names(corruptions, STRESS_CORRUPTIONS, "--corruptions"),
        severities=parse_severities(severities), removals=tuple(removals),
        imputes=_names(impute, IMPUTE_MODES, "--impute") or ("diffusion",), realistic=realistic,
        probe=probe, attribution=attribution, n_bootstrap=bootstrap, confidence_level=confidence,
        seed=seed, ddim_steps=ddim_steps, samples=impute_samples)
    with quiet_libraries(quiet), limited_threads(threads), _Bars(quiet) as bars:
        result, code = run_stress(model, data, label=label, sensitive=sensitive, out=out,
                                  cluster=cluster, config=config, policy=policy, on_progress=bars,
                                  names=FLAGS)
    if not quiet:
        _summary(result, out)
    raise typer.Exit(code)


def _summary(result: Any, out: Path) -> None:
    n = len([c for c in result.conditions if c.get("reference")])
    err(f"stressed {result.data['n_rows']} studies under {n} conditions "
        f"({', '.join(f'{k} {v:.1f} s' for k, v in result.timings.items())}).")
    for entry in result.corruptions:
        for idx in entry["index"]:
            if idx["index"] is not None:
                ci = f" [{idx['ci'][0]:.3f}, {idx['ci'][1]:.3f}]" if idx["ci"] else ""
                err(f"{entry['corruption']}: index over {idx['attribute']} {idx['index']:.3f}{ci}")
    for w in result.warnings:
        err(f"warning: {w}")
    err(f"wrote {out / 'stress.json'} and {out / 'stress.html'}")
    if result.gate.status != "not_run":
        err(f"gate: {result.gate.status}")
