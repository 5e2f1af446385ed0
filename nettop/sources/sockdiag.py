"""The kernel's socket table over netlink (``NETLINK_SOCK_DIAG``): what ``ss`` reads, without ``ss``.

One dump request per protocol and family (``SOCK_DIAG_BY_FAMILY`` with ``NLM_F_DUMP``) returns an
``inet_diag_msg`` per socket: family, state, both ends, bound interface, queues, uid and inode, followed by
attributes (``rtattr``). Of these nettop reads ``INET_DIAG_SKV6ONLY``, ``INET_DIAG_CGROUP_ID`` (kernels from 5.7
send it unasked) and, when asked, ``INET_DIAG_INFO``: the ``struct tcp_info`` behind ``ss -i``. Layouts are
those of ``<linux/inet_diag.h>``, ``<linux/sock_diag.h>`` and ``<linux/tcp.h>``; ``tcp_info`` is read by the
length the kernel reports, since it grows with each release.

Pure standard library and no text: about half the CPU of ``ss -tunae`` plus its parse. The records come with
inodes and no owners, like a text command's, and are joined with the ``/proc`` scan the same way.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from collections.abc import Iterable, Iterator
from types import MethodType
from typing import Any, NamedTuple

from nettop.errors import CommandError
from nettop.formats.registry import command
from nettop.model import KERNEL_TCP_STATES, Connection, OwnerStatus, Proto, State, Traffic, new_connection

#: ``<linux/netlink.h>``, ``<linux/sock_diag.h>``.
NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
NLMSG_ERROR = 2
NLMSG_DONE = 3
#: ``<linux/inet_diag.h>`` attribute types.
INET_DIAG_INFO = 2
INET_DIAG_SKV6ONLY = 11
INET_DIAG_CGROUP_ID = 21
#: Every TCP state, ``TCP_ESTABLISHED`` (1) to ``TCP_NEW_SYN_RECV`` (12), as ``ss -a`` asks.
ALL_STATES = (1 << 13) - 1

#: The argv that messages quote for this source (it runs no command), as the format registry names it.
ARGV = command("linux", "netlink").argv
#: A parse result's format, and the records' source.
FORMAT = "netlink"

_HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, seq, pid
_REQUEST = struct.Struct("=BBBBI48x")  # inet_diag_req_v2: family, protocol, ext, pad, states; a zero sockid
_ATTRIBUTE = struct.Struct("=HH")
_ERRNO = struct.Struct("=i")
_U32, _U64 = struct.Struct("=I"), struct.Struct("=Q")

#: The socket's receive queue: room for a dump's datagrams while a tick decodes the ones before.
_RECEIVE_QUEUE = 1 << 20
#: The most one ``recv`` takes. The kernel fills a dump's datagrams up to 32 KiB (netlink caps them there), and a
#: datagram cut short would fail loudly (a message that overruns its datagram). Not the queue's 1 MiB: Python
#: allocates what ``recv`` may take, and a megabyte each time cost 25 ms of a 60,000-socket dump's 85 ms.
_DATAGRAM_MAX = 1 << 16


class TcpInfo(NamedTuple):
    """What nettop keeps of a TCP socket's ``struct tcp_info``; None where the kernel's struct is too short."""

    #: Smoothed round-trip time, microseconds (``tcpi_rtt``).
    rtt_us: int
    #: Retransmissions of the segment now timing out, and of the whole connection.
    retransmits: int
    total_retrans: int
    #: Bytes the peer acknowledged (counts SYN and FIN) and bytes received (Linux 4.1+, 4.2+).
    bytes_acked: int | None
    bytes_received: int | None
    #: Bytes sent, retransmissions included, and of them the bytes retransmitted (Linux 4.19+).
    bytes_sent: int | None
    bytes_retrans: int | None = None


#: ``struct tcp_info`` offsets (``<linux/tcp.h>``): the u8 ``tcpi_retransmits`` at 2, u32 ``tcpi_rtt`` at 68,
#: ``tcpi_total_retrans`` at 100, u64 ``tcpi_bytes_acked`` at 120, ``tcpi_bytes_received`` at 128,
#: ``tcpi_bytes_sent`` at 200, ``tcpi_bytes_retrans`` at 208.
_RTT, _TOTAL_RETRANS, _BYTES_ACKED, _BYTES_RECEIVED, _BYTES_SENT, _BYTES_RETRANS = 68, 100, 120, 128, 200, 208


def tcp_info(data: bytes | memoryview) -> TcpInfo | None:
    """The fields nettop reads from a ``tcp_info`` of the length the kernel sent; None if it lacks even rtt."""
    size = len(data)
    if size < _TOTAL_RETRANS + 4:
        return None

    def u64(offset: int) -> int | None:
        return _U64.unpack_from(data, offset)[0] if size >= offset + 8 else None

    return TcpInfo(
        _U32.unpack_from(data, _RTT)[0],
        data[2],
        _U32.unpack_from(data, _TOTAL_RETRANS)[0],
        u64(_BYTES_ACKED),
        u64(_BYTES_RECEIVED),
        u64(_BYTES_SENT),
        u64(_BYTES_RETRANS),
    )


#: What a record's ``Traffic`` holds of a ``tcp_info`` of Linux 4.19 or later, in one unpack: ``tcpi_rtt``,
#: ``tcpi_total_retrans``, ``tcpi_bytes_acked``, ``_received``, ``_sent`` and ``_retrans`` (offsets above).
_COUNTS = struct.Struct("=68xI28xI16xQQ64xQQ")
_new_traffic = MethodType(tuple.__new__, Traffic)
#: Where the last ``tcp_info`` seen lay, when it ended its message: its padded span from the message's end, and the
#: attribute header it had (a kernel sends one length). A dump's first socket walks its attributes and sets it.
_INFO_SPAN: list[Any] = [1 << 30, None]


def bytes_out(info: TcpInfo) -> int | None:
    """Data bytes sent and acknowledged. ``tcpi_bytes_acked`` counts the SYN on the side that connected and the
    FIN once acknowledged, so it may be up to 2 over; ``bytes_sent - bytes_retrans`` (Linux 4.19+) is the data
    sent once: the smaller of the two is exact whenever the peer acknowledged all the data. Before 4.19,
    ``bytes_acked - 1``, which may be one over. None before Linux 4.1."""
    acked = info.bytes_acked
    if acked is None:
        return None
    if info.bytes_sent is not None and info.bytes_retrans is not None:
        return max(min(acked, info.bytes_sent - info.bytes_retrans), 0)
    return max(acked - 1, 0)


def traffic(info: TcpInfo) -> Traffic:
    """A live connection's ``Traffic`` from its ``tcp_info`` (bytes received: no FIN has come yet)."""
    return Traffic(info.bytes_received, bytes_out(info), info.rtt_us, info.total_retrans)


