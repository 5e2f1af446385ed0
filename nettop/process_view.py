"""The process view and the by-remote-host view, as pure data: the viewer's sockets grouped by owner and by peer.

No Textual here. ``Groups`` follows the viewer's rows model: built once from the records the viewer keeps (when
the view opens, or a filter changes), then updated from each snapshot's diff (``SnapshotDiff``), so a tick costs
what changed, not the number of sockets. Each group keeps counters (listening ports, peers, rates) that move
with the sockets that come and go, and its sockets by row key, for the rows shown when it is expanded.

A socket held by several processes (a listener a server's workers share) counts under each of them, as ``ss -p``
and ``lsof`` list it under each; in the by-host view it is one connection.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from nettop.cgroups import Placement
from nettop.model import Connection, Owner, Proto, State
from nettop.snapshots import RowKey, SnapshotDiff
from nettop.text import address_text, bytes_text, local_text, owner_text, remote_text, safe_words
from nettop.view import COMMAND, END, MIDDLE, NO_COUNTS, TRAFFIC, ip_sort_key, place_text

#: A process: its pid and the remote host it runs on (``(pid, None)`` on this machine: pids are per machine), or
#: for an owner a capture named without a pid, ``(None, name)``.
ProcessKey = tuple[int | None, str | None]
#: The one row of every socket without a known owner (TIME-WAIT, another user's while not root, a capture's).
NO_OWNER: ProcessKey = (None, None)
NO_OWNER_NAME = "(no owner / hidden)"

#: The two modes: one row per process, one row per remote host.
PROCESSES, HOSTS = "processes", "hosts"

#: Which records to group; None groups all (``RowsModel.keep``).
Keep = Callable[[Connection], bool] | None


def process_keys(record: Connection) -> tuple[ProcessKey, ...]:
    """The processes a socket counts under: each owner once, or ``NO_OWNER``."""
    owners = record.owners
    if not owners:
        return (NO_OWNER,)
    host = record.host
    if len(owners) == 1:
        owner = owners[0]
        return ((owner.pid, host) if owner.pid is not None else (None, owner.name or "?"),)
    return tuple(dict.fromkeys((o.pid, host) if o.pid is not None else (None, o.name or "?") for o in owners))


def _owner_of(record: Connection, key: ProcessKey) -> Owner | None:
    for owner in record.owners:
        if (owner.pid, record.host) == key or (owner.pid is None and (None, owner.name or "?") == key):
            return owner
    return None


def _listens(record: Connection) -> bool:
    # ``Connection.is_listener``, inlined: this runs for every socket grouped.
    proto = record.proto
    return record.state is State.LISTEN if proto is Proto.TCP else proto is Proto.UDP and record.remote_ip is None


def service_port(record: Connection) -> int | None:
    """The port of the service a connection is to: the lower of its two ports (the other end's is the ephemeral
    one a client picked, 32768 and up on Linux, 49152 and up elsewhere)."""
    local, remote = record.local_port, record.remote_port
    if local is None or remote is None:
        return remote if local is None else local
    return min(local, remote)


def _add(counter: dict[Hashable, int], item: Hashable, n: int) -> None:
    count = counter.get(item, 0) + n
    if count:
        counter[item] = count
    else:
        del counter[item]


@dataclass(eq=False, slots=True)
class Group:
    """What a process's or a peer's sockets add up to."""

    #: The sockets, by row key.
    sockets: dict[RowKey, Connection] = field(default_factory=dict)
    #: Sockets that are not listeners.
    conns: int = 0
    #: Sums of the sockets' rates (bytes a second) and how many sockets carry traffic counts at all.
    rate_in: int = 0
    rate_out: int = 0
    counted: int = 0
    #: The sockets' places in the expanded rows (``socket_order``), ascending, and the socket at each place: made
    #: the first time the group is expanded, then kept by bisect as sockets come and go (a group of 20,000 sockets
    #: is not sorted again each tick).
    _order: list[str] | None = None
    _at_place: dict[str, RowKey] | None = None
    _place_of: dict[RowKey, str] | None = None

    def _count(self, key: RowKey, record: Connection, n: int) -> None:
        traffic = record.traffic
        if traffic is not None:
            self.counted += n
            self.rate_in += n * (traffic.rate_in or 0)
            self.rate_out += n * (traffic.rate_out or 0)
        order, at_place, place_of = self._order, self._at_place, self._place_of
        if order is None or at_place is None or place_of is None:
            return
        if n > 0:
            place = place_of[key] = socket_order(key, record)
            at_place[place] = key
            bisect.insort(order, place)
        else:
            place = place_of.pop(key)
            del at_place[place]
            del order[bisect.bisect_left(order, place)]

    def _ordered(self) -> tuple[list[str], dict[str, RowKey], dict[RowKey, str]]:
        if self._order is None or self._at_place is None or self._place_of is None:
            self._place_of = {key: socket_order(key, record) for key, record in self.sockets.items()}
            self._at_place = {place: key for key, place in self._place_of.items()}
            self._order = sorted(self._at_place)
        return self._order, self._at_place, self._place_of

    def socket_at(self, index: int) -> tuple[RowKey, Connection]:
        """The ``index``-th socket of the expanded rows."""
        order, at_place, _ = self._ordered()
        key = at_place[order[index]]
        return key, self.sockets[key]

    def socket_position(self, key: RowKey) -> int | None:
        order, _, place_of = self._ordered()
        place = place_of.get(key)
        return None if place is None else bisect.bisect_left(order, place)


def socket_order(key: RowKey, record: Connection) -> str:
    """Where a socket is among its group's expanded rows, as one string: listeners first, then by peer, by ports;
    the rest of its row key makes it unique."""
    listener = "0" if _listens(record) else "1"
    return (
        f"{listener}{ip_sort_key(record.remote_ip)}\0{record.remote_port or 0:05d}{ip_sort_key(record.local_ip)}"
        f"\0{record.local_port or 0:05d}\0{record.proto}{record.family}\0{record.interface or ''}\0{key[7]}"
    )


@dataclass(eq=False, slots=True)
class ProcessGroup(Group):
    """One process's sockets: its listening ports, connections, peers and traffic."""

    key: ProcessKey = NO_OWNER
    #: The owner as the freshest record with the most detail gave it (None for ``NO_OWNER``).
    owner: Owner | None = None
    placement: Placement | None = None
    #: ``(proto, port)`` of each listening socket, counted (a port on IPv4 and IPv6 is one entry, counted twice).
    listening: dict[Hashable, int] = field(default_factory=dict)
    #: Remote addresses of its connections, counted.
    peers: dict[Hashable, int] = field(default_factory=dict)

    def add(self, key: RowKey, record: Connection, listens: bool, n: int = 1) -> None:
        """Count ``record`` in (``n`` 1) or out (``n`` -1); ``listens``: whether it is a listener."""
        # Counters by hand, not through ``_add``: grouping 25,000 sockets when the view opens is a key's latency.
        if n > 0:
            self.sockets[key] = record
            have = self.owner
            if have is None or have.cmdline is None or have.user is None:  # filled in on a later tick
                self.owner = _owner_of(record, self.key) or have
            if self.placement is None:
                self.placement = record.runs_in
            if listens:
                item = (record.proto.value, record.local_port)
                self.listening[item] = self.listening.get(item, 0) + 1
            else:
                self.conns += 1
                ip = record.remote_ip
                if ip is not None:
                    self.peers[ip] = self.peers.get(ip, 0) + 1
        else:
            del self.sockets[key]
            if listens:
                _add(self.listening, (record.proto.value, record.local_port), n)
            else:
                self.conns += n
                if record.remote_ip is not None:
                    _add(self.peers, record.remote_ip, n)
        self._count(key, record, n)


