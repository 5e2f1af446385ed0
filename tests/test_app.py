"""The viewer driven with Textual's pilot through scripted snapshots (and once through the real source)."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import subprocess
import sys
import time

import psutil
import pytest

from nettop.app import NettopApp, SnapshotReady, _followed
from nettop.errors import CommandFailed
from nettop.model import Connection, Owner, OwnerStatus, Proto, Snapshot, State
from nettop.policy.overlay import PolicyState
from nettop.screens.details import DetailsScreen
from nettop.screens.help import HelpScreen
from nettop.screens.kill import KillScreen
from nettop.snapshots import SnapshotTracker
from nettop.sources import platform_source
from nettop.view import CLOSED_LINGER_SECONDS
from nettop.widgets.conn_table import ConnectionTable
from nettop.widgets.event_log import EventLog
from tests.scripted import FakeClock, ScriptedSource, conn
from tests.sockets import exchange

BASE = [
    conn(22, name="sshd", pid=10, user="root"),
    conn(443, name="nginx", pid=20, user="www"),
    conn(443, 50000, local_ip="10.0.0.1", remote_ip="10.0.0.9", name="nginx", pid=20, user="www"),
    conn(53, proto=Proto.UDP, name="dnsmasq", pid=30),
    conn(8080, local_ip="::1", family=6, name="devserver", pid=40),
]


async def settle(pilot, app: NettopApp, source: ScriptedSource, collections: int) -> None:  # type: ignore[no-untyped-def]
    """Wait until the source has been asked ``collections`` times and the app has applied the result."""
    for _ in range(200):
        if source.collected >= collections:
            break
        app.refresh_now()
        await pilot.pause(0.01)
    await pilot.pause()
    await pilot.pause()
    assert source.collected >= collections


def shown(app: NettopApp) -> list[Connection]:
    table = app.query_one(ConnectionTable)
    return [table.entry(i)[1].record for i in range(table.row_count)]


def ports(app: NettopApp) -> list[tuple[int | None, int | None]]:
    return [(r.local_port, r.remote_port) for r in shown(app)]


def make(script, **kwargs) -> tuple[NettopApp, ScriptedSource, FakeClock]:  # type: ignore[no-untyped-def]
    clock = FakeClock()
    source = ScriptedSource(script, clock)
    return NettopApp(source, interval=60, clock=clock, **kwargs), source, clock


async def test_sort_cycle_reverse_and_header_click() -> None:
    app, source, _ = make([BASE])
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 1)
        assert app.sort_column == "state", "listeners first, then established, then the rest"
        await pilot.press("s")  # the column right of State
        assert app.sort_column == "pid"
        app.sort_column = "local"
        await pilot.press("s")  # local port
        assert [p for p, _ in ports(app)] == [22, 53, 443, 443, 8080]
        await pilot.press("r")
        assert [p for p, _ in ports(app)] == [8080, 443, 443, 53, 22]
        table = app.query_one(ConnectionTable)
        header_x = 6 + 1  # the second column starts after "Proto" (6 cells) and a space
        await pilot.click(ConnectionTable, offset=(header_x + 1, 0))
        assert (app.sort_column, app.sort_reverse) == ("local", False)
        assert table.model.sort_column == "local" and not table.sort_reverse
        assert "Local address▲" in table.render_line(0).text
        assert [r.local_ip for r in shown(app)] == ["10.0.0.1", "127.0.0.1", "127.0.0.1", "127.0.0.1", "::1"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("nginx", [(443, None), (443, 50000)]),
        ("port:443 -state:listen", [(443, 50000)]),
        ("lport:22", [(22, None)]),
        ("rport:50000", [(443, 50000)]),
        ("state:listen proto:tcp", [(22, None), (443, None), (8080, None)]),
        ("proto:udp", [(53, None)]),
        ("pid:40", [(8080, None)]),
        ("prog:dns", [(53, None)]),
        ("user:www", [(443, None), (443, 50000)]),
        ("ip:10.0.0.0/8", [(443, 50000)]),
        ("ip:::1", [(8080, None)]),
    ],
)
async def test_each_filter_form(query: str, expected: list[tuple[int, int | None]]) -> None:
    app, source, _ = make([BASE])
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 1)
        await pilot.press("slash")
        for char in query:
            await pilot.press(char if char != " " else "space")
        await pilot.press("enter")
        assert sorted(ports(app), key=str) == sorted(expected, key=str)
        assert app.query_one(ConnectionTable).has_focus


async def test_malformed_filter_is_shown_and_not_applied() -> None:
    app, source, _ = make([BASE])
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 1)
        await pilot.press("slash", *"port:443", "space", *"-state:x")
        error = str(app.query_one("#filter-error").render())
        assert error.startswith("✗") and "unknown state 'x'" in error and "(at 17)" in error
        assert sorted(ports(app), key=str) == [(443, 50000), (443, None)], "the last valid filter still holds"
        await pilot.press("backspace", *"listen", "space", *"rport:9-1")
        assert "runs backwards" in str(app.query_one("#filter-error").render())
        await pilot.press("backspace", "backspace")
        assert str(app.query_one("#filter-error").render()) == ""
        assert app.query_filter.text == "port:443 -state:listen rport:9"
        assert ports(app) == []


async def test_filter_from_the_command_line() -> None:
    app, source, _ = make([BASE], filter_text="prog:sshd")
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 1)
        assert ports(app) == [(22, None)]


async def test_quick_toggles() -> None:
    app, source, _ = make([BASE])
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 1)
        await pilot.press("l")
        assert (443, 50000) not in ports(app) and len(shown(app)) == 4
        await pilot.press("l", "t")
        assert {r.proto for r in shown(app)} == {Proto.TCP}
        await pilot.press("t")
        assert {r.proto for r in shown(app)} == {Proto.UDP}
        await pilot.press("t", "6")
        assert ports(app) == [(8080, None)]
        await pilot.press("6", "4")
        assert 8080 not in [p for p, _ in ports(app)] and len(shown(app)) == 4


async def test_pause_holds_the_screen_and_says_so() -> None:
    app, source, _ = make([BASE, [*BASE, conn(9999)]])
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 1)
        await pilot.press("space")
        assert "PAUSED" in str(app.query_one("#status").render())
        app.refresh_now()
        await pilot.pause(0.05)
        assert 9999 not in [p for p, _ in ports(app)]
        await pilot.press("space")
        await settle(pilot, app, source, 2)
        assert 9999 in [p for p, _ in ports(app)]
        assert "PAUSED" not in str(app.query_one("#status").render())


def _messages(*snapshots: list[Connection]) -> list[SnapshotReady]:
    """SnapshotReady messages as the poller makes them, numbered from 1, each diffed against the one before."""
    tracker: SnapshotTracker[PolicyState] = SnapshotTracker()
    made = []
    for number, records in enumerate(snapshots, start=1):
        snapshot = Snapshot(tuple(records), taken_at=1_800_000_000.0 + number, duration=0.0, source="scripted")
        step, lines = _followed(tracker, snapshot)
        made.append(SnapshotReady(snapshot, step, lines, number, since=number - 1))
    return made


async def test_a_newer_snapshot_stands_for_the_older_ones_it_replaces() -> None:
    """Paused, or behind: only the newest snapshot is applied, against what is on screen, and every event of the
    ones it replaced reaches the log."""
    app, source, _ = make([BASE])
    first, opened, closed = _messages(BASE, [*BASE, conn(7000)], [*BASE[1:], conn(7000), conn(7001)])
    assert opened.can_replace(closed) and closed.event_lines[: len(opened.event_lines)] == opened.event_lines
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 1)
        app.workers.cancel_group(app, "poller")  # only these messages arrive from here on
        app.shown_number = first.number  # the app numbers its own snapshots; these follow its first
        await pilot.press("space")
        app.post_message(opened)
        app.post_message(closed)
        await pilot.pause()
        assert 7000 not in [p for p, _ in ports(app)], "paused: the screen holds still"
        await pilot.press("space")
        await pilot.pause()
        assert app.shown_number == closed.number
        assert sorted(p for p, _ in ports(app) if p not in (22,)) == [53, 443, 443, 7000, 7001, 8080]
        assert app.model.rows[next(k for k, r in app.model.rows.items() if r.record.local_port == 22)].closed_at
        logged = "\n".join(app.query_one("#events", EventLog).logged())
        assert ":7000" in logged and ":7001" in logged and ":22" in logged


async def test_stale_after_a_failed_collection_then_fresh_again() -> None:
    failure = CommandFailed(["ss", "-tunae"], 1, "Cannot open netlink socket")
    app, source, _ = make([BASE, failure, BASE[:2]])
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 2)
        status = str(app.query_one("#status").render())
        assert "STALE" in status and "Cannot open netlink socket" in status
        assert len(shown(app)) == len(BASE), "the last good rows stay on screen"
        await settle(pilot, app, source, 3)
        assert "STALE" not in str(app.query_one("#status").render())


async def test_cursor_stays_on_its_connection_across_refresh_and_resort() -> None:
    later = [conn(1, name="a"), conn(2, name="b"), *BASE]
    app, source, _ = make([BASE, later])
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 1)
        app.sort_column = "lport"
        await pilot.press("down", "down")  # the 443 listener
        table = app.query_one(ConnectionTable)
        key, row = table.cursor_key, table.cursor_record_row
        assert row is not None and (row.record.local_port, row.record.remote_port) == (443, None)
        await settle(pilot, app, source, 2)
        assert table.cursor_key == key and table.cursor_row == 4
        await pilot.press("r")
        assert table.cursor_key == key and table.cursor_row == 2


async def test_new_rows_highlighted_closed_rows_linger_then_go() -> None:
    app, source, clock = make([BASE, [*BASE, conn(7000)], BASE])
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 1)
        assert all(row.first_seen < clock.now - 4 for row in app.model.rows.values()), "first rows are not new"
        await settle(pilot, app, source, 2)
        new = [row for row in app.model.rows.values() if row.record.local_port == 7000]
        assert len(new) == 1 and new[0].first_seen == clock.now
        await settle(pilot, app, source, 3)
        assert [row.closed_at for row in app.model.rows.values() if row.record.local_port == 7000] == [clock.now]
        assert 7000 in [p for p, _ in ports(app)]
        clock.now += CLOSED_LINGER_SECONDS + 0.1
        app._tick()
        await pilot.pause()
        assert 7000 not in [p for p, _ in ports(app)]


async def test_details_show_owners_other_sockets_and_raw_line() -> None:
    app, source, _ = make([BASE])
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app, source, 1)
        await pilot.press("slash", "p", "r", "o", "g", "colon", "n", "g", "i", "n", "x", "enter")
        await pilot.press("home", "enter")
        assert isinstance(app.screen, DetailsScreen)
        text = str(app.screen.query_one("#details-text").render())
        assert "pid 20" in text and "nginx" in text and "user www" in text
        assert "Other sockets of the owner (1)" in text
        assert "tcp4 10.0.0.1:443 → 10.0.0.9:50000 ESTABLISHED" in text, "the owner's other socket"
        assert "Raw line (from scripted)\ntcp LISTEN 127.0.0.1:443" in text
        await pilot.press("escape")
        assert not isinstance(app.screen, DetailsScreen)


async def test_help_screen() -> None:
    app, source, _ = make([BASE])
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app, source, 1)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one("#help-text").render())
        assert "port:443" in text
        # Made from the bindings and the query's table: nothing can be missing (cmd: and iface: once were).
        for binding in [*NettopApp.BINDINGS, *ConnectionTable.BINDINGS]:
            assert binding.tooltip in text  # type: ignore[union-attr]
        assert "cmd:gunicorn" in text and "iface:lo" in text and "^p" in text
        # htop's function keys and Ctrl+C, each on the line of the key it stands for.
        for keys in (r"q \^c F10 +quit", r"\? F1 +this help", r"/ F3 F4 +filter", r"s F6 +sort", r"k F9 +terminate"):
            assert re.search(keys, text), keys
        for key in ("escape", "q", "question_mark"):  # each closes it, and the viewer goes on
            await pilot.press(key)
            assert not isinstance(app.screen, HelpScreen) and app.is_running
            await pilot.press("question_mark")
        await pilot.press("escape", "l")
        assert app.is_running and "is:listening" in app.quick.text


async def test_kill_asks_then_terminates_the_real_owner() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        started = psutil.Process(child.pid).create_time()
        record = conn(4444)._replace(owners=(Owner(child.pid, "sleeper", "me", None, started),))
        app, source, _ = make([[record]])
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot, app, source, 1)
            await pilot.press("k")
            assert isinstance(app.screen, KillScreen)
            await pilot.press("escape")
            assert not isinstance(app.screen, KillScreen) and child.poll() is None, "Esc sends nothing"
            await pilot.press("k", "enter")  # TERM, the default
            await pilot.pause()
            assert child.wait(timeout=10) == -15
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


async def test_kill_refuses_a_reused_pid() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        wrong_start = psutil.Process(child.pid).create_time() - 100
        record = conn(4445)._replace(owners=(Owner(child.pid, "old", "me", None, wrong_start),))
        app, source, _ = make([[record]])
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot, app, source, 1)
            await pilot.press("k", "enter")
            await pilot.pause()
            assert child.poll() is None
            assert any("now belongs to another process" in n.message for n in app._notifications)
    finally:
        child.kill()
        child.wait()


async def test_real_source_listener_appears_then_dims_then_goes() -> None:
    app = NettopApp(platform_source("auto"), interval=0.5)
    async with app.run_test(size=(120, 30)) as pilot:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]

        def rows_for_port() -> list:  # type: ignore[type-arg]
            return [row for row in app.model.rows.values() if row.record.local_port == port]

        deadline = time.monotonic() + 10
        while not rows_for_port() and time.monotonic() < deadline:
            await pilot.pause(0.1)
        (row,) = rows_for_port()
        assert row.record.state is State.LISTEN and row.record.owner_status is OwnerStatus.KNOWN
        listener.close()
        while rows_for_port() and rows_for_port()[0].closed_at is None and time.monotonic() < deadline + 5:
            await pilot.pause(0.1)
        assert rows_for_port()[0].closed_at is not None, "closed: still shown, dimmed"
        deadline = time.monotonic() + CLOSED_LINGER_SECONDS + 5
        while rows_for_port() and time.monotonic() < deadline:
            await pilot.pause(0.2)
        assert rows_for_port() == []


async def test_a_connection_between_two_refreshes_is_said_in_the_event_log() -> None:
    """The viewer refreshes once a minute here: the connection opens and closes in between, and the event log says
    so from the kernel's destroy message, with the bytes each way."""
    app = NettopApp(platform_source("auto"), interval=60)
    async with app.run_test(size=(120, 30)) as pilot:
        deadline = time.monotonic() + 10
        while app.snapshot is None and time.monotonic() < deadline:
            await pilot.pause(0.05)
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            port = listener.getsockname()[1]
            with socket.create_connection(("127.0.0.1", port)) as client, listener.accept()[0] as server:
                exchange(client, server, 2_500)
        log = app.query_one("#events", EventLog)

        def ended() -> list[str]:
            # The accepted end's line; the listener's own end (``-> *``) follows when it closes.
            return [line for line in log.logged() if " end " in line and f"127.0.0.1:{port} -> 127.0.0.1:" in line]

        while not ended() and time.monotonic() < deadline:
            await pilot.pause(0.05)
        (line,) = ended()
        # No refresh saw it: no owner is known, and when it opened only the kernel's lower bound may say.
        assert re.search(r" - closed( after at least \S+ \S+)?, 2\.5 kB in, 0 B out$", line), line


