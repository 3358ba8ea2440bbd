"""`--cross-check`: fairaudit's rates and criteria recomputed with fairlearn and aif360."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from fairaudit.api import audit
from fairaudit.cli.app import app
from fairaudit.crosscheck import CrossCheckError, cross_check, row_decisions
from fairaudit.data import from_frame
from fairaudit.result import AuditResult
from tests.conftest import ROOT, make_predictions

runner = CliRunner()
FAST = {"n_bootstrap": 0, "n_permutations": 0}


def _hostile() -> pd.DataFrame:
    """Ties, a tiny group (insufficient criteria) and a group with no positives (undefined TPR)."""
    frame = make_predictions(7, n=1500, tied=True)
    frame.loc[frame.index[:8], "race"] = "Tiny"
    frame.loc[frame.index[8:20], ["race", "y"]] = ["NoPos", 0]
    return frame


def test_every_rate_and_criterion_agrees_and_skips_are_counted() -> None:
    frame = _hostile()
    result = audit(frame, label="y", sensitive="sex,race", threshold=0.5, cross_check=True, **FAST)
    cc = result.run.cross_check
    assert cc is not None and cc.max_abs_difference <= 1e-9
    assert cc.fairlearn_version and cc.aif360_version
    groups = len(result.groups)
    # 4 rates x 2 libraries for every group and overall, minus the undefined ones, plus criteria.
    undefined = sum(1 for g in result.groups for m in ("selection_rate", "tpr", "fpr", "accuracy")
                    if g.metrics[m].value is None)
    assert undefined >= 1  # NoPos has no TPR
    compared_criteria = sum(1 for c in result.criteria if c.name in (
        "demographic_parity_difference", "demographic_parity_ratio", "equal_opportunity_difference",
        "equal_opportunity_ratio", "equalized_odds_difference", "equalized_odds_ratio")
        and c.status == "ok" and c.value is not None and not c.excluded_groups)
    assert cc.n_compared == 2 * 4 * (groups + 1) - 2 * undefined + compared_criteria
    assert cc.n_skipped == undefined + 6 * len(result.audited_attributes) - compared_criteria
    assert cc.n_skipped > undefined  # the race criteria are insufficient (Tiny) and skipped


def test_numbers_match_fresh_fairlearn_and_aif360_runs() -> None:
    from fairlearn.metrics import MetricFrame, equalized_odds_difference, true_positive_rate

    frame = make_predictions(3, n=2000)
    result = audit(frame, label="y", sensitive="race", threshold=0.4, cross_check=True, **FAST)
    y, d = frame["y"].to_numpy(), (frame["score"].to_numpy() >= 0.4).astype(int)
    mf = MetricFrame(metrics=true_positive_rate, y_true=y, y_pred=d, sensitive_features=frame["race"])
    for g, v in mf.by_group.items():
        assert result.group("race", g).metrics["tpr"].value == pytest.approx(v, abs=1e-12)
    eo = result.criterion("race", "equalized_odds_difference").value
    assert eo == pytest.approx(equalized_odds_difference(y, d, sensitive_features=frame["race"]), abs=1e-12)


def test_group_thresholds_are_applied_in_the_cross_check(tmp_path: Path) -> None:
    frame = make_predictions(4, n=2000)
    gt = {"format": "fairaudit-group-thresholds", "version": 1, "attribute": "race",
          "thresholds": {"Black": 0.3, "White": 0.6}, "default": 0.45}
    path = tmp_path / "t.json"
    path.write_text(json.dumps(gt))
    result = audit(frame, label="y", sensitive="sex,race", group_thresholds=path, cross_check=True, **FAST)
    assert result.run.cross_check.max_abs_difference <= 1e-9 and result.run.cross_check.n_compared > 100


def test_a_disagreement_is_an_error_naming_the_number_group_and_values() -> None:
    frame = make_predictions(5, n=1000)
    ds = from_frame(frame, label="y", sensitive="race", score="score")
    result = audit(frame, label="y", sensitive="race", threshold=0.5, **FAST)
    g = result.group("race", "Black")
    bad = dataclasses.replace(g, metrics={**g.metrics, "tpr": dataclasses.replace(g.metrics["tpr"], value=0.123)})
    tampered = dataclasses.replace(result, groups=tuple(bad if x is g else x for x in result.groups))
    with pytest.raises(CrossCheckError, match=r"TPR of group 'Black' \(race\) is 0\.123 in fairaudit but 0\.\d+ in fairlearn"):
        cross_check(tampered, ds, row_decisions(ds, 0.5))


def test_cli_records_the_check_in_json_html_and_markdown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    csv = tmp_path / "p.csv"
    make_predictions(6, n=1200).to_csv(csv, index=False)
    base = ["audit", "-p", str(csv), "-l", "y", "-a", "sex,race", "-t", "0.5", "--bootstrap", "0",
            "--permutations", "0", "--cross-check", "-q"]
    res = runner.invoke(app, [*base, "-f", "json", "--html", str(tmp_path / "r.html")])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    cc = data["run"]["cross_check"]
    assert cc["n_compared"] > 0 and cc["max_abs_difference"] <= 1e-9
    assert AuditResult.from_dict(data).run.cross_check.n_compared == cc["n_compared"]
    html = (tmp_path / "r.html").read_text()
    assert "Cross-check" in html and f"{cc['n_compared']} comparisons agree with fairlearn" in html
    res = runner.invoke(app, [*base, "-f", "markdown"])
    assert res.exit_code == 0 and "Cross-check: " in res.stdout and "aif360" in res.stdout

    # A disagreement (here: decisions that are not the audit's) exits 2 with one line.
    import fairaudit.crosscheck as crosscheck

    real = crosscheck.row_decisions
    monkeypatch.setattr(crosscheck, "row_decisions", lambda *a, **k: ~real(*a, **k))
    res = runner.invoke(app, base)
    assert res.exit_code == 2
    assert "cross-check failed: overall selection rate is" in res.output
    assert "Traceback" not in res.output


def test_fairlearn_and_aif360_are_not_imported_by_the_cli() -> None:
    code = ("import sys, fairaudit.cli.app, fairaudit.api, fairaudit.crosscheck; "
            "print(any(m.split('.')[0] in ('fairlearn', 'aif360') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "False"


def test_without_the_flag_there_is_no_record() -> None:
    result = audit(make_predictions(8, n=600), label="y", sensitive="sex", threshold=0.5, **FAST)
    assert result.run.cross_check is None
    assert "cross_check" in result.to_dict()["run"] and result.to_dict()["run"]["cross_check"] is None
    np.testing.assert_equal(result.run.cross_check, None)


def test_an_attribute_with_a_single_group_is_checked() -> None:
    frame = make_predictions(1, n=500).assign(site="one")
    result = audit(frame, label="y", sensitive="site,sex", threshold=0.5, cross_check=True, **FAST)
    cc = result.run.cross_check
    assert cc.max_abs_difference <= 1e-9 and cc.n_compared > 0
