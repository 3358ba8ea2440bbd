"""The validated, frozen dataset that everything below ``data/`` trusts."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fairaudit.data.binning import BinsSpec, bin_column, parse_bins, suggest_bins
from fairaudit.data.lazy_frame import FrameField
from fairaudit.data.metadata import join_metadata, key_text
from fairaudit.data.tables import require_columns
from fairaudit.errors import ConfigError, InputError
from fairaudit.naming import SEPARATOR, attribute_label
from fairaudit.result import BinInfo, MetadataInfo

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

UNKNOWN = "unknown"
"""Group name given to rows whose demographic value is missing (never dropped)."""

MAX_NUMERIC_GROUPS = 20
"""A numeric sensitive column with more distinct values than this is refused (bin it first)."""

MAX_UNIQUE_SHARE = 0.5
"""A sensitive column with more than :data:`MAX_NUMERIC_GROUPS` distinct values that also
cover more than this share of the rows looks like an identifier and is refused."""

SCORE_TYPES = ("probability", "logit")
"""What a score column holds: probabilities in [0, 1], or logits (log-odds, any real number)."""

UNKNOWN_MISSING = "unknown (missing)"
"""Group name of the missing values when the column also holds the literal value ``"unknown"``
(which keeps its name: a recorded "unknown" and an empty cell are not merged)."""


def missing_group(names: tuple[str, ...] | list[str]) -> str:
    """The name of the missing-value group among an attribute's group ``names``."""
    return UNKNOWN_MISSING if UNKNOWN_MISSING in names else UNKNOWN


@dataclass(frozen=True, eq=False)
class AuditDataset:
    """A demographically labelled test set, validated once at the boundary.

    Attributes
    ----------
    frame : DataFrame
        The table as read (one row per study), in file order. Models read their inputs from it.
        A :class:`fairaudit.data.lazy_frame.TableReader` given here reads the file on first use.
    root : Path or None
        Directory that relative paths in ``frame`` (e.g. image paths) resolve against.
    source : str
        Where the data came from (a path, or ``"<DataFrame>"``), used in messages.
    label_column, labels
        Name of the label column and the labels as an ``int8`` array of 0 / 1.
    attributes : tuple of str
        The protected attributes, in the order given.
    group_codes : ndarray of shape (n, k)
        ``group_codes[i, j]`` indexes ``group_names[j]``; missing values map to ``"unknown"``.
    group_names : tuple of tuple of str
        The groups of each attribute, in a stable order (``"unknown"`` last).
    scores : ndarray or None
        Predicted probabilities in [0, 1] when the table carries them.
    clusters : ndarray or None
        Integer patient codes (``--cluster``) for the patient-level bootstrap.
    modalities : dict of str to ndarray of bool, or None
        For multimodal manifests, which studies have each modality (image, note, labs).
    sha256 : str
        SHA-256 of the source file's bytes (or of the frame's content).
    """

    frame: pd.DataFrame
    root: Path | None
    source: str
    label_column: str
    labels: np.ndarray
    attributes: tuple[str, ...]
    group_codes: np.ndarray
    group_names: tuple[tuple[str, ...], ...]
    sha256: str
    scores: np.ndarray | None = None
    score_column: str | None = None
    clusters: np.ndarray | None = None
    cluster_column: str | None = None
    unknown_counts: dict[str, int] = field(default_factory=dict)
    modalities: dict[str, np.ndarray] | None = None
    """Per-row presence (bool) of each input modality, when the data is a multimodal manifest."""
    score_type: str | None = None
    """``"probability"`` or ``"logit"`` (converted by a sigmoid) when scores came from a column."""
    pos_label: str | None = None
    """The label value taken as positive, when the labels were text (``pos_label``)."""
    metadata: MetadataInfo | None = None
    """The metadata table the demographics were joined from, if any."""
    n_unmatched_metadata: int | None = None
    """Rows without a match in the metadata (all their attributes are unknown)."""
    bins: dict[str, BinInfo] = field(default_factory=dict)
    """Binned attributes: their cut points and labels."""

    @property
    def n_rows(self) -> int:
        return int(self.labels.shape[0])

    def with_scores(self, scores: np.ndarray, score_column: str = "score") -> AuditDataset:
        """Return a copy carrying ``scores`` (e.g. a model's predictions), validated."""
        checked = validate_scores(np.asarray(scores), self.source, score_column)
        if checked.shape[0] != self.n_rows:
            raise InputError(
                f"got {checked.shape[0]} scores for {self.n_rows} rows of {self.source}."
            )
        return dataclasses.replace(self, scores=checked, score_column=score_column)

    def require_scores(self) -> np.ndarray:
        """The scores; an :class:`InputError` when the dataset carries none (a manifest that no
        model has scored yet, or a table without a score column)."""
        if self.scores is None:
            raise InputError(
                f"{self.source} carries no scores; give the score column or a model to score it."
            )
        return self.scores

    def group_labels(self, attribute: str) -> np.ndarray:
        """The group name of every row for one attribute (object array of str)."""
        j = self.attributes.index(attribute)
        return np.asarray(self.group_names[j], dtype=object)[self.group_codes[:, j]]


