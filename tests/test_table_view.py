"""The connection table's columns, order and marks (issue 16): widths from content, elision in the middle, hidden
owners, the policy mark cell, the state order, the closing toggle and the mouse."""

from __future__ import annotations

import os
import pwd

import pytest
from rich.segment import Segment

from nettop.app import NettopApp
from nettop.model import Connection, OwnerStatus, Proto, State
from nettop.screens.details import DetailsScreen
from nettop.snapshots import diff, index_records
from nettop.view import COLUMNS_BY_KEY, RowsModel, column_widths, visible_columns
from nettop.widgets.conn_table import ConnectionTable, elide_command, elide_middle, fit
from tests.scripted import FakeClock, ScriptedSource, conn
from tests.test_app import BASE, make, settle, shown

PYENV = "/root/.pyenv/versions/3.11.7/bin/python"
LONG_V6 = "2001:0db8:85a3:0000:0000:8a2e:0370:7334"


def with_command(record: Connection, *argv: str) -> Connection:
    owner = record.owners[0]
    return record._replace(owners=(owner.__class__(owner.pid, owner.name, owner.user, argv, owner.start_time),))


def cells_of(table: ConnectionTable, line: int) -> dict[str, str]:
    """The cells of a rendered line, by column key (the header is line 0)."""
    columns, widths = table._columns(table._width)
    text = table.render_line(line).text
    x = 2 if table.model.judged else 0
    cells = {}
    for column, width in zip(columns, widths, strict=True):
        cells[column.key] = text[x : x + width].strip()
        x += width + 1
    return cells


def line_of(table: ConnectionTable, port: int) -> int:
    return next(i + 1 for i in range(table.row_count) if table.entry(i)[1].record.local_port == port)


# --- elision --------------------------------------------------------------------------------------


def test_a_command_loses_its_middle_directories_first() -> None:
    text = f"{PYENV} app.py --port 80"
    assert elide_command(text, 42) == "/root/.pyenv/…/bin/python app.py --port 80"
    assert elide_command(text, 30) == "/…/bin/python app.py --port 80"
    assert elide_command(text, 26) == "/…/python app.py --port 80"
    assert elide_command(text, 20) == "python app.py --por…", "then the arguments' end, never the program's name"
    assert elide_command(text, len(text)) == text
    assert elide_command("java -jar /opt/a/very/long/path/server.jar --x", 20) == "java -jar /opt/a/ve…"
    assert all(len(elide_command(text, width)) <= width for width in range(1, len(text)))


def test_addresses_and_names_are_cut_in_the_middle() -> None:
    assert elide_middle(LONG_V6, 21) == "2001:0db8:…:0370:7334"
    assert fit(LONG_V6, 21, elide="middle").endswith(":0370:7334")
    assert fit("127.0.0.1", 12, elide="middle") == "127.0.0.1   "
    assert all(len(elide_middle(LONG_V6, width)) == width for width in range(1, len(LONG_V6)))


# --- widths from content --------------------------------------------------------------------------


def test_flexible_columns_are_as_wide_as_their_widest_cell() -> None:
    columns = visible_columns(200)
    widths = dict(zip([c.key for c in columns], column_widths(columns, 200, {"local": 9, "remote": 9}), strict=True))
    assert widths["local"] == len("Local address") + 1, "no narrower than its title and the sort's arrow"
    assert widths["remote"] == len("Remote address") + 1
    assert widths["program"] == COLUMNS_BY_KEY["program"].width
    widths = dict(zip([c.key for c in columns], column_widths(columns, 200, {"local": 60}), strict=True))
    assert widths["local"] == 41, "up to the column's limit"
    assert sum(widths.values()) + len(widths) - 1 == 200, "Command takes what is left"


