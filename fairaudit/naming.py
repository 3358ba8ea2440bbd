"""How fairaudit spells a group or an intersection: the one owner of the separator.

An intersection's attribute is its column names joined by ``" & "`` (``"sex & race"``) and its
groups are their values joined the same way (``"F & Black"``). A single attribute's groups are
its values as they are. In a join of two or more parts, a part that could be mistaken for the
separator or for a quoted part (one that contains ``&`` or ``"``) is written in double quotes,
with ``\\`` and ``"`` inside escaped by a backslash::

    group_label(["Private & Medicare", "F"])  ->  '"Private & Medicare" & F'
    group_label(["Private & Medicare"])       ->  'Private & Medicare'

Distinct tuples of the same length therefore always get distinct labels, and
:func:`split_label` recovers the parts. Data, metrics and mitigation import it from here
(layer 0) so that no two of them spell a group differently.
"""

from __future__ import annotations

from collections.abc import Iterable

SEPARATOR = " & "
"""Joins the parts of an intersection's name (attributes or values)."""

_QUOTE = '"'
_ESCAPE = "\\"


def _needs_quotes(part: str) -> bool:
    return "&" in part or _QUOTE in part


def _quote(part: str) -> str:
    inner = part.replace(_ESCAPE, _ESCAPE * 2).replace(_QUOTE, _ESCAPE + _QUOTE)
    return f"{_QUOTE}{inner}{_QUOTE}"


def group_label(values: Iterable[object]) -> str:
    """The display name of a group from its value of each attribute.

    Parameters
    ----------
    values : iterable of str
        The group's value of each attribute of the partition, in the partition's order.

    Returns
    -------
    str
        The single value itself, or the values joined by :data:`SEPARATOR`, quoting any value
        that contains ``&`` or ``"`` (see the module docstring).
    """
    parts = [str(v) for v in values]
    if len(parts) == 1:
        return parts[0]
    return SEPARATOR.join(_quote(p) if _needs_quotes(p) else p for p in parts)


def attribute_label(attributes: Iterable[object]) -> str:
    """The name of an attribute or intersection from its column names (``"sex & race"``).

    Spelt like :func:`group_label`, so a column named ``"race & ethnicity"`` stays itself alone
    and is quoted inside an intersection.
    """
    return group_label(attributes)


def split_label(label: str) -> tuple[str, ...]:
    """Invert :func:`group_label` for a label of two or more parts.

    A label without a quoted part is split at every separator; a plain label that never had a
    separator comes back as one part. Raises ``ValueError`` on a malformed quoted part.
    """
    parts: list[str] = []
    i, n = 0, len(label)
    while True:
        if label.startswith(_QUOTE, i):
            buf: list[str] = []
            j = i + 1
            while j < n and label[j] != _QUOTE:
                if label[j] == _ESCAPE and j + 1 < n:
                    j += 1
                buf.append(label[j])
                j += 1
            if j >= n:
                raise ValueError(f"unterminated quote in group label {label!r}")
            parts.append("".join(buf))
            i = j + 1
            if i == n:
                return tuple(parts)
            if not label.startswith(SEPARATOR, i):
                raise ValueError(f"expected {SEPARATOR!r} after a quoted part in {label!r}")
            i += len(SEPARATOR)
        else:
            j = label.find(SEPARATOR, i)
            if j < 0:
                parts.append(label[i:])
                return tuple(parts)
            parts.append(label[i:j])
            i = j + len(SEPARATOR)
