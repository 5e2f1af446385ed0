"""The BSD netstat parser against recorded macOS and FreeBSD outputs, jc's parse of them, and hand-made layouts.

Where each line of the hand-made files comes from: ``tests/data/handmade/README.netstat-bsd-lsof.md``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from nettop.errors import NotASocketTable, UnknownFormat
from nettop.formats import netstat_bsd
from nettop.formats.common import port_or_service
from nettop.formats.netstat_bsd import has_pids, looks_like, parse
from nettop.model import Connection, Owner, OwnerStatus, ParseIssue, Proto, State
from tests.conftest import DATA, read_text

HANDMADE = DATA / "handmade"

#: Every macOS and FreeBSD output of the corpus: socket tables, and the tables a parser must refuse.
SOCKET_TABLES = [
    "jc/osx-10.14.6/netstat.out",
    "jc/osx-10.14.6/netstat-An.out",
    "jc/osx-10.14.6/netstat-Abn.out",
    "jc/freebsd12/netstat-an.out",
    "jc/freebsd12/netstat-Aa.out",
    "jc/freebsd12/netstat-AanP.out",
]
OTHER_TABLES = {
    "jc/osx-10.14.6/netstat-i.out": "an interface table (netstat -i)",
    "jc/osx-10.14.6/netstat-r.out": "a routing table (netstat -r)",
    "jc/osx-10.14.6/netstat-rnl.out": "a routing table (netstat -r)",
    "jc/freebsd12/netstat-i.out": "an interface table (netstat -i)",
    "jc/freebsd12/netstat-r.out": "a routing table (netstat -r)",
}


def test_the_list_covers_every_bsd_file_of_the_corpus(corpus: Path) -> None:
    found = {
        str(path.relative_to(corpus))
        for folder in ("osx-10.14.6", "freebsd12")
        for path in (corpus / "jc" / folder).glob("*.out")
    }
    assert found == set(SOCKET_TABLES) | set(OTHER_TABLES)


def known_here(service: str, proto: str) -> bool:
    """Whether nettop can number the service: its bundled table, then this machine's database."""
    return port_or_service(service, Proto(proto))[1] is None


def services_known(*pairs: tuple[str, str]) -> None:
    """Skip when this machine's services database cannot resolve names an output made without -n holds."""
    for service, proto in pairs:
        if not known_here(service, proto):
            pytest.skip(f"this machine's services database (/etc/services) does not know {service}/{proto}")


def socket_lines(text: str) -> list[int]:
    """Line numbers (1-based) of the internet socket rows, found without the parser: the first cell of the row
    (after the -A columns) names a protocol."""
    lines = text.splitlines()
    header = lines[1].split()
    lead = header.index("Proto")
    return [
        n for n, line in enumerate(lines, 1) if len(line.split()) > lead and line.split()[lead] in netstat_bsd.PROTOS
    ]


# --- the corpus: everything parses, or is refused for what it is ------------------------------------------------


@pytest.mark.parametrize("name", SOCKET_TABLES)
def test_every_socket_table_parses(corpus: Path, name: str) -> None:
    text = read_text(corpus / name)
    result = parse(text)
    assert result.format == "netstat-bsd"
    rows = socket_lines(text)
    # Every socket row is a record: a port written as a service name nettop cannot number keeps its row, the
    # name in local_service/remote_service (the captures were made without -n on macOS and FreeBSD).
    assert result.issues == ()
    assert [r.raw for r in result.records] == [text.splitlines()[n - 1] for n in rows]
    assert {r.source for r in result.records} == {"netstat"}
    assert all(r.owner_status is OwnerStatus.NOT_REPORTED and r.owners == () for r in result.records)
    assert not has_pids(text)
    assert looks_like(text)


@pytest.mark.parametrize(("name", "what"), OTHER_TABLES.items())
def test_route_and_interface_tables_are_refused(corpus: Path, name: str, what: str) -> None:
    text = read_text(corpus / name)
    with pytest.raises(NotASocketTable, match=re.escape(f"this is {what}")):
        parse(text)
    assert not looks_like(text)


