"""Remote hosts over ssh (``--host``): nettop's collector against this machine's kernel, then ``nettop list --host``
through a real sshd on 127.0.0.1 (tests/sshd.py): with Python there, without it (ss), hung, and misnamed."""

from __future__ import annotations

import getpass
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from nettop.model import OwnerStatus, State
from nettop.remote.state import RemoteTables
from nettop.sources.remote import BOOTSTRAP, _collector
from tests import sshd
from tests.sockets import PROBE_NAME
from tests.test_metrics import free_port

NETTOP = [sys.executable, "-m", "nettop"]
needs_sshd = pytest.mark.skipif(sshd.available() is not None, reason=str(sshd.available()))


class LocalCollector:
    """nettop's collector run here, as ssh would run it there: the same bootstrap, over pipes."""

    def __init__(self) -> None:
        self.child = subprocess.Popen([sys.executable, "-u", "-c", BOOTSTRAP], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE)  # fmt: skip
        code = _collector()
        self._send(f"{len(code)}\n{code}".encode())

    def _send(self, data: bytes) -> None:
        assert self.child.stdin is not None
        self.child.stdin.write(data)
        self.child.stdin.flush()

    def ask(self) -> bytes:
        self._send(b"tick\n")
        assert self.child.stdout is not None
        return self.child.stdout.readline()

    def close(self) -> None:
        assert self.child.stdin is not None
        self.child.stdin.close()
        self.child.wait(timeout=10)


def test_the_collector_reads_this_kernel_and_then_sends_only_changes() -> None:
    collector, tables = LocalCollector(), RemoteTables()
    listener = socket.socket()
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        first = collector.ask()
        tables.apply(json.loads(first))
        records, issues = tables.records("ssh:here", "here")
        assert issues == ()
        (ours,) = [r for r in records if r.local_port == port and r.state is State.LISTEN]
        assert ours.inode == os.fstat(listener.fileno()).st_ino
        assert ours.owner_status is OwnerStatus.KNOWN
        assert [o.pid for o in ours.owners] == [os.getpid()]
        assert ours.owners[0].name == psutil.Process().name()
        assert ours.owners[0].cmdline == tuple(psutil.Process().cmdline())
        assert ours.uid == os.geteuid()
        # A connection opened now: the next answer holds it, and little else.
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = listener.accept()
        second = collector.ask()
        tables.apply(json.loads(second))
        records, _ = tables.records("ssh:here", "here")
        ends = {(r.local_port, r.remote_port, r.state) for r in records}
        assert (client.getsockname()[1], port, State.ESTABLISHED) in ends
        assert (port, client.getsockname()[1], State.ESTABLISHED) in ends
        assert len(second) < len(first)
        third = collector.ask()  # nothing of ours moved
        assert json.loads(third)["tables"]["tcp"]["add"] == [] or len(third) < len(second) * 4
        client.close()
        accepted.close()
    finally:
        listener.close()
        collector.close()


def listing(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*NETTOP, "list", "--format", "json", *args], capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip


def ours(done: subprocess.CompletedProcess[str], port: int) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr
    (found,) = [r for r in json.loads(done.stdout) if r["local_port"] == port and r["state"] == "LISTEN"]
    return dict(found)


@needs_sshd
def test_list_a_host_over_ssh_with_the_collector(probe: int, tmp_path: Path) -> None:
    with sshd.ssh_server(tmp_path / "ssh") as server:
        done = listing("--host", server.alias, "--ssh-config", str(server.config))
    found = ours(done, probe)
    assert found["source"] == f"ssh:{server.alias}"
    assert found["local_ip"] == "127.0.0.1" and found["proto"] == "tcp"
    if os.geteuid() == 0:  # root there (this machine) sees every owner
        assert found["program"] == PROBE_NAME and found["owner_status"] == "known"
    # The same sockets as the kernel says here, since "there" is this machine.
    listed = {r["local_port"] for r in json.loads(done.stdout) if r["state"] == "LISTEN" and r["proto"] == "tcp"}
    truth = {c.laddr.port for c in psutil.net_connections("tcp") if c.status == psutil.CONN_LISTEN}
    assert probe in listed and listed >= truth - {server.port} and server.port in listed


