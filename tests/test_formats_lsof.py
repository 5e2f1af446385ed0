"""The lsof parser against public ``lsof -i`` outputs, and the owners it lends to BSD netstat records.

Where each input comes from: ``tests/data/handmade/README.netstat-bsd-lsof.md``.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from nettop.errors import UnknownFormat
from nettop.formats import netstat_bsd
from nettop.formats.lsof import looks_like, parse
from nettop.model import Connection, Owner, OwnerStatus, ParseIssue, Proto, State
from tests.conftest import DATA, read_text

HANDMADE = DATA / "handmade"
LSOF_FILES = sorted(path.name for path in HANDMADE.glob("lsof*.out"))


def handmade(name: str) -> str:
    return read_text(HANDMADE / name)


def lsof_record(raw: str, *fields: object, owners: tuple[Owner, ...], **others: object) -> Connection:
    """The record a line should give: its seven first fields, its owners, and the fields that differ."""
    values = {"source": "lsof", "raw": raw} | others
    return Connection(*fields, owners, OwnerStatus.KNOWN, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", LSOF_FILES)
def test_every_file_parses_without_issues(name: str) -> None:
    text = handmade(name)
    assert looks_like(text)
    assert not netstat_bsd.looks_like(text)
    result = parse(text)
    assert result.format == "lsof"
    assert result.issues == ()
    assert all(r.owner_status is OwnerStatus.KNOWN and r.owners for r in result.records)
    assert {r.source for r in result.records} == {"lsof"}


def test_linux_numeric_output() -> None:
    text = handmade("lsof-i-P-n.ubuntu.out")
    lines = text.splitlines()
    records = parse(text).records
    assert len(records) == len(lines) - 1  # one socket a line: no socket is held twice here
    resolved = (Owner(720, "systemd-r", "systemd-resolve"),)
    assert records[0] == lsof_record(
        lines[1], Proto.UDP, 4, "127.0.0.53", 53, None, None, State.UNCONNECTED, owners=resolved, inode=23990
    )
    assert records[1] == lsof_record(
        lines[2], Proto.TCP, 4, "127.0.0.53", 53, None, None, State.LISTEN, owners=resolved, inode=23991
    )
    avahi = (Owner(884, "avahi-dae", "avahi"),)
    assert records[3] == lsof_record(
        lines[4], Proto.UDP, 6, "::", 5353, None, None, State.UNCONNECTED, owners=avahi, inode=25484
    )
    firefox = (Owner(2472, "GeckoMain", "user"),)
    assert records[8] == lsof_record(
        lines[9],
        Proto.TCP,
        4,
        "192.168.1.9",
        43440,
        "77.88.55.50",
        443,
        State.ESTABLISHED,
        owners=firefox,
        inode=110317,
    )
    cups = (Owner(3243, "cupsd", "root"),)
    assert records[-4] == lsof_record(
        lines[-4], Proto.TCP, 6, "::1", 631, None, None, State.LISTEN, owners=cups, inode=48291
    )


def test_one_socket_held_by_several_processes_is_one_record() -> None:
    """nginx's master and four workers hold the same two listening sockets (DEVICE 21535 and 21536)."""
    text = handmade("lsof-i-P.ubuntu-shared.out")
    lines = text.splitlines()
    records = parse(text).records
    assert len(records) == len(lines) - 1 - 8  # ten nginx lines, two sockets
    workers = tuple(Owner(pid, "nginx", "www-data") for pid in (1000, 1001, 1002, 1003))
    nginx = (Owner(999, "nginx", "root"), *workers)
    assert records[-2] == lsof_record(
        lines[11], Proto.TCP, 4, "0.0.0.0", 80, None, None, State.LISTEN, owners=nginx, inode=21535
    )
    assert records[-1] == lsof_record(
        lines[12], Proto.TCP, 6, "::", 80, None, None, State.LISTEN, owners=nginx, inode=21536
    )
    # Without -n, hosts are names, kept as written (ip6-localhost on an IPv6 socket stays a name).
    dhcp = records[6]
    assert (dhcp.local_ip, dhcp.local_port, dhcp.remote_ip, dhcp.remote_port, dhcp.state) == (
        "Ubuntu",
        68,
        "RM-AC2100",
        67,
        State.ESTABLISHED,
    )
    assert (records[7].family, records[7].local_ip) == (6, "ip6-localhost")


def test_macos_output() -> None:
    text = handmade("lsof-OnP-i4.macos.out")
    lines = text.splitlines()
    records = parse(text).records
    launchd = (Owner(1, "launchd", "root"),)
    assert records[0] == lsof_record(lines[1], Proto.TCP, 4, "0.0.0.0", 22, None, None, State.LISTEN, owners=launchd)
    assert records[4] == lsof_record(
        lines[5],
        Proto.UDP,
        4,
        "0.0.0.0",
        None,
        None,
        None,
        State.UNCONNECTED,
        owners=(Owner(105, "systemsta", "root"),),
    )
    assert records[-1] == lsof_record(
        lines[-1],
        Proto.UDP,
        4,
        "10.0.0.111",
        53261,
        "172.253.62.94",
        443,
        State.ESTABLISHED,
        owners=(Owner(42368, "Google", "$USER"),),
    )
    # A kernel address is no inode: macOS lsof's DEVICE names the socket, but only to lsof.
    assert {r.inode for r in records} == {None}
    listeners = parse(handmade("lsof-i4TCP-sTCP-LISTEN-nP.macos.out")).records
    assert [(r.local_ip, r.local_port, r.pid, r.program) for r in listeners] == [
        ("127.0.0.1", 44950, 1080, "figma_age"),
        ("127.0.0.1", 44960, 1080, "figma_age"),
        ("127.0.0.1", 5037, 33939, "adb"),
        ("127.0.0.1", 27017, 50386, "mongod"),
    ]


