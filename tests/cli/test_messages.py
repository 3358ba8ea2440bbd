"""Help and messages: full option names at 80 columns, input errors instead of internal ones,
one rule for resampling counts, warnings that -q silences, Ctrl-C without a traceback."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fairaudit.cli.app import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


def audit(predictions: Path, *extra: str):
    args = ["audit", "-p", str(predictions), "-l", "y", "-a", "sex,race", *extra]
    return runner.invoke(app, args, catch_exceptions=False)


@pytest.mark.parametrize("command", ["audit", "mitigate", "report", "train", "sample-data"])
def test_help_at_80_columns_shows_every_option_name_in_full(command: str) -> None:
    res = runner.invoke(app, [command, "--help"], env={"COLUMNS": "80", "TERM": "dumb"})
    assert res.exit_code == 0
    assert "…" not in res.output
    assert max(len(line) for line in res.output.splitlines()) <= 80
    from typer.main import get_command

    names = [o for p in get_command(app).commands[command].params for o in p.opts + p.secondary_opts]
    for name in names:
        if name.startswith("--"):
            assert re.search(rf"{re.escape(name)}\b", res.output), name


def test_negative_seed_is_an_input_error(predictions_csv: Path, tmp_path: Path) -> None:
    res = audit(predictions_csv, "--seed", "-1", "-B", "0", "--permutations", "0")
    assert res.exit_code == 2
    assert res.stderr.strip() == "error: --seed must be a whole number, 0 or more; got -1."
    for args in (["mitigate", "-p", str(predictions_csv), "-l", "y", "-a", "race", "--out", str(tmp_path / "o")],
                 ["sample-data", "--out", str(tmp_path / "c"), "--patients", "50"]):
        res = runner.invoke(app, [*args, "--seed", "-1"])
        assert res.exit_code == 2 and "--seed must be a whole number, 0 or more" in res.stderr, res.output
    assert [p.name for p in tmp_path.iterdir()] == ["predictions.csv"]  # no folder made


@pytest.mark.parametrize("option", ["--bootstrap", "--permutations"])
@pytest.mark.parametrize("value", ["1", "5", "99", "-3"])
def test_bootstrap_and_permutations_follow_one_rule(predictions_csv: Path, option: str, value: str) -> None:
    other = "--permutations" if option == "--bootstrap" else "--bootstrap"
    res = audit(predictions_csv, option, value, other, "0")
    assert res.exit_code == 2
    assert res.stderr.strip() == f"error: {option} must be 0 (off) or at least 100; got {value}."


def test_few_clusters_warn_in_the_result_and_on_stderr(predictions_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    res = audit(predictions_csv, "--cluster", "site", "-B", "100", "--permutations", "0",
                "-f", "json", "-o", str(out))
    assert res.exit_code == 0, res.output
    text = "--cluster 'site' has fewer than 20 patients (clusters); with so few"
    assert text in res.stderr
    assert any(text in w for w in __import__("json").loads(out.read_text())["warnings"])


def test_many_clusters_do_not_warn(predictions_csv: Path, tmp_path: Path) -> None:
    import pandas as pd

    frame = pd.read_csv(predictions_csv)
    frame["patient"] = frame.index // 2
    path = tmp_path / "p.csv"
    frame.to_csv(path, index=False)
    res = audit(path, "--cluster", "patient", "-B", "100", "--permutations", "0", "-f", "json")
    assert res.exit_code == 0 and "clusters" not in res.stderr


def _run_script(script: str, *, timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script)], env=env, timeout=timeout,
                          capture_output=True, text=True)


def _glyph_table(tmp_path: Path) -> Path:
    """Group names that DejaVu Sans cannot draw: matplotlib warns about missing glyphs."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 600
    frame = pd.DataFrame({"y": rng.integers(0, 2, n), "score": rng.random(n),
                          "sex": rng.choice(["女性", "男性"], n), "race": rng.choice(["A", "B"], n)})
    path = tmp_path / "glyphs.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("quiet", [False, True])
def test_quiet_silences_matplotlib(tmp_path: Path, quiet: bool) -> None:
    path = _glyph_table(tmp_path)
    args = ["audit", "-p", str(path), "-l", "y", "-a", "sex,race", "-B", "0", "--permutations", "0",
            "--threshold", "0.5", "--html", str(tmp_path / "r.html"), "-f", "json", "-o", str(tmp_path / "r.json")]
    args += ["-q"] if quiet else []
    proc = _run_script(f"""
        import sys
        from fairaudit.cli.app import app
        sys.argv = ["fairaudit"] + {args!r}
        app()
    """)
    assert proc.returncode == 0, proc.stderr
    if quiet:
        assert proc.stderr == ""
    else:  # the case that -q must silence really warns
        assert "Glyph" in proc.stderr


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_while_rendering_exits_130_without_traceback(
        predictions_csv: Path, tmp_path: Path, presses: int) -> None:
    args = ["audit", "-p", str(predictions_csv), "-l", "y", "-a", "sex,race", "-B", "0",
            "--permutations", "0", "--html", str(tmp_path / "r.html"), "-q"]
    proc = _run_script(f"""
        import os, signal, sys, time
        # A shell starts background jobs with SIGINT ignored; a user's terminal does not.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        import fairaudit.cli._common as common
        import fairaudit.report.figures as figures
        from fairaudit.cli.app import app

        def interrupted(*args, **kwargs):  # the user presses Ctrl-C while a figure is drawn
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)

        say = common.err

        def impatient(message):  # ... and again while fairaudit is stopping
            if {presses} == 2:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.2)
            say(message)

        figures.roc_figure = interrupted
        common.err = impatient
        sys.argv = ["fairaudit"] + {args!r}
        app()
    """)
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr.strip() == "error: interrupted."
    assert not (tmp_path / "r.html").exists()