class DiagSocket(NamedTuple):
    """One socket of a dump: its record (inode, no owners yet), and what the record does not hold."""

    record: Connection
    #: The cgroup v2 id of the socket (its creator's cgroup): None on kernels that do not send it.
    cgroup_id: int | None
    info: TcpInfo | None


class SockDiagUnavailable(CommandError):
    """The kernel, or a sandbox, refuses sock_diag: the source falls back to ``ss``."""

    def __init__(self, reason: str) -> None:
        super().__init__(ARGV, f"the kernel's socket table could not be read over netlink: {reason}")


#: One dump's datagrams as received, with the protocol asked for: what ``receive`` gathers and ``decode`` reads.
Received = list[tuple[Proto, list[bytes]]]
#: The same as they come (``stream``), or gathered: what the live decoder reads.
Datagrams = Iterable[tuple[Proto, Iterable[bytes]]]


def dump(with_info: bool = False, families: tuple[int, ...] = (socket.AF_INET, socket.AF_INET6)) -> list[DiagSocket]:
    """Every TCP and UDP socket of these families in this network namespace, as ``ss -tuna`` lists them.

    ``with_info`` asks the kernel for each TCP socket's ``tcp_info`` too. Raises ``SockDiagUnavailable``.
    """
    return decode(receive(with_info, families))


