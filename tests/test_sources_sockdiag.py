"""The kernel's socket table over netlink, against ``ss -tunae`` for the same real loopback sockets."""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from nettop.formats import ss
from nettop.model import Connection
from nettop.sources import sockdiag
from tests.sockets import PROBE_NAME, exchange, open_loopback_sockets

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="sock_diag is Linux's")

#: What both sources say of a socket: everything but the owners, which neither lists (-e, no -p).
FIELDS = ("proto", "family", "local_ip", "local_port", "remote_ip", "remote_port", "state", "interface",
          "recv_q", "send_q", "inode", "uid", "v6only")  # fmt: skip


def view(record: Connection) -> tuple[object, ...]:
    return tuple(getattr(record, name) for name in FIELDS)


@contextlib.contextmanager
def assorted_sockets() -> Iterator[list[socket.socket]]:
    """Listeners in both families (v6only and dual-stack), a connection each way (one IPv4-mapped), bytes left
    unread in a queue, UDP bound and connected, and a socket bound to lo where that is permitted."""
    with contextlib.ExitStack() as stack:
        opened: list[socket.socket] = []

        def keep(sock: socket.socket) -> socket.socket:
            opened.append(stack.enter_context(sock))
            return sock

        v4 = keep(socket.socket())
        v4.bind(("127.0.0.1", 0))
        v4.listen(4)
        v6only = keep(socket.socket(socket.AF_INET6))
        v6only.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        v6only.bind(("::1", 0))
        v6only.listen(4)
        dual = keep(socket.socket(socket.AF_INET6))
        dual.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        dual.bind(("::", 0))
        dual.listen(4)
        client = keep(socket.create_connection(("127.0.0.1", v4.getsockname()[1])))
        server = keep(v4.accept()[0])
        client.sendall(b"x" * 1000)  # unread: the server's Recv-Q
        mapped = keep(socket.create_connection(("127.0.0.1", dual.getsockname()[1])))
        keep(dual.accept()[0])
        keep(socket.create_connection(("::1", v6only.getsockname()[1])))  # left in the accept queue
        udp = keep(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
        udp.bind(("127.0.0.1", 0))
        connected = keep(socket.socket(socket.AF_INET6, socket.SOCK_DGRAM))
        connected.connect(("::1", udp.getsockname()[1]))
        with contextlib.suppress(PermissionError, OSError):
            bound = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            bound.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"lo")
            keep(bound).bind(("127.0.0.1", 0))
        del server, mapped
        yield opened


def inodes(sockets: list[socket.socket]) -> set[int]:
    import os

    return {os.stat(f"/proc/self/fd/{sock.fileno()}").st_ino for sock in sockets}


def test_the_dump_and_ss_agree_record_for_record() -> None:
    with assorted_sockets() as opened:
        mine = inodes(opened)
        received = sockdiag.receive()
        dumped = sockdiag.decode(received)
        listed = ss.parse(subprocess.run(["ss", "-tunae"], capture_output=True, text=True, check=True).stdout)
    ours = sorted((view(s.record) for s in dumped if s.record.inode in mine), key=repr)
    theirs = sorted((view(r) for r in listed.records if r.inode in mine), key=repr)
    assert len(ours) == len(mine) and ours == theirs
    assert {r.record.source for r in dumped} == {"netlink"} and all(not r.record.owners for r in dumped)
    # The fast reading (records alone, as the source takes them) gives the very same records.
    assert sockdiag.records(received) == [found.record for found in dumped]


