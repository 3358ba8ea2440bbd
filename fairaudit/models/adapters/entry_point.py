"""A Python entry point ``package.module:factory`` that returns a Predictor.

This **runs the user's code**: the module is imported and the factory called. It happens only
when ``--model`` names an entry point explicitly (``module:attribute``, and no file or folder of
that name exists); a path never leads to an import.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fairaudit.errors import FairauditError, ModelError

if TYPE_CHECKING:  # pragma: no cover
    from fairaudit.data import AuditDataset

ENTRY_POINT = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def is_entry_point(spec: str) -> bool:
    """True for ``package.module:factory`` (the syntax only; nothing is imported)."""
    return bool(ENTRY_POINT.match(spec))


@contextlib.contextmanager
def _cwd_on_path() -> Iterator[None]:
    """Import from the working directory too (as ``python -m`` does), for the import only."""
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        yield
    finally:
        if added and cwd in sys.path:
            sys.path.remove(cwd)


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"


class EntryPointPredictor:
    """The user's Predictor, with its output checked and its provenance recorded.

    Attributes
    ----------
    kind : str
        ``"entry-point"``.
    sha256 : str or None
        The user's predictor's own ``sha256`` if it has one, else the SHA-256 of the module file.
    """

    kind = "entry-point"
    threshold_origin = "entry point"

    def __init__(self, spec: str, predictor: Any, module_file: str | None) -> None:
        self.spec, self.inner = spec, predictor
        own = getattr(predictor, "sha256", None)
        if own is None and module_file and Path(module_file).is_file():
            from fairaudit.models.adapters.tensor import file_sha256

            own = file_sha256(Path(module_file))
        self.sha256: str | None = own
        self.config_sha256 = None
        thr = getattr(predictor, "threshold", None)
        self.threshold: float | None = None if thr is None else float(thr)
        self.threshold_rule = getattr(predictor, "threshold_rule", None) or f"{spec}.threshold"

    def predict_proba(self, dataset: AuditDataset, **_ignored: Any) -> np.ndarray:
        """The user's ``predict_proba(dataset)``, checked: shape (n,), finite, in [0, 1]."""
        try:
            raw = self.inner.predict_proba(dataset)
        except FairauditError:
            raise
        except Exception as exc:  # the user's code: report it, do not pose as a fairaudit bug
            raise ModelError(f"entry point '{self.spec}': predict_proba raised {_short(exc)}.") from None
        try:
            scores = np.asarray(raw, dtype=np.float64)
        except (TypeError, ValueError):
            raise ModelError(f"entry point '{self.spec}': predict_proba returned "
                             f"{type(raw).__name__}, not an array of numbers.") from None
        if scores.shape != (dataset.n_rows,):
            raise ModelError(f"entry point '{self.spec}': predict_proba returned shape "
                             f"{list(scores.shape)}; expected ({dataset.n_rows},), one score per row.")
        bad = ~np.isfinite(scores) | (scores < 0) | (scores > 1)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ModelError(f"entry point '{self.spec}': predict_proba gave {scores[i]!r} for data "
                             f"row {i + 1}; scores must be probabilities in [0, 1].")
        return scores


def load_entry_point(spec: str, config: str | Path | None = None) -> EntryPointPredictor:
    """Import ``module``, call ``factory()`` (or ``factory(config)``), check the Predictor.

    Raises
    ------
    ModelError
        The module cannot be imported, the attribute does not exist, the factory raises, or
        what it returns has no ``predict_proba``.
    """
    module_name, _, attr = spec.partition(":")
    try:
        with _cwd_on_path():
            module = importlib.import_module(module_name)
    except Exception as exc:  # the user's module: any import-time error is theirs
        raise ModelError(f"entry point '{spec}': module '{module_name}' cannot be imported "
                         f"({_short(exc)}).") from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ModelError(f"entry point '{spec}': module '{module_name}' has no attribute '{attr}'.")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ModelError(f"entry point '{spec}' is a {type(obj).__name__}, not a factory function.")
    try:
        predictor = obj(str(config)) if config is not None else obj()
    except FairauditError:
        raise
    except Exception as exc:
        raise ModelError(f"entry point '{spec}': the factory raised {_short(exc)}.") from None
    if not callable(getattr(predictor, "predict_proba", None)):
        raise ModelError(f"entry point '{spec}' returned {type(predictor).__name__}, which has no "
                         "predict_proba(dataset) method (see fairaudit.models.Predictor).")
    return EntryPointPredictor(spec, predictor, getattr(module, "__file__", None))
