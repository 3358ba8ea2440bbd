"""Figures for the HTML report, drawn from the curve data already in the AuditResult.

Matplotlib's object API only (``Figure`` + Agg/SVG back-ends, never pyplot, so nothing global
changes and it is thread-safe). Output is SVG with a fixed hash salt and no date, returned as a
``data:`` URI, so a report is self-contained and byte-for-byte reproducible. Matplotlib is
imported lazily: ``fairaudit --help`` must not pay for it.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from fairaudit.result import GroupCurves

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
LINESTYLES = ("-", "--", "-.", ":")

# Matplotlib settings every fairaudit figure is drawn under (``matplotlib.rc_context(RC)``).
RC: dict[RcKeyType, Any] = {
    "svg.hashsalt": "fairaudit",
    "svg.fonttype": "none",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e3e6ea",
    "grid.linewidth": 0.6,
    "axes.edgecolor": "#8a929b",
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "legend.fontsize": 8,
    "legend.frameon": False,
}


def style(index: int) -> dict[str, Any]:
    """Colour and line style of the ``index``-th group (stable across the three figures)."""
    return {
        "color": PALETTE[index % len(PALETTE)],
        "linestyle": LINESTYLES[(index // len(PALETTE)) % len(LINESTYLES)],
    }


def plot_label(text: str, limit: int = 34) -> str:
    """``text`` as a legend or tick label: cut to ``limit`` characters, ``$`` shown literally."""
    # Long names would squeeze the plot; the tables carry them in full.
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    # "$" would switch matplotlib to mathtext; group names are data, shown literally.
    return text.replace("$", r"\$")


def _group_label(group: str, insufficient: Sequence[str]) -> str:
    return plot_label(group) + (" (insufficient)" if group in insufficient else "")


def new_figure(width: float = 5.6, height: float = 3.9) -> Any:
    """A matplotlib ``Figure`` (object API, no pyplot) of the given size in inches."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def to_data_uri(fig: Any, title: str | None = None) -> str:
    """Serialise a figure as a deterministic SVG ``data:`` URI (``title`` goes in its metadata)."""
    import matplotlib

    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "fairaudit", "svg.fonttype": "none"}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": "fairaudit", "Title": title})
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def legend(ax: Any, handles: list | None = None, ncol: int = 2) -> None:
    """Put the legend of ``ax`` (or of ``handles``) below the axes, in ``ncol`` columns."""
    # Below the axes, so long group names never shrink the plot.
    if handles is None:
        handles, _ = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.16),
                  ncol=ncol, handlelength=2.2, columnspacing=1.4)


def roc_figure(
    title: str,
    curves: Sequence[GroupCurves],
    operating: Mapping[str, tuple[float, float]],
    insufficient: Sequence[str] = (),
) -> str:
    """ROC curve per group; ``operating`` maps a group to its (FPR, TPR) at the threshold."""
    import matplotlib

    with matplotlib.rc_context(RC):
        fig = new_figure(5.2, 5.6)
        ax = fig.add_subplot()
        ax.plot([0, 1], [0, 1], color="#b0b6bd", linewidth=0.8, linestyle=":", label="chance")
        for i, c in enumerate(curves):
            st = style(i)
            ax.plot(c.roc_fpr, c.roc_tpr, linewidth=1.6, label=_group_label(c.group, insufficient), **st)
            if c.group in operating:
                x, y = operating[c.group]
                ax.plot([x], [y], marker="o", markersize=5, color=st["color"],
                        markeredgecolor="white", linestyle="none")
        ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="False positive rate (1 − specificity)",
               ylabel="True positive rate (sensitivity)")
        ax.set_aspect("equal")
        legend(ax)
        return to_data_uri(fig, title)


def reliability_figure(
    title: str, curves: Sequence[GroupCurves], insufficient: Sequence[str] = ()
) -> str:
    """Observed event rate against mean predicted score per bin, per group."""
    import matplotlib

    with matplotlib.rc_context(RC):
        fig = new_figure(5.2, 5.6)
        ax = fig.add_subplot()
        ax.plot([0, 1], [0, 1], color="#b0b6bd", linewidth=0.8, linestyle=":", label="perfect calibration")
        for i, c in enumerate(curves):
            pts = [
                (s, o) for s, o, k in zip(c.reliability_score, c.reliability_observed,
                                          c.reliability_count, strict=False)
                if s is not None and o is not None and k > 0
            ]
            if not pts:
                continue
            xs, ys = zip(*pts, strict=True)
            ax.plot(xs, ys, marker="o", markersize=3.5, linewidth=1.4, label=_group_label(c.group, insufficient), **style(i))
        ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="Mean predicted score in bin",
               ylabel="Observed positive rate")
        ax.set_aspect("equal")
        legend(ax)
        return to_data_uri(fig, title)


