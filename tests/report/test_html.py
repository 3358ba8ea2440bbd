"""The HTML report: golden file, escaping, self-containment, suppression, `fairaudit report`."""

from __future__ import annotations

import base64
import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fairaudit.cli.app import app
from fairaudit.gate import evaluate, parse_policy
from fairaudit.report.html import environment, render_html
from tests.report.reportdata import make_result

GOLDEN = Path(__file__).parent / "golden" / "report.html"
NASTY = {
    "Asian": "<script>alert(1)</script>",
    "Black": 'Black "quoted" & \'single\'',
    "unknown": "</td><img src=x onerror=alert(2)>",
}
POLICY = """
[policy]
name = "golden <policy> & co"
[groups]
min_size = 30
[[criterion]]
name = "equalized_odds_difference"
attributes = ["sex"]
max = 0.1
[[group_metric]]
metric = "auc"
attributes = ["race"]
min = 0.8
[[summary]]
metric = "auc"
statistic = "ser"
attributes = ["sex"]
max = 3
"""


def gated(result):
    return result.with_gate(evaluate(result, parse_policy(POLICY)))


@pytest.fixture(scope="module")
def result():
    return gated(make_result())


@pytest.fixture(scope="module")
def html(result):
    return render_html(result)


@pytest.fixture(scope="module")
def nasty_html():
    return render_html(gated(make_result(names=NASTY)))


def scrub(text: str) -> str:
    text = re.sub(r"data:image/svg\+xml;base64,[A-Za-z0-9+/=]+", "data:image/svg+xml;base64,FIGURE", text)
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)?", "TIMESTAMP", text)
    text = re.sub(r"fairaudit \d+\.\d+\.\d+\S*", "fairaudit VERSION", text)
    return re.sub(r"(Package: [\w.-]+</th><td><code>)[^<]*", r"\1VERSION", text)


def test_golden(html):
    got = scrub(html)
    if os.environ.get("FAIRAUDIT_UPDATE_GOLDEN") == "1":  # only on request, never on its own
        GOLDEN.write_text(got, encoding="utf-8")
    expected = GOLDEN.read_text(encoding="utf-8")
    assert got == expected, "HTML changed; review and regenerate with FAIRAUDIT_UPDATE_GOLDEN=1"


@pytest.mark.parametrize("flag", [None, "", "0", "true"])
def test_golden_file_is_rewritten_only_on_request(html, tmp_path, monkeypatch, flag) -> None:
    stale = tmp_path / "report.html"
    stale.write_text("stale", encoding="utf-8")
    monkeypatch.setattr(f"{__name__}.GOLDEN", stale)
    if flag is None:
        monkeypatch.delenv("FAIRAUDIT_UPDATE_GOLDEN", raising=False)
    else:
        monkeypatch.setenv("FAIRAUDIT_UPDATE_GOLDEN", flag)
    with pytest.raises(AssertionError, match="regenerate with FAIRAUDIT_UPDATE_GOLDEN=1"):
        test_golden(html)
    assert stale.read_text(encoding="utf-8") == "stale"
    monkeypatch.setenv("FAIRAUDIT_UPDATE_GOLDEN", "1")
    test_golden(html)
    assert stale.read_text(encoding="utf-8") == scrub(html)


def test_sections_present(html):
    for section in ("verdict", "overview", "composition", "performance", "criteria", "summaries",
                    "roc", "calibration", "thresholds", "explanations", "reproducibility"):
        assert f'<section id="{section}"' in html
    assert "Verdict: FAIL" in html
    assert "golden &lt;policy&gt; &amp; co" in html
    for text in ("Demographic parity", "Equal opportunity", "Equalised odds", "trade-off", "levelling down",
                 "Data SHA-256", "ab" * 32, "Seed", "Command"):
        assert text in html
    assert html.count("<img src=\"data:image/svg+xml;base64,") == 9  # 3 figures x 3 attributes


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls, self.tags, self.scripts, self.in_script, self.script_text = [], [], 0, False, []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "script":
            self.scripts += 1
            self.in_script = True
        for name, value in attrs:
            if name in ("src", "href", "action", "poster", "data") and value:
                self.urls.append(value)
            assert not name.startswith("on"), f"event handler attribute {name}={value!r}"

    def handle_endtag(self, tag):
        if tag == "script":
            self.in_script = False

    def handle_data(self, data):
        if self.in_script:
            self.script_text.append(data)


def test_no_external_resource(html):
    c = _Collector()
    c.feed(html)
    for url in c.urls:
        assert url.startswith(("data:", "#")), url
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/|@import|url\(", html.split("<script>")[0]
                         .replace('http-equiv="Content-Security-Policy"', ""), re.I)
    assert "default-src 'none'" in html
    assert c.scripts == 1  # only our inlined script
    for uri in c.urls:
        if uri.startswith("data:image/svg+xml;base64,"):
            svg = base64.b64decode(uri.split(",", 1)[1]).decode()
            assert "<script" not in svg and "href=\"http" not in svg


def test_group_names_escaped_everywhere(nasty_html):
    c = _Collector()
    c.feed(nasty_html)  # raises if any event-handler attribute got through
    assert c.scripts == 1
    assert "<script>alert(1)</script>" not in nasty_html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in nasty_html
    assert "<img src=x" not in nasty_html
    assert "&lt;/td&gt;&lt;img src=x onerror=alert(2)&gt;" in nasty_html
    assert "Black &#34;quoted&#34; &amp; &#39;single&#39;" in nasty_html
    assert c.tags.count("img") == 9  # only the figures


