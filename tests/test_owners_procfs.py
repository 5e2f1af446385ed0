"""The incremental /proc socket-owner scan, against real processes holding real loopback sockets."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from nettop.model import Proto, Snapshot, State
from nettop.owners.procfs import IncrementalSocketScanner, SocketOwners, _Fds, parse_start_time, scan_socket_owners
from nettop.sources import platform_source

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="the /proc scan needs Linux /proc")

#: Holds loopback listeners and a file; on request opens another listener, or swaps the newest listener (or the
#: file) for a new listener on the same fd number; prints "fd inode" for each listener it opens.
HOLDER = """
import os, socket, sys

def listener():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    return sock

def report(sock):
    print(sock.fileno(), os.fstat(sock.fileno()).st_ino, flush=True)

socks = [listener()]
report(socks[-1])
spare = open(os.devnull)
print(spare.fileno(), flush=True)
for line in sys.stdin:
    if line == "open\\n":
        socks.append(listener())
    elif line == "swap\\n":  # close the newest listener; the next one gets the lowest free fd: the same number
        socks.pop().close()
        socks.append(listener())
    elif line == "file\\n":  # close the file; a new listener takes its fd number
        spare.close()
        socks.append(listener())
    report(socks[-1])
"""


class Holder:
    """A child process holding a listener, driven through its stdin."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLDER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.fd, self.inode = self._read_report()
        assert self.process.stdout is not None
        self.file_fd = int(self.process.stdout.readline())

    @property
    def pid(self) -> int:
        return self.process.pid

    def ask(self, command: str) -> tuple[int, int]:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self._read_report()

    def _read_report(self) -> tuple[int, int]:
        assert self.process.stdout is not None
        fd, inode = self.process.stdout.readline().split()
        return int(fd), int(inode)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


@contextlib.contextmanager
def holder() -> Iterator[Holder]:
    child = Holder()
    try:
        yield child
    finally:
        child.stop()


def holders_of(owners: SocketOwners, pid: int) -> set[int]:
    """The inodes ``owners`` says ``pid`` holds."""
    return {inode for inode, pids in owners.pids_by_inode.items() if pid in pids}


def test_first_scan_finds_what_the_full_scan_finds() -> None:
    with holder() as child:
        scanner = IncrementalSocketScanner()
        first = scanner.scan({child.inode})
        assert first.pids_by_inode[child.inode] == [child.pid]
        assert scanner.last_full and scanner.last_readlinks > 0
        assert holders_of(first, child.pid) == holders_of(scan_socket_owners(), child.pid) == {child.inode}


def test_a_socket_swapped_in_on_the_same_fd_is_seen_without_a_full_rescan() -> None:
    with holder() as child:
        scanner = IncrementalSocketScanner()
        scanner.scan({child.inode})
        first_readlinks = scanner.last_readlinks
        fd, new_inode = child.ask("swap")
        assert fd == child.fd and new_inode != child.inode, "the new listener should reuse the fd number"

        second = scanner.scan({new_inode})
        assert second.pids_by_inode[new_inode] == [child.pid]
        assert child.inode not in second.pids_by_inode
        # The closed socket's fd is re-read because the listing no longer shows it: no full rescan needed.
        assert not scanner.last_full
        assert 0 < scanner.last_readlinks < first_readlinks


def test_a_scan_says_which_inodes_changed_holders() -> None:
    with holder() as child:
        scanner = IncrementalSocketScanner()
        # Other processes on the machine may open and close sockets meanwhile: only the child's are asserted.
        assert scanner.scan({child.inode}).changed is None, "nothing before the first scan to compare with"
        assert child.inode not in scanner.scan({child.inode}).changed  # type: ignore[operator]
        _, new_inode = child.ask("swap")
        after_swap = scanner.scan({new_inode})
        assert {child.inode, new_inode} <= after_swap.changed  # type: ignore[operator]
        assert after_swap.pids_by_inode[new_inode] == [child.pid] and child.inode not in after_swap.pids_by_inode
        assert new_inode not in scanner.scan({new_inode}).changed  # type: ignore[operator]


