"""fairaudit._version: the run record's package versions without importlib.metadata."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

from fairaudit._version import installed_versions

ROOT = Path(__file__).resolve().parents[1]
NAMES = ("numpy", "pandas", "scipy", "torch", "fairlearn", "aif360", "matplotlib", "jinja2",
         "typer", "pyarrow", "Jinja2", "fairaudit-med", "fairaudit_med", "no-such-distribution")


def _metadata(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def test_installed_versions_equal_importlib_metadatas() -> None:
    got = installed_versions(NAMES)
    assert got == {n: v for n in NAMES if (v := _metadata(n)) is not None}
    assert list(got) == [n for n in NAMES if n in got]  # in the order asked
    assert "no-such-distribution" not in got


def test_installed_versions_read_no_metadata_file_in_a_fresh_process() -> None:
    code = ("import sys; from fairaudit._version import installed_versions\n"
            "v = installed_versions(('numpy', 'pandas', 'jinja2'))\n"
            "assert len(v) == 3 and 'importlib.metadata' not in sys.modules, sorted(sys.modules)\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
