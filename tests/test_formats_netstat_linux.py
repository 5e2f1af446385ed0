"""The Linux netstat parser against recorded outputs, psutil's ground truth, jc's parse and hand-made hard lines."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from nettop.errors import NotASocketTable, UnknownFormat
from nettop.formats import netstat_linux
from nettop.formats.netstat_linux import parse
from nettop.model import Connection, Owner, OwnerStatus, Proto, State
from nettop.owners.join import join_by_inode
from tests.conftest import read_text

#: The -n outputs of debian12: the same 36 sockets (netstat-plnt: its 14 TCP listeners).
DEBIAN_NUMERIC = ["netstat-tunapW.out", "netstat-tunaepW.out", "netstat-tunap.out", "netstat-tunap.tty80.out"]
#: psutil names one of the three processes sharing this listener; netstat names another (the first it met).
SHARED_LISTENER = (Proto.TCP, "127.0.0.1", 18091, None)
SHARED_LISTENER_PIDS = {6697, 6705, 6706}  # manifest.json: shared_listen_parent + shared_listen_children

Key = tuple[str, int, str, int | None, str | None, int | None, str, int | None]


def key_of(r: Connection) -> Key:
    return (r.proto.value, r.family, r.local_ip, r.local_port, r.remote_ip, r.remote_port, r.state.value, r.pid)


def psutil_truth(corpus: Path) -> dict[tuple[Proto, str, int | None, int | None], Key]:
    """psutil's sockets as our keys, indexed by (proto, local ip, local port, remote port)."""
    truth = json.loads((corpus / "debian12" / "ground-truth-psutil.json").read_text())
    keys = {}
    for sock in truth["inet"]:
        proto = Proto.TCP if sock["type"] == "SOCK_STREAM" else Proto.UDP
        family = 4 if sock["family"] == "AF_INET" else 6
        rip, rport = sock["raddr"] or (None, None)
        # psutil says NONE for every UDP socket; netstat shows ESTABLISHED for a connected one.
        state = sock["status"] if sock["status"] != "NONE" else "UNCONNECTED" if rip is None else "ESTABLISHED"
        ip, port = sock["laddr"]
        keys[(proto, ip, port, rport)] = (proto.value, family, ip, port, rip, rport, state, sock["pid"])
    return keys


def by_socket(records: tuple[Connection, ...]) -> dict[tuple[Proto, str, int | None, int | None], Connection]:
    return {(r.proto, r.local_ip, r.local_port, r.remote_port): r for r in records}


def services_known(*pairs: tuple[str, str]) -> None:
    """Skip when this machine's services database cannot resolve the names an output without -n holds."""
    for name, proto in pairs:
        try:
            socket.getservbyname(name, proto)
        except OSError:
            pytest.skip(f"this machine's services database (/etc/services) does not know {name}/{proto}")


# --- against psutil ---------------------------------------------------------------------------------------------


def test_wide_output_matches_psutil_socket_by_socket(corpus: Path) -> None:
    result = parse(read_text(corpus / "debian12" / "netstat-tunapW.out"))
    assert result.issues == ()
    assert result.format == "netstat-linux"
    truth = psutil_truth(corpus)
    # netstat names a process by argv[0]: every process of this capture ran python3, whatever its comm, which is
    # what psutil names ("my srv:x (1)", "averyveryverylo", "dæmon-ü" for 6702-6704).
    ours = {(*key_of(r), r.program) for r in result.records}
    expected = {(*key, None if key[7] is None else "python3") for key in truth.values()}
    processes = json.loads((corpus / "debian12" / "ground-truth-psutil.json").read_text())["processes"]
    assert processes["6702"]["name"] == "my srv:x (1)"
    assert len(ours) == len(result.records) == 36
    # The one socket three processes share: netstat names the parent, psutil a child; both are owners.
    shared = next(k for k in ours if k[:6] == ("tcp", 4, "127.0.0.1", 18091, None, None))
    psutil_shared = next(k for k in expected if k[:6] == shared[:6])
    assert (shared[7], psutil_shared[7]) == (6697, 6706)
    assert {shared[7], psutil_shared[7]} <= SHARED_LISTENER_PIDS
    assert ours - {shared} == expected - {psutil_shared}
    assert not any(r.truncated for r in result.records)
    assert {r.source for r in result.records} == {"netstat"}


@pytest.mark.parametrize("name", DEBIAN_NUMERIC)
def test_every_numeric_capture_matches_psutil(corpus: Path, name: str) -> None:
    """Same sockets whatever the flags; without -W the cut hosts are prefixes of psutil's and say so."""
    result = parse(read_text(corpus / "debian12" / name))
    assert result.issues == ()
    truth = psutil_truth(corpus)
    assert len(result.records) == len(truth)
    for r in result.records:
        if r.truncated:
            expected = next(
                t for t in truth.values() if t[:2] == key_of(r)[:2] and t[3] == r.local_port and t[5] == r.remote_port
            )
            assert expected[2].startswith(r.local_ip) and len(r.local_ip) < len(expected[2])
            assert r.remote_ip is None or str(expected[4]).startswith(r.remote_ip)
            assert key_of(r)[6:] == expected[6:]  # state and pid
            continue
        expected = truth[(r.proto, r.local_ip, r.local_port, r.remote_port)]
        if (r.proto, r.local_ip, r.local_port, r.remote_port) == SHARED_LISTENER:
            assert r.pid in SHARED_LISTENER_PIDS
            continue
        assert key_of(r) == expected


