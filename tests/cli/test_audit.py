"""`fairaudit audit` through Typer's CliRunner: formats, outputs, bad input and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pandas as pd
import pytest
from typer.testing import CliRunner

from fairaudit.cli.app import app
from fairaudit.schema import load_schema

SCHEMA = load_schema()  # the schema shipped in the package (fairaudit/schema/)
runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def base_args(path: Path) -> list[str]:
    return ["audit", "--predictions", str(path), "--label", "y", "--sensitive", "sex,race",
            "--bootstrap", "100", "--permutations", "100"]


def test_json_output_conforms_to_the_contract(predictions_csv, tmp_path):
    out = tmp_path / "result.json"
    res = run(*base_args(predictions_csv), "--format", "json", "--output", str(out))
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    jsonschema.validate(data, SCHEMA)
    assert data["dataset"]["attributes"] == ["sex", "race"]
    assert {c["attribute"] for c in data["criteria"]} == {"sex", "race", "sex & race"}
    assert "threshold is the default 0.5" in res.stderr


def test_json_to_stdout_is_only_the_payload(predictions_csv):
    res = run(*base_args(predictions_csv), "--format", "json", "--threshold", "0.4")
    assert res.exit_code == 0
    data = json.loads(res.stdout)
    assert data["threshold"] == {"value": 0.4, "source": "given (--threshold)",
                                 "group_thresholds": None, "group_attribute": None}
    assert "warning:" not in res.stdout and res.stdout.lstrip().startswith("{")


def test_same_seed_same_numbers(predictions_csv):
    a = json.loads(run(*base_args(predictions_csv), "-f", "json", "--seed", "3").stdout)
    b = json.loads(run(*base_args(predictions_csv), "-f", "json", "--seed", "3").stdout)
    c = json.loads(run(*base_args(predictions_csv), "-f", "json", "--seed", "4").stdout)
    for d in (a, b, c):
        d["run"].pop("created")
    assert json.dumps(a) == json.dumps(b)
    assert json.dumps(a["criteria"]) != json.dumps(c["criteria"])


def test_jobs_change_no_number(predictions_csv):
    """--jobs sets the bootstrap's threads; each replicate has its own stream, so the JSON is
    the same for 1 and 3 threads (the run record's command line aside)."""
    one = json.loads(run(*base_args(predictions_csv), "-f", "json", "--jobs", "1").stdout)
    three = json.loads(run(*base_args(predictions_csv), "-f", "json", "-j", "3").stdout)
    for d in (one, three):
        d["run"].pop("created")
        d["run"].pop("command")
    assert json.dumps(one) == json.dumps(three)


def test_table_format_names_groups_and_criteria(predictions_csv):
    res = run(*base_args(predictions_csv))
    assert res.exit_code == 0
    assert "By sex & race" in res.stdout and "equalized_odds_difference" in res.stdout


def test_parquet_input(tmp_path, predictions):
    path = tmp_path / "p.parquet"
    predictions.to_parquet(path)
    res = run(*base_args(path), "-f", "json")
    assert res.exit_code == 0
    assert json.loads(res.stdout)["dataset"]["n_rows"] == len(predictions)


def _bad(res, *needles: str) -> None:
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in res.output
    for needle in needles:
        assert needle in lines[0], lines[0]


def _write(tmp_path: Path, frame: pd.DataFrame, name: str = "p.csv") -> Path:
    p = tmp_path / name
    frame.to_csv(p, index=False)
    return p


def test_missing_file(tmp_path):
    _bad(run(*base_args(tmp_path / "nope.csv")), "nope.csv", "does not exist")


def test_unknown_column_lists_existing_columns(predictions_csv, tmp_path):
    out = tmp_path / "out.json"
    res = run("audit", "-p", str(predictions_csv), "-l", "y", "-a", "sex,ethnicity", "-o", str(out))
    _bad(res, "'ethnicity'", "the columns are: y, score, sex, race, site, age")
    assert not out.exists()


def test_non_binary_labels(tmp_path, predictions):
    p = _write(tmp_path, predictions.assign(y=predictions.y * 2))
    _bad(run(*base_args(p)), "label column 'y'", "binary", "2")


@pytest.mark.parametrize(("value", "needle"), [(float("nan"), "NaN"), (1.5, "[0, 1]"), (-0.1, "[0, 1]")])
def test_bad_scores(tmp_path, predictions, value, needle):
    df = predictions.copy()
    df.loc[5, "score"] = value
    _bad(run(*base_args(_write(tmp_path, df))), "score column 'score'", needle, "data row 6")


def test_empty_table(tmp_path):
    p = tmp_path / "empty.csv"
    p.write_text("y,score,sex,race\n")
    _bad(run(*base_args(p)), "no data rows")
    p.write_text("")
    _bad(run(*base_args(p)), "is empty")


def test_non_utf8_csv(tmp_path):
    p = tmp_path / "latin1.csv"
    p.write_bytes("y,score,sex,race\n1,0.9,F,Métis\n".encode("latin-1"))
    _bad(run(*base_args(p)), "not valid UTF-8")


def test_unreadable_parquet(tmp_path):
    p = tmp_path / "broken.parquet"
    p.write_bytes(b"PAR1 this is not parquet")
    _bad(run(*base_args(p)), "broken.parquet", "could not be read")


def test_unsupported_suffix(tmp_path):
    p = tmp_path / "p.xlsx"
    p.write_bytes(b"x")
    _bad(run(*base_args(p)), "expected one of")


def test_bad_options(predictions_csv):
    _bad(run(*base_args(predictions_csv), "--threshold", "1.5"), "--threshold")
    _bad(run(*base_args(predictions_csv), "--confidence", "95"), "--confidence")
    _bad(run("audit", "-l", "y", "-a", "sex"), "--predictions")
    _bad(run(*base_args(predictions_csv), "--jobs", "-1"), "--jobs")


def test_missing_sensitive_values_become_unknown_group(tmp_path, predictions):
    df = predictions.copy()
    df.loc[:49, "race"] = None
    res = run(*base_args(_write(tmp_path, df)), "-f", "json")
    assert res.exit_code == 0
    data = json.loads(res.stdout)
    unknown = [g for g in data["groups"] if g["attribute"] == "race" and g["group"] == "unknown"]
    assert unknown and unknown[0]["n"] == 50
    assert "50 rows have no value for 'race'" in res.stderr


def test_help_imports_no_heavy_library():
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from fairaudit.cli.app import app\n"
        "r = CliRunner().invoke(app, ['--help']); assert r.exit_code == 0, r.output\n"
        "r = CliRunner().invoke(app, ['audit', '--help']); assert r.exit_code == 0, r.output\n"
        "heavy = [m for m in ('torch', 'fairlearn', 'aif360', 'matplotlib', 'sklearn', 'pandas') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"heavy modules imported by --help: {out.stdout}"
