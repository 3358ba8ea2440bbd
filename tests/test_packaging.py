"""Packaging: the distribution name, license and dependency ranges, and how the CI examples
install the project."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
EXAMPLES = sorted((ROOT / "examples").glob("*.yml"))


def _requirement(name: str) -> Requirement:
    return next(r for r in map(Requirement, PROJECT["project"]["dependencies"]) if r.name == name)


def test_the_distribution_name_is_not_the_unrelated_fairaudit_on_the_index():
    assert PROJECT["project"]["name"] == "fairaudit-med"
    assert PROJECT["project"]["scripts"] == {"fairaudit": "fairaudit.cli.app:main"}


def test_license_is_an_spdx_expression_and_setuptools_can_read_it():
    assert PROJECT["project"]["license"] == "Apache-2.0"
    backend = Requirement(PROJECT["build-system"]["requires"][0])
    assert backend.name == "setuptools" and not backend.specifier.contains("76.9")  # PEP 639: 77+


def test_torch_is_a_range_that_admits_the_cpu_build_the_makefile_installs():
    spec = _requirement("torch").specifier
    assert str(spec) in (">=2.4,<3", "<3,>=2.4")
    pinned = re.search(r'"torch==([\d.]+)"', (ROOT / "Makefile").read_text()).group(1)
    assert spec.contains(Version(pinned))


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_ci_examples_install_this_project_not_the_index_namesake(example):
    text = example.read_text(encoding="utf-8")
    installs = [line.split("#")[0] for line in text.splitlines() if "pip install" in line.split("#")[0]]
    assert installs, example
    for line in installs:
        assert not re.search(r"pip install\s+[\"']?fairaudit\b(?![-_.]med)", line), line
        assert "git+" not in line
    assert any(re.search(r"pip install \.(\s|$)", line) for line in installs)
