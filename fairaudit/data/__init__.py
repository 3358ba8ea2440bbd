"""Reading and validating audit data.

Everything that enters fairaudit passes through here once and leaves as a frozen
:class:`AuditDataset`; code below this package trusts it.
"""

from fairaudit.data.dataset import (
    UNKNOWN,
    AuditDataset,
    encode_groups,
    from_frame,
    parse_columns,
)
from fairaudit.data.load import load_table_dataset
from fairaudit.data.tables import file_sha256, read_table, require_columns

__all__ = [
    "UNKNOWN",
    "AuditDataset",
    "encode_groups",
    "file_sha256",
    "from_frame",
    "load_table_dataset",
    "parse_columns",
    "read_table",
    "require_columns",
]