@dataclass(eq=False, slots=True)
class HostGroup(Group):
    """One remote address's connections: which processes hold them, to which service ports."""

    ip: str = ""
    #: Processes holding connections with this peer, counted, and their names, counted.
    processes: dict[Hashable, int] = field(default_factory=dict)
    programs: dict[Hashable, int] = field(default_factory=dict)
    #: Service ports (``service_port``), counted.
    ports: dict[Hashable, int] = field(default_factory=dict)

    def add(self, key: RowKey, record: Connection, processes: tuple[ProcessKey, ...], n: int = 1) -> None:
        """Count ``record``, held by ``processes``, in (``n`` 1) or out (``n`` -1)."""
        owners = record.owners
        if len(owners) == 1:
            names: Iterable[str] = (owners[0].name or "?",)
        else:
            names = dict.fromkeys(owner.name or "?" for owner in owners) or (NO_OWNER_NAME,)
        port = service_port(record)
        if n > 0:
            self.sockets[key] = record
            counted = self.processes
            for process in processes:
                counted[process] = counted.get(process, 0) + 1
            counted = self.programs
            for name in names:
                counted[name] = counted.get(name, 0) + 1
            self.ports[port] = self.ports.get(port, 0) + 1
        else:
            del self.sockets[key]
            for process in processes:
                _add(self.processes, process, n)
            for name in names:
                _add(self.programs, name, n)
            _add(self.ports, port, n)
        self.conns += n
        self._count(key, record, n)


