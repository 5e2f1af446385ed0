"""TCP sockets as the kernel destroys them: the sock_diag multicast groups that ``ss -E`` listens to.

Polling the socket table misses a connection that opens and closes between two polls. ``NETLINK_SOCK_DIAG``
also broadcasts one message for each TCP socket the kernel frees, to ``SKNLGRP_INET_TCP_DESTROY`` and
``SKNLGRP_INET6_TCP_DESTROY``; a socket bound to those groups receives them as they happen.

What the kernel sends (``inet_diag_handler_get_info`` in ``net/ipv4/inet_diag.c``, seen on 6.x): an
``inet_diag_msg`` like a dump's with family, state (almost always CLOSE by then), both ends, bound interface,
queues and the socket's cookie, but **no uid, inode, timer or cgroup id** (the message is zeroed first, and the
socket has no file left); then two attributes: ``INET_DIAG_PROTOCOL`` (u8, 6) and ``INET_DIAG_INFO``, the
socket's final ``struct tcp_info``. No attribute gives when the connection opened, but ``tcp_info``'s
``tcpi_last_data_sent`` and ``tcpi_last_data_recv`` (milliseconds since data last went each way, or since the
connection was established where none did) give a lower bound: ``ClosedSocket.lived_at_least``.

Who may listen: any user. The groups are ``NL_CFG_F_NONROOT_RECV`` (``net/core/sock_diag.c``) and an
unprivileged listener receives every TCP socket destroyed in its network namespace, root's included; the
subscription is refused only where netlink itself is (no ``AF_NETLINK``, a seccomp or LSM policy, no file
descriptors left): ``DestroyUnavailable``, after which nettop goes on polling.

Messages arrive from a kernel work queue shortly after the close, and into a bounded buffer: when the reader is
too slow the kernel drops messages and says so once with ``ENOBUFS``, counted in ``DestroyListener.lost``.
"""

from __future__ import annotations

import contextlib
import errno
import select
import socket
import struct
import time
from types import TracebackType
from typing import NamedTuple

from nettop.errors import NettopError
from nettop.model import Connection, Proto
from nettop.sources.sockdiag import (
    INET_DIAG_INFO,
    NETLINK_SOCK_DIAG,
    SOCK_DIAG_BY_FAMILY,
    SockDiagUnavailable,
    TcpInfo,
    _reason,
    bytes_out,
    decode,
)
from nettop.text import bytes_text

#: ``<linux/sock_diag.h>``: the groups that receive a message per destroyed TCP socket. Group n is bit n - 1.
SKNLGRP_INET_TCP_DESTROY = 1
SKNLGRP_INET6_TCP_DESTROY = 3
GROUPS = (1 << (SKNLGRP_INET_TCP_DESTROY - 1)) | (1 << (SKNLGRP_INET6_TCP_DESTROY - 1))

#: The receive buffer asked for. A close costs about 1 kB of it (a 380-byte message in its buffer), so this holds
#: a burst of thousands while the reader is busy; ``SO_RCVBUFFORCE`` passes ``net.core.rmem_max`` where the
#: process has CAP_NET_ADMIN, else the kernel caps ``SO_RCVBUF`` at it.
RECEIVE_BUFFER = 16 << 20
#: The most datagrams one ``read`` takes: a storm of closes must not keep a reader from returning.
MOST_PER_READ = 50_000
#: Big enough for any one message: each datagram holds one socket's (380 bytes with a 6.x ``tcp_info``).
_DATAGRAM = 1 << 16

_HEADER = struct.Struct("=IH")  # nlmsghdr's length and type
_HEADER_SIZE = 16
#: ``inet_diag_msg``'s two u32 halves of the socket cookie, after family..retrans (4), ports (4), addresses (32)
#: and interface (4); the whole message is 72 bytes.
_COOKIE = struct.Struct("=II")
_COOKIE_AT, _MESSAGE_SIZE = _HEADER_SIZE + 44, 72
_ATTRIBUTE = struct.Struct("=HH")
#: ``struct tcp_info``'s u32 ``tcpi_last_data_sent`` at 44 and ``tcpi_last_data_recv`` at 52, milliseconds, and
#: ``tcpi_rtt`` at 68.
_LAST_DATA = struct.Struct("=I4xI")
_LAST_DATA_AT, _RTT_AT = 44, 68
_U32 = struct.Struct("=I")


