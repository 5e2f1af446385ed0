"""Events over time with real loopback sockets, and diffs of saved snapshots."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

import nettop
from nettop.events import CHANGE, CLOSE, OPEN, Event
from nettop.model import Proto, State
from nettop.writers.json import record_to_dict
from tests.scripted import conn
from tests.sockets import exchange


class Recorder:
    """Runs ``nettop.watch`` for one port (the filter language's ``port:``, local or remote) in the background and
    keeps its events."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.events: list[Event] = []
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Recorder:
        baseline = asyncio.Event()

        async def run() -> None:
            async for event in nettop.watch(interval=0.2, port=self.port, on_baseline=lambda _: baseline.set()):
                self.events.append(event)

        self.task = asyncio.create_task(run())
        # The first snapshot is the baseline: what opens before it is taken is never news.
        await asyncio.wait_for(baseline.wait(), 30)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        self.task.cancel()

    async def until(self, condition, what: str) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + 15
        while not condition(self.events):
            assert time.monotonic() < deadline, f"no {what} within 15 s: {self.events}"
            await asyncio.sleep(0.05)


def test_watch_refuses_a_wrong_selection_before_it_runs() -> None:
    with pytest.raises(ValueError, match="abc"):
        nettop.watch(port="abc")
    with pytest.raises(ValueError, match="bogus"):
        nettop.watch(query="bogus:1")


async def test_watch_takes_a_query_and_a_predicate_together() -> None:
    first, second = port_of_free_listener(), port_of_free_listener()
    seen: list[Event] = []
    baseline = asyncio.Event()

    async def run() -> None:
        odd = nettop.watch(interval=0.2, query=f"port:{first},{second}", keep=lambda r: r.local_port == second,
                           on_baseline=lambda _: baseline.set())  # fmt: skip
        async for event in odd:
            seen.append(event)

    task = asyncio.create_task(run())
    try:
        await asyncio.wait_for(baseline.wait(), 30)
        with socket.socket() as one, socket.socket() as two:
            # The first listens before the second: any snapshot with the second has it too, so its event (were
            # it let through) would come no later than the second's.
            for sock, port in ((one, first), (two, second)):
                sock.bind(("127.0.0.1", port))
                sock.listen(1)
            deadline = time.monotonic() + 15
            while not seen:
                assert time.monotonic() < deadline, "no event for the second listener within 15 s"
                await asyncio.sleep(0.05)
    finally:
        task.cancel()
    assert {(e.kind, e.connection.local_port) for e in seen if e.connection} == {(OPEN, second)}


def port_of_free_listener() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_each_open_close_and_change_is_reported_once_with_its_record() -> None:
    port = port_of_free_listener()
    async with Recorder(port) as recorder:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(1)
        await recorder.until(lambda events: any(e.kind == OPEN for e in events), "open of the listener")
        client = socket.create_connection(("127.0.0.1", port))
        server, _ = listener.accept()
        client_port = client.getsockname()[1]
        await recorder.until(lambda events: sum(e.kind == OPEN for e in events) >= 3, "opens of the pair")
        # Closed back to back, the client (closing first) goes from ESTABLISHED to TIME_WAIT: a change, not a
        # close and an open; the server's side goes away. On a loaded machine a tick may fall between the two
        # closes, and the client is seen in FIN_WAIT2 on the way: two changes then, each reported once.
        client.close()
        server.close()
        await recorder.until(
            lambda events: any(
                e.kind == CHANGE and e.connection.local_port == client_port and e.connection.state is State.TIME_WAIT
                for e in events
            ),
            "change of the client to TIME_WAIT",
        )
        listener.close()
        await recorder.until(lambda events: sum(e.kind == CLOSE for e in events) >= 2, "closes")
        await asyncio.sleep(0.6)  # a few more ticks: nothing else may be reported for these sockets
    events = recorder.events
    opened = [e.connection for e in events if e.kind == OPEN]
    listening = [r for r in opened if r.state is State.LISTEN]
    assert len(listening) == 1 and listening[0].local_port == port and listening[0].pid == os.getpid()
    assert [e.listener for e in events if e.kind == OPEN and e.connection.state is State.LISTEN] == [True]
    assert sorted((r.local_port, r.remote_port) for r in opened if r.state is State.ESTABLISHED) == sorted(
        [(client_port, port), (port, client_port)]
    )
    changes = [e for e in events if e.kind == CHANGE and e.connection.local_port == client_port]
    steps = [change.changes["state"] for change in changes if "state" in change.changes]
    assert steps in ([("ESTABLISHED", "TIME_WAIT")], [("ESTABLISHED", "FIN_WAIT2"), ("FIN_WAIT2", "TIME_WAIT")])
    # A listing and the /proc scan are not one atomic read: a tick whose scan came just after the close sees the
    # client still ESTABLISHED but with no owner any more. That is an owners change, and only that.
    owners_only = [change for change in changes if "state" not in change.changes]
    assert all(set(c.changes) == {"owners"} and not c.connection.owners for c in owners_only) and len(owners_only) <= 1
    assert all(change.connection.remote_port == port for change in changes)
    closed = Counter((e.connection.local_port, e.connection.remote_port) for e in events if e.kind == CLOSE)
    assert closed[(port, None)] == 1 and closed[(port, client_port)] == 1
    # Each open and close once; each change once per state it reached.
    per_socket = Counter(
        (e.kind, e.connection.local_port, e.connection.remote_port, e.connection.state if e.kind == CHANGE else None)
        for e in events
    )
    assert max(per_socket.values()) == 1, f"each event once: {per_socket}"


def test_watch_cli_streams_ndjson_and_ends_cleanly_on_ctrl_c() -> None:
    port = port_of_free_listener()
    watch = subprocess.Popen(
        [sys.executable, "-m", "nettop", "watch", "--format", "ndjson", "--interval", "0.2", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert watch.stderr is not None
        assert "changes follow" in watch.stderr.readline(), "the baseline is taken before the listener opens"
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", port))
            listener.listen(1)
            assert watch.stdout is not None
            line = watch.stdout.readline()  # flushed as it happens, so this returns while nettop runs
        event = json.loads(line)
        assert (event["event"], event["listener"]) == ("open", True)
        assert event["time"].endswith("Z") and event["connection"]["local_port"] == port
        assert event["connection"]["pid"] == os.getpid() and event["connection"]["state"] == "LISTEN"
        watch.send_signal(signal.SIGINT)
        assert watch.wait(timeout=15) == 0
        assert "Traceback" not in watch.stderr.read()
    finally:
        if watch.poll() is None:
            watch.kill()
            watch.wait()


def save(path: Path, records: list) -> Path:  # type: ignore[type-arg]
    path.write_text(json.dumps([record_to_dict(r) for r in records]))
    return path


BEFORE = [conn(22, name="sshd", pid=1), conn(443, 50000, name="nginx", pid=2), conn(25, name="exim", pid=3)]
AFTER = [
    conn(22, name="sshd", pid=1),
    conn(443, 50000, name="nginx", pid=2, state=State.TIME_WAIT),
    conn(8080, name="dev", pid=4),
    conn(53, proto=Proto.UDP, name="dns", pid=5),
]


def nettop_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nettop", *args], capture_output=True, text=True, timeout=60)


def test_diff_of_saved_snapshots(tmp_path: Path) -> None:
    before, after = save(tmp_path / "a.json", BEFORE), save(tmp_path / "b.json", AFTER)
    done = nettop_cli("diff", str(before), str(after))
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        "closed LISTENER tcp4 127.0.0.1:25 -> * LISTEN 3/exim",
        "changed tcp4 127.0.0.1:443 -> 127.0.0.1:50000 TIME_WAIT 2/nginx state: ESTABLISHED -> TIME_WAIT",
        "opened LISTENER tcp4 127.0.0.1:8080 -> * LISTEN 4/dev",
        "opened LISTENER udp4 127.0.0.1:53 -> * UNCONNECTED 5/dns",
    ]
    report = json.loads(nettop_cli("diff", "--format", "json", str(before), str(after)).stdout)
    assert report["equal"] is False
    assert [c["local_port"] for c in report["opened"]] == [8080, 53]
    assert [c["local_port"] for c in report["closed"]] == [25]
    (changed,) = report["changed"]
    assert changed["changes"] == {"state": {"before": "ESTABLISHED", "after": "TIME_WAIT"}}
    assert changed["connection"]["program"] == "nginx"
    same = nettop_cli("diff", str(before), str(before))
    assert (same.returncode, same.stdout) == (0, "no differences\n")


def test_diff_of_real_listings(tmp_path: Path) -> None:
    first = nettop_cli("list", "--format", "json").stdout
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        second = nettop_cli("list", "--format", "json").stdout
        port = listener.getsockname()[1]
    (tmp_path / "a.json").write_text(first)
    (tmp_path / "b.json").write_text(second)
    done = nettop_cli("diff", "--format", "json", str(tmp_path / "a.json"), str(tmp_path / "b.json"))
    report = json.loads(done.stdout)
    assert [(c["local_port"], c["pid"]) for c in report["opened"] if c["state"] == "LISTEN"] == [(port, os.getpid())]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not JSON"),
        ('{"a": 1}', "expected a JSON list of connections"),
        ('[{"proto": "tcp"}]', "connection 0: missing field 'family'"),
        ('[{"proto": "icmp", "family": 4, "local_ip": "x", "state": "LISTEN"}]', "connection 0: bad value"),
    ],
)
def test_diff_of_bad_files_exits_2_with_the_reason(tmp_path: Path, content: str, message: str) -> None:
    good = save(tmp_path / "good.json", BEFORE)
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    done = nettop_cli("diff", str(good), str(bad))
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
    missing = nettop_cli("diff", str(good), str(tmp_path / "nope.json"))
    assert missing.returncode == 2 and "No such file or directory" in missing.stderr


