"""Traffic per connection: the kernel's byte counts over netlink, rates between collections keyed by inode, and
how they are shown (columns, details, JSON, CSV), checked with bytes sent over real loopback connections."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from nettop.app import NettopApp
from nettop.events import events_of
from nettop.formats.nettop_json import records_from_json
from nettop.model import Connection, Proto, State, Traffic
from nettop.screens.details import DetailsScreen
from nettop.snapshots import diff_records
from nettop.sources import sockdiag
from nettop.sources.command import Wants
from nettop.traffic import TrafficMeter
from nettop.view import COLUMNS_BY_KEY, TRAFFIC, visible_columns
from nettop.widgets.conn_table import ConnectionTable
from nettop.writers.csv import to_csv
from nettop.writers.json import to_json
from tests.scripted import FakeClock, ScriptedSource, conn, first_snapshot
from tests.sockets import exchange

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="sock_diag is Linux's")


@contextlib.contextmanager
def connection(host: str = "127.0.0.1") -> Iterator[tuple[socket.socket, socket.socket]]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as listener:
        listener.bind((host, 0))
        listener.listen(1)
        with socket.create_connection(listener.getsockname()[:2]) as client, listener.accept()[0] as server:
            yield client, server


def counted(client: socket.socket, server: socket.socket) -> tuple[Connection, Connection]:
    """Both ends' records from a dump that asks for tcp_info, as the netlink source reads them."""
    records = sockdiag.records(sockdiag.receive(with_info=True), with_traffic=True)
    return ends(records, client, server)


def ends(records: list[Connection], client: socket.socket, server: socket.socket) -> tuple[Connection, Connection]:
    def end(sock: socket.socket) -> Connection:
        local, remote = sock.getsockname()[:2], sock.getpeername()[:2]
        (found,) = [r for r in records if (r.local_ip, r.local_port, r.remote_ip, r.remote_port) == (*local, *remote)]
        return found

    return end(client), end(server)


@linux_only
@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_bytes_each_way_are_counted_exactly_at_both_ends(host: str) -> None:
    with connection(host) as (client, server):
        exchange(client, server, 250_000)
        exchange(server, client, 12_345)
        client_record, server_record = counted(client, server)
    # bytes_acked counts the connecting side's SYN: bytes out are bounded by the data sent once.
    assert client_record.traffic is not None and server_record.traffic is not None
    assert (client_record.traffic.bytes_out, client_record.traffic.bytes_in) == (250_000, 12_345)
    assert (server_record.traffic.bytes_out, server_record.traffic.bytes_in) == (12_345, 250_000)
    assert client_record.traffic.retransmits == 0 and client_record.traffic.rtt_us > 0
    assert client_record.traffic.rate_in is None, "no rate before the socket was seen twice"


@linux_only
def test_rates_are_the_bytes_between_two_reads_over_the_time_between_them() -> None:
    meter = TrafficMeter()
    with connection() as (client, server):
        first = meter.rated(sockdiag.records(sockdiag.receive(with_info=True), with_traffic=True), now=100.0)
        exchange(client, server, 80_000)
        exchange(server, client, 3_000)
        second = meter.rated(sockdiag.records(sockdiag.receive(with_info=True), with_traffic=True), now=102.0)
        before, after = ends(first, client, server)[0], ends(second, client, server)[0]
        third = meter.rated(sockdiag.records(sockdiag.receive(with_info=True), with_traffic=True), now=103.0)
        idle = ends(third, client, server)[0]
    assert before.traffic is not None and before.traffic.rate_out is None
    assert after.traffic is not None and (after.traffic.rate_out, after.traffic.rate_in) == (40_000, 1_500)
    assert idle.traffic is not None and (idle.traffic.rate_out, idle.traffic.rate_in) == (0, 0)


def with_traffic(record: Connection, traffic: Traffic | None, inode: int = 7) -> Connection:
    return record._replace(traffic=traffic, inode=inode)


def test_rates_follow_the_inode_never_the_ends() -> None:
    """A new socket on the same ends (a new inode), or one whose counts went down (the inode taken again), starts
    without rates: never a burst, never bytes flowing backwards."""
    meter = TrafficMeter()
    record = conn(5000, 40000)
    meter.rated([with_traffic(record, Traffic(1_000, 1_000, 50, 0), inode=7)], now=1.0)
    (reused_ends,) = meter.rated([with_traffic(record, Traffic(9_000, 9_000, 50, 0), inode=8)], now=2.0)
    (counts_down,) = meter.rated([with_traffic(record, Traffic(10, 10, 50, 0), inode=8)], now=3.0)
    (then,) = meter.rated([with_traffic(record, Traffic(510, 2_010, 50, 0), inode=8)], now=5.0)
    assert reused_ends.traffic is not None and reused_ends.traffic.rate_in is None
    assert counts_down.traffic is not None and counts_down.traffic.rate_in is None
    assert then.traffic is not None and (then.traffic.rate_in, then.traffic.rate_out) == (250, 1_000)