def test_macos_default_output_sections(corpus: Path) -> None:
    """``netstat`` on macOS: internet rows, then Multipath, UNIX, kernel control and event tables, all skipped."""
    services_known(("mdns", "udp"))
    text = read_text(corpus / "jc/osx-10.14.6/netstat.out")
    result = parse(text)
    assert len(result.records) + len(result.issues) == 158  # the internet rows of lines 3-160
    assert all(3 <= i.line_no <= 160 for i in result.issues)
    assert [r.raw for r in result.records if r.raw.startswith(("kctl", "kevt"))] == []
    icmp = result.records[-1]
    assert (icmp.proto, icmp.family, icmp.local_ip, icmp.local_port, icmp.remote_ip, icmp.state, icmp.recv_q) == (
        Proto.RAW,
        4,
        "0.0.0.0",
        None,
        None,
        State.UNCONNECTED,
        8136,
    )
    dual = [r for r in result.records if r.raw.startswith("udp46")]
    assert len(dual) == 6
    assert {(r.family, r.local_ip, r.v6only) for r in dual} == {(6, "::", False)}
    unbound = [r for r in result.records if r.raw.split()[3:5] == ["*.*", "*.*"] and r.proto is Proto.UDP]
    assert {(r.family, r.local_ip, r.local_port, r.remote_ip, r.remote_port) for r in unbound} == {
        (4, "0.0.0.0", None, None, None),
        (6, "::", None, None, None),  # udp46
    }


def test_freebsd_numeric_rows_exactly(corpus: Path) -> None:
    result = parse(read_text(corpus / "jc/freebsd12/netstat-an.out"))
    assert result.issues == ()
    common = {"owners": (), "owner_status": OwnerStatus.NOT_REPORTED, "interface": None, "recv_q": 0, "send_q": 0}
    common |= {"inode": None, "uid": None, "truncated": False, "source": "netstat"}
    expected = [
        (Proto.TCP, 4, "192.168.71.163", 22, "192.168.71.1", 56321, State.ESTABLISHED, None),
        (Proto.TCP, 4, "127.0.0.1", 25, None, None, State.LISTEN, None),
        (Proto.TCP, 4, "0.0.0.0", 22, None, None, State.LISTEN, None),
        # FreeBSD's default net.inet6.ip6.v6only=1: a tcp6 listener on the wildcard refuses IPv4.
        (Proto.TCP, 6, "::", 22, None, None, State.LISTEN, True),
        (Proto.UDP, 4, "0.0.0.0", 514, None, None, State.UNCONNECTED, None),
        (Proto.UDP, 6, "::", 514, None, None, State.UNCONNECTED, True),
    ]
    lines = read_text(corpus / "jc/freebsd12/netstat-an.out").splitlines()[2:8]
    for record, fields, line in zip(result.records, expected, lines, strict=True):
        proto, family, lip, lport, rip, rport, state, v6only = fields
        assert record == Connection(proto, family, lip, lport, rip, rport, state, v6only=v6only, raw=line, **common)


def without_raw_and_peer_port(record: Connection) -> Connection:
    return record._replace(raw="", truncated=False, remote_port=None)


def test_freebsd_tcpcb_and_log_id_columns(corpus: Path) -> None:
    """-A puts a Tcpcb column first, -P a two-word ``Log ID`` column last that UDP rows leave out."""
    plain = parse(read_text(corpus / "jc/freebsd12/netstat-an.out")).records
    with_tcpcb = parse(read_text(corpus / "jc/freebsd12/netstat-AanP.out")).records
    # The same machine a moment later: the same sockets, but the ssh connection's client port changed.
    assert [without_raw_and_peer_port(r) for r in with_tcpcb] == [without_raw_and_peer_port(r) for r in plain]
    assert with_tcpcb[0].remote_port == 64330


# --- a second opinion: jc ---------------------------------------------------------------------------------------


