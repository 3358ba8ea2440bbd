"""The one interface the audit needs from a model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from fairaudit.data import AuditDataset


@runtime_checkable
class Predictor(Protocol):
    """Anything that turns an :class:`~fairaudit.data.AuditDataset` into probabilities.

    Attributes
    ----------
    sha256 : str or None
        Content hash of the model (recorded in the audit's provenance).
    threshold : float or None
        The decision threshold frozen on validation data, if the model carries one.
    """

    sha256: str | None
    threshold: float | None

    def predict_proba(self, dataset: AuditDataset) -> np.ndarray:
        """Probability of the positive class for every row of ``dataset``, shape (n,)."""
        ...
