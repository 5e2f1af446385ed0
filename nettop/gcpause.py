"""Keep Python's cycle collector off the big containers a live tick makes.

A live tick at 30,000 connections makes dicts, lists and sets of 60,000 items and thousands of new records. A
collection that runs while they are young walks every item (a few ms each time), then again in the older
generations, and a full collection walks everything the viewer holds: at 30,000 connections the collector took
3.2 s of a 45 s run, 150-300 ms at a time, in whichever thread allocated next (a key's repaint waited for it).

So work that makes them runs in ``paused_gc``: the collector is off inside (for the whole process: pauses in
several threads count, and it comes back on when the last ends), and at the end what the pause left alive is
frozen (``gc.freeze``, which costs nothing), so that no collection walks it again. Records hold no cycles: when
they are dropped, reference counting frees them, frozen or not. What else was frozen (a cycle made elsewhere
meanwhile) is given back every ``THAW_EVERY`` seconds, and one full collection then frees whatever of it is
garbage: at 30,000 connections about 200 ms, once in five minutes.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

#: Seconds between thaws (``gc.unfreeze`` and a full collection).
THAW_EVERY = 300.0


class _Pauses:
    """The pauses under way, in every thread, and when the frozen objects were last given back."""

    lock = threading.Lock()
    count = 0
    #: Whether the collector was on when the first pause began (a one-shot command turns it off for good).
    resume = False
    clock: Callable[[], float] = time.monotonic
    thawed = time.monotonic()


@contextmanager
def paused_gc() -> Iterator[None]:
    """Automatic collection off inside; after the last pause, on again (unless it was off already), with what the
    pauses left alive frozen, or every ``THAW_EVERY`` seconds everything thawed and collected once."""
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
                now = _Pauses.clock()
                if now - _Pauses.thawed >= THAW_EVERY:
                    _Pauses.thawed = now
                    gc.unfreeze()
                    gc.collect()
                else:
                    gc.freeze()
                gc.enable()
