"""fairaudit.report.compare_text: the Markdown, JUnit and terminal views of a CompareResult.

Built from small hand-made CompareResults (no bootstrap): every number is known, so the tests pin
how each view lays it out, formats it, withholds small groups and escapes text from the data.
The Markdown is rendered with markdown-it (a CommonMark renderer; rich depends on it) and the
assertions read the rendered text, so they hold for what a reader sees, not for the source.
"""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from html.parser import HTMLParser

import pytest

from fairaudit.report.compare_text import (
    MAX_MD_RULES,
    render_compare_junit,
    render_compare_markdown,
    render_compare_table,
)
from fairaudit.result import GateOutcome, RuleOutcome
from fairaudit.result_paired import CompareResult, CompareSide, MetricChange, PairedResult

METRICS = ("tpr", "fpr", "auc", "brier")
LABELS = ("Sensitivity (TPR)", "False-positive rate (FPR)", "AUC", "Brier score")
RULE = "do_no_harm (margin 0.02): sensitivity"
WITHHELD = "values withheld: small cell."
HOSTILE_GROUPS = ("a|b", "<script>alert(1)</script>", "x\"'&`y\nz **b** [l](javascript:q)")
HOSTILE_ATTR = "si|te <b>_"


def _change(attr: str, group: str, i: int, j: int, n: int) -> MetricChange:
    """Distinct, known numbers per group ``i`` and metric ``j``."""
    ref = 0.6 + 0.05 * i + 0.01 * j
    delta = (round(-0.0071 - 0.001 * j, 4) if group == "overall" else round(-0.2345 - 0.0111 * j, 4) if n < 30
             else round(-0.0123 * (i + 1) - 0.0011 * j, 4))
    return MetricChange(
        "candidate", attr, group, METRICS[j], ref, ref + delta, delta,
        (round(delta - 0.031, 4), round(delta + 0.022, 4)),
        None if group == "overall" else (round(delta - 0.052, 4), round(delta + 0.041, 4)),
        0.0004 if i == 0 else 0.2134, "paired bootstrap", n, n // 3, n - n // 3, n >= 30,
        None if n >= 30 else f"fewer than 30 rows ({n} rows)")


def make_compare(groups: Sequence[str] = ("A", "B", "tiny"), sizes: Sequence[int] = (600, 383, 17), *,
                 attribute: str = "site", policy: str | None = "release", warning: bool = False,
                 sources: tuple[str, str] = ("base.csv", "cand.csv"),
                 warnings: tuple[str, ...] = ("tiny has 17 rows",)) -> CompareResult:
    """One attribute (three groups: a failed rule, a passed one, a small inconclusive one) and an
    intersection of its first two groups with ``sex``."""
    inter = f"{attribute} & sex"
    inter_groups = (f"{groups[0]} & F", f"{groups[1]} & M")
    changes = [_change("overall", "overall", 0, j, 1000) for j in range(len(METRICS))]
    for attr, names, ns in ((attribute, groups, sizes), (inter, inter_groups, (300, 200))):
        changes += [_change(attr, g, i, j, n) for i, (g, n) in enumerate(zip(names, ns, strict=True))
                    for j in range(len(METRICS))]
    paired = PairedResult(
        "baseline", ("candidate",), METRICS, (), ("overall", attribute, inter),
        {"overall": ("overall",), attribute: tuple(groups), inter: inter_groups}, tuple(changes), (),
        n_bootstrap=200, confidence_level=0.95, seed=3, unit="row", n_units=1000,
        min_group_size=30, min_group_events=10)
    tpr = {c.group: c for c in changes if c.attribute == attribute and c.metric == "tpr"}

    def outcome(group: str, status: str) -> RuleOutcome:
        c = tpr[group]
        return RuleOutcome(f"{RULE} [{attribute} = {group}]", status,  # type: ignore[arg-type]
                           f"change in sensitivity for {attribute} = {group} is {c.change:+.4f} (n={c.n})",
                           c.change, c.ci, -0.02, bound_min=-0.02, simultaneous_ci=c.simultaneous_ci)

    rules = (outcome(groups[0], "fail"), outcome(groups[1], "pass"), outcome(groups[2], "inconclusive"))
    gate = GateOutcome("fail", rules, policy, warning) if policy else GateOutcome("not_run")
    side = CompareSide("baseline", "predictions", sources[0], "f" * 64, "score", 0.5, "given")
    return CompareResult(
        created="2026-01-01T00:00:00+00:00", tool_version="t", command=None, baseline=side,
        candidate=dataclasses.replace(side, role="candidate", source=sources[1]), n_rows=1000,
        label="y", attributes=(attribute,), data_source="d.csv", data_sha256="0123456789ab" + "0" * 52,
        id_column=None, cluster_column=None, paired=paired, gate=gate,
        change_rules=({"id": RULE, "metric": "tpr", "per_group": True, "max_drop": 0.02},),
        warnings=warnings)