def jc_view(row: dict, proto: str) -> tuple:
    """jc's row in our terms: ``*`` hosts as the any address, service names looked up, a ``*.*`` peer None."""

    def port(text: str) -> int | str | None:
        if text.isdigit():
            return int(text)
        if text == "*":
            return None
        port, service = port_or_service(text, Proto(proto))
        return port if service is None else f"unknown service {text}"

    family = 6 if row["network_protocol"] == "ipv6" else 4
    any_host = "::" if family == 6 else "0.0.0.0"
    no_peer = row["foreign_address"] == "*" and row["foreign_port"] == "*"
    state = row.get("state") or ("UNCONNECTED" if no_peer else "ESTABLISHED")
    return (
        {"icmp": "raw"}.get(row["transport_protocol"], row["transport_protocol"]),
        family,
        any_host if row["local_address"] == "*" else row["local_address"],
        port(row["local_port"]),
        None if no_peer else row["foreign_address"],
        None if no_peer else port(row["foreign_port"]),
        state,
        row["recv_q"],
        row["send_q"],
    )


def our_view(r: Connection) -> tuple:
    return (
        r.proto.value,
        r.family,
        r.local_ip,
        r.local_port if r.local_service is None else f"unknown service {r.local_service}",
        r.remote_ip,
        r.remote_port if r.remote_service is None else f"unknown service {r.remote_service}",
        r.state.value,
        r.recv_q,
        r.send_q,
    )


#: Rows where jc is wrong (line number → why), and what each parser says instead.
JC_WRONG: dict[str, dict[int, str]] = {
    "jc/osx-10.14.6/netstat.out": {
        # netstat cut the cell "93.87.236.35.bc.googleusercontent.com.sunproxyadmin" to 22 characters: the
        # service name lost its tail, so the port is unknown. jc reports the stub as the port.
        16: "foreign port 'sunpr' is a cut service name",
        25: "foreign port 'sunpr' is a cut service name",
        40: "foreign port 'afpov' is a cut service name (afpovertcp)",
    },
    "jc/osx-10.14.6/netstat-Abn.out": {
        # An ICMP socket has no state, but jc expects one after the addresses: it takes rxbytes for the state
        # and txbytes for rxbytes.
        140: "jc reads the icm4 row's rxbytes 1325516 as its state",
    },
}


@pytest.mark.parametrize("name", SOCKET_TABLES)
def test_jc_agrees_where_it_is_right(corpus: Path, name: str) -> None:
    text = read_text(corpus / name)
    result = parse(text)
    theirs = [row for row in json.loads((corpus / name).with_suffix(".json").read_text()) if row["kind"] == "network"]
    rows = socket_lines(text)
    assert len(theirs) == len(rows)
    skipped = {issue.line_no for issue in result.issues}
    records = iter(result.records)
    differ = set()
    for line_no, row in zip(rows, theirs, strict=True):
        if line_no in skipped:
            continue  # a service name this machine does not know: no record to compare
        mine = next(records)
        if our_view(mine) != jc_view(row, mine.proto.value):
            differ.add(line_no)
    assert differ == set(JC_WRONG.get(name, {}))


def test_where_jc_is_wrong(corpus: Path) -> None:
    text = read_text(corpus / "jc/osx-10.14.6/netstat.out")
    lines = text.splitlines()
    records = {r.raw: r for r in parse(text).records}
    theirs = {row["foreign_port"] for row in json.loads((corpus / "jc/osx-10.14.6/netstat.json").read_text())[:158]}
    assert {"sunpr", "afpov"} <= theirs
    for line_no in JC_WRONG["jc/osx-10.14.6/netstat.out"]:
        cut = records[lines[line_no - 1]]
        assert (cut.remote_port, cut.truncated) == (None, True)
    assert cut.remote_ip == "mycloudex2ultra."  # the host too is a 16-character stub of a longer name

    abn = read_text(corpus / "jc/osx-10.14.6/netstat-Abn.out")
    icmp = parse(abn).records[-1]
    assert icmp.raw == abn.splitlines()[139]
    assert (icmp.proto, icmp.state, icmp.recv_q, icmp.send_q) == (Proto.RAW, State.UNCONNECTED, 8136, 0)
    row = [r for r in json.loads((corpus / "jc/osx-10.14.6/netstat-Abn.json").read_text()) if r["kind"] == "network"][
        -1
    ]
    assert (row["state"], row["rxbytes"], row.get("txbytes")) == ("1325516", 0, None)


# --- truncation: netstat cuts hosts and ports and says nothing; jc passes the stubs off as whole -----------------