def test_small_cell_suppression(result):
    out = render_html(result, suppress_small_cells=30)
    tiny = result.group("race", "Pacific Islander")
    assert 0 < tiny.n < 30
    row = re.search(r"<tr><td>Pacific Islander</td>.*?</tr>", out, re.S).group(0)
    assert f">{tiny.n}<" not in row and "&lt;30" in row
    assert "Curves withheld by small-cell suppression: Pacific Islander" in out
    assert "Small-cell suppression is on" in out
    # Groups at or above K keep their counts.
    big = result.group("race", "White")
    assert re.search(rf"<tr><td>White</td><td class=\"num\" data-sort=\"{big.n}\">{big.n}</td>", out)


def test_figures_are_deterministic(result):
    assert render_html(result) == render_html(result)


def test_templates_are_package_resources():
    from importlib.resources import files

    root = files("fairaudit._templates")
    for name in ("base.html.j2", "macros.html.j2", "report.html.j2", "report.css", "report.js"):
        assert root.joinpath(name).is_file(), name
    env = environment()
    assert env.autoescape is True
    import jinja2

    with pytest.raises(jinja2.UndefinedError):
        env.from_string("{{ nothing_here }}").render()


def test_extension_point_base_template():
    from fairaudit.report.html import render_template

    env = environment()
    env_template = env.from_string(
        '{% extends "base.html.j2" %}{% import "macros.html.j2" as m %}'
        '{% block content %}<p>{{ body }}</p>{{ m.status_badge("pass", "ok") }}{% endblock %}'
    )
    out = env_template.render(title="Before / after", tool_version="x", body="<b>")
    assert "<p>&lt;b&gt;</p>" in out and "report.css" not in out and ":root" in out
    assert render_template("base.html.j2", {"title": "t", "tool_version": "v"}).startswith("<!DOCTYPE html>")


runner = CliRunner()


def test_report_command_rerenders_saved_json(result, tmp_path):
    saved = tmp_path / "result.json"
    saved.write_text(result.to_json())
    out = tmp_path / "sub" / "report.html"
    res = runner.invoke(app, ["report", str(saved), "--out", str(out), "--suppress-small-cells", "5"])
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert "Verdict: FAIL" in text and "Small-cell suppression is on" in text
    assert scrub(text).count("<tr>") == scrub(render_html(result, suppress_small_cells=5)).count("<tr>")


@pytest.mark.parametrize("fmt", ["markdown", "junit", "table"])
def test_report_command_renders_every_view_the_audit_writes(result, tmp_path, fmt):
    from fairaudit.report.junit import render_junit
    from fairaudit.report.markdown import render_markdown
    from fairaudit.report.table import render_table

    saved = tmp_path / "result.json"
    saved.write_text(result.to_json())
    expected = {"markdown": lambda r: render_markdown(r), "junit": render_junit, "table": render_table}[fmt]
    res = runner.invoke(app, ["report", str(saved), "--format", fmt])  # to stdout
    assert res.exit_code == 0, res.output
    assert res.stdout == expected(result)
    out = tmp_path / f"r.{fmt}"
    res = runner.invoke(app, ["report", str(saved), "--format", fmt, "--out", str(out)])
    assert res.exit_code == 0 and out.read_text() == expected(result)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [(["--format", "pdf"], "--format must be one of")],  # no --out: tests/cli/test_report.py
)
def test_report_command_bad_options(result, tmp_path, args, fragment):
    saved = tmp_path / "result.json"
    saved.write_text(result.to_json())
    res = runner.invoke(app, ["report", str(saved), *args])
    assert res.exit_code == 2 and fragment in res.stderr and len(res.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "not a fairaudit audit result"),
        (json.dumps({"tool": {"name": "other"}, "groups": []}), "not a fairaudit audit result"),
        (json.dumps({"schema_version": "2.0", "tool": {"name": "fairaudit"}, **{k: {} for k in
                     ("run", "dataset", "threshold", "overall", "groups", "criteria", "summaries", "gate")}}),
         "schema_version"),
    ],
)
def test_report_command_rejects_bad_input(tmp_path, content, fragment):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    out = tmp_path / "r.html"
    res = runner.invoke(app, ["report", str(bad), "--out", str(out)])
    assert res.exit_code == 2
    assert fragment in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_report_command_missing_file(tmp_path):
    res = runner.invoke(app, ["report", str(tmp_path / "none.json"), "--out", str(tmp_path / "r.html")])
    assert res.exit_code == 2 and "does not exist" in res.stderr


def test_an_estimated_patient_count_is_marked_as_one(result):
    import dataclasses

    exact = dataclasses.replace(result.dataset, n_clusters=1234)
    page = render_html(dataclasses.replace(result, dataset=exact))
    assert "; 1234 patients</span>" in page and "HyperLogLog" not in page
    estimated = dataclasses.replace(result.dataset, n_clusters=70123, n_clusters_estimated=True)
    page = render_html(dataclasses.replace(result, dataset=estimated))
    assert "; about 70123 patients (HyperLogLog estimate, ±0.8 %)</span>" in page
