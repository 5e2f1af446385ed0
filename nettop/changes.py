"""What changed between two snapshots: connections opened, closed, and changed in state or owner.

Rows are keyed by the connection key (protocol, family, both ends). Several listening sockets can
share one (SO_REUSEPORT workers, UDP sockets on one port): a listener is told apart by its inode,
which it keeps all its life. Any other duplicate gets an ordinal. A connection that goes from
ESTABLISHED to TIME_WAIT (and loses its inode) keeps its key, so it is a change, not a close and an open.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from nettop.model import Connection, Proto, State

#: ``(proto, family, local_ip, local_port, remote_ip, remote_port, interface, n)``: the connection's key
#: (see ``Connection.key``), plus a listener's inode or, for other sockets, an ordinal among those
#: sharing the key. A flat tuple, sliced off the record: built 30,000 times a tick.
RowKey = tuple[Any, ...]

_LISTEN, _UDP = State.LISTEN, Proto.UDP


def identity(record: Connection) -> tuple[Any, ...]:
    """A connection's protocol, family and both ends: ``Connection.key`` as a plain tuple."""
    return (*record[:6], record.interface)


def row_key(record: Connection, distinct: int = 0) -> RowKey:
    return (*identity(record), distinct)


def _first_key(record: Connection) -> RowKey:
    """The row key of a record that no other shares its key with (see ``index_records``)."""
    inode = record.inode
    # A listener: what ``Connection.is_listener`` says, inlined for speed.
    listener = inode and (record.state is _LISTEN or (record.proto is _UDP and record.remote_ip is None))
    return (*record[:6], record.interface, inode if listener else 0)


def index_records(records: Iterable[Connection], shared: set[RowKey] | None = None) -> dict[RowKey, Connection]:
    """Key every record by its row key; ``shared`` is given the keys that several records had."""
    index: dict[RowKey, Connection] = {}
    duplicates: dict[RowKey, list[Connection]] = {}
    for record in records:
        inode = record.inode
        # _first_key, inlined: this runs for every socket.
        listener = inode and (record.state is _LISTEN or (record.proto is _UDP and record.remote_ip is None))
        key = (*record[:6], record.interface, inode if listener else 0)
        if key in index:
            duplicates.setdefault(key, [index[key]]).append(record)
        else:
            index[key] = record
    if shared is not None:
        shared.update(duplicates)
    for key, group in duplicates.items():
        del index[key]
        group.sort(key=lambda r: (r.inode or 0, r.raw))
        for ordinal, record in enumerate(group):
            index[(*key[:7], ordinal)] = record
    return index


@dataclass(frozen=True, slots=True)
class Change:
    """One connection seen in both snapshots, with what differs between them."""

    before: Connection
    after: Connection
    #: Which of "state" and "owners" changed.
    fields: tuple[str, ...]


def _owner_signature(record: Connection) -> tuple[tuple[int, str | None], ...]:
    # Pid and name only: the user, command line or start time filled in on a later tick is not a change.
    return tuple((owner.pid, owner.name) for owner in record.owners)


def changed_fields(before: Connection, after: Connection) -> tuple[str, ...]:
    fields: list[str] = []
    if before.state is not after.state:
        fields.append("state")
    if before.owners != after.owners and _owner_signature(before) != _owner_signature(after):
        fields.append("owners")
    return tuple(fields)


@dataclass(frozen=True, slots=True)
class SnapshotDiff:
    """Opened, closed and changed connections, each by row key."""

    opened: dict[RowKey, Connection] = field(default_factory=dict)
    closed: dict[RowKey, Connection] = field(default_factory=dict)
    changed: dict[RowKey, Change] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return not (self.opened or self.closed or self.changed)

    @property
    def opened_listeners(self) -> list[Connection]:
        return [record for record in self.opened.values() if record.is_listener]

    @property
    def closed_listeners(self) -> list[Connection]:
        return [record for record in self.closed.values() if record.is_listener]


def diff(before: Mapping[RowKey, Connection], after: Mapping[RowKey, Connection]) -> SnapshotDiff:
    """Compare two indexed snapshots (see ``index_records``)."""
    opened = {key: record for key, record in after.items() if key not in before}
    closed = {key: record for key, record in before.items() if key not in after}
    changed: dict[RowKey, Change] = {}
    for key, new in after.items():
        old = before.get(key)
        if old is None or (old.state is new.state and old.owners == new.owners):
            continue
        fields = changed_fields(old, new)
        if fields:
            changed[key] = Change(old, new, fields)
    return SnapshotDiff(opened, closed, changed)


def diff_delta(
    before: Mapping[RowKey, Connection],
    after: Mapping[RowKey, Connection],
    removed: Iterable[Connection],
    added: Iterable[Connection],
) -> SnapshotDiff:
    """``diff(before, after)`` when ``after`` is ``before`` less ``removed`` plus ``added`` (see ``LiveIndex``):
    only the keys those touch can differ, so only they are compared."""
    opened: dict[RowKey, Connection] = {}
    changed: dict[RowKey, Change] = {}
    for new in added:
        key = _first_key(new)
        old = before.get(key)
        if old is None:
            opened[key] = new
        elif not (old.state is new.state and old.owners == new.owners):
            fields = changed_fields(old, new)
            if fields:
                changed[key] = Change(old, new, fields)
    closed = {key: record for key, record in ((_first_key(r), r) for r in removed) if key not in after}
    return SnapshotDiff(opened, closed, changed)


class LiveIndex:
    """``index_records`` of a live source's snapshots, kept up to date from what each one removed and added
    (``RecordDelta``): the work follows the change, not the number of sockets.

    Keys that several records share get ordinals that depend on the whole group, so a change that touches
    such a key, or makes one, is answered by indexing everything again (rare: they are duplicates that only
    odd kernels or captures show).
    """

    def __init__(self) -> None:
        self.index: dict[RowKey, Connection] = {}
        self._shared: set[RowKey] = set()

    def rebuild(self, records: Iterable[Connection]) -> dict[RowKey, Connection]:
        self._shared = set()
        self.index = index_records(records, self._shared)
        return self.index

    def update(self, removed: Iterable[Connection], added: Iterable[Connection]) -> dict[RowKey, Connection] | None:
        """The index less ``removed`` plus ``added``, as a new dict (the last one may still be read elsewhere);
        None when only ``rebuild`` can tell."""
        index, shared = self.index.copy(), self._shared
        for record in removed:
            key = _first_key(record)
            if key in shared or index.get(key) is not record:
                return None
            del index[key]
        for record in added:
            key = _first_key(record)
            if key in shared or key in index:
                return None
            index[key] = record
        self.index = index
        return index


def diff_records(before: Iterable[Connection], after: Iterable[Connection]) -> SnapshotDiff:
    """Compare two lists of records."""
    return diff(index_records(before), index_records(after))
