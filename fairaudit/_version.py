from __future__ import annotations

import os
import re
import sys

__version__ = "0.1.0"


def installed_versions(names: tuple[str, ...]) -> dict[str, str]:
    """The installed version of each distribution in ``names`` that is installed.

    An imported module's ``__version__`` where it has one (the code that ran), else the version
    in the name of its ``<name>-<version>.dist-info`` directory on ``sys.path``, the record
    ``importlib.metadata`` reads too; ``importlib.metadata`` itself only for a distribution
    found neither way (an egg, a zip). Importing ``importlib.metadata`` and parsing eight
    metadata files cost about 20 ms of a cold command line (timed by hand: ``-X importtime``
    and a timer around the lookups).
    """
    out: dict[str, str] = {}
    missing = []
    for name in names:
        version = getattr(sys.modules.get(name), "__version__", None)
        if isinstance(version, str):
            out[name] = version
        else:
            missing.append(name)
    if missing:
        found = _dist_info_versions()
        for name in missing:
            if _normalised(name) in found:
                out[name] = found[_normalised(name)]
                continue
            import importlib.metadata

            try:
                out[name] = importlib.metadata.version(name)
            except importlib.metadata.PackageNotFoundError:
                continue
    return {name: out[name] for name in names if name in out}


def _dist_info_versions() -> dict[str, str]:
    """Normalised distribution name -> version, from the first ``.dist-info`` directory of
    each name on ``sys.path`` (in path order, as the import system finds it)."""
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            listing = os.listdir(entry or ".")
        except OSError:
            continue
        for item in listing:
            if item.endswith(".dist-info") and "-" in item:
                name, _, version = item[: -len(".dist-info")].partition("-")
                found.setdefault(_normalised(name), version)
    return found


def _normalised(name: str) -> str:
    """A distribution name as ``.dist-info`` directories spell it, lower-cased (PEP 503, with
    the underscore of wheel file names)."""
    return re.sub(r"[-_.]+", "_", name).lower()
