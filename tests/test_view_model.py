"""The viewer's rows model under any sequence of snapshots: its order stays sorted and every shown row is in it
exactly once (a burst of new rows with a just-closed one coming back once broke both)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nettop.model import Connection
from nettop.snapshots import diff, index_records
from nettop.view import CLOSED_LINGER_SECONDS, COLUMN_KEYS, RowsModel
from tests.scripted import conn


def snapshot_of(ports: frozenset[int]) -> list[Connection]:
    # Port 0 is the listener everybody connects to; the others are clients, so each port is one connection.
    return [conn(port, 9000, name=f"p{port % 7}", pid=100 + port % 7) for port in sorted(ports)]


def check_invariants(model: RowsModel) -> None:
    order = model.order
    assert order == sorted(order), "the order is not sorted"
    assert len(order) == len(set(order)), "a row is shown twice"
    assert set(model.at_place) == set(order), "order and at_place disagree"
    shown = {model.at_place[place] for place in order}
    expected = {
        key
        for key, row in model.rows.items()
        if model.keep is None or model.keep(row.record)  # every row the filter keeps, open or lingering
    }
    assert shown == expected, "a row is missing or one is shown that should not be"
    for key in shown:
        row = model.rows[key]
        assert row.place is not None and model.at_place[row.place] == key
    assert set(model.closing) <= set(model.rows)
    assert set(model.current) <= set(model.rows)


def keep_even(record: Connection) -> bool:
    return (record.local_port or 0) % 2 == 0


#: One step: the next snapshot's ports (drawn from a small universe, so that connections close and come back, in
#: bursts large enough for the bulk path), how far the clock moves, and sometimes a new sort or filter.
def blocks(draw_blocks: list[tuple[int, int]]) -> frozenset[int]:
    return frozenset(port for start, length in draw_blocks for port in range(start, min(start + length, 401)))


ports = st.one_of(
    st.frozensets(st.integers(1, 400), max_size=40),
    st.lists(st.tuples(st.integers(1, 400), st.integers(0, 250)), max_size=4).map(blocks),
)
steps = st.lists(
    st.tuples(
        ports,
        st.sampled_from([0.0, 1.0, 2.0, CLOSED_LINGER_SECONDS]),
        st.one_of(st.none(), st.tuples(st.sampled_from(COLUMN_KEYS), st.booleans())),
    ),
    min_size=1,
    max_size=12,
)


@settings(derandomize=True, max_examples=150, deadline=None)
@given(steps)
def test_any_sequence_of_snapshots_keeps_the_order_sorted_and_complete(script) -> None:  # type: ignore[no-untyped-def]
    model = RowsModel()
    before: dict = {}
    now = 1_000.0
    for ports, elapsed, resort in script:
        now += elapsed
        after = index_records(snapshot_of(ports))
        model.apply(after, diff(before, after), now)
        before = after
        check_invariants(model)
        if resort is not None:
            column, filtered = resort
            model.resort(column, keep_even if filtered else None)
            check_invariants(model)
        model.expire(now + CLOSED_LINGER_SECONDS / 2)
        check_invariants(model)


def test_a_burst_with_a_just_closed_connection_coming_back() -> None:
    """100 rows; row 50 closes; then 200 new rows and row 50 back, in one tick: the bulk path."""
    model = RowsModel()
    hundred = frozenset(range(101, 201))
    first = index_records(snapshot_of(hundred))
    model.apply(first, diff({}, first), 0.0)
    second = index_records(snapshot_of(hundred - {150}))
    model.apply(second, diff(first, second), 1.0)
    assert len(model.closing) == 1
    # The new rows come before the returning one in the snapshot, so they are appended before it is moved.
    third = index_records(snapshot_of(frozenset(range(1, 301))))
    change = diff(second, third)
    assert len(change.opened) == 201  # the bulk path: > 64 and > a quarter of the shown rows
    assert list(change.opened)[100][3] == 150
    model.apply(third, change, 2.0)
    check_invariants(model)
    assert len(model.order) == 300 and not model.closing
    ports = [model.rows[model.at_place[place]].record.local_port for place in model.order]
    assert ports == sorted(ports)  # sorted by protocol, then local address and port


def test_many_closed_rows_expire_in_one_pass() -> None:
    model = RowsModel()
    everything = index_records(snapshot_of(frozenset(range(1, 401))))
    model.apply(everything, diff({}, everything), 0.0)
    kept = index_records(snapshot_of(frozenset(range(1, 401, 4))))
    model.apply(kept, diff(everything, kept), 1.0)
    assert len(model.closing) == 300
    assert model.expire(1.0 + CLOSED_LINGER_SECONDS)
    check_invariants(model)
    assert len(model.order) == 100 and not model.closing


def test_missing_listeners_are_rows_of_their_own_kind_never_sockets() -> None:
    """A policy's missing listener comes and goes as a row (lingering like a closed one) but is never in the
    snapshot's index or diff, and shows MISSING and no pid whatever its expected socket holds."""
    from nettop.policy.overlay import judge
    from nettop.policy.rules import parse_policy
    from nettop.view import COLUMNS

    policy = parse_policy('[[listen]]\nport = 9999\nproto = "tcp"\nprogram = "agent"\n', "p.toml")
    model = RowsModel()
    records = snapshot_of(frozenset({1, 2}))
    index = index_records(records)
    verdict = judge(policy, records)
    model.apply(index, diff({}, index), 0.0, verdict.missing)
    check_invariants(model)
    (key,) = verdict.missing
    assert key not in index and model.shown_missing == 1 and model.rows[key].missing
    cells = dict(zip(COLUMN_KEYS, model.rows[key].cells(COLUMNS), strict=True))
    assert (cells["state"], cells["pid"], cells["program"], cells["lport"]) == ("MISSING", "", "agent", "9999")
    assert not any(row.missing for k, row in model.rows.items() if k in index)
    served = [*records, conn(9999, name="agent", pid=5)]
    after = index_records(served)
    model.apply(after, diff(index, after), 1.0, judge(policy, served).missing)
    check_invariants(model)
    assert model.rows[key].closed_at == 1.0 and key in model.closing, "it lingers, dimmed, as a closed row"
    assert model.shown_missing == 0 and model.shown_closing == 1
    model.expire(1.0 + CLOSED_LINGER_SECONDS)
    assert key not in model.rows


