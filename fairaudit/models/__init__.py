"""Models under audit.

:class:`Predictor` is the protocol the audit needs (``predict_proba(dataset) -> scores``).
"""

from fairaudit.models.base import Predictor

__all__ = ["Predictor"]