def test_owners_handed_out_stay_as_they_were() -> None:
    with holder() as child:
        scanner = IncrementalSocketScanner()
        first = scanner.scan({child.inode})
        _, new_inode = child.ask("swap")
        scanner.scan({new_inode})
        assert first.pids_by_inode[child.inode] == [child.pid] and new_inode not in first.pids_by_inode


def test_a_socket_opened_after_the_listing_is_re_read_once_it_leaves() -> None:
    """Scanned but not listed (opened after ss ran), then closed and its fd number reused: re-read, found."""
    with holder() as child:
        scanner = IncrementalSocketScanner()
        scanner.scan({child.inode})
        _, unlisted = child.ask("open")
        owners = scanner.scan({child.inode})  # as if the listing had been taken just before the open
        assert owners.pids_by_inode[unlisted] == [child.pid]
        _, new_inode = child.ask("swap")
        owners = scanner.scan({child.inode, new_inode})
        assert not scanner.last_full and owners.pids_by_inode[new_inode] == [child.pid]


def test_a_socket_no_listing_shows_is_re_read_once_then_trusted() -> None:
    """Like a UNIX socket: read when found, re-read by the next scan, then left alone."""
    with holder() as child:
        scanner = IncrementalSocketScanner()
        scanner.scan({child.inode})
        _, unlisted = child.ask("open")
        young = []
        for _ in range(3):
            owners = scanner.scan({child.inode})
            assert owners.pids_by_inode[unlisted] == [child.pid]
            young.append(unlisted in scanner._young)
        assert young == [True, False, False]


def test_a_file_fd_reused_by_a_socket_is_found_by_the_next_scan() -> None:
    with holder() as child:
        scanner = IncrementalSocketScanner()
        scanner.scan({child.inode})
        fd, new_inode = child.ask("file")
        assert fd == child.file_fd, "the new listener should reuse the file's fd number"
        live = {child.inode, new_inode}

        # The cache says "not a socket" for that fd, so the new inode looks unowned: a suspect, not yet a reason
        # for a full re-read (most such inodes are sockets that closed while ss ran).
        owners = scanner.scan(live)
        assert not scanner.last_full and holders_of(owners, child.pid) == {child.inode}
        # Still listed, still unowned: now every fd is re-read.
        owners = scanner.scan(live)
        assert scanner.last_full and holders_of(owners, child.pid) == {child.inode, new_inode}
        scanner.scan(live)
        assert not scanner.last_full


def test_inodes_that_stay_unowned_cost_one_full_rescan_not_one_each_time() -> None:
    with holder() as child:
        nobody = 2**62  # no process holds it: like another user's socket seen without root
        scanner = IncrementalSocketScanner()
        scanner.scan({child.inode})
        fulls = []
        for _ in range(4):
            owners = scanner.scan({child.inode, nobody})
            fulls.append(scanner.last_full)
            assert owners.pids_by_inode[child.inode] == [child.pid] and nobody not in owners.pids_by_inode
        assert fulls == [False, True, False, False]


def test_an_unowned_inode_that_leaves_the_listing_costs_no_full_rescan() -> None:
    """A socket that closed while ss ran is listed, then unowned, then gone: no reason to read everything."""
    with holder() as child:
        scanner = IncrementalSocketScanner()
        scanner.scan({child.inode})
        fulls = []
        for live in ({child.inode, 2**62}, {child.inode}):
            scanner.scan(live)
            fulls.append(scanner.last_full)
        assert fulls == [False, False]


