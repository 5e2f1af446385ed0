"""Records as CSV or TSV: ``nettop list --format csv`` / ``tsv`` and the viewer's ``.csv`` / ``.tsv`` export.

One row a socket, the JSON schema's fields as columns (``writers.json.FIELDS``), ``owners`` flattened to
``pid/name;pid/name`` and ``traffic`` to one column a count (``traffic_bytes_in``, ...). A TSV cell never
holds a tab or a line end: ``safe`` writes them ``\\t``, ``\\n``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

from nettop.model import Connection
from nettop.text import owners_text, safe
from nettop.writers.json import FIELDS, TRAFFIC_FIELDS, Names, record_to_dict

#: The columns: JSON's fields, with ``traffic``'s counts in columns of their own where it stood.
CSV_FIELDS = tuple(
    column
    for name in FIELDS
    for column in ((f"traffic_{part}" for part in TRAFFIC_FIELDS) if name == "traffic" else (name,))
)


def to_csv(records: Iterable[Connection], names: Names | None = None) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    writer.writerows(_rows(records, names))
    return out.getvalue()


def to_tsv(records: Iterable[Connection], names: Names | None = None) -> str:
    return "".join("\t".join(map(str, row)) + "\n" for row in (CSV_FIELDS, *_rows(records, names)))


def _rows(records: Iterable[Connection], names: Names | None) -> Iterator[list[Any]]:
    for record in records:
        row = record_to_dict(record, names=names)
        row["owners"] = owners_text(record.owners, unknown="", sep=";")
        container, pod = row["container"], row["pod"]  # one cell each: runtime:name (or id), namespace/name
        if container is not None:
            row["container"] = f"{container['runtime']}:{container['name'] or container['id']}"
        if pod is not None:
            row["pod"] = f"{pod['namespace']}/{pod['name']}" if pod["name"] else pod["uid"]
        traffic = row.pop("traffic") or {}
        for part in TRAFFIC_FIELDS:
            row[f"traffic_{part}"] = traffic.get(part)
        yield [_csv_cell(row[name]) for name in CSV_FIELDS]


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