def receive(with_info: bool = False, families: tuple[int, ...] = (socket.AF_INET, socket.AF_INET6)) -> Received:
    """The dumps' datagrams, unread. Most of a dump's time is the kernel's, inside ``recv`` (which releases the
    interpreter lock): ``nettop list`` runs this in a thread beside its imports, and decodes after.

    Raises ``SockDiagUnavailable``.
    """
    return [(proto, list(datagrams)) for proto, datagrams in stream(with_info, families)]


def stream(
    with_info: bool = False, families: tuple[int, ...] = (socket.AF_INET, socket.AF_INET6)
) -> Iterator[tuple[Proto, Iterator[bytes]]]:
    """``receive``'s datagrams as they come, each dump's to be read whole before the next is asked for: a live
    view decodes each datagram as it arrives, and never holds a whole dump (25 MB at 60,000 sockets with
    tcp_info). Raises ``SockDiagUnavailable`` as it goes."""
    try:
        channel = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC, NETLINK_SOCK_DIAG)
    except (OSError, AttributeError) as error:  # no AF_NETLINK (not Linux), or a seccomp filter
        raise SockDiagUnavailable(_reason(error)) from None
    with channel:
        sequence = 0
        try:
            channel.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_QUEUE)
        except OSError as error:
            raise SockDiagUnavailable(_reason(error)) from None
        for proto, number in ((Proto.TCP, socket.IPPROTO_TCP), (Proto.UDP, socket.IPPROTO_UDP)):
            ext = 1 << (INET_DIAG_INFO - 1) if with_info and proto is Proto.TCP else 0
            for family in families:
                sequence += 1
                request = _HEADER.pack(
                    _HEADER.size + _REQUEST.size, SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, sequence, 0
                ) + _REQUEST.pack(family, number, ext, 0, ALL_STATES)
                try:
                    channel.send(request)
                except OSError as error:
                    raise SockDiagUnavailable(_reason(error)) from None
                yield proto, _datagrams(channel)


def decode(received: Received) -> list[DiagSocket]:
    """The sockets in ``receive``'s datagrams with all nettop reads of them (cgroup id, tcp_info). Raises
    ``SockDiagUnavailable`` for a dump the kernel refused."""
    found: list[DiagSocket] = []
    _decode_all(received, found, True, False)
    return found


def records(
    received: Received,
    with_traffic: bool = False,
    cgroup_ids: dict[int, int] | None = None,
    interfaces: dict[int, str] | None = None,
    netns: str | None = None,
) -> list[Connection]:
    """``decode``'s records alone, read faster: a socket's attributes are read only for what a record holds
    (v6only, sent for IPv6 listeners; and with ``with_traffic`` a connected TCP socket's ``tcp_info``, when the
    dump asked for it, as the record's ``Traffic``, rates not yet known). ``cgroup_ids`` is given each socket's
    cgroup id by inode, where the kernel sends one. ``interfaces`` and ``netns``: another network namespace's
    device names by index (an index this namespace does not know is written as its number), and its label."""
    found: list[Connection] = []
    _decode_all(received, found, False, with_traffic, cgroup_ids, interfaces, netns)
    return found


def _decode_all(
    received: Received,
    out: list[Any],
    details: bool,
    with_traffic: bool,
    cgroup_ids: dict[int, int] | None = None,
    interfaces: dict[int, str] | None = None,
    netns: str | None = None,
) -> None:
    hosts: tuple[dict[bytes, str], dict[bytes, str]] = ({}, {})
    names = _interface_names(interfaces)
    try:
        for proto, datagrams in received:
            for datagram in datagrams:
                traffic = with_traffic and proto is Proto.TCP
                _decode(datagram, proto, out, details, hosts, traffic, cgroup_ids, names, netns)
    except OSError as error:
        raise SockDiagUnavailable(_reason(error)) from None


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.errno is not None:
        return f"{error.strerror or os.strerror(error.errno)} ({errno.errorcode.get(error.errno, error.errno)})"
    return str(error) or type(error).__name__


