"""Exit codes of the gate through the real CLI: 0 pass, 1 fail, 2 error, 3 inconclusive.

Policy bounds are placed relative to the audited interval (below it, above it, inside it), so
each outcome is certain whatever the exact numbers are.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from fairaudit.cli.app import app

EOD = "equalized_odds_difference"
runner = CliRunner()


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    rng = np.random.default_rng(11)
    n = 3000
    race = rng.choice(["White", "Black", "Asian"], n, p=[0.6, 0.25, 0.15])
    y = (rng.random(n) < 0.3).astype(int)
    sep = np.where(race == "Black", 1.2, 2.2)
    score = 1 / (1 + np.exp(-(rng.normal(0, 1, n) + sep * y - 1.0)))
    tmp = tmp_path_factory.mktemp("gate")
    csv = tmp / "preds.csv"
    pd.DataFrame({"y": y, "score": score, "race": race}).to_csv(csv, index=False)
    base = ["audit", "--predictions", str(csv), "--label", "y", "--score", "score", "--sensitive", "race",
            "--bootstrap", "200", "--permutations", "0", "--seed", "3", "--quiet"]
    res = runner.invoke(app, [*base, "--format", "json"])
    assert res.exit_code == 0, res.output
    crit = next(c for c in json.loads(res.stdout)["criteria"] if c["attribute"] == "race" and c["name"] == EOD)
    assert crit["ci"] is not None and crit["ci"][0] > 0
    return tmp, base, crit


def _policy(tmp, name, bound, extra=""):
    path = tmp / f"{name}.toml"
    path.write_text(f'[policy]\nname = "{name}"\n{extra}\n[[criterion]]\nname = "{EOD}"\nattributes = ["race"]\nmax = {bound!r}\n')
    return path


def _run(base, *args):
    return runner.invoke(app, [*base, "--format", "markdown", *args])


def test_exit_0_when_the_interval_is_within(audited):
    tmp, base, crit = audited
    res = _run(base, "--policy", str(_policy(tmp, "pass", crit["ci"][1] + 0.01)))
    assert res.exit_code == 0, res.output
    assert "PASS" in res.stdout


def test_exit_1_when_the_interval_is_beyond_and_0_with_no_fail(audited, tmp_path):
    tmp, base, crit = audited
    policy = _policy(tmp, "fail", crit["ci"][0] / 2)
    junit = tmp_path / "gate.xml"
    html = tmp_path / "report.html"
    res = _run(base, "--policy", str(policy), "--junit", str(junit), "--html", str(html))
    assert res.exit_code == 1, res.output
    assert "FAIL" in res.stdout
    case = ET.parse(junit).getroot().find("testsuite/testcase")
    assert case.find("failure").get("type") == "fail"
    assert f"{crit['value']:.3f}" in case.find("failure").get("message")
    assert "Verdict: FAIL" in html.read_text()
    assert _run(base, "--policy", str(policy), "--no-fail").exit_code == 0


def test_exit_3_when_the_interval_straddles_and_0_when_a_warning(audited):
    tmp, base, crit = audited
    res = _run(base, "--policy", str(_policy(tmp, "straddle", crit["value"])))
    assert res.exit_code == 3, res.output
    assert "INCONCLUSIVE" in res.stdout
    warn = _policy(tmp, "warn", crit["value"], extra='inconclusive = "warn"')
    res = _run(base, "--policy", str(warn))
    assert res.exit_code == 0, res.output
    assert "warning" in res.stdout


def test_exit_3_without_bootstrap(audited):
    tmp, base, crit = audited
    no_ci = [a if a != "200" else "0" for a in base]
    res = _run(no_ci, "--policy", str(_policy(tmp, "noci", crit["ci"][1] + 0.01)))
    assert res.exit_code == 3, res.output


def test_exit_2_for_a_malformed_policy_naming_line_and_key(audited):
    tmp, base, _ = audited
    bad = tmp / "bad.toml"
    bad.write_text('[policy]\nname = "x"\n\n[[criterion]]\nname = "equalized_odds_difference"\nmaximum = 0.1\n')
    res = _run(base, "--policy", str(bad))
    assert res.exit_code == 2
    assert "bad.toml:6" in res.stderr and "'maximum'" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert "Traceback" not in res.output


def test_exit_2_for_a_policy_naming_an_unaudited_attribute(audited):
    tmp, base, _ = audited
    path = tmp / "attr.toml"
    path.write_text('[[criterion]]\nname = "equalized_odds_difference"\nattributes = ["sex"]\nmax = 0.1\n')
    res = _run(base, "--policy", str(path))
    assert res.exit_code == 2
    assert "'sex'" in res.stderr