class ClosedSocket(NamedTuple):
    """One TCP socket the kernel destroyed: what it was, and its final counters."""

    #: As ``sockdiag.decode`` reads the message: TCP, both ends, the state (CLOSE, nearly always); no inode nor
    #: uid (the kernel sends 0 for both, so None) and no traffic (see ``info``, ``bytes_in``, ``bytes_out``).
    record: Connection
    #: The final ``tcp_info``; None if the kernel sent none.
    info: TcpInfo | None
    #: Always None so far: the destroy message carries no cgroup id (kept for the day it does, like a dump's).
    cgroup_id: int | None
    #: ``time.time()`` when the read that returned it received it.
    at: float
    #: The kernel's socket cookie, unique per socket until reboot: what tells apart two sockets on the same ends.
    cookie: int = 0
    #: Seconds the connection lived at least, from ``tcp_info`` (in jiffies, so to a tick): the longer of the times
    #: since data last went out and since data last came in, each counted from the connection's establishment
    #: where no data went that way. Close to the lifetime for a request answered at once; None where the socket
    #: never connected (a listener) or its counters were cleared (see ``cleared``).
    lived_at_least: float | None = None

    @property
    def cleared(self) -> bool:
        """Whether the kernel disconnected the socket before destroying it (a refused or failed connect, a close
        with ``SO_LINGER`` 0): ``tcp_disconnect`` zeroes the peer's port, the local address and every counter, so
        the message tells only the peer's address and the local port."""
        return self.record.remote_port == 0


