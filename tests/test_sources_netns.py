"""Every network namespace's sockets: namespaces the tests make (``ip netns add``, ``unshare -n``) and always
remove, each with a child listening on loopback inside, found by its socket's inode (inodes are machine-wide).

Children say ``ready`` when listening and end when their stdin closes: no test waits on a clock.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from nettop.errors import NettopError
from nettop.model import State
from nettop.sources import netns, sockdiag
from nettop.sources.netns import Namespace
from tests import unprivileged

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="network namespaces are Linux's"),
    pytest.mark.skipif(sys.platform.startswith("linux") and os.geteuid() != 0, reason="making namespaces needs root"),
]

LISTENER = """
import os, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(4)
print("ready", os.getpid(), s.getsockname()[1], os.fstat(s.fileno()).st_ino, flush=True)
sys.stdin.read()
"""

#: ``unshare -n`` makes a namespace whose ``lo`` is down; the shell brings it up, then becomes the listener.
UNSHARED = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$0" "$@"']

_numbers = itertools.count()


@dataclass
class Child:
    process: subprocess.Popen[str]
    pid: int
    port: int
    #: The listening socket's inode, which every dump of its namespace shows.
    inode: int

    def end(self) -> None:
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def make_netns() -> Iterator[Callable[[], str]]:
    """Makes named namespaces with ``lo`` up (``nettop-test-PID-N``), deleted after the test whatever happens."""
    made: list[str] = []

    def make() -> str:
        name = f"nettop-test-{os.getpid()}-{next(_numbers)}"
        try:
            added = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
        except FileNotFoundError:
            pytest.skip("no ip command")
        if added.returncode != 0:
            pytest.skip(f"ip netns add is refused here: {added.stderr.strip()}")
        made.append(name)
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        return name

    yield make
    for name in made:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


@pytest.fixture
def spawn() -> Iterator[Callable[..., Child]]:
    """Starts a loopback listener behind a command prefix (``ip netns exec NAME``, ``unshare -n``), ready once it
    says so; every child is ended after the test."""
    children: list[Child] = []

    def start(prefix: list[str], port: int = 0) -> Child:
        process = subprocess.Popen(
            [*prefix, sys.executable, "-c", LISTENER, str(port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        words = process.stdout.readline().split()
        if words[:1] != ["ready"]:
            process.kill()
            _, error = process.communicate()
            pytest.fail(f"the listener did not start: {error.strip()}")
        child = Child(process, int(words[1]), int(words[2]), int(words[3]))
        children.append(child)
        return child

    yield start
    for child in children:
        child.end()


def listener_inodes(dumped: netns.Dumped, port: int) -> list[int]:
    return [
        record.inode
        for record in sockdiag.records(dumped.received, interfaces=dumped.interfaces)
        if record.state is State.LISTEN and record.local_port == port and record.inode is not None
    ]


def netns_inode(path: str) -> int:
    return os.stat(path).st_ino


def test_a_named_namespace_is_found_and_dumped_from_inside(
    make_netns: Callable[[], str], spawn: Callable[..., Child]
) -> None:
    name = make_netns()
    child = spawn(["ip", "netns", "exec", name])
    listed = netns.namespaces()
    own = listed[0]
    assert own.own and own.inode == netns_inode("/proc/self/ns/net")
    assert [namespace.own for namespace in listed].count(True) == 1
    (found,) = [namespace for namespace in listed if namespace.name == name]
    assert found.inode == netns_inode(f"/proc/{child.pid}/ns/net") == netns_inode(f"/run/netns/{name}")
    assert found.path == f"/run/netns/{name}" and not found.own
    assert child.pid in found.pids and list(found.pids) == sorted(found.pids)
    assert netns.label(found) == name

    thread_before = netns_inode("/proc/thread-self/ns/net")
    assert listener_inodes(netns.receive_in(found), child.port) == [child.inode]
    assert netns_inode("/proc/thread-self/ns/net") == thread_before, "the caller's thread stays where it was"
    assert child.inode not in listener_inodes(netns.receive_in(own), child.port)
    assert child.inode not in listener_inodes(netns.Dumped(sockdiag.receive(), None), child.port)


def test_a_device_is_named_in_its_own_namespace(make_netns: Callable[[], str]) -> None:
    """A socket bound to a device of another namespace is named by that namespace's index, not by the device that
    has the same index here."""
    name = make_netns()
    # A veth pair inside the namespace (both ends stay in it): a device whose index the host gives another.
    subprocess.run(["ip", "-n", name, "link", "add", "nettop0", "type", "veth", "peer", "name", "nettop1"], check=True)
    code = (
        "import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b'nettop0');"
        " s.bind(('127.0.0.1', 0)); s.listen(); print(s.getsockname()[1], flush=True); sys.stdin.readline()"
    )
    child = subprocess.Popen(["ip", "netns", "exec", name, sys.executable, "-c", code], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert child.stdout is not None
    try:
        port = int(child.stdout.readline())
        (found,) = [namespace for namespace in netns.namespaces() if namespace.name == name]
        dumped = netns.receive_in(found)
    finally:
        child.kill()
        child.wait()
    (record,) = [r for r in sockdiag.records(dumped.received, interfaces=dumped.interfaces) if r.local_port == port]
    assert record.interface == "nettop0"


def test_an_unnamed_namespace_is_found_through_its_process(spawn: Callable[..., Child]) -> None:
    child = spawn(UNSHARED)
    (found,) = [namespace for namespace in netns.namespaces() if child.pid in namespace.pids]
    assert found.name is None and not found.own
    assert found.inode == netns_inode(f"/proc/{child.pid}/ns/net")
    assert found.path == f"/proc/{child.pid}/ns/net"
    assert netns.label(found) == f"net:[{found.inode}]"
    assert listener_inodes(netns.receive_in(found, with_info=True), child.port) == [child.inode]


def test_the_same_port_in_two_namespaces_is_found_in_each_once(
    make_netns: Callable[[], str], spawn: Callable[..., Child]
) -> None:
    first, second = make_netns(), make_netns()
    one = spawn(["ip", "netns", "exec", first])
    other = spawn(["ip", "netns", "exec", second], one.port)
    assert other.port == one.port
    listed = netns.namespaces()
    assert len({namespace.inode for namespace in listed}) == len(listed), "each namespace once"
    everything = netns.receive_all()
    assert everything.notes == ()
    by_name = {namespace.name: received for namespace, received in everything.dumps}
    assert listener_inodes(by_name[first], one.port) == [one.inode]
    assert listener_inodes(by_name[second], one.port) == [other.inode]
    seen = [inode for _, received in everything.dumps for inode in listener_inodes(received, one.port)]
    assert sorted(seen) == sorted([one.inode, other.inode]), "each listener once, in its own namespace"
    assert everything.dumps[0][0].own


def test_a_namespace_gone_before_it_is_entered_is_a_note(
    make_netns: Callable[[], str], spawn: Callable[..., Child]
) -> None:
    name = make_netns()
    unnamed = spawn(UNSHARED)
    kept = spawn(["ip", "netns", "exec", make_netns()])
    listed = netns.namespaces()
    subprocess.run(["ip", "netns", "del", name], check=True)
    unnamed.end()

    everything = netns.receive_all(among=listed)
    read = {namespace.inode for namespace, _ in everything.dumps}
    gone = [namespace for namespace in listed if namespace.name == name or unnamed.pid in namespace.pids]
    assert len(gone) == 2 and not read & {namespace.inode for namespace in gone}
    assert len(everything.notes) == 2
    assert any(name in note and "no longer exists" in note for note in everything.notes)
    (unnamed_gone,) = [namespace for namespace in gone if namespace.name is None]
    assert any(f"net:[{unnamed_gone.inode}]" in note for note in everything.notes)
    assert any(kept.inode in listener_inodes(received, kept.port) for _, received in everything.dumps)
    with pytest.raises(netns.NamespaceUnavailable, match="no longer exists"):
        netns.receive_in(gone[0])


def test_a_pid_now_in_another_namespace_is_not_entered() -> None:
    """A pid's ``ns/net`` path may be a new process's by the time it is opened: the inode tells."""
    stale = Namespace(inode=1, name=None, path="/proc/self/ns/net", pids=(os.getpid(),), own=False)
    with pytest.raises(netns.NamespaceUnavailable, match="pid now runs elsewhere"):
        netns.receive_in(stale)
    note = "network namespace net:[1] was skipped: its process exited (the pid now runs elsewhere)"
    assert netns.receive_all(among=[stale]) == ([], (note,))


def test_vanished_and_forbidden_pids_are_skipped_while_listing(tmp_path: Path) -> None:
    """A /proc where one pid has no ns left, one is a stray file and two share our namespace; a /run/netns with a
    leftover file that is not a bind mount: one namespace, our own, with both its pids."""
    proc, named = tmp_path / "proc", tmp_path / "netns"
    for pid in ("self", "42", "7"):
        (proc / pid / "ns").mkdir(parents=True)
        (proc / pid / "ns" / "net").symlink_to("/proc/self/ns/net")
    (proc / "99" / "ns").mkdir(parents=True)  # exited between scandir and stat
    (proc / "5" / "ns").mkdir(parents=True)
    (proc / "5" / "ns" / "net").write_text("")  # not a namespace
    (proc / "sys").mkdir()
    named.mkdir()
    (named / "leftover").write_text("")
    (listed,) = netns.namespaces(str(proc), str(named))
    assert listed == Namespace(netns_inode("/proc/self/ns/net"), None, f"{proc}/self/ns/net", (7, 42), True)
    assert netns.namespaces(str(proc), str(tmp_path / "absent"))[0].own


def test_a_label_names_a_namespace_by_its_name_a_container_or_its_inode() -> None:
    container = {11: "web"}.get
    assert netns.label(Namespace(5, "blue", "/run/netns/blue", (11,)), container) == "blue"
    assert netns.label(Namespace(5, None, "/proc/10/ns/net", (10, 11)), container) == "web"
    assert netns.label(Namespace(5, None, "/proc/10/ns/net", (10,)), container) == "net:[5]"
    assert netns.label(Namespace(5, None, "/proc/10/ns/net", (10, 11))) == "net:[5]"


#: What the unprivileged child runs: setns's own errno on a named namespace, then both entry points.
NOT_ROOT = """
import errno, os, sys
from nettop.errors import NettopError
from nettop.sources import netns
path = sys.argv[1]
fd = os.open(path, os.O_RDONLY)
try:
    netns._setns(fd)
