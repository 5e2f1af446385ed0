"""The existing ss and net-tools netstat parsers against the forms of older Linux tools.

Hand-written inputs in tests/data/handmade/ copy layouts from these sources, named where they are used:

- OLD_SS_C: iproute2's ss.c of the 3.x era (the one whose users:() entries read ``("name",pid=N,fd=N)``):
  ``main()`` prints the Netid column only when several socket tables are asked for and the State column only
  when several states are (``state_width = 0`` unless ``states & (states - 1)``), and lays the addresses out at
  80 columns; ``formatted_print()`` writes the IPv4 any address as ``*`` and IPv6 addresses bare through
  ``format_host`` (``:::22``, ``::1:25``). Older still, users:() entries had no keys: ``("sshd",1231,3)``.
- NEW_SS_C: iproute2's ss.c since ``inet_addr_print()`` (Ubuntu 18.04's iproute2 4.15 already, see
  jc/ubuntu-18.04/ss-sudo-a.out): ``0.0.0.0`` for the IPv4 any address, brackets around IPv6, and ``*`` only
  for the IPv6 any address of a socket that is not v6only.
- INSIGHTS: RedHatInsights/insights-core insights/tests/parsers/test_netstat.py, ``Ss_TUPNA`` (old ``ss -tupna``
  with ``*:22`` for sshd's fd 3 and ``:::22`` for its fd 4, keyless users:()), cited by parsing-pitfalls.md
  items 18 and 26 as other/insights-core/ss-tupna_old-iproute-users-nopid.out.
- DATADOG: DataDog/integrations-core network/tests/fixtures: ``ss_ipv4_tcp`` (``ss -n -t -a -4``: ``*:6384 *:*``
  in an IPv4-only listing), ``ss_ipv6_tcp`` (``:::9200``, ``::1:35048``, ``::ffff:127.0.0.1:2181``) and ``netstat``
  (``fe80::a00:27ff:fee9:123``, cut by net-tools without -W), cited by parsing-pitfalls.md items 1, 2, 4 and 6.
- OPENWRT: https://github.com/openwrt/uhttpd/issues/26, ``ss -ltunp | grep uhttpd`` quoted verbatim: ``*:443``
  for a socket bound to ``[::]`` without v6only.
- NET_TOOLS: net-tools netstat without -W, ``%-23s`` address cells cut to 23 characters (netstat_linux.CUT_WIDTH,
  parsing-pitfalls.md item 6, debian12/netstat-tunap.out ``2001:db8:1234:567:18086``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nettop.errors import NotASocketTable
from nettop.formats import detect_format, netstat_linux, ss
from nettop.model import Connection, Owner, OwnerStatus, Proto, State
from tests.conftest import DATA, read_text

HANDMADE = DATA / "handmade"


def load(name: str) -> str:
    return read_text(HANDMADE / name)


def key(r: Connection) -> tuple[Proto, int, str, int | None, str | None, int | None]:
    return (r.proto, r.family, r.local_ip, r.local_port, r.remote_ip, r.remote_port)


# --- ss of old iproute2 ------------------------------------------------------------------------------------------


def test_ss_without_state_column() -> None:
    # OLD_SS_C: `ss -tn state established` asks for one state and one table: no State, no Netid. Addresses
    # from DATADOG ss_ipv4_tcp and ss_ipv6_tcp.
    result = ss.parse(load("linux-iproute2-3.x_ss-tn-state-established.out"))
    assert result.issues == ()
    assert [(*key(r), r.state) for r in result.records] == [
        (Proto.TCP, 4, "10.0.2.15", 22, "10.0.2.2", 49936, State.UNKNOWN),
        (Proto.TCP, 6, "::1", 35048, "::1", 17123, State.UNKNOWN),
        (Proto.TCP, 6, "::ffff:127.0.0.1", 2181, "::ffff:127.0.0.1", 43874, State.UNKNOWN),
    ]
    assert all(r.owners == () and r.owner_status is OwnerStatus.NOT_REPORTED for r in result.records)
    # The caller knows which state it asked for; the text does not say.
    hinted = ss.parse(load("linux-iproute2-3.x_ss-tn-state-established.out"), proto_hint=Proto.TCP)
    assert hinted.records == result.records


def test_ss_with_netid_but_without_state_column() -> None:
    # OLD_SS_C: `ss -tun state established`: two tables print Netid, one state hides State.
    result = ss.parse(load("linux-iproute2-3.x_ss-tun-state-established.out"))
    assert result.issues == ()
    udp, tcp, tcp6 = result.records
    assert (udp.proto, udp.state, udp.remote_ip, udp.remote_port) == (Proto.UDP, State.ESTABLISHED, "10.0.2.3", 53)
    assert (tcp.proto, tcp.state, tcp.local_port) == (Proto.TCP, State.UNKNOWN, 22)
    assert (tcp6.family, tcp6.local_ip, tcp6.send_q) == (6, "::1", 36)


def test_old_ss_bare_ipv6_and_keyless_owners() -> None:
    # INSIGHTS Ss_TUPNA: `:::22`, `::1:25`, `:::111` and users:(("sshd",1231,4)) without pid= and fd=.
    records = {key(r): r for r in ss.parse(load("linux-iproute2-3.x_ss-tuanp.out")).records}
    ssh6 = records[(Proto.TCP, 6, "::", 22, None, None)]
    assert (ssh6.state, ssh6.owners, ssh6.owner_status, ssh6.interface) == (
        State.LISTEN,
        (Owner(1231, "sshd"),),
        OwnerStatus.KNOWN,
        None,
    )
    assert records[(Proto.TCP, 6, "::1", 25, None, None)].owners == (Owner(1326, "master"),)
    assert records[(Proto.UDP, 6, "::", 111, None, None)].state is State.UNCONNECTED
    session = records[(Proto.TCP, 4, "192.168.0.106", 22, "192.168.0.101", 59232)]
    assert (session.state, session.pid, session.program) == (State.ESTABLISHED, 11427, "sshd")
    nfs = records[(Proto.TCP, 4, "192.168.0.106", 739, "192.168.0.105", 2049)]
    assert (nfs.owners, nfs.owner_status) == ((), OwnerStatus.NOT_REPORTED)


def test_old_ss_star_is_the_ipv4_any_address() -> None:
    # OLD_SS_C formatted_print(); INSIGHTS: sshd holds `*:22` (fd 3) and `:::22` (fd 4), two sockets, so `*:22`
    # cannot be a dual-stack socket (it would own IPv4 port 22 and keep `:::22` from binding).
    result = ss.parse(load("linux-iproute2-3.x_ss-tuanp.out"))
    ssh4 = next(r for r in result.records if r.pid == 1231 and r.raw.split()[-1].endswith("3))"))
    assert (ssh4.family, ssh4.local_ip, ssh4.local_port, ssh4.v6only) == (4, "0.0.0.0", 22, None)
    dhcp = next(r for r in result.records if r.program == "dhclient")
    assert (dhcp.proto, dhcp.family, dhcp.local_ip, dhcp.local_port, dhcp.v6only) == (Proto.UDP, 4, "0.0.0.0", 68, None)
    # The same rule without any IPv6 in the text: DATADOG ss_ipv4_tcp, made with -4.
    ipv4_only = "State      Recv-Q Send-Q     Local Address:Port       Peer Address:Port\n"
    ipv4_only += "LISTEN     0      128        *:6384                   *:*\n"
    ipv4_only += "LISTEN     0      128        127.0.0.1:8400           *:*\n"
    (redis, local) = ss.parse(ipv4_only).records
    assert (redis.family, redis.local_ip, redis.v6only) == (4, "0.0.0.0", None)
    assert (local.family, local.v6only) == (4, None)


def test_old_ss_star_peer_says_nothing_about_v6only() -> None:
    # OLD_SS_C: an IPv4 listener's peer is `*:*` (INSIGHTS `127.0.0.1:25 *:*`); v6only means nothing on family 4.
    records = {key(r): r for r in ss.parse(load("linux-iproute2-3.x_ss-tuanp.out")).records}
    smtp = records[(Proto.TCP, 4, "127.0.0.1", 25, None, None)]
    assert (smtp.state, smtp.pid, smtp.v6only) == (State.LISTEN, 1326, None)


def test_new_ss_star_is_a_dual_stack_listener() -> None:
    # NEW_SS_C, with OPENWRT's `*:443` and `*:80` beside the 0.0.0.0 and [::] forms of the same ss.
    result = ss.parse(load("linux-iproute2-6.x_ss-tlnp-dualstack.out"))
    assert result.issues == ()
    v4, https, http, v6 = result.records
    assert (https.family, https.local_ip, https.local_port, https.v6only) == (6, "::", 443, False)
    assert https.remote_ip is None
    assert (http.local_port, http.v6only, http.owners) == (80, False, (Owner(26440, "uhttpd"),))
    assert (v4.family, v4.local_ip, v4.v6only) == (4, "0.0.0.0", None)
    assert (v6.family, v6.local_ip, v6.v6only, v6.pid) == (6, "::", None, 612)
    # OPENWRT verbatim (grep'd, so no header): nothing but `*` in it, read as newer ss.
    quoted = ss.parse(load("linux-openwrt_ss-ltunp-grep-uhttpd.out"))
    assert [(r.family, r.local_ip, r.local_port, r.v6only, r.state) for r in quoted.records] == [
        (6, "::", 443, False, State.LISTEN),
        (6, "::", 80, False, State.LISTEN),
    ]


# --- net-tools netstat without -W ---------------------------------------------------------------------------------


def test_netstat_without_w_flags_every_23_character_cell() -> None:
    # NET_TOOLS, with DATADOG's netstat rows (fe80::a00:27ff:fee9:123 is real, and its ESTABLISHED `:::*` too).
    result = netstat_linux.parse(load("linux-net-tools_netstat-tuna.out"))
    assert result.issues == ()
    flagged = [(r.local_ip, r.local_port, r.remote_ip, r.remote_port) for r in result.records if r.truncated]
    assert flagged == [
        ("2001:db8:1234:567", 18086, None, None),
        ("2001:db8::5", 22, "2001:db8:aaaa:bbb", 51234),  # the peer is the cut cell
        ("fe80::a00:27ff:fee9", 123, None, None),
        ("fe80::a00:27ff:fe1c", 123, None, None),
    ]
    whole = {(r.local_ip, r.local_port): r for r in result.records if not r.truncated}
    assert set(whole) == {("0.0.0.0", 6379), ("10.0.2.15", 45637), ("::", 6380), ("127.0.0.1", 8125), ("::", 111)}
    # Bare IPv6 forms read as ss's: `:::6380` listening, `:::*` a wildcard peer.
    assert (whole[("::", 6380)].family, whole[("::", 6380)].remote_ip, whole[("::", 6380)].state) == (
        6,
        None,
        State.LISTEN,
    )
    # A caller that ran -W says so, and nothing is flagged.
    wide = netstat_linux.parse(load("linux-net-tools_netstat-tuna.out"), wide=True)
    assert not any(r.truncated for r in wide.records)


# --- the older corpus: what the existing parsers claim, they read ---------------------------------------------------

OLD_FOLDERS = ("jc/ubuntu-18.04", "jc/centos-7.7")
#: Files of those folders that are not socket lists, and must be refused rather than read.
NOT_SOCKET_LISTS = {"netstat-i.out", "netstat-r.out", "netstat-rne.out", "netstat-rnee.out"}
PARSERS = {ss.FORMAT: ss.parse, netstat_linux.FORMAT: netstat_linux.parse}


def claimed_files(corpus: Path) -> list[Path]:
    return sorted(path for folder in OLD_FOLDERS for path in (corpus / folder).glob("*.out"))


def test_older_corpus_files_parse_without_exceptions(corpus: Path) -> None:
    files = claimed_files(corpus)
    assert len(files) == 21
    claimed = []
    for path in files:
        text = read_text(path)
        if path.name in NOT_SOCKET_LISTS:
            with pytest.raises(NotASocketTable):
                detect_format(text)
            continue
        name = detect_format(text)
        assert name == (ss.FORMAT if path.name.startswith("ss-") else netstat_linux.FORMAT), path
        result = PARSERS[name](text)
        assert result.records, path
        # Every socket row is accounted for: a record, an issue naming its line, or one left out on purpose
        # and counted (ss -a's netlink and UNIX sockets).
        rows = jc_socket_rows(path)
        assert len(result.records) + len(result.issues) + sum(n for _, n in result.skipped) == rows, path
        claimed.append(path.name)
    assert len(claimed) == 13


def jc_socket_rows(path: Path) -> int:
    """How many socket rows jc found in the file (its ``kind: network`` rows for netstat, every row for ss)."""
    rows = json.loads(path.with_suffix(".json").read_text())
    if path.name.startswith("ss-"):
        return len(rows)
    return sum(1 for row in rows if row.get("kind") == "network")