def test_listeners_only(corpus: Path) -> None:
    result = parse(read_text(corpus / "debian12" / "netstat-plnt.out"))
    assert result.issues == ()
    assert len(result.records) == 14
    assert {r.state for r in result.records} == {State.LISTEN}
    assert {r.proto for r in result.records} == {Proto.TCP}
    assert all(r.remote_ip is None and r.remote_port is None for r in result.records)
    listeners = by_socket(result.records)
    assert listeners[(Proto.TCP, "::1", 18081, None)].pid == 6695
    assert listeners[(Proto.TCP, "::ffff:127.0.0.1", 18084, None)].family == 6
    assert listeners[(Proto.TCP, "127.0.0.1", 18092, None)].recv_q == 1  # the listen(0) socket's queued child


# --- states, families, owners -----------------------------------------------------------------------------------


def test_udp_without_state_connected_udp_and_v4_mapped(corpus: Path) -> None:
    records = by_socket(parse(read_text(corpus / "debian12" / "netstat-tunapW.out")).records)
    unconnected = records[(Proto.UDP, "127.0.0.1", 18082, None)]
    assert (unconnected.state, unconnected.remote_ip, unconnected.family, unconnected.pid) == (
        State.UNCONNECTED,
        None,
        4,
        6697,
    )
    assert unconnected.is_listener
    connected = records[(Proto.UDP, "127.0.0.1", 47454, 18082)]
    assert (connected.state, connected.remote_ip, connected.pid) == (State.ESTABLISHED, "127.0.0.1", 6697)
    link_local = records[(Proto.UDP, "fe80::70ce:e8ff:fe42:eb34", 18087, None)]
    assert (link_local.family, link_local.state, link_local.interface) == (6, State.UNCONNECTED, None)
    mapped = records[(Proto.TCP, "::ffff:127.0.0.1", 18084, None)]
    assert (mapped.family, mapped.state, mapped.remote_ip) == (6, State.LISTEN, None)
    accepted = records[(Proto.TCP, "::ffff:127.0.0.1", 18084, 46550)]
    assert (accepted.remote_ip, accepted.state) == ("::ffff:127.0.0.1", State.ESTABLISHED)
    client = records[(Proto.TCP, "127.0.0.1", 46550, 18084)]
    assert (client.family, client.remote_ip) == (4, "127.0.0.1")  # the AF_INET side stays plain
    assert records[(Proto.TCP, "::1", 18089, None)].state is State.LISTEN
    long_v6 = records[(Proto.TCP, "2001:db8:1234:5678:9abc:def0:1234:5678", 55996, 18086)]
    assert long_v6.remote_ip == "2001:db8:1234:5678:9abc:def0:1234:5678"
    assert records[(Proto.TCP, "127.0.0.1", 18093, 39484)].state is State.FIN_WAIT2
    assert records[(Proto.TCP, "127.0.0.1", 39484, 18093)].state is State.CLOSE_WAIT
    assert records[(Proto.TCP, "127.0.0.1", 34734, 18092)].state is State.SYN_SENT
    assert (
        records[(Proto.TCP, "127.0.0.1", 34734, 18092)].recv_q,
        records[(Proto.TCP, "127.0.0.1", 34734, 18092)].send_q,
    ) == (0, 1)
    time_wait = records[(Proto.TCP, "127.0.0.1", 8080, 54326)]
    assert (time_wait.state, time_wait.owners, time_wait.owner_status) == (
        State.TIME_WAIT,
        (),
        OwnerStatus.NOT_REPORTED,
    )
    owned = records[(Proto.TCP, "127.0.0.1", 18096, None)]
    assert (owned.owners, owned.owner_status) == ((Owner(6700, "python3"),), OwnerStatus.KNOWN)
    assert owned.raw.startswith("tcp        0      0 127.0.0.1:18096")


def test_owners_are_shared_within_one_parse(corpus: Path) -> None:
    records = parse(read_text(corpus / "debian12" / "netstat-tunapW.out")).records
    parents = [r.owners for r in records if r.pid == 6697]
    assert len(parents) == 27
    assert all(owners is parents[0] for owners in parents)


