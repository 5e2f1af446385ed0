"""Owner lookup: psutil's facts, a cache that a reused pid cannot fool, and exits mid-read."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil

from nettop.cgroups import classify, read_proc_cgroup
from nettop.model import Owner, OwnerStatus, State
from nettop.owners.enrich import Enricher, unowned_status
from nettop.owners.procfs import scan_socket_owners


def test_lookup_reports_what_psutil_knows() -> None:
    me = psutil.Process()
    owner = Enricher().lookup(os.getpid())
    with open(f"/proc/{os.getpid()}/cgroup") as file:
        cgroup = read_proc_cgroup(file.read())
    placement = classify(cgroup) if cgroup is not None else None
    assert owner == Owner(os.getpid(), me.name(), me.username(), tuple(me.cmdline()), me.create_time(), placement)


def test_cache_is_keyed_by_start_time_so_a_reused_pid_gets_its_own_name() -> None:
    enricher = Enricher()
    pid = os.getpid()
    started = psutil.Process().create_time()
    # What the cache would hold had a dead process with this pid started a second earlier.
    enricher._cache[(pid, started - 1.0)] = Owner(pid, "dead-process", "nobody", ("dead",), started - 1.0)
    owner = enricher.lookup(pid)
    assert owner is not None and owner.name == psutil.Process().name()
    # And the live process's entry is the one reused afterwards.
    assert enricher._cache[(pid, started)] is owner
    assert enricher.lookup(pid) is owner


def test_a_process_that_has_exited_is_none_not_an_error() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert Enricher().lookup(child.pid) is None


def test_resolver_names_owners_and_says_why_there_are_none() -> None:
    enricher = Enricher()
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    resolve = enricher.resolver({100: [os.getpid()], 200: [child.pid]}, root=False, my_uid=1000)
    owners, status = resolve(100, State.LISTEN, 1000)
    assert status is OwnerStatus.KNOWN and [o.pid for o in owners] == [os.getpid()]
    assert resolve(200, State.LISTEN, 1000) == ((), OwnerStatus.GONE)
    assert resolve(300, State.LISTEN, 0) == ((), OwnerStatus.NOT_PERMITTED)
    assert resolve(300, State.LISTEN, 1000) == ((), OwnerStatus.NO_PROCESS)
    assert resolve(None, State.TIME_WAIT, None) == ((), OwnerStatus.NO_PROCESS)


def test_unowned_status_as_root_is_no_process_unless_a_process_of_that_user_hid_its_fds() -> None:
    assert unowned_status(5, State.ESTABLISHED, 33, root=True, my_uid=0) is OwnerStatus.NO_PROCESS
    # A sandbox's init, or an undumpable process, hides its fds even from root: its user's sockets may be its.
    assert unowned_status(5, State.ESTABLISHED, 0, True, 0, hidden_uids={0}) is OwnerStatus.NOT_PERMITTED
    assert unowned_status(5, State.ESTABLISHED, 33, True, 0, hidden_uids={0}) is OwnerStatus.NO_PROCESS
    assert unowned_status(5, State.ESTABLISHED, None, True, 0, hidden_uids={0}) is OwnerStatus.NOT_PERMITTED
    assert unowned_status(5, State.TIME_WAIT, 0, True, 0, hidden_uids={0}) is OwnerStatus.NO_PROCESS
    # Not root: one's own sockets are one's processes', unless one of them was unreadable.
    assert unowned_status(5, State.LISTEN, 1000, False, 1000) is OwnerStatus.NO_PROCESS
    assert unowned_status(5, State.LISTEN, 1000, False, 1000, hidden_uids={1000}) is OwnerStatus.NOT_PERMITTED
    resolve = Enricher().resolver({}, root=True, my_uid=0, hidden_uids={0})
    assert resolve(300, State.LISTEN, 0) == ((), OwnerStatus.NOT_PERMITTED)


def test_procfs_scan_finds_this_process_s_sockets() -> None:
    import socket

    with socket.socket() as sock:
        inode = os.fstat(sock.fileno()).st_ino
        owners = scan_socket_owners()
    assert owners.pids_by_inode[inode] == [os.getpid()]


def test_an_owner_in_a_container_is_named_from_the_runtimes_state(tmp_path: Path) -> None:
    """The enricher classifies the process's cgroup and takes the container's name and image from docker's own
    config.v2.json (laid out under a temporary root, as docker writes it), and the JSON says them."""
    from nettop.owners.runtimes import ContainerNames
    from nettop.writers.json import record_to_dict
    from tests.scripted import conn

    cid = "3f2a9c1b7e4d" * 5 + "3f2a"
    proc = tmp_path / "proc" / str(os.getpid())
    proc.mkdir(parents=True)
    (proc / "cgroup").write_text(f"0::/system.slice/docker-{cid}.scope\n")
    state = tmp_path / "root" / "var" / "lib" / "docker" / "containers" / cid
    state.mkdir(parents=True)
    (state / "config.v2.json").write_text('{"Name": "/web", "Config": {"Image": "nginx:1.25"}}')
    enricher = Enricher(proc_root=str(tmp_path / "proc"), names=ContainerNames(str(tmp_path / "root")))
    owner = enricher.lookup(os.getpid())
    assert owner is not None and owner.placement is not None
    container = owner.placement.container
    assert container is not None and (container.runtime, container.id, container.name, container.image) == (
        "docker",
        cid,
        "web",
        "nginx:1.25",
    )
    row = record_to_dict(conn(80)._replace(owners=(owner,)))
    assert row["container"] == {"runtime": "docker", "id": cid, "name": "web", "image": "nginx:1.25"}
    assert row["unit"] == f"docker-{cid}.scope" and row["cgroup"] == f"/system.slice/docker-{cid}.scope"


def test_proc_facts_are_psutils_for_every_process_here() -> None:
    """The Linux path reads /proc itself: name, user, command line and start time must be what psutil says, the
    start time to the same float (kill compares them to refuse a reused pid)."""
    from nettop.owners import proc_process

    compared = 0
    for process in psutil.process_iter():
        try:
            with process.oneshot():
                expected = (process.name(), process.username(), process.cmdline(), process.create_time())
            found = proc_process.facts(process.pid)
        except (psutil.Error, proc_process.ProcessGone, proc_process.ProcessHidden):
            continue  # exited meanwhile, or a zombie
        assert (found.name, found.user, list(found.cmdline or ()), found.start_time) == expected
        compared += 1
    assert compared > 3


def test_a_long_name_is_taken_from_the_command_line_as_psutil_does(tmp_path: Path) -> None:
    from nettop.owners import proc_process

    program = tmp_path / "a-program-named-longer-than-fifteen"
    os.symlink(sys.executable, program)
    child = subprocess.Popen(
        [str(program), "-c", "import sys; print('ready', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert child.stdout is not None and child.stdout.readline() == "ready\n"  # running its own code by now
        found = proc_process.facts(child.pid)
        expected = psutil.Process(child.pid).name()
    finally:
        child.kill()
        child.wait()
    assert (found.name, expected) == (program.name, program.name), "comm is cut at 15 characters, not the command"
    assert found.cmdline is not None and found.cmdline[0] == str(program)
