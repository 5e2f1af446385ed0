"""nettop's own JSON read back (``nettop list --format json``, a viewer's ``.json`` export): by ``nettop diff``,
and by ``--from-file`` as one more format, so that a saved snapshot can be listed, filtered, checked and opened
in the viewer. Every field is checked as ``record_from_dict`` says; the writer is ``nettop.writers.json``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from nettop.errors import UnknownFormat
from nettop.model import (
    MAX_INODE,
    MAX_PID,
    MAX_PORT,
    MAX_QUEUE,
    MAX_UID,
    Connection,
    Owner,
    OwnerStatus,
    ParseResult,
    Proto,
    State,
    Traffic,
)

if TYPE_CHECKING:
    from nettop.cgroups import Placement

FORMAT = "nettop-json"


def looks_like(text: str) -> bool:
    """A JSON list whose first element is an object with nettop's first field (``[{"proto": ...``), or ``[]``."""
    head = text[:200].lstrip()
    if not head.startswith("["):
        return False
    rest = head[1:].lstrip()
    return rest.startswith("]") or (rest.startswith("{") and rest[1:].lstrip().startswith('"proto"'))


def parse(text: str) -> ParseResult:
    """The records of a saved snapshot; a file that is not one, or has a bad connection, is refused whole with
    the reason (a snapshot is one document: there is no line to skip)."""
    try:
        records = records_from_json(text)
    except ValueError as error:
        raise UnknownFormat(f"not a nettop JSON snapshot: {error}") from None
    return ParseResult(tuple(records), (), FORMAT)


#: What a field read back may hold (``record_from_dict``): the values the model has, and the ranges the
#: kernel's types allow (ports are 16 bits, pids 31, uids 32, inodes 64, queue sizes a signed 64).
_PROTOS = {member.value: member for member in Proto}
_STATES = {member.value: member for member in State}
_OWNER_STATUSES = {member.value: member for member in OwnerStatus}
_INFINITY = float("inf")
_FLOAT_MAX = 1.7976931348623157e308
_ABSENT = object()


def record_from_dict(row: Any) -> Connection:
    """A record read back from ``nettop list --format json``, every field of the README's schema checked.

    Each field must have its type (an integer is never a boolean or a float) and, where the kernel bounds it,
    be in range; ``pid``, ``program`` and ``user`` must be the first owner's. ``proto``, ``family``,
    ``local_ip`` and ``state`` are required; a field left out has the value a record has when its tool does
    not say. Fields the schema does not have are ignored, since the schema grows (``raw`` is never written,
    so it is not read either). Raises ValueError naming the field and what is wrong with it.
    """
    if type(row) is not dict:
        raise ValueError(f"expected an object, found {_json_shown(row)}")
    get = row.get
    family = _required(row, "family")
    if type(family) is not int or family not in (4, 6):
        raise _bad("family", "4 or 6", family)
    v6only = get("v6only")
    if v6only is not None and type(v6only) is not bool:
        raise _bad("v6only", "true, false or null", v6only)
    truncated = get("truncated", False)
    if type(truncated) is not bool:
        raise _bad("truncated", "true or false", truncated)
    owners = get("owners", [])
    if type(owners) is not list or any(type(owner) is not dict for owner in owners):  # the shape before the fields
        raise _bad("owners", "a list of objects", owners)
    owners = tuple(_owner(index, owner) for index, owner in enumerate(owners))
    _check_first_owner(row, owners)
    placement = None
    # A host name is what a lookup said at the time, not part of the socket: checked, then not kept.
    _text_or_null(get("remote_name"), "remote_name")
    if owners and owners[0].placement is not None:
        owners = (replace(owners[0], placement=_named(owners[0].placement, row)), *owners[1:])
    else:  # the record's cgroup is the socket's own (its owners are not known)
        cgroup = _placement(_text_or_null(get("cgroup"), "cgroup"))
        placement = _named(cgroup, row) if cgroup is not None else None
    return Connection(
        _member(_required(row, "proto"), "proto", _PROTOS),
        family,
        _text(_required(row, "local_ip"), "local_ip"),
        _integer(get("local_port"), "local_port", MAX_PORT),
        _text_or_null(get("remote_ip"), "remote_ip"),
        _integer(get("remote_port"), "remote_port", MAX_PORT),
        _member(_required(row, "state"), "state", _STATES),
        owners,
        _member(get("owner_status", OwnerStatus.NOT_REPORTED.value), "owner_status", _OWNER_STATUSES),
        _text_or_null(get("interface"), "interface"),
        _integer(get("recv_q"), "recv_q", MAX_QUEUE),
        _integer(get("send_q"), "send_q", MAX_QUEUE),
        _integer(get("inode"), "inode", MAX_INODE),
        _integer(get("uid"), "uid", MAX_UID),
        v6only,
        truncated,
        _text(get("source", ""), "source"),
        "",
        _text_or_null(get("local_service"), "local_service"),
        _text_or_null(get("remote_service"), "remote_service"),
        _traffic(get("traffic")),
        _text_or_null(get("netns"), "netns"),
        placement,
        _text_or_null(get("host"), "host"),
    )


