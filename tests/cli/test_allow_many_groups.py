"""`fairaudit audit` refuses sensitive columns that cannot be attributes unless --allow-many-groups."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from fairaudit.cli.app import app
from fairaudit.errors import InputError

runner = CliRunner()


def _table(tmp_path: Path) -> Path:
    rng = np.random.default_rng(7)
    n = 500
    frame = pd.DataFrame({
        "y": rng.integers(0, 2, n),
        "score": rng.random(n).round(4),
        "age": rng.integers(18, 90, n),
        "insurance": rng.choice(["Private & Medicare", "Private", "Medicaid"], n),
        "sex": rng.choice(["F", "M"], n),
    })
    path = tmp_path / "p.csv"
    frame.to_csv(path, index=False)
    return path


def _audit(path: Path, sensitive: str, *extra: str, out: Path | None = None):
    args = ["audit", "--predictions", str(path), "--label", "y", "--sensitive", sensitive,
            "--bootstrap", "0", "--permutations", "0", "--threshold", "0.5", "-q", *extra]
    if out is not None:
        args += ["--format", "json", "--output", str(out)]
    return runner.invoke(app, args, catch_exceptions=False)


def test_raw_age_is_refused_with_one_line_and_nothing_written(tmp_path):
    path = _table(tmp_path)
    out = tmp_path / "result.json"
    res = _audit(path, "sex,age", out=out)
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    n_age = pd.read_csv(path)["age"].nunique()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert "'age'" in lines[0] and f"{n_age} distinct values" in lines[0]
    assert "bin it first: --bins age=q4 or --bins age=" in lines[0] and "--allow-many-groups" in lines[0]
    assert "Traceback" not in res.output and not out.exists()


def test_flag_lifts_the_refusal_and_json_keeps_group_values(tmp_path):
    path = _table(tmp_path)
    out = tmp_path / "result.json"
    res = _audit(path, "insurance,sex,age", "--allow-many-groups", "--no-intersections", out=out)
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    ages = [g for g in data["groups"] if g["attribute"] == "age"]
    assert len(ages) == pd.read_csv(path)["age"].nunique()
    assert all(g["values"] == [g["group"]] for g in data["groups"])


def test_json_intersection_names_are_unambiguous(tmp_path):
    path = _table(tmp_path)
    out = tmp_path / "result.json"
    res = _audit(path, "insurance,sex", out=out)
    assert res.exit_code == 0, res.output
    inter = [g for g in json.loads(out.read_text())["groups"] if g["attribute"] == "insurance & sex"]
    assert len({g["group"] for g in inter}) == len(inter) == 6
    by_values = {tuple(g["values"]): g["group"] for g in inter}
    assert by_values[("Private & Medicare", "F")] == '"Private & Medicare" & F'
    assert by_values[("Private", "F")] == "Private & F"


def test_python_api_refuses_and_accepts(tmp_path):
    from fairaudit.api import audit

    path = _table(tmp_path)
    with pytest.raises(InputError, match="'age'.*bin it first"):
        audit(path, label="y", sensitive="age", n_bootstrap=0, n_permutations=0)
    res = audit(pd.read_csv(path), label="y", sensitive="age", n_bootstrap=0, n_permutations=0,
                allow_many_groups=True)
    assert len(res.groups_of("age")) == pd.read_csv(path)["age"].nunique()