def test_raw_socket_numeric_state(corpus: Path) -> None:
    (raw,) = parse(read_text(corpus / "debian12" / "netstat-wanp.out")).records
    # TCP_CLOSE (7) on a raw socket: no peer, what ss calls UNCONN. The "port" is the IP protocol (ICMP).
    assert (raw.proto, raw.family, raw.local_ip, raw.local_port, raw.remote_ip) == (Proto.RAW, 4, "0.0.0.0", 1, None)
    assert (raw.state, raw.pid, raw.program) == (State.UNCONNECTED, 6697, "python3")
    raw6 = parse(read_text(corpus / "jc" / "ubuntu-18.04" / "netstat-sudo-lnp.out")).records[-1]
    assert (raw6.proto, raw6.family, raw6.local_ip, raw6.local_port, raw6.state) == (
        Proto.RAW,
        6,
        "::",
        58,
        State.UNCONNECTED,
    )
    named = parse(read_text(corpus / "jc" / "centos-7.7" / "netstat-l.out")).records[-1]
    assert (named.proto, named.local_ip, named.local_port) == (Proto.RAW, "::", 58)  # [::]:ipv6-icmp


def test_program_names_with_spaces(corpus: Path) -> None:
    result = parse(read_text(corpus / "jc" / "ubuntu-18.04" / "netstat-sudo-lnp-space.out"))
    assert result.issues == ()
    assert len(result.records) == 26
    names = {(r.proto, r.family, r.local_port, r.pid): r.program for r in result.records}
    assert names[(Proto.TCP, 4, 22, 600)] == "sshd: /usr/sbin"
    assert names[(Proto.TCP, 6, 22, 600)] == "sshd: /usr/sbin"
    assert names[(Proto.TCP, 4, 9000, 1187)] == "pgpool: watchd"
    assert names[(Proto.UDP, 4, 37300, 1204)] == "pgpool: heartb"  # no State cell, then a name with a space
    assert names[(Proto.TCP, 4, 10050, 1817931)] == "zabbix_agen"  # netstat's own 20-character cut
    assert names[(Proto.UDP, 4, 9694, 1203)] == names[(Proto.UDP, 4, 9694, 1205)] == "pgpool: heartb"
    assert names[(Proto.RAW, 6, 58, 867)] == "systemd-network"


def test_extended_columns_numeric(corpus: Path) -> None:
    records = by_socket(parse(read_text(corpus / "debian12" / "netstat-tunaepW.out")).records)
    nobody = records[(Proto.TCP, "127.0.0.1", 18096, None)]
    assert (nobody.uid, nobody.inode, nobody.pid, nobody.user) == (65534, 391362, 6700, None)
    root = records[(Proto.TCP, "127.0.0.1", 18083, None)]
    assert (root.uid, root.inode) == (0, 391330)
    udp = records[(Proto.UDP, "127.0.0.1", 18082, None)]  # no State: User comes right after the peer
    assert (udp.state, udp.uid, udp.inode, udp.pid) == (State.UNCONNECTED, 0, 391333, 6697)
    time_wait = records[(Proto.TCP, "127.0.0.1", 8080, 54326)]
    assert (time_wait.inode, time_wait.uid, time_wait.owners) == (None, 0, ())
    long_v6 = records[(Proto.TCP, "2001:db8:1234:5678:9abc:def0:1234:5678", 18086, None)]
    assert (long_v6.inode, long_v6.state) == (391339, State.LISTEN)


def test_extended_columns_with_user_names(corpus: Path) -> None:
    services_known(("domain", "tcp"), ("ssh", "tcp"), ("bootpc", "udp"))
    result = parse(read_text(corpus / "jc" / "ubuntu-18.04" / "netstat-sudo-aeep.out"))
    assert result.issues == ()  # and none for the UNIX table that follows
    assert len(result.records) == 9
    resolver = result.records[0]
    # "systemd-resolve 26985": the name overflows its 10-character cell and pushes the Inode right.
    assert (resolver.local_ip, resolver.local_port, resolver.inode, resolver.uid) == ("127.0.0.1", 53, 26985, None)
    assert resolver.owners == (Owner(893, "systemd-resolve", "systemd-resolve"),)
    assert resolver.user == "systemd-resolve"
    client = result.records[4]
    assert (client.local_port, client.remote_port, client.user, client.pid, client.inode) == (
        33098,
        22,
        "kbrazil",
        2321,
        44625,
    )
    sshd = result.records[3]
    assert (sshd.program, sshd.user) == ("sshd: kbrazil", "root")
    dhcp = result.records[7]
    assert (dhcp.proto, dhcp.local_ip, dhcp.local_port, dhcp.state, dhcp.user, dhcp.inode) == (
        Proto.UDP,
        "kbrazil-ubuntu",
        68,
        State.UNCONNECTED,
        "systemd-network",
        43856,
    )