def test_cut_cells_are_flagged(corpus: Path) -> None:
    counts = {name: sum(r.truncated for r in parse(read_text(corpus / name)).records) for name in SOCKET_TABLES}
    assert counts == {
        "jc/osx-10.14.6/netstat.out": 68,  # hosts cut to 16, 22-wide cells
        "jc/osx-10.14.6/netstat-An.out": 47,  # -A: 18-wide cells, port digits cut ("192.168.1.221.5486")
        "jc/osx-10.14.6/netstat-Abn.out": 47,
        "jc/freebsd12/netstat-an.out": 0,
        "jc/freebsd12/netstat-Aa.out": 1,
        "jc/freebsd12/netstat-AanP.out": 1,  # its peer cell "192.168.71.1.64330" fills the 18-wide column
    }


def test_a_cut_host_against_the_same_socket_uncut(corpus: Path) -> None:
    """FreeBSD ``-Aa`` (names, -A) keeps 12 characters of a host: the ssh connection's local address
    192.168.71.163 reads 192.168.71.1, which jc reports as the address; ``-an`` shows the same connection whole."""
    services_known(("ssh", "tcp"))
    cut = parse(read_text(corpus / "jc/freebsd12/netstat-Aa.out")).records[0]
    whole = parse(read_text(corpus / "jc/freebsd12/netstat-an.out")).records[0]
    assert (cut.local_ip, cut.local_port, cut.remote_ip, cut.remote_port) == ("192.168.71.1", 22, "192.168.71.1", 56321)
    assert cut.truncated and not whole.truncated
    assert (whole.local_ip, whole.local_port, whole.remote_port) == ("192.168.71.163", 22, 56321)
    jc_row = json.loads((corpus / "jc/freebsd12/netstat-Aa.json").read_text())[0]
    assert jc_row["local_address"] == "192.168.71.1"


def test_port_digits_cut_by_the_narrow_column(corpus: Path) -> None:
    records = parse(read_text(corpus / "jc/osx-10.14.6/netstat-An.out")).records
    link_local = next(r for r in records if r.raw.split()[5:7] == ["fe80::aede:48ff:.5", "fe80::aede:48ff:.4"])
    assert (link_local.local_ip, link_local.local_port, link_local.remote_port, link_local.truncated) == (
        "fe80::aede:48ff:",
        5,
        4,
        True,
    )
    loopback = next(r for r in records if r.raw.split()[5:7] == ["127.0.0.1.53755", "127.0.0.1.53763"])
    assert not loopback.truncated


def test_wide_cells_prove_nothing_was_cut() -> None:
    """A cell longer than its column can only come from -W, which cuts no IPv4 host: then a host of 16 characters
    is whole. (A numeric IPv4 cell is at most 21 characters: only names and IPv6 reach the cut.)"""
    header = "Active Internet connections\nProto Recv-Q Send-Q  Local Address          Foreign Address        (state)\n"
    sixteen = "tcp4       0      0  kbrazil-mac.attl.62979 40.77.18.167.443       ESTABLISHED\n"
    wide = "tcp4       0      0  build-server.example.org.54321 10.0.0.7.443 ESTABLISHED\n"
    assert [r.truncated for r in parse(header + sixteen).records] == [True]
    assert [r.truncated for r in parse(header + wide + sixteen).records] == [False, False]
    v6 = "tcp6       0      0  2001:db8:1234:56.54321 2001:db8::1.443        ESTABLISHED\n"
    assert [r.truncated for r in parse(header + wide + v6).records] == [False, True]  # macOS -W does not widen IPv6


# --- hand-made layouts: macOS netstat -v across releases ---------------------------------------------------------


def handmade(name: str) -> str:
    return read_text(HANDMADE / name)


def owner(pid: int, name: str | None = None) -> tuple[tuple[Owner, ...], OwnerStatus]:
    return (Owner(pid, name),), OwnerStatus.KNOWN


def bsd(raw: str, *fields: object, pid: int, name: str | None = None, **others: object) -> Connection:
    """The record a socket line with an owner should give: the line, the first seven fields, and the others."""
    owners, status = owner(pid, name)
    values = {"recv_q": 0, "send_q": 0, "source": "netstat", "raw": raw} | others
    return Connection(*fields, owners, status, **values)  # type: ignore[arg-type]