def with_rules(result: CompareResult, status: str, n: int) -> CompareResult:
    """``result`` whose gate has ``n`` outcomes of one status (the gate's status too)."""
    rules = tuple(RuleOutcome(f"rule {i:02d} [site = A]", status, f"message {i:02d}", -0.01, (-0.02, 0.0), -0.02)  # type: ignore[arg-type]
                  for i in range(n))
    return dataclasses.replace(result, gate=GateOutcome(status, rules, "release"))  # type: ignore[arg-type]


class Rendered(HTMLParser):
    """The HTML markdown-it makes of a Markdown text: its tags, tables and some elements' text."""

    TEXTS = ("h2", "h3", "p", "code", "summary", "blockquote")

    def __init__(self, md: str) -> None:
        from markdown_it import MarkdownIt

        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.tables: list[list[list[str]]] = []
        self.texts: dict[str, list[str]] = {}
        self._cell: str | None = None
        self._open: list[list[str]] = []
        self.feed(MarkdownIt("commonmark").enable("table").render(md))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = ""
        if tag in self.TEXTS:
            self._open.append([tag, ""])

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append(self._cell)
            self._cell = None
        if self._open and self._open[-1][0] == tag:
            name, text = self._open.pop()
            self.texts.setdefault(name, []).append(text.strip())

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell += data
        for element in self._open:
            element[1] += data


def one_line(text: str) -> str:
    return " ".join(text.split())


def signed_ci(ci: tuple[float, float] | None) -> str:
    return "" if ci is None else f"{ci[0]:+.3f} to {ci[1]:+.3f}"


@pytest.fixture(scope="module")
def result() -> CompareResult:
    return make_compare()


# Markdown -----------------------------------------------------------------------------------------

def test_markdown_verdict_lines_rule_table_and_footer(result):
    md = render_compare_markdown(result)
    page = Rendered(md)
    assert page.texts["h2"][0] == "❌ fairaudit compare: FAIL (policy release)"
    assert ("Candidate cand.csv against baseline base.csv on the same 1000 rows; changes are "
            "candidate − baseline with paired 95% intervals.") in page.texts["p"]
    assert "1 passed, 1 failed, 1 inconclusive; exit code 1. Per-group rules are judged on simultaneous intervals." in md
    header, *rows = page.tables[0]
    assert header == ["Status", "Rule", "Change", "95% CI", "Bound", "Finding"]
    fail, _, inconclusive = result.gate.rules
    assert rows == [  # the passed rule is left out while others did not pass
        ["❌ FAIL", fail.id, f"{fail.value:+.3f}", signed_ci(fail.ci), "-0.02", fail.message],
        ["⚠️ INCONCLUSIVE", inconclusive.id, f"{inconclusive.value:+.3f}", signed_ci(inconclusive.ci),
         "-0.02", inconclusive.message],
    ]
    assert f"1 more rule outcomes (passed, or beyond the first {MAX_MD_RULES}) are in the HTML report" in md
    assert page.texts["blockquote"] == ["Warning: tiny has 17 rows"]
    assert md.endswith("<sub>fairaudit t · seed 3 · 200 paired replicates over rows · "
                       "data SHA-256 `0123456789ab`</sub>\n")


