"""The records nettop passes along its pipeline: sockets, owners, snapshots, parse issues.

Everything here is immutable and free of presentation: a missing value is ``None``, never ``"-"``.
``Connection`` is a ``NamedTuple`` rather than a frozen dataclass because a busy server yields tens of
thousands of them per tick and a NamedTuple is built about five times faster (0.4 µs against 2 µs).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from types import MethodType
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeAlias

if TYPE_CHECKING:
    from nettop.cgroups import Placement


class Proto(enum.StrEnum):
    TCP = "tcp"
    UDP = "udp"
    RAW = "raw"


class State(enum.StrEnum):
    """One normalised set of socket states, whatever the tool spelled them."""

    LISTEN = "LISTEN"
    ESTABLISHED = "ESTABLISHED"
    SYN_SENT = "SYN_SENT"
    SYN_RECV = "SYN_RECV"
    FIN_WAIT1 = "FIN_WAIT1"
    FIN_WAIT2 = "FIN_WAIT2"
    TIME_WAIT = "TIME_WAIT"
    CLOSE = "CLOSE"
    CLOSE_WAIT = "CLOSE_WAIT"
    LAST_ACK = "LAST_ACK"
    CLOSING = "CLOSING"
    #: A datagram socket that has no peer: UDP has no connection state.
    UNCONNECTED = "UNCONNECTED"
    UNKNOWN = "UNKNOWN"


class OwnerStatus(enum.StrEnum):
    """Why a record has the owners it has; anything but KNOWN explains an empty or partial list."""

    KNOWN = "known"
    #: The kernel holds the socket, no process does (TIME_WAIT, not yet accepted, orphaned).
    NO_PROCESS = "no-process"
    #: Another user's process: only root may see it.
    NOT_PERMITTED = "not-permitted"
    #: The owner exited between the listing and the lookup.
    GONE = "gone"
    #: The input does not say (a capture made without -p, or a tool that never shows owners).
    NOT_REPORTED = "not-reported"


@dataclass(frozen=True, slots=True)
class Owner:
    """A process that holds a socket. ``name`` is what the tool or the kernel calls it (comm). ``pid`` is None
    only where a capture named the process and not its pid (an owner cell cut to a bare name)."""

    pid: int | None
    name: str | None = None
    user: str | None = None
    cmdline: tuple[str, ...] | None = None
    #: Process start time, seconds since the epoch (psutil's create_time).
    start_time: float | None = None
    #: Where it runs (Linux): its cgroup path (``/proc/PID/cgroup``) and the systemd unit, container or pod that
    #: path names (``nettop.cgroups.classify``), with the names the runtimes' state files give
    #: (``nettop.owners.runtimes``).
    placement: Placement | None = None

    @property
    def cgroup(self) -> str | None:
        return self.placement.cgroup if self.placement is not None else None


class Traffic(NamedTuple):
    """A TCP connection's counts from the kernel (``tcp_info``, through sock_diag), and its rates over the last
    interval. UDP keeps no such counts: its records have no ``Traffic``, which is shown as "—", never 0."""

    #: Bytes received, and bytes sent and acknowledged (the SYN and FIN the kernel counts taken out).
    bytes_in: int | None
    bytes_out: int | None
    #: Smoothed round-trip time, microseconds.
    rtt_us: int
    #: Segments retransmitted over the connection's life.
    retransmits: int
    #: Bytes a second since the socket was last seen (``nettop.traffic``); None until it has been seen twice.
    rate_in: int | None = None
    rate_out: int | None = None


class ConnKey(NamedTuple):
    """What identifies one connection across snapshots: its protocol, family and both ends (see
    ``nettop.snapshots`` for the row key, which also tells apart sockets sharing these)."""

    proto: Proto
    family: int
    local_ip: str
    local_port: int | None
    remote_ip: str | None
    remote_port: int | None
    interface: str | None
    #: The remote host (``--host``), None for this machine: two hosts' sockets may share every other field.
    host: str | None = None


class Connection(NamedTuple):
    """One socket, as one line of a listing described it (plus what enrichment added)."""

    proto: Proto
    #: 4 or 6: the socket's address family (an IPv4-mapped address lives on a family-6 socket).
    family: int
    local_ip: str
    local_port: int | None
    #: None for a wildcard peer (``0.0.0.0:*``, ``[::]:*``, ``*:*``).
    remote_ip: str | None
    remote_port: int | None
    state: State
    owners: tuple[Owner, ...] = ()
    owner_status: OwnerStatus = OwnerStatus.NOT_REPORTED
    #: The device a socket is bound to or the IPv6 scope (``%lo``, ``%v0``).
    interface: str | None = None
    recv_q: int | None = None
    send_q: int | None = None
    inode: int | None = None
    uid: int | None = None
    #: For an IPv6 socket: whether it refuses IPv4 (None when the tool does not say).
    v6only: bool | None = None
    #: True when the tool cut an address to fit its column, so it is not the real one.
    truncated: bool = False
    #: Which tool produced the record: "ss", "netstat", ...
    source: str = ""
    raw: str = ""
    #: A port the tool wrote as a service name that nettop cannot number (``dsf`` from a machine whose services
    #: database knows it): the port is None and the name is kept here. None when the port is a number.
    local_service: str | None = None
    remote_service: str | None = None
    #: Bytes, rates and round-trip time, for a TCP socket of a source that reads them (netlink, when asked).
    traffic: Traffic | None = None
    #: The network namespace the socket lives in, when the listing spans several (``--all-netns``).
    netns: str | None = None
    #: Where the socket's creator ran, from the socket's own cgroup (sock_diag's cgroup id), for a socket whose
    #: owners are not known: another user's, to a user who is not root. See ``runs_in``.
    placement: Placement | None = None
    #: The host a remote listing read it on (``--host``: as the user named it); None for this machine.
    host: str | None = None

    @property
    def key(self) -> ConnKey:
        # Sliced off the record, less ConnKey's Python-level __new__: baselines and policies key every row.
        return _new_key((*self[:6], self.interface, self.host))

    @property
    def pid(self) -> int | None:
        return self.owners[0].pid if self.owners else None

    @property
    def program(self) -> str | None:
        return self.owners[0].name if self.owners else None

    @property
    def user(self) -> str | None:
        return self.owners[0].user if self.owners else None

    @property
    def runs_in(self) -> Placement | None:
        """Where the socket belongs: its first owner's cgroup, else the socket's own (see ``placement``)."""
        owners = self.owners
        return owners[0].placement if owners and owners[0].placement is not None else self.placement

    @property
    def is_listener(self) -> bool:
        """A TCP socket in LISTEN, or a UDP socket bound with no peer: what serves a port."""
        if self.proto is Proto.TCP:
            return self.state is State.LISTEN
        return self.proto is Proto.UDP and self.remote_ip is None


_new_key: Callable[[tuple[Any, ...]], ConnKey] = MethodType(tuple.__new__, ConnKey)

#: ``new_connection(fields)``: a Connection from a tuple of all 24 of its fields, in order, without
#: NamedTuple's Python-level ``__new__`` (which checks and defaults, a third of a record's cost: 0.11 µs against
#: 0.27 µs for ``Connection(*fields)``). For the hot loops that build a record per line; anything else calls
#: ``Connection(...)`` by keyword. It replaces ``tuple.__new__(Connection, (...))`` written out at each site, at
#: the same cost (a bound method of the C function; ``functools.partial`` added 0.02 µs a record).
new_connection: Callable[[tuple[Any, ...]], Connection] = MethodType(tuple.__new__, Connection)


#: The kernel's TCP state numbers (``include/net/tcp_states.h``), as ``/proc/net/tcp`` and sock_diag give them;
#: 12 is a request socket (``TCP_NEW_SYN_RECV``), SYN_RECV to ss.
KERNEL_TCP_STATES: dict[int, State] = {
    1: State.ESTABLISHED,
    2: State.SYN_SENT,
    3: State.SYN_RECV,
    4: State.FIN_WAIT1,
    5: State.FIN_WAIT2,
    6: State.TIME_WAIT,
    7: State.CLOSE,
    8: State.CLOSE_WAIT,
    9: State.LAST_ACK,
    10: State.LISTEN,
    11: State.CLOSING,
    12: State.SYN_RECV,
}


# ---- ranges: the largest value each number of a record may hold, the range of the kernel type behind it. A
# capture may say anything (``port 70000``, a 30-digit inode); parsers, the JSON reader and the filter language
# all refuse what lies outside, so that no consumer (JSON writers take 64 bits at most) ever meets it.

MAX_PORT = 65_535
#: pid_t; Linux's PID_MAX_LIMIT is 2**22, Windows' pids are 32-bit.
MAX_PID = 2**31 - 1
MAX_UID = 2**32 - 1  # uid_t
MAX_INODE = 2**64 - 1  # ino_t
MAX_QUEUE = 2**63 - 1  # a signed 64-bit count


# ---- addresses: the few spellings every tool, check and filter must agree on

#: How tools write "any address" in the host part of an endpoint (``*:22``, ``0.0.0.0:22``, ``:::22``,
#: ``[::]:22``); a record keeps ``0.0.0.0`` or ``::``.
WILDCARD_HOSTS = frozenset({"*", "0.0.0.0", "::", "[::]"})
#: The prefix of an IPv4 address on an IPv6 socket, as ss, psutil and every parser write it
#: (``::ffff:127.0.0.1``): a parser that reads a bare IPv4 host on a family-6 socket prepends it.
IPV4_MAPPED_PREFIX = "::ffff:"


def unmapped(address: Any) -> Any:
    """An ``ipaddress`` address with an IPv4-mapped IPv6 one (``::ffff:10.0.0.1``) as its IPv4 address: the peer
    is IPv4, on a dual-stack socket. Typed ``Any`` so that this module need not import ``ipaddress``."""
    mapped = getattr(address, "ipv4_mapped", None)
    return address if mapped is None else mapped


#: Given a socket's inode, state and uid, says who owns it and, when nobody visible does, why:
#: how live sources give parsers the owners the listing itself does not show.
OwnerResolver: TypeAlias = Callable[[int | None, State, int | None], tuple[tuple[Owner, ...], OwnerStatus]]


@dataclass(frozen=True, slots=True)
class ParseIssue:
    """A line the parser could not read: skipped, and reported with its number (1-based)."""

    line_no: int
    text: str
    reason: str


@dataclass(frozen=True, slots=True)
class ParseResult:
    records: tuple[Connection, ...]
    issues: tuple[ParseIssue, ...] = ()
    #: The format the parser read, e.g. "ss" or "netstat-linux".
    format: str = ""
    #: Rows left out on purpose because they are not internet sockets, counted by what they are:
    #: ``(("UNIX", 12), ("netlink", 3))``. Not issues: nothing was misread.
    skipped: tuple[tuple[str, int], ...] = ()

    def __repr__(self) -> str:
        # A summary: asyncio reprs task results, and 20,000 records would cost 100 ms each time.
        return f"ParseResult(format={self.format!r}, records={len(self.records)}, issues={len(self.issues)})"


class RecordDelta(NamedTuple):
    """What a snapshot removed and added against the one taken at ``since`` by the same source: the records
    that went and the ones that came, a record that changed being in both (as it was, and as it is)."""

    since: float
    removed: tuple[Connection, ...]
    added: tuple[Connection, ...]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every socket seen at one moment, and how that moment was read."""

    records: tuple[Connection, ...]
    #: When collection started, seconds since the epoch.
    taken_at: float
    #: How long collection took, in seconds.
    duration: float
    #: The source used: "ss", "netstat", "file".
    source: str
    issues: tuple[ParseIssue, ...] = ()
    #: Things the user should know about the whole snapshot (a fallback taken, owners hidden).
    notes: tuple[str, ...] = field(default=())
    #: What changed since the source's previous snapshot, when the source knows (a live ``ss`` does).
    delta: RecordDelta | None = None
    #: Hosts (``--host``) whose refresh failed this time: their rows, if any, are from an earlier refresh.
    stale: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return (
            f"Snapshot(source={self.source!r}, records={len(self.records)}, issues={len(self.issues)}, "
            f"taken_at={self.taken_at:.3f}, duration={self.duration:.3f})"
        )


class Source(Protocol):
    """Anything that can take a snapshot: a live platform source, a file, a test's script."""

    name: str

    async def collect(self) -> Snapshot: ...
