"""Issue 14 (parse fidelity) for BSD netstat: rows without their header, ports written as names, odd owner cells,
FreeBSD's ``-T`` and ``-x`` layouts, and outputs refused for what they are.

Where each input comes from: ``tests/data/handmade/README.netstat-bsd-lsof.md`` for the files, and the comment
beside each inline input. The expected records are written from the text, by hand.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nettop.errors import NotASocketTable, UnknownFormat
from nettop.formats import netstat_bsd, parse_text
from nettop.formats.common import port_or_service
from nettop.formats.netstat_bsd import looks_like_header, looks_like_rows, parse, solaris_netstat
from nettop.model import Connection, Owner, OwnerStatus, Proto, State
from tests.conftest import DATA, read_text

HANDMADE = DATA / "handmade"


def handmade(name: str) -> str:
    return read_text(HANDMADE / name)


def fields(record: Connection) -> tuple[object, ...]:
    """What a row says of its socket: protocol, family, both ends, state, queues."""
    return (
        record.proto,
        record.family,
        record.local_ip,
        record.local_port,
        record.remote_ip,
        record.remote_port,
        record.state,
        record.recv_q,
        record.send_q,
    )


# --- 1. rows without their header (netstat -an | grep ...) ----------------------------------------------------


def test_macos_rows_through_grep_are_read() -> None:
    """Verbatim rows of https://github.com/sebhildebrandt/systeminformation/issues/951 (``netstat -natvln`` through
    grep on macOS 15): the columns up to the state are BSD's own; what follows it cannot be placed without the
    header, so the owners are not reported."""
    text = handmade("macos-15_netstat-natvln-grep.out")
    result = parse_text(text)
    assert result.format == "netstat-bsd"
    assert result.issues == ()
    tcp, est = Proto.TCP, State.ESTABLISHED
    assert [fields(r) for r in result.records] == [
        (tcp, 4, "192.168.1.233", 52137, "34.117.41.85", 443, est, 0, 126),
        (tcp, 4, "192.168.1.233", 52126, "123.57.223.58", 443, est, 0, 0),
        (tcp, 4, "192.168.1.233", 52125, "123.57.223.58", 443, est, 0, 0),
        (tcp, 4, "192.168.1.233", 52094, "47.106.66.231", 443, est, 0, 0),
    ]
    assert {(r.owners, r.owner_status, r.truncated) for r in result.records} == {((), OwnerStatus.NOT_REPORTED, False)}
    assert [r.raw for r in result.records] == text.splitlines()


def test_the_issue_s_grep_line() -> None:
    """The line quoted in issue 14: the CUPS listener, found with ``netstat -an | grep 631``."""
    result = parse_text(handmade("macos_netstat-an-grep-631.out"))
    assert result.format == "netstat-bsd"
    (record,) = result.records
    assert fields(record) == (Proto.TCP, 4, "127.0.0.1", 631, None, None, State.LISTEN, 0, 0)


def test_linux_netstat_and_ss_rows_are_not_claimed(corpus: Path) -> None:
    """Every row of Linux netstat (``127.0.0.1:631``, ``:::22``, ``0.0.0.0:*``: a colon before the port) and of ss
    (a state in the second column) is refused by the BSD row test."""
    for name in ("debian12/netstat-tunap.out", "debian12/netstat-tuap.out", "debian12/ss-tunapH.out"):
        rows = [line for line in read_text(corpus / name).splitlines() if line[:3] in ("tcp", "udp")]
        assert rows, name
        assert not any(looks_like_rows(line) for line in rows), name


@pytest.mark.parametrize(
    "line",
    [
        "tcp        0      0 127.0.0.1:631           0.0.0.0:*               LISTEN",  # Linux netstat -an
        "tcp6       0      0 :::22                   :::*                    LISTEN",
        "tcp        0      0 localhost.localdoma:ssh 0.0.0.0:*               LISTEN",  # cut name (jc centos-7.7)
        "tcp   LISTEN 0      128        127.0.0.1:631        0.0.0.0:*",  # ss -H
        "tcp4  0  0",  # too short
    ],
)
def test_row_test_refuses(line: str) -> None:
    assert not looks_like_rows(line)


# --- 2. ports written as names ---------------------------------------------------------------------------------


def test_unknown_service_names_keep_their_rows(corpus: Path) -> None:
    """jc/osx-10.14.6/netstat.out line 47 (no -n): ``ldgateway`` is in no services table nettop has: the row is
    kept, port None, the name kept. Line 19's ``dsf`` is in nettop's bundled table (555)."""
    if port_or_service("ldgateway", Proto.TCP)[1] is None:
        pytest.skip("this machine's services database numbers ldgateway")
    text = read_text(corpus / "jc/osx-10.14.6/netstat.out")
    records = {r.raw: r for r in parse(text).records}
    lines = text.splitlines()
    named = records[lines[46]]
    assert (named.local_ip, named.local_port, named.local_service) == ("localhost", None, "ldgateway")
    assert (named.remote_ip, named.remote_port, named.remote_service, named.state) == (
        "localhost",
        58704,
        None,
        State.CLOSE_WAIT,
    )
    assert not named.truncated  # "localhost.ldgateway" is 19 characters: shorter than its 22-character column
    dsf = records[lines[18]]
    assert (dsf.remote_ip, dsf.remote_port, dsf.remote_service) == ("194.123.235.35.b", 555, None)
    assert dsf.truncated  # its host is a 16-character stub


def test_a_cut_name_is_not_a_service(corpus: Path) -> None:
    """Line 16: ``93.87.236.35.bc..sunpr`` fills its 22-character column: ``sunpr`` is ``sunproxyadmin`` cut
    short, not a service of its own. The port is None, no service name is kept, and the record is truncated."""
    text = read_text(corpus / "jc/osx-10.14.6/netstat.out")
    line = text.splitlines()[15]
    (record,) = [r for r in parse(text).records if r.raw == line]
    assert (record.remote_ip, record.remote_port, record.remote_service, record.truncated) == (
        "93.87.236.35.bc.",
        None,
        None,
        True,
    )


# --- 3. odd owner cells in macOS -v's process column ------------------------------------------------------------

MACOS_26 = handmade("macos-26_netstat-anv.out").splitlines()
MACOS_26_ROW = MACOS_26[6]  # cupsd:812 listening on 127.0.0.1.631


@pytest.mark.parametrize(
    ("cell", "owners", "status"),
    [
        ("cupsd", (Owner(None, "cupsd"),), OwnerStatus.NOT_REPORTED),  # a bare name: an owner, its pid unknown
        ("?", (), OwnerStatus.NOT_REPORTED),
        ("", (), OwnerStatus.NOT_REPORTED),  # blank: the columns on either side are all there
        ("cupsd:?", (Owner(None, "cupsd"),), OwnerStatus.NOT_REPORTED),
    ],
)
def test_odd_process_cells_keep_the_socket(cell: str, owners: tuple[object, ...], status: OwnerStatus) -> None:
    """Edits of the macOS 26 row (https://github.com/sindresorhus/pid-port/issues/14's layout) in the process:pid
    column, which pid-port#15 says most, not all, rows fill."""
    row = MACOS_26_ROW.replace("cupsd:812", cell.rjust(len("cupsd:812")))
    result = parse("\n".join([*MACOS_26[:2], row]) + "\n")
    assert result.issues == ()
    (record,) = result.records
    assert (record.owners, record.owner_status) == (owners, status)
    assert fields(record)[:7] == (Proto.TCP, 4, "127.0.0.1", 631, None, None, State.LISTEN)
    assert record.raw == row


# --- 4. FreeBSD -T and -x ---------------------------------------------------------------------------------------


def test_freebsd_tcp_counters_layout() -> None:
    """``netstat -anT`` (composed with FreeBSD's inet.c ``protopr`` formats): Rexmit, OOORcv and 0-win take the
    queues' place, UDP rows leave them blank, and no state is printed."""
    text = handmade("freebsd-14_netstat-anT.out")
    assert looks_like_header(text.splitlines()[1])
    result = parse_text(text)
    assert (result.format, result.issues) == ("netstat-bsd", ())
    tcp, udp, unknown, unconnected = Proto.TCP, Proto.UDP, State.UNKNOWN, State.UNCONNECTED
    assert [fields(r) for r in result.records] == [
        (tcp, 4, "192.168.71.163", 22, "192.168.71.1", 56321, unknown, None, None),
        (tcp, 4, "127.0.0.1", 25, None, None, unknown, None, None),
        (tcp, 6, "::", 22, None, None, unknown, None, None),
        (udp, 4, "0.0.0.0", 514, None, None, unconnected, None, None),
        (udp, 6, "::", 514, None, None, unconnected, None, None),
        (udp, 4, "127.0.0.1", 53, None, None, unconnected, None, None),  # a bound address starts with digits
    ]
    assert [r.v6only for r in result.records] == [None, None, True, None, True, None]


def test_freebsd_socket_buffer_layout() -> None:
    """``netstat -anx`` (composed likewise): the queues, then 12 buffer columns (R-MBUF …) and, for TCP, 6 timers;
    no state."""
    text = handmade("freebsd-14_netstat-anx.out")
    assert looks_like_header(text.splitlines()[1])
    result = parse_text(text)
    assert (result.format, result.issues) == ("netstat-bsd", ())
    assert [fields(r) for r in result.records] == [
        (Proto.TCP, 4, "192.168.71.163", 22, "192.168.71.1", 56321, State.UNKNOWN, 0, 36),
        (Proto.TCP, 4, "127.0.0.1", 25, None, None, State.UNKNOWN, 0, 0),
        (Proto.UDP, 4, "0.0.0.0", 514, None, None, State.UNCONNECTED, 0, 0),
    ]


def test_stateless_headers_are_told_from_linux_ones() -> None:
    assert looks_like_header("Proto Recv-Q Send-Q Local Address          Foreign Address          flowid ftype")
    assert not looks_like_header("Proto Recv-Q Send-Q Local Address           Foreign Address         State")
    assert not looks_like_header("Proto Recv-Q Send-Q Local Address           Foreign Address")
    assert netstat_bsd.read_header("Proto Rexmit OOORcv 0-win  Local Address          Foreign Address") == (
        netstat_bsd.Layout(0, False, 0, -1, -1, 22, True)
    )


# --- 5. what is not a BSD socket list, said by name --------------------------------------------------------------


def test_solaris_netstat_is_refused_by_name() -> None:
    """Composed from Solaris 11's netstat(1M) layout: sections ``UDP: IPv4``/``TCP: IPv4``, addresses first, and
    ``Swind Send-Q Rwind Recv-Q State`` in the TCP table."""
    text = handmade("solaris-11_netstat-an.out")
    assert solaris_netstat(text)
    with pytest.raises(UnknownFormat, match=r"^Solaris netstat output is not supported$"):
        parse(text)
    tcp_only = "\n".join(text.splitlines()[8:]) + "\n"  # the header alone, without its title
    assert solaris_netstat(tcp_only)
    assert not solaris_netstat(read_text(HANDMADE / "macos-26_netstat-anv.out"))


def test_multicast_tables_are_refused() -> None:
    """``netstat -g`` on FreeBSD with no multicast routing (the messages of mroute.c and mroute6.c)."""
    text = handmade("freebsd-14_netstat-g.out")
    for reader in (parse, parse_text):
        with pytest.raises(NotASocketTable, match=r"this is multicast routing tables \(netstat -g\)"):
            reader(text)


def test_statistics_are_refused_through_detection() -> None:
    """``netstat -s`` on FreeBSD and macOS opens with ``tcp:`` (inet.c ``tcp_stats``: ``"{T:/%s}:\\n"``)."""
    with pytest.raises(NotASocketTable, match=r"this is protocol statistics \(netstat -s\)"):
        parse_text("tcp:\n\t1234 packets sent\n\t\t1000 data packets (123456 bytes)\n")


# --- rows of other tables are counted, not reported ------------------------------------------------------------


def test_other_sockets_are_counted(corpus: Path) -> None:
    """jc/osx-10.14.6/netstat.out: UNIX rows on lines 165-589, kernel control modules 592-608, kernel event
    sockets 611-637, kernel control sockets 640-737 (each table's title and header come before). The
    Multipath table has a header and no row."""
    result = parse(read_text(corpus / "jc/osx-10.14.6/netstat.out"))
    assert dict(result.skipped) == {
        "UNIX": 589 - 165 + 1,
        "kernel control module": 608 - 592 + 1,
        "kernel event": 637 - 611 + 1,
        "kernel control": 737 - 640 + 1,
    }


def test_a_multipath_connection_counts_once() -> None:
    """An MPTCP connection's detail and subflow lines are indented: the connection counts once."""
    text = (
        "Active Internet connections\n"
        "Proto Recv-Q Send-Q  Local Address          Foreign Address        (state)    \n"
        "tcp4       0      0  127.0.0.1.631          *.*                    LISTEN     \n"
        "Active Multipath Internet connections\n"
        "Proto/ID  Flags      Local Address          Foreign Address        (state)    \n"
        "mptcp/00  00000001/00000002                                    ESTABLISHED \n"
        "      [tok(0x1) snd(0x2) rcv(0x3) aid(1)]\n"
        " tcp4/00  00000000   192.168.1.2.50000      17.1.1.1.443           ESTABLISHED \n"
    )
    result = parse(text)
    assert result.skipped == (("Multipath", 1),)
    assert [(r.local_port, r.state) for r in result.records] == [(631, State.LISTEN)]


@pytest.mark.parametrize("cell", ["?", "-"])
def test_an_odd_pid_cell_keeps_the_socket(cell: str) -> None:
    """An edit of the first row of ``macos-10.14_netstat-vn-p-tcp.out`` (``pid`` column) with no pid in it."""
    lines = handmade("macos-10.14_netstat-vn-p-tcp.out").splitlines()
    row = lines[2].replace("   9811", cell.rjust(len("   9811")), 1)
    result = parse("\n".join([*lines[:2], row]) + "\n")
    assert result.issues == ()
    (record,) = result.records
    assert (record.owners, record.owner_status) == ((), OwnerStatus.NOT_REPORTED)
    assert fields(record) == (Proto.TCP, 4, "192.168.1.191", 52044, "31.13.66.35", 443, State.ESTABLISHED, 0, 0)