def test_macos_10_12_udp_with_pids() -> None:
    text = handmade("macos-10.12_netstat-anv-p-udp.out")
    assert has_pids(text) and looks_like(text)
    result = parse(text)
    assert result.issues == ()
    lines = text.splitlines()
    assert result.records == (
        bsd(lines[2], Proto.UDP, 4, "192.168.11.160", 57110, "172.217.12.232", 443, State.ESTABLISHED, pid=505),
        bsd(lines[3], Proto.UDP, 4, "192.168.11.160", 50040, "172.217.7.238", 443, State.ESTABLISHED, pid=505),
    )


def test_macos_10_14_tcp_with_pids() -> None:
    text = handmade("macos-10.14_netstat-vn-p-tcp.out")
    result = parse(text)
    assert result.issues == ()
    assert len(result.records) == 7
    lines = text.splitlines()
    assert result.records[3] == bsd(
        lines[5], Proto.TCP, 4, "192.168.1.191", 52040, "140.82.114.4", 443, State.CLOSE_WAIT, pid=9811, recv_q=24
    )
    assert {r.pid for r in result.records} == {9811}  # never rhiwat (131072) nor the 0x… state
    assert [r.state for r in result.records].count(State.CLOSE_WAIT) == 2


def test_macos_15_bytes_before_the_pid() -> None:
    """macOS 15 added rxbytes and txbytes before rhiwat: a positional parser reads rhiwat as the pid."""
    text = handmade("macos-15_netstat-natvln.out")
    assert has_pids(text)
    result = parse(text)
    assert result.issues == ()
    records = result.records
    lines = text.splitlines()
    assert [r.pid for r in records] == [2903, 5767, 75236, 74164, 81327, 74164, 812, 412, 412, 2903]
    assert records[0] == bsd(
        lines[2], Proto.TCP, 4, "192.168.1.233", 52137, "34.117.41.85", 443, State.ESTABLISHED, pid=2903, send_q=126
    )
    assert records[4] == bsd(lines[6], Proto.TCP, 6, "::", 8809, None, None, State.LISTEN, pid=81327, v6only=False)
    assert records[5] == bsd(
        lines[7], Proto.TCP, 6, "fe80::1", 49320, "fe80::1", 631, State.ESTABLISHED, pid=74164, interface="lo0"
    )
    assert records[7] == bsd(lines[9], Proto.UDP, 4, "0.0.0.0", 5353, None, None, State.UNCONNECTED, pid=412)
    assert records[8] == bsd(
        lines[10], Proto.UDP, 4, "192.168.1.233", 61234, "192.168.1.1", 53, State.ESTABLISHED, pid=412
    )
    assert records[9] == bsd(lines[11], Proto.UDP, 6, "::", None, None, None, State.UNCONNECTED, pid=2903, v6only=True)
    assert not any(r.truncated for r in records)  # -l: 45-character columns, nothing cut


def test_macos_26_process_and_pid_in_one_cell() -> None:
    text = handmade("macos-26_netstat-anv.out")
    assert has_pids(text)
    result = parse(text)
    assert result.issues == ()
    lines = text.splitlines()
    fusion = {"pid": 22712, "name": "Autodesk Fusion"}
    teams = {"pid": 4417, "name": "Microsoft Teams"}
    mdns = {"pid": 412, "name": "mDNSResponder"}
    assert result.records == (
        bsd(lines[2], Proto.TCP, 4, "127.0.0.1", 49515, "127.0.0.1", 49472, State.ESTABLISHED, **fusion),
        bsd(lines[3], Proto.TCP, 4, "127.0.0.1", 49510, "127.0.0.1", 49513, State.ESTABLISHED, **fusion),
        bsd(lines[4], Proto.TCP, 6, "::", 55047, None, None, State.LISTEN, pid=742, name="rapportd", v6only=False),
        bsd(lines[5], Proto.TCP, 6, "fe80::1", 49320, "fe80::1", 631, State.ESTABLISHED, **teams, interface="lo0"),
        bsd(lines[6], Proto.TCP, 4, "127.0.0.1", 631, None, None, State.LISTEN, pid=812, name="cupsd", recv_q=3),
        bsd(lines[7], Proto.UDP, 4, "0.0.0.0", 5353, None, None, State.UNCONNECTED, **mdns),
        bsd(lines[8], Proto.UDP, 6, "::", None, None, None, State.UNCONNECTED, pid=742, name="rapportd", v6only=False),
        bsd(lines[9], Proto.UDP, 4, "192.168.1.20", 61234, "192.168.1.1", 53, State.ESTABLISHED, **mdns),
    )


