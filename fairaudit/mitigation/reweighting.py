"""Reweighting (Kamiran & Calders 2012): make group and label independent in the weighted data.

Each (group a, label y) cell gets the weight

    w(a, y) = P(A = a) P(Y = y) / P(A = a, Y = y)

estimated on the training data, so that in the weighted data every group has the overall label
distribution. The weights go into the training loss as per-row sample weights. With several
attributes the groups are their intersections (``"F & Black"``), as in aif360's
:class:`aif360.sklearn.preprocessing.Reweighing` with a list of protected attributes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from fairaudit.data.dataset import encode_groups
from fairaudit.errors import InputError
from fairaudit.naming import SEPARATOR as INTERSECTION_SEPARATOR
from fairaudit.naming import attribute_label, group_label


def group_labels(sensitive_features: Any) -> tuple[np.ndarray, str]:
    """Turn sensitive features into one group name per row, plus an attribute name.

    Parameters
    ----------
    sensitive_features : array-like of shape (n,) or (n, k), Series or DataFrame
        One column per protected attribute. Several columns form their intersection; group
        names join the values with ``" & "`` (:func:`fairaudit.naming.group_label`, quoting a
        value that contains ``&``), as fairaudit's audit does. Missing values become the group
        ``"unknown"``, as everywhere in fairaudit.

    Returns
    -------
    groups : ndarray of str (object), shape (n,)
    attribute : str
        The column name(s) joined by ``" & "`` (``"group"`` when the input has no names).
    """
    codes, names, attribute = group_codes(sensitive_features)
    return np.asarray(names, dtype=object)[codes], attribute


def _as_frame(sensitive_features: Any) -> pd.DataFrame:
    """One column per protected attribute."""
    if isinstance(sensitive_features, pd.DataFrame):
        return sensitive_features
    if isinstance(sensitive_features, pd.Series):
        name = sensitive_features.name if sensitive_features.name is not None else "group"
        return sensitive_features.to_frame(name=name)
    arr = np.asarray(sensitive_features, dtype=object)
    if arr.ndim == 1:
        return pd.DataFrame({"group": arr})
    if arr.ndim == 2:
        return pd.DataFrame(arr, columns=[f"attribute_{j}" for j in range(arr.shape[1])])
    raise InputError(
        f"sensitive features must be one column per attribute (1-D or 2-D); got an "
        f"array with {arr.ndim} dimensions."
    )


def group_codes(sensitive_features: Any) -> tuple[np.ndarray, tuple[str, ...], str]:
    """Like :func:`group_labels`, as integer codes into the sorted tuple of group names.

    Returns
    -------
    codes : ndarray of int64, shape (n,)
    names : tuple of str, sorted
    attribute : str
    """
    return _frame_codes(_as_frame(sensitive_features))


def _frame_codes(frame: pd.DataFrame) -> tuple[np.ndarray, tuple[str, ...], str]:
    """Codes into the sorted names of the intersection groups of ``frame``'s columns.

    Vectorised: each column is encoded once and only the occurring combinations are spelt out.
    """
    if frame.shape[1] == 0:
        raise InputError("no sensitive features given; pass at least one attribute column.")
    # Each column spelt as the audit spells it (missing values are "unknown").
    parts = [encode_groups(frame[col])[:2] for col in frame.columns]
    dims = tuple(max(len(names), 1) for _, names in parts)  # an empty column has no names
    combo = np.ravel_multi_index(tuple(codes for codes, _ in parts), dims)
    seen, inverse = np.unique(combo, return_inverse=True)
    per_col = np.unravel_index(seen, dims)
    spelt = [group_label(parts[j][1][per_col[j][k]] for j in range(len(parts))) for k in range(seen.size)]
    order = np.argsort(np.asarray(spelt, dtype=str), kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    attribute = attribute_label(frame.columns)
    return rank[inverse.ravel()].astype(np.int64), tuple(spelt[i] for i in order), attribute


def _check_labels(labels: Any, n: int | None = None) -> np.ndarray:
    y = np.asarray(labels)
    if y.ndim != 1:
        raise InputError(f"labels must be one value per row (1-D); got shape {y.shape}.")
    if n is not None and y.shape[0] != n:
        raise InputError(f"got {y.shape[0]} labels for {n} rows of sensitive features.")
    if y.shape[0] == 0:
        raise InputError("no rows to weight: labels are empty.")
    if pd.isna(pd.Series(y)).any():
        raise InputError("labels contain missing values; every row needs a label of 0 or 1.")
    return y


def _cell_weights(
    y: np.ndarray, g_code: np.ndarray, n_g: int, base: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Label values, factors (group x label) and each row's cell; the arithmetic follows
    aif360 to agree to the last bits."""
    y_values, y_code = np.unique(y, return_inverse=True)
    y_code = y_code.ravel()
    n_y = len(y_values)
    cell = g_code * n_y + y_code
    n_cell = np.bincount(cell, weights=base, minlength=n_g * n_y).reshape(n_g, n_y)
    total = base.sum()
    n_group = np.bincount(g_code, weights=base, minlength=n_g)
    n_label = np.bincount(y_code, weights=base, minlength=n_y)
    with np.errstate(divide="ignore", invalid="ignore"):
        # w(a, y) = (N_a / N) * N_y / N_ay, the order aif360 multiplies in.
        factors = n_group[:, None] / total * n_label[None, :] / n_cell
    factors[n_cell == 0] = np.nan
    return y_values, factors, cell


