"""Historical responses from CSV and XLSX files: read the table (encodings,
delimiters, Qualtrics header rows), map columns to questions and response
fields (with a suggestion), convert cells to typed answers, and import the
rows through the same checks as the API: all or nothing, or skipping bad rows.
"""

from cxloop.collection.imports.mapping import IGNORE, parse_mapping, resolve, suggest, targets
from cxloop.collection.imports.reading import (
    MAX_FILE_BYTES,
    MAX_ROWS,
    FileUnreadable,
    Table,
    read_table,
)
from cxloop.collection.imports.service import (
    ALL_OR_NOTHING,
    SKIP_BAD_ROWS,
    SOURCE_IMPORT,
    Mode,
    Outcome,
    RowError,
    RowsInvalid,
    check_rows,
    preview,
    run_import,
    store_checked,
)

__all__ = [
    "ALL_OR_NOTHING",
    "IGNORE",
    "MAX_FILE_BYTES",
    "MAX_ROWS",
    "SKIP_BAD_ROWS",
    "SOURCE_IMPORT",
    "FileUnreadable",
    "Mode",
    "Outcome",
    "RowError",
    "RowsInvalid",
    "Table",
    "check_rows",
    "parse_mapping",
    "preview",
    "read_table",
    "resolve",
    "run_import",
    "store_checked",
    "suggest",
    "targets",
]
