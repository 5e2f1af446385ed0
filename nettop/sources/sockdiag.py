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
from collections.abc import Iterator
from typing import NamedTuple

from nettop.errors import CommandError
from nettop.model import Connection, OwnerStatus, Proto, State

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

#: The argv that messages quote for this source: it runs no command.
ARGV = ("netlink", "sock_diag")
#: A parse result's format, and the records' source.
FORMAT = "netlink"

_HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, seq, pid
_REQUEST = struct.Struct("=BBBBI48x")  # inet_diag_req_v2: family, protocol, ext, pad, states; a zero sockid
# inet_diag_msg: family, state, timer, retrans; sockid (ports big-endian, two 16-byte addresses, interface,
# cookie); expires, rqueue, wqueue, uid, inode.
_MESSAGE = struct.Struct("=BBBB2s2s16s16sI8xIIIII")
_ATTRIBUTE = struct.Struct("=HH")
_ERRNO = struct.Struct("=i")
_U64 = struct.Struct("=Q")

#: The kernel's TCP state numbers (``include/net/tcp_states.h``); 12 is a request socket, SYN_RECV to ss.
_TCP_STATES = {
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
_RECEIVE_BUFFER = 1 << 20


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
    #: Bytes sent, retransmissions included (Linux 4.19+).
    bytes_sent: int | None


#: ``struct tcp_info`` offsets (``<linux/tcp.h>``): the u8 ``tcpi_retransmits`` at 2, u32 ``tcpi_rtt`` at 68,
#: ``tcpi_total_retrans`` at 100, u64 ``tcpi_bytes_acked`` at 120, ``tcpi_bytes_received`` at 128,
#: ``tcpi_bytes_sent`` at 200.
_RTT, _TOTAL_RETRANS, _BYTES_ACKED, _BYTES_RECEIVED, _BYTES_SENT = 68, 100, 120, 128, 200


def tcp_info(data: bytes | memoryview) -> TcpInfo | None:
    """The fields nettop reads from a ``tcp_info`` of the length the kernel sent; None if it lacks even rtt."""
    size = len(data)
    if size < _TOTAL_RETRANS + 4:
        return None

    def u64(offset: int) -> int | None:
        return _U64.unpack_from(data, offset)[0] if size >= offset + 8 else None

    return TcpInfo(
        int.from_bytes(data[_RTT : _RTT + 4], "little" if _LITTLE else "big"),
        data[2],
        int.from_bytes(data[_TOTAL_RETRANS : _TOTAL_RETRANS + 4], "little" if _LITTLE else "big"),
        u64(_BYTES_ACKED),
        u64(_BYTES_RECEIVED),
        u64(_BYTES_SENT),
    )


_LITTLE = struct.pack("=H", 1) == b"\x01\x00"


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


def dump(with_info: bool = False, families: tuple[int, ...] = (socket.AF_INET, socket.AF_INET6)) -> list[DiagSocket]:
    """Every TCP and UDP socket of these families in this network namespace, as ``ss -tuna`` lists them.

    ``with_info`` asks the kernel for each TCP socket's ``tcp_info`` too. Raises ``SockDiagUnavailable``.
    """
    try:
        channel = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC, NETLINK_SOCK_DIAG)
    except (OSError, AttributeError) as error:  # no AF_NETLINK (not Linux), or a seccomp filter
        raise SockDiagUnavailable(_reason(error)) from None
    found: list[DiagSocket] = []
    try:
        with channel:
            channel.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_BUFFER)
            sequence = 0
            for proto, number in ((Proto.TCP, socket.IPPROTO_TCP), (Proto.UDP, socket.IPPROTO_UDP)):
                ext = 1 << (INET_DIAG_INFO - 1) if with_info and proto is Proto.TCP else 0
                for family in families:
                    sequence += 1
                    request = _HEADER.pack(
                        _HEADER.size + _REQUEST.size, SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, sequence, 0
                    ) + _REQUEST.pack(family, number, ext, 0, ALL_STATES)
                    channel.send(request)
                    found.extend(_received(channel, proto, sequence))
    except OSError as error:
        raise SockDiagUnavailable(_reason(error)) from None
    return found


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.errno is not None:
        return f"{os.strerror(error.errno)} ({errno.errorcode.get(error.errno, error.errno)})"
    return str(error) or type(error).__name__


