"""Ending cleanly when told to: SIGTERM (``kill``, systemd, a timeout), SIGHUP (the SSH session dropped), SIGINT.

By default SIGTERM and SIGHUP end Python at once, and whatever nettop had started lives on: the listing
command and its process group, the forked ``/proc`` scan. ``raise_on_signals`` turns them into ``Terminated``
instead, raised in the main thread wherever it is, so that every ``finally`` and every asyncio cancellation
runs and kills what it started. ``Terminated`` is a ``SystemExit`` (no ``except Exception`` swallows it, and
uncaught it prints no traceback) whose status is 128 + the signal's number: 143 for SIGTERM, 129 for SIGHUP,
as a shell reports a process the signal killed. SIGINT still raises ``KeyboardInterrupt``, with the same care
as below. A signal the process was told to ignore (``nohup``, a background job) stays ignored.

An exception raised at an arbitrary point is not safe everywhere. In the middle of an import, an extension
module's initialisation may not expect it: orjson's crashes the interpreter (a segmentation fault, and nothing
cleaned up), which Python's own SIGINT handler risks too. So a signal that arrives during an import is held
back and looked at again every few milliseconds (``SIGALRM``) until the import is over. Code that must not be
interrupted half-way (killing and reaping a process) runs in ``deferred()``: a signal that arrives meanwhile
is raised when it ends. Only the first signal is raised: later ones, while its cleanup runs, are ignored so as
not to cut it short.

Last, what is started is ``track``ed until it is reaped, and whatever is still tracked at exit is cancelled
(``atexit``): an exception between starting a process and handing it to whoever cleans up leaves it to that.
"""

from __future__ import annotations

import atexit
import contextlib
import signal
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, Protocol, TypeVar

#: The signals that end a run: those of them this platform has (Windows has no SIGHUP).
SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGINT") if hasattr(signal, name)
)
T = TypeVar("T")
#: How soon a signal held back during an import is looked at again.
RECHECK = 0.005


class Terminated(SystemExit):
    """A termination signal arrived. Exits with status 128 + its number when nothing catches it."""

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum

    @property
    def exit_status(self) -> int:
        return 128 + self.signum


class _State:
    """What the handler knows: whether it already raised, and a signal held back."""

    raised = False
    pending: int | None = None
    deferring = 0  # nesting depth of ``deferred`` blocks in the main thread
    #: Whether a recheck took SIGALRM since the handlers were installed, and its handler before.
    alarm_taken = False
    alarm_handler: Callable[[int, FrameType | None], object] | int | None = None


def _exception(signum: int) -> BaseException:
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum)


def _importing(frame: FrameType | None) -> bool:
    """Whether the main thread is in the middle of an import (importlib's frames are on its stack)."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def _handler(signum: int, frame: FrameType | None) -> None:
    if _State.raised:
        return  # the cleanup of the first signal is under way
    if _State.deferring or (hasattr(signal, "setitimer") and _importing(frame)):
        if _State.pending is None:
            _State.pending = signum
        if not _State.deferring:
            _recheck_soon()
        return
    _State.pending = None
    _State.raised = True
    raise _exception(signum)


def _recheck(_: int, frame: FrameType | None) -> None:
    if _State.pending is not None and not _State.raised:
        _handler(_State.pending, frame)


def _recheck_soon() -> None:
    if not _State.alarm_taken:
        _State.alarm_handler, _State.alarm_taken = signal.signal(signal.SIGALRM, _recheck), True
    signal.setitimer(signal.ITIMER_REAL, RECHECK)


def raise_on_signals() -> Callable[[], None]:
    """Make SIGTERM and SIGHUP raise ``Terminated`` in the main thread, SIGINT ``KeyboardInterrupt``, each at a
    safe point; returns what restores the handlers there were, and then raises a signal still held back.
    Outside the main thread (where Python cannot set handlers) it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    _State.raised, _State.pending, _State.alarm_taken = False, None, False
    previous = {
        signum: signal.signal(signum, _handler) for signum in SIGNALS if signal.getsignal(signum) != signal.SIG_IGN
    }

    def restore() -> None:
        if _State.alarm_taken:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, _State.alarm_handler if _State.alarm_handler is not None else signal.SIG_DFL)
            _State.alarm_taken = False
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        if _State.pending is not None and not _State.raised:
            signum, _State.pending = _State.pending, None
            _State.raised = True
            raise _exception(signum)

    return restore


@contextmanager
def signals_end_the_run() -> Iterator[None]:
    """``raise_on_signals`` for the block, handlers restored after it."""
    restore = raise_on_signals()
    try:
        yield
    finally:
        restore()


@contextmanager
def deferred() -> Iterator[None]:
    """Hold back a termination signal until the block ends, then raise it. For cleanup that an exception raised
    half-way would leave undone (a process killed but not reaped). Acts only in the main thread: the only one
    where the handler runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _State.deferring += 1
    try:
        yield
    finally:
        _State.deferring -= 1
        if not _State.deferring and _State.pending is not None and not _State.raised:
            signum, _State.pending = _State.pending, None
            _State.raised = True
            raise _exception(signum)  # also in place of an error the block raised: the signal wins


class Cancellable(Protocol):
    def cancel(self) -> None: ...


#: What was started and is not reaped yet, by id.
_tracked: dict[int, Cancellable] = {}


def track(started: Cancellable) -> None:
    """Cancel ``started`` at exit if nothing else has by then (see the module's docstring)."""
    _tracked[id(started)] = started


def untrack(started: Cancellable) -> None:
    _tracked.pop(id(started), None)


@atexit.register
def _cancel_tracked() -> None:
    for started in list(_tracked.values()):
        with contextlib.suppress(Exception):
            started.cancel()
    _tracked.clear()


def in_forked_child() -> None:
    """For a forked child that has only to do its work and exit: the signals kill it as usual, and what its
    parent started is its parent's to stop."""
    for signum in SIGNALS:
        if signal.getsignal(signum) is _handler:
            signal.signal(signum, signal.SIG_DFL)
    _State.deferring, _State.pending = 0, None
    _tracked.clear()


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)``, with the ending signals cancelling ``main`` rather than raising wherever the loop
    happens to be. Raised inside another task (a collection under way), the exception ends the loop with that
    task's exception never retrieved, which asyncio reports at exit as a traceback. Once ``main`` has unwound
    (killing what it started), the signal is raised as usual: ``Terminated`` or ``KeyboardInterrupt``."""
    import asyncio

    received: list[int] = []

    def cancel(task: asyncio.Task[T], signum: int) -> None:
        if not received:
            received.append(signum)
            task.cancel()

    async def guarded() -> T:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        installed: dict[int, Any] = {}
        for signum in SIGNALS:
            handler = signal.getsignal(signum)
            if handler == signal.SIG_IGN:
                continue  # nohup: stays ignored
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, cancel, task, signum)
                installed[signum] = handler
        try:
            return await main
        finally:
            for signum, handler in installed.items():
                loop.remove_signal_handler(signum)  # which sets SIG_DFL: put back the handler there was
                signal.signal(signum, handler if handler is not None else signal.SIG_DFL)

    try:
        return asyncio.run(guarded())
    except asyncio.CancelledError:
        if received:
            raise _exception(received[0]) from None
        raise
