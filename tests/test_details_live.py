"""The details screen follows its connection while it is open: new state, queues and traffic, and a line saying
when it closed."""

from __future__ import annotations

import time

from textual.widgets import Static

from nettop.model import Owner, State, Traffic
from nettop.screens.details import DetailsScreen
from nettop.view import CLOSED_LINGER_SECONDS
from nettop.widgets.conn_table import ConnectionTable
from tests.scripted import conn
from tests.test_app import BASE, make, settle

WATCHED = BASE[2]  # nginx's 10.0.0.1:443 → 10.0.0.9:50000, ESTABLISHED
LATER = WATCHED._replace(
    state=State.CLOSE_WAIT,
    recv_q=7,
    send_q=1200,
    owners=(*WATCHED.owners, Owner(21, "nginx-worker", "www")),
    traffic=Traffic(3_000_000, 40_000, 900, 1, 1_500_000, 2_000),
)
#: Another connection of nginx's, with traffic: the owner's total rate counts both.
BUSY = conn(443, 50001, local_ip="10.0.0.1", remote_ip="10.0.0.8", name="nginx", pid=20, user="www")._replace(
    traffic=Traffic(10, 10, 80, 0, 500_000, 1_000)
)


def details_text(app) -> str:  # type: ignore[no-untyped-def]
    return str(app.screen.query_one("#details-text", Static).render())


def at(when: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(when))


async def test_open_details_follow_the_connection_then_say_it_closed() -> None:
    later = [r for r in BASE if r is not WATCHED]
    app, source, clock = make([BASE, [*later, LATER, BUSY], later])
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app, source, 1)
        table = app.query_one(ConnectionTable)
        table.move_cursor_to(next(k for k, r in app.model.current.items() if r.remote_port == 50000))
        await pilot.press("enter")
        assert isinstance(app.screen, DetailsScreen)
        before = details_text(app)
        assert "State: ESTABLISHED" in before and "Traffic" not in before and "CLOSED" not in before

        clock.now += 2
        await settle(pilot, app, source, 2)
        text = details_text(app)
        assert "State: CLOSE_WAIT   Recv-Q 7  Send-Q 1200" in text
        assert "Traffic: in 3.0 MB (1.5 MB/s)   out 40.0 kB (2.0 kB/s)" in text
        assert "Owner pid 21  nginx-worker  user www" in text, "an owner that joined"
        assert "traffic of its TCP connections (2 connections): in 2.0 MB/s, out 3.0 kB/s" in text
        assert "tcp4 10.0.0.1:443 → 10.0.0.8:50001 ESTABLISHED" in text, "the owners' new socket"
        assert not app.screen.has_class("-closed")

        clock.now += 2
        closed_at = clock.now
        await settle(pilot, app, source, 3)
        text = details_text(app)
        assert text.startswith(f"CLOSED at {at(closed_at)}  (as it was last seen:)\n")
        assert "State: CLOSE_WAIT   Recv-Q 7" in text, "the last state seen stays"
        assert app.screen.has_class("-closed")

        # The row lingers, then goes from the table: the details keep saying when it closed.
        clock.now += CLOSED_LINGER_SECONDS + 1
        app._tick()
        await settle(pilot, app, source, 4)
        assert details_text(app).startswith(f"CLOSED at {at(closed_at)}")


async def test_details_of_a_closed_row_say_so_from_the_start() -> None:
    later = [r for r in BASE if r is not WATCHED]
    app, source, clock = make([BASE, later])
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app, source, 1)
        clock.now += 2
        closed_at = clock.now
        await settle(pilot, app, source, 2)
        table = app.query_one(ConnectionTable)
        table.move_cursor_to(next(k for k, r in app.model.rows.items() if r.record.remote_port == 50000))
        await pilot.press("enter")
        assert isinstance(app.screen, DetailsScreen)
        assert details_text(app).startswith(f"CLOSED at {at(closed_at)}")
        assert "State: ESTABLISHED" in details_text(app)