except OSError as error:
    print("setns", errno.errorcode[error.errno])
print("listed", netns.namespaces()[0].own)
namespace = netns.Namespace(os.stat(path).st_ino, "x", path, (), False)
for call in (lambda: netns.receive_in(namespace), netns.receive_all):
    try:
        call()
    except NettopError as error:
        print(type(error).__name__, error)
"""


def test_without_root_the_error_says_so(make_netns: Callable[[], str]) -> None:
    if shutil.which("setpriv") is None:
        pytest.skip("no setpriv")
    drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    python = unprivileged.python_for(drop, "nettop.sources.netns")
    if python is None:
        pytest.skip("no interpreter that uid 65534 may run with nettop importable")
    name = make_netns()
    ran = subprocess.run(
        [*drop, python, "-c", NOT_ROOT, f"/run/netns/{name}"],
        capture_output=True,
        text=True,
        env=unprivileged.environment(),
        cwd="/",
        timeout=60,
    )
    message = "--all-netns needs root: entering another network namespace takes CAP_SYS_ADMIN"
    assert ran.returncode == 0 and "Traceback" not in ran.stderr, ran.stderr
    assert ran.stdout.splitlines() == [
        "setns EPERM",
        "listed True",
        f"AllNetnsNeedsRoot {message}",
        f"AllNetnsNeedsRoot {message}",
    ]
    assert isinstance(netns.AllNetnsNeedsRoot(), NettopError)


def test_has_sys_admin_reads_the_effective_set(tmp_path: Path) -> None:
    status = tmp_path / "status"
    status.write_text("Name:\tx\nCapEff:\t0000000000200000\n")
    assert netns.has_sys_admin(str(status))
    status.write_text("Name:\tx\nCapEff:\t000001ffffdfffff\n")
    assert not netns.has_sys_admin(str(status))
    assert netns.has_sys_admin(str(tmp_path / "absent")), "unknown: let setns decide"


# --- --all-netns end to end: list, the viewer's Netns column, and its refusals -------------------------------------


def test_list_all_netns_names_each_sockets_namespace(
    make_netns: Callable[[], str], spawn: Callable[..., Child]
) -> None:
    name = make_netns()
    inside = spawn(["ip", "netns", "exec", name])
    here = spawn([], inside.port)  # the same port in nettop's own namespace
    done = subprocess.run(
        [sys.executable, "-m", "nettop", "list", "--all-netns", "--format", "json", "--port", str(inside.port)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    listeners = {r["inode"]: r["netns"] for r in json.loads(done.stdout) if r["state"] == "LISTEN"}
    assert listeners == {inside.inode: name, here.inode: None}
    table = subprocess.run(
        [sys.executable, "-m", "nettop", "list", "--all-netns", "--port", str(inside.port)],
        capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    lines = table.splitlines()
    assert lines[0].split()[:2] == ["Netns", "Proto"] and any(line.startswith(name) for line in lines)


async def test_the_viewer_shows_a_netns_column_with_all_netns() -> None:
    from nettop.app import NettopApp
    from nettop.sources.command import Wants
    from nettop.widgets.conn_table import ConnectionTable
    from tests.scripted import FakeClock, ScriptedSource, conn, first_snapshot

    clock = FakeClock()
    record = conn(8080)._replace(netns="web-ns")
    source = ScriptedSource([[record, conn(22)]], clock)
    source.wants = Wants(all_netns=True)  # type: ignore[attr-defined]
    app = NettopApp(source, interval=60, clock=clock)
    async with app.run_test(size=(100, 20)) as pilot:
        await first_snapshot(pilot, app)
        table = app.query_one(ConnectionTable)
        assert table.render_line(0).text.split()[:2] == ["Proto", "Netns"]
        assert any("web-ns" in table.render_line(y).text for y in (1, 2))


@pytest.mark.parametrize("words", [["--from-file", "x.json"], ["--source", "ss"]])
def test_all_netns_is_refused_where_it_cannot_work(words: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from nettop.cli import main

    with pytest.raises(SystemExit) as stopped:
        main(["list", "--all-netns", *words])
    assert stopped.value.code == 2 and "--all-netns enters each namespace" in capsys.readouterr().err


def test_all_netns_without_root_says_so(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from nettop.cli import main

    monkeypatch.setattr(netns, "has_sys_admin", lambda *args: False)
    with pytest.raises(SystemExit) as stopped:
        main(["list", "--all-netns"])
    assert stopped.value.code == 2 and "--all-netns needs root" in capsys.readouterr().err