class SlowSource(ScriptedSource):
    """Takes ``delay`` real seconds per collection."""

    def __init__(self, script, clock: FakeClock, delay: float) -> None:  # type: ignore[no-untyped-def]
        super().__init__(script, clock)
        self.delay = delay
        self.running = self.most_at_once = 0

    async def collect(self):  # type: ignore[no-untyped-def]
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await asyncio.sleep(self.delay)
            return await super().collect()
        finally:
            self.running -= 1


async def test_a_collection_slower_than_the_interval_is_said_and_never_overlaps() -> None:
    clock = FakeClock()
    source = SlowSource([BASE], clock, delay=0.3)
    app = NettopApp(source, interval=60, clock=clock)
    app.set_reactive(NettopApp.interval, 0.1)  # below the keys' minimum, to be slower than a collection
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 2)
        for _ in range(100):  # the status follows the snapshot's message: wait for it, not for a time
            if "collection is slow" in str(app.query_one("#status").render()):
                break
            await pilot.pause(0.05)
        assert "collection is slow" in str(app.query_one("#status").render())
        await settle(pilot, app, source, 5)  # asking for more at once (refresh_now) must not start a second
        assert source.most_at_once == 1, "one collection at a time"


async def test_plus_and_minus_change_the_interval_within_bounds() -> None:
    app, source, _ = make([BASE])
    app.set_reactive(NettopApp.interval, 2.0)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 1)
        await pilot.press("minus")
        assert app.interval == 1.0 and "every 1s" in str(app.query_one("#summary").render())
        await pilot.press("minus", "minus", "minus")
        assert app.interval == 0.5
        await pilot.press("plus")
        assert app.interval == 1.0