@needs_sshd
def test_a_host_without_python_is_read_with_ss(probe: int, tmp_path: Path) -> None:
    bare = tmp_path / "bin"  # what the host's PATH holds: a shell's basics and ss, no python3
    bare.mkdir()
    for tool in ("ss", "sh", "bash", "env", "uname"):
        (bare / tool).symlink_to(subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True,
                                                text=True, check=True).stdout.strip())  # fmt: skip
    with sshd.ssh_server(tmp_path / "ssh", environment={"PATH": str(bare)}) as server:
        done = listing("--host", server.alias, "--ssh-config", str(server.config))
    found = ours(done, probe)
    assert found["source"] == f"ssh:{server.alias}"
    assert "no python3 to run nettop's collector" in done.stderr and "ss is run at each refresh" in done.stderr
    if os.geteuid() == 0:
        assert found["program"] == PROBE_NAME


HANDMADE = Path(__file__).parent / "data" / "handmade"
#: A stand-in for a host's own command: prints a recorded output of that system, chosen by the words it is given.
RECORDED_COMMAND = """#!/bin/sh
case "$*" in
{cases}
  *) echo "unexpected: $*" >&2; exit 64 ;;
esac
"""


def other_system(bin_dir: Path, system: str, python: bool) -> dict[str, str]:
    """The environment of a host that looks like a macOS or FreeBSD one: a PATH with its ``uname -s`` and its listing
    command printing what a real one printed; with ``python``, this machine's python3 told (``sitecustomize``) that
    its ``sys.platform`` is that system's, else no python3."""
    bin_dir.mkdir()
    for tool in ("sh", "bash", "env", "cat"):
        (bin_dir / tool).symlink_to(shutil.which(tool))  # type: ignore[arg-type]
    recorded = {"Darwin": {"netstat": {"-anv -p tcp": "macos-15_netstat-natvln.out",
                                       "-anv -p udp": "macos-10.12_netstat-anv-p-udp.out"}},
                "FreeBSD": {"sockstat": {"-46 -s": "freebsd-14_sockstat-46s.out"}}}[system]  # fmt: skip
    tools = {"uname": {"-s": None}, **recorded}
    for tool, outputs in tools.items():
        cases = "\n".join(
            f'  "{words}") echo {system} ;;' if name is None else f'  "{words}") cat {HANDMADE / name} ;;'
            for words, name in outputs.items()
        )
        (bin_dir / tool).write_text(RECORDED_COMMAND.format(cases=cases))
        (bin_dir / tool).chmod(0o755)
    if not python:
        return {"PATH": str(bin_dir)}
    site = bin_dir.parent / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(f"import sys\nsys.platform = {system.lower()!r}\n")
    # The system's directories after the stand-ins: python3 (and what a version manager's shim needs) is found.
    return {"PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin", "PYTHONPATH": str(site)}


@needs_sshd
@pytest.mark.parametrize(("system", "python"), [("Darwin", False), ("Darwin", True), ("FreeBSD", False)])
def test_a_host_that_is_not_linux_is_read_with_its_own_commands(tmp_path: Path, system: str, python: bool) -> None:
    """ssh to a real sshd whose PATH is another system's: its uname, its listing command (a recorded output of
    that system), and a python3 that says it is that system (the collector reads Linux's /proc: it says so)."""
    environment = other_system(tmp_path / "bin", system, python)
    with sshd.ssh_server(tmp_path / "ssh", environment=environment) as server:
        done = listing("--host", server.alias, "--ssh-config", str(server.config))
    assert done.returncode == 0, done.stderr
    records = json.loads(done.stdout)
    assert {r["host"] for r in records} == {server.alias} and {r["source"] for r in records} == {f"ssh:{server.alias}"}
    if system == "Darwin":
        (listener,) = [r for r in records if r["local_port"] == 8809 and r["state"] == "LISTEN"]
        assert (listener["local_ip"], listener["pid"]) == ("::", 81327)
        assert any(r["proto"] == "udp" and r["pid"] == 505 for r in records), "netstat -p udp's rows too"
    else:
        (ssh,) = [r for r in records if r["local_port"] == 22 and r["remote_port"] == 62176]
        assert ssh["state"] == "ESTABLISHED" and [o["pid"] for o in ssh["owners"]] == [33340, 33338]
    command = "netstat" if system == "Darwin" else "sockstat"
    reason = f"not Linux ({system.lower()})" if python else "no python3 to run nettop's collector"
    assert f"{server.alias}: {reason}" in done.stderr and f"{command} is run at each refresh" in done.stderr


