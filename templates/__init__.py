"""Jinja2 templates, CSS and JS of the fairaudit reports (installed as ``fairaudit._templates``).

Located with ``importlib.resources.files("fairaudit._templates")`` so editable and wheel installs
behave the same. ``base.html.j2`` defines the page and its blocks; ``macros.html.j2`` the shared
table cells; ``report.html.j2`` the audit report.
"""