@pytest.mark.parametrize(
    ("euid", "said"),
    [
        (1000, "1 socket without owner: not root (sudo nettop shows them)"),
        (0, "1 socket without owner: hidden even from root"),
    ],
)
async def test_owners_hidden_are_pointed_out(monkeypatch: pytest.MonkeyPatch, euid: int, said: str) -> None:
    monkeypatch.setattr("nettop.app.os.geteuid", lambda: euid)
    hidden = conn(631, pid=None)._replace(owner_status=OwnerStatus.NOT_PERMITTED)
    app, source, _ = make([[*BASE, hidden]])
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 1)
        assert said in str(app.query_one("#status").render())


async def test_event_log_shows_what_opened_closed_and_changed() -> None:
    waiting = BASE[2]._replace(state=State.TIME_WAIT)
    app, source, _ = make([BASE, [*BASE[:2], waiting, BASE[3], conn(7000, name="newcomer", pid=77)], BASE[:2]])
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app, source, 1)
        log = app.query_one("#events")
        assert not log.display
        await pilot.press("e")
        assert log.display and log.line_count == 0, "the first snapshot is not news"
        await settle(pilot, app, source, 2)
        lines = [log.lines[i] for i in range(log.line_count)]
        assert any("close " in line and ":8080" in line and "LISTENER" in line for line in lines)
        assert any("change" in line and "state: ESTABLISHED -> TIME_WAIT" in line for line in lines)
        assert any("open " in line and ":7000" in line and "77/newcomer" in line for line in lines)
        await pilot.press("e")
        assert not log.display


