"""The ss parser against recorded outputs, psutil's ground truth and hand-made hard lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nettop.errors import NotASocketTable
from nettop.formats import ss
from nettop.model import OwnerStatus, Proto, State
from tests.conftest import read_text

DEBIAN_SS = [
    "ss-tunap.out",
    "ss-tunapH.out",
    "ss-tunapO.out",
    "ss-tunape.out",
    "ss-tunapiH.out",
    "ss-tunap.tty80.out",
    "ss-tunap.tty200.out",
    "ss-tuap.out",
]

PSUTIL_STATES = {"NONE": None, "LISTEN": State.LISTEN, "ESTABLISHED": State.ESTABLISHED}


def truth_keys(corpus: Path) -> set[tuple[str, int, str, int, str | None, int | None, int | None]]:
    truth = json.loads((corpus / "debian12" / "ground-truth-psutil.json").read_text())
    keys = set()
    for sock in truth["inet"]:
        proto = "tcp" if sock["type"] == "SOCK_STREAM" else "udp"
        family = 4 if sock["family"] == "AF_INET" else 6
        raddr = sock["raddr"] or [None, None]
        keys.add((proto, family, sock["laddr"][0], sock["laddr"][1], raddr[0], raddr[1], sock["pid"]))
    return keys


@pytest.mark.parametrize("name", DEBIAN_SS)
def test_debian12_outputs_match_psutil_socket_by_socket(corpus: Path, name: str) -> None:
    result = ss.parse(read_text(corpus / "debian12" / name))
    assert result.issues == ()
    owners = {
        (r.proto.value, r.family, r.local_ip, r.local_port, r.remote_ip, r.remote_port): {o.pid for o in r.owners}
        for r in result.records
    }
    truth = truth_keys(corpus)
    assert set(owners) == {key[:6] for key in truth}
    # psutil names one pid per socket (none for an unowned one); ss names every owner.
    for key in truth:
        assert (key[6] in owners[key[:6]]) if key[6] is not None else owners[key[:6]] == set(), key


def test_owners_states_and_odd_names(corpus: Path) -> None:
    records = {
        (r.proto, r.local_ip, r.local_port, r.remote_port): r
        for r in ss.parse(read_text(corpus / "debian12" / "ss-tunap.out")).records
    }
    shared = records[(Proto.TCP, "127.0.0.1", 18091, None)]
    assert [(o.pid, o.name) for o in shared.owners] == [(6706, "worker-b"), (6705, "worker-a"), (6697, "python3")]
    assert records[(Proto.TCP, "127.0.0.1", 18090, None)].program == "my srv:x (1"
    assert records[(Proto.TCP, "127.0.0.1", 18095, None)].program == "dæmon-ü"
    assert records[(Proto.TCP, "127.0.0.1", 18094, None)].program == "averyveryverylo"
    time_wait = records[(Proto.TCP, "127.0.0.1", 8080, 54326)]
    assert time_wait.state is State.TIME_WAIT and time_wait.owners == ()
    assert time_wait.owner_status is OwnerStatus.NOT_REPORTED
    assert records[(Proto.TCP, "127.0.0.1", 39484, 18093)].state is State.CLOSE_WAIT
    assert records[(Proto.TCP, "127.0.0.1", 18093, 39484)].state is State.FIN_WAIT2
    assert records[(Proto.TCP, "127.0.0.1", 34734, 18092)].state is State.SYN_SENT
    udp = records[(Proto.UDP, "127.0.0.1", 18082, None)]
    assert (udp.state, udp.remote_ip, udp.family) == (State.UNCONNECTED, None, 4)
    connected = records[(Proto.UDP, "127.0.0.1", 47454, 18082)]
    assert (connected.state, connected.remote_ip) == (State.ESTABLISHED, "127.0.0.1")
    bound = records[(Proto.UDP, "127.0.0.1", 18089, None)]
    assert bound.interface == "lo"
    link_local = records[(Proto.TCP, "fe80::70ce:e8ff:fe42:eb34", 18088, None)]
    assert (link_local.interface, link_local.family, link_local.state) == ("v0", 6, State.LISTEN)
    mapped = records[(Proto.TCP, "::ffff:127.0.0.1", 18084, None)]
    assert (mapped.family, mapped.remote_ip, mapped.v6only) == (6, None, False)
    assert mapped.raw.startswith("tcp   LISTEN")


def test_extended_columns(corpus: Path) -> None:
    records = ss.parse(read_text(corpus / "debian12" / "ss-tunape.out")).records
    by_port = {(r.proto, r.local_port, r.remote_port): r for r in records}
    nobody = by_port[(Proto.TCP, 18096, None)]
    assert (nobody.uid, nobody.inode) == (65534, 391362)
    assert by_port[(Proto.TCP, 18083, None)].uid == 0
    assert by_port[(Proto.UDP, 18085, None)].v6only is True
    time_wait = by_port[(Proto.TCP, 8080, 54326)]
    assert (time_wait.inode, time_wait.uid) == (None, None)


def test_glued_header_without_netid(corpus: Path) -> None:
    result = ss.parse(read_text(corpus / "debian12" / "ss-tlnp.out"))
    assert result.issues == ()
    assert len(result.records) == 14
    assert all(r.proto is Proto.TCP and r.state is State.LISTEN for r in result.records)
    assert {r.local_port for r in result.records} >= {18096, 18081, 18084, 8080}


def test_jc_fixtures_parse_and_report_other_socket_types(corpus: Path) -> None:
    result = ss.parse(read_text(corpus / "jc" / "ubuntu-18.04" / "ss-sudo-a.out"))
    assert result.records, "the tcp/udp rows of ss -a must still be read"
    assert result.issues == ()
    # Counted from the file: 39 nl, 74 u_str + 35 u_dgr + 1 u_seq, 1 p_raw, 1 v_str; not issues.
    assert result.skipped == (("netlink", 39), ("packet", 1), ("UNIX", 110), ("vsock", 1))
    # 4 tcp, 2 udp and the raw ICMPv6 socket iproute2 4.15 calls "icmp6" (`*%ens33:ipv6-icmp`).
    assert len(result.records) == 7
    icmp6 = next(r for r in result.records if r.proto is Proto.RAW)
    assert (icmp6.local_ip, icmp6.local_port, icmp6.interface, icmp6.family, icmp6.remote_ip) == (
        "::",
        58,
        "ens33",
        6,
        None,
    )
    tulpen = ss.parse(read_text(corpus / "jc" / "ubuntu-18.04" / "ss-sudo-tulpen.out"))
    assert tulpen.issues == ()
    resolver = next(r for r in tulpen.records if r.local_ip == "127.0.0.53" and r.proto is Proto.UDP)
    assert (resolver.interface, resolver.local_port, resolver.program, resolver.uid) == (
        "lo",
        53,
        "systemd-resolve",
        101,
    )
    anonymous = next(r for r in tulpen.records if r.local_port == 4789)
    assert anonymous.owners == () and anonymous.inode == 58296


def test_jc_agrees_where_it_is_right(corpus: Path) -> None:
    """jc's own parse of the same file: addresses, ports and states agree row by row."""
    folder = corpus / "jc" / "ubuntu-18.04"
    ours = [r for r in ss.parse(read_text(folder / "ss-sudo-tulpen.out")).records]
    theirs = json.loads((folder / "ss-sudo-tulpen.json").read_text())
    assert len(ours) == len(theirs)
    for mine, jc in zip(ours, theirs, strict=True):
        assert mine.proto.value == jc["netid"]
        assert mine.local_port == int(jc["local_port"])
        assert mine.local_ip == jc["local_address"].strip("[]").replace("*", "::")