def test_non_root_owners_are_not_reported(corpus: Path) -> None:
    services_known(("ssh", "tcp"))
    result = parse(read_text(corpus / "jc" / "centos-7.7" / "netstat-p.out"))
    assert result.issues == ()
    (record,) = result.records
    assert (record.local_port, record.remote_ip, record.remote_port, record.state) == (
        22,
        "192.168.71.1",
        58727,
        State.ESTABLISHED,
    )
    assert (record.owners, record.owner_status) == ((), OwnerStatus.NOT_REPORTED)
    # The host name "localhost.localdomain" was cut to fit 23 characters.
    assert (record.local_ip, record.truncated) == ("localhost.localdoma", True)
    mixed = parse(read_text(corpus / "jc" / "ubuntu-18.04" / "netstat-p.out")).records
    assert [(r.pid, r.program, r.owner_status) for r in mixed] == [
        (None, None, OwnerStatus.NOT_REPORTED),
        (23921, "git-remote-ht", OwnerStatus.KNOWN),
    ]


def test_owners_joined_by_inode_to_lines_without_owner(corpus: Path) -> None:
    calls = []
    owner = Owner(1, "init")

    def resolver(inode: int | None, state: State, uid: int | None) -> tuple[tuple[Owner, ...], OwnerStatus]:
        calls.append((inode, state, uid))
        return ((owner,), OwnerStatus.KNOWN) if inode else ((), OwnerStatus.NO_PROCESS)

    text = read_text(corpus / "debian12" / "netstat-tunaepW.out")
    records = by_socket(join_by_inode(parse(text).records, resolver))
    # Only the three lines netstat printed `-` for are asked about, with their Inode and User.
    assert calls == [(None, State.TIME_WAIT, 0), (None, State.ESTABLISHED, 0), (None, State.TIME_WAIT, 0)]
    assert records[(Proto.TCP, "127.0.0.1", 8080, 54326)].owner_status is OwnerStatus.NO_PROCESS
    assert records[(Proto.TCP, "127.0.0.1", 18096, None)].owners == (Owner(6700, "python3"),)
    # Without -p (the live source's `netstat -tunaeW`) every line is resolved by its inode.
    without_p = "\n".join(line.rstrip().rsplit(None, 1)[0] for line in text.splitlines()).replace(" PID/Program", "")
    calls.clear()
    records = by_socket(join_by_inode(parse(without_p).records, resolver))
    assert len(calls) == 36
    assert records[(Proto.TCP, "127.0.0.1", 18096, None)].owners == (owner,)
    assert (None, State.TIME_WAIT, 0) in calls and (391362, State.LISTEN, 65534) in calls


# --- truncation -------------------------------------------------------------------------------------------------


def test_narrow_output_flags_cut_addresses_and_wide_output_does_not(corpus: Path) -> None:
    narrow = parse(read_text(corpus / "debian12" / "netstat-tunap.out")).records
    wide = parse(read_text(corpus / "debian12" / "netstat-tunapW.out")).records
    assert len(narrow) == len(wide) == 36
    flagged = [(r.proto, r.local_ip, r.local_port, r.remote_ip, r.remote_port) for r in narrow if r.truncated]
    assert flagged == [
        (Proto.TCP, "2001:db8:1234:567", 18086, None, None),
        (Proto.TCP, "fe80::70ce:e8ff:f", 18088, None, None),
        (Proto.TCP, "fe80::70ce:e8ff:f", 36170, "fe80::70ce:e8ff:f", 18088),
        (Proto.TCP, "2001:db8:1234:567", 55996, "2001:db8:1234:567", 18086),
        (Proto.TCP, "2001:db8:1234:567", 18086, "2001:db8:1234:567", 55996),
        (Proto.TCP, "fe80::70ce:e8ff:f", 18088, "fe80::70ce:e8ff:f", 36170),
        (Proto.UDP, "fe80::70ce:e8ff:f", 18087, None, None),
    ]
    assert not any(r.truncated for r in wide)
    for cut, full in zip(narrow, wide, strict=True):
        # Same sockets in the same order: the cut keeps the port and the head of the host.
        assert (cut.proto, cut.local_port, cut.remote_port, cut.state, cut.pid) == (
            full.proto,
            full.local_port,
            full.remote_port,
            full.state,
            full.pid,
        )
        assert full.local_ip.startswith(cut.local_ip)
        assert cut.truncated == (cut.local_ip != full.local_ip or cut.remote_ip != full.remote_ip)
    # Told the output is wide, nothing is suspect; the CRLF tty capture reads as the piped one.
    assert not any(r.truncated for r in parse(read_text(corpus / "debian12" / "netstat-tunap.out"), wide=True).records)
    tty = parse(read_text(corpus / "debian12" / "netstat-tunap.tty80.out")).records
    assert tty == narrow


WIDE_BUT_SHORT = """\
Proto Recv-Q Send-Q Local Address           Foreign Address         State       PID/Program name
tcp6       0      0 2001:db8:0:0:1:2:3:4:22 :::*                    LISTEN      1/sshd
tcp        0      0 10.0.0.1:22             10.0.0.2:50000          ESTABLISHED 2/sshd
"""