def test_bytes_are_counted_per_connection() -> None:
    """tcp_info's counters for a known number of bytes each way, against ss -tin for the same socket."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        with socket.create_connection(listener.getsockname()) as client, listener.accept()[0] as server:
            exchange(client, server, 50_000)
            exchange(server, client, 7_000)
            port = client.getsockname()[1]
            ends = (client.getsockname(), listener.getsockname())
            (found,) = [
                s for s in sockdiag.dump(with_info=True)
                if ((s.record.local_ip, s.record.local_port), (s.record.remote_ip, s.record.remote_port)) == ends
            ]  # fmt: skip
            shown = subprocess.run(["ss", "-tinH", "src", f"127.0.0.1:{port}"], capture_output=True, text=True,
                                   check=True).stdout  # fmt: skip
    info = found.info
    assert info is not None
    # bytes_acked counts the SYN and FIN besides the data; none was sent yet, so it is the data plus one.
    assert (info.bytes_acked, info.bytes_received) == (50_001, 7_000)
    assert info.bytes_sent in (None, 50_000)
    assert f"bytes_acked:{info.bytes_acked}" in shown and f"bytes_received:{info.bytes_received}" in shown
    # ss prints tcpi_rtt in ms with %g; the connection is idle, so both read the same smoothed value.
    assert f" rtt:{info.rtt_us / 1000:g}/" in shown and info.rtt_us > 0
    assert found.cgroup_id is None or found.cgroup_id > 0


def test_a_refused_netlink_socket_is_said_as_a_source_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    """A sandbox without sock_diag (seccomp, an old kernel): the error is a CommandError, so auto falls back."""

    def refused(*args: object) -> socket.socket:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(sockdiag.socket, "socket", refused)
    with pytest.raises(sockdiag.SockDiagUnavailable, match=r"over netlink: Operation not permitted \(EPERM\)"):
        sockdiag.dump()


def test_list_from_netlink_joins_the_owners_from_proc(tmp_path: Path) -> None:
    with open_loopback_sockets(tmp_path) as sockets:
        done = subprocess.run([sys.executable, "-m", "nettop", "list", "--source", "netlink", "--format", "json"],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        port = sockets.child_port
        pid = sockets.child.pid
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    (probe,) = [row for row in rows if row["local_port"] == port and row["state"] == "LISTEN"]
    assert (probe["pid"], probe["program"], probe["source"]) == (pid, PROBE_NAME, "netlink")
    assert probe["owner_status"] == "known" and probe["inode"] > 0


def test_refusals_and_broken_datagrams_are_errors_not_tracebacks() -> None:
    """The kernel's answer is read defensively: an error message, or a length past the datagram's end."""
    import struct

    header = struct.Struct("=IHHII")
    refused = header.pack(36, sockdiag.NLMSG_ERROR, 0, 1, 0) + struct.pack("=i", -13) + bytes(16)
    with pytest.raises(sockdiag.SockDiagUnavailable, match=r"Permission denied \(EACCES\)"):
        sockdiag.records([(sockdiag.Proto.TCP, [refused])])
    overrun = header.pack(200, sockdiag.SOCK_DIAG_BY_FAMILY, 0, 1, 0) + bytes(72)
    with pytest.raises(sockdiag.SockDiagUnavailable, match="overruns"):
        sockdiag.records([(sockdiag.Proto.TCP, [overrun])])
    acknowledged = header.pack(36, sockdiag.NLMSG_ERROR, 0, 1, 0) + bytes(20)
    done = header.pack(20, sockdiag.NLMSG_DONE, 0, 1, 0) + bytes(4)
    assert sockdiag.records([(sockdiag.Proto.TCP, [acknowledged + done])]) == []


async def test_the_viewers_ticks_find_new_sockets_and_their_owners() -> None:
    """The live source (auto begins with netlink) collected again and again, as the viewer does: a listener
    opened between two ticks shows in the second, owned by this process (the incremental /proc scan)."""
    import os

    from nettop.sources import platform_source

    source = platform_source("auto")
    first = await source.collect()
    assert first.source == "netlink"
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        second = await source.collect()
    assert not [r for r in first.records if r.local_port == port and r.state.value == "LISTEN"]
    (found,) = [r for r in second.records if r.local_port == port and r.state.value == "LISTEN"]
    assert found.pid == os.getpid() and found.owner_status.value == "known"


def without_attribute(received: sockdiag.Received, dropped: int, cut_to: int | None = None) -> sockdiag.Received:
    """The same dump as a kernel that never sends attribute ``dropped`` would have sent it, or (``cut_to``) that
    sends it only so long (an older kernel's shorter tcp_info), lengths made good."""
    header, attribute = struct.Struct("=IHHII"), struct.Struct("=HH")
    out: sockdiag.Received = []
    for proto, datagrams in received:
        rewritten = []
        for datagram in datagrams:
            parts, offset = [], 0
            while offset + header.size <= len(datagram):
                length, kind, flags, sequence, pid = header.unpack_from(datagram, offset)
                message = datagram[offset : offset + length]
                if kind == sockdiag.SOCK_DIAG_BY_FAMILY:
                    kept, at = [message[: sockdiag._ATTRIBUTES_AT]], sockdiag._ATTRIBUTES_AT
                    while at + attribute.size <= len(message):
                        size, number = attribute.unpack_from(message, at)
                        padded = message[at : at + ((size + 3) & ~3)]
                        if number == dropped and cut_to is not None:
                            payload = message[at + attribute.size : at + min(size, attribute.size + cut_to)]
                            padded = attribute.pack(attribute.size + len(payload), number) + payload
                            padded += b"\0" * (-len(padded) % 4)
                        if number != dropped or cut_to is not None:
                            kept.append(padded)
                        at += (size + 3) & ~3
                    body = b"".join(kept)
                    message = header.pack(len(body), kind, flags, sequence, pid) + body[header.size :]
                parts.append(message + b"\0" * (-len(message) % 4))
                offset += (length + 3) & ~3
            rewritten.append(b"".join(parts))
        out.append((proto, rewritten))
    return out


def test_a_kernel_without_the_cgroup_attribute_gives_no_cgroup_and_the_rest_alike() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        received = sockdiag.receive(with_info=True)
        stripped = without_attribute(received, sockdiag.INET_DIAG_CGROUP_ID)
        port = listener.getsockname()[1]
    (sent,) = [s for s in sockdiag.decode(received) if s.record.local_port == port]
    if sent.cgroup_id is None:
        pytest.skip("this kernel sends no cgroup id (before 5.7): the fallback is what it runs already")
    (found,) = [s for s in sockdiag.decode(stripped) if s.record.local_port == port]
    assert found.cgroup_id is None
    assert [s.record for s in sockdiag.decode(stripped)] == [s.record for s in sockdiag.decode(received)]
    ids: dict[int, int] = {}
    assert sockdiag.records(stripped, cgroup_ids=ids) == sockdiag.records(received) and ids == {}


@pytest.mark.parametrize(("cut_to", "has_bytes"), [(104, False), (160, True)])
def test_an_older_kernel_s_shorter_tcp_info_is_read_by_its_length(cut_to: int, has_bytes: bool) -> None:
    """tcp_info of Linux 3.x (104 bytes: no byte counts) and 4.x (160: bytes_acked and received, no bytes_sent):
    the counts it has are read, the others are None, nothing past its end is read, and the live decoder copes."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        with socket.create_connection(listener.getsockname()) as client, listener.accept()[0] as server:
            client.sendall(b"o" * 900)
            server.recv(4096)
            port, server_port = client.getsockname()[1], listener.getsockname()[1]
            full = sockdiag.receive(with_info=True)
    short = without_attribute(full, sockdiag.INET_DIAG_INFO, cut_to)
    sockdiag._INFO_SPAN[:] = [1 << 30, None]  # as at a process's start: nothing learned from a longer one

    def ours(record: Connection) -> bool:
        # Both ends: on a busy machine another socket (a TIME-WAIT of an earlier test) may hold the same local port.
        return record.local_port == port and record.remote_port == server_port

    (record,) = [r for r in sockdiag.records(short, with_traffic=True) if ours(r)]
    assert record.traffic is not None and record.traffic.rtt_us > 0
    assert (record.traffic.bytes_out, record.traffic.bytes_in) == ((900, 0) if has_bytes else (None, None))
    decoder = sockdiag.LiveDecoder()
    for now in (1.0, 2.0):
        got = decoder.read([(short, None, None)], True, now)
        (fresh,) = [r for _, r in got.fresh if ours(r)]
        assert fresh.traffic == record.traffic, "decoded again each read, with counts and no rates"
