"""Records as a plain, aligned text table for people: ``nettop list`` (its default format)."""

from __future__ import annotations

from collections.abc import Sequence

from nettop.model import Connection
from nettop.text import local_text, owners_text, remote_text, safe
from nettop.writers.json import Names

TABLE_HEADER = ("Proto", "Local address", "Remote address", "State", "PID/Program", "User")


def table_row(record: Connection, names: Names | None = None) -> tuple[str, ...]:
    """One row of the text table, every cell safe to print (names and addresses may hold escape sequences); the
    peer by its host name where ``names`` has it (``--resolve``)."""
    owners = owners_text(record.owners) or f"- ({record.owner_status.value})"
    return (
        f"{record.proto.value}{record.family}",
        safe(local_text(record)),
        safe(remote_text(record, names.get(record.remote_ip or "") if names else None)),
        record.state.value,
        safe(owners),
        safe(record.user or ""),
    )


def to_table(records: Sequence[Connection], names: Names | None = None) -> str:
    """A plain, aligned text table for people; scripts should use JSON or CSV."""
    rows = [TABLE_HEADER, *(table_row(r, names) for r in records)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(TABLE_HEADER))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines) + "\n"