def test_a_23_character_cell_is_suspect_unless_the_output_is_known_wide() -> None:
    # "2001:db8:0:0:1:2:3:4" + ":22" is 23 characters and was not cut, but nothing in the text says so.
    first, second = parse(WIDE_BUT_SHORT).records
    assert (first.local_ip, first.local_port, first.truncated) == ("2001:db8:0:0:1:2:3:4", 22, True)
    assert second.truncated is False
    assert not any(r.truncated for r in parse(WIDE_BUT_SHORT, wide=True).records)
    # A longer cell anywhere proves -W, which clears the suspicion.
    longer = WIDE_BUT_SHORT + "tcp6       0      0 2001:db8:1234:5678:9abc:def0:1234:5678:22 :::*  LISTEN  3/sshd\n"
    assert [r.truncated for r in parse(longer).records] == [False, False, False]
    assert [r.truncated for r in parse(longer, wide=False).records] == [True, False, False]


# --- names instead of numbers -----------------------------------------------------------------------------------


def test_output_without_n_resolves_service_names_and_localhost(corpus: Path) -> None:
    services_known(("http-alt", "tcp"))
    named = parse(read_text(corpus / "debian12" / "netstat-tuap.out"))
    numeric = parse(read_text(corpus / "debian12" / "netstat-tunap.out"))
    assert named.issues == ()
    for name, number in zip(named.records, numeric.records, strict=True):
        assert (name.proto, name.family, name.local_port, name.remote_port, name.state, name.pid) == (
            number.proto,
            number.family,
            number.local_port,
            number.remote_port,
            number.state,
            number.pid,
        )
        assert name.truncated == number.truncated
        # net-tools names 127.0.0.1 "localhost" (and not the v4-mapped or IPv6 addresses): read back as 127.0.0.1.
        assert (name.local_ip, name.remote_ip) == (number.local_ip, number.remote_ip)
    assert "localhost:http-alt" in named.records[9].raw
    http = named.records[9]
    assert (http.local_ip, http.local_port, http.remote_ip, http.remote_port, http.state) == (
        "127.0.0.1",
        8080,  # http-alt
        "127.0.0.1",
        54326,
        State.TIME_WAIT,
    )
    # "[::]:*" is the IPv6 wildcard peer as netstat prints it without -n.
    assert named.records[21].remote_ip is None and named.records[21].local_port == 18086


def test_unknown_service_name_keeps_its_row_with_the_name() -> None:
    text = (
        "Proto Recv-Q Send-Q Local Address           Foreign Address         State\n"
        "tcp        0      0 0.0.0.0:no-such-svc-x   0.0.0.0:*               LISTEN\n"
        "tcp        0      0 0.0.0.0:22              0.0.0.0:*               LISTEN\n"
        "tcp        0      0 0.0.0.0:22              0.0.0.0:*               LISTEN\n"
        "tcp        0      0 0.0.0.0:bad\x1bname      0.0.0.0:*               LISTEN\n"
    )
    result = parse(text)
    expected = [(None, "no-such-svc-x"), (22, None), (22, None)]
    assert [(r.local_port, r.local_service) for r in result.records] == expected
    # What is not shaped like a name is still an issue, and its message is safe to print.
    [issue] = result.issues
    assert (issue.line_no, "\x1b" in issue.reason, "bad" in issue.reason) == (5, False, True)


# --- other tables, other outputs --------------------------------------------------------------------------------


SOCKET_LISTS = [
    "debian12/netstat-plnt.out",
    "debian12/netstat-tuap.out",
    "debian12/netstat-tunaepW.out",
    "debian12/netstat-tunap.out",
    "debian12/netstat-tunap.tty80.out",
    "debian12/netstat-tunapW.out",
    "debian12/netstat-wanp.out",
    "jc/centos-7.7/netstat-l.out",
    "jc/centos-7.7/netstat-p.out",
    "jc/centos-7.7/netstat-sudo-aeep.out",
    "jc/centos-7.7/netstat-sudo-lnp.out",
    "jc/centos-7.7/netstat.out",
    "jc/ubuntu-18.04/netstat-l.out",
    "jc/ubuntu-18.04/netstat-p.out",
    "jc/ubuntu-18.04/netstat-sudo-aeep.out",
    "jc/ubuntu-18.04/netstat-sudo-lnp-space.out",
    "jc/ubuntu-18.04/netstat-sudo-lnp.out",
    "jc/ubuntu-18.04/netstat.out",
]
OTHER_TABLES = {
    "netstat-r.out": "routing table (netstat -r)",
    "netstat-rne.out": "routing table (netstat -r)",
    "netstat-rnee.out": "routing table (netstat -r)",
    "netstat-i.out": "interface table (netstat -i)",
}


