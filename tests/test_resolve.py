"""Reverse DNS (``nettop.resolve``): the cache and its TTLs, the timeout and late answers, a bounded pool, and the
names in the viewer and ``nettop list --resolve``. Real lookups only for loopback addresses that this machine's
/etc/hosts names (no query leaves the machine); everything else uses a scripted lookup and a settable clock."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nettop.app import NettopApp
from nettop.formats.nettop_json import records_from_json
from nettop.resolve import Resolver, lookable, resolve_once
from nettop.screens.details import DetailsScreen
from nettop.widgets.conn_table import ConnectionTable
from nettop.writers.csv import to_csv
from nettop.writers.json import write_records
from nettop.writers.table import to_table
from tests.scripted import FakeClock, ScriptedSource, conn
from tests.sockets import open_loopback_sockets

#: Bounded waits for the resolver's threads: a test that fails does so in seconds, not forever.
WAIT = 5.0


def hosts_names(ip: str) -> set[str]:
    """Every name /etc/hosts gives ``ip`` (what a lookup of it may answer, from the files, with no DNS query)."""
    names: set[str] = set()
    try:
        lines = Path("/etc/hosts").read_text().splitlines()
    except OSError:
        return names
    for line in lines:
        words = line.split("#", 1)[0].split()
        if len(words) > 1 and words[0] == ip:
            names.update(words[1:])
    return names


class ScriptedLookup:
    """A lookup that answers from ``answers`` (an exception is raised) once its address is released: tests
    decide when each lookup returns, and see which ran."""

    def __init__(self, answers: dict[str, str | Exception], hold: bool = True) -> None:
        self.answers = answers
        self.asked: list[str] = []
        self.started = threading.Semaphore(0)
        self.release: dict[str, threading.Event] = {ip: threading.Event() for ip in answers}
        if not hold:
            for event in self.release.values():
                event.set()
        self._lock = threading.Lock()

    def __call__(self, ip: str) -> tuple[str, list[str], list[str]]:
        with self._lock:
            self.asked.append(ip)
        self.started.release()
        assert self.release[ip].wait(WAIT), f"the lookup of {ip} was never released"
        answer = self.answers[ip]
        if isinstance(answer, Exception):
            raise answer
        return answer, [], [ip]

    def wait_started(self, count: int = 1) -> None:
        for _ in range(count):
            assert self.started.acquire(timeout=WAIT), "a lookup did not start"


class Arrivals:
    """``on_resolved`` for tests: counts the calls, and lets a test wait for the next one."""

    def __init__(self) -> None:
        self.calls = 0
        self.event = threading.Event()

    def __call__(self) -> None:
        self.calls += 1
        self.event.set()

    def wait(self) -> None:
        assert self.event.wait(WAIT), "on_resolved was not called"
        self.event.clear()


def wait_until(condition: Callable[[], Any]) -> None:
    """For what has no event of its own (a thread's bookkeeping after its callback): checked in short waits,
    bounded."""
    done = threading.Event()
    for _ in range(int(WAIT / 0.01)):
        if condition():
            return
        done.wait(0.01)
    raise AssertionError("condition not met in time")


def make(
    answers: dict[str, str | Exception], hold: bool = True, **kwargs: Any
) -> tuple[Resolver, ScriptedLookup, FakeClock, Arrivals]:
    lookup, clock, arrivals = ScriptedLookup(answers, hold), FakeClock(1000.0), Arrivals()
    resolver = Resolver(lookup=lookup, clock=clock, on_resolved=arrivals, **kwargs)
    return resolver, lookup, clock, arrivals


# --- the resolver alone --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ip", [None, "", "0.0.0.0", "::", "*", "api", "194.123.235.35.b"])
def test_wildcards_and_non_addresses_are_never_looked_up(ip: str | None) -> None:
    resolver, lookup, _, _ = make({})
    assert not lookable(ip)
    assert resolver.name(ip) is None
    assert resolver.resolve_all([ip], deadline=0.0) == {}
    assert lookup.asked == []
    resolver.close()


def test_a_name_arrives_without_blocking_and_is_cached() -> None:
    resolver, lookup, clock, arrivals = make({"10.0.0.9": "db.example"}, ttl=600)
    try:
        assert resolver.name("10.0.0.9") is None  # the number, while the lookup runs
        lookup.wait_started()
        assert resolver.name("10.0.0.9") is None
        assert lookup.asked == ["10.0.0.9"], "one lookup in flight per address"
        lookup.release["10.0.0.9"].set()
        arrivals.wait()
        assert resolver.take_arrived() == {"10.0.0.9"}
        assert resolver.take_arrived() == set()
        assert resolver.name("10.0.0.9") == "db.example"
        clock.now += 599
        assert resolver.name("10.0.0.9") == "db.example"
        assert lookup.asked == ["10.0.0.9"], "answered from the cache"
        clock.now += 2  # past the TTL: the old name is shown while it is looked up again
        assert resolver.name("10.0.0.9") == "db.example"
        lookup.wait_started()
        assert lookup.asked == ["10.0.0.9", "10.0.0.9"]
    finally:
        resolver.close()


def test_a_failure_is_remembered_for_the_negative_ttl_only() -> None:
    resolver, lookup, clock, _ = make({"10.0.0.7": socket.herror(1, "Unknown host")}, hold=False, negative_ttl=30)
    try:
        assert resolver.name("10.0.0.7") is None
        wait_until(lambda: not resolver._pending)
        clock.now += 29
        assert resolver.name("10.0.0.7") is None
        assert lookup.asked == ["10.0.0.7"], "not asked again within the negative TTL"
        clock.now += 2
        assert resolver.name("10.0.0.7") is None
        lookup.wait_started(2)
        assert lookup.asked == ["10.0.0.7", "10.0.0.7"]
    finally:
        resolver.close()


def test_a_lookup_past_the_timeout_fails_and_its_late_answer_is_kept() -> None:
    resolver, lookup, clock, arrivals = make({"10.0.0.8": "late.example"}, timeout=2, negative_ttl=30)
    try:
        resolver.name("10.0.0.8")
        lookup.wait_started()
        clock.now += 2.5
        assert resolver.name("10.0.0.8") is None
        assert resolver._cache["10.0.0.8"][0] is None, "timed out: in the negative cache"
        clock.now += 60  # the negative entry expired, but the lookup is still under way: not asked twice
        assert resolver.name("10.0.0.8") is None
        assert lookup.asked == ["10.0.0.8"]
        lookup.release["10.0.0.8"].set()
        arrivals.wait()
        assert resolver.name("10.0.0.8") == "late.example"
    finally:
        resolver.close()


def test_one_call_a_batch_and_a_timed_out_stale_name_does_not_silence_the_next() -> None:
    resolver, lookup, clock, arrivals = make({"10.0.6.1": "a.example", "10.0.6.2": "b.example"}, ttl=10, timeout=2)
    try:
        resolver.name("10.0.6.1")
        lookup.release["10.0.6.1"].set()
        arrivals.wait()
        assert resolver.take_arrived() == {"10.0.6.1"}
        lookup.release["10.0.6.1"].clear()
        clock.now += 11  # the name is stale: asked again, and that lookup hangs past the timeout
        assert resolver.name("10.0.6.1") == "a.example"
        lookup.wait_started(2)
        clock.now += 3
        assert resolver.name("10.0.6.1") is None, "timed out: the number again"
        resolver.name("10.0.6.2")
        lookup.release["10.0.6.2"].set()
        arrivals.wait()  # told, though the timeout changed what is shown without telling
        assert resolver.take_arrived() == {"10.0.6.1", "10.0.6.2"}
        assert arrivals.calls == 2
        lookup.release["10.0.6.1"].set()
    finally:
        resolver.close()


def test_hung_lookups_do_not_grow_the_pool_without_bound() -> None:
    ips = [f"10.0.1.{n}" for n in range(1, 21)]
    resolver, lookup, clock, _ = make(dict.fromkeys(ips, "x.example"), workers=2, timeout=2)
    try:
        for ip in ips:
            resolver.name(ip)
        lookup.wait_started(2)
        assert resolver._threads == 2, "the pool starts at its size"
        clock.now += 3  # both hang: two replacements take their place
        resolver.name(ips[0])
        lookup.wait_started(2)
        clock.now += 3  # those hang too: the pool is at its bound
        resolver.name(ips[0])
        assert resolver._threads == 4
        assert sorted(lookup.asked) == sorted(ips[:4])
        for ip in ips[:4]:
            lookup.release[ip].set()
        lookup.wait_started(2)  # the queue drains again, on at most four threads
        assert resolver._threads <= 4
        for ip in ips:
            lookup.release[ip].set()
        wait_until(lambda: not resolver._pending)
        wait_until(lambda: resolver._threads == 2)
        assert all(resolver.name(ip) == "x.example" for ip in ips)
        assert sorted(lookup.asked) == sorted(ips), "each address asked once"
    finally:
        resolver.close()


def test_the_cache_is_bounded() -> None:
    ips = [f"10.0.2.{n}" for n in range(1, 11)]
    resolver, _, _, _ = make(dict.fromkeys(ips, "n.example"), hold=False, max_entries=4)
    try:
        assert len(resolver.resolve_all(ips[:4], deadline=float("inf"))) == 4
        assert len(resolver.resolve_all(ips[4:8], deadline=float("inf"))) == 4
        assert len(resolver._cache) == 4
        assert set(resolver._cache) == set(ips[4:8])
    finally:
        resolver.close()


def test_resolve_all_stops_at_its_deadline() -> None:
    lookup = ScriptedLookup({"10.0.3.1": "quick.example", "10.0.3.2": "slow.example"})
    lookup.release["10.0.3.1"].set()
    resolver = Resolver(lookup=lookup, timeout=0.1)
    try:
        import time

        names = resolver.resolve_all(["10.0.3.1", "10.0.3.2", None], time.monotonic() + 0.3)
        assert names == {"10.0.3.1": "quick.example"}, "the hung one stays a number"
    finally:
        lookup.release["10.0.3.2"].set()
        resolver.close()


def test_close_does_not_wait_for_a_hung_lookup() -> None:
    resolver, lookup, _, _ = make({"10.0.4.1": "never.example"})
    resolver.name("10.0.4.1")
    lookup.wait_started()
    resolver.close()  # returns although the lookup holds its thread
    assert resolver.name("10.0.4.2") is None
    assert lookup.asked == ["10.0.4.1"], "nothing is looked up after close"
    lookup.release["10.0.4.1"].set()


def test_the_threads_are_daemons() -> None:
    """A hung lookup must not hold the interpreter open at exit (``nettop list --resolve`` ends on time)."""
    code = (
        "import threading, time\n"
        "from nettop.resolve import resolve_once\n"
        "hang = threading.Event()\n"
        "import nettop.resolve as r\n"
        "lookup = lambda ip: (hang.wait(), ('x', [], []))[1]\n"
        "resolver = r.Resolver(lookup=lookup)\n"
        "resolver.name('10.0.5.1')\n"
        "time.sleep(0.05)\n"
        "print('done')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20)
    assert done.stdout.strip() == "done"


# --- real lookups, loopback only -------------------------------------------------------------------------------------


@pytest.mark.parametrize("ip", ["127.0.0.1", "::1"])
def test_loopback_names_are_those_of_etc_hosts(ip: str) -> None:
    expected = hosts_names(ip)
    if not expected:  # the lookup would go to DNS: no query leaves this machine in tests
        pytest.skip(f"/etc/hosts does not name {ip}")
    assert resolve_once([ip], 5.0).get(ip) in expected


# --- hostile names, in every place a name is shown ------------------------------------------------------------------

#: What a PTR record may hold: an OSC that retitles the terminal, a clear-screen CSI, a C1 CSI, and Rich markup.
HOSTILE = "\x1b]0;pwned\x07[bold]evil[/bold]\x1b[2J\x9b31m.example"
HOSTILE_SHOWN = "\\x1b]0;pwned\\x07[bold]evil[/bold]\\x1b[2J\\x9b31m.example"
PEER = conn(443, 50000, local_ip="10.0.0.1", remote_ip="10.0.0.9", name="nginx", pid=20)
OTHER_PEER = conn(8443, 50001, local_ip="10.0.0.1", remote_ip="10.0.0.10", name="nginx", pid=20)
ROWS = [conn(22, name="sshd", pid=10), PEER, OTHER_PEER]


def raw_controls(text: str) -> list[str]:
    return [c for c in text if ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F]


def test_writers_show_a_hostile_name_escaped_and_json_keeps_it_exact() -> None:
    names = {"10.0.0.9": HOSTILE}
    table = to_table([PEER], names)
    assert f"{HOSTILE_SHOWN}:50000" in table and raw_controls(table) == ["\n", "\n"]
    csv = to_csv([PEER], names)
    header, row = csv.splitlines()[:2]
    assert header.endswith(",remote_name,host") and row.endswith(f"{HOSTILE_SHOWN},"), "host: empty for this machine"
    data = write_records([PEER, OTHER_PEER], names)
    assert not raw_controls(data.decode().rstrip("\n")), "printed JSON cannot drive a terminal either"
    rows = json.loads(data)
    assert [row["remote_name"] for row in rows] == [HOSTILE, None], "JSON: exact, or null when not resolved"
    read_back = [r._replace(raw="") for r in (PEER, OTHER_PEER)]  # the raw line is never written
    assert records_from_json(data) == read_back, "the reader takes the field and drops it"
    rows[0]["remote_name"] = 5
    with pytest.raises(ValueError, match="bad value for remote_name: expected a string or null"):
        records_from_json(json.dumps(rows))


def viewer(
    answers: dict[str, str | Exception], names: bool, hold: bool = False
) -> tuple[NettopApp, ScriptedSource, ScriptedLookup]:
    clock = FakeClock()
    source = ScriptedSource([ROWS], clock)
    lookup = ScriptedLookup(answers, hold)
    resolver = Resolver(lookup=lookup)
    return NettopApp(source, interval=60, clock=clock, names=names, resolver=resolver), source, lookup


async def until(pilot: Any, condition: Callable[[], Any]) -> None:
    """Let the app run until ``condition`` holds (names come from other threads), for at most a few seconds."""
    for _ in range(int(WAIT / 0.01)):
        if condition():
            return
        await pilot.pause(0.01)
    raise AssertionError("condition not met in time")


def row_text(table: ConnectionTable, remote_port: int) -> str:
    for index in range(table.row_count):
        if table.entry(index)[1].record.remote_port == remote_port:
            return table.render_line(index + 1 - int(table.scroll_offset.y)).text
    raise AssertionError(f"no row with remote port {remote_port}")


async def test_a_hostile_name_is_escaped_in_the_table_and_the_details() -> None:
    app, source, _ = viewer({"10.0.0.9": HOSTILE, "10.0.0.10": socket.herror(1, "none")}, names=True)
    async with app.run_test(size=(200, 20)) as pilot:
        await until(pilot, lambda: source.collected >= 1 and app.query_one(ConnectionTable).row_count == 3)
        table = app.query_one(ConnectionTable)
        await until(pilot, lambda: "pwned" in row_text(table, 50000))
        line = row_text(table, 50000)
        # Cut in its middle to the column's width: both ends shown, escaped.
        assert HOSTILE_SHOWN[:15] in line and HOSTILE_SHOWN[-15:] in line, line
        for y in range(table.row_count + 1):  # what is written to the terminal: the lines' segments
            assert all(not raw_controls(segment.text) for segment in table.render_line(y)), y
        assert "10.0.0.10" in row_text(table, 50001), "no name: the number stays"
        table.move_cursor_to(next(k for k in table.model.rows if table.model.rows[k].record == PEER))
        await pilot.press("enter")
        assert isinstance(app.screen, DetailsScreen)
        text = app.screen.query_one("#details-text").render()
        plain = str(text)
        assert f"Peer: {HOSTILE_SHOWN} (10.0.0.9:50000)" in plain, "the name and the number"
        assert not raw_controls(plain.replace("\n", ""))
        assert "[bold]evil" in plain, "markup in a name stays text"


async def test_n_toggles_names_and_only_rows_whose_name_arrived_are_repainted() -> None:
    app, source, lookup = viewer({"10.0.0.9": "db.example", "10.0.0.10": "cache.example"}, names=False, hold=True)
    async with app.run_test(size=(120, 20)) as pilot:
        await until(pilot, lambda: source.collected >= 1 and app.query_one(ConnectionTable).row_count == 3)
        table = app.query_one(ConnectionTable)
        assert "10.0.0.9" in row_text(table, 50000)
        assert lookup.asked == [], "names off: nothing is looked up"
        await pilot.press("n")
        assert app.show_names
        await pilot.pause()
        lookup.wait_started(2)  # the visible rows' peers are asked for as they are drawn
        assert "10.0.0.9" in row_text(table, 50000), "the number until the name arrives"
        repainted: list[int] = []
        real_refresh_line = table.refresh_line
        table.refresh_line = lambda y: (repainted.append(y), real_refresh_line(y))[1]  # type: ignore[method-assign]
        lookup.release["10.0.0.9"].set()
        await until(pilot, lambda: repainted)
        at = next(i for i in range(table.row_count) if table.entry(i)[1].record.remote_port == 50000)
        assert repainted == [at + 1], "only the row whose peer was named"
        assert "db.example:" not in row_text(table, 50000)  # the Remote column holds the host, Port its own column
        assert "db.example" in row_text(table, 50000) and "10.0.0.10" in row_text(table, 50001)
        await pilot.press("n")
        assert "10.0.0.9" in row_text(table, 50000), "numbers again"
        lookup.release["10.0.0.10"].set()


async def test_resolve_flag_starts_with_names_shown() -> None:
    app, source, _ = viewer({"10.0.0.9": "db.example", "10.0.0.10": "cache.example"}, names=True)
    async with app.run_test(size=(120, 20)) as pilot:
        await until(pilot, lambda: source.collected >= 1 and app.query_one(ConnectionTable).row_count == 3)
        table = app.query_one(ConnectionTable)
        await until(pilot, lambda: "cache.example" in row_text(table, 50001) and "db.example" in row_text(table, 50000))


def test_list_resolve_json_names_a_loopback_peer(tmp_path: Path) -> None:
    expected = hosts_names("127.0.0.1")
    if not expected:
        pytest.skip("/etc/hosts does not name 127.0.0.1: the lookup would go to DNS")
    with open_loopback_sockets(tmp_path) as sockets:
        port = sockets.port(sockets.tcp4_listener)
        done = subprocess.run(
            [sys.executable, "-m", "nettop", "list", "--resolve", "--format", "json", "--port", str(port), "-4"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    peers = [row for row in rows if row["remote_ip"] == "127.0.0.1"]
    assert len(peers) >= 2, rows  # the client and the accepted end
    assert all(row["remote_name"] in expected for row in peers), peers
    assert all(row["remote_name"] is None for row in rows if row["remote_ip"] is None), "a listener has no peer"