async def test_baseline_shows_only_what_changed_since_then() -> None:
    waiting = BASE[2]._replace(state=State.TIME_WAIT)
    app, source, _ = make([BASE, [*BASE[:2], waiting, *BASE[3:], conn(7000)]])
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 1)
        await pilot.press("b")
        assert shown(app) == [] and "BASELINE" in str(app.query_one("#status").render())
        await settle(pilot, app, source, 2)
        assert sorted(ports(app), key=str) == sorted([(443, 50000), (7000, None)], key=str)
        await pilot.press("b")
        assert len(shown(app)) == len(BASE) + 1 and "BASELINE" not in str(app.query_one("#status").render())


@pytest.mark.parametrize("suffix", [".json", ".csv"])
async def test_export_writes_the_rows_on_screen(tmp_path, suffix: str) -> None:  # type: ignore[no-untyped-def]
    app, source, _ = make([BASE], filter_text="prog:nginx")
    target = tmp_path / f"rows{suffix}"
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 1)
        await pilot.press("x")
        field = app.screen.query_one("#export-path")
        assert field.value.startswith("nettop-") and field.value.endswith(".json")
        field.value = str(target)
        await pilot.press("enter")
        await pilot.pause()
        assert any(str(target) in n.message and "exported 2 connections" in n.message for n in app._notifications)
    text = target.read_text()
    if suffix == ".json":
        rows = json.loads(text)
        assert [(r["local_port"], r["remote_port"], r["program"]) for r in rows] == [
            (443, None, "nginx"),
            (443, 50000, "nginx"),
        ]
    else:
        header, *rows = text.splitlines()
        assert header.startswith("proto,family,local_ip,local_port") and len(rows) == 2
    assert [p.name for p in tmp_path.iterdir()] == [target.name], "no temporary file left behind"