class DestroyUnavailable(NettopError):
    """The kernel, or a sandbox, refused the destroy groups: nettop goes on polling, and may miss short lives."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(
            f"closed TCP connections cannot be followed as the kernel destroys them (sock_diag destroy groups): "
            f"{reason}; nettop goes on polling, and misses connections that open and close between two polls"
        )


class DestroyListener:
    """A netlink socket bound to both TCP destroy groups of this network namespace. Raises
    ``DestroyUnavailable`` when opening or binding it is refused."""

    def __init__(self, buffer_size: int = RECEIVE_BUFFER) -> None:
        #: How many times the kernel dropped messages because they were read too slowly (each ``ENOBUFS`` stands
        #: for one or more lost closes: the kernel does not say how many).
        self.lost = 0
        try:
            self._socket = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC, NETLINK_SOCK_DIAG)
        except (OSError, AttributeError) as error:  # no AF_NETLINK (not Linux), a seccomp filter, no fds left
            raise DestroyUnavailable(_reason(error)) from None
        try:
            _grow_buffer(self._socket, buffer_size)
            self._socket.bind((0, GROUPS))
        except OSError as error:
            self._socket.close()
            raise DestroyUnavailable(_reason(error)) from None
        self._poll = select.poll()  # not select(): a busy process's descriptor may be above FD_SETSIZE
        self._poll.register(self._socket, select.POLLIN)

    def fileno(self) -> int:
        return self._socket.fileno()

    def read(self, timeout: float | None = None) -> list[ClosedSocket]:
        """The sockets destroyed since the last read: waits up to ``timeout`` seconds (None: for ever) for the
        first, then takes what else is queued without waiting. An empty list when none came in time.

        Raises ``DestroyUnavailable`` if the socket fails for any reason but a lost message.
        """
        if not self._poll.poll(None if timeout is None else max(timeout, 0.0) * 1000):
            return []
        datagrams: list[bytes] = []
        receive, flags = self._socket.recv, socket.MSG_DONTWAIT
        while len(datagrams) < MOST_PER_READ:
            try:
                datagrams.append(receive(_DATAGRAM, flags))
            except BlockingIOError:
                break
            except OSError as error:
                if error.errno != errno.ENOBUFS:
                    raise DestroyUnavailable(_reason(error)) from None
                self.lost += 1  # the queue overflowed; what is still queued is intact
        return closed_sockets(datagrams, time.time())

    def close(self) -> None:
        self._socket.close()

    def __enter__(self) -> DestroyListener:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


def _grow_buffer(channel: socket.socket, size: int) -> None:
    # SO_RCVBUFFORCE (CAP_NET_ADMIN) may pass net.core.rmem_max; without it, SO_RCVBUF takes what the cap allows.
    force = getattr(socket, "SO_RCVBUFFORCE", 33)
    try:
        channel.setsockopt(socket.SOL_SOCKET, force, size)
    except PermissionError:
        channel.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)


def closed_sockets(datagrams: list[bytes], at: float) -> list[ClosedSocket]:
    """The destroy messages in these datagrams, received at ``at``. A datagram the decoder refuses (malformed,
    which the kernel never sends) is skipped alone, not with the rest of the batch."""
    try:
        return _decoded(datagrams, at)
    except SockDiagUnavailable:
        found: list[ClosedSocket] = []
        for datagram in datagrams:
            with contextlib.suppress(SockDiagUnavailable):
                found += _decoded([datagram], at)
        return found


def _decoded(datagrams: list[bytes], at: float) -> list[ClosedSocket]:
    found = decode([(Proto.TCP, datagrams)])
    extras = [extra for datagram in datagrams for extra in _extras(datagram)]
    if len(extras) != len(found):  # cannot be, as both read the same messages; the records matter more
        extras = [(0, None)] * len(found)
    return [
        ClosedSocket(diag.record, diag.info, diag.cgroup_id, at, cookie, lived)
        for diag, (cookie, lived) in zip(found, extras, strict=True)
    ]


def _extras(datagram: bytes) -> list[tuple[int, float | None]]:
    """Each socket message's cookie and ``lived_at_least``, for the messages ``sockdiag.decode`` reads (same
    test: a ``SOCK_DIAG_BY_FAMILY`` message holding a whole ``inet_diag_msg``), in order."""
    found: list[tuple[int, float | None]] = []
    size, offset = len(datagram), 0
    while offset + _HEADER_SIZE <= size:
        length, kind = _HEADER.unpack_from(datagram, offset)
        if length < _HEADER_SIZE or offset + length > size:
            break
        if kind == SOCK_DIAG_BY_FAMILY and length >= _HEADER_SIZE + _MESSAGE_SIZE:
            low, high = _COOKIE.unpack_from(datagram, offset + _COOKIE_AT)
            found.append((high << 32 | low, _lived(datagram, offset + _HEADER_SIZE + _MESSAGE_SIZE, offset + length)))
        offset += (length + 3) & ~3
    return found


def _lived(datagram: bytes, offset: int, end: int) -> float | None:
    """``lived_at_least`` from the ``INET_DIAG_INFO`` among the attributes from ``offset`` to ``end``."""
    while offset + _ATTRIBUTE.size <= end:
        length, kind = _ATTRIBUTE.unpack_from(datagram, offset)
        if length < _ATTRIBUTE.size or offset + length > end:
            return None
        payload = offset + _ATTRIBUTE.size
        if kind == INET_DIAG_INFO:
            if length < _ATTRIBUTE.size + _RTT_AT + _U32.size:
                return None
            # A socket that never connected has no round-trip time, and its "last data" counts from boot.
            if not _U32.unpack_from(datagram, payload + _RTT_AT)[0]:
                return None
            sent, received = _LAST_DATA.unpack_from(datagram, payload + _LAST_DATA_AT)
            return max(sent, received) / 1000
        offset += (length + 3) & ~3
    return None


def bytes_in(info: TcpInfo) -> int | None:
    """Data bytes received: ``tcpi_bytes_received`` counts the peer's FIN as one byte, and a socket destroyed
    after an orderly close has received it. One byte under when it had not (a reset, or a close that did not wait
    for the peer's FIN); None before Linux 4.2."""
    received = info.bytes_received
    return None if received is None else max(received - 1, 0)


def closed_text(closed: ClosedSocket, opened_at: float | None = None) -> str:
    """What an event says of a closed connection: ``closed after 120 ms, 3.2 kB in, 40.0 kB out``. With
    ``opened_at`` (when nettop first saw it) the time since; else the lower bound the kernel gives, as
    ``closed after at least 1.8 s``; else no duration. No bytes for a socket whose counters the kernel cleared.
    """
    parts = ["closed"]
    if opened_at is not None:
        parts[0] += f" after {duration_text(max(closed.at - opened_at, 0.0))}"
    elif closed.lived_at_least is not None and closed.lived_at_least >= 0.0005:  # "at least 0 ms" says nothing
        parts[0] += f" after at least {duration_text(closed.lived_at_least)}"
    if closed.cleared:
        parts.append("refused, failed or aborted (the kernel cleared its counters)")
    elif closed.info is not None and closed.record.remote_ip is not None:  # a listener moved no data
        received, sent = bytes_in(closed.info), bytes_out(closed.info)
        if received is not None:
            parts.append(f"{bytes_text(received)} in")
        if sent is not None:
            parts.append(f"{bytes_text(sent)} out")
    return ", ".join(parts)


def duration_text(seconds: float) -> str:
    """``0 ms``, ``120 ms``, ``1.8 s``, ``42 s``, ``3 min``, ``2.5 h``: a connection's life at a glance."""
    if seconds < 0.9995:
        return f"{round(seconds * 1000)} ms"
    if seconds < 9.95:
        return f"{seconds:.1f} s"
    if seconds < 59.5:
        return f"{round(seconds)} s"
    if seconds < 3570:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"