def test_api_diff() -> None:
    change = nettop.diff(BEFORE, AFTER)
    assert [r.local_port for r in change.opened_listeners] == [8080, 53]
    assert [r.local_port for r in change.closed_listeners] == [25]


async def test_a_failed_collection_is_an_event_and_the_stream_goes_on() -> None:
    from nettop.errors import CommandFailed
    from nettop.events import ERROR, watch
    from nettop.writers.events import event_to_dict
    from tests.scripted import FakeClock, ScriptedSource

    failure = CommandFailed(["ss", "-tunae"], 1, "Cannot open netlink socket")
    source = ScriptedSource([BEFORE, failure, AFTER], FakeClock())
    stream = watch(source, interval=0.0)
    error = await anext(stream)
    assert (error.kind, error.connection) == (ERROR, None)
    assert event_to_dict(error)["error"].endswith("exited with status 1: Cannot open netlink socket")
    following = [await anext(stream) for _ in range(4)]
    await stream.aclose()
    assert [e.kind for e in following] == [CLOSE, CHANGE, OPEN, OPEN], "the diff after the failure, against BEFORE"


# --- Regressions from the input review: a diff input that is not a snapshot is exit 2 with its reason ------------


def saved_row(**changes: object) -> str:
    row = record_to_dict(BEFORE[0])
    row.update(changes)
    return json.dumps([record_to_dict(BEFORE[1]), row])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[" * 100_000, "not JSON nettop can read: lists or objects nested too deeply"),
        ('[{"a": ' * 50_000, "not JSON nettop can read: lists or objects nested too deeply"),
        (saved_row(local_port=70000), "connection 1: bad value for local_port: expected an integer from 0 to 65535 "
                                      "or null, found 70000"),
        (saved_row(local_port="abc"), 'connection 1: bad value for local_port: expected an integer from 0 to 65535 '
                                      'or null, found the string "abc"'),
        (saved_row(recv_q=[1, 2]), "connection 1: bad value for recv_q"),
        (saved_row(owners=[{"pid": 2**32}]), "connection 1: bad value for owners[0].pid: expected an integer from 0 "
                                             "to 2147483647, or null, found 4294967296"),
        ('"start_time": 1e400'.join(saved_row().rsplit('"start_time": 1700000000.0', 1)),
         "connection 1: bad value for owners[0].start_time: expected a finite number"),
        ("[" + "1" * 5000 + "]", "not JSON: Exceeds the limit (4300 digits) for integer string conversion"),
    ],
    ids=["deep-lists", "deep-objects", "port-70000", "port-abc", "queue-list", "pid-2**32", "start-1e400", "digits"],
)  # fmt: skip
def test_diff_of_impossible_values_exits_2_naming_connection_and_field(
    tmp_path: Path, content: str, message: str
) -> None:
    good = save(tmp_path / "good.json", BEFORE)
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    done = nettop_cli("diff", str(good), str(bad))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"nettop diff: {bad}: {message}"), done.stderr


