"""Snapshot diffs: opened, closed and changed connections, keyed so that the same socket keeps its key."""

from __future__ import annotations

from nettop.changes import diff_records, index_records, row_key
from nettop.model import Owner, Proto, State
from tests.scripted import conn

LISTENER = conn(8080, name="web", pid=7)
PEER = conn(40000, 8080, name="client", pid=8)
UDP = conn(5353, proto=Proto.UDP, name="mdns", pid=9)


def test_equal_snapshots_have_no_changes() -> None:
    change = diff_records([LISTENER, PEER, UDP], [UDP, PEER, LISTENER])
    assert change.is_empty


def test_opened_and_closed_with_listeners_picked_out() -> None:
    change = diff_records([LISTENER, PEER], [PEER, UDP])
    assert list(change.opened.values()) == [UDP]
    assert list(change.closed.values()) == [LISTENER]
    assert change.opened_listeners == [UDP] and change.closed_listeners == [LISTENER]
    assert change.changed == {}


def test_established_to_time_wait_is_a_change_not_a_close_and_an_open() -> None:
    waiting = PEER._replace(state=State.TIME_WAIT, owners=())
    change = diff_records([LISTENER, PEER], [LISTENER, waiting])
    assert change.opened == {} and change.closed == {}
    ((key, item),) = change.changed.items()
    assert key == row_key(PEER, 0)
    assert item.fields == ("state", "owners")
    assert (item.before.state, item.after.state) == (State.ESTABLISHED, State.TIME_WAIT)


def test_owner_details_filled_in_later_are_not_a_change() -> None:
    bare = LISTENER._replace(owners=(Owner(7, "web"),))
    assert diff_records([bare], [LISTENER]).is_empty
    other = LISTENER._replace(owners=(Owner(99, "intruder"),))
    assert diff_records([LISTENER], [other]).changed[row_key(LISTENER, 0)].fields == ("owners",)


def test_listeners_sharing_a_key_are_told_apart_by_inode() -> None:
    first = LISTENER._replace(inode=500)
    second = LISTENER._replace(inode=400, owners=(Owner(70, "worker"),))
    assert index_records([first, second]) == {row_key(LISTENER, 500): first, row_key(LISTENER, 400): second}
    change = diff_records([first, second], [first])
    assert change.closed == {row_key(LISTENER, 400): second} and change.opened == {} and change.changed == {}


def test_other_duplicates_get_ordinals_in_a_stable_order() -> None:
    # A capture without inodes can still list two sockets with the same ends (e.g. two UDP sockets).
    one = UDP._replace(inode=None, raw="b")
    two = UDP._replace(inode=None, raw="a", owners=(Owner(70, "other"),))
    index = index_records([one, two])
    assert index == {row_key(UDP, 0): two, row_key(UDP, 1): one}
    assert index_records([two, one]) == index
