"""``paused_gc``: the collector off while any pause runs, what they made frozen after, and thawed and collected
every ``THAW_EVERY`` seconds so that a cycle frozen meanwhile is not kept for good."""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Iterator

import pytest

from nettop import gcpause
from nettop.gcpause import paused_gc


class Cycle:
    """An object that refers to itself: only the cycle collector frees it."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    """Each test from a collector that is on, nothing frozen; the same left behind for the other tests."""
    was_enabled = gc.isenabled()
    gc.enable()
    gc.unfreeze()
    yield
    gc.unfreeze()
    if not was_enabled:
        gc.disable()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr(gcpause._Pauses, "clock", lambda: now[0])
    monkeypatch.setattr(gcpause._Pauses, "thawed", now[0])
    return now


def test_what_a_pause_made_is_frozen_and_the_collector_is_on_again(clock: list[float]) -> None:
    before = gc.get_freeze_count()
    with paused_gc():
        assert not gc.isenabled()
        made = [[index] for index in range(5000)]
    assert gc.isenabled()
    assert gc.get_freeze_count() >= before + len(made), "the lists the pause made are frozen"
    assert gc.get_count()[0] < 100, "and the young generation starts empty"


def test_pauses_in_two_threads_keep_the_collector_off_until_the_last_ends(clock: list[float]) -> None:
    inside, leave = threading.Event(), threading.Event()
    seen: list[bool] = []

    def other() -> None:
        with paused_gc():
            inside.set()
            leave.wait(10)

    thread = threading.Thread(target=other)
    with paused_gc():
        thread.start()
        assert inside.wait(10)
    seen.append(gc.isenabled())  # this thread's pause ended, the other's runs on
    leave.set()
    thread.join(10)
    seen.append(gc.isenabled())
    assert seen == [False, True]


def test_a_cycle_frozen_by_a_pause_is_collected_at_the_thaw(clock: list[float]) -> None:
    with paused_gc():
        cycle = Cycle()
    gone = weakref.ref(cycle)
    del cycle
    gc.collect()
    assert gone() is not None, "frozen: no collection looks at it"
    clock[0] += gcpause.THAW_EVERY - 1
    with paused_gc():
        pass
    assert gone() is not None, "not yet time to thaw"
    clock[0] += 1
    with paused_gc():
        pass
    assert gone() is None, "thawed, and the full collection freed it"


def test_a_collector_turned_off_before_stays_off_and_nothing_is_frozen(clock: list[float]) -> None:
    gc.disable()  # as nettop list does for its whole run
    before = gc.get_freeze_count()
    with paused_gc():
        kept = [[index] for index in range(100)]
    assert not gc.isenabled() and gc.get_freeze_count() == before and len(kept) == 100
