"""Real sockets on loopback for live tests, and a child process with a known name that owns a listener."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

#: The child's name: the kernel names a process after the file it executes (a symlink here), <= 15 bytes.
PROBE_NAME = "nettop-probe"


def exchange(sender: socket.socket, receiver: socket.socket, count: int) -> None:
    """Send ``count`` bytes and read them all at the other end: the kernel's counts then hold them."""
    sender.sendall(b"n" * count)
    received = 0
    while received < count:
        received += len(receiver.recv(1 << 16))


PROBE_SCRIPT = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(8)
print(s.getsockname()[1], flush=True)
sys.stdin.read()
"""


def ipv6_loopback_works() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


@dataclass
class LoopbackSockets:
    """Everything the live tests open, by role, and how to find each in a listing."""

    tcp4_listener: socket.socket
    tcp6_listener: socket.socket | None
    client: socket.socket
    accepted: socket.socket
    udp_bound: socket.socket
    udp_connected: socket.socket
    child: subprocess.Popen[str]
    child_port: int
    all: list[socket.socket] = field(default_factory=list)

    def port(self, sock: socket.socket) -> int:
        return int(sock.getsockname()[1])


def start_probe(tmp: Path) -> tuple[subprocess.Popen[str], int]:
    """Start a listener in a child process whose name is PROBE_NAME; return it and its port."""
    link = tmp / PROBE_NAME
    link.symlink_to(os.path.realpath(sys.executable))
    child = subprocess.Popen([str(link), "-c", PROBE_SCRIPT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    return child, int(child.stdout.readline())


def stop_probe(child: subprocess.Popen[str]) -> None:
    with contextlib.suppress(OSError):
        assert child.stdin is not None
        child.stdin.close()
    try:
        child.wait(timeout=10)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


@contextlib.contextmanager
def open_loopback_sockets(tmp: Path) -> Iterator[LoopbackSockets]:
    opened: list[socket.socket] = []

    def keep(sock: socket.socket) -> socket.socket:
        opened.append(sock)
        return sock

    child, child_port = start_probe(tmp)
    try:
        tcp4 = keep(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
        tcp4.bind(("127.0.0.1", 0))
        tcp4.listen(8)
        tcp6 = None
        if ipv6_loopback_works():
            tcp6 = keep(socket.socket(socket.AF_INET6, socket.SOCK_STREAM))
            tcp6.bind(("::1", 0))
            tcp6.listen(8)
        client = keep(socket.create_connection(("127.0.0.1", tcp4.getsockname()[1])))
        accepted = keep(tcp4.accept()[0])
        udp_bound = keep(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
        udp_bound.bind(("127.0.0.1", 0))
        udp_connected = keep(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
        udp_connected.bind(("127.0.0.1", 0))
        udp_connected.connect(udp_bound.getsockname())
        yield LoopbackSockets(tcp4, tcp6, client, accepted, udp_bound, udp_connected, child, child_port, opened)
    finally:
        for sock in opened:
            sock.close()
        stop_probe(child)
