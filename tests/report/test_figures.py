"""fairaudit.report.figures: deterministic SVG figures with data shown literally."""

from __future__ import annotations

import base64

from fairaudit.report.figures import (
    LINESTYLES,
    PALETTE,
    plot_label,
    reliability_figure,
    roc_figure,
    style,
    threshold_figure,
)
from tests.report.reportdata import make_result


def _svg(uri: str) -> str:
    prefix = "data:image/svg+xml;base64,"
    assert uri.startswith(prefix)
    return base64.b64decode(uri[len(prefix):]).decode("utf-8")


def test_styles_cycle_colours_then_line_styles() -> None:
    n = len(PALETTE)
    assert style(0) == {"color": PALETTE[0], "linestyle": LINESTYLES[0]}
    assert style(n) == {"color": PALETTE[0], "linestyle": LINESTYLES[1]}
    assert style(1) != style(0)


def test_plot_labels_are_cut_and_dollars_are_literal() -> None:
    assert plot_label("a" * 40, limit=10) == "a" * 9 + "…"
    assert plot_label("$x$ group") == r"\$x\$ group"


def test_figures_are_deterministic_svg_with_their_title() -> None:
    result = make_result(n_bootstrap=0)
    curves = [c for c in result.curves if c.attribute == "race"]
    first = roc_figure("ROC by race", curves, {c.group: (0.2, 0.7) for c in curves})
    assert roc_figure("ROC by race", curves, {c.group: (0.2, 0.7) for c in curves}) == first
    svg = _svg(first)
    assert svg.lstrip().startswith("<?xml") and "<title>ROC by race</title>" in svg
    for make in (reliability_figure, lambda t, c: threshold_figure(t, c, 0.5)):
        assert "<svg" in _svg(make("by race", curves))
