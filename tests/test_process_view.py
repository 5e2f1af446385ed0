"""The process view (p, F5) and the by-remote-host view (h): the grouping alone, then the viewer through the pilot."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
from textual.pilot import Pilot

from nettop.app import NettopApp
from nettop.model import Connection, Owner, Proto, State, Traffic
from nettop.process_view import (
    HOSTS,
    NO_OWNER,
    PROCESSES,
    Groups,
    listen_text,
    service_port,
    socket_text,
    view_rows,
)
from nettop.screens.details import DetailsScreen
from nettop.screens.kill import KillScreen
from nettop.snapshots import diff, index_records
from nettop.widgets.conn_table import ConnectionTable
from nettop.widgets.process_table import ProcessTable
from tests.demo_data import demo_records
from tests.scripted import FakeClock, ScriptedSource, conn
from tests.test_app import BASE, make, settle
from tests.test_resolve import HOSTILE, HOSTILE_SHOWN, raw_controls, until, viewer

# ---- the grouping, without Textual


def expanded_lines(groups: Groups, mode: str) -> list[tuple[object, ...]]:
    """Every line of ``mode`` with every group expanded, by identity and record."""
    every = set(groups.processes) if mode == PROCESSES else set(groups.hosts)
    rows = view_rows(groups, mode, "conns", False, every)
    lines = [(row.ident, row.record) for row in rows]
    assert [rows.index(ident) for ident, _ in lines] == list(range(len(lines))), "each line found where it is"
    return lines


def summary(groups: Groups) -> dict[str, object]:
    """Everything a group row shows, per process and per host, and the lines with every group expanded: what two
    ways of grouping must agree on."""
    processes = {
        key: (g.conns, dict(g.listening), dict(g.peers), g.rate_in, g.rate_out, g.counted, set(g.sockets))
        for key, g in groups.processes.items()
    }
    hosts = {
        ip: (h.conns, dict(h.processes), dict(h.programs), dict(h.ports), h.rate_in, set(h.sockets))
        for ip, h in groups.hosts.items()
    }
    return {"processes": processes, "hosts": hosts, "lines": expanded_lines(groups, groups.mode)}


def grouped(records: list[Connection], keep=None, mode: str = PROCESSES) -> Groups:  # type: ignore[no-untyped-def]
    groups = Groups(mode)
    groups.rebuild(index_records(records), keep)
    return groups


def test_sockets_are_grouped_by_process_with_listeners_connections_and_peers() -> None:
    records = [
        *BASE,
        conn(443, 50001, local_ip="10.0.0.1", remote_ip="10.0.0.9", name="nginx", pid=20, user="www"),
        conn(443, 50002, local_ip="10.0.0.1", remote_ip="10.0.0.7", name="nginx", pid=20, user="www"),
        conn(80, 41000, local_ip="10.0.0.1", remote_ip="10.0.0.7", pid=None, state=State.TIME_WAIT),
    ]
    groups = grouped(records)
    nginx = groups.processes[(20, None)]
    assert (nginx.conns, len(nginx.peers), listen_text(nginx.listening)) == (3, 2, "tcp:443")
    assert nginx.owner is not None and (nginx.owner.name, nginx.owner.user) == ("nginx", "www")
    assert listen_text(groups.processes[(30, None)].listening) == "udp:53"
    hidden = groups.processes[NO_OWNER]
    assert (hidden.conns, hidden.owner, list(hidden.peers)) == (1, None, ["10.0.0.7"])
    assert set(groups.processes) == {(10, None), (20, None), (30, None), (40, None), NO_OWNER}
    assert groups.hosts == {}, "only the mode shown is grouped"
    hosts = grouped(records, mode=HOSTS).hosts
    host = hosts["10.0.0.7"]
    assert (host.conns, set(host.processes), dict(host.ports)) == (2, {(20, None), NO_OWNER}, {443: 1, 80: 1})
    assert set(hosts) == {"10.0.0.9", "10.0.0.7"}, "listeners have no peer"


def test_a_shared_socket_counts_under_each_owner_and_once_for_its_peer() -> None:
    master, worker = Owner(1, "nginx", "root"), Owner(2, "nginx", "www")
    shared = conn(443, 50000, remote_ip="10.0.0.9")._replace(owners=(master, worker))
    listener = conn(443)._replace(owners=(master, worker))
    groups = grouped([shared, listener])
    assert {key: (g.conns, listen_text(g.listening)) for key, g in groups.processes.items()} == {
        (1, None): (1, "tcp:443"),
        (2, None): (1, "tcp:443"),
    }
    peer = grouped([shared, listener], mode=HOSTS).hosts["10.0.0.9"]
    assert peer.conns == 1 and len(peer.processes) == 2


def test_listen_text_merges_families_and_orders_ports() -> None:
    records = [
        conn(443, name="nginx"),
        conn(80, name="nginx"),
        conn(443, name="nginx", local_ip="::", family=6),
        conn(53, proto=Proto.UDP, name="nginx"),
    ]
    assert listen_text(grouped(records).processes[(100, None)].listening) == "tcp:80,443 udp:53"


def test_service_port_is_the_lower_port() -> None:
    assert service_port(conn(51234, 443, remote_ip="192.0.2.1")) == 443
    assert service_port(conn(22, 51234, remote_ip="192.0.2.1")) == 22


def with_rates(record: Connection, rate_in: int | None, rate_out: int | None) -> Connection:
    return record._replace(traffic=Traffic(1000, 1000, 200, 0, rate_in, rate_out))


def test_rates_are_summed_per_process_and_per_host() -> None:
    records = [
        with_rates(conn(443, 50000, remote_ip="10.0.0.9", name="nginx", pid=20), 1000, 50),
        with_rates(conn(443, 50001, remote_ip="10.0.0.9", name="nginx", pid=20), 500, None),
        with_rates(conn(443, 50002, remote_ip="10.0.0.8", name="nginx", pid=20), None, None),
        conn(53, proto=Proto.UDP, name="dnsmasq", pid=30),
    ]
    groups = grouped(records)
    nginx = groups.processes[(20, None)]
    assert (nginx.rate_in, nginx.rate_out, nginx.counted) == (1500, 50, 3)
    assert groups.processes[(30, None)].counted == 0, "no counts: shown as a dash, not 0"
    hosts = grouped(records, mode=HOSTS).hosts
    assert (hosts["10.0.0.9"].rate_in, hosts["10.0.0.8"].rate_in) == (1500, 0)


def test_following_diffs_ends_where_grouping_anew_does() -> None:
    """Opened, closed, changed (state, owner, traffic) sockets, through a filter: the incremental groups equal the
    groups made from scratch of the last snapshot, at each step."""
    first = [
        *BASE,
        conn(443, 50001, local_ip="10.0.0.1", remote_ip="10.0.0.9", name="nginx", pid=20),
        with_rates(conn(5000, 60000, remote_ip="10.0.0.5", name="client", pid=50), 10, 20),
    ]
    second = [
        *first[:2],  # the connection 443 ↔ 50000 closed
        first[3],
        first[4],
        first[5]._replace(state=State.TIME_WAIT, owners=()),  # nginx let go of it
        with_rates(first[6], 300, 400),  # bytes flowed
        conn(8080, 50100, local_ip="::1", remote_ip="::1", family=6, name="devserver", pid=40),  # new
        conn(443, 50003, local_ip="10.0.0.1", remote_ip="10.0.0.3", name="nginx", pid=21),  # a new worker
    ]
    third = [r for r in second if r.local_port != 5000] + [conn(22, 52000, remote_ip="10.0.0.9", name="sshd", pid=11)]
    for mode, other in ((PROCESSES, HOSTS), (HOSTS, PROCESSES)):
        for keep in (None, lambda r: r.proto is Proto.TCP and r.local_port != 8080):
            groups = Groups(mode)
            before: dict = {}  # type: ignore[type-arg]
            groups.rebuild(before, keep)
            for records in (first, second, third, first, third):
                after = index_records(records)
                groups.apply(diff(before, after))
                assert summary(groups) == summary(grouped(records, keep, mode))
                before = after
            groups.switch(other)  # h: the same records, the other way
            assert summary(groups) == summary(grouped(third, keep, other))
            # A group goes with its last socket: the client's (pid 50) to 10.0.0.5 closed.
            assert (50, None) not in groups.processes and "10.0.0.5" not in groups.hosts
            assert groups.processes or groups.hosts


def test_view_rows_sort_reverse_and_expand() -> None:
    records = demo_records()
    groups = grouped(records)
    rows = view_rows(groups, PROCESSES, "conns", False, set())
    conns = [row.group.conns for row in rows]
    assert conns == sorted(conns, reverse=True) and conns[0] == 5, "the most connections first"
    assert [row.group.conns for row in view_rows(groups, PROCESSES, "conns", True, set())] == conns[::-1]
    by_name = view_rows(groups, PROCESSES, "program", False, set())
    programs = [row.group.owner.name for row in by_name if row.group.owner]  # type: ignore[union-attr]
    assert programs == sorted(programs)
    nginx = (1190, None)
    expanded = list(view_rows(groups, PROCESSES, "pid", False, {nginx}))
    at = next(i for i, row in enumerate(expanded) if row.ident == (PROCESSES, nginx))
    sockets = [row.record for row in expanded[at + 1 : at + 4]]
    assert all(r is not None and r.pid == 1190 and r.local_port in (80, 443) for r in sockets)
    assert expanded[at + 3].last and expanded[at + 4].record is None, "three listeners, the last with a corner"
    hosts = view_rows(grouped(records, mode=HOSTS), HOSTS, "conns", False, set())
    assert hosts[0].group.ip == "127.0.0.1" and hosts[0].group.conns == 4  # type: ignore[union-attr]


def test_socket_text_says_the_ends_the_state_and_in_the_host_view_the_owner() -> None:
    record = with_rates(conn(443, 50000, local_ip="10.0.0.1", remote_ip="10.0.0.9", name="nginx", pid=20), 2000, 0)
    groups = grouped([record], mode=HOSTS)
    row = view_rows(groups, HOSTS, "conns", False, {"10.0.0.9"})[1]
    assert socket_text(row, HOSTS) == "  └ tcp4 10.0.0.1:443 → 10.0.0.9:50000 ESTABLISHED 20/nginx rx 2.0 kB/s tx 0 B/s"
    groups.switch(PROCESSES)
    row = view_rows(groups, PROCESSES, "conns", False, {(20, None)})[1]
    assert socket_text(row, PROCESSES, lambda ip: "peer.example") == (
        "  └ tcp4 10.0.0.1:443 → peer.example:50000 ESTABLISHED rx 2.0 kB/s tx 0 B/s"
    )


# ---- the viewer


def lines(app: NettopApp) -> list[str]:
    view = app.query_one(ProcessTable)
    return [view.render_line(y).text.rstrip() for y in range(len(view.rows) + 1)]


def row_of(app: NettopApp, name: str) -> str:
    return next(line for line in lines(app)[1:] if f" {name} " in line)


def cells(app: NettopApp, name: str) -> list[str]:
    return row_of(app, name).split()


async def test_p_shows_one_row_per_process_and_p_again_the_table() -> None:
    app, source, _ = make([BASE])
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 1)
        await pilot.press("p")
        view, table = app.query_one(ProcessTable), app.query_one(ConnectionTable)
        assert view.display and view.has_focus and not table.display
        header = lines(app)[0]
        assert header.split() == ["PID", "Program", "User", "Listen", "Conns▼", "Hosts", "Command"]
        # nginx: a listener on 443 and one connection, with one peer; the most connections first.
        assert lines(app)[1].split() == ["20", "nginx", "www", "tcp:443", "1", "1", "nginx", "--serve"]
        assert cells(app, "dnsmasq") == ["30", "dnsmasq", "alice", "udp:53", "0", "0", "dnsmasq", "--serve"]
        assert len(lines(app)) == 1 + 4
        await pilot.press("p")
        assert not view.display and table.display and table.has_focus
        await pilot.press("f5")
        assert view.display and view.has_focus
        await pilot.press("escape")
        assert table.display and table.has_focus


async def test_the_view_follows_each_snapshot() -> None:
    later = [
        *BASE,
        conn(443, 50001, local_ip="10.0.0.1", remote_ip="10.0.0.8", name="nginx", pid=20, user="www"),
        conn(443, 50002, local_ip="10.0.0.1", remote_ip="10.0.0.8", name="nginx", pid=20, user="www"),
        conn(9000, name="newcomer", pid=60),
    ]
    app, source, clock = make([BASE, later, BASE[1:]])
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 1)
        await pilot.press("p")
        assert cells(app, "nginx")[3:6] == ["tcp:443", "1", "1"]
        clock.now += 1
        app.refresh_now()
        await settle(pilot, app, source, 2)
        assert cells(app, "nginx")[3:6] == ["tcp:443", "3", "2"], "two more connections, to one more peer"
        assert cells(app, "newcomer")[3:5] == ["tcp:9000", "0"]
        clock.now += 1
        app.refresh_now()
        await settle(pilot, app, source, 3)
        assert not any(" sshd " in line or " newcomer " in line for line in lines(app)), "gone with their sockets"


async def test_nothing_is_grouped_while_the_view_is_closed() -> None:
    app, source, clock = make([BASE, [*BASE, conn(9000, name="newcomer", pid=60)]])
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 1)
        view = app.query_one(ProcessTable)
        await pilot.press("p")
        assert len(view.groups.records) == len(BASE)
        await pilot.press("p")
        clock.now += 1
        app.refresh_now()
        await settle(pilot, app, source, 2)
        assert view.groups.records == {} and view.groups.processes == {}
        await pilot.press("p")  # opened again: grouped from what the table holds now
        assert cells(app, "newcomer")[3] == "tcp:9000"


async def test_the_filter_and_quick_toggles_apply_to_the_view() -> None:
    app, source, _ = make([BASE])
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 1)
        await pilot.press("p")
        await pilot.press("t")  # TCP only: dnsmasq's UDP socket is not counted
        assert not any(" dnsmasq " in line for line in lines(app))
        await pilot.press("t", "t")  # both again
        assert cells(app, "dnsmasq")[3] == "udp:53"
        await pilot.press("l")  # listening only: nginx keeps its listener, not its connection
        assert cells(app, "nginx")[3:6] == ["tcp:443", "0", "0"]
        await pilot.press("l", "slash", *"user:www", "enter")
        assert [line.split()[1] for line in lines(app)[1:]] == ["nginx"]
        assert app.query_one(ProcessTable).has_focus, "the filter bar gives the focus back to the view"


async def test_the_ownerless_sockets_are_one_row() -> None:
    rows = [*BASE, conn(80, 41000, local_ip="10.0.0.1", remote_ip="10.0.0.7", pid=None, state=State.TIME_WAIT)]
    app, source, _ = make([rows])
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 1)
        await pilot.press("p")
        hidden = next(line for line in lines(app) if "(no owner / hidden)" in line)
        assert hidden.split()[-2:] == ["1", "1"] and hidden.startswith("        "), "no pid, one connection, one peer"


async def test_enter_expands_a_process_to_its_sockets_and_opens_a_sockets_details() -> None:
    app, source, _ = make([BASE])
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 1)
        await pilot.press("p")
        assert lines(app)[1].split()[1] == "nginx"
        await pilot.press("enter")
        assert lines(app)[2:4] == [
            "  ├ tcp4 127.0.0.1:443 LISTEN",
            "  └ tcp4 10.0.0.1:443 → 10.0.0.9:50000 ESTABLISHED",
        ]
        await pilot.press("down", "down", "enter")
        assert isinstance(app.screen, DetailsScreen)
        assert "10.0.0.1:443  →  10.0.0.9:50000" in str(app.screen.query_one("#details-text").render())
        await pilot.press("escape", "up", "up", "enter")
        assert len(lines(app)) == 1 + 4, "collapsed"


async def test_h_shows_peers_by_connections_with_their_processes_and_ports() -> None:
    rows = [
        *BASE,
        conn(51000, 443, local_ip="10.0.0.1", remote_ip="10.0.0.9", name="curl", pid=70),
        conn(51001, 443, local_ip="10.0.0.1", remote_ip="10.0.0.9", name="curl", pid=71),
    ]
    app, source, _ = make([rows])
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 1)
        await pilot.press("p", "h")
        assert lines(app)[0].split() == ["Remote", "address", "Conns▼", "Procs", "Ports", "Programs"]
        assert lines(app)[1].split() == ["10.0.0.9", "3", "3", "443", "curl,", "nginx"]
        assert len(lines(app)) == 2
        await pilot.press("h")
        assert lines(app)[0].split()[0] == "PID"


async def test_s_cycles_the_sort_and_r_reverses_it() -> None:
    app, source, _ = make([BASE])
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 1)
        await pilot.press("p", "s")  # Conns → Hosts
        assert "Hosts▼" in lines(app)[0]
        await pilot.press("s", "s")  # → Command → PID (the next column on screen, round)
        assert "PID▲" in lines(app)[0]
        assert [line.split()[0] for line in lines(app)[1:]] == ["10", "20", "30", "40"]
        await pilot.press("r")
        assert [line.split()[0] for line in lines(app)[1:]] == ["40", "30", "20", "10"]
        assert app.sort_column == "state" and not app.sort_reverse, "the table's sort is its own"


async def test_the_cursor_stays_on_its_process_across_refreshes() -> None:
    later = [*BASE, *(conn(22, 52000 + n, remote_ip="10.0.0.9", name="sshd", pid=10) for n in range(3))]
    app, source, clock = make([BASE, later])
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 1)
        await pilot.press("p")  # on nginx, the most connections
        await pilot.press("s", "s", "s")  # by pid: sshd (10) first, the cursor still on nginx
        view = app.query_one(ProcessTable)
        assert view.cursor is not None and view.cursor.ident == (PROCESSES, (20, None)) and view.cursor_row == 1
        await pilot.press("down", "up", "s", "s", "s", "s")  # program, user, listen, conns
        assert view.cursor is not None and view.cursor.ident == (PROCESSES, (20, None)) and view.cursor_row == 0
        clock.now += 1
        app.refresh_now()
        await settle(pilot, app, source, 2)
        assert lines(app)[1].split()[1] == "sshd", "sshd now has the most connections"
        assert view.cursor is not None and view.cursor.ident == (PROCESSES, (20, None)) and view.cursor_row == 1


async def test_k_asks_before_terminating_the_selected_process() -> None:
    app, source, _ = make([BASE])
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 1)
        await pilot.press("p", "k")
        assert isinstance(app.screen, KillScreen), "the table's kill dialog: signals to choose, what closes"
        assert app.screen.owner.pid == 20 and app.screen.owner.name == "nginx"
        # The connections that close with it: nginx's one (the listener is a worker's own socket, not a connection).
        assert "connection" in str(app.screen.query_one("#kill-owner").render())
        await pilot.press("escape")
        assert not isinstance(app.screen, KillScreen)


async def test_the_host_view_names_peers_escaped() -> None:
    app, source, _ = viewer({"10.0.0.9": HOSTILE, "10.0.0.10": "cache.example"}, names=True)
    async with app.run_test(size=(120, 20)) as pilot:
        await until(pilot, lambda: source.collected >= 1 and app.query_one(ConnectionTable).row_count == 3)
        await pilot.press("p", "h")
        await until(pilot, lambda: "cache.example" in "".join(lines(app)) and "pwned" in "".join(lines(app)))
        shown = lines(app)
        assert any(line.startswith("cache.example ") for line in shown)
        assert any(line.startswith(HOSTILE_SHOWN[:20]) for line in shown)
        view = app.query_one(ProcessTable)
        for y in range(len(view.rows) + 1):  # what is written to the terminal
            assert all(not raw_controls(segment.text) for segment in view.render_line(y)), y


async def test_the_help_lists_the_views_keys() -> None:
    app, source, _ = make([BASE])
    async with app.run_test(size=(120, 50)) as pilot:
        await settle(pilot, app, source, 1)
        await pilot.press("question_mark")
        text = str(app.screen.query_one("#help-text").render())
        assert "p F5" in text and "process view: by process / by remote host" in text


# ---- what it looks like


@pytest.fixture
def utc() -> Iterator[None]:
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if saved is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = saved
    time.tzset()


def demo_app() -> NettopApp:
    clock = FakeClock()
    return NettopApp(ScriptedSource([demo_records()], clock), interval=60, clock=clock)


async def first_snapshot(pilot: Pilot) -> None:  # type: ignore[type-arg]
    source = pilot.app.source  # type: ignore[attr-defined]
    while source.collected < 1:
        await pilot.pause(0.01)
    await pilot.pause()


@pytest.mark.usefixtures("utc")
def test_snapshot_of_the_process_view(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(demo_app(), terminal_size=(120, 35), run_before=first_snapshot, press=["p", "enter"])


@pytest.mark.usefixtures("utc")
def test_snapshot_of_the_host_view(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(demo_app(), terminal_size=(80, 24), run_before=first_snapshot, press=["p", "h"])
