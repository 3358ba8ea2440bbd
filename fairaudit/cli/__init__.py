"""The Typer command-line interface (``fairaudit``): option parsing and exit codes only."""