def test_a_reused_pid_is_read_afresh() -> None:
    """A cached process whose start time differs is another process under the same pid: its cache is dropped."""
    with holder() as child:
        scanner = IncrementalSocketScanner()
        scanner.scan({child.inode})
        cached = scanner._procs[child.pid]
        # What the cache would hold had a dead process with this pid held socket 12345 on every fd number.
        stale = dict.fromkeys(cached.names, 12345)
        scanner._procs[child.pid] = _Fds(cached.start_time - 1, cached.names, stale, [12345])
        owners = scanner.scan({child.inode})
        assert holders_of(owners, child.pid) == {child.inode}
        assert not scanner.last_full, "only the reused pid's fds are re-read"


def test_processes_that_start_and_exit_between_scans() -> None:
    scanner = IncrementalSocketScanner()
    with holder() as old:
        scanner.scan({old.inode})
        with holder() as new:
            owners = scanner.scan({old.inode, new.inode})
            assert not scanner.last_full, "a new process's fds are new: read without a full rescan"
            assert owners.pids_by_inode[new.inode] == [new.pid]
            assert owners.pids_by_inode[old.inode] == [old.pid]
    owners = scanner.scan(set())
    assert not any(old.pid in pids or new.pid in pids for pids in owners.pids_by_inode.values())


def test_a_blind_first_scan_then_the_listing() -> None:
    """What a live source does: the first scan runs beside the listing, which it learns afterwards."""
    with holder() as child:
        scanner = IncrementalSocketScanner()
        first = scanner.scan()
        assert scanner.last_full and first.pids_by_inode[child.inode] == [child.pid]
        scanner.note_listing({child.inode})
        _, new_inode = child.ask("swap")
        second = scanner.scan({new_inode})
        assert not scanner.last_full and second.pids_by_inode[new_inode] == [child.pid]


def test_a_full_rescan_every_so_often() -> None:
    scanner = IncrementalSocketScanner(full_every=3)
    fulls = []
    for _ in range(7):
        scanner.scan(set())
        fulls.append(scanner.last_full)
    assert fulls == [True, False, False, True, False, False, True]


def stat_line(comm: str, start_time: int) -> str:
    """A /proc/<pid>/stat line: pid (comm) state, then fields 4..52, field 22 being the start time."""
    fields = [str(n) for n in range(4, 53)]
    fields[22 - 4] = str(start_time)
    return f"4242 ({comm}) S {' '.join(fields)}\n"


@pytest.mark.parametrize("comm", ["python3", "a b", "x) (y", ") S 1 2 3 4 5", "(", ""])
def test_start_time_is_counted_after_the_last_parenthesis(comm: str) -> None:
    assert parse_start_time(stat_line(comm, 987654321)) == 987654321


def test_start_time_of_this_process_matches_psutil() -> None:
    with open("/proc/self/stat") as stat:
        ticks = parse_start_time(stat.read())
    started = psutil.boot_time() + ticks / os.sysconf("SC_CLK_TCK")
    assert started == pytest.approx(psutil.Process().create_time(), abs=1.0)


@pytest.mark.parametrize("text", ["", "4242 (cut short) S 1 2 3", "no parenthesis at all"])
def test_start_time_of_a_malformed_line_is_an_error(text: str) -> None:
    with pytest.raises(ValueError):
        parse_start_time(text)


async def test_a_live_source_collected_again_and_again_follows_a_reused_fd() -> None:
    if shutil.which("ss") is None:
        pytest.fail("ss is not installed; .ci/run installs it (iproute2)")
    me = os.getpid()
    source = platform_source("ss")
    with socket.socket() as first:
        first.bind(("127.0.0.1", 0))
        first.listen(1)
        # The first collection scans /proc in full, as a one-shot `nettop list` would; the second primes the
        # incremental scanner.
        for _ in range(2):
            before = await source.collect()
            assert pids_on(before, first.getsockname()[1]) == [me]
        fd = first.fileno()
        first_port = first.getsockname()[1]
    with socket.socket() as second:
        assert second.fileno() == fd
        second.bind(("127.0.0.1", 0))
        second.listen(1)
        snapshot = await source.collect()
        assert not source._collectors["ss"]._scanner.last_full, "the third collection should rescan incrementally"
        assert pids_on(snapshot, second.getsockname()[1]) == [me]
        # And it says what changed since the second: the first listener went, the second came.
        assert snapshot.delta is not None and snapshot.delta.since == before.taken_at
        assert first_port in {r.local_port for r in snapshot.delta.removed if r.state is State.LISTEN}
        came = [r for r in snapshot.delta.added if r.local_port == second.getsockname()[1]]
        assert [owner.pid for r in came for owner in r.owners] == [me]


