"""The remote collector's incremental /proc scan (``nettop/remote/collector.py``), against real processes holding
real loopback sockets: what it trusts from the last refresh, and what makes it read again."""

from __future__ import annotations

import os

import psutil
import pytest

from nettop.remote.collector import Processes
from tests.test_owners_procfs import holder

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="the /proc scan needs Linux /proc")


def held_by(found: tuple[dict[str, list[int]], dict[str, list], int], pid: int) -> set[int]:
    """The inodes a scan's answer says ``pid`` holds."""
    holders = found[0]
    return {int(inode) for inode, pids in holders.items() if pid in pids}


def listed(*inodes: int) -> set[str]:
    """The tables' inodes, as the collector has them: text."""
    return {str(inode) for inode in inodes}


def test_the_first_scan_reads_everything_and_describes_the_holder() -> None:
    with holder() as child:
        processes = Processes()
        _, described, _ = found = processes.scan(listed(child.inode))
        assert processes.last_full and processes.last_readlinks > 0
        assert held_by(found, child.pid) == {child.inode}
        name, uid, _, cmdline, started = described[str(child.pid)]
        truth = psutil.Process(child.pid)
        assert (name, uid, cmdline) == (truth.name(), truth.uids().real, truth.cmdline())
        assert started == pytest.approx(truth.create_time(), abs=0.05)


def test_a_quiet_refresh_trusts_the_cache_and_still_answers_whole() -> None:
    with holder() as child:
        processes = Processes()
        first = processes.scan(listed(child.inode))
        first_readlinks = processes.last_readlinks
        second = processes.scan(listed(child.inode))
        assert not processes.last_full
        assert processes.last_readlinks < first_readlinks / 2
        # The answer is whole, not a difference: the holders and their descriptions are all there again.
        assert second[0][str(child.inode)] == first[0][str(child.inode)] == [child.pid]
        assert second[1][str(child.pid)] == first[1][str(child.pid)]


def test_a_socket_swapped_in_on_the_same_fd_is_seen_without_a_full_read() -> None:
    with holder() as child:
        processes = Processes()
        processes.scan(listed(child.inode))
        fd, new_inode = child.ask("swap")
        assert fd == child.fd and new_inode != child.inode, "the new listener should reuse the fd number"
        found = processes.scan(listed(new_inode))
        assert held_by(found, child.pid) == {new_inode}
        assert not processes.last_full, "the closed socket's fd is re-read because the tables no longer show it"


def test_a_file_fd_reused_by_a_socket_is_found_by_the_next_refresh() -> None:
    with holder() as child:
        processes = Processes()
        processes.scan(listed(child.inode))
        fd, new_inode = child.ask("file")
        assert fd == child.file_fd, "the new listener should reuse the file's fd number"
        both = listed(child.inode, new_inode)
        # The cache says "not a socket" for that fd: the new inode looks unowned, which alone is no reason to
        # read everything (most such inodes closed between the tables and the scan).
        found = processes.scan(both)
        assert not processes.last_full and held_by(found, child.pid) == {child.inode}
        # Listed and unowned twice running: every fd is read again.
        found = processes.scan(both)
        assert processes.last_full and held_by(found, child.pid) == {child.inode, new_inode}
        processes.scan(both)
        assert not processes.last_full


def test_inodes_that_stay_unowned_cost_one_full_read() -> None:
    with holder() as child:
        nobody = 2**62  # held by no process: like another user's socket, seen without root
        processes = Processes()
        processes.scan(listed(child.inode))
        fulls = []
        for _ in range(4):
            found = processes.scan(listed(child.inode, nobody))
            fulls.append(processes.last_full)
            assert held_by(found, child.pid) == {child.inode} and str(nobody) not in found[0]
        assert fulls == [False, True, False, False]


def test_a_reused_pid_is_read_afresh() -> None:
    """A cached process whose start time differs is another process under the same pid: its fds are read again."""
    with holder() as child:
        processes = Processes()
        processes.scan(listed(child.inode))
        started, targets = processes.fds[str(child.pid)]
        # What the cache would hold had a dead process with this pid held socket 12345 on every fd number.
        processes.fds[str(child.pid)] = (started - 1, dict.fromkeys(targets, "12345"))
        found = processes.scan(listed(child.inode, 12345))
        assert held_by(found, child.pid) == {child.inode}
        assert not processes.last_full


def test_a_full_read_every_so_often() -> None:
    processes = Processes(full_every=3)
    fulls = []
    for _ in range(7):
        processes.scan(set())
        fulls.append(processes.last_full)
    assert fulls == [True, False, False, True, False, False, True]


def test_a_process_that_exits_leaves_the_answer() -> None:
    processes = Processes()
    with holder() as child:
        found = processes.scan(listed(child.inode))
        assert str(child.pid) in found[1]
    found = processes.scan(listed(child.inode))
    assert str(child.pid) not in found[1] and held_by(found, child.pid) == set()
    assert str(child.pid) not in processes.fds