@needs_sshd
def test_a_host_whose_system_nettop_cannot_read_is_said(tmp_path: Path) -> None:
    bare = tmp_path / "bin"
    bare.mkdir()
    for tool in ("sh", "env"):
        (bare / tool).symlink_to(shutil.which(tool))  # type: ignore[arg-type]
    (bare / "uname").write_text("#!/bin/sh\necho 'SunOS\033[2J'\n")
    (bare / "uname").chmod(0o755)
    with sshd.ssh_server(tmp_path / "ssh", environment={"PATH": str(bare)}) as server:
        done = listing("--host", server.alias, "--ssh-config", str(server.config))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "a system called 'SunOS\\x1b[2J': nettop reads Linux, macOS and FreeBSD hosts" in done.stderr


@needs_sshd
@pytest.mark.parametrize("reader", ["ss", "python"])
def test_the_reader_can_be_chosen(probe: int, tmp_path: Path, reader: str) -> None:
    with sshd.ssh_server(tmp_path / "ssh") as server:
        done = listing("--host", server.alias, "--ssh-config", str(server.config), "--remote-reader", reader)
    found = ours(done, probe)
    assert "no python3" not in done.stderr
    # The collector names the owner's user (the probe is this user's own child); ss -p names no user.
    assert found["user"] == (getpass.getuser() if reader == "python" else None)


def test_a_hung_host_fails_at_the_timeout(tmp_path: Path) -> None:
    silent = socket.socket()  # accepts connections and never says a word: a hung sshd
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    config = tmp_path / "ssh_config"
    config.write_text(f"Host hung\n  HostName 127.0.0.1\n  Port {silent.getsockname()[1]}\n")
    try:
        started = time.monotonic()
        done = listing("--host", "hung", "--ssh-config", str(config), "--timeout", "2")
        took = time.monotonic() - started
    finally:
        silent.close()
    assert done.returncode == 1
    assert "hung: no answer in 2 s" in done.stderr and "Traceback" not in done.stderr
    assert took < 30, "the timeout, not ssh's own patience, ends it"


def test_a_host_that_does_not_resolve_is_said() -> None:
    done = listing("--host", "no-such-host.invalid")
    assert done.returncode == 1
    assert "no-such-host.invalid" in done.stderr and "Could not resolve hostname" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("host", ["-oProxyCommand=touch {marker}", "a b", "web1,-x", "evil\x1b[2J"])