#: The last message of a dump, alone or at the end of a datagram: a header and an int.
_DONE_SIZE = _HEADER.size + _ERRNO.size


def _datagrams(channel: socket.socket) -> Iterator[bytes]:
    """One dump's datagrams, up to the one that ends with ``NLMSG_DONE`` or holds an error. Only the first and the
    last message of each datagram are looked at here: the walk through all of them is ``decode``'s."""
    while True:
        try:
            datagram = channel.recv(_DATAGRAM_MAX)
        except OSError as error:
            raise SockDiagUnavailable(_reason(error)) from None
        yield datagram
        if len(datagram) < _HEADER.size or _HEADER.unpack_from(datagram)[1] == NLMSG_ERROR:
            return
        if len(datagram) >= _DONE_SIZE:
            length, kind, _, _, _ = _HEADER.unpack_from(datagram, len(datagram) - _DONE_SIZE)
            if kind == NLMSG_DONE and length == _DONE_SIZE:
                return


#: ``inet_diag_msg`` after the ports: addresses, interface, cookie; expires, queues, uid, inode.
_MESSAGE = struct.Struct("=BBBB4x16s16sI8x4xIIII")
_PORTS = struct.Struct("!HH")
#: Where a message's parts start: after its netlink header, the ports, then the attributes after the message.
_BODY, _PORTS_AT, _ATTRIBUTES_AT = _HEADER.size, _HEADER.size + 4, _HEADER.size + _MESSAGE.size
_TCP_STATE_LIST = tuple(KERNEL_TCP_STATES.get(number, State.UNKNOWN) for number in range(256))
_V6_LISTENING = frozenset({7, 10})  # TCP_CLOSE, TCP_LISTEN: the states the kernel sends v6only for


def _decode(  # the hot loop, one record a socket: kept whole, like the text parsers'
    datagram: bytes,
    proto: Proto,
    out: list[Any],
    details: bool,
    hosts: tuple[dict[bytes, str], dict[bytes, str]],
    with_traffic: bool,
    cgroup_ids: dict[int, int] | None,
    interfaces: dict[int, str | None],
    netns: str | None = None,
) -> None:
    """Append the sockets of one datagram to ``out``: records, or ``DiagSocket``s with ``details``; with
    ``with_traffic``, a connected socket's record has its ``Traffic``; each record names ``netns``. Raises OSError
    for an error message or one that overruns the datagram.

    Per socket: two ``unpack_from`` calls, host text from a per-dump cache (a server's sockets share a few
    addresses) and the fast record constructor; the attributes are walked only when needed.
    """
    unpack_header, unpack_message, unpack_ports = _HEADER.unpack_from, _MESSAGE.unpack_from, _PORTS.unpack_from
    new, states = new_connection, _TCP_STATE_LIST
    udp = proto is Proto.UDP
    not_reported, source = OwnerStatus.NOT_REPORTED, FORMAT
    unconnected, established = State.UNCONNECTED, State.ESTABLISHED
    size, offset = len(datagram), 0
    while offset + _HEADER.size <= size:
        length, kind, _, _, _ = unpack_header(datagram, offset)
        if length < _HEADER.size or offset + length > size:
            raise OSError(errno.EBADMSG, "a netlink message overruns its datagram")
        if kind == SOCK_DIAG_BY_FAMILY and length >= _ATTRIBUTES_AT:
            family, state_number, _, _, src, dst, index, rqueue, wqueue, uid, inode = unpack_message(
                datagram, offset + _BODY
            )
            sport, dport = unpack_ports(datagram, offset + _PORTS_AT)
            six = family != socket.AF_INET
            known = hosts[six]
            local_ip = known.get(src)
            if local_ip is None:
                local_ip = known[src] = socket.inet_ntop(family, src if six else src[:4])
            remote_ip = known.get(dst)
            if remote_ip is None:
                remote_ip = known[dst] = socket.inet_ntop(family, dst if six else dst[:4])
            remote_port: int | None = dport
            if not dport and (remote_ip == "0.0.0.0" or remote_ip == "::"):
                remote_ip = remote_port = None
            state = (established if state_number == 1 else unconnected) if udp else states[state_number]
            v6only = cgroup_id = info = None
            # A listener moves no data: its tcp_info is all zeros, and its record has no Traffic.
            counted = with_traffic and state_number != 10
            end = offset + length
            if details or counted or (cgroup_ids is not None and inode) or (six and state_number in _V6_LISTENING):
                v6only, cgroup_id, info = _attributes(datagram, offset + _ATTRIBUTES_AT, end, details)
                if cgroup_id and inode and cgroup_ids is not None:
                    cgroup_ids[inode] = cgroup_id
            interface = interfaces.get(index, "") if index else None
            if interface == "":  # not yet known: looked up in this namespace, or another's unknown index
                interface = _interface_name(index) if interfaces is _INTERFACES else str(index)
            # A socket without a file (TIME-WAIT, a request, an orphan) has inode 0 and a uid 0 that is no one's:
            # ss prints neither, and the record says None for both.
            record = new(
                (proto, 6 if six else 4, local_ip, sport, remote_ip, remote_port, state, (), not_reported, interface,
                 rqueue, wqueue, inode or None, uid if inode else None, v6only, False, source, "", None, None,
                 info if counted else None, netns, None, None)
            )  # fmt: skip
            out.append(DiagSocket(record, cgroup_id, info) if details else record)
        elif kind == NLMSG_DONE:
            return
        elif kind == NLMSG_ERROR:
            code = -_ERRNO.unpack_from(datagram, offset + _HEADER.size)[0]
            if code:  # 0 is an acknowledgement, not an error
                raise OSError(code, os.strerror(code))
        offset += (length + 3) & ~3