#: The largest byte count or rate a ``traffic`` object may hold: the kernel's counters are 64-bit.
_MAX_COUNT = 2**64 - 1


def _traffic(value: Any) -> Traffic | None:
    """A ``traffic`` object read back: every count an integer in range, or null where the kernel gave none."""
    if value is None:
        return None
    if type(value) is not dict:
        raise _bad("traffic", "an object or null", value)

    def count(name: str, required: bool = False) -> int | None:
        number = _integer(value.get(name), f"traffic.{name}", _MAX_COUNT)
        if number is None and required:
            raise _bad(f"traffic.{name}", f"an integer from 0 to {_MAX_COUNT}", None)
        return number

    return Traffic(
        count("bytes_in"),
        count("bytes_out"),
        count("rtt_us", required=True) or 0,
        count("retransmits", required=True) or 0,
        count("rate_in"),
        count("rate_out"),
    )


def _required(row: dict[str, Any], field: str) -> Any:
    value = row.get(field, _ABSENT)
    if value is _ABSENT:
        raise ValueError(f"missing field {field!r}")
    return value


def _member(value: Any, field: str, members: dict[str, Any]) -> Any:
    if type(value) is str:
        member = members.get(value)
        if member is not None:
            return member
    raise _bad(field, "one of " + ", ".join(members), value)


def _integer(value: Any, field: str, most: int) -> int | None:
    """An integer from 0 to ``most``, or null."""
    if value is None or (type(value) is int and 0 <= value <= most):
        return value
    raise _bad(field, f"an integer from 0 to {most} or null", value)


def _text(value: Any, field: str) -> str:
    if type(value) is not str:
        raise _bad(field, "a string", value)
    return value


def _text_or_null(value: Any, field: str) -> str | None:
    if value is not None and type(value) is not str:
        raise _bad(field, "a string or null", value)
    return value


def _owner(index: int, value: Any) -> Owner:
    where = f"owners[{index}]"
    if type(value) is not dict:
        raise _bad(where, "an object", value)
    pid = value.get("pid", _ABSENT)
    if pid is _ABSENT:
        raise ValueError(f"missing field '{where}.pid'")
    if pid is not None and (type(pid) is not int or not 0 <= pid <= MAX_PID):
        raise _bad(f"{where}.pid", f"an integer from 0 to {MAX_PID}, or null", pid)
    cmdline = value.get("cmdline")
    if cmdline is not None:
        if type(cmdline) is not list:
            raise _bad(f"{where}.cmdline", "a list of strings or null", cmdline)
        for position, word in enumerate(cmdline):
            if type(word) is not str:
                raise _bad(f"{where}.cmdline[{position}]", "a string", word)
        cmdline = tuple(cmdline)
    start_time = value.get("start_time")
    if start_time is not None:
        if type(start_time) is int and -_FLOAT_MAX <= start_time <= _FLOAT_MAX:
            start_time = float(start_time)
        # A JSON number past float's range reads as infinity (1e400): not a time.
        if type(start_time) is not float or not -_INFINITY < start_time < _INFINITY:
            raise _bad(f"{where}.start_time", "a finite number (seconds since the epoch) or null", start_time)
    return Owner(
        pid,
        _text_or_null(value.get("name"), f"{where}.name"),
        _text_or_null(value.get("user"), f"{where}.user"),
        cmdline,
        start_time,
        _placement(_text_or_null(value.get("cgroup"), f"{where}.cgroup")),
    )


