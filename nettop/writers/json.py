"""Records as JSON, and JSON read back: ``nettop list --format json``, the viewer's ``.json`` export, and the
``connection`` of every NDJSON event and check report.

JSON is a list of objects, one a socket; the schema is documented in the README. It is stable: fields are added,
never renamed or removed. ``nettop.formats.nettop_json`` reads it back (``nettop diff``, ``--from-file``), every
field checked.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from nettop.exposure import exposure
from nettop.model import Connection, Owner, Traffic
from nettop.text import json_safe_bytes

if TYPE_CHECKING:
    from nettop.cgroups import Placement

try:
    import orjson
except ImportError:  # no wheel for this platform: the standard library writes the same JSON, slower
    orjson = None  # type: ignore[assignment]

#: The JSON fields, in output order (and the CSV columns, with ``owners`` flattened: ``nettop.writers.csv``).
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
    "local_service",
    "remote_service",
    "cgroup",
    "unit",
    "container",
    "pod",
    "traffic",
    "netns",
    "exposure",
    "remote_name",
    "host",
)
#: A TCP connection's ``traffic`` object (null without one: UDP, or a source that does not read it).
TRAFFIC_FIELDS = ("bytes_in", "bytes_out", "rate_in", "rate_out", "rtt_us", "retransmits")


def owner_to_dict(owner: Owner) -> dict[str, Any]:
    return {
        "pid": owner.pid,
        "name": owner.name,
        "user": owner.user,
        "cmdline": list(owner.cmdline) if owner.cmdline is not None else None,
        "start_time": owner.start_time,
        "cgroup": owner.cgroup,
    }


#: Host names by address (``nettop.resolve``): ``nettop list --resolve`` gives them to every records writer.
Names = Mapping[str, str]

#: The JSON of a record's owners: the first one's pid, name and user, the whole list, and where the first runs.
OwnerFields = tuple[int | None, str | None, str | None, list[dict[str, Any]], dict[str, Any]]

_NOWHERE: dict[str, Any] = {"cgroup": None, "unit": None, "container": None, "pod": None}


def _owner_fields(owners: tuple[Owner, ...]) -> OwnerFields:
    if not owners:
        return None, None, None, [], _NOWHERE
    first = owners[0]
    owner_list = [owner_to_dict(owner) for owner in owners]
    return first.pid, first.name, first.user, owner_list, _placement_fields(first.placement)


def record_to_dict(
    record: Connection, owner_cache: dict[int, OwnerFields] | None = None, names: Names | None = None
) -> dict[str, Any]:
    """One record in the JSON schema. ``owner_cache`` keeps the owner fields that many records share; ``names``
    are the peers' host names ``--resolve`` found (``remote_name``, null without)."""
    (proto, family, local_ip, local_port, remote_ip, remote_port, state, owners, owner_status,
     interface, recv_q, send_q, inode, uid, v6only, truncated, source, _raw, local_service,
     remote_service, traffic, netns, placement, host) = record  # fmt: skip
    if owner_cache is None:
        pid, program, user, owner_list, place = _owner_fields(owners)
    else:
        # Owner tuples are shared objects that outlive the call, so id() is a sound cache key.
        found = owner_cache.get(id(owners))
        if found is None:
            found = owner_cache[id(owners)] = _owner_fields(owners)
        pid, program, user, owner_list, place = found
    if place is _NOWHERE and placement is not None:  # no owner's cgroup known: the socket's own
        place = _placement_fields(placement)
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
        "local_service": local_service,
        "remote_service": remote_service,
        **place,
        "traffic": None if traffic is None else traffic_to_dict(traffic),
        "netns": netns,
        "exposure": exposure(record),
        "remote_name": names.get(remote_ip) if names and remote_ip is not None else None,
        "host": host,
    }


def traffic_to_dict(traffic: Traffic) -> dict[str, Any]:
    bytes_in, bytes_out, rtt_us, retransmits, rate_in, rate_out = traffic
    return {
        "bytes_in": bytes_in,
        "bytes_out": bytes_out,
        "rate_in": rate_in,
        "rate_out": rate_out,
        "rtt_us": rtt_us,
        "retransmits": retransmits,
    }


def _placement_fields(placement: Placement | None) -> dict[str, Any]:
    """Where the first owner runs: its cgroup, the systemd unit, and the container and pod (with the names the
    runtimes give, else the short id)."""
    if placement is None:
        return _NOWHERE
    container, pod = placement.container, placement.pod
    return {
        "cgroup": placement.cgroup,
        "unit": placement.unit,
        "container": None
        if container is None
        else {"runtime": container.runtime, "id": container.id, "name": container.name, "image": container.image},
        "pod": None if pod is None else {"uid": pod.uid, "namespace": pod.namespace, "name": pod.name},
    }


def to_json(records: Iterable[Connection], indent: int | None = None) -> str:
    return json_bytes(records, indent).decode()


def json_bytes(records: Iterable[Connection], indent: int | None = None, names: Names | None = None) -> bytes:
    """The records as UTF-8 JSON. orjson writes 20,000 records in a third of the stdlib's time."""
    owner_cache: dict[int, OwnerFields] = {}
    return dump_json([record_to_dict(r, owner_cache, names) for r in records], indent)


def write_records(records: Sequence[Connection], names: Names | None = None) -> bytes:
    """``nettop list --format json``: the records on one line."""
    return json_bytes(records, names=names) + b"\n"


def write_file(records: Sequence[Connection], names: Names | None = None) -> bytes:
    """A ``.json`` export: the records indented, for people who open the file."""
    return json_bytes(records, indent=2, names=names) + b"\n"


def _one_value(value: Any) -> bytes:
    try:
        return orjson.dumps(value)  # type: ignore[no-any-return]
    except TypeError:
        return _stdlib_json(value, None)


def dump_json(value: Any, indent: int | None = None) -> bytes:
    """Any JSON value as UTF-8, exactly: orjson where it can, else the standard library (an integer past 64
    bits; a name that was not UTF-8, kept by psutil as lone surrogates, which only a ``\\u`` escape carries).
    DEL and C1 controls are escaped too (``text.json_safe_bytes``), so printed JSON cannot drive a terminal."""
    data = None
    if orjson is not None and indent in (None, 2):
        with contextlib.suppress(TypeError):  # orjson.JSONEncodeError is a TypeError
            data = orjson.dumps(value, option=orjson.OPT_INDENT_2 if indent else 0)
        if data is None and indent is None and type(value) is list:
            # One record orjson cannot write (a process named in bytes that are not UTF-8) must not send all the
            # others through the standard library, 15 times slower: only that one goes.
            data = b"[" + b",".join(map(_one_value, value)) + b"]"
    if data is None:
        data = _stdlib_json(value, indent)
    return json_safe_bytes(data)


def _stdlib_json(value: Any, indent: int | None) -> bytes:
    """The standard library's JSON, spaced as orjson's: compact on one line, ``": "`` when indented."""
    separators = (",", ":") if indent is None else (",", ": ")
    try:
        return json.dumps(value, indent=indent, ensure_ascii=False, separators=separators).encode()
    except UnicodeEncodeError:  # lone surrogates: only a \u escape carries them
        return json.dumps(value, indent=indent, separators=separators).encode()
