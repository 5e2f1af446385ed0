"""Owners joined to a parse's records after it, by inode (Linux) and by endpoint (see also test_parse_lsof)."""

from __future__ import annotations

from nettop.formats import ss
from nettop.model import Connection, Owner, OwnerStatus, State
from nettop.owners.join import join_by_inode
from nettop.sources.linux import LiveListing

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