# --- hard lines, written for these tests --------------------------------------------------------------------------

HEADER = "COMMAND     PID   USER   FD   TYPE             DEVICE SIZE/OFF NODE NAME"


def test_escaped_names_scopes_queues_and_states() -> None:
    text = "\n".join(
        [
            HEADER,
            # lsof escapes a space and non-ASCII bytes, and cuts the name to 9 bytes (pitfalls D.19): my srv, dæmon-ü.
            r"my\x20srv   6702   root    5u  IPv4 0x8b17115bf97d4e61      0t0  TCP 127.0.0.1:18082 (LISTEN)",
            r"d\xc3\xa6   6704   root    5u  IPv6 0x8b17115bf97d4e62      0t0  UDP [fe80::1%lo0]:123",
            r"Adobe\x20   1518  alice    8u  IPv4 0x8b17115bf97d4e63      0t0  TCP 127.0.0.1:15292 (LISTEN)",
            # -T with queue sizes; a state word nettop does not know; a v4-mapped peer on an IPv6 socket.
            "sshd        812   root    3u  IPv4 0x8b17115bf97d4e64      0t0  TCP *:22 (ST=LISTEN QR=0 QS=0)",
            "sshd        812   root    4u  IPv6 0x8b17115bf97d4e65      0t0  TCP [::1]:22->[::ffff:10.0.0.2]:5 (BOUND)",
            "postgres    90    501    7u  IPv6 0x8b17115bf97d4e66      0t0  TCP [::1]:5432->[::1]:50000 (ESTABLISHED)",
        ]
    )
    named, dgram, adobe, listener, odd, numeric = parse(text).records
    assert (named.pid, named.program, named.user) == (6702, "my srv", "root")
    assert dgram.program == "dæ"
    assert (dgram.local_ip, dgram.interface, dgram.local_port, dgram.state) == (
        "fe80::1",
        "lo0",
        123,
        State.UNCONNECTED,
    )
    assert adobe.program == "Adobe "
    assert (listener.state, listener.recv_q, listener.send_q) == (State.LISTEN, 0, 0)
    assert (odd.state, odd.remote_ip, odd.remote_port) == (State.UNKNOWN, "::ffff:10.0.0.2", 5)
    assert "BOUND" in odd.raw
    assert (numeric.uid, numeric.user, numeric.remote_ip, numeric.remote_port) == (501, None, "::1", 50000)


def test_bad_lines_are_issues_with_their_numbers_and_other_files_are_skipped() -> None:
    cut = "launchd       1           root    8u  IPv4 0x8b17115bf97d4e6d      0t0"
    text = "\n".join(
        [
            "COMMAND     PID           USER   FD   TYPE             DEVICE SIZE/OFF NODE NAME",
            "launchd       1           root  cwd    DIR               1,18      640    2 /",
            cut,
            "launchd       1           root    9u  IPv4 0x8b17115bf97d4e6e      0t0  TCP *:22 (LISTEN)",
            "lsof: WARNING: can't stat() nfs file system /Volumes/share",
            "      Output information may be incomplete.",
            "launchd       1           root   10u  IPv4 0x8b17115bf97d4e6f      0t0  SCTP *:9899",
            "launchd       1           root   11u  IPv4 0x8b17115bf97d4e70      0t0  TCP 127.0.0.1:http (LISTEN)",
            "launchd       1           root   12u  IPv4 0x8b17115bf97d4e71      0t0  TCP *:7 (LISTEN)",
        ]
    )
    result = parse(text)
    assert (result.records[0].local_port, result.records[0].state) == (22, State.LISTEN)
    assert result.records[-1].local_port == 7
    reasons = {issue.line_no: issue.reason for issue in result.issues}
    assert reasons[3] == "no TCP/UDP protocol cell after IPv4 (another protocol, or a cut line?)"
    assert reasons[7] == "no TCP/UDP protocol cell after IPv4 (another protocol, or a cut line?)"
    assert result.issues[0] == ParseIssue(3, cut, reasons[3])
    # A service name (no -P) is looked up; "http" is in every services database.
    if len(result.records) == 3:
        assert result.records[1].local_port == socket.getservbyname("http", "tcp")
    else:
        assert reasons[8].startswith("port 'http'")


def test_not_lsof() -> None:
    assert parse("").records == ()
    with pytest.raises(UnknownFormat, match="no 'COMMAND PID USER FD TYPE … NAME' header"):
        parse("launchd 1 root 8u IPv4 0x1 0t0 TCP *:22 (LISTEN)\n")
    assert not looks_like("Proto Recv-Q Send-Q  Local Address          Foreign Address        (state)\n")


@pytest.mark.parametrize(
    "name",
    [
        "debian12/ss-tunap.out",
        "debian12/netstat-tunap.out",
        "jc/osx-10.14.6/netstat.out",
        "jc/freebsd12/netstat-an.out",
    ],
)
def test_netstat_and_ss_are_not_claimed(corpus: Path, name: str) -> None:
    assert not looks_like(read_text(corpus / name))


# --- lending owners to netstat records ---------------------------------------------------------------------------

#: A FreeBSD-style ``netstat -an`` (no pid column) of the sockets in the lsof text below, written for this test.
