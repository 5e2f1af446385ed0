"""Changes over time as events: a connection opened, closed or changed, or a collection failed.

``watch`` turns a source into an async stream of events, one diff (``nettop.snapshots``) per interval. The
first snapshot is the baseline: it yields nothing, so a stream says only what changed while it ran. How an event
is written (a line of text, an NDJSON object) is the writers' business: ``nettop.writers.events``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nettop.errors import NettopError
from nettop.model import Connection, Snapshot
from nettop.snapshots import SnapshotDiff, SnapshotTracker, socket_key
from nettop.text import owner_text

if TYPE_CHECKING:  # only its protocol: watch never loads a source, it is given one
    from nettop.sources import Source
    from nettop.sources.destroyed import ClosedSocket, DestroyListener

OPEN, CLOSE, CHANGE, ERROR = "open", "close", "change", "error"
#: A TCP connection the kernel destroyed, with its final counts (``sources.destroyed``): seen as it happens, even
#: when it lived between two collections. Its ``message`` says how long and how much.
END = "end"
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
    #: For an end: seconds the connection lived at least (see ``ClosedSocket.lived_at_least``).
    lived_at_least: float | None = None

    @property
    def listener(self) -> bool:
        return self.connection is not None and self.connection.is_listener


def events_of(change: SnapshotDiff, when: float) -> list[Event]:
    """A diff as events: closes, then changes, then opens, each in listing order."""
    events = [Event(CLOSE, when, record) for record in change.closed.values()]
    for item in change.changed.values():
        if item.fields == ("traffic",):  # bytes flowing are not an event: the rows' cells show them
            continue
        detail: dict[str, tuple[Any, Any]] = {}
        if "state" in item.fields:
            detail["state"] = (item.before.state.value, item.after.state.value)
        if "owners" in item.fields:
            detail["owners"] = (_owner_names(item.before), _owner_names(item.after))
        events.append(Event(CHANGE, when, item.after, detail, before=item.before))
    events += [Event(OPEN, when, record) for record in change.opened.values()]
    return events


def ended_event(closed: ClosedSocket, seen: Connection | None = None, opened_at: float | None = None) -> Event:
    """A destroyed connection as an event: its record with its final ``Traffic`` (and the owners of ``seen``, the
    same connection as a collection saw it: the kernel's message names no process), and what it did in words."""
    from nettop.model import Traffic
    from nettop.sources.destroyed import bytes_in, bytes_out, closed_text

    record, info = closed.record, closed.info
    if info is not None and not closed.cleared:
        record = record._replace(traffic=Traffic(bytes_in(info), bytes_out(info), info.rtt_us, info.total_retrans))
    if seen is not None and seen.owners:
        record = record._replace(owners=seen.owners, owner_status=seen.owner_status)
    return Event(END, closed.at, record, message=closed_text(closed, opened_at), lived_at_least=closed.lived_at_least)


def _owner_names(record: Connection) -> list[str]:
    return [owner_text(owner.pid, owner.name) for owner in record.owners]


async def watch(
    source: Source,
    interval: float = 2.0,
    keep: Callable[[Connection], bool] | None = None,
    on_baseline: Callable[[Snapshot], None] | None = None,
    ended: DestroyListener | None = None,
) -> AsyncIterator[Event]:
    """Collect every ``interval`` seconds and yield what changed; a failed collection is an ERROR event and
    the stream goes on. ``keep`` selects connections: a change is kept when either side passes.
    ``on_baseline`` is told of the first snapshot, against which the first events are found. With ``ended``,
    between collections each TCP connection the kernel destroys is an END event as it happens (its owners those
    the last collection saw)."""
    tracker: SnapshotTracker[None] = SnapshotTracker()  # keys and diffs from each snapshot's delta when it has one
    baseline_taken = False
    seen: dict[object, Connection] = {}
    while True:
        started = time.monotonic()
        try:
            snapshot = await source.collect()
        except NettopError as error:
            yield Event(ERROR, time.time(), message=str(error))
        else:
            step = await asyncio.to_thread(tracker.follow, snapshot)
            change, seen = step.change, step.index
            if not baseline_taken:
                baseline_taken = True
                if on_baseline is not None:
                    on_baseline(snapshot)
            else:
                for event in events_of(change, snapshot.taken_at):
                    if keep is None or _kept(event, keep):
                        yield event
        if ended is None:
            await asyncio.sleep(max(interval - (time.monotonic() - started), 0.0))
            continue
        # Until the next collection, the connections the kernel destroys, as they go.
        while (left := interval - (time.monotonic() - started)) > 0:
            # A short wait at a time: a stream that ends leaves its last read running in a thread until then.
            for closed in await asyncio.to_thread(ended.read, min(left, 0.5)):
                event = ended_event(closed, seen.get(socket_key(closed.record)))
                if keep is None or _kept(event, keep):
                    yield event


def _kept(event: Event, keep: Callable[[Connection], bool]) -> bool:
    if event.connection is None:
        return True
    # A change out of the filter (ESTABLISHED → TIME_WAIT under --state established) still concerns it.
    return keep(event.connection) or (event.before is not None and keep(event.before))