def test_markdown_overall_table_has_one_row_per_metric(result):
    header, *rows = Rendered(render_compare_markdown(result)).tables[1]
    assert header == ["Metric", "Baseline", "Candidate", "Change", "95% CI", "p"]
    overall = [result.paired.change("candidate", "overall", "overall", m) for m in METRICS]
    assert rows == [[label, f"{c.reference_value:.3f}", f"{c.value:.3f}", f"{c.change:+.3f}", signed_ci(c.ci), "<0.001"]
                    for label, c in zip(LABELS, overall, strict=True)]


def test_markdown_group_table_has_one_row_per_group_and_a_column_per_shown_metric(result):
    md = render_compare_markdown(result)
    page = Rendered(md)
    header, *rows = page.tables[2]
    # Brier score is in the overall table only; PPV was not computed, so it has no column.
    assert header == ["Group", "n", "Δ Sensitivity (TPR) (95% CI)", "Δ False-positive rate (FPR) (95% CI)",
                      "Δ AUC (95% CI)", "Status"]
    expected = []
    for g in ("A", "B", "tiny"):
        cs = [result.paired.change("candidate", "site", g, m) for m in ("tpr", "fpr", "auc")]
        expected.append([g, str(cs[0].n), *(f"{c.change:+.3f} ({signed_ci(c.ci)})" for c in cs),
                         "ok" if cs[0].sufficient else "insufficient"])
    assert rows == expected
    assert page.texts["h3"] == ["Overall", "site", "site & sex"]
    # The intersection folds away under its own summary; the attribute does not.
    assert page.texts["summary"] == ["Intersection site & sex"]
    assert md.index("<details>") > md.index("### site\n") and [r[0] for r in page.tables[3][1:]] == ["A & F", "B & M"]


def test_markdown_lists_every_rule_when_all_passed(result):
    page = Rendered(render_compare_markdown(with_rules(result, "pass", 3)))
    assert page.texts["h2"][0] == "✅ fairaudit compare: PASS (policy release)"
    assert [r[1] for r in page.tables[0][1:]] == [f"rule {i:02d} [site = A]" for i in range(3)]
    assert "more rule outcomes" not in render_compare_markdown(with_rules(result, "pass", 3))


def test_markdown_caps_the_rule_table_and_says_how_many_are_left_out(result):
    many = with_rules(result, "fail", MAX_MD_RULES + 5)
    md = render_compare_markdown(many, no_fail=True)
    rows = Rendered(md).tables[0][1:]
    assert [r[1] for r in rows] == [f"rule {i:02d} [site = A]" for i in range(MAX_MD_RULES)]
    assert f"5 more rule outcomes (passed, or beyond the first {MAX_MD_RULES})" in md
    assert f"0 passed, {MAX_MD_RULES + 5} failed, 0 inconclusive; exit code 0 (--no-fail)." in md


def test_markdown_without_a_policy_has_no_rule_table():
    md = render_compare_markdown(make_compare(policy=None))
    page = Rendered(md)
    assert page.texts["h2"][0] == "➖ fairaudit compare: NOT RUN"
    assert "passed," not in md and page.tables[0][0][0] == "Metric"  # the overall table comes first


def test_markdown_suppression_hides_small_counts_and_every_number_of_a_small_group(result):
    plain = render_compare_markdown(result)
    md = render_compare_markdown(result, suppress_small_cells=50)
    page = Rendered(md)
    tiny_rule = next(r for r in page.tables[0] if r[1].endswith("[site = tiny]"))
    assert tiny_rule[2:] == ["suppressed", "", "-0.02", WITHHELD]
    assert page.tables[2][1:] == [
        Rendered(plain).tables[2][1], Rendered(plain).tables[2][2],  # 600 and 383 rows: shown as they are
        ["tiny", "<50", "suppressed", "suppressed", "suppressed", "insufficient"],
    ]
    assert page.texts["blockquote"] == ["Warning: tiny has <50 rows"]
    assert "Small-cell suppression: counts below 50 are hidden." in md
    # Never the exact count, nor a number of the small group (present without suppression).
    tiny = [c for c in result.paired.changes if c.group == "tiny" and c.metric != "brier"]  # shown ones
    secrets = ["n=17", "| 17 |", "17 rows", *(f"{c.change:+.3f}" for c in tiny), signed_ci(tiny[0].ci)]
    assert all(s in plain for s in secrets)
    assert not [s for s in secrets if s in md]