@linux_only
def test_udp_and_listeners_have_no_counts_and_show_a_dash() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, socket.socket() as listener:
        udp.bind(("127.0.0.1", 0))
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        records = sockdiag.records(sockdiag.receive(with_info=True), with_traffic=True)
        # By protocol too: TCP and UDP ports are apart, and a connection of another test may have the same number.
        mine = {(Proto.UDP, udp.getsockname()[1]), (Proto.TCP, listener.getsockname()[1])}
        ours = [r for r in records if (r.proto, r.local_port) in mine and r.remote_ip is None]
    assert {r.proto for r in ours} == {Proto.TCP, Proto.UDP} and all(r.traffic is None for r in ours)
    rx, rtt = COLUMNS_BY_KEY["rx"], COLUMNS_BY_KEY["rtt"]
    assert {rx.cell(r) for r in ours} == {"—"} and {rtt.cell(r) for r in ours} == {"—"}


def test_traffic_changes_rows_but_makes_no_event() -> None:
    quiet = with_traffic(conn(5000, 40000), Traffic(100, 100, 50, 0, 0, 0))
    busy = with_traffic(conn(5000, 40000), Traffic(90_100, 100, 50, 0, 45_000, 0))
    change = diff_records([quiet], [busy])
    assert [c.fields for c in change.changed.values()] == [("traffic",)]
    assert events_of(change, 0.0) == [] and change.is_empty


def test_rate_columns_sort_the_busiest_first_and_read_as_units() -> None:
    slow = with_traffic(conn(5000, 40000), Traffic(0, 0, 50, 0, 999, 0))
    fast = with_traffic(conn(5001, 40001), Traffic(0, 0, 50, 0, 12_345_678, 0))
    fresh = with_traffic(conn(5002, 40002), Traffic(0, 0, 50, 0))
    udp = conn(53, proto=Proto.UDP)
    rx = COLUMNS_BY_KEY["rx"]
    assert sorted([udp, fresh, slow, fast], key=rx.sort_key) == [fast, slow, fresh, udp]
    assert [rx.cell(r) for r in (fast, slow, fresh, udp)] == ["12.3 MB", "999 B", "", "—"]


def test_traffic_columns_only_for_a_source_that_reads_it() -> None:
    assert "rx" not in [c.key for c in visible_columns(200)]
    assert [c.key for c in visible_columns(120, {TRAFFIC}) if c.needs] == ["rx", "tx"]
    assert [c.key for c in visible_columns(130, {TRAFFIC}) if c.needs] == ["rx", "tx", "rtt"]


def test_traffic_round_trips_through_json_and_flattens_in_csv() -> None:
    record = with_traffic(conn(5000, 40000), Traffic(1, 2, 3, 4, 5, None))
    (back,) = records_from_json(to_json([record]))
    assert back.traffic == record.traffic
    assert json.loads(to_json([record]))[0]["traffic"] == {
        "bytes_in": 1, "bytes_out": 2, "rate_in": 5, "rate_out": None, "rtt_us": 3, "retransmits": 4,
    }  # fmt: skip
    (row,) = csv.DictReader(io.StringIO(to_csv([record])))
    assert (row["traffic_bytes_in"], row["traffic_rate_out"], row["traffic_rtt_us"]) == ("1", "", "3")
    with pytest.raises(ValueError, match=r"traffic\.rtt_us"):
        records_from_json('[{"proto": "tcp", "family": 4, "local_ip": "1.2.3.4", "state": "LISTEN", "traffic": {}}]')


@linux_only
def test_list_rates_gives_each_end_its_bytes() -> None:
    with connection() as (client, server):
        exchange(client, server, 70_000)
        client_port, server_port = client.getsockname()[1], server.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "nettop", "list", "--rates", "--format", "json", "--port", str(client_port)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    by_end = {(r["local_port"], r["remote_port"]): r["traffic"] for r in rows}
    assert by_end[(client_port, server_port)] | {"rtt_us": 0} == {
        "bytes_in": 0, "bytes_out": 70_000, "rate_in": 0, "rate_out": 0, "rtt_us": 0, "retransmits": 0,
    }  # fmt: skip
    assert by_end[(server_port, client_port)]["bytes_in"] == 70_000


def test_rates_need_the_netlink_source() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "nettop", "list", "--rates", "--source", "ss"], capture_output=True, text=True
    )
    assert done.returncode == 2 and "--rates reads the kernel's counts over netlink" in done.stderr