async def test_policy_marks_offenders_shows_missing_listeners_and_notifies() -> None:
    from nettop.policy.rules import parse_policy

    policy = parse_policy(
        '[[listen]]\nport = 22\nproto = "tcp"\nprogram = "sshd"\n'
        '[[listen]]\nport = 9999\nproto = "tcp"\nprogram = "agent"\n'
        "[[forbid]]\nport = 53\n",
        "p.toml",
    )
    clock = FakeClock()
    source = ScriptedSource([BASE, [*BASE[:3], *BASE[4:], conn(9999, name="agent", pid=99)]], clock)
    app = NettopApp(source, interval=60, clock=clock, policy=policy)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 1)
        table = app.query_one(ConnectionTable)
        states = {(r.local_port, r.state.value, r.source) for r in shown(app)}
        assert (9999, "UNKNOWN", "policy") in states, "the missing listener is a placeholder row"
        rows = {table.entry(i)[1].record.local_port: i + 1 for i in range(table.row_count)}
        assert "MISSING" in table.render_line(rows[9999]).text
        summary = str(app.query_one("#summary").render())
        assert "policy 1/3 pass" in summary
        assert f"{len(BASE)}/{len(BASE)} shown" in summary, "placeholders are rows, not sockets"
        dns = next(r for r in shown(app) if r.local_port == 53)
        assert dns.key in app.model.offending
        messages = [n.message for n in app._notifications]
        assert any("not listening" in m and "FAILS" in m for m in messages)
        await settle(pilot, app, source, 2)
        assert "policy 3/3 pass" in str(app.query_one("#summary").render())
        live = [
            row.record.source for row in app.model.rows.values() if row.record.local_port == 9999 and not row.closed_at
        ]
        assert live == ["scripted"], "the placeholder goes when the listener comes"
        assert app.model.offending == frozenset()


