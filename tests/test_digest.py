"""The viewer's digest: from a snapshot's delta it must give exactly what keying, diffing and counting the
whole snapshot gives, and fall back to the whole snapshot whenever the delta cannot be trusted."""

from __future__ import annotations

import random

from nettop.changes import diff, index_records
from nettop.digest import Digest, Digester
from nettop.model import Connection, Owner, Proto, RecordDelta, Snapshot, State
from nettop.view import tally
from tests.scripted import conn

STATES = [State.ESTABLISHED, State.TIME_WAIT, State.CLOSE_WAIT, State.FIN_WAIT1]


def snapshot(records: list[Connection], taken_at: float, delta: RecordDelta | None = None) -> Snapshot:
    return Snapshot(tuple(records), taken_at, 0.01, "test", delta=delta)


def whole(records: list[Connection], before: dict) -> Digest:
    index = index_records(records)
    return Digest(index, diff(before, index), tally(records), None)


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


def test_digests_from_deltas_equal_digests_of_whole_snapshots() -> None:
    rng = random.Random(7)
    records = [conn(8080, pid=1), conn(5353, proto=Proto.UDP, pid=2)]
    records += [conn(30000 + i, 8080, pid=rng.randint(1, 5)) for i in range(40)]
    digester = Digester()
    taken = 1000.0
    first = digester.digest(snapshot(records, taken))
    assert first == whole(records, {})
    before = first.index
    whole_ticks = 0
    for serial in range(60):
        removed, added = churn(records, rng, serial)
        after_records = [r for r in records if r not in removed] + added
        delta = RecordDelta(taken, tuple(removed), tuple(added))
        taken += 1
        got = digester.digest(snapshot(after_records, taken, delta))
        assert got == whole(after_records, before), f"tick {serial}"
        whole_ticks += digester.last_whole
        records, before = after_records, got.index
    assert whole_ticks == 0, "every tick after the first is digested from its delta"


def test_a_delta_against_another_snapshot_than_the_last_digested_is_not_trusted() -> None:
    listener, peer = conn(8080, pid=1), conn(40000, 8080, pid=2)
    digester = Digester()
    digester.digest(snapshot([listener], 1.0))
    # Says it is against a snapshot taken at 0.5 (one this digester never saw): it would drop the listener.
    wrong = RecordDelta(0.5, (), (peer,))
    got = digester.digest(snapshot([peer], 2.0, wrong))
    assert digester.last_whole
    assert got.index == index_records([peer]) and list(got.change.closed.values()) == [listener]


def test_a_delta_touching_a_shared_key_reindexes_everything() -> None:
    twin_a = conn(40000, 8080, pid=1)._replace(raw="a")
    twin_b = conn(40000, 8080, pid=2)._replace(raw="b")  # the same key: ordinals by the whole group
    other = conn(40001, 8080, pid=3)
    digester = Digester()
    digester.digest(snapshot([twin_a, twin_b, other], 1.0))
    records = [twin_b, other]
    got = digester.digest(snapshot(records, 2.0, RecordDelta(1.0, (twin_a,), ())))
    assert digester.last_whole
    assert got.index == index_records(records)
    assert got.counts == tally(records)