def _attributes(datagram: bytes, offset: int, end: int, details: bool) -> tuple[bool | None, int | None, Any]:
    """v6only, the cgroup id and ``tcp_info`` among a message's attributes (``rtattr``: length, type, payload):
    ``tcp_info`` as a ``TcpInfo`` with ``details``, else as the record's ``Traffic``."""
    v6only: bool | None = None
    cgroup_id: int | None = None
    info: Any = None
    while offset + _ATTRIBUTE.size <= end:
        length, kind = _ATTRIBUTE.unpack_from(datagram, offset)
        if length < _ATTRIBUTE.size or offset + length > end:
            break
        payload = offset + _ATTRIBUTE.size
        if kind == INET_DIAG_SKV6ONLY and length > _ATTRIBUTE.size:
            v6only = bool(datagram[payload])
        elif kind == INET_DIAG_CGROUP_ID and length >= _ATTRIBUTE.size + 8:
            cgroup_id = _U64.unpack_from(datagram, payload)[0]
        elif kind == INET_DIAG_INFO:
            if offset + ((length + 3) & ~3) >= end and length - _ATTRIBUTE.size >= _COUNTS.size:
                # The last attribute, and long enough for the one-unpack read: remember where it lies.
                _INFO_SPAN[:] = [(length + 3) & ~3, (length, INET_DIAG_INFO)]
            if not details and length - _ATTRIBUTE.size >= _COUNTS.size:  # one unpack for a record's counts
                rtt, retransmits, acked, received, sent, retransmitted = _COUNTS.unpack_from(datagram, payload)
                info = _new_traffic((received, max(min(acked, sent - retransmitted), 0), rtt, retransmits, None, None))
            else:
                info = tcp_info(memoryview(datagram)[payload : offset + length])
                if not details and info is not None:
                    info = traffic(info)
        offset += (length + 3) & ~3
    return v6only, cgroup_id, info


_INTERFACES: dict[int, str | None] = {0: None}


def _interface_names(interfaces: dict[int, str] | None) -> dict[int, str | None]:
    """The names a decode looks bound devices up in: this namespace's cache, or another namespace's own table."""
    return _INTERFACES if interfaces is None else {0: None, **interfaces}