class HangingSource(ScriptedSource):
    """The first collection answers; the next hangs until ``release`` is set, then fails as a timeout would."""

    def __init__(self, script, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
        super().__init__(script, clock)
        self.release = asyncio.Event()

    async def collect(self):  # type: ignore[no-untyped-def]
        if self.collected:
            self.collected += 1
            await self.release.wait()
            raise CommandFailed(["ss"], 1, "ss: killed after the timeout")
        return await super().collect()


async def test_a_hung_collection_is_said_while_it_hangs_then_marked_stale(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import nettop.app

    monkeypatch.setattr(nettop.app, "SLOW_COLLECTION_NOTICE", 0.2)
    clock = FakeClock()
    source = HangingSource([BASE], clock)
    app = NettopApp(source, interval=60, clock=clock)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 2)  # the second collection is under way, and hangs

        def status() -> str:
            return str(app.query_one("#status").render())

        for _ in range(100):  # the once-a-second tick says it: wait for it, not for a time
            if "collecting for" in status():
                break
            await pilot.pause(0.05)
        assert "collecting for" in status() and "STALE" not in status()
        assert len(shown(app)) == len(BASE), "the last rows stay while it hangs"
        source.release.set()
        for _ in range(100):
            if "STALE" in status():
                break
            await pilot.pause(0.05)
        assert "STALE since" in status() and "killed after the timeout" in status()
        assert "collecting for" not in status()


async def test_a_burst_with_a_just_closed_connection_coming_back_keeps_the_viewer_up() -> None:
    """100 rows; row 50 closes; then 200 new rows and row 50 back in one tick (the bulk path): this crashed."""
    hundred = [conn(1000 + n, 9000, name="app", pid=100) for n in range(100)]
    without_50 = hundred[:50] + hundred[51:]
    burst = [conn(n, 9000, name="burst", pid=200) for n in range(1, 201)] + hundred
    app, source, clock = make([hundred, without_50, burst])
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 1)
        clock.now += 1
        await settle(pilot, app, source, 2)
        assert app.model.shown_closing == 1
        clock.now += 1
        await settle(pilot, app, source, 3)
        assert app.is_running
        assert len(shown(app)) == 300 and app.model.shown_closing == 0
        assert [r.local_port for r in shown(app)] == list(range(1, 201)) + list(range(1000, 1100))
        await pilot.press("end", "home")  # drawn, scrolled: every row is where the order says
        assert app.query_one(ConnectionTable).cursor_row == 0


async def test_a_missing_listener_is_neither_exported_nor_offered_to_kill(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from nettop.policy.rules import parse_policy

    policy = parse_policy('[[listen]]\nport = 9999\nproto = "tcp"\nprogram = "agent"\n', "p.toml")
    clock = FakeClock()
    source = ScriptedSource([BASE], clock)
    app = NettopApp(source, interval=60, clock=clock, policy=policy, filter_text="port:9999,443")
    target = tmp_path / "rows.json"
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 1)
        assert 9999 in [r.local_port for r in shown(app)]
        table = app.query_one(ConnectionTable)
        table.move_cursor_to(next(k for k in app.model.missing))
        await pilot.press("k")
        assert not isinstance(app.screen, KillScreen)
        assert any("No owner to terminate" in n.message for n in app._notifications)
        await pilot.press("x")
        app.screen.query_one("#export-path").value = str(target)
        await pilot.press("enter")
        await pilot.pause()
        assert 9999 not in [row["local_port"] for row in json.loads(target.read_text())]


async def test_sort_cycles_only_the_columns_on_screen() -> None:
    app, source, _ = make([BASE])
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app, source, 1)
        table = app.query_one(ConnectionTable)
        shown = table.shown_column_keys()
        assert "user" not in shown and "command" not in shown, "hidden at 80 columns"
        seen = []
        for _ in shown:
            await pilot.press("s")
            seen.append(app.sort_column)
        start = shown.index("state")  # the default sort
        assert seen == [*shown[start + 1 :], *shown[: start + 1]]
