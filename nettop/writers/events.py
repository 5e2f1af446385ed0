"""What ``watch`` and ``diff`` write: events and diffs as lines of text for people, NDJSON and JSON for scripts.

NDJSON: one object a line, ``event``, ``time`` (ISO 8601, UTC), ``host``, ``listener``, ``connection`` (``nettop
list``'s schema), and for a change ``changes``, for an error ``error``, for an end (a TCP connection the kernel
destroyed) ``summary`` and ``lived_at_least`` (its final counts are the connection's ``traffic``). A diff's JSON is one
object: ``equal``, and the ``opened``, ``closed`` and ``changed`` connections.
"""

from __future__ import annotations

import functools
import socket
import time
from datetime import UTC, datetime
from typing import Any

from nettop.events import CHANGE, CLOSE, END, ERROR, OPEN, PAST, Event, events_of
from nettop.snapshots import SnapshotDiff
from nettop.text import local_text, owner_text, remote_text, safe
from nettop.writers.json import dump_json, record_to_dict


def iso_time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@functools.cache
def this_host() -> str:
    """This machine's name, as the events of its own sockets give it."""
    return socket.gethostname()


def event_to_dict(event: Event) -> dict[str, Any]:
    """One NDJSON event: ``event``, ``time`` (ISO 8601, UTC), ``host`` (the machine it happened on: a remote
    host as ``--host`` named it, else this one's name), ``connection`` (``nettop list``'s schema), ``listener``,
    and for a change ``changes`` ({field: {before, after}}), for an error ``error``."""
    remote = event.connection.host if event.connection is not None else None
    out: dict[str, Any] = {"event": event.kind, "time": iso_time(event.time), "host": remote or this_host()}
    if event.connection is not None:
        out["listener"] = event.listener
        out["connection"] = record_to_dict(event.connection)
    if event.changes:
        out["changes"] = {name: {"before": a, "after": b} for name, (a, b) in event.changes.items()}
    if event.kind == ERROR:
        out["error"] = event.message
    elif event.kind == END:
        out["summary"] = event.message
        out["lived_at_least"] = event.lived_at_least
    return out


def event_text(event: Event) -> str:
    """One line for people: time, what, the connection, its owner; listeners are marked LISTENER."""
    stamp = time.strftime("%H:%M:%S", time.localtime(event.time))
    if event.connection is None:
        return f"{stamp} error   {safe(event.message)}"
    return f"{stamp} {describe(event)}"


def describe(event: Event, label: str | None = None) -> str:
    """What happened to which connection, without the time: ``open LISTENER tcp4 ... LISTEN 12/nginx``. Made
    safe to print: names and addresses may hold escape sequences."""
    record = event.connection
    if record is None:
        return safe(f"{event.kind} {event.message}")
    ends = f"{record.proto.value}{record.family} {local_text(record)} -> {remote_text(record)}"
    owner = owner_text(record.pid, record.program) if record.owners else "-"
    what = f"{label or event.kind:<6}" + (" LISTENER" if event.listener else "")
    detail = "".join(f" {name}: {before} -> {after}" for name, (before, after) in event.changes.items())
    if event.kind == END:  # the state is CLOSE, always: what it did says more
        return safe(f"{what} {ends} {owner} {event.message}")
    return safe(f"{what} {ends} {record.state.value} {owner}{detail}")


def diff_to_dict(change: SnapshotDiff) -> dict[str, Any]:
    """``nettop diff``'s JSON: ``equal``, and the ``opened``, ``closed`` and ``changed`` connections."""
    events = events_of(change, 0.0)
    return {
        "equal": change.is_empty,
        "opened": [record_to_dict(e.connection) for e in events if e.kind == OPEN and e.connection],
        "closed": [record_to_dict(e.connection) for e in events if e.kind == CLOSE and e.connection],
        "changed": [
            {"connection": record_to_dict(e.connection), "changes": event_to_dict(e)["changes"]}
            for e in events
            if e.kind == CHANGE and e.connection
        ],
    }


# ---- the registered writers (see ``nettop.writers``): one line an event, one text a diff


def text_line(event: Event) -> str:
    """``watch --format text``: one line an event."""
    return event_text(event) + "\n"


def ndjson_line(event: Event) -> bytes:
    """``watch --format ndjson``: one JSON object a line."""
    return dump_json(event_to_dict(event)) + b"\n"


def diff_text(change: SnapshotDiff) -> str:
    """``diff --format text``: one line a difference, in the past tense."""
    events = events_of(change, 0.0)
    return "".join(describe(event, PAST[event.kind]) + "\n" for event in events) or "no differences\n"


def diff_json(change: SnapshotDiff) -> bytes:
    """``diff --format json``: ``diff_to_dict`` on one line."""
    return dump_json(diff_to_dict(change)) + b"\n"