def test_every_linux_netstat_file_in_the_corpus_is_read_or_rejected(corpus: Path) -> None:
    files = sorted(
        str(path.relative_to(corpus))
        for folder in ("debian12", "jc/centos-7.7", "jc/ubuntu-18.04")
        for path in (corpus / folder).glob("netstat*.out")
    )
    assert files, "no netstat captures found"
    services_known(("ssh", "tcp"), ("smtp", "tcp"), ("domain", "tcp"), ("https", "tcp"), ("bootpc", "udp"))
    rejected = []
    for name in files:
        text = read_text(corpus / name)
        if name in SOCKET_LISTS:
            result = parse(text)
            assert result.issues == (), name
            assert result.records, name
        else:
            with pytest.raises(NotASocketTable) as error:
                parse(text)
            assert OTHER_TABLES[Path(name).name] in str(error.value)
            assert "not a list of internet sockets" in str(error.value)
            rejected.append(name)
    assert len(rejected) == 8  # -r, -rne, -rnee, -i of both jc folders
    assert set(files) == set(SOCKET_LISTS) | set(rejected)


def test_unix_section_is_skipped_without_issues(corpus: Path) -> None:
    services_known(("ssh", "tcp"), ("smtp", "tcp"), ("bootpc", "udp"))
    text = read_text(corpus / "jc" / "centos-7.7" / "netstat-sudo-aeep.out")
    result = parse(text)
    assert result.issues == ()
    assert len(result.records) == 10
    assert len(text.splitlines()) > 100  # the UNIX table: not records, not issues
    assert result.records[-1].owners == (Owner(878, "NetworkManager", "root"),)


SECTIONS = """\
(Not all processes could be identified, non-owned process info
 will not be shown, you would have to be root to see it all.)
Active Internet connections (servers and established)
Proto Recv-Q Send-Q Local Address           Foreign Address         State       PID/Program name
tcp        0      0 0.0.0.0:22              0.0.0.0:*               LISTEN      -
Active UNIX domain sockets (servers and established)
Proto RefCnt Flags       Type       State         I-Node   PID/Program name     Path
unix  2      [ ACC ]     STREAM     LISTENING     20812    -                    /run/udev/control
Active Bluetooth connections (servers and established)
Proto  Destination       Source            State         PSM DCID   SCID      IMTU    OMTU Security
l2cap  00:00:00:00:00:00 00:11:22:33:44:55 LISTEN        1   0x0000 0x0000    672     0    low
Active Internet connections (only servers)
Proto Recv-Q Send-Q Local Address           Foreign Address         State       User       Inode
udp        0      0 0.0.0.0:68              0.0.0.0:*                           0          20830
"""


def test_several_tables_and_a_second_internet_header() -> None:
    result = parse(SECTIONS)
    assert result.issues == ()
    ssh, dhcp = result.records
    assert (ssh.local_port, ssh.owners, ssh.inode) == (22, (), None)
    assert (dhcp.proto, dhcp.local_port, dhcp.state, dhcp.uid, dhcp.inode) == (
        Proto.UDP,
        68,
        State.UNCONNECTED,
        0,
        20830,
    )


@pytest.mark.parametrize(
    ("text", "error", "words"),
    [
        ("Kernel IP routing table\nDestination     Gateway  Genmask  Flags\n", NotASocketTable, "routing table"),
        ("Kernel IPv6 routing table\nDestination   Next Hop  Flag Met Ref Use If\n", NotASocketTable, "routing"),
        ("Kernel Interface table\nIface   MTU  RX-OK RX-ERR\n", NotASocketTable, "interface table"),
        ("IPv6/IPv4 Group Memberships\nInterface       RefCnt Group\n", NotASocketTable, "multicast group"),
        ("Ip:\n    Forwarding: 2\nTcp:\n    5 active connection openings\n", NotASocketTable, "statistics"),
        ("Active UNIX domain sockets (only servers)\nProto RefCnt Flags\n", NotASocketTable, "UNIX domain"),
        ("Netid State Recv-Q Send-Q Local Address:Port Peer Address:Port\n", UnknownFormat, "not Linux netstat"),
    ],
)
def test_texts_that_are_not_socket_lists(text: str, error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=words):
        parse(text)


def test_other_systems_netstat_is_not_taken_for_linux(corpus: Path) -> None:
    for name in ("jc/freebsd12/netstat-an.out", "jc/osx-10.14.6/netstat.out", "jc/windows-10/netstat-an.out"):
        text = read_text(corpus / name)
        assert not any(netstat_linux.looks_like_header(line) for line in text.splitlines()), name
        with pytest.raises(UnknownFormat):
            parse(text)


def test_empty_and_title_only_inputs() -> None:
    assert parse("").records == ()
    assert parse("\n  \n").issues == ()
    cut = parse("Active Internet connections (servers and established)\n")
    assert cut.records == () and [i.line_no for i in cut.issues] == [1]


# --- damaged input ----------------------------------------------------------------------------------------------