def pids_on(snapshot: Snapshot, port: int) -> list[int]:
    (record,) = (r for r in snapshot.records if r.proto is Proto.TCP and r.local_port == port and r.remote_ip is None)
    return [owner.pid for owner in record.owners]


def test_a_process_alone_shares_one_pid_list_and_a_shared_socket_gets_its_own() -> None:
    """The resolver answers once per pid list (by identity): sharing must never mix two sockets' holders."""
    me = os.getpid()
    with socket.socket() as first, socket.socket() as second, socket.socket() as inherited:
        for sock in (first, second, inherited):
            sock.bind(("127.0.0.1", 0))
            sock.listen(1)
        child = subprocess.Popen(
            [sys.executable, "-c", "import sys; sys.stdin.read()"],
            stdin=subprocess.PIPE,
            pass_fds=[inherited.fileno()],
        )
        try:
            by_inode = scan_socket_owners().pids_by_inode
            ino = {name: os.fstat(s.fileno()).st_ino for name, s in (("a", first), ("b", second), ("c", inherited))}
            assert by_inode[ino["a"]] == [me] and by_inode[ino["a"]] is by_inode[ino["b"]]
            assert by_inode[ino["c"]] == sorted([me, child.pid])
        finally:
            child.communicate(b"")


@pytest.fixture
def fake_proc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A /proc with two processes, 100 and 200, each holding one socket; 200's links may not be read (as the
    kernel's ptrace rules answer for a sandbox's init, even to root)."""
    for pid, inode in ((100, 5000), (200, 6000)):
        fd_dir = tmp_path / str(pid) / "fd"
        fd_dir.mkdir(parents=True)
        (fd_dir / "3").symlink_to(f"socket:[{inode}]")
        (fd_dir / "4").symlink_to("/dev/null")
        # stat: the start time is field 22, the 20th after the parenthesised name.
        (tmp_path / str(pid) / "stat").write_text(f"{pid} (fake) S " + " ".join(["0"] * 18 + ["777", "0", "0"]))
    real_readlink = os.readlink

    def readlink(path: str, *, dir_fd: int | None = None) -> str:
        if dir_fd is not None and real_readlink(f"/proc/self/fd/{dir_fd}").endswith("/200/fd"):
            raise PermissionError(13, "Permission denied")
        return real_readlink(path, dir_fd=dir_fd)

    monkeypatch.setattr(os, "readlink", readlink)
    return tmp_path


def test_a_process_whose_links_may_not_be_read_is_counted_with_its_user(fake_proc: Path) -> None:
    owners = scan_socket_owners(str(fake_proc))
    assert owners.pids_by_inode == {5000: [100]}
    assert (owners.denied, owners.hidden_uids) == (1, {os.stat(fake_proc / "200").st_uid})


def test_the_incremental_scanner_reports_such_a_process_on_every_scan(fake_proc: Path) -> None:
    scanner = IncrementalSocketScanner(str(fake_proc))
    uid = os.stat(fake_proc / "200").st_uid
    for live in (None, {5000, 6000}, {5000, 6000}):
        owners = scanner.scan(live)
        assert owners.pids_by_inode == {5000: [100]}
        assert (owners.denied, owners.hidden_uids) == (1, {uid})