setattr(AuditDataset, "frame", FrameField())  # noqa: B010 (after @dataclass, so the field stays required; mypy sees a plain field)


def _row_ref(index: int) -> str:
    # Data row numbers are 1-based, as a spreadsheet shows them below the header.
    return f"data row {index + 1}"


def validate_labels(values: pd.Series, source: str, column: str,
                    pos_label: object | None = None) -> np.ndarray:
    """Binary labels as int8 0/1.

    Without ``pos_label``: 0/1 integers or floats, booleans, and 'true'/'false'. With it: the
    column holds at most two distinct values (e.g. "disease" / "healthy"); rows equal to
    ``pos_label`` (compared as text, so ``1`` and ``"1"`` match) are 1, the others 0.
    """
    import pandas as pd

    s = values
    if s.isna().any():
        i = int(np.flatnonzero(s.isna().to_numpy())[0])
        raise InputError(
            f"label column '{column}' in {source} has {int(s.isna().sum())} missing values "
            f"(first at {_row_ref(i)}); every row needs a label of 0 or 1."
        )
    if pos_label is not None:
        return _labels_by_value(s, source, column, pos_label)
    if pd.api.types.is_bool_dtype(s):
        return s.to_numpy().astype(np.int8)
    if pd.api.types.is_numeric_dtype(s):
        arr = s.to_numpy(dtype=np.float64)
        bad = ~np.isin(arr, (0.0, 1.0))
    else:
        lowered = s.astype(str).str.strip().str.lower()
        mapping = {"0": 0.0, "1": 1.0, "false": 0.0, "true": 1.0, "0.0": 0.0, "1.0": 1.0}
        arr = lowered.map(mapping).to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.isnan(arr)
    if bad.any():
        found = pd.unique(s[bad])[:5]
        shown = ", ".join(repr(v.item() if hasattr(v, "item") else v) for v in found)
        raise InputError(
            f"label column '{column}' in {source} must be binary (0/1); found {shown} "
            f"(first at {_row_ref(int(np.flatnonzero(bad)[0]))}). Encode the positive class as 1, "
            "or name it with --pos-label (pos_label= in Python)."
        )
    return arr.astype(np.int8)


def _labels_by_value(s: pd.Series, source: str, column: str, pos_label: object) -> np.ndarray:
    import pandas as pd

    text = key_text(s)
    wanted = key_text(pd.Series([pos_label])).iloc[0]
    found = sorted(map(str, text.dropna().unique()))
    shown = ", ".join(repr(v) for v in found[:10]) + (f" and {len(found) - 10} more" if len(found) > 10 else "")
    if len(found) > 2:
        raise InputError(
            f"label column '{column}' in {source} has {len(found)} distinct values ({shown}); "
            "a binary label has two."
        )
    if wanted not in found:
        raise InputError(
            f"positive label {str(pos_label)!r} does not occur in label column '{column}' in "
            f"{source}; its values are: {shown}."
        )
    return (text == wanted).to_numpy(dtype=bool, na_value=False).astype(np.int8)