async def test_the_viewer_asks_for_traffic_and_shows_rates_and_totals() -> None:
    busy = with_traffic(conn(5000, 40000, name="curl", pid=77), Traffic(3_000_000, 500, 120, 2, 1_500_000, 250))
    other = with_traffic(conn(5001, 40001, name="curl", pid=77), Traffic(10, 10, 80, 0, 500_000, 0))
    udp = conn(53, proto=Proto.UDP, name="dnsmasq", pid=30)
    clock = FakeClock()
    source = ScriptedSource([[busy, other, udp]], clock, source_name="netlink")
    source.wants = Wants()  # type: ignore[attr-defined]
    app = NettopApp(source, interval=60, clock=clock)
    async with app.run_test(size=(140, 30)) as pilot:
        await first_snapshot(pilot, app)
        assert source.wants.traffic  # type: ignore[attr-defined]
        table = app.query_one(ConnectionTable)
        header = table.render_line(0).text
        assert "Rx/s" in header and "Tx/s" in header and "RTT" in header
        lines = [table.render_line(y).text for y in range(1, 4)]
        (row,) = [line for line in lines if " 5000 " in line]
        assert "1.5 MB" in row and "250 B" in row and "0.12 ms" in row
        assert any(" 53 " in line and "—" in line for line in lines)
        app.sort_column = "rx"
        await pilot.pause()
        assert table.entry(0)[1].record.local_port == 5000, "the busiest first"
        table.move_cursor_to(next(k for k, r in app.model.current.items() if r.local_port == 5000))
        await pilot.press("enter")
        assert isinstance(app.screen, DetailsScreen)
        text = str(app.screen.query_one("#details-text").render())
        assert "Traffic: in 3.0 MB (1.5 MB/s)   out 500 B (250 B/s)" in text
        assert "traffic of its TCP connections (2 connections): in 2.0 MB/s, out 250 B/s" in text


def test_an_idle_connection_keeps_its_record_and_a_busy_one_is_rated_over_the_last_interval() -> None:
    meter = TrafficMeter()
    record = with_traffic(conn(5000, 40000), Traffic(1_000, 1_000, 50, 0), inode=9)
    meter.rated([record], now=1.0)
    (idle,) = meter.rated([record], now=2.0)
    (still,) = meter.rated([record], now=3.0)
    assert idle.traffic is not None and (idle.traffic.rate_in, idle.traffic.rate_out) == (0, 0)
    assert still is idle, "the same record: nothing downstream needs to look at it again"
    (busy,) = meter.rated([with_traffic(record, Traffic(5_000, 1_000, 50, 0), inode=9)], now=5.0)
    assert busy.traffic is not None and (busy.traffic.rate_in, busy.traffic.rate_out) == (2_000, 0)


@linux_only
def test_the_live_decoder_decodes_only_what_moved_and_rates_it_over_the_time_between_reads() -> None:
    decoder = sockdiag.LiveDecoder()

    def read(now: float) -> sockdiag.LiveRead:
        return decoder.read([(sockdiag.receive(with_info=True), None, None)], True, now)

    def ours(got: sockdiag.LiveRead, client: socket.socket) -> list[Connection]:
        ends = (client.getsockname()[1], client.getpeername()[1])
        return [r for _, r in got.fresh if r.local_port in ends and r.remote_port in ends]

    with connection() as (client, server):
        first = read(10.0)
        assert len(ours(first, client)) == 2 and first.kept == 0, "the first read decodes every socket"
        second = read(11.0)  # nothing moved, but rates unknown until now: both ends are made again, with 0
        assert [(r.traffic.rate_in, r.traffic.rate_out) for r in ours(second, client) if r.traffic] == [(0, 0)] * 2
        third = read(12.0)
        assert ours(third, client) == [] and third.kept >= 2, "idle: kept, not decoded"
        exchange(client, server, 30_000)
        fourth = read(14.0)
        (sender,) = [r for r in ours(fourth, client) if r.local_port == client.getsockname()[1]]
        assert sender.traffic is not None and (sender.traffic.rate_out, sender.traffic.rate_in) == (15_000, 0)
        client_ends = {client.getsockname()[1], client.getpeername()[1]}
    fifth = read(15.0)
    assert len(fifth.gone) >= 2 and not any(
        r.local_port in client_ends and r.remote_port in client_ends and r.state is State.ESTABLISHED
        for _, r in fifth.fresh
    )


@pytest.mark.parametrize("flag", ["--rates", "--all-netns"])
def test_the_netlink_flags_say_they_are_linux_s_elsewhere(
    flag: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from nettop.cli import main

    monkeypatch.setattr(sys, "platform", "darwin")
    with pytest.raises(SystemExit) as stopped:
        main(["list", flag])
    assert stopped.value.code == 2 and f"{flag} reads Linux's socket table over netlink: not on darwin" in (
        capsys.readouterr().err
    )