def test_markdown_data_text_cannot_break_tables_or_inject_markup():
    result = make_compare(HOSTILE_GROUPS, attribute=HOSTILE_ATTR, policy="<img src=x onerror=alert(1)>",
                          sources=("a`b``c.csv", "<i>c</i> &amp; d.csv"), warnings=("<script>w</script> *x*",))
    md = render_compare_markdown(result)
    for raw in ("<script", "<img", "<b>"):  # "<i>" is in a code span, literal there
        assert raw not in md
    page = Rendered(md)
    # Only the view's own elements: no script, image, link, emphasis or bold from the data.
    assert set(page.tags) <= {"h2", "h3", "p", "table", "thead", "tbody", "tr", "th", "td", "blockquote",
                              "strong", "code", "details", "summary", "sub"}
    assert page.tags.count("strong") == 1  # the "Warning:" label
    for table in page.tables:
        assert len({len(row) for row in table}) == 1, table
    groups = page.tables[2]
    assert [row[0] for row in groups[1:]] == [one_line(g) for g in HOSTILE_GROUPS]
    assert [row[1] for row in page.tables[0][1:]] == [one_line(r.id) for r in result.gate.rules if r.status != "pass"]
    assert page.texts["h2"][0].endswith("(policy <img src=x onerror=alert(1)>)")
    assert page.texts["h3"][1:] == [HOSTILE_ATTR, f"{HOSTILE_ATTR} & sex"]
    assert page.texts["summary"] == [f"Intersection {HOSTILE_ATTR} & sex"]
    assert page.texts["blockquote"] == ["Warning: <script>w</script> *x*"]


def test_markdown_file_names_show_literally_in_code_spans():
    sources = ("a`b``c.csv", "<i>c</i> &amp; d\n.csv")
    page = Rendered(render_compare_markdown(make_compare(sources=sources)))
    assert "i" not in page.tags
    assert page.texts["code"][:2] == ["<i>c</i> &amp; d .csv", "a`b``c.csv"]
    assert page.texts["code"][2] == "0123456789ab"  # the data hash in the footer
    edge = Rendered(render_compare_markdown(make_compare(sources=("`x`", "y"))))
    assert edge.texts["code"][1] == "`x`"


# JUnit --------------------------------------------------------------------------------------------

def _cases(xml: str) -> tuple[ET.Element, dict[str, ET.Element]]:
    root = ET.fromstring(xml.split("\n", 1)[1])
    return root, {c.get("name", ""): c for c in root.iter("testcase")}


def test_junit_maps_fail_inconclusive_and_pass(result):
    root, cases = _cases(render_compare_junit(result))
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name") == "fairaudit compare: release"
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "2", "0")
    fail, passed, inconclusive = result.gate.rules
    assert list(cases) == [fail.id, passed.id, inconclusive.id]
    assert {c.get("classname") for c in cases.values()} == {"fairaudit.compare.release"}
    failure = cases[fail.id].find("failure")
    assert failure is not None and failure.get("type") == "fail" and failure.get("message") == fail.message
    assert f"value: {fail.value:.4g}\n95% CI: [{fail.ci[0]:.4g}, {fail.ci[1]:.4g}]\n" in (failure.text or "")
    blocking = cases[inconclusive.id].find("failure")
    assert blocking is not None and blocking.get("type") == "inconclusive"
    assert cases[passed.id].find("failure") is None and cases[passed.id].find("system-out") is not None
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert (props["baseline"], props["seed"], props["n_bootstrap"], props["confidence_level"]) == (
        "base.csv", "3", "200", "0.95")


def test_junit_inconclusive_as_a_warning_is_skipped_and_no_fail_exits_0():
    result = make_compare(warning=True)
    root, cases = _cases(render_compare_junit(result, no_fail=True))
    skipped = cases[result.gate.rules[2].id].find("skipped")
    assert skipped is not None and skipped.get("message") == "inconclusive (warning): " + result.gate.rules[2].message
    assert cases[result.gate.rules[2].id].find("failure") is None
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert (props["exit_code"], props["no_fail"], props["inconclusive_is_warning"]) == ("0", "true", "true")