class Groups:
    """The kept sockets grouped by process or by remote host (``mode``: only what is shown is kept), kept up to
    date from diffs."""

    def __init__(self, mode: str = PROCESSES) -> None:
        self.mode = mode
        #: The groups of the mode, the other mode's empty.
        self.processes: dict[ProcessKey, ProcessGroup] = {}
        self.hosts: dict[str, HostGroup] = {}
        #: The records grouped, by row key: what a diff's closed or changed socket is taken out as.
        self.records: dict[RowKey, Connection] = {}
        self.keep: Keep = None
        #: Counts the changes: the view re-makes its rows only when this moved.
        self.version = 0

    def rebuild(self, current: Mapping[RowKey, Connection], keep: Keep) -> None:
        """Group ``current`` anew through ``keep`` (the view opens, a filter changed)."""
        self.processes, self.hosts, self.records, self.keep = {}, {}, {}, keep
        for key, record in current.items():
            if keep is None or keep(record):
                self._add(key, record)
        self.version += 1

    def switch(self, mode: str) -> None:
        """Group the same records the other way."""
        records, self.mode = self.records, mode
        self.processes, self.hosts, self.records = {}, {}, {}
        for key, record in records.items():
            self._add(key, record)
        self.version += 1

    def clear(self) -> None:
        """Forget everything (the view closed): nothing is kept or followed while nobody looks."""
        self.processes, self.hosts, self.records = {}, {}, {}
        self.version += 1

    def apply(self, change: SnapshotDiff) -> None:
        """Follow one snapshot's diff against the records grouped now."""
        if not (change.opened or change.closed or change.changed):
            return
        keep, records = self.keep, self.records
        for key in change.closed:
            if key in records:
                self._remove(key)
        for key, record in change.opened.items():
            if key in records:  # a row key the diff thought new: take the newer record
                self._remove(key)
            if keep is None or keep(record):
                self._add(key, record)
        for key, changed in change.changed.items():
            if key in records:
                self._remove(key)
            if keep is None or keep(changed.after):
                self._add(key, changed.after)
        self.version += 1

    def _add(self, key: RowKey, record: Connection) -> None:
        self.records[key] = record
        listens, holders = _listens(record), process_keys(record)
        ip = record.remote_ip
        if self.mode == PROCESSES:
            groups = self.processes
            for process in holders:
                group = groups.get(process)
                if group is None:
                    group = groups[process] = ProcessGroup(key=process)
                group.add(key, record, listens)
        elif ip is not None and not listens:
            host = self.hosts.get(ip)
            if host is None:
                host = self.hosts[ip] = HostGroup(ip=ip)
            host.add(key, record, holders)

    def _remove(self, key: RowKey) -> None:
        record = self.records.pop(key)
        listens, holders = _listens(record), process_keys(record)
        ip = record.remote_ip
        if self.mode == PROCESSES:
            for process in holders:
                group = self.processes[process]
                group.add(key, record, listens, -1)
                if not group.sockets:
                    del self.processes[process]
        elif ip is not None and not listens:
            host = self.hosts[ip]
            host.add(key, record, holders, -1)
            if not host.sockets:
                del self.hosts[ip]