def test_a_port_is_named_from_the_bundled_table_where_the_system_has_no_services_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Minimal containers have no /etc/services: socket.getservbyport fails there for every port."""
    from nettop import view

    def no_database(port: int, proto: str) -> str:
        raise OSError("port/proto not found")

    view.service_name.cache_clear()
    monkeypatch.setattr(view.socket, "getservbyport", no_database)
    try:
        assert [view.service_name(p, "tcp") for p in (22, 25, 443, 631, 3389, 40000)] == [
            "ssh", "smtp", "https", "ipp", "ms-wbt-server", ""
        ]  # fmt: skip
    finally:
        view.service_name.cache_clear()


def changing_snapshot(ports: frozenset[int], phase: int) -> list[Connection]:
    """The same connections with their state and traffic moving with ``phase``: changes, not opens and closes."""
    from nettop.model import State, Traffic

    return [
        conn(port, 9000, state=State.TIME_WAIT if (port + phase) % 3 == 0 else State.ESTABLISHED)._replace(
            traffic=Traffic(port * phase, 0, 50, 0, (port * phase) % 7, 0), inode=port
        )
        for port in sorted(ports)
    ]


@settings(derandomize=True, max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(ports, st.integers(0, 5)), min_size=1, max_size=10),
    st.sampled_from(["proto", "rx", "state", "lport"]),
    st.booleans(),
)
def test_changed_rows_keep_or_move_their_place_as_their_sort_key_says(script, column: str, filtered: bool) -> None:  # type: ignore[no-untyped-def]
    """A change that leaves a row's sort key alone leaves the row where it is; one that changes it (or the filter's
    verdict) moves it: either way every shown row's place is its sort key now."""
    from nettop.view import COLUMNS_BY_KEY

    model = RowsModel()
    model.resort(column, (lambda r: r.state.value != "TIME_WAIT") if filtered else None)
    before: dict = {}
    for now, (ports, phase) in enumerate(script):
        after = index_records(changing_snapshot(ports, phase))
        model.apply(after, diff(before, after), 1_000.0 + now)
        before = after
        check_invariants(model)
        sort_key = COLUMNS_BY_KEY[column].sort_key
        for row in model.rows.values():
            if row.place is not None:
                assert row.place == sort_key(row.record) + row.tail