def _interface_name(index: int) -> str | None:
    """The bound device's name (``%lo`` to ss); its number when it is gone. Cached: indexes are rarely reused."""
    name = _INTERFACES.get(index, "")
    if name == "":
        try:
            name = socket.if_indextoname(index)
        except OSError:
            name = str(index)
        _INTERFACES[index] = name
    return name


# ---- the live view's decode: each tick reads only the sockets whose message says something new


#: A socket's identity in the kernel's messages: its ``inet_diag_sockid`` (ports, addresses, interface and cookie,
#: which is unique per socket until reboot), as bytes.
SocketId = bytes
#: What a live read compares from one tick to the next, as the message's own bytes (one object a socket, not a
#: tuple of numbers: a third of the memory): the state, then queues, uid and inode, then for a TCP socket with counts
#: tcp_info from ``tcpi_rtt`` to ``tcpi_bytes_retrans`` (idle, none of it moves). ``_AGAIN`` is appended when its
#: record must be made again even if nothing moves (rates other than 0, or not known yet: the next read says 0);
#: None for a socket whose tcp_info could not be found where it lies, made again at every read.
_Fingerprint = bytes | None
#: tcp_info's part in a fingerprint, from ``tcpi_rtt`` (68) to the end of ``tcpi_bytes_retrans`` (216).
_COUNTED_FROM, _COUNTED_TO = 68, 216
#: The counts ``_COUNTS`` reads, read back from a fingerprint: after its 17 bytes of state, queues, uid and inode.
_FINGERPRINT_COUNTS = struct.Struct(f"=17x{_COUNTS.format[1:].removeprefix('68x')}")
_AGAIN = b"!"


#: TCP states whose messages hold no counts worth a look: TCP_TIME_WAIT, TCP_LISTEN, TCP_NEW_SYN_RECV.
_NO_COUNTS = frozenset({6, 10, 12})


class LiveRead(NamedTuple):
    """What a tick's dump says against the last one's, by socket identity."""

    #: How many sockets' messages say what they said last time: their last records stand.
    kept: int
    #: Sockets new, or whose state, queues or counts moved: their records, decoded now (no owners; rates from
    #: the last tick's counts).
    fresh: list[tuple[SocketId, Connection]]
    #: Sockets of the last read that are gone.
    gone: list[SocketId]


