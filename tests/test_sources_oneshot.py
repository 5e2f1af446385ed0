"""The early start of `nettop list`: the /proc scan in a child process, and parsing while it runs."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator

import psutil
import pytest

from nettop.model import OwnerStatus, State
from nettop.owners.procfs import SocketOwners, scan_socket_owners
from nettop.sources import oneshot as early
from nettop.sources import platform_source
from nettop.sources.linux import LINUX_SS
from nettop.sources.oneshot import EarlyListing, InThread, ScanInChild

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="the /proc scan needs Linux /proc")


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock


def reaped(pid: int) -> bool:
    """True when ``pid`` is no child of ours any more (neither running nor a zombie)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


@pytest.mark.parametrize("parts", [1, 2, 3])
def test_the_child_scan_finds_what_a_scan_here_finds(listener: socket.socket, parts: int) -> None:
    inode = os.fstat(listener.fileno()).st_ino
    # The listener on fds of each remainder too: parts that each find it give one owner, not one a part.
    copies = [os.dup(listener.fileno()) for _ in range(3)]
    try:
        scan = ScanInChild("/proc", parts)
        pids = scan.pids
        assert len(pids) == parts and os.getpid() not in pids
        owners = scan.result()
    finally:
        for copy in copies:
            os.close(copy)
    assert all(reaped(pid) for pid in pids), "the children are reaped once their result is read"
    assert owners.pids_by_inode[inode] == [os.getpid()], "the child's copies of our fds are not its sockets"
    here = scan_socket_owners()
    assert owners.hidden_uids == here.hidden_uids, "who hid their fds comes back through the pipe too"
    mine = {i for i, pids in here.pids_by_inode.items() if pids == [os.getpid()]}
    assert {i for i in mine if owners.pids_by_inode.get(i) == [os.getpid()]} == mine
    # A process's sockets share one pid list, in the child as in a scan here: the resolver asks once per list.
    lists = {id(owners.pids_by_inode[i]) for i in mine}
    assert len(lists) == 1


def test_a_failed_child_is_replaced_by_a_scan_here(monkeypatch: pytest.MonkeyPatch) -> None:
    parent = os.getpid()
    made_here = SocketOwners({7: [1]}, denied=3)

    def scan_or_fail(proc_root: str, skip: str | None = None, part: int = 0, parts: int = 1) -> SocketOwners:
        if os.getpid() != parent:
            raise RuntimeError("the child's scan fails")
        return made_here

    monkeypatch.setattr(early, "scan_owners", scan_or_fail)
    scan = ScanInChild("/proc", 2)
    pids = scan.pids
    assert scan.result() is made_here
    assert len(pids) == 2 and all(reaped(pid) for pid in pids)


def test_a_cancelled_scan_leaves_no_process(monkeypatch: pytest.MonkeyPatch) -> None:
    def slow_scan(proc_root: str, skip: str | None = None, part: int = 0, parts: int = 1) -> SocketOwners:
        time.sleep(60)  # only in the child, which is killed long before
        return SocketOwners()

    monkeypatch.setattr(early, "scan_owners", slow_scan)
    scan = ScanInChild("/proc", 2)
    pids = scan.pids
    assert len(pids) == 2 and not scan.done()
    scan.cancel()
    scan.cancel()  # twice is harmless: cancel runs in a finally, after a result may have been read
    assert all(reaped(pid) and not psutil.pid_exists(pid) for pid in pids)


def test_a_fork_that_fails_half_way_leaves_no_child(monkeypatch: pytest.MonkeyPatch) -> None:
    """The second child cannot be made (a process limit): the first, waiting for its siblings' pids, is killed and
    reaped, and the caller hears OSError (``EarlyListing`` then scans in a thread)."""
    real_fork, made = os.fork, []

    def fork_once() -> int:
        if made:
            raise BlockingIOError(11, "Resource temporarily unavailable")
        pid = real_fork()
        if pid:
            made.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", fork_once)
    fds_before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(OSError):
        ScanInChild("/proc", 2)
    assert len(made) == 1 and reaped(made[0]) and not psutil.pid_exists(made[0])
    assert len(os.listdir("/proc/self/fd")) == fds_before, "every pipe is closed"


def test_no_process_to_spare_means_a_scan_in_a_thread(monkeypatch: pytest.MonkeyPatch, listener: socket.socket) -> None:
    def no_fork() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    fds_before = len(os.listdir("/proc/self/fd"))
    started = EarlyListing.start(LINUX_SS)
    assert isinstance(started.owners, InThread)
    # ss, the command started: under auto (netlink first) the early start is cancelled, and its scan, a thread that
    # cannot be stopped, would still hold directories open when the fds are counted below.
    snap = platform_source("ss").collect_blocking(started)
    port = listener.getsockname()[1]
    mine = [r for r in snap.records if r.local_port == port and r.state is State.LISTEN]
    assert [r.pid for r in mine] == [os.getpid()]
    assert len(os.listdir("/proc/self/fd")) == fds_before, "the pipe of the failed fork is closed"


@pytest.mark.parametrize("scan_done", [True, False], ids=["owners-while-parsing", "owners-attached-after"])
def test_both_orders_of_scan_and_parse_give_the_same_owners(
    monkeypatch: pytest.MonkeyPatch, listener: socket.socket, scan_done: bool
) -> None:
    """Whether the scan ends before the listing is parsed or after, each socket gets the same owners."""
    started = EarlyListing.start(LINUX_SS)
    assert isinstance(started.owners, ScanInChild)
    if scan_done:
        monkeypatch.setattr(ScanInChild, "done", lambda self: True)
    else:
        monkeypatch.setattr(ScanInChild, "done", lambda self: False)
    snap = platform_source("auto").collect_blocking(started)
    port = listener.getsockname()[1]
    mine = [r for r in snap.records if r.local_port == port and r.state is State.LISTEN]
    assert len(mine) == 1
    assert (mine[0].pid, mine[0].owner_status) == (os.getpid(), OwnerStatus.KNOWN)
    assert mine[0].program == psutil.Process().name()
    time_waits = [r for r in snap.records if r.state is State.TIME_WAIT]
    assert all(r.owner_status is OwnerStatus.NO_PROCESS for r in time_waits)


def test_a_start_interrupted_before_its_scan_leaves_no_command(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C or SIGTERM (see ``nettop.shutdown``) between starting the command and the scan: the command is
    killed and reaped before the exception goes on."""

    def interrupted(proc_root: str) -> ScanInChild:
        raise KeyboardInterrupt

    monkeypatch.setattr(early, "ScanInChild", interrupted)
    argv = ("sleep", "999.25")
    with pytest.raises(KeyboardInterrupt):
        EarlyListing.start(argv)
    assert [c.pid for c in psutil.Process().children() if tuple(c.cmdline()) == argv] == []


def test_a_cancelled_listing_leaves_neither_command_nor_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    def slow_scan(proc_root: str, skip: str | None = None, part: int = 0, parts: int = 1) -> SocketOwners:
        time.sleep(60)  # only in the child, which is killed long before
        return SocketOwners()

    monkeypatch.setattr(early, "scan_owners", slow_scan)
    started = EarlyListing.start(("sleep", "999.5"))
    assert isinstance(started.owners, ScanInChild)
    pids = [started.run._process.pid, *started.owners.pids]
    started.cancel()
    assert all(pid is not None and reaped(pid) for pid in pids)
