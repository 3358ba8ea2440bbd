"""The self-contained HTML audit report.

``render_html`` turns an :class:`AuditResult` into one HTML page: context first
(:func:`fairaudit.report.context.build_context`), then Jinja2 with autoescape and
``StrictUndefined``. CSS and JS are inlined from the real files in ``templates/`` and figures are
SVG data URIs, so the page opens offline; a Content-Security-Policy forbids any fetch.

Extension point: other pages (e.g. a before/after mitigation comparison) can use
:func:`environment` and ``{% extends "base.html.j2" %}`` / ``{% import "macros.html.j2" as m %}``
to share the look, then :func:`render_template` with their own context.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from fairaudit.result import AuditResult

TEMPLATE_PACKAGE = "fairaudit._templates"
REPORT_TEMPLATE = "report.html.j2"


def _read_resource(name: str) -> str:
    from importlib.resources import files

    return files(TEMPLATE_PACKAGE).joinpath(name).read_text(encoding="utf-8")


@functools.lru_cache(maxsize=1)
def environment() -> Any:
    """The configured Jinja2 environment for fairaudit pages.

    Templates are read through ``importlib.resources`` (editable, wheel and zip installs alike);
    autoescape is on for every template, undefined names raise, and ``inline(name)`` inserts a
    CSS/JS file from the template package verbatim.
    """
    import jinja2
    from markupsafe import Markup

    def load(name: str) -> tuple[str, str, Callable[[], bool]] | None:
        try:
            source = _read_resource(name)
        except (FileNotFoundError, IsADirectoryError):
            return None
        return source, f"{TEMPLATE_PACKAGE}/{name}", lambda: True

    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(load),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )

    def inline(name: str) -> Any:
        if not name.endswith((".css", ".js")):
            raise ValueError(f"only .css and .js files are inlined, not {name!r}")
        # Our own static files; "</" cannot close the surrounding <style>/<script> early.
        text = _read_resource(name)
        if "</style" in text.lower() or "</script" in text.lower():
            raise ValueError(f"{name} must not contain a closing </style> or </script> tag")
        return Markup(text)

    env.globals["inline"] = inline
    return env


def render_template(name: str, context: Mapping[str, Any]) -> str:
    """Render any fairaudit template (``base.html.j2`` children) with a plain context."""
    return environment().get_template(name).render(**context)


def render_html(result: AuditResult, *, suppress_small_cells: int = 0, no_fail: bool = False) -> str:
    """Render the audit report as one self-contained HTML page.

    Parameters
    ----------
    result
        The audit result; the report shows what it holds and computes nothing new.
    suppress_small_cells
        Show counts from 1 to K-1 as ``<K`` and withhold every number and curve of groups with
        fewer than K rows (0: off). Counts inside messages and notes are hidden the same way.
    no_fail
        The run used ``--no-fail``: the exit code shown is 0, the process's own.

    Returns
    -------
    str
        The HTML document.
    """
    from fairaudit.report.context import build_context

    context = build_context(result, suppress_small_cells=suppress_small_cells, figures=True, no_fail=no_fail)
    return render_template(REPORT_TEMPLATE, context)