OLD_AND_ODD = """\
Netid  State      Recv-Q Send-Q     Local Address:Port       Peer Address:Port
tcp    LISTEN     0      128                   :::22                   :::*      users:(("sshd",1231,3))
tcp    LISTEN     0      128                    *:5665                  *:*      users:(("icinga2",pid=77,fd=9))
tcp    ESTAB      0      0              ::1:35048             ::1:9200
tcp    BOGUS      0      0              127.0.0.1:1             127.0.0.1:2
this line is garbage
tcp    ESTAB      0      0              127.0.0.1:http          127.0.0.1:5
tcp    ESTAB      0
"""


def test_old_iproute_forms_and_bad_lines_are_reported_not_fatal() -> None:
    result = ss.parse(OLD_AND_ODD)
    ssh, icinga, client, http = result.records
    assert (ssh.local_ip, ssh.local_port, ssh.family, ssh.pid, ssh.program) == ("::", 22, 6, 1231, "sshd")
    # Old ss (bare :::22 beside it): `*` is the IPv4 any address, not a dual-stack one.
    assert (icinga.local_ip, icinga.family, icinga.v6only, icinga.remote_ip) == ("0.0.0.0", 4, None, None)
    assert (client.local_ip, client.local_port, client.remote_ip, client.remote_port) == ("::1", 35048, "::1", 9200)
    assert http.local_port == 80
    assert [(i.line_no, i.reason.split(" ")[0]) for i in result.issues] == [
        (5, "unknown"),
        (6, "expected"),
        (8, "expected"),
    ]