def logit_to_probability(x: np.ndarray) -> np.ndarray:
    """The logistic function, computed without overflow for any real (or infinite) input."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def validate_scores(values: np.ndarray | pd.Series, source: str, column: str,
                    score_type: str = "probability") -> np.ndarray:
    """Scores as float64 probabilities in [0, 1]; NaN or out-of-range values are an error.

    With ``score_type="logit"`` the values are log-odds (any real number, infinities allowed)
    and are turned into probabilities by the logistic function.
    """
    import pandas as pd

    if score_type not in SCORE_TYPES:
        raise ConfigError(f"`score_type` must be one of {', '.join(SCORE_TYPES)}; got {score_type!r}.")
    s = pd.Series(values) if not isinstance(values, pd.Series) else values
    if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        coerced = pd.to_numeric(s, errors="coerce")
        bad = coerced.isna() & s.notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(
                f"score column '{column}' in {source} must be numeric; found {s.iloc[i]!r} "
                f"at {_row_ref(i)}."
            )
        s = coerced
    arr = s.to_numpy(dtype=np.float64, na_value=np.nan)
    nan = np.isnan(arr)
    if nan.any():
        raise InputError(
            f"score column '{column}' in {source} has {int(nan.sum())} missing or NaN values "
            f"(first at {_row_ref(int(np.flatnonzero(nan)[0]))}); every row needs "
            f"{'a probability in [0, 1]' if score_type == 'probability' else 'a logit'}."
        )
    if score_type == "logit":
        return logit_to_probability(arr)
    out = (arr < 0.0) | (arr > 1.0)
    if out.any():
        i = int(np.flatnonzero(out)[0])
        if np.all((arr >= 0.0) & (arr <= 100.0)):
            hint = "percentages? divide by 100"
        else:
            hint = ("logits or log-odds? apply a sigmoid first, or pass --score-type logit "
                    "(score_type='logit' in Python)")
        raise InputError(
            f"score column '{column}' in {source} must hold probabilities in [0, 1]; found "
            f"{float(arr[i]):g} at {_row_ref(i)} ({int(out.sum())} rows out of range; "
            f"range {float(arr.min()):g} to {float(arr.max()):g}): {hint}."
        )
    return arr


def format_value(v: object) -> str:
    """How a group value is spelt: integral floats without the decimals, text stripped."""
    if isinstance(v, float | np.floating) and float(v).is_integer():
        return str(int(v))
    return str(v).strip()


# Inferred column types whose equal values always spell alike (1 == 1.0 both spell "1").
_FACTORIZE_SAFE = frozenset({"string", "empty", "boolean", "integer", "floating", "mixed-integer-float"})


def encode_groups(values: pd.Series) -> tuple[np.ndarray, tuple[str, ...], int]:
    """Encode one demographic column into integer codes and group names.

    Missing values (NaN, None, empty strings) become the explicit group ``"unknown"``, placed
    last; when the column also holds the literal value ``"unknown"``, that value keeps its
    group and the missing values become ``"unknown (missing)"`` (never merged silently). Categorical columns keep their category order; numeric columns sort numerically;
    anything else sorts as text.

    Returns
    -------
    codes : ndarray of int32
    names : tuple of str
    n_unknown : int
    """
    import pandas as pd

    # Vectorised: rows are factorised once and only the distinct values are spelt out.
    s = values
    if isinstance(s.dtype, pd.CategoricalDtype):
        raw = s.cat.codes.to_numpy().astype(np.int64)  # -1 where missing
        spelt = [format_value(c) for c in s.cat.categories]
        keys = [t for t in spelt if t != ""]
    elif pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        raw, uniq = pd.factorize(s, use_na_sentinel=True)
        spelt = [format_value(u) for u in uniq]
        keys = [format_value(u) for u in np.unique(np.asarray(uniq, dtype=np.float64))]
    else:
        if pd.api.types.infer_dtype(s, skipna=True) in _FACTORIZE_SAFE:
            raw, uniq = pd.factorize(s, use_na_sentinel=True)
        else:
            # Mixed types: equal values may spell differently (True == 1), so factorise the
            # spelling of each row instead.
            text = [None if pd.isna(v) else format_value(v) for v in s.to_numpy(dtype=object)]
            raw, uniq = pd.factorize(pd.Series(text, dtype=object), use_na_sentinel=True)
        spelt = [format_value(u) for u in uniq]
        keys = sorted({t for t in spelt if t != ""})
    return group_codes(raw, spelt, keys, str(values.name))


def group_codes(raw: np.ndarray, spelt: list[str], keys: list[str],
                column: str) -> tuple[np.ndarray, tuple[str, ...], int]:
    """Codes, names and missing count of a factorised column (the end of :func:`encode_groups`,
    shared with the pandas-free reader :mod:`fairaudit.data.arrow`).

    Parameters
    ----------
    raw : ndarray of int
        Each row's index into ``spelt``; -1 where the value is missing.
    spelt : list of str
        Each distinct value as text (:func:`format_value`); empty text is missing.
    keys : list of str
        The group names in their order (repeats are dropped).
    column : str
        For the message.
    """
    # Distinct value -> missing? (empty text is missing); the extra last entry is for -1.
    missing_value = np.array([t == "" for t in spelt] + [True])
    missing = missing_value[raw]
    # De-duplicate while keeping order (e.g. categories "1" and 1.0 formatting alike).
    names: list[str] = list(dict.fromkeys(keys))
    n_unknown = int(missing.sum())
    if n_unknown and UNKNOWN_MISSING in names:
        raise InputError(
            f"column '{column}' holds the value {UNKNOWN_MISSING!r}, the name fairaudit gives "
            "missing values, and has missing values; rename that value."
        )
    # A literal "unknown" keeps its name and its rows; the missing values get their own group.
    missing_name = UNKNOWN_MISSING if n_unknown and UNKNOWN in names else UNKNOWN
    if n_unknown:
        names.append(missing_name)
    index = {name: i for i, name in enumerate(names)}
    unknown = index.get(missing_name, -1)
    lut = np.array([unknown if m else index[t] for t, m in zip(spelt, missing_value, strict=False)]
                   + [unknown], dtype=np.int32)
    codes = lut[raw]
    return codes, tuple(names), n_unknown


def check_group_count(
    values: pd.Series, n_groups: int, source: str, column: str
) -> None:
    """Refuse a sensitive column that cannot be a protected attribute.

    A numeric column with more than :data:`MAX_NUMERIC_GROUPS` distinct values (a raw age, a
    lab value), or any column whose distinct values exceed that number and more than
    :data:`MAX_UNIQUE_SHARE` of the rows (an identifier), would make one group per value.

    Parameters
    ----------
    values : Series
        The column as read.
    n_groups : int
        Its number of distinct non-missing values (as :func:`encode_groups` spells them).
    source, column : str
        For the message.

    Raises
    ------
    InputError
        Naming the column and its number of distinct values, and suggesting binning.
    """
    import pandas as pd

    if n_groups <= MAX_NUMERIC_GROUPS:
        return
    numeric = (pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
               and not isinstance(values.dtype, pd.CategoricalDtype))
    n_rows = int(values.shape[0])
    if n_groups > MAX_UNIQUE_SHARE * n_rows:
        what = f"has {n_groups} distinct values in {n_rows} rows (an identifier?)"
    elif numeric:
        what = f"is numeric with {n_groups} distinct values (more than {MAX_NUMERIC_GROUPS})"
    else:
        return
    if numeric:
        bins = " or ".join(f"--bins {b}" for b in suggest_bins(values, column))
        how = (f"bin it first: {bins} (bins={{'{column}': 'q4'}} in Python), or pass "
               "--allow-many-groups (allow_many_groups=True in Python)")
    else:
        how = "bin it first (e.g. age bands) or pass --allow-many-groups (allow_many_groups=True in Python)"
    raise InputError(
        f"sensitive column '{column}' in {source} {what}; a protected attribute needs a few "
        f"groups: {how}."
    )


def parse_columns(spec: str | Sequence[str]) -> list[str]:
    """Split ``"sex,race"`` (or a list of such strings) into column names."""
    items = [spec] if isinstance(spec, str) else list(spec)
    cols = [c.strip() for item in items for c in str(item).split(",") if c.strip()]
    if not cols:
        raise InputError("no sensitive columns given; pass --sensitive COL[,COL...].")
    if len(set(cols)) != len(cols):
        raise InputError(f"sensitive columns repeat: {', '.join(cols)}; name each once.")
    _check_intersection_names(cols)
    return cols


def _check_intersection_names(cols: list[str]) -> None:
    """Refuse columns whose intersection would be named like another column ("a & b")."""
    if not any(SEPARATOR in c for c in cols):
        return
    for r in range(2, len(cols) + 1):
        for combo in itertools.combinations(cols, r):
            name = attribute_label(combo)
            if name in cols:
                raise InputError(
                    f"sensitive column '{name}' has the name of the intersection of "
                    f"{', '.join(map(repr, combo))}; rename the column."
                )


def frame_sha256(frame: pd.DataFrame) -> str:
    """A content hash for frames that did not come from a file."""
    import pandas as pd

    h = hashlib.sha256()
    h.update(",".join(map(str, frame.columns)).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()


def from_frame(
    frame: pd.DataFrame,
    *,
    label: str,
    sensitive: str | Sequence[str],
    score: str | None = None,
    cluster: str | None = None,
    source: str = "<DataFrame>",
    root: Path | None = None,
    sha256: str | None = None,
    allow_many_groups: bool = False,
    metadata: str | Path | pd.DataFrame | None = None,
    on: str | None = None,
    bins: BinsSpec | None = None,
    score_type: str = "probability",
    pos_label: object | None = None,
) -> AuditDataset:
    """Validate a table into an :class:`AuditDataset`.

    Parameters
    ----------
    frame : DataFrame
        One row per study.
    label : str
        Binary label column (1 = disease present).
    sensitive : str or list of str
        Protected attribute columns (``"sex,race"`` or ``["sex", "race"]``).
    score : str, optional
        Column of predicted probabilities in [0, 1].
    cluster : str, optional
        Patient identifier column, for resampling whole patients.
    allow_many_groups : bool
        Accept sensitive columns that :func:`check_group_count` would refuse (a numeric column
        with many values, an identifier-like column).
    metadata, on : optional
        A table (path or DataFrame) to take the sensitive and cluster columns from, joined on
        ``on`` (``COL`` or ``COL=META_COL``); see :mod:`fairaudit.data.metadata`.
    bins : str, list of str or mapping, optional
        Numeric sensitive columns to bin (``"age=40,60,80"``, ``"age=q4"``); see
        :mod:`fairaudit.data.binning`.
    score_type : {"probability", "logit"}
        What the score column holds; logits go through the logistic function.
    pos_label : optional
        The label value meaning "positive" for text labels; the other value is 0.
    """
    import pandas as pd

    attributes = parse_columns(sensitive)
    if len(frame) == 0:
        raise InputError(f"{source} has no data rows.")
    meta_info, n_unmatched = None, None
    if metadata is not None:
        joined = join_metadata(frame, metadata, on, columns=[*attributes, *([cluster] if cluster else [])],
                               source=source)
        frame, meta_info, n_unmatched = joined.frame, joined.info, joined.n_unmatched
    elif on is not None:
        raise ConfigError("`on` names the key of a `metadata` table; give `metadata` as well.")
    require_columns(frame, [label], source, "--label")
    require_columns(frame, attributes, source, "--sensitive")
    if score is not None:
        require_columns(frame, [score], source, "--score")
    if cluster is not None:
        require_columns(frame, [cluster], source, "--cluster")
    if label in attributes:
        raise InputError(f"column '{label}' is both the label and a sensitive attribute.")

    labels = validate_labels(frame[label], source, label, pos_label)
    scores = validate_scores(frame[score], source, score, score_type) if score is not None else None

    codes, names, unknown, binned = _encode_attributes(frame, attributes, bins, source, allow_many_groups)
    clusters = None
    if cluster is not None:
        if frame[cluster].isna().any():
            i = int(np.flatnonzero(frame[cluster].isna().to_numpy())[0])
            raise InputError(
                f"cluster column '{cluster}' in {source} is missing at {_row_ref(i)}; "
                "every study needs its patient id."
            )
        clusters = pd.factorize(frame[cluster], sort=True)[0].astype(np.int64)  # row-order free

    return AuditDataset(
        frame=frame,
        root=root,
        source=source,
        label_column=label,
        labels=labels,
        attributes=tuple(attributes),
        group_codes=np.stack(codes, axis=1).astype(np.int32),
        group_names=tuple(names),
        sha256=sha256 or frame_sha256(frame),
        scores=scores,
        score_column=score,
        clusters=clusters,
        cluster_column=cluster,
        unknown_counts=unknown,
        score_type=score_type if score is not None else None,
        pos_label=None if pos_label is None else str(pos_label),
        metadata=meta_info,
        n_unmatched_metadata=n_unmatched,
        bins=binned,
    )


def _encode_attributes(
    frame: pd.DataFrame, attributes: list[str], bins: BinsSpec | None, source: str,
    allow_many_groups: bool,
) -> tuple[list[np.ndarray], list[tuple[str, ...]], dict[str, int], dict[str, BinInfo]]:
    """Group codes, names and missing counts of each attribute (binned first if asked)."""
    bin_specs = parse_bins(bins)
    if stray := [c for c in bin_specs if c not in attributes]:
        raise ConfigError(f"`bins` names {', '.join(map(repr, stray))}, not a sensitive column "
                          f"(the sensitive columns are: {', '.join(attributes)}).")
    codes: list[np.ndarray] = []
    names: list[tuple[str, ...]] = []
    unknown: dict[str, int] = {}
    binned: dict[str, BinInfo] = {}
    for col in attributes:
        values = frame[col]
        if col in bin_specs:
            values, binned[col] = bin_column(values, *bin_specs[col], column=col, source=source)
        c, n, u = encode_groups(values)
        if not allow_many_groups:
            check_group_count(values, len(n) - (u > 0), source, col)
        codes.append(c)
        names.append(n)
        unknown[col] = u
    return codes, names, unknown, binned