def _received(channel: socket.socket, proto: Proto, sequence: int) -> Iterator[DiagSocket]:
    """The sockets of one dump, message after message until ``NLMSG_DONE``."""
    buffer = bytearray(_RECEIVE_BUFFER)
    view = memoryview(buffer)
    while True:
        size = channel.recv_into(buffer)
        offset = 0
        while offset + _HEADER.size <= size:
            length, kind, _, seq, _ = _HEADER.unpack_from(buffer, offset)
            if length < _HEADER.size or offset + length > size:
                raise OSError(errno.EBADMSG, "a netlink message overruns its datagram")
            if seq == sequence:
                if kind == NLMSG_DONE:
                    return
                if kind == NLMSG_ERROR:
                    code = -_ERRNO.unpack_from(buffer, offset + _HEADER.size)[0]
                    raise OSError(code, os.strerror(code))
                if kind == SOCK_DIAG_BY_FAMILY:
                    yield _socket(view[offset + _HEADER.size : offset + length], proto)
            offset += (length + 3) & ~3


def _socket(message: memoryview, proto: Proto) -> DiagSocket:
    (family, state_number, _, _, sport, dport, src, dst, interface, _, rqueue, wqueue, uid, inode) = (
        _MESSAGE.unpack_from(message)
    )
    v6only, cgroup_id, info = _attributes(message[_MESSAGE.size :])
    if family == socket.AF_INET:
        local_ip, remote_ip, family_number = socket.inet_ntop(family, src[:4]), socket.inet_ntop(family, dst[:4]), 4
    else:
        local_ip, remote_ip, family_number = socket.inet_ntop(family, src), socket.inet_ntop(family, dst), 6
    remote_port: int | None = (dport[0] << 8) | dport[1]
    if not remote_port and remote_ip in ("0.0.0.0", "::"):
        remote_ip = remote_port = None
    if proto is Proto.UDP:
        state = State.ESTABLISHED if state_number == 1 else State.UNCONNECTED
    else:
        state = _TCP_STATES.get(state_number, State.UNKNOWN)
    # A socket without a file (TIME-WAIT, a request, an orphan) has inode 0 and uid 0 that is no one's: ss
    # prints neither, and its records say None for both.
    record = Connection(
        proto, family_number, local_ip, (sport[0] << 8) | sport[1], remote_ip, remote_port, state, (),
        OwnerStatus.NOT_REPORTED, _interface_name(interface), rqueue, wqueue, inode or None, uid if inode else None,
        v6only, source=FORMAT,
    )  # fmt: skip
    return DiagSocket(record, cgroup_id, info)


def _attributes(data: memoryview) -> tuple[bool | None, int | None, TcpInfo | None]:
    v6only: bool | None = None
    cgroup_id: int | None = None
    info: TcpInfo | None = None
    offset, size = 0, len(data)
    while offset + _ATTRIBUTE.size <= size:
        length, kind = _ATTRIBUTE.unpack_from(data, offset)
        if length < _ATTRIBUTE.size:
            break
        payload = data[offset + _ATTRIBUTE.size : offset + length]
        if kind == INET_DIAG_SKV6ONLY and len(payload) >= 1:
            v6only = bool(payload[0])
        elif kind == INET_DIAG_CGROUP_ID and len(payload) >= 8:
            cgroup_id = _U64.unpack_from(payload)[0]
        elif kind == INET_DIAG_INFO:
            info = tcp_info(payload)
        offset += (length + 3) & ~3
    return v6only, cgroup_id, info


_INTERFACES: dict[int, str | None] = {0: None}


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