def test_a_name_holding_characters_that_splitlines_would_break_at_stays_on_its_line() -> None:
    # A process may name itself anything but "/" and NUL; ss prints the name as it is.
    names = ["form\x0cfeed", "nel\x85x", "sep\u2028x", "grp\x1dx"]
    rows = [
        f'tcp   LISTEN 0      5      127.0.0.1:{8000 + i}   0.0.0.0:*   users:(("{name}",pid={100 + i},fd=3))'
        for i, name in enumerate(names)
    ]
    text = "Netid State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process\r\n"
    text += "\r\n".join(rows) + "\r\ntcp   BOGUS  0      0      127.0.0.1:1   127.0.0.1:2\r\n"
    result = ss.parse(text)
    assert [(r.local_port, r.pid, r.program) for r in result.records] == [
        (8000 + i, 100 + i, name) for i, name in enumerate(names)
    ]
    assert [(i.line_no, i.text) for i in result.issues] == [(6, "tcp   BOGUS  0      0      127.0.0.1:1   127.0.0.1:2")]


def test_an_owner_seen_alone_and_then_with_others_keeps_the_others() -> None:
    # Owner lists are remembered by their text before the first ",fd=": the second line starts as the first.
    text = """\
Netid State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process
tcp   LISTEN 0      5      127.0.0.1:1   0.0.0.0:*   users:(("w",pid=5,fd=3))
tcp   LISTEN 0      5      127.0.0.1:2   0.0.0.0:*   users:(("w",pid=5,fd=4),("v",pid=6,fd=4)) ino:88 sk:2
tcp   LISTEN 0      5      127.0.0.1:3   0.0.0.0:*   users:(("w",pid=5,fd=5)) uid:1000 ino:77 sk:1 v6only:0
"""
    one, two, three = ss.parse(text).records
    assert [(o.pid, o.name) for o in one.owners] == [(5, "w")]
    assert [(o.pid, o.name) for o in two.owners] == [(5, "w"), (6, "v")]
    assert (two.inode, two.uid) == (88, 0)
    assert three.owners == one.owners and (three.inode, three.uid) == (77, 1000)


def test_not_ss_text_is_rejected() -> None:
    with pytest.raises(NotASocketTable):
        ss.parse("Kernel IP routing table\nDestination Gateway Genmask Flags\n")


MEMO_TEXT = """\
Netid State     Recv-Q Send-Q Local Address:Port  Peer Address:Port Process
tcp   LISTEN    0      128        127.0.0.1:8080       0.0.0.0:*     ino:111 sk:1 cgroup:/ <->
tcp   ESTAB     0      0          127.0.0.1:8080     127.0.0.1:40000 ino:222 sk:2 cgroup:/ <->
tcp   TIME-WAIT 0      0          127.0.0.1:40001    127.0.0.1:8080  timer:(timewait,59sec,0) ino:0 sk:3
tcp   ESTAB     0      0          127.0.0.1:40002    127.0.0.1:8080  users:(("curl",pid=77,fd=5)) ino:333 sk:4
tcp   BOGUS     0      0          127.0.0.1:1            127.0.0.1:2
"""