def test_garbage_lines_become_issues_and_the_rest_parses(corpus: Path) -> None:
    lines = read_text(corpus / "debian12" / "netstat-tunapW.out").splitlines()
    damaged = [
        *lines[:4],
        "this line is garbage",
        "tcp        x      0 127.0.0.1:1             0.0.0.0:*               LISTEN      1/a",
        "tcp        0      0 127.0.0.1:2             0.0.0.0:*               LISTENING?  1/a",
        "\ufffd\ufffd\ufffd binary junk",
        "udp        0      0 127.0.0.1               0.0.0.0:*                           1/a",
        "tcp        0      0 127.0.0.1:3             0.0.0.0:*               LISTEN      nobody",  # kept, no owner
        "raw        0      0 0.0.0.0:255             0.0.0.0:*               BOGUS       1/a",
        "sctp       0      0 0.0.0.0:9               0.0.0.0:*               LISTEN      1/a",
        *lines[4:],
    ]
    result = parse("\r\n".join(damaged))
    assert len(result.records) == 37
    assert [(r.local_port, r.owners, r.owner_status) for r in result.records[:3]] == [
        (18096, (Owner(6700, "python3"),), OwnerStatus.KNOWN),
        (18083, (Owner(6697, "python3"),), OwnerStatus.KNOWN),
        (3, (), OwnerStatus.NOT_REPORTED),  # "nobody": a bare name names no process
    ]
    assert [(i.line_no, i.reason.split(" ")[0]) for i in result.issues] == [
        (5, "not"),
        (6, "queue"),
        (7, "unknown"),
        (8, "not"),
        (9, "cannot"),
        (11, "unknown"),
        (12, "not"),
    ]
    assert result.issues[0].text == "this line is garbage"
    assert "'sctp'" in result.issues[-1].reason


def test_output_cut_mid_line(corpus: Path) -> None:
    text = read_text(corpus / "debian12" / "netstat-tunaepW.out")
    full = parse(text).records
    last_start = text.rstrip("\n").rfind("\n") + 1
    last_line = text[last_start:].rstrip("\n")
    for end in range(last_start, len(text)):
        result = parse(text[:end])
        assert result.records[:35] == full[:35]
        if len(result.records) == 36:
            # Cut inside the program name or its padding: what is left is still a well-formed line.
            assert end - last_start >= len(last_line.rstrip()) - len("python3")
            assert result.issues == ()
        else:
            assert len(result.records) == 35
            assert [i.line_no for i in result.issues] in ([], [38])
    inode = last_line.index("391343")
    cuts = {
        last_line.index(":::*") + 14: "no User and Inode",  # the peer, then blanks where State would be
        inode + 2: "no PID/Program name",  # in the Inode
        inode + 11: "no PID/Program name",  # the Inode's padding
        len("udp6       0      0 fe80::70ce:e8ff:fe4"): "expected at least 5 columns",  # in the local address
    }
    for end, reason in cuts.items():
        (issue,) = parse(text[: last_start + end]).issues
        assert (issue.line_no, issue.text, issue.reason.startswith(reason)) == (38, last_line[:end], True)


# --- optional columns and protocols seen elsewhere ---------------------------------------------------------------


TIMERS = """\
Active Internet connections (servers and established)
Proto Recv-Q Send-Q Local Address       Foreign Address     State       PID/Program name     Timer
tcp        0      0 0.0.0.0:22          0.0.0.0:*           LISTEN      5711/sshd            off (0.00/0/0)
tcp        0     52 192.168.70.77:22    192.168.70.33:59072 ESTABLISHED 9414/sshd: root@pts  on (0.23/0/0)
tcp        0      0 192.168.70.77:22    192.168.70.33:56269 ESTABLISHED 5732/sshd: www [pri  keepalive (1019.14/0/0)
udp        0      0 0.0.0.0:68          0.0.0.0:*                       535/dhclient         off (0.00/0/0)
udpl6      0      0 :::5000             :::*                            -                    on1 (0.00/0/0)
"""


def test_timer_column_and_udp_lite() -> None:
    result = parse(TIMERS)
    assert result.issues == ()
    listen, root, www, dhcp, lite = result.records
    assert (listen.pid, listen.program, listen.state) == (5711, "sshd", State.LISTEN)
    assert (root.program, root.send_q, root.remote_port) == ("sshd: root@pts", 52, 59072)
    assert (www.pid, www.program) == (5732, "sshd: www [pri")
    assert (dhcp.proto, dhcp.state, dhcp.pid) == (Proto.UDP, State.UNCONNECTED, 535)
    assert (lite.proto, lite.family, lite.local_ip, lite.local_port, lite.owners) == (Proto.UDP, 6, "::", 5000, ())


CONTEXT_AND_OLD_FORMS = """\
Proto Recv-Q Send-Q Local Address         Foreign Address       State       PID/Program name     Security Context
tcp        0      0 *:22                  *:*                   LISTEN      1134/sshd            system_u:sshd_t:s0
tcp6       0      0 ::ffff:127.0.0.1:7403 :::*                  LISTEN      -                    -
tcp        0      0 0.0.0.0:*             0.0.0.0:*             CLOSE       77/pyth\ufffdn        unconfined_u:s0
"""


