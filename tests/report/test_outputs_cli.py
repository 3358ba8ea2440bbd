"""Every output of one `fairaudit audit` run: small counts stay hidden, and the exit code each
report prints is the process's own (``--no-fail`` included)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from fairaudit.cli.app import app

K = 20
POLICY = """
[policy]
name = "small cells"
[groups]
min_size = 25
allow_insufficient = false
[[criterion]]
name = "equal_opportunity_difference"
attributes = "*"
max = 0.2
[[group_metric]]
metric = "tpr"
attributes = ["race"]
min = 0.5
"""
runner = CliRunner()


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """Two large races, a small one (17 rows, 3 positives) and 4 rows of unknown race."""
    rng = np.random.default_rng(5)
    race = np.array(["White"] * 700 + ["Black"] * 279 + ["Pacific"] * 17 + [None] * 4, dtype=object)
    y = (rng.random(race.size) < 0.3).astype(int)
    y[700 + 279: 700 + 279 + 17] = [1, 1, 1] + [0] * 14
    score = 1 / (1 + np.exp(-(rng.normal(0, 1, race.size) + 2 * y - 1)))
    sex = rng.choice(["F", "M"], race.size)
    path = tmp_path_factory.mktemp("small") / "preds.csv"
    pd.DataFrame({"y": y, "score": score, "sex": sex, "race": race}).to_csv(path, index=False)
    return path


def _audit(data: Path, out: Path, k: int, *extra: str):
    policy = out / "policy.toml"
    policy.write_text(POLICY)
    args = ["audit", "--predictions", str(data), "--label", "y", "--sensitive", "sex,race",
            "--threshold", "0.5", "--bootstrap", "100", "--permutations", "0",
            "--policy", str(policy), "--html", str(out / "r.html"), "--junit", str(out / "r.xml"),
            "--suppress-small-cells", str(k), *extra]
    md = runner.invoke(app, [*args, "--format", "markdown", "--output", str(out / "r.md")])
    table = runner.invoke(app, [*args, "--format", "table"])
    js = runner.invoke(app, [*args, "--format", "json", "--output", str(out / "r.json")])
    return md, table, js


def _small_counts(result: dict, k: int) -> set[int]:
    counts = {g[key] for g in result["groups"] for key in ("n", "n_pos", "n_neg")}
    counts |= set(result["dataset"]["unknown_counts"].values()) | {result["dataset"]["n_excluded"]}
    return {c for c in counts if 0 < c < k}


def leaks(text: str, counts: set[int]) -> list[str]:
    """Places where one of ``counts`` is shown as a count: ``n=17``, ``3 positives``, a cell."""
    text = re.sub(r"data:image/svg\+xml;base64,[A-Za-z0-9+/=]+", "", text)
    # The spread table's second column counts groups, not people.
    text = re.sub(r"(<tr><td>[^<]*</td>)<td class=\"num\">\d+</td>", r"\1", text)
    found = []
    for c in sorted(counts):
        for pattern in (
            rf"\bn\s*[=:]\s*{c}\b",
            rf"(?<![\d.<]){c} (?:positives?|negatives?|rows?|events?|patients?|studies|cases?)\b",
            rf"<td[^>]*>\s*{c}\s*(?:</td>|<td|\n)",  # an HTML table cell
            rf"[|│┃]\s*{c}\s*(?=[|│┃])",  # a Markdown or terminal table cell
        ):
            found += [m.group(0) for m in re.finditer(pattern, text)]
    return found


@pytest.fixture(scope="module")
def suppressed(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("suppressed")
    return out, _audit(data, out, K)


def test_no_count_below_k_in_any_report(suppressed):
    out, (md, table, js) = suppressed
    assert {md.exit_code, table.exit_code, js.exit_code} == {1}, md.output
    result = json.loads((out / "r.json").read_text())
    counts = _small_counts(result, K)
    assert {17, 3, 14, 4} <= counts  # the scan below looks for these
    outputs = {
        "html": (out / "r.html").read_text(), "junit": (out / "r.xml").read_text(),
        "markdown": (out / "r.md").read_text(), "table": table.stdout, "stderr": md.stderr,
    }
    for name, text in outputs.items():
        assert leaks(text, counts) == [], name
        assert f"<{K}" in text or f"&lt;{K}" in text, name  # suppression visibly applied
    assert f"<{K} rows have no value for 'race'" in outputs["stderr"]
    # The gate messages that used to leak ("n=17 < minimum group size 30") are still there.
    assert f"n&lt;{K} &lt; minimum group size" in outputs["html"]
    assert f"n&lt;{K} &lt; minimum group size" in outputs["junit"]


def test_json_stays_the_exact_machine_record(suppressed):
    # Documented: the JSON is the unsuppressed record `fairaudit report` re-renders from.
    out, _ = suppressed
    result = json.loads((out / "r.json").read_text())
    pacific = next(g for g in result["groups"] if g["attribute"] == "race" and g["group"] == "Pacific")
    assert (pacific["n"], pacific["n_pos"]) == (17, 3)


def test_the_scan_finds_counts_when_suppression_is_off(data, tmp_path):
    _audit(data, tmp_path, 0)
    counts = _small_counts(json.loads((tmp_path / "r.json").read_text()), K)
    for name in ("r.html", "r.xml", "r.md"):
        assert leaks((tmp_path / name).read_text(), counts), name


def test_report_command_suppresses_every_format(suppressed, tmp_path):
    out, _ = suppressed
    result = json.loads((out / "r.json").read_text())
    counts = _small_counts(result, K)
    for fmt in ("html", "markdown", "junit", "table"):
        target = tmp_path / f"x.{fmt}"
        res = runner.invoke(app, ["report", str(out / "r.json"), "--format", fmt, "--out", str(target),
                                  "--suppress-small-cells", str(K)])
        assert res.exit_code == 0, res.output
        assert leaks(target.read_text(), counts) == [], fmt


@pytest.mark.parametrize(("no_fail", "code"), [(False, 1), (True, 0)])
def test_reports_print_the_real_exit_code(data, tmp_path, no_fail, code):
    md, table, _ = _audit(data, tmp_path, 0, *(["--no-fail"] if no_fail else []))
    assert md.exit_code == code and table.exit_code == code
    assert f"exit code {code}" in (tmp_path / "r.md").read_text()
    assert f"exit code {code}" in (tmp_path / "r.html").read_text()
    assert f'<property name="exit_code" value="{code}" />' in (tmp_path / "r.xml").read_text()
    assert ("--no-fail" in (tmp_path / "r.md").read_text()) is no_fail
    # `fairaudit report` re-renders with the same code when told the run used --no-fail.
    res = runner.invoke(app, ["report", str(tmp_path / "r.json"), "--format", "markdown",
                              *(["--no-fail"] if no_fail else [])])
    assert res.exit_code == 0 and f"exit code {code}" in res.stdout
