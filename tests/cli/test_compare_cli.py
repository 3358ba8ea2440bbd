"""`fairaudit compare`: pairing, gating, outputs and one-line errors, on small seeded tables."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from fairaudit.cli.app import app
from fairaudit.result_paired import CompareResult
from fairaudit.schema import validate_compare

runner = CliRunner()
DO_NO_HARM = '[policy]\nname = "release"\n[[change]]\npreset = "do_no_harm"\nmargin = 0.02\n'


def _tables(tmp: Path, n: int = 1600, seed: int = 0, degrade: float = 0.0) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    df = pd.DataFrame({
        "study": [f"S{i:05d}" for i in range(n)], "patient": [f"P{i // 2:05d}" for i in range(n)],
        "sex": rng.choice(["F", "M"], n), "y": y,
        "score": np.round(np.clip(0.35 * y + 0.65 * rng.random(n), 0, 1), 6),
    })
    cand = df[["study", "score"]].copy()
    hit = (df.sex == "F") & (df.y == 1) & (df.score >= 0.5) & (rng.random(n) < degrade)
    cand.loc[hit, "score"] = 0.1
    base, cpath = tmp / "deployed.csv", tmp / "candidate.csv"
    df.to_csv(base, index=False)
    cand.sample(frac=1.0, random_state=3).to_csv(cpath, index=False)  # another row order
    return base, cpath


def _run(tmp: Path, base: Path, cand: Path, *extra: str, policy: str | None = DO_NO_HARM):
    args = ["compare", "--baseline", str(base), "--candidate", str(cand), "--id", "study",
            "--label", "y", "--sensitive", "sex", "--bootstrap", "100", "--quiet",
            "--baseline-threshold", "0.5", "--candidate-threshold", "0.5", *extra]
    if policy is not None:
        (tmp / "p.toml").write_text(policy)
        args += ["--policy", str(tmp / "p.toml")]
    return runner.invoke(app, args)


def test_identical_models_pass_with_zero_changes_and_valid_json(tmp_path):
    base, _ = _tables(tmp_path)
    res = _run(tmp_path, base, base, "--out", str(tmp_path / "out"), "--cluster", "patient",
               policy=DO_NO_HARM.replace("0.02", "0.0"))
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "compare-junit.xml", "compare.html", "compare.json", "compare.md"]
    raw = json.loads((tmp_path / "out" / "compare.json").read_text())
    validate_compare(raw)
    result = CompareResult.from_dict(raw)
    assert result.gate.status == "pass" and result.paired.unit == "patient"
    for c in result.paired.changes:
        assert c.change in (0.0, None) and c.ci in ((0.0, 0.0), None)
    assert CompareResult.from_dict(result.to_dict()) == result


def test_candidate_lowering_one_groups_sensitivity_fails_naming_that_group(tmp_path):
    base, cand = _tables(tmp_path, degrade=0.4)
    res = _run(tmp_path, base, cand, "--junit", str(tmp_path / "j.xml"),
               "--markdown", str(tmp_path / "c.md"), "--format", "json", "--output", str(tmp_path / "c.json"))
    assert res.exit_code == 1, res.output
    result = CompareResult.from_dict(json.loads((tmp_path / "c.json").read_text()))
    failed = [r.id for r in result.gate.rules if r.status == "fail"]
    assert failed == ["do_no_harm (margin 0.02): sensitivity [sex = F]"]
    cases = ET.parse(tmp_path / "j.xml").getroot().iter("testcase")
    failures = [c.get("name") for c in cases if c.find("failure") is not None]
    assert failures == failed
    md = (tmp_path / "c.md").read_text()
    assert "FAIL" in md and "sex = F" in md and "simultaneous" in md


def test_candidate_improved_for_all_passes(tmp_path):
    base, cand = _tables(tmp_path)
    df = pd.read_csv(base)
    better = df[["study"]].assign(score=np.clip(np.where(df.y == 1, df.score + 0.25, df.score - 0.25), 0, 1))
    better.to_csv(cand, index=False)
    res = _run(tmp_path, base, cand, "--format", "markdown")
    assert res.exit_code == 0, res.output
    assert "PASS" in res.stdout


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda c: c.iloc[:-5], "5 of 1600 ID(s) of baseline predictions"),
        (lambda c: pd.concat([c, c.iloc[:2]]), "2 ID(s) in 'study' occur more than once"),
        (lambda c: c.assign(study=c.study.str.replace("S0000", "X0000")), "are not in"),
        (lambda c: c.assign(score=c.score + 2.0), "candidate predictions"),
        (lambda c: c.rename(columns={"study": "sid"}), "has no ID column 'study' (--id); its columns are: sid"),
    ],
)
def test_bad_pairing_exits_2_with_counts_and_examples(tmp_path, mutate, message):
    base, cand = _tables(tmp_path, n=1600)
    mutate(pd.read_csv(cand)).to_csv(cand, index=False)
    res = _run(tmp_path, base, cand, "--out", str(tmp_path / "out"))
    assert res.exit_code == 2
    line = res.stderr.strip()
    assert line.startswith("error:") and "\n" not in line and message in line, line
    assert "e.g." in line or "score" in line or "columns are" in line
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_other_bad_inputs_are_one_line_errors(tmp_path):
    base, cand = _tables(tmp_path, n=400)
    res = runner.invoke(app, ["compare", "--baseline", str(base), "--candidate", str(cand),
                              "--label", "y", "--sensitive", "sex", "--quiet"])
    assert res.exit_code == 2 and "give --id to pair the rows" in res.stderr
    res = _run(tmp_path, base, cand, policy='[[criterion]]\nname = "equalized_odds_difference"\nmax = 0.1\n')
    assert res.exit_code == 2 and "has no [[change]] rules" in res.stderr
    res = _run(tmp_path, base, cand, "--candidate-score", "nope")
    assert res.exit_code == 2 and "'nope'" in res.stderr
    labels = pd.read_csv(cand).merge(pd.read_csv(base)[["study", "y"]], on="study")
    labels.loc[:3, "y"] = 1 - labels.loc[:3, "y"]
    labels.to_csv(cand, index=False)
    res = _run(tmp_path, base, cand)
    assert res.exit_code == 2 and "label 'y' differs" in res.stderr and "4 paired row(s)" in res.stderr


def test_one_shared_file_with_two_score_columns_pairs_by_position(tmp_path):
    base, _ = _tables(tmp_path, n=600)
    df = pd.read_csv(base)
    df["score_new"] = df.score
    df.to_csv(base, index=False)
    res = runner.invoke(app, ["compare", "--baseline", str(base), "--candidate", str(base),
                              "--baseline-score", "score", "--candidate-score", "score_new",
                              "--label", "y", "--sensitive", "sex", "--bootstrap", "0", "--quiet",
                              "--format", "json"])
    assert res.exit_code == 0, res.output
    raw = json.loads(res.stdout)
    assert raw["id_column"] is None and raw["candidate"]["score"] == "score_new"
    assert any("0.5 is used" in w for w in raw["warnings"])


def test_hostile_group_names_are_escaped(tmp_path):
    base, cand = _tables(tmp_path, n=800)
    df = pd.read_csv(base)
    df["sex"] = df.sex.map({"F": "<script>alert(1)</script>", "M": "a|b [x](javascript:y)"})
    df.to_csv(base, index=False)
    res = _run(tmp_path, base, cand, "--html", str(tmp_path / "c.html"), "--markdown", str(tmp_path / "c.md"))
    assert res.exit_code in (0, 1, 3), res.output
    html = (tmp_path / "c.html").read_text()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    md = (tmp_path / "c.md").read_text()
    assert "<script>" not in md and "a\\|b \\[x\\](javascript:y)" in md


def test_small_cell_suppression_withholds_small_groups(tmp_path):
    base, cand = _tables(tmp_path, n=800, degrade=0.4)
    res = _run(tmp_path, base, cand, "--html", str(tmp_path / "c.html"), "--format", "markdown",
               "--suppress-small-cells", "5000")
    assert res.exit_code == 1
    html = (tmp_path / "c.html").read_text()
    assert "suppressed" in html and "values withheld: small cell." in html
    assert "&lt;5000" in html and "Forest plot" not in html  # every group withheld: no plots
    assert "values withheld" in res.stdout


def test_two_score_tables_joined_to_a_shared_data_table(tmp_path):
    base, cand = _tables(tmp_path, n=600)
    df = pd.read_csv(base)
    df[["study", "patient", "sex", "y"]].to_csv(tmp_path / "labels.csv", index=False)
    df[["study", "score"]].iloc[::-1].to_csv(tmp_path / "deployed_scores.csv", index=False)
    res = runner.invoke(app, ["compare", "--baseline", str(tmp_path / "deployed_scores.csv"),
                              "--candidate", str(cand), "--data", str(tmp_path / "labels.csv"),
                              "--id", "study", "--label", "y", "--sensitive", "sex", "--cluster", "patient",
                              "--bootstrap", "100", "--quiet", "--format", "json",
                              "--baseline-threshold", "0.5", "--candidate-threshold", "0.5"])
    assert res.exit_code == 0, res.output
    raw = json.loads(res.stdout)
    assert raw["data_source"].endswith("labels.csv'") and raw["paired"]["unit"] == "patient"
    assert all(c["change"] in (0.0, None) for c in raw["paired"]["changes"])  # same scores, re-ordered