def test_security_context_old_wildcards_and_replacement_characters() -> None:
    result = parse(CONTEXT_AND_OLD_FORMS)
    assert result.issues == ()
    old, mapped, unbound = result.records
    # Old net-tools printed the any address as "*" at both ends.
    assert (old.local_ip, old.local_port, old.remote_ip, old.remote_port, old.program) == (
        "0.0.0.0",
        22,
        None,
        None,
        "sshd",
    )
    # Older net-tools wrote the v4-mapped form itself: kept as is.
    assert (mapped.local_ip, mapped.local_port, mapped.family, mapped.owners) == ("::ffff:127.0.0.1", 7403, 6, ())
    assert (unbound.local_port, unbound.state, unbound.program) == (None, State.CLOSE, "pyth\ufffdn")


def test_looks_like_header() -> None:
    assert netstat_linux.looks_like_header(
        "Proto Recv-Q Send-Q Local Address           Foreign Address         State       PID/Program name"
    )
    assert not netstat_linux.looks_like_header("Proto RefCnt Flags       Type       State         I-Node   Path")
    assert not netstat_linux.looks_like_header("Proto Recv-Q Send-Q  Local Address          Foreign Address  (state)")


# --- a second opinion: jc ---------------------------------------------------------------------------------------


def jc_view(row: dict, proto: str) -> tuple:
    """jc's row in our terms: brackets dropped, names resolved (localhost too), a wildcard peer None, inode 0
    None."""

    def port(text: str | int) -> int | None:
        if isinstance(text, int) or text.isdigit():
            return int(text)
        if text == "*":
            return None
        if proto == "raw":
            return netstat_linux.IP_PROTOCOLS[text]  # a raw socket's "port" is its IP protocol
        return socket.getservbyname(text, proto)

    def host(text: str) -> str:
        text = text.strip("[]")
        return {"localhost": "127.0.0.1" if proto_family == 4 else "::1"}.get(text, text)

    proto_family = 6 if row["proto"].endswith("6") else 4
    wildcard_peer = row["foreign_port"] == "*" and row["foreign_address"] in ("0.0.0.0", "::", "[::]")
    remote_ip = None if wildcard_peer else host(row["foreign_address"])
    state = row["state"]
    if state is None:
        state = "UNCONNECTED" if wildcard_peer else "ESTABLISHED"
    elif state == "7":
        state = "UNCONNECTED"
    return (
        proto,
        proto_family,
        host(row["local_address"]),
        port(row["local_port"]),
        remote_ip,
        None if wildcard_peer else port(row["foreign_port"]),
        state,
        row.get("pid"),
        row.get("program_name"),
        row.get("inode") or None,
        row.get("user") if not str(row.get("user", "0")).isdigit() else None,
    )


JC_SOCKET_FILES = [name for name in SOCKET_LISTS if name.startswith("jc/")]
#: Rows where jc is wrong: it gives hosts netstat cut to 23 characters as if they were whole.
JC_CUT_HOSTS = {
    "jc/centos-7.7/netstat-p.out": [0],
    "jc/centos-7.7/netstat.out": [0, 1, 2],
    "jc/ubuntu-18.04/netstat-p.out": [1],
    "jc/ubuntu-18.04/netstat.out": [1],
}


@pytest.mark.parametrize("name", JC_SOCKET_FILES)
def test_jc_agrees_where_it_is_right(corpus: Path, name: str) -> None:
    services_known(("ssh", "tcp"), ("smtp", "tcp"), ("domain", "tcp"), ("https", "tcp"), ("bootpc", "udp"))
    ours = parse(read_text(corpus / name)).records
    theirs = [row for row in json.loads((corpus / name).with_suffix(".json").read_text()) if row["kind"] == "network"]
    assert len(ours) == len(theirs)
    for mine, row in zip(ours, theirs, strict=True):
        assert (*key_of(mine)[:7], mine.pid, mine.program, mine.inode, mine.user) == jc_view(row, mine.proto.value)
    assert [i for i, r in enumerate(ours) if r.truncated] == JC_CUT_HOSTS.get(name, [])


def test_where_jc_is_wrong_on_debian12(corpus: Path) -> None:
    """jc passes off cut hosts as whole and writes a v4-mapped socket's address as plain IPv4."""
    jc = pytest.importorskip("jc")
    text = read_text(corpus / "debian12" / "netstat-tunap.out")
    theirs = [row for row in jc.parse("netstat", text, quiet=True) if row.get("kind") == "network"]
    ours = parse(text).records
    truth = psutil_truth(corpus)
    long_listener = 21
    assert theirs[long_listener]["local_address"] == ours[long_listener].local_ip == "2001:db8:1234:567"
    assert ours[long_listener].truncated  # jc has no such flag
    assert truth[(Proto.TCP, "2001:db8:1234:5678:9abc:def0:1234:5678", 18086, None)]
    mapped = 22
    assert (theirs[mapped]["proto"], theirs[mapped]["local_address"]) == ("tcp6", "127.0.0.1")
    assert ours[mapped].local_ip == "::ffff:127.0.0.1"
    assert (Proto.TCP, "::ffff:127.0.0.1", 18084, None) in truth
