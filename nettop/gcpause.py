"""Keep Python's cycle collector off the big containers a live tick makes.

A live tick at 30,000 connections makes dicts, lists and sets of 60,000 items and thousands of new records. A
collection that runs while they are young walks every item, and the default thresholds (a young collection
every 700 new objects) run one every few ms of such work. ``paused_gc`` turns the collector off for that work
(for the whole process: pauses in several threads count, and it comes back on when the last ends; before,
the first to end turned it back on under the others), and ``tune_for_long_runs`` makes young collections rarer
for the processes that run for hours: at 30,000 connections the collector took 3.2 s of a 45 s viewer run, up
to 300 ms at a time, in whichever thread allocated next. Records hold no cycles: nothing waits longer to be
freed than a cycle made elsewhere.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: New objects between young collections (Python's default is 700), and the young and middle collections
#: between older ones (default 10 each): fewer, larger collections, each of which walks what a tick left alive.
THRESHOLDS = (10_000, 10, 10)


class _Pauses:
    """The pauses under way, in every thread."""

    lock = threading.Lock()
    count = 0
    #: Whether the collector was on when the first pause began (a one-shot command turns it off for good).
    resume = False


@contextmanager
def paused_gc() -> Iterator[None]:
    """Automatic collection off inside; on again after the last pause ends (unless it was off already)."""
    with _Pauses.lock:
        if _Pauses.count == 0:
            _Pauses.resume = gc.isenabled()
            gc.disable()
        _Pauses.count += 1
    try:
        yield
    finally:
        with _Pauses.lock:
            _Pauses.count -= 1
            if _Pauses.count == 0 and _Pauses.resume:
                gc.enable()


def tune_for_long_runs() -> None:
    """Collector thresholds for a process that holds tens of thousands of records and runs for hours (the viewer,
    watch, the exporter)."""
    gc.set_threshold(*THRESHOLDS)
