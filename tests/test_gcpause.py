"""``paused_gc``: the collector off while any pause runs, in any thread, and on again only when the last ends; and
the thresholds of the long-running commands."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from nettop.gcpause import THRESHOLDS, paused_gc, tune_for_long_runs


@pytest.fixture(autouse=True)
def collector_as_it_was() -> Iterator[None]:
    """Each test from a collector that is on; its state and thresholds left as they were for the other tests."""
    was_enabled, thresholds = gc.isenabled(), gc.get_threshold()
    gc.enable()
    yield
    gc.set_threshold(*thresholds)
    if not was_enabled:
        gc.disable()


def test_a_pause_turns_the_collector_off_and_on_again() -> None:
    with paused_gc():
        assert not gc.isenabled()
        with paused_gc():  # nested: the inner end does not turn it on under the outer
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_pauses_in_two_threads_keep_the_collector_off_until_the_last_ends() -> None:
    """The poller's tick and the tracker's overlap: the first to end must not turn the collector on under the
    other, whose young containers it would then walk."""
    inside, leave = threading.Event(), threading.Event()

    def other() -> None:
        with paused_gc():
            inside.set()
            leave.wait(10)

    thread = threading.Thread(target=other)
    with paused_gc():
        thread.start()
        assert inside.wait(10)
    seen = [gc.isenabled()]  # this thread's pause ended, the other's runs on
    leave.set()
    thread.join(10)
    seen.append(gc.isenabled())
    assert seen == [False, True]


def test_a_collector_turned_off_before_stays_off() -> None:
    gc.disable()  # as nettop list does for its whole run
    with paused_gc():
        pass
    assert not gc.isenabled()


def test_the_long_running_commands_collect_young_objects_less_often() -> None:
    gc.set_threshold(700, 10, 10)
    tune_for_long_runs()
    assert gc.get_threshold() == THRESHOLDS and THRESHOLDS[0] > 700