def test_a_host_that_could_be_read_as_an_option_is_refused(host: str, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    done = listing(f"--host={host.format(marker=marker)}")
    assert done.returncode == 2 and "--host" in done.stderr
    assert not marker.exists()


def two_aliases(server: sshd.SshServer, silent_port: int) -> None:
    """Add to the server's ssh config a second name for it, and a host that hangs."""
    config = server.config.read_text()
    second = config.replace(f"Host {server.alias}\n", "Host second\n", 1)
    server.config.write_text(config + second + f"Host hung\n  HostName 127.0.0.1\n  Port {silent_port}\n")


@needs_sshd
def test_several_hosts_list_together_and_a_hung_one_fails_alone(probe: int, tmp_path: Path) -> None:
    silent = socket.socket()  # accepts connections and never says a word: a hung host
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        with sshd.ssh_server(tmp_path / "ssh") as server:
            two_aliases(server, silent.getsockname()[1])
            done = listing("--host", f"{server.alias},second", "--host", "hung", "--ssh-config", str(server.config),
                           "--timeout", "3")  # fmt: skip
    finally:
        silent.close()
    assert done.returncode == 1, "a host failed: the listing says so in its status"
    assert "nettop: hung: no answer in 3 s" in done.stderr and "Traceback" not in done.stderr
    rows = json.loads(done.stdout)
    ours = sorted(r["host"] for r in rows if r["local_port"] == probe and r["state"] == "LISTEN")
    assert ours == [server.alias, "second"], "the same machine by two names: each host's rows, each named"
    assert {r["host"] for r in rows} == {server.alias, "second"}


@needs_sshd
def test_watch_a_host_over_ssh(tmp_path: Path) -> None:
    with sshd.ssh_server(tmp_path / "ssh") as server:
        watch = subprocess.Popen(
            [*NETTOP, "watch", "--format", "ndjson", "--interval", "0.5", "--listening", "--host", server.alias,
             "--ssh-config", str(server.config)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert watch.stderr is not None and watch.stdout is not None
            said = watch.stderr.readline()
            assert "watching from" in said, said
            with socket.socket() as listener:
                listener.bind(("127.0.0.1", 0))
                listener.listen(1)
                port = listener.getsockname()[1]
                while True:  # the open event of this listener (others may come and go meanwhile)
                    event = json.loads(watch.stdout.readline())
                    if event["event"] == "open" and event["connection"]["local_port"] == port:
                        break
            assert event["connection"]["host"] == server.alias and event["listener"] is True
            if os.geteuid() == 0:  # root there sees every owner: this test's process
                assert event["connection"]["pid"] == os.getpid()
        finally:
            watch.terminate()
            watch.wait(timeout=20)
    assert watch.returncode == 128 + 15, "SIGTERM ends a watch as any signal does: 128 + its number"


@needs_sshd
def test_check_over_two_hosts_reports_one_suite_a_host(probe: int, tmp_path: Path) -> None:
    policy = tmp_path / "ports.toml"
    policy.write_text(f'[[listen]]\nport = {probe}\nproto = "tcp"\n\n[[forbid]]\nport = 1\n')
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        with sshd.ssh_server(tmp_path / "ssh") as server:
            two_aliases(server, silent.getsockname()[1])
            base = [*NETTOP, "check", str(policy), "--format", "junit", "--ssh-config", str(server.config)]
            both = subprocess.run([*base, "--host", f"{server.alias},second"], capture_output=True, text=True,
                                  timeout=120)  # fmt: skip
            one_hung = subprocess.run([*base, "--host", f"{server.alias},hung", "--timeout", "3"],
                                      capture_output=True, text=True, timeout=120)  # fmt: skip
    finally:
        silent.close()
    assert both.returncode == 0, both.stdout + both.stderr
    assert both.stdout.count("<testsuite ") == 2 and f"on {server.alias}" in both.stdout and "on second" in both.stdout
    assert one_hung.returncode == 2, "a host that cannot be checked fails the check"
    assert '<error message="no answer in 3 s" type="collection"' in one_hung.stdout


@needs_sshd
def test_the_exporter_over_two_hosts_labels_each_and_ends_clean(probe: int, tmp_path: Path) -> None:
    """Scraped through the real sshd under two names: each name's own series and policy result, and SIGTERM
    ends it with the sessions closed in their loop (no asyncio complaint, no ssh left)."""
    from tests.test_metrics import get, samples, wait_for

    policy = tmp_path / "ports.toml"
    policy.write_text(f'[[listen]]\nport = {probe}\nproto = "tcp"\n')
    port = free_port()
    with sshd.ssh_server(tmp_path / "ssh") as server:
        two_aliases(server, free_port())
        argv = [*NETTOP, "exporter", "--listen", f"127.0.0.1:{port}", "--host", f"{server.alias},second",
                "--ssh-config", str(server.config), "--policy", str(policy)]  # fmt: skip
        exporter = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            text = wait_for("the exporter's metrics", lambda: get(f"http://127.0.0.1:{port}/metrics"))
            sshes = [p for p in psutil.Process(exporter.pid).children(recursive=True) if p.name() == "ssh"]
        finally:
            exporter.terminate()
            _, stderr = exporter.communicate(timeout=30)
    hosts = {server.alias, "second"}
    assert {labels["host"] for labels, _ in samples(text, "nettop_listeners") if labels["port"] == str(probe)} == hosts
    assert {labels["host"]: value for labels, value in samples(text, "nettop_host_up")} == dict.fromkeys(hosts, 1.0)
    assert {labels["host"]: v for labels, v in samples(text, "nettop_policy_passed")} == dict.fromkeys(hosts, 1.0)
    assert exporter.returncode in (0, 143), stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    assert sshes and not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in sshes)


@needs_sshd
def test_the_viewer_over_two_hosts_quits_clean(probe: int, tmp_path: Path) -> None:
    """In a real terminal: the Host column, then q. The sessions close in the viewer's loop: nothing complains
    about a closed event loop after it, and no ssh is left."""
    import fcntl
    import pty
    import struct
    import termios

    from tests.test_viewer_faults import Terminal

    with sshd.ssh_server(tmp_path / "ssh") as server:
        two_aliases(server, free_port())
        leader, follower = pty.openpty()
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))
        argv = [*NETTOP, "--no-config", "--interval", "1", "--host", f"{server.alias},second",
                "--ssh-config", str(server.config), "--filter", f"lport:{probe}"]  # fmt: skip
        process = subprocess.Popen(argv, env={**os.environ, "TERM": "xterm-256color"}, stdin=follower,
                                   stdout=follower, stderr=follower, start_new_session=True)  # fmt: skip
        os.close(follower)
        terminal = Terminal(process, leader)
        try:
            terminal.read_until(b"Host")
            terminal.read_until(b"second")
            sshes = [p for p in psutil.Process(process.pid).children(recursive=True) if p.name() == "ssh"]
            terminal.press(b"q")
            status = terminal.wait()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            os.close(leader)
    assert status == 0
    assert b"Traceback" not in terminal.screen and b"Exception ignored" not in terminal.screen
    assert sshes and not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in sshes)