def test_macos_14_capital_state_header() -> None:
    """Sonoma spells the column ``(State)``; its header is quoted in https://github.com/sindresorhus/pid-port/pull/12,
    the row is composed with netstat's formats (no rxbytes before rhiwat until macOS 15)."""
    text = (
        "Active Internet connections (including servers)\n"
        "Proto Recv-Q Send-Q  Local Address          Foreign Address        (State)      rhiwat  shiwat    pid   epid"
        " state  options           gencnt    flags   flags1 usecnt rtncnt fltrs\n"
        "tcp46      0      0  *.8809                 *.*                    LISTEN       131072  131072   4301      0"
        " 00100 00000006 00000000001d2c3b 00000000 00000800      1      0 000000\n"
    )
    assert looks_like(text) and has_pids(text)
    (listener,) = parse(text).records
    assert listener == bsd(
        text.splitlines()[2], Proto.TCP, 6, "::", 8809, None, None, State.LISTEN, pid=4301, v6only=False
    )


#: Edits of the macOS 26 file's rows, for cases no real output is known to hold.
MACOS_26_ROW = handmade("macos-26_netstat-anv.out").splitlines()[6]  # cupsd:812 listening on 127.0.0.1.631


def macos_26_with(*rows: str) -> str:
    return "\n".join([*handmade("macos-26_netstat-anv.out").splitlines()[:2], *rows]) + "\n"


def test_process_names_with_colons_spaces_and_none() -> None:
    rows = [
        MACOS_26_ROW.replace("cupsd:812", "my:app (x):812"),  # a name holding colons and spaces
        MACOS_26_ROW.replace("cupsd:812", "812"),  # a pid without a name
        MACOS_26_ROW.replace("cupsd:812", "kernel_task:0"),  # pid 0: the kernel
    ]
    named, bare, kernel = parse(macos_26_with(*rows)).records
    assert (named.owners, named.owner_status) == owner(812, "my:app (x)")
    assert (bare.owners, bare.owner_status) == owner(812)
    assert (kernel.owners, kernel.owner_status) == ((), OwnerStatus.NO_PROCESS)


def test_unknown_state_words_and_a_cut_line_with_its_number() -> None:
    cut = MACOS_26_ROW[: MACOS_26_ROW.index("131072")]  # the line ends before rhiwat: no process cell
    text = macos_26_with(
        MACOS_26_ROW,
        MACOS_26_ROW.replace("LISTEN", "RESERVED"),  # a word nettop does not know
        cut,
        MACOS_26_ROW.replace("LISTEN", "14"),  # netstat's number for an out-of-range state
        "tcp4       0      0  127.0.0.1:631          *.*                    LISTEN",  # Linux-style address
        MACOS_26_ROW,
    )
    result = parse(text)
    assert [r.state for r in result.records] == [State.LISTEN, State.UNKNOWN, State.UNKNOWN, State.LISTEN]
    assert "RESERVED" in result.records[1].raw
    assert all(r.pid == 812 for r in result.records)
    assert result.issues == (
        ParseIssue(5, cut, "no process:pid (a cut line?)"),
        ParseIssue(7, text.splitlines()[6], "port '1:631' is neither a number nor a service name"),
    )