def test_junit_escapes_hostile_names_and_drops_characters_xml_cannot_hold():
    groups = ("<script>alert(1)</script>", 'q"\'&\nr', "bell\x07")
    result = make_compare(groups, attribute=HOSTILE_ATTR, sources=("<b>.csv", "&.csv"))
    xml = render_compare_junit(result)
    assert "<script" not in xml and "<b>" not in xml and "\x07" not in xml
    root, cases = _cases(xml)  # well-formed
    assert list(cases) == [r.id.replace("\x07", "") for r in result.gate.rules]
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert (props["baseline"], props["candidate"]) == ("<b>.csv", "&.csv")


def test_junit_suppression_withholds_every_number_of_a_small_group(result):
    tiny = result.gate.rules[2]
    plain = render_compare_junit(result)
    assert f"value: {tiny.value:.4g}" in plain and "n=17" in plain
    xml = render_compare_junit(result, suppress_small_cells=50)
    _, cases = _cases(xml)
    failure = cases[tiny.id].find("failure")
    assert failure is not None and failure.get("message") == WITHHELD
    assert "value: undefined\n95% CI: none\nbound: >= -0.02\nstatus: inconclusive\n" in (failure.text or "")
    assert f"{tiny.value:.4g}" not in xml and f"{tiny.value:+.4f}" not in xml and "n=17" not in xml
    # A group of K rows or more keeps its numbers.
    fail = result.gate.rules[0]
    assert cases[fail.id].find("failure").get("message") == fail.message  # type: ignore[union-attr]


# Terminal table -----------------------------------------------------------------------------------

def test_table_verdict_overall_rows_and_rules_not_passed(result):
    lines = render_compare_table(result).splitlines()
    assert lines[:3] == ["fairaudit compare: FAIL (policy release)", "",
                         f"{'metric':<20} {'baseline':>9} {'candidate':>9} {'change':>8}  95% paired CI"]
    overall = [result.paired.change("candidate", "overall", "overall", m) for m in METRICS]
    assert lines[3:7] == [
        f"{label[:20]:<20} {c.reference_value:>9.3f} {c.value:>9.3f} {c.change:>+8.3f}  {signed_ci(c.ci)}"
        for label, c in zip(LABELS, overall, strict=True)]
    assert lines[4].startswith("False-positive rate  ")  # labels cut to 20 characters
    fail, _, inconclusive = result.gate.rules
    assert lines[7:] == ["", "rules not passed:", f"  FAIL: {fail.message}",
                         f"  INCONCLUSIVE: {inconclusive.message}"]


def test_table_caps_the_rules_and_leaves_them_out_when_all_passed(result):
    lines = render_compare_table(with_rules(result, "fail", MAX_MD_RULES + 3)).splitlines()
    start = lines.index("rules not passed:") + 1
    assert lines[start:] == [f"  FAIL: message {i:02d}" for i in range(MAX_MD_RULES)] + [
        "  ... and 3 more (see the HTML or JSON)"]
    assert "rules not passed" not in render_compare_table(with_rules(result, "pass", 3))


def test_table_suppression_withholds_a_small_groups_rule(result):
    text = render_compare_table(result, suppress_small_cells=50)
    assert text.endswith(f"  INCONCLUSIVE: {WITHHELD}\n")
    assert "n=17" not in text and f"{result.gate.rules[2].value:+.4f}" not in text
    assert "(n=600)" in text  # 600 rows: not a small cell


def test_table_shows_control_characters_in_data_as_escapes(result):
    """A group name or message carrying a terminal escape sequence or a carriage return cannot
    recolour, move the cursor or overwrite the terminal's lines: they are printed escaped."""
    rules = (RuleOutcome("rule [site = \x1b[2J]", "fail", "site \x1b[31mred\x1b[0m\rover", -0.01,  # type: ignore[arg-type]
                         (-0.02, 0.0), -0.02),)
    text = render_compare_table(dataclasses.replace(result, gate=GateOutcome("fail", rules, "release")))  # type: ignore[arg-type]
    assert "\x1b" not in text and "\r" not in text
    assert "  FAIL: site \\x1b[31mred\\x1b[0m\\rover" in text.splitlines()