async def test_at_200_columns_addresses_fit_their_content_and_the_command_keeps_its_program() -> None:
    tail = "app.py --port 80 --workers 4 --log-level debug"
    long_dir = "/root/.pyenv/versions/3.11.7/lib/python3.11/site-packages/../../../bin/python"
    records = [*BASE, with_command(conn(80, name="python", pid=77), long_dir, *tail.split())]
    app, source, _ = make([records])
    async with app.run_test(size=(200, 40)) as pilot:
        await settle(pilot, app, source, 1)
        table = app.query_one(ConnectionTable)
        columns, widths = table._columns(table._width)
        width = dict(zip([c.key for c in columns], widths, strict=True))
        assert width["local"] == len("Local address") + 1, "127.0.0.1 and ::1 need no 39 cells"
        assert width["program"] == len("devserver"), "the widest program name shown"
        command = cells_of(table, line_of(table, 80))["command"]
        assert command.endswith(f"/bin/python {tail}") and "…" in command, command
        assert command.startswith("/root/")


async def test_a_long_ipv6_address_is_cut_in_the_middle() -> None:
    v6 = conn(8443, local_ip=LONG_V6, family=6, name="web", pid=5)._replace(interface="enp0s31f6")
    app, source, _ = make([[*BASE, v6]])
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app, source, 1)
        table = app.query_one(ConnectionTable)
        local = cells_of(table, line_of(table, 8443))["local"]
        assert local.startswith("2001:") and local.endswith("%enp0s31f6") and "…" in local, local


def test_widest_grows_with_new_rows_and_is_measured_anew_at_resort() -> None:
    model = RowsModel()
    first = index_records([conn(22, name="sshd")])
    model.apply(first, diff({}, first), 0.0)
    assert model.widest["program"] == len("sshd")
    second = index_records([conn(22, name="sshd"), conn(9000, name="a-much-longer-name")])
    before = model.widths_version
    model.apply(second, diff(first, second), 1.0)
    assert model.widest["program"] == len("a-much-longer-name") and model.widths_version > before
    model.resort("state", lambda r: r.local_port == 22)
    assert model.widest["program"] == len("sshd"), "only the rows the filter keeps count"


# --- hidden owners --------------------------------------------------------------------------------


def hidden(port: int, uid: int | None) -> Connection:
    return conn(port, 41000, pid=None)._replace(owner_status=OwnerStatus.NOT_PERMITTED, uid=uid)


async def test_a_hidden_owner_is_marked_and_its_user_comes_from_the_uid() -> None:
    me = os.getuid()
    waiting = conn(7000, 41001, pid=None, state=State.TIME_WAIT)
    app, source, _ = make([[*BASE, hidden(6000, me), waiting]])
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 1)
        table = app.query_one(ConnectionTable)
        row = cells_of(table, line_of(table, 6000))
        assert (row["pid"], row["program"], row["user"]) == ("?", "(hidden)", pwd.getpwuid(me).pw_name)
        strip = table.render_line(line_of(table, 6000))
        dimmed = [s for s in strip if isinstance(s, Segment) and s.style is not None and s.style.dim]
        assert any("(hidden)" in s.text for s in dimmed), "hidden, and dimmed"
        nobody = cells_of(table, line_of(table, 7000))
        assert (nobody["pid"], nobody["program"], nobody["user"]) == ("", "", ""), "no process holds a TIME_WAIT"


# --- the policy's mark cell -----------------------------------------------------------------------


async def test_policy_breaking_and_missing_rows_carry_a_symbol(monkeypatch: pytest.MonkeyPatch) -> None:
    from nettop.policy.rules import parse_policy

    monkeypatch.setenv("NO_COLOR", "1")
    policy = parse_policy(
        '[[listen]]\nport = 9999\nproto = "tcp"\nprogram = "agent"\n[[forbid]]\nport = 53\n', "p.toml"
    )
    clock = FakeClock()
    source = ScriptedSource([BASE], clock)
    app = NettopApp(source, interval=60, clock=clock, policy=policy)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 1)
        table = app.query_one(ConnectionTable)
        marks = {table.entry(i)[1].record.local_port: table.render_line(i + 1).text[:2] for i in range(table.row_count)}
        assert marks.pop(53) == "✗ " and marks.pop(9999) == "? "
        assert set(marks.values()) == {"  "}
        assert table.render_line(0).text.startswith("  Proto"), "the header leaves the mark cell blank"
        x = 2 + len("Proto") + 1 + 1  # in the Local address title, past the mark cell
        await pilot.click(ConnectionTable, offset=(x, 0))
        assert app.sort_column == "local"