def test_skipped_sections_and_notes() -> None:
    text = (
        "Active Internet connections (including servers)\n"
        "Proto Recv-Q Send-Q  Local Address          Foreign Address        (state)    \n"
        "tcp4       0      0  127.0.0.1.631          *.*                    LISTEN     \n"
        "Some tcp sockets may have been deleted.\n"
        "\n"
        "Active Multipath Internet connections\n"
        "Proto/ID  Flags      Local Address          Foreign Address        (state)    \n"
        "mptcp/00  00000001/00000002                                    ESTABLISHED \n"
        "      [tok(0x1) snd(0x2) rcv(0x3) aid(1)]\n"
        " tcp4/00  00000000   192.168.1.2.50000      17.1.1.1.443           ESTABLISHED \n"
        "Active LOCAL (UNIX) domain sockets\n"
        "Address          Type   Recv-Q Send-Q            Inode             Conn             Refs          Nextref"
        " Addr\n"
        "7fb03cb94a63a7cd stream      1      0                0 7fb03cb94a63cedd                0                0\n"
        "Active Internet connections (including servers)\n"
        "Proto Recv-Q Send-Q  Local Address          Foreign Address        (state)    \n"
        "udp4       0      0  *.5353                 *.*                               \n"
        "garbage here\n"
    )
    result = parse(text)
    assert [(r.proto, r.local_port) for r in result.records] == [(Proto.TCP, 631), (Proto.UDP, 5353)]
    assert result.issues == (
        ParseIssue(17, "garbage here", "not a socket line of a known protocol (first word 'garbage')"),
    )


# --- what is not a BSD socket table ------------------------------------------------------------------------------


LINUX_OUTPUTS = [
    "debian12/netstat-tunap.out",
    "debian12/netstat-tunapW.out",
    "debian12/ss-tunap.out",
    "debian12/ss-tunapH.out",
    "jc/centos-7.7/netstat.out",
    "jc/ubuntu-18.04/netstat-sudo-lnp-space.out",
    "jc/ubuntu-18.04/ss-sudo-a.out",
    "jc/windows-10/netstat-aon.out",
]


@pytest.mark.parametrize("name", LINUX_OUTPUTS)
def test_other_tools_are_not_claimed(corpus: Path, name: str) -> None:
    assert not looks_like(read_text(corpus / name))


def test_linux_netstat_is_refused_with_a_reason(corpus: Path) -> None:
    with pytest.raises(UnknownFormat, match="not BSD netstat's: its header is 'Proto Recv-Q Send-Q Local Address"):
        parse(read_text(corpus / "debian12/netstat-tunap.out"))


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("tcp:\n\t123 packets sent\n", NotASocketTable, "protocol statistics"),
        ("Active LOCAL (UNIX) domain sockets\nAddress Type Recv-Q\n", NotASocketTable, "UNIX domain sockets"),
        # Linux netstat rows without their header: a colon before the port, not claimed as BSD rows.
        ("tcp 0 0 127.0.0.1:631 0.0.0.0:* LISTEN\n", UnknownFormat, "without their header"),
        ("hello\n", UnknownFormat, "first line: 'hello'"),
    ],
)
def test_refusals(text: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        parse(text)


def test_empty_and_cut_after_the_title() -> None:
    assert parse("").records == () and parse("\n\n").issues == ()
    result = parse("Active Internet connections (including servers)\n")
    assert result.issues == (
        ParseIssue(
            1,
            "Active Internet connections (including servers)",
            "a title with no column header after it: the output is cut",
        ),
    )


def test_header_reading() -> None:
    macos_26 = handmade("macos-26_netstat-anv.out").splitlines()[1]
    assert netstat_bsd.read_header(macos_26) == netstat_bsd.Layout(0, True, 13, -1, 4, 22)
    assert netstat_bsd.read_header(handmade("macos-15_netstat-natvln.out").splitlines()[1]) == netstat_bsd.Layout(
        0, True, 14, 4, -1, 45
    )
    freebsd = "Tcpcb            Proto Recv-Q Send-Q Local Address      Foreign Address    (state)     Log ID"
    assert netstat_bsd.header_names(freebsd)[-2:] == ["(state)", "Log ID"]
    assert netstat_bsd.read_header(freebsd) == netstat_bsd.Layout(1, True, 1, -1, -1, 18)
    assert netstat_bsd.looks_like_header("Proto Recv-Q Send-Q  Local Address  Foreign Address  (State)  rhiwat")
    assert not netstat_bsd.looks_like_header(
        "Proto Recv-Q Send-Q Local Address  Foreign Address  State  PID/Program name"
    )
    assert not netstat_bsd.looks_like_header(
        "Proto/ID  Flags      Local Address          Foreign Address        (state)"
    )
