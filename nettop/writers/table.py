"""Records as a plain, aligned text table for people: ``nettop list`` (its default format)."""

from __future__ import annotations

from collections.abc import Sequence

from nettop.model import Connection
from nettop.text import bytes_text, local_text, owners_text, remote_text, rtt_text, safe
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


def traffic_cells(record: Connection) -> tuple[str, str, str]:
    """Bytes in and out (with their rates, once known) and the round-trip time; dashes where none is kept."""
    traffic = record.traffic
    if traffic is None:
        return ("—", "—", "—")

    def side(total: int | None, rate: int | None) -> str:
        shown = "?" if total is None else bytes_text(total)
        return shown if rate is None else f"{shown} ({bytes_text(rate)}/s)"

    return side(traffic.bytes_in, traffic.rate_in), side(traffic.bytes_out, traffic.rate_out), rtt_text(traffic.rtt_us)


def to_table(records: Sequence[Connection], names: Names | None = None) -> str:
    """A plain, aligned text table for people; scripts should use JSON or CSV. A listing of several network
    namespaces (``--all-netns``) says each row's first (blank: nettop's own), and one with traffic (``--rates``)
    says it last."""
    with_netns = any(r.netns is not None for r in records)
    with_traffic = any(r.traffic is not None for r in records)
    header = (*(("Netns",) if with_netns else ()), *TABLE_HEADER, *(("In", "Out", "RTT") if with_traffic else ()))
    rows = [header]
    for record in records:
        row = table_row(record, names)
        if with_netns:
            row = (safe(record.netns or ""), *row)
        if with_traffic:
            row = (*row, *traffic_cells(record))
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines) + "\n"
