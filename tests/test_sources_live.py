"""The real ss and netstat sources against real loopback sockets, checked against the kernel via psutil.

Each source is collected both ways: through asyncio (the viewer, watch) and blocking (the one-shot commands)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from nettop.model import Connection, OwnerStatus, Proto, Snapshot, State
from nettop.runner import run_command
from nettop.sources import CommandSource, platform_source
from nettop.sources.linux import LINUX_SS
from nettop.sources.oneshot import EarlyListing
from tests.sockets import PROBE_NAME, LoopbackSockets, open_loopback_sockets

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="live sources need Linux /proc")


@pytest.fixture(scope="module")
def sockets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackSockets]:
    with open_loopback_sockets(tmp_path_factory.mktemp("probe")) as opened:
        yield opened


def need(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} is not installed; .ci/run installs it (iproute2 / net-tools)")


def find(snapshot: Snapshot, proto: Proto, local: tuple[str, int], remote: tuple[str, int] | None = None) -> Connection:
    matches = [
        r
        for r in snapshot.records
        if r.proto is proto
        and (r.local_ip, r.local_port) == local
        and ((r.remote_ip, r.remote_port) == remote if remote else r.remote_ip is None)
    ]
    assert len(matches) == 1, f"expected one {proto} {local} -> {remote}, found {matches}"
    return matches[0]


async def collect(source: CommandSource, blocking: bool) -> Snapshot:
    return source.collect_blocking() if blocking else await source.collect()


@pytest.fixture(params=[False, True], ids=["asyncio", "blocking"])
def blocking(request: pytest.FixtureRequest) -> bool:
    return request.param


@pytest.fixture(params=["ss", "netstat"])
async def snapshot(request: pytest.FixtureRequest, blocking: bool, sockets: LoopbackSockets) -> Snapshot:
    need(request.param)
    snap = await collect(platform_source(request.param), blocking)
    assert snap.source == request.param
    return snap


async def test_every_test_socket_comes_back_exactly(snapshot: Snapshot, sockets: LoopbackSockets) -> None:
    me, my_name = os.getpid(), psutil.Process().name()
    tcp4_port = sockets.port(sockets.tcp4_listener)

    listener = find(snapshot, Proto.TCP, ("127.0.0.1", tcp4_port))
    assert (listener.family, listener.state, listener.pid, listener.program) == (4, State.LISTEN, me, my_name)
    assert listener.owner_status is OwnerStatus.KNOWN

    client_port = sockets.port(sockets.client)
    client = find(snapshot, Proto.TCP, ("127.0.0.1", client_port), ("127.0.0.1", tcp4_port))
    accepted = find(snapshot, Proto.TCP, ("127.0.0.1", tcp4_port), ("127.0.0.1", client_port))
    for record in (client, accepted):
        assert (record.state, record.pid, record.family) == (State.ESTABLISHED, me, 4)

    udp_port = sockets.port(sockets.udp_bound)
    udp = find(snapshot, Proto.UDP, ("127.0.0.1", udp_port))
    assert (udp.state, udp.pid, udp.remote_port) == (State.UNCONNECTED, me, None)
    connected = find(snapshot, Proto.UDP, ("127.0.0.1", sockets.port(sockets.udp_connected)), ("127.0.0.1", udp_port))
    assert (connected.state, connected.pid) == (State.ESTABLISHED, me)

    child = find(snapshot, Proto.TCP, ("127.0.0.1", sockets.child_port))
    assert (child.pid, child.program, child.state) == (sockets.child.pid, PROBE_NAME, State.LISTEN)
    assert child.owners[0].user == psutil.Process(sockets.child.pid).username()
    assert child.owners[0].start_time == psutil.Process(sockets.child.pid).create_time()

    if sockets.tcp6_listener is None:
        pytest.skip("this machine cannot bind ::1; the IPv6 listener was not checked")
    v6 = find(snapshot, Proto.TCP, ("::1", sockets.port(sockets.tcp6_listener)))
    assert (v6.family, v6.state, v6.pid) == (6, State.LISTEN, me)


async def test_records_agree_with_psutil(snapshot: Snapshot, sockets: LoopbackSockets) -> None:
    """Every inet socket of this process and the probe, as psutil sees them, and as nettop does."""
    pids = {os.getpid(), sockets.child.pid}
    kernel = {
        (
            "tcp" if c.type == 1 else "udp",
            c.laddr.ip,
            c.laddr.port,
            c.raddr.ip if c.raddr else None,
            c.raddr.port if c.raddr else None,
            c.pid,
        )
        for c in psutil.net_connections("inet")
        if c.pid in pids
    }
    ours = {
        (r.proto.value, r.local_ip, r.local_port, r.remote_ip, r.remote_port, owner.pid)
        for r in snapshot.records
        for owner in r.owners
        if owner.pid in pids
    }
    assert ours == kernel


async def test_fallback_to_netstat_when_ss_is_missing(
    blocking: bool, sockets: LoopbackSockets, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    need("netstat")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "netstat").symlink_to(shutil.which("netstat"))
    monkeypatch.setenv("PATH", str(bin_dir))
    snap = await collect(platform_source("auto"), blocking)
    assert snap.source == "netlink", "auto begins with the kernel's table: no command needed"
    snap = await collect(platform_source("auto", runner=run_command), blocking)  # commands only
    assert snap.source == "netstat"
    assert snap.notes and snap.notes[0].startswith("fell back to netstat: command not found: ss")
    find(snap, Proto.TCP, ("127.0.0.1", sockets.child_port))


def test_a_command_started_early_is_used_or_else_killed(sockets: LoopbackSockets) -> None:
    """`nettop list` starts ss before its imports; the source takes that run if it would run ss first."""
    need("ss")
    need("netstat")
    early = EarlyListing.start(LINUX_SS)
    snap = platform_source("ss").collect_blocking(early)
    assert snap.source == "ss" and early.run is not None and early.run._process.returncode == 0
    child = find(snap, Proto.TCP, ("127.0.0.1", sockets.child_port))
    assert child.pid == sockets.child.pid, "the early scan's owners are attached"
    unwanted = EarlyListing.start(LINUX_SS)
    snap = platform_source("netstat").collect_blocking(unwanted)
    assert snap.source == "netstat" and unwanted.run is not None
    assert unwanted.run._process.returncode is not None, "killed and reaped"
    find(snap, Proto.TCP, ("127.0.0.1", sockets.child_port))
    scan_only = EarlyListing.start(None)  # auto begins with netlink: only the scan starts early
    snap = platform_source("auto").collect_blocking(scan_only)
    assert snap.source == "netlink" and find(snap, Proto.TCP, ("127.0.0.1", sockets.child_port)).pid == (
        sockets.child.pid
    ), "the early scan's owners are attached"