# ---- columns: cells and sort keys of a group's row


def listen_text(listening: Mapping[Hashable, int]) -> str:
    """``tcp:22,80 udp:53``: the listening ports by protocol, ascending."""
    by_proto: dict[str, list[int | None]] = {}
    for proto, port in sorted(listening, key=lambda item: (item[0], item[1] or 0)):  # type: ignore[index]
        by_proto.setdefault(proto, []).append(port)
    return " ".join(
        f"{proto}:{','.join('*' if p is None else str(p) for p in ports)}" for proto, ports in by_proto.items()
    )


def _most_first(counter: Mapping[Hashable, int]) -> list[Hashable]:
    return sorted(counter, key=lambda item: (-counter[item], str(item)))


def _rate(group: Group, rate: int) -> str:
    return NO_COUNTS if not group.counted else bytes_text(rate)


def _pid_text(group: ProcessGroup) -> str:
    return "" if group.key[0] is None else str(group.key[0])


def _program(group: ProcessGroup) -> str:
    if group.key == NO_OWNER:
        return NO_OWNER_NAME
    pid, second = group.key
    name = (group.owner.name if group.owner is not None else None) or (second if pid is None else None) or "?"
    return f"{name} on {second}" if pid is not None and second is not None else name  # a remote host's process


def _user(group: ProcessGroup) -> str:
    return (group.owner.user if group.owner is not None else None) or ""


def _command(group: ProcessGroup) -> str:
    return safe_words(group.owner.cmdline) if group.owner is not None else ""


def _descending(number: int) -> tuple[int]:
    return (-number,)


@dataclass(frozen=True, slots=True)
class GroupColumn:
    """A column of the process or host view (the widths as ``nettop.view.Column`` has them, for
    ``column_widths``). ``order`` gives a sort key: numbers sort most first, like a top."""

    key: str
    title: str
    cell: Callable[..., str]
    order: Callable[..., tuple[object, ...]]
    width: int
    flex: bool = False
    min_screen: int = 0
    max_width: int = 0
    align_right: bool = False
    needs: str = ""
    #: The order puts the largest first (counts, rates): the header's arrow points down.
    most_first: bool = False
    #: Where a cell too wide is cut (``nettop.view``'s END, MIDDLE, COMMAND), as in the table.
    elide: str = END


