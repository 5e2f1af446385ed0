"""Snapshot keys, diffs and counts: opened, closed and changed connections, keyed so that the same socket keeps
its key; and the tracker, which from a snapshot's delta must give exactly what keying, diffing and counting the
whole snapshot gives, and fall back to the whole snapshot whenever the delta cannot be trusted."""

from __future__ import annotations

import random

from nettop.model import Connection, Owner, Proto, RecordDelta, Snapshot, State
from nettop.snapshots import SnapshotStep, SnapshotTracker, diff, diff_records, index_records, row_key, tally
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


# ---- the tracker

STATES = [State.ESTABLISHED, State.TIME_WAIT, State.CLOSE_WAIT, State.FIN_WAIT1]


def snapshot(records: list[Connection], taken_at: float, delta: RecordDelta | None = None) -> Snapshot:
    return Snapshot(tuple(records), taken_at, 0.01, "test", delta=delta)


def whole(records: list[Connection], before: dict) -> SnapshotStep:
    index = index_records(records)
    return SnapshotStep(index, diff(before, index), tally(records), None)


def churn(records: list[Connection], rng: random.Random, serial: int) -> tuple[list[Connection], list[Connection]]:
    """Close some, open some, change the state or owner of some: what a busy server does in a second.
    Returns the records that went and came (a changed one in both)."""
    kept = list(records)
    removed: list[Connection] = []
    added: list[Connection] = []
    for _ in range(rng.randint(0, 6)):
        removed.append(kept.pop(rng.randrange(len(kept))))
    for i in range(rng.randint(0, 6)):
        port = 20000 + serial * 10 + i
        added.append(conn(port, 8080, proto=rng.choice([Proto.TCP, Proto.UDP]), pid=rng.randint(1, 5)))
    for at in rng.sample(range(len(kept)), rng.randint(0, 4)):
        old = kept[at]
        if rng.random() < 0.5:
            new = old._replace(state=rng.choice(STATES), raw=old.raw + " changed")
        else:
            new = old._replace(owners=(Owner(rng.randint(1, 5), "other"),), raw=old.raw + " moved")
        if new != old:
            kept[at] = new
            removed.append(old)
            added.append(new)
    return removed, added


def test_steps_from_deltas_equal_steps_of_whole_snapshots() -> None:
    rng = random.Random(7)
    records = [conn(8080, pid=1), conn(5353, proto=Proto.UDP, pid=2)]
    records += [conn(30000 + i, 8080, pid=rng.randint(1, 5)) for i in range(40)]
    tracker = SnapshotTracker()
    taken = 1000.0
    first = tracker.follow(snapshot(records, taken))
    assert first == whole(records, {})
    before = first.index
    whole_ticks = 0
    for serial in range(60):
        removed, added = churn(records, rng, serial)
        after_records = [r for r in records if r not in removed] + added
        delta = RecordDelta(taken, tuple(removed), tuple(added))
        taken += 1
        got = tracker.follow(snapshot(after_records, taken, delta))
        assert got == whole(after_records, before), f"tick {serial}"
        whole_ticks += tracker.last_whole
        records, before = after_records, got.index
    assert whole_ticks == 0, "every tick after the first is digested from its delta"


def test_a_delta_against_another_snapshot_than_the_last_followed_is_not_trusted() -> None:
    listener, peer = conn(8080, pid=1), conn(40000, 8080, pid=2)
    tracker = SnapshotTracker()
    tracker.follow(snapshot([listener], 1.0))
    # Says it is against a snapshot taken at 0.5 (one this tracker never saw): it would drop the listener.
    wrong = RecordDelta(0.5, (), (peer,))
    got = tracker.follow(snapshot([peer], 2.0, wrong))
    assert tracker.last_whole
    assert got.index == index_records([peer]) and list(got.change.closed.values()) == [listener]


def test_a_delta_touching_a_shared_key_reindexes_everything() -> None:
    twin_a = conn(40000, 8080, pid=1)._replace(raw="a")
    twin_b = conn(40000, 8080, pid=2)._replace(raw="b")  # the same key: ordinals by the whole group
    other = conn(40001, 8080, pid=3)
    tracker = SnapshotTracker()
    tracker.follow(snapshot([twin_a, twin_b, other], 1.0))
    records = [twin_b, other]
    got = tracker.follow(snapshot(records, 2.0, RecordDelta(1.0, (twin_a,), ())))
    assert tracker.last_whole
    assert got.index == index_records(records)
    assert got.counts == tally(records)


def test_the_fast_constructor_and_the_key_are_the_record_and_its_ends() -> None:
    from nettop.model import ConnKey, OwnerStatus, new_connection

    fields = (Proto.TCP, 6, "::1", 80, "::1", 5000, State.ESTABLISHED, (), OwnerStatus.KNOWN, "lo", 0, 0, 7, 0,
              None, False, "ss", "raw", "dsf", None, None, None, None, "web1")  # fmt: skip
    record = new_connection(fields)
    assert type(record) is Connection and record == Connection(*fields) and len(record) == len(Connection._fields)
    assert type(record.key) is ConnKey and record.key == (Proto.TCP, 6, "::1", 80, "::1", 5000, "lo", "web1")
    assert row_key(record, 7)[:8] == record.key