async def test_without_a_policy_there_is_no_mark_cell() -> None:
    app, source, _ = make([BASE])
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 1)
        assert app.query_one(ConnectionTable).render_line(0).text.startswith("Proto")


# --- the default order ----------------------------------------------------------------------------

CHURN = [
    conn(41000 + n, 80, local_ip="10.0.0.1", remote_ip="10.0.0.2", pid=None, state=State.TIME_WAIT) for n in range(3)
]
MIXED = [
    *CHURN,
    conn(5432, 41500, state=State.CLOSE_WAIT, name="postgres", pid=50),
    conn(41600, 443, state=State.SYN_SENT, name="curl", pid=60),
    conn(1, 2, state=State.FIN_WAIT2, name="x", pid=70),
    *BASE,
]


async def test_by_default_listeners_come_first_then_established_then_the_rest() -> None:
    app, source, _ = make([MIXED])
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 1)
        assert app.sort_column == "state"
        states = [r.state for r in shown(app)]
        listeners = [(r.proto, r.local_port) for r in shown(app)][:4]
        assert listeners == [(Proto.TCP, 22), (Proto.TCP, 443), (Proto.TCP, 8080), (Proto.UDP, 53)]
        assert states[4:] == [
            State.ESTABLISHED,
            State.SYN_SENT,
            State.FIN_WAIT2,
            State.CLOSE_WAIT,
            State.TIME_WAIT,
            State.TIME_WAIT,
            State.TIME_WAIT,
        ]
        assert "State▲" in app.query_one(ConnectionTable).render_line(0).text


# --- w: closing states ----------------------------------------------------------------------------


async def test_w_hides_closing_states_and_says_so_in_the_quick_terms() -> None:
    app, source, _ = make([MIXED])
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 1)
        await pilot.press("w")
        assert app.quick.text == "-is:closing"
        assert {r.state for r in shown(app)} == {State.LISTEN, State.UNCONNECTED, State.ESTABLISHED, State.SYN_SENT}
        await pilot.press("l")
        assert app.quick.text == "-is:closing is:listening", "l does not undo w"
        await pilot.press("l", "w")
        assert app.quick.is_empty and len(shown(app)) == len(MIXED)


# --- the mouse ------------------------------------------------------------------------------------


async def test_clicks_sort_by_a_header_reverse_on_a_second_and_move_the_cursor_to_a_row() -> None:
    app, source, _ = make([MIXED])
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 1)
        table = app.query_one(ConnectionTable)
        columns, widths = table._columns(table._width)
        x = sum(w + 1 for c, w in list(zip(columns, widths, strict=True))[: [c.key for c in columns].index("program")])
        await pilot.click(ConnectionTable, offset=(x + 1, 0))
        assert (app.sort_column, app.sort_reverse) == ("program", False)
        await pilot.click(ConnectionTable, offset=(x + 1, 0))
        assert (app.sort_column, app.sort_reverse) == ("program", True)
        assert "Program▼" in table.render_line(0).text
        await pilot.click(ConnectionTable, offset=(3, 4))  # the fourth row
        assert table.cursor_row == 3 and table.cursor_key == table.entry(3)[0]
        assert not isinstance(app.screen, DetailsScreen), "one click only moves the cursor"
        await pilot.double_click(ConnectionTable, offset=(3, 2))
        await pilot.pause()
        assert table.cursor_row == 1
        assert isinstance(app.screen, DetailsScreen), "a double click opens the row's details"


def test_the_measured_widths_are_the_cells_widths() -> None:
    from nettop.view import MEASURED, Row, _sizes
    from tests.demo_data import demo_records

    records = [
        *demo_records(),
        hidden(6000, 0),
        conn(8443, local_ip=LONG_V6, family=6)._replace(interface="eth0", netns="web-ns"),
        conn(1, 2, pid=None, state=State.TIME_WAIT),
    ]
    for record in records:
        assert _sizes(Row(record, 0.0, "")) == tuple(len(column.cell(record)) for column in MEASURED), record