PROCESS_COLUMNS: tuple[GroupColumn, ...] = (
    GroupColumn("pid", "PID", _pid_text, lambda g: (g.key[0] is None, g.key[0] or 0), 7, align_right=True),
    GroupColumn("program", "Program", _program, lambda g: (_program(g).lower(),), 10, flex=True, max_width=24),
    GroupColumn("user", "User", _user, lambda g: (_user(g) or "~",), 9),
    GroupColumn("unit", "Unit", lambda g: place_text(g.placement), lambda g: (place_text(g.placement) or "~",), 10,
                flex=True, max_width=28, min_screen=130),
    GroupColumn("listen", "Listen", lambda g: listen_text(g.listening), lambda g: _descending(len(g.listening)), 12,
                flex=True, max_width=30, most_first=True),
    GroupColumn("conns", "Conns", lambda g: str(g.conns), lambda g: (-g.conns, -len(g.sockets)), 6,
                align_right=True, most_first=True),
    GroupColumn("hosts", "Hosts", lambda g: str(len(g.peers)), lambda g: _descending(len(g.peers)), 6,
                align_right=True, most_first=True),
    GroupColumn("rx", "Rx/s", lambda g: _rate(g, g.rate_in), lambda g: _descending(g.rate_in), 8, min_screen=100,
                align_right=True, needs=TRAFFIC, most_first=True),
    GroupColumn("tx", "Tx/s", lambda g: _rate(g, g.rate_out), lambda g: _descending(g.rate_out), 8, min_screen=100,
                align_right=True, needs=TRAFFIC, most_first=True),
    GroupColumn("command", "Command", _command, lambda g: (_command(g),), 20, flex=True, min_screen=100,
                elide=COMMAND),
)  # fmt: skip


def _names(group: HostGroup) -> str:
    return ", ".join(str(name) for name in _most_first(group.programs))


def _ports(group: HostGroup) -> str:
    return ",".join("*" if port is None else str(port) for port in sorted(group.ports, key=lambda p: p or 0))  # type: ignore[arg-type, return-value]


HOST_COLUMNS: tuple[GroupColumn, ...] = (
    GroupColumn("remote", "Remote address", lambda g: address_text(g.ip), lambda g: (ip_sort_key(g.ip),), 15,
                flex=True, max_width=41, elide=MIDDLE),
    GroupColumn("conns", "Conns", lambda g: str(g.conns), lambda g: _descending(g.conns), 6, align_right=True,
                most_first=True),
    GroupColumn("procs", "Procs", lambda g: str(len(g.processes)), lambda g: _descending(len(g.processes)), 6,
                align_right=True, most_first=True),
    GroupColumn("rx", "Rx/s", lambda g: _rate(g, g.rate_in), lambda g: _descending(g.rate_in), 8, min_screen=100,
                align_right=True, needs=TRAFFIC, most_first=True),
    GroupColumn("tx", "Tx/s", lambda g: _rate(g, g.rate_out), lambda g: _descending(g.rate_out), 8, min_screen=100,
                align_right=True, needs=TRAFFIC, most_first=True),
    GroupColumn("ports", "Ports", _ports, lambda g: (sorted(p or 0 for p in g.ports),), 10, flex=True, max_width=30),
    GroupColumn("programs", "Programs", _names, lambda g: (_names(g).lower(),), 12, flex=True),
)  # fmt: skip

COLUMNS_OF = {PROCESSES: PROCESS_COLUMNS, HOSTS: HOST_COLUMNS}
#: What each mode is sorted by at first: the most connections first.
DEFAULT_SORT = "conns"


def visible_group_columns(mode: str, screen_width: int, available: Iterable[str] = ()) -> list[GroupColumn]:
    """The columns of ``mode`` that fit ``screen_width``, of those whose needs are ``available``."""
    available = set(available)
    return [c for c in COLUMNS_OF[mode] if screen_width >= c.min_screen and (not c.needs or c.needs in available)]


# ---- the rows on screen: groups in order, each expanded one followed by its sockets


class ViewRow(NamedTuple):
    """One line of the view: a group, or (``record`` set) one of an expanded group's sockets."""

    #: What the cursor follows: ``(mode, group key)`` or ``(mode, group key, row key)``.
    ident: tuple[Hashable, ...]
    group: ProcessGroup | HostGroup
    record: Connection | None = None
    row_key: RowKey | None = None
    #: The last socket of its group (drawn with a corner).
    last: bool = False


def group_key(group: ProcessGroup | HostGroup) -> Hashable:
    return group.key if isinstance(group, ProcessGroup) else group.ip


