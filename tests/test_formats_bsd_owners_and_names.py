"""Issue 14 (parse fidelity) for sockstat, lsof and Windows netstat: ``sockstat -q`` without its header, odd owner
cells, ports written as names, and translated Windows states.

Each input says where it comes from; the expected records are written from the text, by hand.
"""

from __future__ import annotations

import pytest

from nettop.formats import lsof, parse_text, sockstat, windows
from nettop.formats.netstat_bsd import looks_like_rows as bsd_rows
from nettop.model import Owner, OwnerStatus, Proto, State
from tests.conftest import DATA, read_text

HANDMADE = DATA / "handmade"

# --- sockstat -q: no header -------------------------------------------------------------------------------------


def test_sockstat_quiet_output_is_detected() -> None:
    """``freebsd-14_sockstat-46sq.out`` is the 14.4 layout of ``freebsd-14_sockstat-46s.out`` without its header,
    as sockstat(1)'s ``-q`` ("do not show the header") prints it."""
    text = read_text(HANDMADE / "freebsd-14_sockstat-46sq.out")
    assert sockstat.looks_like_rows(text.splitlines()[0])
    result = parse_text(text)
    assert (result.format, result.issues) == ("sockstat", ())
    first = result.records[0]  # both sshd-session processes on one connection
    assert (first.proto, first.family, first.local_ip, first.local_port, first.remote_ip, first.remote_port) == (
        Proto.TCP,
        4,
        "172.17.2.106",
        22,
        "203.0.113.10",
        62176,
    )
    assert first.state is State.ESTABLISHED
    assert first.owners == (Owner(33340, "sshd-sessi", "ec2-user"), Owner(33338, "sshd-sessi", "root"))
    orphans = [r for r in result.records if r.state is State.TIME_WAIT]
    assert [(r.remote_port, r.owners, r.owner_status) for r in orphans] == [
        (62154, (), OwnerStatus.NO_PROCESS),
        (62160, (), OwnerStatus.NO_PROCESS),
    ]


@pytest.mark.parametrize(
    "line",
    [
        "tcp4       0      0  127.0.0.1.631          *.*                    LISTEN",  # BSD netstat
        "tcp        0      0 127.0.0.1:631           0.0.0.0:*               LISTEN",  # Linux netstat
        "tcp   LISTEN 0      128        127.0.0.1:631        0.0.0.0:*",  # ss
        "launchd       1  root    8u  IPv4 0x8b17115bf97d4e6d      0t0  TCP *:22 (LISTEN)",  # lsof
        "  TCP    0.0.0.0:135            0.0.0.0:0              LISTENING       1712",  # Windows
    ],
)
def test_other_tools_rows_are_not_sockstat_rows(line: str) -> None:
    assert not sockstat.looks_like_rows(line)


def test_sockstat_rows_are_not_bsd_netstat_rows() -> None:
    line = read_text(HANDMADE / "freebsd-14_sockstat-46sq.out").splitlines()[0]
    assert not bsd_rows(line)


def test_sockstat_odd_owner_cells() -> None:
    """Rows in the 14.4 layout, edited in their owner cells as sockstat.c prints them: a blank COMMAND (ki_comm
    empty), a uid with no name (printed as a number), ``?`` user and command with a pid (a bare pid), and the
    ``?`` row of a socket no process holds."""
    text = (
        "USER     COMMAND    PID   FD  PROTO     LOCAL ADDRESS         FOREIGN ADDRESS       CONN STATE\n"
        "root                 1830 7   tcp4      *:22                  *:*                   LISTEN\n"
        "1001     python3.1   4242 3   tcp4      127.0.0.1:8000        *:*                   LISTEN\n"
        "?        ?           5120 9   tcp4      127.0.0.1:25          *:*                   LISTEN\n"
        "?        ?          ?     ?   tcp4      172.17.2.106:22       203.0.113.10:62154    TIME_WAIT\n"
    )
    result = sockstat.parse(text)
    assert result.issues == ()
    assert [(r.local_port, r.owners, r.owner_status) for r in result.records] == [
        (22, (Owner(1830, None, "root"),), OwnerStatus.KNOWN),
        (8000, (Owner(4242, "python3.1", "1001"),), OwnerStatus.KNOWN),
        (25, (Owner(5120, None, None),), OwnerStatus.KNOWN),
        (22, (), OwnerStatus.NO_PROCESS),
    ]


def test_sockstat_unix_rows_are_counted() -> None:
    """``freebsd-13_sockstat-46sSCu.out`` has one ``-u`` row (syslogd's ``dgram /var/run/log``)."""
    result = sockstat.parse(read_text(HANDMADE / "freebsd-13_sockstat-46sSCu.out"))
    assert result.skipped == (("UNIX", 1),)
    assert len(result.records) == 3


# --- lsof ---------------------------------------------------------------------------------------------------------

