"""Changes over time as events: a connection opened, closed or changed, or a collection failed.

``watch`` turns a source into an async stream of events, one diff (``nettop.snapshot``) per interval. The
first snapshot is the baseline: it yields nothing, so a stream says only what changed while it ran.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from nettop.errors import NettopError
from nettop.export import record_to_dict
from nettop.model import Connection, Snapshot
from nettop.snapshot import SnapshotDiff, SnapshotTracker
from nettop.sources import Source
from nettop.text import endpoint_text, owner_text, safe

OPEN, CLOSE, CHANGE, ERROR = "open", "close", "change", "error"
#: How ``nettop diff`` words each kind: it compares two moments, nothing "happens".
PAST = {OPEN: "opened", CLOSE: "closed", CHANGE: "changed"}


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened. ``connection`` is the record after the event (before it, for a close)."""

    kind: str
    time: float
    connection: Connection | None = None
    #: For a change: field → (before, after), in JSON terms.
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    #: For an error: what went wrong.
    message: str = ""
    #: For a change: the record before it.
    before: Connection | None = None

    @property
    def listener(self) -> bool:
        return self.connection is not None and self.connection.is_listener


def events_of(change: SnapshotDiff, when: float) -> list[Event]:
    """A diff as events: closes, then changes, then opens, each in listing order."""
    events = [Event(CLOSE, when, record) for record in change.closed.values()]
    for item in change.changed.values():
        detail: dict[str, tuple[Any, Any]] = {}
        if "state" in item.fields:
            detail["state"] = (item.before.state.value, item.after.state.value)
        if "owners" in item.fields:
            detail["owners"] = (_owner_names(item.before), _owner_names(item.after))
        events.append(Event(CHANGE, when, item.after, detail, before=item.before))
    events += [Event(OPEN, when, record) for record in change.opened.values()]
    return events


def _owner_names(record: Connection) -> list[str]:
    return [owner_text(owner.pid, owner.name) for owner in record.owners]


async def watch(
    source: Source,
    interval: float = 2.0,
    keep: Callable[[Connection], bool] | None = None,
    on_baseline: Callable[[Snapshot], None] | None = None,
) -> AsyncIterator[Event]:
    """Collect every ``interval`` seconds and yield what changed; a failed collection is an ERROR event and
    the stream goes on. ``keep`` selects connections: a change is kept when either side passes.
    ``on_baseline`` is told of the first snapshot, against which the first events are found."""
    tracker: SnapshotTracker[None] = SnapshotTracker()  # keys and diffs from each snapshot's delta when it has one
    baseline_taken = False
    while True:
        started = time.monotonic()
        try:
            snapshot = await source.collect()
        except NettopError as error:
            yield Event(ERROR, time.time(), message=str(error))
        else:
            change = (await asyncio.to_thread(tracker.follow, snapshot)).change
            if not baseline_taken:
                baseline_taken = True
                if on_baseline is not None:
                    on_baseline(snapshot)
            else:
                for event in events_of(change, snapshot.taken_at):
                    if keep is None or _kept(event, keep):
                        yield event
        await asyncio.sleep(max(interval - (time.monotonic() - started), 0.0))


def _kept(event: Event, keep: Callable[[Connection], bool]) -> bool:
    if event.connection is None:
        return True
    # A change out of the filter (ESTABLISHED → TIME_WAIT under --state established) still concerns it.
    return keep(event.connection) or (event.before is not None and keep(event.before))


def iso_time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event_to_dict(event: Event) -> dict[str, Any]:
    """One NDJSON event: ``event``, ``time`` (ISO 8601, UTC), ``connection`` (``nettop list``'s schema),
    ``listener``, and for a change ``changes`` ({field: {before, after}}), for an error ``error``."""
    out: dict[str, Any] = {"event": event.kind, "time": iso_time(event.time)}
    if event.connection is not None:
        out["listener"] = event.listener
        out["connection"] = record_to_dict(event.connection)
    if event.changes:
        out["changes"] = {name: {"before": a, "after": b} for name, (a, b) in event.changes.items()}
    if event.kind == ERROR:
        out["error"] = event.message
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
    ends = (
        f"{record.proto.value}{record.family} {endpoint_text(record.local_ip, record.local_port, record.interface)}"
        f" -> {endpoint_text(record.remote_ip, record.remote_port)}"
    )
    owner = owner_text(record.pid, record.program) if record.owners else "-"
    what = f"{label or event.kind:<6}" + (" LISTENER" if event.listener else "")
    detail = "".join(f" {name}: {before} -> {after}" for name, (before, after) in event.changes.items())
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
