"""Records as CSV: ``nettop list --format csv`` and the viewer's ``.csv`` export.

One row a socket, the JSON schema's fields as columns (``writers.json.FIELDS``), ``owners`` flattened to
``pid/name;pid/name``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from nettop.model import Connection
from nettop.text import owners_text, safe
from nettop.writers.json import FIELDS, record_to_dict


def to_csv(records: Iterable[Connection]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FIELDS)
    for record in records:
        row = record_to_dict(record)
        row["owners"] = owners_text(record.owners, unknown="", sep=";")
        writer.writerow(_csv_cell(row[name]) for name in FIELDS)
    return out.getvalue()


def _csv_cell(value: Any) -> Any:
    """Empty for None, and JSON's spelling for booleans, so both exports read alike. Text is made safe: a CSV
    is read on terminals too (``cat``, ``column``), and JSON is the export that keeps exact values."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return safe(value)
    return value