LSOF_HEADER = "COMMAND     PID   USER   FD   TYPE             DEVICE SIZE/OFF NODE NAME\n"


def test_lsof_port_names() -> None:
    """Rows of ``lsof-OnP-i4.macos.out`` as lsof prints them without ``-P`` (lsof(8): ``-P`` inhibits the
    conversion of port numbers to names): ``ipp`` and ``netbios-ns`` are numbered; ``ldgateway`` is in no table
    nettop has, so the row keeps the name and no port."""
    text = LSOF_HEADER + (
        "cupsd       412   root    5u  IPv4 0x8b17115bf97d4e6d      0t0  TCP 127.0.0.1:ipp (LISTEN)\n"
        "launchd       1   root   35u  IPv4 0x8b17115bfaae582d      0t0  UDP *:netbios-ns\n"
        "agent       501  alice    9u  IPv4 0x8b17115bfaae5b3d      0t0  TCP 10.0.0.5:50001->10.0.0.9:ldgateway"
        " (ESTABLISHED)\n"
    )
    result = lsof.parse(text)
    assert result.issues == ()
    ipp, netbios, named = result.records
    assert (ipp.local_port, ipp.local_service, ipp.state) == (631, None, State.LISTEN)
    assert (netbios.local_ip, netbios.local_port, netbios.state) == ("0.0.0.0", 137, State.UNCONNECTED)
    assert (named.remote_ip, named.remote_port, named.remote_service) == ("10.0.0.9", None, "ldgateway")
    assert (named.local_port, named.state, named.owners) == (50001, State.ESTABLISHED, (Owner(501, "agent", "alice"),))


def test_lsof_blank_user() -> None:
    """An edit of the first row of ``lsof-OnP-i4.macos.out`` with its USER cell blank: the socket and its process
    are kept, with no user."""
    text = LSOF_HEADER + "launchd       1           8u  IPv4 0x8b17115bf97d4e6d      0t0  TCP *:22 (LISTEN)\n"
    result = lsof.parse(text)
    assert result.issues == ()
    (record,) = result.records
    assert (record.owners, record.owner_status, record.uid) == ((Owner(1, "launchd", None),), OwnerStatus.KNOWN, None)
    assert (record.local_ip, record.local_port, record.state) == ("0.0.0.0", 22, State.LISTEN)


# --- Windows ------------------------------------------------------------------------------------------------------


def test_windows_service_and_host_names() -> None:
    """``netstat -a`` without ``-n`` (as in jc/windows-10/netstat.out, ``api:1032``): the well-known ports are
    names (``epmap``, ``microsoft-ds``, ``http``), numbered from nettop's bundled table whatever machine parses."""
    text = (
        "\r\nActive Connections\r\n\r\n  Proto  Local Address          Foreign Address        State\r\n"
        "  TCP    0.0.0.0:epmap          MYPC:0                 LISTENING\r\n"
        "  TCP    0.0.0.0:microsoft-ds   MYPC:0                 LISTENING\r\n"
        "  TCP    192.168.1.20:50000     api:http               ESTABLISHED\r\n"
        "  UDP    0.0.0.0:ws-discovery   *:*                    \r\n"
    )
    result = windows.parse(text)
    assert result.issues == ()
    rows = [(r.local_ip, r.local_port, r.remote_ip, r.remote_port, r.state) for r in result.records]
    assert rows == [
        ("0.0.0.0", 135, None, None, State.LISTEN),
        ("0.0.0.0", 445, None, None, State.LISTEN),
        ("192.168.1.20", 50000, "api", 80, State.ESTABLISHED),
        ("0.0.0.0", 3702, None, None, State.UNCONNECTED),
    ]


@pytest.mark.parametrize(
    ("listening", "connected"),
    [
        ("ABHÖREN", "HERGESTELLT"),  # German: https://github.com/milewski/cross-port-killer/issues/71
        ("ÉCOUTE", "ÉTABLI"),  # French
        ("ESCUCHANDO", "ESTABLECIDO"),  # Spanish
    ],
)
def test_windows_translated_states(listening: str, connected: str) -> None:
    """A translated word is no word nettop knows: a TCP row with no peer is a listener; one with a peer is
    UNKNOWN, the word kept in ``raw``."""
    text = (
        f"  TCP    0.0.0.0:135            0.0.0.0:0              {listening}       1712\r\n"
        f"  TCP    192.168.1.20:50000     93.184.216.34:443      {connected}     4242\r\n"
    )
    result = windows.parse(text)
    assert result.issues == ()
    listener, connection = result.records
    assert (listener.state, listener.remote_ip, listener.pid) == (State.LISTEN, None, 1712)
    assert (connection.state, connection.remote_port, connection.pid) == (State.UNKNOWN, 443, 4242)
    assert connected in connection.raw