class ViewRows:
    """The view's lines, addressed by number without one object per line: the groups ranked, each expanded one
    followed by its sockets (an expanded peer of a loopback benchmark has 20,000)."""

    def __init__(self, ranked: list[ProcessGroup | HostGroup], mode: str, expanded: set[Hashable]) -> None:
        self.mode, self.ranked = mode, ranked
        #: The line of each group, and each group's place in ``ranked`` by its key.
        self.starts: list[int] = []
        self.position_of: dict[Hashable, int] = {}
        line = 0
        for at, group in enumerate(ranked):
            key = group_key(group)
            self.starts.append(line)
            self.position_of[key] = at
            line += 1 + (len(group.sockets) if key in expanded else 0)
        self.length = line

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> ViewRow:
        if not 0 <= index < self.length:
            raise IndexError(index)
        at = bisect.bisect_right(self.starts, index) - 1
        group, offset = self.ranked[at], index - self.starts[at]
        key = group_key(group)
        if offset == 0:
            return ViewRow((self.mode, key), group)
        row_key, record = group.socket_at(offset - 1)
        return ViewRow((self.mode, key, row_key), group, record, row_key, offset == len(group.sockets))

    def index(self, ident: tuple[Hashable, ...]) -> int | None:
        """The line of a group or a socket (``ViewRow.ident``), None when it is not shown."""
        at = self.position_of.get(ident[1]) if ident[0] == self.mode else None
        if at is None:
            return None
        start = self.starts[at]
        if len(ident) == 2:
            return start
        end = self.starts[at + 1] if at + 1 < len(self.starts) else self.length
        if end - start == 1:  # not expanded
            return None
        position = self.ranked[at].socket_position(ident[2])
        return None if position is None else start + 1 + position


def view_rows(groups: Groups, mode: str, sort_column: str, reverse: bool, expanded: set[Hashable]) -> ViewRows:
    """The view's lines: the groups of ``mode`` sorted by ``sort_column`` (``reverse`` reads it backwards), each
    group whose key is in ``expanded`` followed by its sockets."""
    columns = {column.key: column for column in COLUMNS_OF[mode]}
    order = columns.get(sort_column, columns[DEFAULT_SORT]).order
    listed: Iterable[ProcessGroup | HostGroup] = (
        groups.processes.values() if mode == PROCESSES else groups.hosts.values()
    )
    # The group's own key breaks ties, so that rows do not swap places between ticks.
    return ViewRows(sorted(listed, key=lambda g: (*order(g), _tie(g)), reverse=reverse), mode, expanded)


def _tie(group: ProcessGroup | HostGroup) -> tuple[object, ...]:
    if isinstance(group, ProcessGroup):
        return (group.key[0] is None, group.key[0] or 0, group.key[1] or "")
    return (ip_sort_key(group.ip),)


def socket_text(row: ViewRow, mode: str, name: Callable[[str | None], str | None] | None = None) -> str:
    """An expanded group's socket as one line: ``├ tcp4 10.0.0.1:443 → 203.0.113.9:50112 ESTABLISHED``; in the
    by-host view, with the processes holding it; with its rates when it has traffic counts. Not yet made safe."""
    record = row.record
    assert record is not None
    corner = "└" if row.last else "├"
    peer = remote_text(record, name(record.remote_ip) if name is not None else None)
    parts = [f"  {corner} {record.proto.value}{record.family}", local_text(record)]
    if record.remote_ip is not None:
        parts += ["→", peer]
    parts.append(record.state.value)
    if mode == HOSTS:
        parts.append(",".join(owner_text(o.pid, o.name) for o in record.owners) or NO_OWNER_NAME)
    traffic = record.traffic
    if traffic is not None and (traffic.rate_in is not None or traffic.rate_out is not None):
        parts.append(f"rx {bytes_text(traffic.rate_in or 0)}/s tx {bytes_text(traffic.rate_out or 0)}/s")
    return " ".join(parts)
