"""The ``fairaudit`` command. Each command lives in its own module and stays thin.

Command modules import only typer and the standard library at module level so that
``fairaudit --help`` is instant; heavy libraries load inside the command bodies.
"""

from __future__ import annotations

import typer

from fairaudit._version import __version__

app = typer.Typer(
    name="fairaudit",
    help=(
        "Fairness audits for medical diagnostic models: per-group performance, demographic "
        "parity, equal opportunity and equalised odds with confidence intervals, mitigations, "
        "HTML reports and CI gates.\n\n"
        "Exit codes: 0 passed (or no policy), 1 policy failed, 2 error, 3 inconclusive."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: rich's option table truncates long option names ("--group-thresh…") at 80
    # columns; click's formatter wraps the help text and always prints names in full.
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"fairaudit {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """fairaudit"""


def _register() -> None:
    from fairaudit.cli import audit
    from fairaudit.cli.help_panels import SectionedCommand

    app.command("audit", help=audit.HELP, cls=SectionedCommand)(audit.audit_command)
    from fairaudit.cli import report

    app.command("report", help=report.HELP)(report.report_command)
    from fairaudit.cli import mitigate

    app.command("mitigate", help=mitigate.HELP, cls=SectionedCommand)(mitigate.mitigate_command)
    from fairaudit.cli import compare

    app.command("compare", help=compare.HELP, cls=SectionedCommand)(compare.compare_command)
    from fairaudit.cli import sample_data, train

    app.command("sample-data", help=sample_data.HELP)(sample_data.sample_data_command)
    app.command("train", help=train.HELP)(train.train_command)
    from fairaudit.cli import export

    app.command("export", help=export.HELP)(export.export_command)
    from fairaudit.cli import schema

    app.command("schema", help=schema.HELP)(schema.schema_command)
    from fairaudit.cli import stress

    app.command("stress", help=stress.HELP)(stress.stress_command)


_register()


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