def test_policy_init_takes_one_host() -> None:
    done = subprocess.run([*NETTOP, "policy", "init", "--host", "a,b"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "give one --host" in done.stderr


def test_the_collector_is_plain_ascii_and_old_python_syntax() -> None:
    """It is read by the host's python3 from stdin, whatever that host's locale (C: ASCII) and version (3.6+):
    no character outside ASCII, and nothing newer than 3.6's grammar (checked with the parser's feature_version)."""
    import ast

    code = _collector()
    assert code.isascii()
    ast.parse(code, feature_version=(3, 6))


TCP_HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"
LISTENER = "0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 4242"


def test_a_line_that_does_not_parse_is_an_issue_and_a_broken_answer_is_refused() -> None:
    from nettop.remote.state import ProtocolError

    tables = RemoteTables()
    tables.apply({"v": 1, "t": 1.0, "euid": 0, "tables": {"tcp": {"header": TCP_HEADER,
                  "add": [[0, "nonsense \x1b[2J"], [1, LISTENER]]}}})  # fmt: skip
    records, issues = tables.records("ssh:x", "x")
    assert [(r.local_ip, r.local_port, r.state, r.inode, r.host) for r in records] == [
        ("127.0.0.1", 8080, State.LISTEN, 4242, "x")
    ]
    assert [(issue.line_no, issue.text) for issue in issues] == [(0, "nonsense \x1b[2J")]
    tables.apply({"v": 1, "t": 2.0, "euid": 0, "tables": {"tcp": {"del": [0]}}})
    assert tables.records("ssh:x", "x")[1] == (), "the line went: so did its issue"
    base = {"v": 1, "t": 1, "euid": 0}
    broken = [{"v": 2}, {**base, "t": "soon"}, {**base, "tables": {"tcp": {"add": [[3, 7]]}}},
              {**base, "processes": {"add": {"12": "sshd"}}}, ["not", "an", "object"]]  # fmt: skip
    for answer in broken:
        with pytest.raises(ProtocolError):
            RemoteTables().apply(answer)
