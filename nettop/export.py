"""Write records as JSON, CSV or a plain text table; the JSON schema is documented in the README.

JSON is a list of objects, one a socket. The schema is stable: fields are added, never renamed or removed.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
from collections.abc import Iterable, Sequence
from typing import Any

from nettop.model import Connection, Owner, OwnerStatus, Proto, State

try:
    import orjson
except ImportError:  # no wheel for this platform: the standard library writes the same JSON, slower
    orjson = None  # type: ignore[assignment]

#: The JSON fields, in output order (and the CSV columns, with ``owners`` flattened).
FIELDS = (
    "proto",
    "family",
    "local_ip",
    "local_port",
    "remote_ip",
    "remote_port",
    "state",
    "pid",
    "program",
    "user",
    "owners",
    "owner_status",
    "interface",
    "recv_q",
    "send_q",
    "inode",
    "uid",
    "v6only",
    "truncated",
    "source",
)


def owner_to_dict(owner: Owner) -> dict[str, Any]:
    return {
        "pid": owner.pid,
        "name": owner.name,
        "user": owner.user,
        "cmdline": list(owner.cmdline) if owner.cmdline is not None else None,
        "start_time": owner.start_time,
    }


#: The JSON of a record's owners: the first one's pid, name and user, and the whole list.
OwnerFields = tuple[int | None, str | None, str | None, list[dict[str, Any]]]


def _owner_fields(owners: tuple[Owner, ...]) -> OwnerFields:
    if not owners:
        return None, None, None, []
    first = owners[0]
    return first.pid, first.name, first.user, [owner_to_dict(owner) for owner in owners]


def record_to_dict(record: Connection, owner_cache: dict[int, OwnerFields] | None = None) -> dict[str, Any]:
    """One record in the JSON schema. ``owner_cache`` keeps the owner fields that many records share."""
    (proto, family, local_ip, local_port, remote_ip, remote_port, state, owners, owner_status,
     interface, recv_q, send_q, inode, uid, v6only, truncated, source, _raw) = record  # fmt: skip
    if owner_cache is None:
        pid, program, user, owner_list = _owner_fields(owners)
    else:
        # Owner tuples are shared objects that outlive the call, so id() is a sound cache key.
        found = owner_cache.get(id(owners))
        if found is None:
            found = owner_cache[id(owners)] = _owner_fields(owners)
        pid, program, user, owner_list = found
    # Enum members are str subclasses: json writes them as their values without a .value look-up.
    return {
        "proto": proto,
        "family": family,
        "local_ip": local_ip,
        "local_port": local_port,
        "remote_ip": remote_ip,
        "remote_port": remote_port,
        "state": state,
        "pid": pid,
        "program": program,
        "user": user,
        "owners": owner_list,
        "owner_status": owner_status,
        "interface": interface,
        "recv_q": recv_q,
        "send_q": send_q,
        "inode": inode,
        "uid": uid,
        "v6only": v6only,
        "truncated": truncated,
        "source": source,
    }


def to_json(records: Iterable[Connection], indent: int | None = None) -> str:
    return json_bytes(records, indent).decode()


def json_bytes(records: Iterable[Connection], indent: int | None = None) -> bytes:
    """The records as UTF-8 JSON. orjson writes 20,000 records in a third of the stdlib's time."""
    owner_cache: dict[int, OwnerFields] = {}
    rows = [record_to_dict(r, owner_cache) for r in records]
    if orjson is not None and indent in (None, 2):
        return orjson.dumps(rows, option=orjson.OPT_INDENT_2 if indent else 0)
    return json.dumps(rows, indent=indent, ensure_ascii=False).encode()


def to_csv(records: Iterable[Connection]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FIELDS)
    for record in records:
        row = record_to_dict(record)
        row["owners"] = ";".join(f"{o['pid']}/{o['name'] or ''}" for o in row["owners"])
        writer.writerow(_csv_cell(row[name]) for name in FIELDS)
    return out.getvalue()


def _csv_cell(value: Any) -> Any:
    """Empty for None, and JSON's spelling for booleans, so both exports read alike."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def endpoint_text(ip: str | None, port: int | None, interface: str | None = None) -> str:
    """``127.0.0.1:80``, ``[::1]:80``, ``[fe80::1]%eth0:80``; ``*`` for a wildcard peer."""
    if ip is None:
        return "*"
    host = f"[{ip}]" if ":" in ip else ip
    if interface:
        host += f"%{interface}"
    return f"{host}:{'*' if port is None else port}"


TABLE_HEADER = ("Proto", "Local address", "Remote address", "State", "PID/Program", "User")


def table_row(record: Connection) -> tuple[str, ...]:
    owners = ",".join(f"{o.pid}/{o.name or '?'}" for o in record.owners) or f"- ({record.owner_status.value})"
    return (
        f"{record.proto.value}{record.family}",
        endpoint_text(record.local_ip, record.local_port, record.interface),
        endpoint_text(record.remote_ip, record.remote_port),
        record.state.value,
        owners,
        record.user or "",
    )


def to_table(records: Sequence[Connection]) -> str:
    """A plain, aligned text table for people; scripts should use JSON or CSV."""
    rows = [TABLE_HEADER, *(table_row(r) for r in records)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(TABLE_HEADER))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines) + "\n"


def record_from_dict(row: Any) -> Connection:
    """A record read back from ``nettop list --format json``; raises ValueError naming what is wrong."""
    if not isinstance(row, dict):
        raise ValueError(f"expected an object, found {type(row).__name__}")
    try:
        owners = tuple(
            Owner(o["pid"], o.get("name"), o.get("user"), tuple(o["cmdline"]) if o.get("cmdline") else None,
                  o.get("start_time"))
            for o in row.get("owners") or ()
        )  # fmt: skip
        return Connection(
            Proto(row["proto"]), int(row["family"]), str(row["local_ip"]), row.get("local_port"),
            row.get("remote_ip"), row.get("remote_port"), State(row["state"]), owners,
            OwnerStatus(row.get("owner_status", "not-reported")), row.get("interface"), row.get("recv_q"),
            row.get("send_q"), row.get("inode"), row.get("uid"), row.get("v6only"), bool(row.get("truncated")),
            row.get("source", ""), row.get("raw", ""),
        )  # fmt: skip
    except KeyError as missing:
        raise ValueError(f"missing field {missing}") from None
    except (TypeError, ValueError) as error:
        raise ValueError(f"bad value: {error}") from None


def records_from_json(text: str) -> list[Connection]:
    """Records from a saved ``nettop list --format json``; raises ValueError saying where it is wrong."""
    try:
        rows = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"not JSON: {error}") from None
    if not isinstance(rows, list):
        raise ValueError("not a nettop snapshot: expected a JSON list of connections")
    records = []
    for index, row in enumerate(rows):
        try:
            records.append(record_from_dict(row))
        except ValueError as error:
            raise ValueError(f"connection {index}: {error}") from None
    return records


def write_export(path: str, records: Sequence[Connection]) -> str:
    """Write records to ``path`` as CSV (``.csv``) or JSON (anything else), atomically: a reader never sees
    half a file, and a failed write leaves no file behind. Returns the absolute path written."""
    data = to_csv(records).encode() if path.lower().endswith(".csv") else json_bytes(records, indent=2) + b"\n"
    target = os.path.abspath(path)
    import tempfile  # only for this: not worth its import to every `nettop list`

    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".nettop-export-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return target