def _named(placement: Placement, row: dict[str, Any]) -> Placement:
    """The first owner's placement with the container's and pod's names the record says (when their ids match)."""
    container, pod = placement.container, placement.pod
    said = row.get("container")
    if container is not None and type(said) is dict and said.get("id") == container.id:
        container = replace(
            container,
            name=_text_or_null(said.get("name"), "container.name"),
            image=_text_or_null(said.get("image"), "container.image"),
        )
    said = row.get("pod")
    if pod is not None and type(said) is dict and said.get("uid") == pod.uid:
        namespace = _text_or_null(said.get("namespace"), "pod.namespace")
        pod = replace(pod, namespace=namespace, name=_text_or_null(said.get("name"), "pod.name"))
    return replace(placement, container=container, pod=pod)


def _placement(cgroup: str | None) -> Placement | None:
    """An owner's placement read back: its cgroup classified again (the record's container and pod names, which
    the runtimes gave, are the first owner's: ``_named``)."""
    from nettop.cgroups import classify

    return classify(cgroup) if cgroup is not None else None


def _check_first_owner(row: dict[str, Any], owners: tuple[Owner, ...]) -> None:
    """``pid``, ``program`` and ``user`` repeat the first owner's, for readers that want one owner: a file
    where they differ was edited by hand, and which one was meant is not known."""
    first = (owners[0].pid, owners[0].name, owners[0].user) if owners else (None, None, None)
    for field, attribute, expected in zip(("pid", "program", "user"), ("pid", "name", "user"), first, strict=True):
        value = row.get(field, _ABSENT)
        if value is _ABSENT or (value == expected and type(value) is type(expected)):
            continue
        if not owners:
            raise _bad(field, "null, as there are no owners", value)
        raise _bad(field, f"the first owner's {attribute}, {_json_shown(expected)}", value)


def _bad(field: str, expected: str, value: Any) -> ValueError:
    return ValueError(f"bad value for {field}: expected {expected}, found {_json_shown(value)}")


def _json_shown(value: Any) -> str:
    """A JSON value as a message quotes it: strings cut short and made safe, lists and objects only counted
    (their repr could be long, or deep enough to exhaust the stack)."""
    from nettop.text import cut  # only when something is wrong

    if value is None:
        return "null"
    if type(value) is bool:
        return "true" if value else "false"
    if type(value) is str:
        return f'the string "{cut(value, 60)}"'
    if type(value) is float and not -_INFINITY < value < _INFINITY:
        return "a number too large to read"
    if type(value) in (int, float):
        return cut(repr(value), 60)
    if type(value) is list:
        return f"a list of {len(value)} item{'' if len(value) == 1 else 's'}"
    if type(value) is dict:
        return f"an object of {len(value)} field{'' if len(value) == 1 else 's'}"
    return type(value).__name__


def records_from_json(text: str | bytes) -> list[Connection]:
    """Records from a saved ``nettop list --format json`` (text, or bytes in UTF-8); raises ValueError saying
    where it is wrong: ``connection 3: bad value for local_port: ...``. Any JSON text gives records or a
    ValueError: ``NaN`` and ``Infinity`` are not JSON and are refused, and nesting deep enough to exhaust the
    stack is refused rather than let RecursionError out."""
    try:
        rows = json.loads(text, parse_constant=_not_a_number)
    except RecursionError:
        raise ValueError("not JSON nettop can read: lists or objects nested too deeply") from None
    except ValueError as error:  # also bytes that are not UTF-8, and an integer of more than 4300 digits
        reason = str(error).split(": value has", 1)[0].split("; use sys.", 1)[0]
        raise ValueError(f"not JSON: {reason}") from None
    if type(rows) is not list:
        raise ValueError("not a nettop snapshot: expected a JSON list of connections")
    records = []
    for index, row in enumerate(rows):
        try:
            records.append(record_from_dict(row))
        except ValueError as error:
            raise ValueError(f"connection {index}: {error}") from None
    return records


def _not_a_number(word: str) -> float:
    raise ValueError(f"{word} is not a JSON number")