def reweighting_weights(
    labels: Any, groups: Any, *, sample_weight: Any | None = None
) -> np.ndarray:
    """Kamiran-Calders weights, one per row: w(a, y) = P(a) P(y) / P(a, y).

    Parameters
    ----------
    labels : array-like of shape (n,)
        Class labels (usually 0/1).
    groups : array-like of shape (n,) or (n, k), Series or DataFrame
        The protected attribute(s); several columns are reweighted over their intersection.
    sample_weight : array-like of shape (n,), optional
        Existing row weights; probabilities are then weighted sums and the result is the
        existing weight times the factor (as in aif360).

    Returns
    -------
    ndarray of float64, shape (n,)
        Equal to ``aif360.sklearn.preprocessing.Reweighing().fit_transform(X, y)[1]``
        (and to aif360's ``Reweighing`` transformer's ``instance_weights`` for one binary
        attribute). The weighted mean of the weights is 1.
    """
    g_code, g_names, _ = group_codes(groups)
    y = _check_labels(labels, g_code.shape[0])
    base = _check_sample_weight(sample_weight, y.shape[0])
    _, factors, cell = _cell_weights(y, g_code, len(g_names), base)
    return factors.reshape(-1)[cell] * base


def _check_sample_weight(sample_weight: Any | None, n: int) -> np.ndarray:
    if sample_weight is None:
        return np.ones(n, dtype=np.float64)
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.shape != (n,):
        raise InputError(f"sample_weight must have one value per row ({n}); got shape {w.shape}.")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise InputError("sample_weight must be finite and non-negative.")
    if w.sum() <= 0:
        raise InputError("sample_weight sums to zero; at least one row needs a positive weight.")
    return w


class Reweighing:
    """Estimator-style Kamiran-Calders reweighting (the name aif360 and the literature use).

    It has no hyper-parameters: the weights are determined by the training data alone.

    Attributes
    ----------
    attribute_ : str
        The attribute (or intersection, ``"sex & race"``) the weights were fitted over.
    groups_ : tuple of str
        The groups seen in :meth:`fit`.
    classes_ : ndarray
        The labels seen in :meth:`fit`.
    factors_ : dict of (group, label) to float
        The weight of each (group, label) cell. Cells that did not occur are absent.

    Examples
    --------
    >>> rw = Reweighing().fit(y_train, sensitive_features=train_frame[["sex", "race"]])
    >>> w = rw.transform(y_train, sensitive_features=train_frame[["sex", "race"]])
    """

    def fit(self, y: Any, *, sensitive_features: Any, sample_weight: Any | None = None) -> Reweighing:
        """Estimate the cell weights on training labels and their groups. Returns self."""
        g_code, g_values, attribute = group_codes(sensitive_features)
        labels = _check_labels(y, g_code.shape[0])
        base = _check_sample_weight(sample_weight, labels.shape[0])
        y_values, factors, _ = _cell_weights(labels, g_code, len(g_values), base)
        self.attribute_ = attribute
        self.groups_ = tuple(str(v) for v in g_values)
        self.classes_ = y_values
        self.factors_: dict[tuple[str, Any], float] = {
            (str(gv), yv.item() if hasattr(yv, "item") else yv): float(factors[i, j])
            for i, gv in enumerate(g_values)
            for j, yv in enumerate(y_values)
            if np.isfinite(factors[i, j])
        }
        return self

    def transform(self, y: Any, *, sensitive_features: Any, sample_weight: Any | None = None) -> np.ndarray:
        """Per-row weights for (possibly new) rows; a cell not seen in :meth:`fit` is an error."""
        if not hasattr(self, "factors_"):
            raise InputError("Reweighing is not fitted yet; call fit(y, sensitive_features=...) first.")
        g_code, g_names, _ = group_codes(sensitive_features)
        labels = _check_labels(y, g_code.shape[0])
        base = _check_sample_weight(sample_weight, labels.shape[0])
        y_values, y_code = np.unique(labels, return_inverse=True)
        y_code = y_code.ravel()
        # The fitted factor of every (group, label) combination present, NaN where unseen.
        table = np.array([[self.factors_.get((g, yv.item() if hasattr(yv, "item") else yv), np.nan)
                           for yv in y_values] for g in g_names], dtype=np.float64).reshape(len(g_names), -1)
        out = table[g_code, y_code]
        unseen = np.flatnonzero(np.isnan(out))
        if unseen.size:
            i = int(unseen[0])
            raise InputError(
                f"row {i + 1} has group {g_names[g_code[i]]!r} with label {labels[i].item()!r}, a "
                f"combination not seen when the weights were fitted (seen groups: "
                f"{', '.join(self.groups_)})."
            )
        return out * base

    def fit_transform(self, y: Any, *, sensitive_features: Any, sample_weight: Any | None = None) -> np.ndarray:
        """Fit on the rows and return their weights (what training uses)."""
        return self.fit(y, sensitive_features=sensitive_features, sample_weight=sample_weight).transform(
            y, sensitive_features=sensitive_features, sample_weight=sample_weight
        )

    def table(self) -> list[Mapping[str, Any]]:
        """The fitted weights as rows ``{group, label, weight}`` (for reports and provenance)."""
        return [{"group": g, "label": y, "weight": w} for (g, y), w in self.factors_.items()]


__all__: Sequence[str] = [
    "INTERSECTION_SEPARATOR", "Reweighing", "group_codes", "group_labels", "reweighting_weights",
]