def port_of(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


def test_a_connection_between_two_collections_ends_with_its_counts() -> None:
    """watch collects once a minute here: the connection opens and closes between two collections, and only the
    kernel's destroy message tells of it, as it goes, with the bytes each way."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = port_of(listener)
        watch = subprocess.Popen(
            [sys.executable, "-m", "nettop", "watch", "--format", "ndjson", "--interval", "60", "--port", str(port)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert watch.stderr is not None and watch.stdout is not None
            assert "changes follow" in watch.stderr.readline()
            with socket.create_connection(("127.0.0.1", port)) as client, listener.accept()[0] as server:
                exchange(client, server, 1_500)
                exchange(server, client, 64_000)
                client_port = port_of(client)
                client.shutdown(socket.SHUT_WR)
                server.recv(1)  # the client's FIN: each side closes after the other's, as an orderly close does
            ends = [json.loads(watch.stdout.readline()) for _ in range(2)]
        finally:
            watch.send_signal(signal.SIGINT)
            watch.wait(timeout=15)
    by_end = {e["connection"]["local_port"]: e for e in ends}
    assert {e["event"] for e in ends} == {"end"} and set(by_end) == {port, client_port}
    client_end = by_end[client_port]
    traffic = client_end["connection"]["traffic"]
    assert (traffic["bytes_out"], traffic["bytes_in"]) == (1_500, 64_000)
    assert client_end["summary"].endswith("1.5 kB out") and "64.0 kB in" in client_end["summary"]
    assert by_end[port]["connection"]["traffic"]["bytes_in"] == 1_500


def test_no_ends_leaves_them_out() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = port_of(listener)
        watch = subprocess.Popen(
            [sys.executable, "-m", "nettop", "watch", "--format", "ndjson", "--interval", "0.2", "--no-ends",
             "--port", str(port)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert watch.stderr is not None and watch.stdout is not None
            assert "changes follow" in watch.stderr.readline()
            with socket.create_connection(("127.0.0.1", port)), listener.accept()[0]:
                pass
            # Polled: the connection is seen open (or already closing) by a collection, never as an end.
            first = json.loads(watch.stdout.readline())
        finally:
            watch.send_signal(signal.SIGINT)
            watch.wait(timeout=15)
    assert first["event"] in ("open", "change") and first["event"] != "end"