def threshold_figure(
    title: str,
    curves: Sequence[GroupCurves],
    threshold: float,
    group_thresholds: Mapping[str, float] | None = None,
    insufficient: Sequence[str] = (),
) -> str:
    """TPR (solid) and FPR (dashed) of each group against the threshold; operating point marked."""
    import matplotlib
    from matplotlib.lines import Line2D

    with matplotlib.rc_context(RC):
        fig = new_figure(6.8, 4.6)
        ax = fig.add_subplot()
        handles = []
        for i, c in enumerate(curves):
            color = style(i)["color"]
            tpr = [(t, v) for t, v in zip(c.thresholds, c.threshold_tpr, strict=False) if v is not None]
            fpr = [(t, v) for t, v in zip(c.thresholds, c.threshold_fpr, strict=False) if v is not None]
            if tpr:
                ax.plot(*zip(*tpr, strict=True), color=color, linewidth=1.5, linestyle="-")
            if fpr:
                ax.plot(*zip(*fpr, strict=True), color=color, linewidth=1.2, linestyle="--")
            handles.append(Line2D([], [], color=color, linewidth=2, label=_group_label(c.group, insufficient)))
            if group_thresholds and c.group in group_thresholds:
                ax.axvline(group_thresholds[c.group], color=color, linewidth=1, linestyle=":")
        if not group_thresholds:
            ax.axvline(threshold, color="#222", linewidth=1.1)
            ax.annotate(f"operating threshold {threshold:.3g}", xy=(threshold, 1.0),
                        xytext=(4, -2), textcoords="offset points", fontsize=8, va="top")
        handles += [
            Line2D([], [], color="#555", linestyle="-", label="TPR"),
            Line2D([], [], color="#555", linestyle="--", label="FPR"),
        ]
        ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="Decision threshold on the score",
               ylabel="Rate")
        legend(ax, handles, ncol=3)
        return to_data_uri(fig, title)


def funnel_figure(title: str, panels: Sequence[Mapping[str, Any]]) -> str:
    """Funnel plots side by side: each group's rate against its denominator, control limits.

    Each panel maps ``label`` (the metric), ``xlabel``, ``overall`` (the target rate),
    ``points`` (``(m, rate, flagged)`` per group), ``limits`` (``(m, lo95, hi95, lo998, hi998)``
    along a grid of denominators) and ``annotate`` (``(m, rate, group)`` to name). With hundreds
    of groups the points are rasterised inside the SVG to keep the file small.
    """
    import matplotlib

    with matplotlib.rc_context(RC):
        fig = new_figure(4.2 * len(panels), 4.0)
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        for ax, p in zip(axes, panels, strict=True):
            grid = p["limits"]
            ms = [row[0] for row in grid]
            ax.plot(ms, [r[1] for r in grid], color="#8a929b", linewidth=1, linestyle="--", label="95% limits")
            ax.plot(ms, [r[2] for r in grid], color="#8a929b", linewidth=1, linestyle="--")
            ax.plot(ms, [r[3] for r in grid], color="#D55E00", linewidth=1, linestyle=":", label="99.8% limits")
            ax.plot(ms, [r[4] for r in grid], color="#D55E00", linewidth=1, linestyle=":")
            ax.axhline(p["overall"], color="#222", linewidth=1, label=f"overall {p['overall']:.3f}")
            many = len(p["points"]) > 200
            for flag, colour, size in ((False, PALETTE[0], 10), (True, PALETTE[1], 22)):
                pts = [(m, r) for m, r, f in p["points"] if f is flag]
                if pts:
                    xs, ys = zip(*pts, strict=True)
                    ax.scatter(xs, ys, s=size, color=colour, alpha=0.75, linewidths=0,
                               rasterized=many, label="flagged" if flag else "group")
            low = [a for a in p["annotate"] if a[1] < p["overall"]]
            high = [a for a in p["annotate"] if a[1] >= p["overall"]]
            for top, items in ((0.45, low), (0.93, high)):  # a column of names with leader lines
                for i, (m, r, group) in enumerate(items):
                    ax.annotate(plot_label(group, 14), xy=(m, r), xytext=(1.02, top - 0.07 * i),
                                textcoords="axes fraction", fontsize=7, ha="left", va="center",
                                arrowprops={"arrowstyle": "-", "color": "#8a929b", "lw": 0.5})
            ax.set_xscale("log")
            ax.set(ylim=(-0.02, 1.02), xlabel=p["xlabel"], ylabel=p["label"], title=p["label"])
            legend(ax, ncol=2)
        return to_data_uri(fig, title)


def caterpillar_figure(title: str, panels: Sequence[Mapping[str, Any]]) -> str:
    """Caterpillar plots: groups ranked by value, each with its interval, and the overall line.

    Each panel maps ``label``, ``overall`` (or None), ``interval_kind`` (a legend text) and
    ``rows`` (``(value, low, high, flagged)`` per group, ranked by value; low/high may be None).
    """
    import matplotlib

    with matplotlib.rc_context(RC):
        fig = new_figure(4.2 * len(panels), 4.0)
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        for ax, p in zip(axes, panels, strict=True):
            rows = p["rows"]
            many = len(rows) > 200
            for flag, colour in ((False, PALETTE[0]), (True, PALETTE[1])):
                idx = [i for i, r in enumerate(rows) if r[3] is flag]
                bars = [(i, rows[i][1], rows[i][2]) for i in idx if rows[i][1] is not None]
                if bars:
                    ax.vlines([b[0] for b in bars], [b[1] for b in bars], [b[2] for b in bars],
                              color=colour, alpha=0.25 if many else 0.5, linewidth=0.5 if many else 0.9,
                              rasterized=many)
                if idx:
                    ax.scatter(idx, [rows[i][0] for i in idx], s=16 if flag else (6 if many else 14), color=colour,
                               linewidths=0, rasterized=many, label="flagged" if flag else p["interval_kind"])
            if p["overall"] is not None:
                ax.axhline(p["overall"], color="#222", linewidth=1, label=f"overall {p['overall']:.3f}")
            ax.set(xlim=(-1, max(len(rows), 1)), ylim=(-0.02, 1.02), xlabel="Groups ranked by value",
                   ylabel=p["label"], title=p["label"])
            ax.set_xticks([])
            legend(ax, ncol=2)
        return to_data_uri(fig, title)
