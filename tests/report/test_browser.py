"""The report in a real browser: headless Chromium, networking disabled, no console errors.

Needs the Debian ``chromium`` and ``chromium-driver`` packages (``.ci/run`` installs them).
Skipped when they are missing, except under ``CI=true``, where a missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from fairaudit.gate import evaluate, parse_policy
from fairaudit.report.html import render_html

sys.path.insert(0, str(Path(__file__).parent))
from manydata import N_SITES, PLANTED, many_group_result  # noqa: E402
from reportdata import make_result  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SECTIONS = ("verdict", "overview", "composition", "performance", "criteria", "summaries", "roc",
            "calibration", "thresholds", "explanations", "reproducibility")

pytestmark = pytest.mark.browser


def _require_browser() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium")
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"browser test needs {', '.join(missing)} in CI (.ci/run installs them)")
        pytest.skip(f"not installed: {', '.join(missing)}")


@pytest.fixture
def driver(tmp_path):
    _require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--no-first-run", "--disable-dev-shm-usage", "--window-size=1366,900",
                f"--user-data-dir={tmp_path / 'profile'}",
                # No network at all: any fetch would fail loudly (and the page's CSP forbids it).
                "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
                "--host-resolver-rules=MAP * ~NOTFOUND"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER, log_output=str(tmp_path / "chromedriver.log")),
                           options=options)
    try:
        drv.set_page_load_timeout(30)
        yield drv
    finally:
        drv.quit()


def _severe(drv):
    return [e for e in drv.get_log("browser") if e.get("level") == "SEVERE"]


def test_report_loads_offline_without_console_errors(driver, tmp_path):
    from selenium.webdriver.common.by import By

    names = {"Asian": "<script>alert(1)</script>", "Black": 'Black "q" & co'}
    result = make_result(names=names, n_bootstrap=30)
    policy = parse_policy('[[group_metric]]\nmetric = "auc"\nattributes = ["race"]\nmin = 0.8\n')
    page = tmp_path / "report.html"
    page.write_text(render_html(result.with_gate(evaluate(result, policy))), encoding="utf-8")

    driver.get(page.as_uri())
    # A console error (script error, blocked resource, CSP violation) fails the test.
    assert _severe(driver) == []
    assert driver.title == "Fairness audit report"
    for section in SECTIONS:
        el = driver.find_element(By.ID, section)
        assert el.is_displayed(), section
    # Escaped names arrive as text; no injected script ran.
    assert driver.execute_script("return document.scripts.length") == 1
    assert "<script>alert(1)</script>" in driver.find_element(By.ID, "composition").text
    # Every figure decoded (data URIs need no network).
    widths = driver.execute_script(
        "return Array.from(document.images).map(i => i.complete ? i.naturalWidth : 0)")
    assert len(widths) == 9 and all(w > 0 for w in widths)

    # Sorting works: sort the race composition table by n, ascending then descending.
    table = driver.find_element(By.CSS_SELECTOR, "#composition-attr-1 table")
    header = table.find_elements(By.CSS_SELECTOR, "thead th")[1]
    header.click()
    col = [int(c.get_attribute("data-sort")) for c in table.find_elements(By.CSS_SELECTOR, "tbody td:nth-child(2)")]
    assert col == sorted(col) and header.get_attribute("aria-sort") == "ascending"
    header.click()
    col = [int(c.get_attribute("data-sort")) for c in table.find_elements(By.CSS_SELECTOR, "tbody td:nth-child(2)")]
    assert col == sorted(col, reverse=True)

    # Intersections start collapsed; "Expand all" opens them.
    inter = driver.find_element(By.ID, "performance-attr-2")
    assert inter.get_attribute("open") is None
    driver.find_element(By.CSS_SELECTOR, ".toggle-all").click()
    assert inter.get_attribute("open") is not None
    assert _severe(driver) == []

    driver.execute_script("window.scrollTo(0, 0)")
    height = driver.execute_script("return document.body.scrollHeight")
    driver.set_window_size(1366, min(height, 12000))
    shot = tmp_path / "report.png"
    assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    if os.environ.get("FAIRAUDIT_SCREENSHOT"):
        shutil.copy(shot, os.environ["FAIRAUDIT_SCREENSHOT"])


def test_console_errors_are_detected(driver, tmp_path):
    """The check above can fail: a page with a script error and an external image is caught."""
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><head><title>x</title></head><body>'
                    '<img src="http://example.invalid/x.png"><script>undefinedFunction();</script></body></html>')
    driver.get(page.as_uri())
    assert len(_severe(driver)) >= 1


def test_many_group_report_loads_without_console_errors(driver, tmp_path):
    """A 1,000-group audit from the real API: under 2 MB, opens cleanly, folded rows sort and open."""
    from selenium.webdriver.common.by import By

    page = tmp_path / "many.html"
    page.write_text(render_html(many_group_result()), encoding="utf-8")
    assert page.stat().st_size < 2_000_000

    driver.get(page.as_uri())
    assert _severe(driver) == []
    assert driver.find_element(By.ID, "comparison").is_displayed()
    widths = driver.execute_script(
        "return Array.from(document.images).map(i => i.complete ? i.naturalWidth : 0)")
    assert len(widths) == 5 and all(w > 0 for w in widths)  # funnel, caterpillar, ROC, calibration, thresholds

    perf = driver.find_element(By.ID, "performance-attr-0")
    first = perf.find_element(By.CSS_SELECTOR, "table.metrics")  # flagged groups, in view
    shown = [c.text for c in first.find_elements(By.CSS_SELECTOR, "tbody td:first-child")]
    assert set(PLANTED) <= set(shown) and len(shown) < 20
    folded = perf.find_element(By.CSS_SELECTOR, "details.folded")
    assert folded.get_attribute("open") is None
    folded.find_element(By.TAG_NAME, "summary").click()
    rows = folded.find_elements(By.CSS_SELECTOR, "tbody tr")
    assert len(rows) + len(shown) == N_SITES and rows[0].is_displayed()
    header = folded.find_elements(By.CSS_SELECTOR, "thead th")[1]
    header.click()
    col = [int(c.text) for c in folded.find_elements(By.CSS_SELECTOR, "tbody td:nth-child(2)")]
    assert col == sorted(col) and col[0] < col[-1]
    # Value-with-interval cells sort on the value (descending after a second click).
    auc = folded.find_elements(By.CSS_SELECTOR, "thead th")[2]
    auc.click()
    auc.click()
    values = [c.text.split("\n")[0] for c in folded.find_elements(By.CSS_SELECTOR, "tbody td:nth-child(3)")]
    numbers = [float(v) for v in values if v not in ("—", "suppressed")]
    assert numbers == sorted(numbers, reverse=True) and len(numbers) > 900
    assert _severe(driver) == []


def test_compare_report_loads_offline_without_console_errors(driver, tmp_path):
    """`fairaudit compare`'s page: verdict first, forest plots decode, hostile names stay text."""
    import numpy as np
    from selenium.webdriver.common.by import By

    from fairaudit.gate.change import evaluate_changes
    from fairaudit.metrics.paired import paired_changes
    from fairaudit.report.compare import render_compare_html
    from fairaudit.result_paired import CompareResult, CompareSide

    rng = np.random.default_rng(2)
    n = 900
    y = rng.integers(0, 2, n)
    site = rng.choice(["<script>alert(1)</script>", "B"], n)
    a = np.clip(0.35 * y + 0.65 * rng.random(n), 0, 1)
    b = np.clip(a + rng.normal(0, 0.05, n), 0, 1)
    paired = paired_changes(y, {"baseline": a, "candidate": b}, {"baseline": 0.5, "candidate": 0.5},
                            {"site": site}, reference="baseline", n_bootstrap=100)
    policy = parse_policy('[[change]]\npreset = "do_no_harm"\nmargin = 0.02\n')
    side = CompareSide("baseline", "predictions", "a.csv", None, "score", 0.5, "given")
    result = CompareResult("2026-01-01T00:00:00+00:00", "t", None, side,
                           CompareSide(**{**side.__dict__, "role": "candidate"}), n, "y", ("site",),
                           "a.csv", "0" * 64, None, None, paired, evaluate_changes(paired, policy, "candidate"))
    page = tmp_path / "compare.html"
    page.write_text(render_compare_html(result), encoding="utf-8")
    driver.get(page.as_uri())
    assert _severe(driver) == []
    for section in ("verdict", "overall", "groups", "settings"):
        assert driver.find_element(By.ID, section).is_displayed(), section
    assert driver.execute_script("return document.scripts.length") == 1
    assert "<script>alert(1)</script>" in driver.find_element(By.ID, "verdict").text
    widths = driver.execute_script(
        "return Array.from(document.images).map(i => i.complete ? i.naturalWidth : 0)")
    assert len(widths) == 3 and all(w > 0 for w in widths)