class LiveDecoder:
    """``records`` for a live view, ticks apart: a socket's message is decoded only when its fingerprint (state,
    queues, uid, inode and, with traffic, tcp_info's counts) moved since the last read, and its rates come from
    the counts it had then. At 60,000 sockets a tick's decode, rates and comparison went from about 270 ms to a
    third of it: most sockets say the same thing tick after tick.

    Every socket is read every tick (the kernel sends them all), so a rate is the bytes since the last read over
    the time since it; a socket with no such read has no rates yet. A kernel whose tcp_info lacks ``bytes_sent``
    (before 4.19) has its sockets decoded at every tick, with counts and no rates.
    """

    def __init__(self) -> None:
        self._known: dict[SocketId, _Fingerprint] = {}
        self._read_at: float | None = None

    def read(
        self,
        dumps: Iterable[tuple[Datagrams, dict[int, str] | None, str | None]],
        with_traffic: bool,
        now: float,
        cgroup_ids: dict[int, int] | None = None,
    ) -> LiveRead:
        """Each dump with its namespace's interface names (None: this one's) and its label (None: this one).
        ``now`` is a monotonic clock's time of the read; ``cgroup_ids`` is given the fresh sockets' cgroup ids."""
        previous, known = self._known, {}
        fresh: list[tuple[SocketId, Connection]] = []
        elapsed = now - self._read_at if self._read_at is not None and now > self._read_at else None
        hosts: tuple[dict[bytes, str], dict[bytes, str]] = ({}, {})
        try:
            for received, interfaces, label in dumps:
                names = _interface_names(interfaces)
                for proto, datagrams in received:
                    traffic = with_traffic and proto is Proto.TCP
                    for datagram in datagrams:
                        self._walk(datagram, proto, traffic, previous, known, fresh, elapsed, hosts,
                                   (cgroup_ids, names, label))  # fmt: skip
        except OSError as error:
            raise SockDiagUnavailable(_reason(error)) from None
        self._known, self._read_at = known, now
        # What is left of the last read went.
        return LiveRead(len(known) - len(fresh), fresh, list(previous))

    def _walk(
        self,
        datagram: bytes,
        proto: Proto,
        traffic: bool,
        previous: dict[SocketId, _Fingerprint],
        known: dict[SocketId, _Fingerprint],
        fresh: list[tuple[SocketId, Connection]],
        elapsed: float | None,
        hosts: tuple[dict[bytes, str], dict[bytes, str]],
        context: tuple[dict[int, int] | None, dict[int, str | None], str | None],
    ) -> None:
        unpack_header, unpack_attribute = _HEADER.unpack_from, _ATTRIBUTE.unpack_from
        take = previous.pop
        cgroup_ids, names, label = context
        size, offset = len(datagram), 0
        while offset + _HEADER.size <= size:
            length, kind, _, _, _ = unpack_header(datagram, offset)
            if length < _HEADER.size or offset + length > size:
                raise OSError(errno.EBADMSG, "a netlink message overruns its datagram")
            end = offset + length
            if kind == SOCK_DIAG_BY_FAMILY and length >= _ATTRIBUTES_AT:
                body = offset + _BODY
                identity = datagram[body + 4 : body + 52]
                # The state, then queues, uid and inode: not the timers between them, which tick.
                fingerprint: _Fingerprint = datagram[body + 1 : body + 2] + datagram[body + 56 : body + 72]
                # A listener's tcp_info counts nothing, and a TIME-WAIT or request socket (no full socket) has none.
                if traffic and datagram[body + 1] not in _NO_COUNTS:
                    span, header = _INFO_SPAN
                    if end - span >= offset + _ATTRIBUTES_AT and unpack_attribute(datagram, end - span) == header:
                        at = end - span + _ATTRIBUTE.size
                        fingerprint += datagram[at + _COUNTED_FROM : at + _COUNTED_TO]
                    else:
                        fingerprint = None  # not where it lies in a kernel's messages: decoded whole every time
                before = take(identity, None)
                if before is not None and before == fingerprint:
                    known[identity] = before
                else:
                    decoded: list[Connection] = []
                    _decode(datagram[offset:end], proto, decoded, False, hosts, traffic, cgroup_ids, names, label)
                    if decoded:
                        record = decoded[0]
                        if record.traffic is not None:
                            record, again = _rated(record, before, elapsed)
                            if again and fingerprint is not None:
                                fingerprint += _AGAIN
                        known[identity] = fingerprint
                        fresh.append((identity, record))
            elif kind == NLMSG_DONE:
                return
            elif kind == NLMSG_ERROR:
                code = -_ERRNO.unpack_from(datagram, offset + _HEADER.size)[0]
                if code:
                    raise OSError(code, os.strerror(code))
            offset += (length + 3) & ~3


def _rated(record: Connection, before: _Fingerprint | None, elapsed: float | None) -> tuple[Connection, bool]:
    """``record`` with its rates, from the counts its socket had at the last read (``before``); and whether the
    next read must make it again though nothing moves (rates other than 0, or not known yet, become 0 then)."""
    traffic = record.traffic
    if traffic is None or before is None or elapsed is None or len(before) < _FINGERPRINT_COUNTS.size:
        return record, True
    _, _, acked, received, sent, retransmitted = _FINGERPRINT_COUNTS.unpack_from(before)
    was_in, was_out = received, max(min(acked, sent - retransmitted), 0)
    bytes_in, bytes_out = traffic.bytes_in, traffic.bytes_out
    rate_in = None if bytes_in is None or bytes_in < was_in else round((bytes_in - was_in) / elapsed)
    rate_out = None if bytes_out is None or bytes_out < was_out else round((bytes_out - was_out) / elapsed)
    rated = _new_traffic((bytes_in, bytes_out, traffic.rtt_us, traffic.retransmits, rate_in, rate_out))
    return new_connection((*record[:20], rated, *record[21:])), rate_in != 0 or rate_out != 0
