"""Owners joined to a parse's records after it, by inode (Linux) and by endpoint (see also test_formats_lsof)."""

from __future__ import annotations

from nettop.formats import lsof, netstat_bsd, ss
from nettop.model import Connection, Owner, OwnerStatus, Proto, State
from nettop.owners.join import EndpointKey, endpoint_key, join_by_endpoint, join_by_inode, owners_by_endpoint
from nettop.sources.linux import LiveListing
from tests.conftest import DATA, read_text

SS_E = """\
Netid State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process
tcp   LISTEN 0      128        127.0.0.1:8080      0.0.0.0:*     ino:501 sk:1 cgroup:/ <->
tcp   LISTEN 0      128        127.0.0.1:8081      0.0.0.0:*     users:(("shown",pid=9,fd=3)) ino:502 sk:2 <->
tcp   ESTAB  0      0          127.0.0.1:8080    127.0.0.1:5000  uid:1000 ino:503 sk:3 cgroup:/ <->
tcp   TIME-WAIT 0   0          127.0.0.1:5001    127.0.0.1:8080  timer:(timewait,50sec,0) ino:0 sk:4
udp   UNCONN 0      0              [::1]:53           [::]:*     ino:504 sk:5 cgroup:/ v6only:1 <->
"""


def test_owners_joined_after_the_parse_equal_the_live_readers() -> None:
    def owners_for(inode: int | None, state: State, uid: int | None) -> tuple[tuple[Owner, ...], OwnerStatus]:
        if inode is None:
            return (), OwnerStatus.NO_PROCESS
        return (Owner(inode, f"p{uid}"),), OwnerStatus.KNOWN

    after = join_by_inode(ss.parse(SS_E).records, owners_for)
    live, _ = LiveListing().read(SS_E, lambda inodes: (owners_for, None))
    # The live reader keeps a line less its countdown timer as the raw text; all else is alike.
    assert [r._replace(raw="") for r in after] == [r._replace(raw="") for r in live.records]
    assert [r.raw for r in after] == SS_E.splitlines()[1:]
    assert [(r.pid, r.program, r.owner_status) for r in after] == [
        (501, "p0", OwnerStatus.KNOWN),
        (9, "shown", OwnerStatus.KNOWN),  # the line's own owners stay
        (503, "p1000", OwnerStatus.KNOWN),
        (None, None, OwnerStatus.NO_PROCESS),
        (504, "p0", OwnerStatus.KNOWN),
    ]
    assert all(type(r) is Connection for r in after)


NETSTAT = """\
Active Internet connections (including servers)
Proto Recv-Q Send-Q Local Address          Foreign Address        (state)
tcp4       0      0 127.0.0.1.44950        *.*                    LISTEN
tcp46      0      0 *.22                   *.*                    LISTEN
tcp4       0      0 10.0.0.5.51976         93.184.216.34.443      ESTABLISHED
tcp4       0      0 10.0.0.5.51977         93.184.216.34.443      TIME_WAIT
udp4       0      0 *.*                    *.*
udp6       0      0 *.5353                 *.*
udp6       0      0 *.5353                 *.*
"""

LSOF = """\
COMMAND     PID  USER   FD   TYPE             DEVICE SIZE/OFF NODE NAME
figma_age  1080  kar    3u  IPv4 0xe6b20b0a9a4d77a1      0t0  TCP 127.0.0.1:44950 (LISTEN)
launchd       1  root   8u  IPv6 0x8b17115bf97d4e6d      0t0  TCP *:22 (LISTEN)
sshd        812  root   3u  IPv6 0x8b17115bf97d4e6d      0t0  TCP *:22 (LISTEN)
curl       4242  kar    5u  IPv4 0x8b17115bf97d4e6e      0t0  TCP 10.0.0.5:51976->93.184.216.34:443 (ESTABLISHED)
configd     107  root  25u  IPv4 0x8b17115bfaae646d      0t0  UDP *:*
mDNSRespo   183  _mdns  6u  IPv6 0x8b17115bfaae48dd      0t0  UDP *:5353
Chrome     6120  kar   40u  IPv6 0x8b17115bfaae48de      0t0  UDP *:5353
"""


def test_owners_by_endpoint_and_attach() -> None:
    owners = owners_by_endpoint(lsof.parse(LSOF))
    launchd, sshd = Owner(1, "launchd", "root"), Owner(812, "sshd", "root")
    assert owners == {
        EndpointKey(Proto.TCP, "127.0.0.1", 44950, None, None): (Owner(1080, "figma_age", "kar"),),
        EndpointKey(Proto.TCP, "::", 22, None, None): (launchd, sshd),
        EndpointKey(Proto.TCP, "10.0.0.5", 51976, "93.184.216.34", 443): (Owner(4242, "curl", "kar"),),
        # Two sockets on *:5353 (SO_REUSEPORT): the key gets both owners. The unbound UDP socket has no key.
        EndpointKey(Proto.UDP, "::", 5353, None, None): (
            Owner(183, "mDNSRespo", "_mdns"),
            Owner(6120, "Chrome", "kar"),
        ),
    }
    records = join_by_endpoint(netstat_bsd.parse(NETSTAT).records, owners)
    assert [(r.pid, r.owner_status) for r in records] == [
        (1080, OwnerStatus.KNOWN),
        (1, OwnerStatus.KNOWN),  # tcp46 *.22 on netstat's side, IPv6 *:22 on lsof's: both "::"
        (4242, OwnerStatus.KNOWN),
        (None, OwnerStatus.NOT_REPORTED),  # TIME_WAIT: no process holds it, lsof lists nothing
        (None, OwnerStatus.NOT_REPORTED),  # unbound: the key would name every unbound UDP socket
        (183, OwnerStatus.KNOWN),
        (183, OwnerStatus.KNOWN),
    ]
    assert records[1].owners == (launchd, sshd)
    # Records that already have owners keep them.
    mine = netstat_bsd.parse(read_text(DATA / "handmade" / "macos-26_netstat-anv.out")).records
    assert join_by_endpoint(mine, owners) == mine
    assert endpoint_key(records[0]) == EndpointKey(Proto.TCP, "127.0.0.1", 44950, None, None)
