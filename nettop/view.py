"""What the viewer shows, as pure data: columns, cell text, sort keys, and the rows model that lingers.

No Textual here: the model takes snapshots, remembers when each connection appeared or closed, and
answers "which rows, in which order" for a filter and a sort. The table widget only draws what it says.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from nettop.changes import RowKey, SnapshotDiff, diff, index_records
from nettop.model import Connection, Proto

#: How long a new connection stays highlighted, and a closed one stays (dimmed) before it goes.
NEW_HIGHLIGHT_SECONDS = 5.0
CLOSED_LINGER_SECONDS = 5.0


@lru_cache(maxsize=65536)
def ip_sort_key(ip: str | None) -> tuple[int, int, str]:
    """Numeric order for addresses (10.0.0.2 before 10.0.0.10); wildcards first, names last."""
    if ip is None:
        return (0, 0, "")
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return (9, 0, ip)
    return (address.version, int(address), "")


@lru_cache(maxsize=4096)
def service_name(port: int | None, proto: str) -> str:
    """The well-known name of a port (``ssh``, ``https``), or "" when it has none or is ephemeral."""
    if port is None or port >= 32768 or proto not in ("tcp", "udp"):
        return ""
    try:
        return socket.getservbyport(port, proto)
    except OSError:
        return ""


def owner_pids(record: Connection) -> str:
    return ",".join(str(owner.pid) for owner in record.owners)


def owner_names(record: Connection) -> str:
    return ",".join(owner.name or "?" for owner in record.owners)


def command_line(record: Connection) -> str:
    owner = record.owners[0] if record.owners else None
    return " ".join(owner.cmdline) if owner is not None and owner.cmdline else ""


def address_text(ip: str | None, interface: str | None = None) -> str:
    if ip is None:
        return "*"
    return f"{ip}%{interface}" if interface else ip


def port_text(port: int | None) -> str:
    return "*" if port is None else str(port)


@dataclass(frozen=True, slots=True)
class Column:
    """One table column: what it shows, how it sorts, how wide it is and when it may be hidden."""

    key: str
    title: str
    cell: Callable[[Connection], str]
    sort_key: Callable[[Connection], Any]
    width: int
    #: Flexible columns share the width left over by fixed ones.
    flex: bool = False
    #: Hidden when the screen is narrower than this.
    min_screen: int = 0
    #: A flexible column grows no wider than this (0: no limit).
    max_width: int = 0
    align_right: bool = False


def _service(record: Connection) -> str:
    port = record.local_port if record.is_listener or record.remote_port is None else record.remote_port
    return service_name(port, record.proto.value)


COLUMNS: tuple[Column, ...] = (
    Column("proto", "Proto", lambda r: f"{r.proto.value}{r.family}", lambda r: (r.proto.value, r.family), 6),
    Column(
        "local",
        "Local address",
        lambda r: address_text(r.local_ip, r.interface),
        lambda r: ip_sort_key(r.local_ip),
        15,
        flex=True,
        max_width=41,
    ),
    Column("lport", "Port", lambda r: port_text(r.local_port), lambda r: r.local_port or 0, 5, align_right=True),
    Column(
        "remote",
        "Remote address",
        lambda r: address_text(r.remote_ip),
        lambda r: ip_sort_key(r.remote_ip),
        15,
        flex=True,
        max_width=41,
    ),
    Column("rport", "Port", lambda r: port_text(r.remote_port), lambda r: r.remote_port or 0, 5, align_right=True),
    Column("state", "State", lambda r: r.state.value, lambda r: r.state.value, 11),
    Column("pid", "PID", owner_pids, lambda r: r.pid or 0, 7, align_right=True),
    Column("program", "Program", owner_names, lambda r: (r.program or "~").lower(), 8, flex=True, max_width=24),
    Column("user", "User", lambda r: r.user or "", lambda r: r.user or "~", 9, min_screen=96),
    Column("service", "Service", _service, _service, 9, min_screen=120),
    Column("command", "Command", command_line, command_line, 20, flex=True, min_screen=160),
)
COLUMN_KEYS = tuple(column.key for column in COLUMNS)


def visible_columns(screen_width: int) -> list[Column]:
    return [column for column in COLUMNS if screen_width >= column.min_screen]


def column_widths(columns: list[Column], width: int) -> list[int]:
    """Fixed columns get their width; flexible ones share what is left (one space between columns).

    On a screen too narrow for all of it, the widest flexible columns give up cells first (to 4 each).
    """
    widths = [column.width for column in columns]
    spare = width - sum(widths) - (len(columns) - 1)
    flex = [i for i, column in enumerate(columns) if column.flex]
    growing = list(flex)
    while spare > 0 and growing:
        share, extra = divmod(spare, len(growing))
        for n, i in enumerate(growing):
            grant = share + (1 if n < extra else 0)
            limit = columns[i].max_width
            if limit:
                grant = min(grant, max(limit - widths[i], 0))
            widths[i] += grant
            spare -= grant
        growing = [i for i in growing if not columns[i].max_width or widths[i] < columns[i].max_width]
    while spare < 0 and flex:
        widest = max(flex, key=lambda i: widths[i])
        if widths[widest] <= 4:
            break
        widths[widest] -= 1
        spare += 1
    return widths


@dataclass(slots=True)
class Row:
    """A connection the viewer knows: its latest record, when it appeared and, if it closed, when."""

    record: Connection
    first_seen: float
    closed_at: float | None = None


@dataclass
class RowsModel:
    """Every connection on screen, kept across snapshots by row key and updated from diffs."""

    rows: dict[RowKey, Row] = field(default_factory=dict)
    #: The live records of the last snapshot, by key (without the lingering closed ones).
    current: dict[RowKey, Connection] = field(default_factory=dict)
    started: bool = False

    def apply(self, records: Iterable[Connection], now: float) -> SnapshotDiff:
        """Take a new snapshot; return what changed since the last one."""
        latest = index_records(records)
        change = diff(self.current, latest)
        first = not self.started
        for key, record in latest.items():
            row = self.rows.get(key)
            if row is None:
                # Everything in the very first snapshot was already there: nothing is "new".
                self.rows[key] = Row(record, now - NEW_HIGHLIGHT_SECONDS if first else now)
            else:
                row.record = record
                row.closed_at = None
        for key in self.current.keys() - latest.keys():
            self.rows[key].closed_at = now
        self.expire(now)
        self.current = latest
        self.started = True
        return change

    def expire(self, now: float) -> bool:
        """Forget closed rows whose linger time is over; True when any went."""
        gone = [
            key
            for key, row in self.rows.items()
            if row.closed_at is not None and now - row.closed_at >= CLOSED_LINGER_SECONDS
        ]
        for key in gone:
            del self.rows[key]
        return bool(gone)

    def ordered(self, keep: Callable[[Connection], bool], sort_column: str, reverse: bool) -> list[tuple[RowKey, Row]]:
        """The rows that pass ``keep``, sorted by one column (ties keep listing order)."""
        column = next((c for c in COLUMNS if c.key == sort_column), COLUMNS[0])
        sort_key = column.sort_key
        chosen = [(key, row) for key, row in self.rows.items() if keep(row.record)]
        # Ties are broken by the connection's ends, so equal rows never swap places between ticks.
        chosen.sort(key=lambda item: (sort_key(item[1].record), _tie_break(item[1].record)), reverse=reverse)
        return chosen


def _tie_break(record: Connection) -> tuple[Any, ...]:
    remote = ip_sort_key(record.remote_ip)
    return (record.local_port or 0, remote, record.remote_port or 0, ip_sort_key(record.local_ip))


@dataclass(frozen=True, slots=True)
class Counts:
    """The numbers in the header."""

    shown: int
    total: int
    listeners: int
    by_state: Mapping[str, int]
    by_proto: Mapping[str, int]


def counts(records: Iterable[Connection], shown: int) -> Counts:
    by_state: dict[str, int] = {}
    by_proto: dict[str, int] = {}
    total = listeners = 0
    for record in records:
        total += 1
        by_state[record.state.value] = by_state.get(record.state.value, 0) + 1
        proto = record.proto.value
        by_proto[proto] = by_proto.get(proto, 0) + 1
        if record.is_listener:
            listeners += 1
    return Counts(shown, total, listeners, by_state, by_proto)


PROTO_CYCLE: tuple[Proto | None, ...] = (None, Proto.TCP, Proto.UDP)
